//! Automatic server recovery: a dead-man timer per host. The host services it with heartbeats
//! (QEMU's guest agent answering pings, or `POST /api/hosts/<id>/heartbeat`); when they stop
//! for the configured time, the controller captures the screen, logs the event with the
//! capture, and resets the host, at most `max_resets` times per window.
//!
//! The timer arms at the first heartbeat after power on (or after recovery is switched on), so
//! a host without an agent is never reset, and a reset host is not reset again until it has
//! come back and missed the timer anew. Powering a host off disarms it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use shared::wire::message::HostState;

use crate::config::RecoveryConfig;
use crate::hosts::{Host, PowerAction};
use crate::notify::registry;
use crate::store::{AuditEntry, EventEntry, Journal};
use crate::sync::Locked;

/// What the timer says at a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wait,
    /// Reset now; this is reset `count` in the current window.
    Reset {
        count: u32,
    },
    /// The timer ran out again, but the window's resets are used up.
    GiveUp,
}

/// The timer itself: pure, driven by the caller's clock.
#[derive(Debug)]
pub struct DeadMan {
    timeout: Duration,
    max_resets: u32,
    window: Duration,
    enabled: bool,
    armed: bool,
    last_beat: Option<Instant>,
    last_source: Option<&'static str>,
    resets: VecDeque<Instant>,
}

impl DeadMan {
    pub fn new(config: &RecoveryConfig, enabled: bool) -> Self {
        Self {
            timeout: Duration::from_secs(config.timeout_seconds.max(1)),
            max_resets: config.max_resets,
            window: Duration::from_secs(config.window_seconds),
            enabled,
            armed: false,
            last_beat: None,
            last_source: None,
            resets: VecDeque::new(),
        }
    }

    pub fn beat(&mut self, now: Instant, source: &'static str) {
        self.last_beat = Some(now);
        self.last_source = Some(source);
        self.armed = true;
    }

    /// The host was powered off (by someone, on purpose): nothing to recover until it beats.
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        self.armed = false;
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let Some(last) = self.last_beat else { return Verdict::Wait };
        if !self.enabled || !self.armed || now.duration_since(last) < self.timeout {
            return Verdict::Wait;
        }
        self.armed = false;
        while self.resets.front().is_some_and(|at| now.duration_since(*at) >= self.window) {
            self.resets.pop_front();
        }
        if self.resets.len() >= self.max_resets as usize {
            return Verdict::GiveUp;
        }
        self.resets.push_back(now);
        Verdict::Reset { count: self.resets.len() as u32 }
    }

    pub fn status(&self, now: Instant) -> RecoveryStatus {
        RecoveryStatus {
            enabled: self.enabled,
            armed: self.armed,
            timeout_seconds: self.timeout.as_secs(),
            max_resets: self.max_resets,
            window_seconds: self.window.as_secs(),
            last_heartbeat_ms_ago: self.last_beat.map(|at| now.duration_since(at).as_millis() as u64),
            last_source: self.last_source,
            resets_in_window: self.resets.iter().filter(|at| now.duration_since(**at) < self.window).count() as u32,
        }
    }
}

/// What the console and the API show about a host's recovery timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryStatus {
    pub enabled: bool,
    /// Heartbeats have been seen since power on: a missed timer will reset the host.
    pub armed: bool,
    pub timeout_seconds: u64,
    pub max_resets: u32,
    pub window_seconds: u64,
    pub last_heartbeat_ms_ago: Option<u64>,
    pub last_source: Option<&'static str>,
    pub resets_in_window: u32,
}

/// One host's recovery: its timer, shared by the task that runs it and the API that shows and
/// switches it.
pub struct Recovery {
    timer: Mutex<DeadMan>,
}

impl Recovery {
    pub fn new(config: &RecoveryConfig, enabled: bool) -> Self {
        Self { timer: Mutex::new(DeadMan::new(config, enabled)) }
    }

    fn timer(&self) -> std::sync::MutexGuard<'_, DeadMan> {
        self.timer.locked()
    }

    pub fn status(&self) -> RecoveryStatus {
        self.timer().status(Instant::now())
    }

    pub fn set_enabled(&self, enabled: bool) {
        self.timer().set_enabled(enabled);
    }
}

/// Where a host's screen captures are kept.
pub fn captures_dir(data_dir: &Path, host: &str) -> PathBuf {
    data_dir.join("captures").join(host)
}

/// A capture's file name is ours to make; one from a request must look like one of ours.
pub fn valid_capture_name(name: &str) -> bool {
    let stem = name.strip_suffix(".png").or_else(|| name.strip_suffix(".txt"));
    stem.and_then(|s| s.strip_prefix("screen-")).is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Saves the host's current screen (PNG for graphics, text for text mode); returns the name.
pub fn capture_screen(host: &Host, dir: &Path) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let stamp = crate::store::audit::now_ms();
    if let Some(frame) = host.video.frame() {
        let name = format!("screen-{stamp}.png");
        let png = crate::hosts::screenshot::encode_png(&frame).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(&name), png).map_err(|e| e.to_string())?;
        return Ok(name);
    }
    let text = host.video.text().ok_or("the host has shown no screen yet")?;
    let name = format!("screen-{stamp}.txt");
    std::fs::write(dir.join(&name), text).map_err(|e| e.to_string())?;
    Ok(name)
}

/// Runs a host's timer for as long as the controller runs.
pub async fn run(host: Arc<Host>, recovery: Arc<Recovery>, journal: Journal, captures: PathBuf) {
    let Some(mut beats) = host.heartbeats.locked().take() else {
        tracing::error!(host = %host.id, "recovery timer started twice");
        return;
    };
    let mut status = host.status.clone();
    let mut ticks = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            beat = beats.recv() => match beat {
                Some(source) => recovery.timer().beat(Instant::now(), source),
                None => return,
            },
            changed = status.changed() => {
                if changed.is_err() {
                    return;
                }
                if status.borrow_and_update().state == HostState::Stopped {
                    recovery.timer().disarm();
                }
            }
            _ = ticks.tick() => {
                let verdict = recovery.timer().check(Instant::now());
                act(&host, &recovery, verdict, &journal, &captures).await;
            }
        }
    }
}

async fn act(host: &Host, recovery: &Recovery, verdict: Verdict, journal: &Journal, captures: &Path) {
    // Resets and giving up are also events for subscribers (`kind`); a failed reset is only
    // logged, the reset's own event having gone out already.
    let log = |severity: &str, message: &str, attachment: Option<&str>, kind: Option<&'static registry::Message>| {
        tracing::warn!(host = %host.id, message, "recovery");
        let mut entry = EventEntry::new(&host.id, severity, message).with_attachment(attachment);
        if let Some(kind) = kind {
            let reason = message.strip_prefix("Automatic recovery: ").unwrap_or(message);
            entry = entry.with_notice(crate::notify::Draft::host(kind, &host.id, &[reason]));
        }
        journal.event(entry)
    };
    let status = recovery.status();
    match verdict {
        Verdict::Wait => {}
        Verdict::GiveUp => {
            log(
                "critical",
                &format!(
                    "Automatic recovery: no heartbeat for {} s, but {} resets in {} s already; not resetting again",
                    status.timeout_seconds, status.max_resets, status.window_seconds
                ),
                None,
                Some(registry::RECOVERY_GAVE_UP),
            )
            .await
        }
        Verdict::Reset { count } => {
            let capture = capture_screen(host, captures);
            if let Err(reason) = &capture {
                tracing::warn!(host = %host.id, %reason, "no screen capture");
            }
            let message = format!(
                "Automatic recovery: no heartbeat for {} s; resetting the host ({count} of {} allowed in {} s)",
                status.timeout_seconds, status.max_resets, status.window_seconds
            );
            log("critical", &message, capture.as_deref().ok(), Some(registry::RECOVERY_RESET)).await;
            let detail = serde_json::json!({ "reset": count, "capture": capture.as_deref().ok() });
            journal.audit(AuditEntry::new("controller", "host.recovery", &host.id, detail)).await;
            if let Err(err) = host.press_power(PowerAction::Reset).await {
                log("critical", &format!("Automatic recovery: the reset failed: {err}"), None, None).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RecoveryConfig {
        RecoveryConfig { enabled: true, timeout_seconds: 10, max_resets: 2, window_seconds: 100 }
    }

    #[test]
    fn a_host_that_never_beats_is_never_reset() {
        let mut timer = DeadMan::new(&config(), true);
        let start = Instant::now();
        assert_eq!(timer.check(start + Duration::from_secs(1000)), Verdict::Wait);
    }

    #[test]
    fn a_missed_timer_resets_once_then_waits_for_the_host_to_come_back() {
        let mut timer = DeadMan::new(&config(), true);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        timer.beat(t0, "api");
        assert_eq!(timer.check(at(9)), Verdict::Wait);
        assert_eq!(timer.check(at(10)), Verdict::Reset { count: 1 });
        assert_eq!(timer.check(at(30)), Verdict::Wait, "not again until the host beats again");
        timer.beat(at(40), "guest agent");
        assert_eq!(timer.check(at(50)), Verdict::Reset { count: 2 });
        timer.beat(at(60), "guest agent");
        assert_eq!(timer.check(at(70)), Verdict::GiveUp, "two resets in 100 s is the limit");
        timer.beat(at(120), "guest agent");
        assert_eq!(timer.check(at(130)), Verdict::Reset { count: 2 }, "the first reset left the window");
        let status = timer.status(at(131));
        assert_eq!((status.resets_in_window, status.last_source), (2, Some("guest agent")));
    }

    #[test]
    fn powering_off_or_switching_off_disarms() {
        let mut timer = DeadMan::new(&config(), true);
        let t0 = Instant::now();
        timer.beat(t0, "api");
        timer.disarm();
        assert_eq!(timer.check(t0 + Duration::from_secs(60)), Verdict::Wait);
        timer.beat(t0, "api");
        timer.set_enabled(false);
        timer.beat(t0, "api");
        assert_eq!(timer.check(t0 + Duration::from_secs(60)), Verdict::Wait, "off: beats are noted, nothing reset");
        assert!(timer.status(t0).armed);
        timer.set_enabled(true);
        assert_eq!(timer.check(t0 + Duration::from_secs(60)), Verdict::Wait, "switched on: armed at the next beat");
    }

    #[test]
    fn capture_names_from_requests_must_look_like_ours() {
        assert!(valid_capture_name("screen-1700000000000.png"));
        assert!(valid_capture_name("screen-1.txt"));
        for bad in ["../lantern.db", "screen-.png", "screen-1.png/../x", "screen-1.exe", "x-1.png", "screen-1a.txt"] {
            assert!(!valid_capture_name(bad), "{bad}");
        }
    }
}
