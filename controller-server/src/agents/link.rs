//! One running agent's connection: a pump between its WebSocket and
//! `agent_link::ControllerLink`. The link decides; this carries out its actions (store the
//! association, route each stream's output, log) and the controller's commands.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use agent_link::controller::RefreshStep;
use agent_link::{ControllerAction, ControllerLink, LinkError, OpenKind};
use axum::extract::ws::{Message as WsMessage, WebSocket};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::directives::{Directive, ExitInfo};
use super::{Command, Slot};
use crate::app::AppState;
use crate::store::audit::now_ms;
use crate::store::off_runtime;
use crate::sync::Locked;
use crate::web::login::Source;

/// A message that cannot be sent in this long means the agent stopped reading.
const SEND_DEADLINE: Duration = Duration::from_secs(10);
/// Console input waiting for the stream's window, at most.
const MAX_PENDING_INPUT: usize = 256 << 10;
/// A stream's reader that takes nothing for this long loses (the text console) or ends (the
/// screen) rather than stall the agent's other streams.
const OUTPUT_DEADLINE: Duration = Duration::from_secs(2);

enum Route {
    Directive(Arc<Directive>),
    Bytes(ByteRoute),
}

/// Where a byte stream's output goes.
struct ByteRoute {
    output: mpsc::Sender<Vec<u8>>,
    ended: oneshot::Sender<String>,
    /// A screen's bytes are a protocol: a gap breaks it, so a stream that would lose bytes
    /// ends instead (its VNC client connects again). A terminal survives a gap.
    lossless: bool,
}

struct Pump<'a> {
    state: &'a AppState,
    slot: Arc<Slot>,
    agent_id: String,
    routes: HashMap<u32, Route>,
    by_directive: HashMap<u64, u32>,
    pending_input: VecDeque<(u32, Vec<u8>)>,
    pending_bytes: usize,
    power: HashMap<u32, oneshot::Sender<Result<(), String>>>,
    commands: mpsc::Sender<Command>,
    generation: Option<u64>,
    started: Instant,
    /// A test crash point to reach once what the link sealed is sent.
    crash_after_send: Option<&'static str>,
    /// Why the link closed, for the close frame.
    closed: Option<LinkError>,
}

pub async fn run(state: AppState, mut socket: WebSocket, first: Vec<u8>, source: Source) {
    let agents = &state.agents;
    let started = Instant::now();
    let (mut link, agent_id) = match ControllerLink::accept(&first, agents.config.link(), 0) {
        Ok(accepted) => accepted,
        Err(err) => return super::socket::close(socket, &err).await,
    };
    let store = agents.store.clone();
    let lookup = agent_id.clone();
    let known = match off_runtime(move || store.agent(&lookup)).await {
        Ok(Some((known, false))) => known,
        Ok(Some((known, true))) => {
            state
                .event(&known.host_id, "warning", &format!("a revoked agent tried to connect from {}", source.key()))
                .await;
            link.refuse("the agent was revoked");
            return super::socket::close(socket, &LinkError::Handshake("the agent was revoked")).await;
        }
        Ok(None) => {
            crate::quiet_warn!("agent unknown", address = %source.key(), "an unknown agent tried to connect");
            return super::socket::close(socket, &LinkError::Handshake("no such agent")).await;
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot read the agents' store");
            return super::socket::close(socket, &LinkError::Closed("the controller cannot read its store".into()))
                .await;
        }
    };
    let slot = match agents.slot_for(&known.host_id, &known.name, &state.hosts) {
        Ok(slot) => slot,
        Err(err) => {
            tracing::error!(error = %err, host = %known.host_id, "cannot make the agent's host");
            return super::socket::close(socket, &LinkError::Closed("the agent's host id is taken".into())).await;
        }
    };
    let (secret, _) = agents.identity();
    link.agent_found(secret, known, rand::random(), 0);
    let (commands, mut inbox) = mpsc::channel(256);
    let mut pump = Pump {
        state: &state,
        slot,
        agent_id,
        routes: HashMap::new(),
        by_directive: HashMap::new(),
        pending_input: VecDeque::new(),
        pending_bytes: 0,
        power: HashMap::new(),
        commands,
        generation: None,
        started,
        crash_after_send: None,
        closed: None,
    };
    let stopping = state.stopping();
    tokio::pin!(stopping);
    let mut stop_seen = false;
    loop {
        if !pump.flush(&mut link, &mut socket).await {
            break;
        }
        pump.carry_out(&mut link).await;
        if !pump.flush(&mut link, &mut socket).await || link.is_closed() {
            break;
        }
        let wake = link.next_poll().map_or(started + Duration::from_secs(3600), |t| started + Duration::from_millis(t));
        tokio::select! {
            message = socket.recv() => match message {
                Some(Ok(WsMessage::Binary(bytes))) => link.handle_message(&bytes, pump.now()),
                Some(Ok(WsMessage::Text(_))) => link.goodbye("text messages are not part of the agent link"),
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => link.goodbye("the agent closed the connection"),
            },
            Some(command) = inbox.recv() => pump.command(command, &mut link),
            () = tokio::time::sleep_until(wake) => link.poll(pump.now()),
            () = &mut stopping, if !stop_seen => {
                stop_seen = true;
                link.goodbye("the controller is stopping");
            }
        }
        pump.send_pending_input(&mut link);
    }
    pump.carry_out(&mut link).await;
    let _ = pump.flush(&mut link, &mut socket).await;
    pump.ended().await;
    let reason = pump.closed.take().unwrap_or_else(|| LinkError::Closed("the connection ended".into()));
    super::socket::close(socket, &reason).await;
}

impl Pump<'_> {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends what the link sealed; false once the socket failed.
    async fn flush(&mut self, link: &mut ControllerLink, socket: &mut WebSocket) -> bool {
        while let Some(message) = link.take_outgoing() {
            match tokio::time::timeout(SEND_DEADLINE, socket.send(WsMessage::Binary(message.into()))).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
        if let Some(step) = self.crash_after_send.take() {
            let _ = futures_util::SinkExt::flush(socket).await;
            crash_point(step);
        }
        true
    }

    fn command(&mut self, command: Command, link: &mut ControllerLink) {
        match command {
            Command::Directive { directive, kind, opened } => match link.open_stream(kind) {
                Ok(stream) => {
                    self.by_directive.insert(directive.id, stream);
                    self.routes.insert(stream, Route::Directive(directive));
                    let _ = opened.send(Ok(()));
                }
                Err(err) => {
                    let _ = opened.send(Err(err.to_string()));
                }
            },
            Command::Cancel { directive } => {
                if let Some(stream) = self.by_directive.get(&directive) {
                    link.cancel(*stream);
                }
            }
            Command::Stream { kind, output, ended, opened } => {
                let lossless = kind == OpenKind::Screen;
                match link.open_stream(kind) {
                    Ok(stream) => {
                        self.routes.insert(stream, Route::Bytes(ByteRoute { output, ended, lossless }));
                        let _ = opened.send(Ok(stream));
                    }
                    Err(err) => {
                        let _ = opened.send(Err(err.to_string()));
                    }
                }
            }
            Command::Input { stream, bytes } => {
                if self.pending_bytes + bytes.len() <= MAX_PENDING_INPUT {
                    self.pending_bytes += bytes.len();
                    self.pending_input.push_back((stream, bytes));
                } else if let Some(Route::Bytes(ByteRoute { lossless: true, .. })) = self.routes.get(&stream) {
                    self.end_route(stream, "the agent's screen stopped taking input", link);
                }
            }
            Command::CloseStream { stream } => link.cancel(stream),
            Command::Power { verb, done } => match link.power(verb) {
                Ok(request) => {
                    self.power.insert(request, done);
                }
                Err(err) => {
                    let _ = done.send(Err(err.to_string()));
                }
            },
            Command::Close { reason } => link.goodbye(reason),
        }
    }

    /// Ends a byte stream here and at the agent: its reader sees the end, and why.
    fn end_route(&mut self, stream: u32, why: &str, link: &mut ControllerLink) {
        if let Some(Route::Bytes(route)) = self.routes.remove(&stream) {
            tracing::warn!(host = %self.slot.host.id, stream, why, "byte stream ended");
            let _ = route.ended.send(why.to_string());
        }
        link.cancel(stream);
    }

    /// Input goes as fast as the stream's window lets it, in order.
    fn send_pending_input(&mut self, link: &mut ControllerLink) {
        while let Some((stream, bytes)) = self.pending_input.front_mut() {
            if !self.routes.contains_key(stream) {
                self.pending_bytes -= bytes.len();
                self.pending_input.pop_front();
                continue;
            }
            let sent = link.send_input(*stream, bytes);
            self.pending_bytes -= sent;
            if sent < bytes.len() {
                bytes.drain(..sent);
                return;
            }
            self.pending_input.pop_front();
        }
    }

    async fn carry_out(&mut self, link: &mut ControllerLink) {
        while let Some(action) = link.next_action() {
            match action {
                ControllerAction::Connected { epoch, version, facts, screen } => {
                    let hello = super::Hello { epoch, version: &version, facts: &facts, screen };
                    let generation = self.state.agents.connected(&self.slot, self.commands.clone(), &hello, now_ms());
                    self.generation = Some(generation);
                    self.seen(Some(version.clone()), Some(facts)).await;
                    let host = self.slot.host.id.clone();
                    let detail = format!("version {version}, association {epoch}");
                    let notice =
                        crate::notify::Draft::host(crate::notify::registry::AGENT_CONNECTED, &host, &[&detail]);
                    self.state.event_notice(&host, "info", &format!("agent connected ({detail})"), notice).await;
                }
                ControllerAction::Facts(facts) => {
                    self.slot.info.locked().facts = Some((&facts).into());
                    self.seen(None, Some(facts)).await;
                }
                ControllerAction::Output { stream, channel, bytes } => {
                    let len = bytes.len();
                    match self.routes.get(&stream) {
                        Some(Route::Directive(directive)) => directive.push(channel, bytes),
                        Some(Route::Bytes(route)) => {
                            let taken = tokio::time::timeout(OUTPUT_DEADLINE, route.output.send(bytes)).await;
                            if route.lossless && !matches!(taken, Ok(Ok(()))) {
                                self.end_route(stream, "the screen's reader fell behind", link);
                            }
                        }
                        None => {}
                    }
                    link.output_consumed(stream, len);
                }
                ControllerAction::Exited { stream, exit } => match self.routes.remove(&stream) {
                    Some(Route::Directive(directive)) => {
                        self.by_directive.remove(&directive.id);
                        self.finished(&directive, exit.into()).await;
                    }
                    Some(Route::Bytes(route)) => {
                        let _ = route.ended.send(exit.reason);
                    }
                    None => {}
                },
                ControllerAction::Sensors(readings) => {
                    let health = &self.slot.health;
                    let changes =
                        health.record(now_ms(), readings.iter().filter_map(sensors::wire::from_wire).collect());
                    for change in changes {
                        self.state.journal.event(change.entry(&self.slot.host.id)).await;
                    }
                }
                ControllerAction::Heartbeat => {
                    let _ = self.slot.host.heartbeat.try_send("agent");
                }
                ControllerAction::PowerDone { request, error } => {
                    if let Some(done) = self.power.remove(&request) {
                        let _ = done.send(error.map_or(Ok(()), Err));
                    }
                }
                ControllerAction::CommitAssociations(associations) => {
                    let (store, agent_id) = (self.state.agents.store.clone(), self.agent_id.clone());
                    match off_runtime(move || store.commit_associations(&agent_id, &associations)).await {
                        Ok(()) => {
                            crash_point("acknowledge");
                            link.associations_committed(self.now());
                        }
                        Err(err) => tracing::error!(error = %err, "cannot store the agent's refreshed association"),
                    }
                }
                ControllerAction::Refresh(step) => self.refreshed(step).await,
                ControllerAction::Closed(reason) => {
                    tracing::info!(host = %self.slot.host.id, %reason, "agent link closed");
                    self.closed = Some(reason);
                }
            }
        }
    }

    async fn refreshed(&mut self, step: RefreshStep) {
        let host = self.slot.host.id.clone();
        match step {
            RefreshStep::Ready { epoch } => {
                tracing::info!(host = %host, epoch, "association refresh offered");
                self.crash_after_send = Some("ready");
            }
            RefreshStep::Acknowledged { epoch } => {
                tracing::info!(host = %host, epoch, "association refresh acknowledged")
            }
            RefreshStep::Confirmed { epoch } => {
                self.crash_after_send = Some("confirm");
                self.slot.info.locked().epoch = Some(epoch);
                self.state.event(&host, "info", &format!("association refreshed to generation {epoch}")).await;
            }
            RefreshStep::Abandoned { epoch } => {
                self.state
                    .event(
                        &host,
                        "warning",
                        &format!("association refresh to generation {epoch} not acknowledged; the last good one stays"),
                    )
                    .await;
            }
        }
    }

    async fn seen(&self, version: Option<String>, facts: Option<agent_link::Facts>) {
        let (store, agent_id) = (self.state.agents.store.clone(), self.agent_id.clone());
        let now = now_ms();
        if let Err(err) = off_runtime(move || store.seen(&agent_id, now, version.as_deref(), facts.as_ref())).await {
            tracing::error!(error = %err, "cannot record an agent's visit");
        }
        self.slot.info.locked().last_seen = Some(now);
    }

    /// A directive's end, in the audit trail and the host's event log.
    async fn finished(&self, directive: &Directive, exit: ExitInfo) {
        if !directive.finish(exit.clone()) {
            return;
        }
        let ended = match (exit.code, exit.signal) {
            (Some(0), _) => "ok",
            (Some(_), _) => "failed",
            (None, Some(_)) => "signal",
            (None, None) => "lost",
        };
        self.state.metrics.directive(ended, std::time::Duration::from_millis(exit.duration_ms));
        let outcome = match (exit.code, exit.signal) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => "no status".to_string(),
        };
        let why = if exit.reason.is_empty() { String::new() } else { format!(" ({})", exit.reason) };
        let detail = json!({
            "directive": directive.id,
            "code": exit.code,
            "signal": exit.signal,
            "duration_ms": exit.duration_ms,
            "output_bytes": exit.output_bytes,
            "reason": exit.reason,
        });
        self.state.audit(&directive.user, "directive.exit", &directive.host_id, detail).await;
        let severity = if exit.code == Some(0) { "info" } else { "warning" };
        let message = format!(
            "directive #{} by {} ended: {outcome}{why}, {} bytes of output in {} ms",
            directive.id, directive.user, exit.output_bytes, exit.duration_ms
        );
        self.state.event(&directive.host_id, severity, &message).await;
    }

    /// The connection is over: what ran on it ended with it.
    async fn ended(&mut self) {
        for (_, route) in std::mem::take(&mut self.routes) {
            if let Route::Directive(directive) = route {
                let exit = ExitInfo {
                    code: None,
                    signal: None,
                    duration_ms: u64::try_from(now_ms() - directive.started_at).unwrap_or(0),
                    output_bytes: directive.summary().output_bytes,
                    reason: "the agent disconnected".into(),
                };
                self.finished(&directive, exit).await;
            }
        }
        for (_, done) in self.power.drain() {
            let _ = done.send(Err("the agent disconnected".into()));
        }
        if let Some(generation) = self.generation {
            if self.state.agents.disconnected(&self.slot, generation, now_ms()) {
                let host = &self.slot.host.id;
                let notice = crate::notify::Draft::host(crate::notify::registry::AGENT_DISCONNECTED, host, &[]);
                self.state.event_notice(host, "warning", "agent disconnected", notice).await;
            }
        }
    }
}

/// For the tests that kill the controller at each step of a refresh: with
/// `LANTERN_TEST_CRASH_AT=<step>` in a debug build, the process dies there as `kill -9` would.
pub(crate) fn crash_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("LANTERN_TEST_CRASH_AT").is_ok_and(|at| at == step) {
        tracing::error!(step, "crashing at a test crash point");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}
