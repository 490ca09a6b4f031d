//! `lantern-agent run`: keeps the machine connected. One connection at a time, a pump between
//! its WebSocket and `agent_link::AgentLink`: the link decides, this carries out its actions
//! (store the association, start and feed directives and the console) and feeds it the
//! machine's events (output, exits, heartbeats, facts, sensors). A lost connection is dialled
//! again after a backoff with jitter, so a controller's restart brings no reconnect storm.

use std::collections::BTreeMap;
use std::path::Path;
use std::task::Poll;
use std::time::{Duration, Instant};

use agent_link::agent::StoreReason;
use agent_link::{AgentAction, AgentConfig, AgentLink, Exit, OpenKind, OutputChannel, PowerVerb};
use futures_util::{SinkExt, StreamExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::config::Config;
use crate::dial::{dial, Socket};
use crate::directive::{self, Ended, Outputs};
use crate::state::State;

/// A message the controller does not take in this long means it stopped reading.
const SEND_DEADLINE: Duration = Duration::from_secs(10);
/// After its program ended, a stream's output may still drain this long (a daemon it left
/// behind may hold the pipe open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// A connection that lasted this long starts the backoff afresh.
const STABLE: Duration = Duration::from_secs(30);

pub async fn run(config: Config, state_path: &Path) -> anyhow::Result<()> {
    let mut state = State::load(state_path)?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tracing::info!(controller = %state.controller, host = %state.host_id, "lantern-agent starting");
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let lost = tokio::select! {
            lost = connection(&config, &mut state, state_path) => lost,
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        };
        if started.elapsed() > STABLE {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        let delay = backoff(failures);
        tracing::warn!(reason = %lost, retry_in_ms = delay.as_millis() as u64, "not connected to the controller");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
    }
}

/// 1 s doubling to 60 s, each drawn from the upper half of its range: thousands of agents that
/// lost their controller at the same moment come back spread out.
fn backoff(failures: u32) -> Duration {
    let cap = (1000u64 << failures.saturating_sub(1).min(6)).min(60_000);
    Duration::from_millis(rand::random_range(cap / 2..=cap))
}

enum Job {
    Directive(directive::Running),
    Console(crate::console::Running),
    Screen(crate::screen::Running),
}

struct Stream {
    job: Job,
    outputs: Outputs,
    /// Output the window did not take yet; nothing more is read from the stream meanwhile.
    pending: Option<(OutputChannel, Vec<u8>)>,
    ended: Option<(Ended, Instant)>,
}

struct Pump<'a> {
    config: &'a Config,
    streams: BTreeMap<u32, Stream>,
    ended_tx: mpsc::UnboundedSender<(u32, Ended)>,
    power_tx: mpsc::UnboundedSender<(u32, Option<String>)>,
    /// Input the local VNC server took: the link may let the controller send that much more.
    consumed_tx: mpsc::UnboundedSender<(u32, usize)>,
    /// A test crash point to reach once what the link sealed is sent.
    crash_after_send: Option<&'static str>,
    closed_reason: Option<String>,
}

/// One connection, from dialling to its end; returns why it ended.
async fn connection(config: &Config, state: &mut State, state_path: &Path) -> String {
    let mut socket = match dial(&state.controller, config.ca_file.as_deref()).await {
        Ok(socket) => socket,
        Err(err) => return format!("{err:#}"),
    };
    let clock = Instant::now();
    let now = || u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    let link_config = AgentConfig {
        handshake_ms: 10_000,
        version: env!("CARGO_PKG_VERSION").to_string(),
        screen: config.screen.is_some(),
    };
    let facts = tokio::task::spawn_blocking(crate::facts::gather).await.unwrap_or_default();
    let mut link =
        match AgentLink::connect(&state.identity, state.associations.clone(), facts, &link_config, rand::random(), 0) {
            Ok(link) => link,
            Err(err) => return err.to_string(),
        };
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    let (power_tx, mut power_rx) = mpsc::unbounded_channel();
    let (consumed_tx, mut consumed_rx) = mpsc::unbounded_channel();
    let (healthy_tx, mut healthy_rx) = mpsc::channel(1);
    let mut pump = Pump {
        config,
        streams: BTreeMap::new(),
        ended_tx,
        power_tx,
        consumed_tx,
        crash_after_send: None,
        closed_reason: None,
    };
    let every = |seconds: u64| {
        let mut interval = tokio::time::interval(Duration::from_secs(seconds.max(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    };
    let (mut heartbeat, mut facts, mut sensors) =
        (every(config.heartbeat_seconds), every(config.facts_seconds), every(config.sensors_seconds));
    let reason = loop {
        pump.carry_out(&mut link, state, state_path);
        if let Err(err) = pump.flush(&mut link, &mut socket).await {
            break err;
        }
        if link.is_closed() {
            pump.carry_out(&mut link, state, state_path);
            let _ = pump.flush(&mut link, &mut socket).await;
            break pump.closed_reason.take().unwrap_or_else(|| "the link closed".into());
        }
        let ready: Vec<u32> = pump.ready(&link);
        let wake =
            link.next_poll().map_or(Duration::from_secs(3600), |t| Duration::from_millis(t.saturating_sub(now())));
        let wake = wake.min(pump.next_deadline());
        tokio::select! {
            message = socket.next() => match message {
                Some(Ok(Message::Binary(bytes))) => link.handle_message(&bytes, now()),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    break frame.map_or_else(|| "the controller closed the connection".into(), |f| format!("the controller closed the connection: {}", f.reason));
                }
                Some(Ok(Message::Text(_))) => break "the controller sent a text message".into(),
                Some(Err(err)) => break format!("the connection failed: {err}"),
                None => break "the controller closed the connection".into(),
            },
            output = next_output(&mut pump.streams, &ready) => pump.output(output, &mut link),
            Some((stream, ended)) = ended_rx.recv() => {
                if let Some(s) = pump.streams.get_mut(&stream) {
                    s.ended = Some((ended, Instant::now()));
                }
            },
            Some((request, error)) = power_rx.recv() => link.power_done(request, error),
            Some((stream, bytes)) = consumed_rx.recv() => link.input_consumed(stream, bytes),
            () = tokio::time::sleep(wake) => {
                link.poll(now());
                pump.deadlines();
            },
            _ = heartbeat.tick() => match config.heartbeat_check.split_first() {
                None => link.heartbeat(),
                // The check runs beside the pump; a pass beats.
                Some((program, args)) => {
                    let (program, args, healthy) = (program.clone(), args.to_vec(), healthy_tx.clone());
                    let deadline = Duration::from_secs(config.heartbeat_seconds.max(1));
                    tokio::spawn(async move {
                        let check = tokio::process::Command::new(&program).args(&args).kill_on_drop(true).status();
                        if let Ok(Ok(status)) = tokio::time::timeout(deadline, check).await {
                            if status.success() {
                                let _ = healthy.try_send(());
                            }
                        }
                    });
                }
            },
            Some(()) = healthy_rx.recv() => link.heartbeat(),
            _ = facts.tick() => {
                let facts = tokio::task::spawn_blocking(crate::facts::gather).await.unwrap_or_default();
                link.facts(facts);
            },
            _ = sensors.tick() => {
                let root = config.sysfs.clone();
                let readings = tokio::task::spawn_blocking(move || sensors::hwmon::read(&root)).await.unwrap_or_default();
                link.sensors(readings.iter().map(sensors::wire::to_wire).collect());
            },
        }
        pump.send_pending(&mut link);
        pump.finish(&mut link);
    };
    // Whatever ran on the connection ends with it: the controller has told its users so.
    for stream in pump.streams.values_mut() {
        match &mut stream.job {
            Job::Directive(d) => d.kill("the link to the controller was lost"),
            Job::Console(c) => c.kill(),
            Job::Screen(s) => s.kill(),
        }
    }
    let _ = socket.close(None).await;
    reason
}

/// The next chunk of output (or end of a channel) of any stream the window has room for.
async fn next_output(streams: &mut BTreeMap<u32, Stream>, ready: &[u32]) -> (u32, OutputChannel, Option<Vec<u8>>) {
    std::future::poll_fn(|cx| {
        for id in ready {
            let Some(stream) = streams.get_mut(id) else { continue };
            for (channel, output) in stream.outputs.iter_mut() {
                if let Poll::Ready(chunk) = output.poll_recv(cx) {
                    return Poll::Ready((*id, *channel, chunk));
                }
            }
        }
        Poll::Pending
    })
    .await
}

impl Pump<'_> {
    async fn flush(&mut self, link: &mut AgentLink, socket: &mut Socket) -> Result<(), String> {
        while let Some(message) = link.take_outgoing() {
            match tokio::time::timeout(SEND_DEADLINE, socket.send(Message::Binary(message.into()))).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => return Err(format!("the connection failed: {err}")),
                Err(_) => return Err("the controller stopped reading".into()),
            }
        }
        if let Some(step) = self.crash_after_send.take() {
            let _ = socket.flush().await;
            crash_point(step);
        }
        Ok(())
    }

    fn carry_out(&mut self, link: &mut AgentLink, state: &mut State, state_path: &Path) {
        while let Some(action) = link.next_action() {
            match action {
                AgentAction::Connected { epoch } => tracing::info!(epoch, "connected to the controller"),
                AgentAction::Welcome { host_id, name } => {
                    if host_id != state.host_id || name != state.name {
                        state.host_id = host_id;
                        state.name = name;
                        if let Err(err) = state.save(state_path) {
                            tracing::error!(error = %err, "cannot store the host's new name");
                        }
                    }
                }
                AgentAction::StoreAssociations { associations, reason } => {
                    if reason == StoreReason::Confirmed {
                        crash_point("confirm");
                    }
                    state.associations = associations;
                    match state.save(state_path) {
                        Ok(()) => {
                            if reason == StoreReason::Staged {
                                crash_point("ready");
                                self.crash_after_send = Some("acknowledge");
                            }
                            tracing::info!(?reason, epoch = state.associations.current.epoch, "association stored");
                            link.associations_stored();
                        }
                        // Without the acknowledgement the controller keeps the last good one.
                        Err(err) => tracing::error!(error = %err, "cannot store the association"),
                    }
                }
                AgentAction::Open { stream, kind } => self.open(stream, kind, link),
                AgentAction::Input { stream, bytes } => {
                    let len = bytes.len();
                    match self.streams.get(&stream).map(|s| &s.job) {
                        // Credited back once the server took it (`consumed_tx`).
                        Some(Job::Screen(screen)) => screen.write(bytes),
                        Some(Job::Console(console)) => {
                            console.write(bytes);
                            link.input_consumed(stream, len);
                        }
                        Some(Job::Directive(_)) | None => link.input_consumed(stream, len),
                    }
                }
                AgentAction::Resize { stream, cols, rows } => {
                    if let Some(Stream { job: Job::Console(console), .. }) = self.streams.get(&stream) {
                        console.resize(cols, rows);
                    }
                }
                AgentAction::Cancel { stream } => match self.streams.get_mut(&stream).map(|s| &mut s.job) {
                    Some(Job::Directive(directive)) => directive.kill("cancelled"),
                    Some(Job::Console(console)) => console.kill(),
                    Some(Job::Screen(screen)) => screen.kill(),
                    None => {}
                },
                AgentAction::Power { request, verb } => self.power(request, verb),
                AgentAction::Closed(err) => {
                    tracing::warn!(reason = %err, "link closed");
                    self.closed_reason = Some(err.to_string());
                }
            }
        }
    }

    fn open(&mut self, stream: u32, kind: OpenKind, link: &mut AgentLink) {
        let started = match kind {
            OpenKind::Directive { command, timeout_ms, max_output, kerberos } => {
                let running = self.streams.values().filter(|s| matches!(s.job, Job::Directive(_))).count();
                let directive =
                    crate::kerberos::Directive { command: &command, timeout_ms, max_output, proof: kerberos.as_ref() };
                let host = crate::facts::hostname();
                let account = crate::kerberos::authorize(self.config.kerberos.as_ref(), &host, &directive);
                if running >= self.config.max_directives {
                    Err(format!("this agent runs at most {} directives at once", self.config.max_directives))
                } else if let Err(refused) = &account {
                    tracing::warn!(stream, reason = %refused, "directive refused");
                    Err(refused.clone())
                } else {
                    let timeout =
                        Duration::from_millis(timeout_ms).min(Duration::from_secs(self.config.max_directive_seconds));
                    let max_output = max_output.min(self.config.max_output_bytes);
                    tracing::info!(stream, "directive started");
                    let account = account.ok().flatten();
                    directive::start(
                        stream,
                        &command,
                        timeout,
                        max_output,
                        self.config,
                        account.as_deref(),
                        self.ended_tx.clone(),
                    )
                    .map(|(running, outputs)| (Job::Directive(running), outputs))
                }
            }
            OpenKind::Console { cols, rows } => {
                crate::console::start(stream, cols, rows, self.config, self.ended_tx.clone())
                    .map(|(running, outputs)| (Job::Console(running), outputs))
            }
            OpenKind::Screen => match &self.config.screen {
                Some(address) => {
                    let address = crate::screen::Address::parse(address);
                    let (running, outputs) =
                        crate::screen::start(stream, &address, self.ended_tx.clone(), self.consumed_tx.clone());
                    Ok((Job::Screen(running), outputs))
                }
                None => Err("this agent has no screen configured (set screen in agent.toml)".to_string()),
            },
        };
        match started {
            Ok((job, outputs)) => {
                self.streams.insert(stream, Stream { job, outputs, pending: None, ended: None });
            }
            Err(reason) => link.exited(
                stream,
                Exit {
                    code: None,
                    signal: None,
                    duration_ms: 0,
                    output_bytes: 0,
                    reason: format!("cannot start: {reason}"),
                },
            ),
        }
    }

    fn power(&self, request: u32, verb: PowerVerb) {
        let command = match verb {
            PowerVerb::Reboot => self.config.reboot_command.clone(),
            PowerVerb::Shutdown => self.config.shutdown_command.clone(),
        };
        let done = self.power_tx.clone();
        tokio::spawn(async move {
            let error = match command.split_first() {
                None => Some("no command is configured for this".to_string()),
                Some((program, args)) => match tokio::process::Command::new(program).args(args).status().await {
                    Ok(status) if status.success() => None,
                    Ok(status) => Some(format!("{program} failed ({status})")),
                    Err(err) => Some(format!("cannot run {program}: {err}")),
                },
            };
            let _ = done.send((request, error));
        });
    }

    /// Streams whose output the link may take now.
    fn ready(&self, link: &AgentLink) -> Vec<u32> {
        self.streams
            .iter()
            .filter(|(id, s)| s.pending.is_none() && !s.outputs.is_empty() && link.room(**id) > 0)
            .map(|(id, _)| *id)
            .collect()
    }

    fn output(&mut self, (id, channel, chunk): (u32, OutputChannel, Option<Vec<u8>>), link: &mut AgentLink) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        let Some(mut bytes) = chunk else {
            stream.outputs.retain(|(c, _)| *c != channel);
            return;
        };
        if let Job::Directive(directive) = &mut stream.job {
            let admitted = directive.admit(bytes.len());
            bytes.truncate(admitted);
        }
        let sent = link.send_output(id, channel, &bytes);
        if sent < bytes.len() {
            bytes.drain(..sent);
            stream.pending = Some((channel, bytes));
        }
    }

    fn send_pending(&mut self, link: &mut AgentLink) {
        for (id, stream) in self.streams.iter_mut() {
            if let Some((channel, mut bytes)) = stream.pending.take() {
                let sent = link.send_output(*id, channel, &bytes);
                if sent < bytes.len() {
                    bytes.drain(..sent);
                    stream.pending = Some((channel, bytes));
                }
            }
        }
    }

    /// Time-outs, and outputs a finished program's leftovers keep open.
    fn deadlines(&mut self) {
        let now = Instant::now();
        for stream in self.streams.values_mut() {
            if let (Job::Directive(directive), None) = (&mut stream.job, &stream.ended) {
                if now >= directive.deadline {
                    directive.kill("timed out");
                }
            }
            if stream.ended.is_some_and(|(_, at)| now >= at + DRAIN_GRACE) {
                stream.outputs.clear();
            }
        }
    }

    fn next_deadline(&self) -> Duration {
        let now = Instant::now();
        self.streams
            .values()
            .filter_map(|s| match (&s.job, s.ended) {
                (_, Some((_, at))) => Some(at + DRAIN_GRACE),
                (Job::Directive(d), None) => Some(d.deadline),
                (Job::Console(_) | Job::Screen(_), None) => None,
            })
            .map(|at| at.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// Streams whose program ended and whose output is all sent: their exit goes out.
    fn finish(&mut self, link: &mut AgentLink) {
        let done: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.ended.is_some() && s.outputs.is_empty() && s.pending.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            let Some(stream) = self.streams.remove(&id) else { continue };
            let Some((ended, _)) = stream.ended else { continue };
            let (duration_ms, output_bytes, reason) = match &stream.job {
                Job::Directive(d) => {
                    (d.started.elapsed().as_millis() as u64, d.output_bytes, d.ended_by.unwrap_or_default().to_string())
                }
                Job::Console(_) => (0, 0, String::new()),
                Job::Screen(s) => (0, 0, s.failure()),
            };
            tracing::info!(stream = id, code = ?ended.code, signal = ?ended.signal, %reason, "stream ended");
            link.exited(id, Exit { code: ended.code, signal: ended.signal, duration_ms, output_bytes, reason });
        }
    }
}

/// For the tests that kill the agent at each step of a refresh: with `LANTERN_TEST_CRASH_AT`
/// naming the step, in a debug build, the process dies there as `kill -9` would.
fn crash_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("LANTERN_TEST_CRASH_AT").is_ok_and(|at| at == step) {
        tracing::error!(step, "crashing at a test crash point");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_to_a_minute_with_jitter() {
        for failures in 1..20 {
            let delay = backoff(failures);
            let cap = (1000u64 << (failures - 1).min(6)).min(60_000);
            assert!(
                delay >= Duration::from_millis(cap / 2) && delay <= Duration::from_millis(cap),
                "{failures}: {delay:?}"
            );
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(1)).collect();
        assert!(spread.len() > 10, "retries are spread out");
    }
}
