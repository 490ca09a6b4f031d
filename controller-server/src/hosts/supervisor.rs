//! Keeps a backend's driver alive: a driver that panics is caught where it runs, the host shows
//! "no signal" with what happened, and the driver starts again after a back-off. Without this a
//! panic ended the task silently and the host stayed dark until the controller restarted.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use shared::wire::message::{HostState, HostStatus};

use super::Backend;

const FIRST_RESTART: Duration = Duration::from_millis(500);
const MAX_RESTART: Duration = Duration::from_secs(30);

/// Runs a backend's driver until it returns (the controller is shutting down), restarting it
/// with back-off whenever it panics. `drive` makes one run over the backend's channels, which
/// outlive the run, so a restarted driver finds them as they were.
pub async fn supervise<F>(id: &str, backend: &mut Backend, mut drive: F)
where
    F: for<'a> FnMut(&'a mut Backend) -> BoxFuture<'a, ()>,
{
    let mut wait = FIRST_RESTART;
    loop {
        let started = tokio::time::Instant::now();
        let Err(panic) = AssertUnwindSafe(drive(backend)).catch_unwind().await else { return };
        let what = panic_message(panic.as_ref());
        tracing::error!(host = %id, panic = %what, restart_ms = wait.as_millis() as u64, "host driver failed; restarting it");
        let reason = format!("the controller's driver for this host failed ({what}); restarting it");
        let lines = ["No signal", "", "The controller's driver for this host failed:", &what, "restarting it."];
        backend.video.publish(super::notice_screen(80, 25, &lines));
        let _ = backend.status.send(HostStatus { state: HostState::NoSignal, text: format!("no signal: {reason}") });
        // A driver that ran a good while before failing starts again at once next time.
        if started.elapsed() > MAX_RESTART * 2 {
            wait = FIRST_RESTART;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RESTART);
    }
}

/// Starts a backend's driver on its own task under [`supervise`]: `drive` makes one run from
/// the backend's configuration and channels.
pub fn spawn<C: Send + Sync + 'static>(
    config: C,
    id: String,
    mut backend: Backend,
    drive: for<'a> fn(&'a C, &'a mut Backend) -> BoxFuture<'a, ()>,
) {
    let config = std::sync::Arc::new(config);
    tokio::spawn(async move {
        supervise(&id, &mut backend, move |backend| {
            let config = config.clone();
            async move { drive(&config, backend).await }.boxed()
        })
        .await
    });
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string());
    // A status line, not a report: short and on one line.
    text.lines().next().unwrap_or_default().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_driver_that_panics_shows_no_signal_and_runs_again() {
        let running = HostStatus { state: HostState::Running, text: "running".into() };
        let (host, mut backend) = super::super::Host::new("h", "h", "vnc", &[], false, false, running);
        let mut seen = host.status.clone();
        let statuses = tokio::spawn(async move {
            seen.changed().await.unwrap();
            seen.borrow_and_update().clone()
        });
        let runs = AtomicU32::new(0);
        supervise("h", &mut backend, |_| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            async move {
                if run < 2 {
                    panic!("greeting sliced mid-character");
                }
            }
            .boxed()
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "restarted after each panic, then returned");
        let shown = statuses.await.unwrap();
        assert_eq!(shown.state, HostState::NoSignal);
        assert!(shown.text.contains("greeting sliced mid-character"), "{}", shown.text);
        assert!(host.video.text().unwrap().contains("restarting it"));
    }
}
