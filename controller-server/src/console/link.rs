//! One console link: a WebSocket carrying the console protocol, driven by the shared
//! `ServerSession` state machine. This adapter only moves bytes and events; every protocol
//! decision is made in `shared`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shared::crypto::Pms;
use shared::session::{KeyPurpose, ServerEnv, ServerEvent, ServerSession, SessionError};
use shared::wire::{Alert, AlertCode, AppMessage, InputEvent, KeyId, Nonce, SpecialKey};
use tokio::sync::broadcast::error::RecvError;
use tracing::Instrument;

use super::keys::{KeyBinding, KeyStore};
use super::sharing::{Handover, Sharing};
use crate::app::AppState;
use crate::hosts::hub::Subscription;
use crate::hosts::Host;
use crate::web::guard::check_origin;
use crate::web::login::Source;

/// The largest WebSocket message a client may send: a sealed paste with room to spare.
const MAX_CLIENT_MESSAGE: usize = 64 << 10;

/// A viewer gets a full frame on request at most this often.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// How often an idle link checks its key life.
const POLL: Duration = Duration::from_secs(1);
/// How often an open link asks the store whether its user may still use it: a user who loses
/// the right is cut off within this (plus one poll), not at the end of the key's life.
const RECHECK: Duration = Duration::from_secs(2);

/// Which listener a link arrived on, for the audit trail.
#[derive(Debug, Clone, Copy)]
pub enum Listener {
    /// `wss://` on the HTTPS origin.
    Tls,
    /// The plain `ws://` console listener.
    Plain,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Listener::Tls => "wss",
            Listener::Plain => "ws",
        }
    }
}

pub async fn upgrade(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    source: Source,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A page on a foreign origin may not even try keys here.
    if let Err(err) = check_origin(&headers, &state) {
        return err.into_response();
    }
    let span = tracing::info_span!("console", link = %rand::random::<u32>());
    // The applet sends input, pastes (16 KiB at most) and key switches: nothing near the 16 MiB
    // a WebSocket frame may otherwise carry.
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| run(socket, state, listener, source).instrument(span))
}

/// Lets the state machine claim keys from the store, and remembers who the link belongs to.
struct Env<'a> {
    keys: &'a KeyStore,
    binding: Option<KeyBinding>,
}

impl ServerEnv for Env<'_> {
    fn claim_key(&mut self, key_id: &KeyId, purpose: KeyPurpose) -> Result<Pms, Alert> {
        let expected = match purpose {
            KeyPurpose::Open => None,
            KeyPurpose::Rekey => Some(self.binding.as_ref().ok_or(Alert::new(AlertCode::ProtocolViolation))?),
        };
        let (pms, binding) = self.keys.claim(key_id, expected)?;
        self.binding = Some(binding);
        Ok(pms)
    }

    fn nonce(&mut self) -> Nonce {
        rand::random()
    }
}

struct Viewer {
    host: Arc<Host>,
    video: Subscription,
    /// The host's serial console output, for hosts that have one.
    serial: Option<tokio::sync::broadcast::Receiver<Arc<Vec<u8>>>>,
    /// This viewer's own view of the host status, so each change is reported once.
    status: tokio::sync::watch::Receiver<shared::wire::message::HostStatus>,
    sharing: Arc<Sharing>,
    /// This link's id among the host's viewers.
    id: u32,
    presence: tokio::sync::watch::Receiver<u64>,
    /// When this viewer last asked for a full frame.
    last_refresh: Option<Instant>,
}

/// What the audit trail records about a link when it ends.
#[derive(Default)]
struct LinkStats {
    bytes_in: u64,
    bytes_out: u64,
    renewals: u32,
    suite: Option<&'static str>,
    refused_inputs: u64,
    /// Input sent while another viewer held the keyboard and mouse.
    inputs_while_watching: u64,
    /// Refresh requests beyond one a second.
    refreshes_ignored: u64,
}

async fn run(mut socket: WebSocket, state: AppState, listener: Listener, source: Source) {
    let _open = state.link_guard();
    let stopping = state.stopping();
    tokio::pin!(stopping);
    let mut stop_seen = false;
    let started = Instant::now();
    let now = || started.elapsed().as_millis() as u64;
    let mut session = ServerSession::new(state.link_config.clone());
    let mut env = Env { keys: &state.keys, binding: None };
    let mut viewer: Option<Viewer> = None;
    let mut poll = tokio::time::interval(POLL);
    let mut last_check = Instant::now();
    let mut stats = LinkStats::default();
    // Why we are ending the link, when it is our decision (for the WebSocket close frame).
    let mut farewell: Option<Farewell> = None;
    // A socket that never says hello, or never proves its key, is closed at this deadline.
    let handshake_ends = tokio::time::Instant::now() + state.console_handshake;
    let outcome: Result<(), SessionError> = loop {
        let step = tokio::select! {
            () = tokio::time::sleep_until(handshake_ends), if !session.is_established() => {
                let alert = Alert::with_message(AlertCode::ProtocolViolation, "no console handshake in time");
                farewell = Some(Farewell { code: close_code::POLICY, reason: alert.message.clone() });
                session.close(alert, now());
                Ok(())
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    stats.bytes_in += bytes.len() as u64;
                    match session.handle_record(&bytes, now(), &mut env) {
                        Ok(events) => on_events(events, &mut session, &mut viewer, &env, &state, &mut stats, (listener, &source), now()).await,
                        Err(err) => Err(err),
                    }
                }
                Some(Ok(WsMessage::Text(_))) => {
                    session.close(Alert::with_message(AlertCode::ProtocolViolation, "text frames are not part of the console protocol"), now());
                    Err(SessionError::Unexpected("text frame"))
                }
                Some(Ok(WsMessage::Close(_))) | None => break Ok(()),
                Some(Err(err)) => {
                    // A frame the WebSocket layer refused (unmasked, oversized, malformed).
                    farewell = Some(Farewell { code: close_code::PROTOCOL, reason: format!("websocket protocol error: {err}") });
                    break Ok(());
                }
                Some(Ok(_)) => Ok(()), // ping and pong are the WebSocket layer's business
            },
            event = next_host_event(&mut viewer) => match event {
                HostEvent::Video(payload) => session.send_video(&payload, now()),
                HostEvent::Lagged => resync(&mut session, &mut viewer, now()).await,
                HostEvent::Serial(bytes) => session.send(AppMessage::Serial(bytes.to_vec()), now()),
                // A serial stream has no full frame to restart from: say what was lost.
                HostEvent::SerialLagged(n) => {
                    let notice = format!("\r\n[lantern: {n} pieces of serial output skipped: this viewer fell behind]\r\n");
                    session.send(AppMessage::Serial(notice.into_bytes()), now())
                }
                HostEvent::Status(status) => session.send(AppMessage::HostStatus(status), now()),
                HostEvent::Presence => match &viewer {
                    Some(v) => session.send(AppMessage::Presence(v.sharing.view(v.id)), now()),
                    None => Ok(()),
                },
            },
            () = &mut stopping, if !stop_seen => {
                stop_seen = true;
                let alert = Alert::with_message(AlertCode::Closed, "the controller is shutting down");
                farewell = Some(Farewell { code: close_code::AWAY, reason: alert.message.clone() });
                session.close(alert, now());
                Ok(())
            }
            _ = poll.tick() => {
                if let Some(v) = &viewer {
                    record_handover(&state, &v.host.id, v.sharing.tick()).await;
                }
                match (&env.binding, last_check.elapsed() >= RECHECK) {
                    (Some(binding), true) => {
                        last_check = Instant::now();
                        if !still_allowed(&state, binding).await {
                            tracing::info!(user = %binding.username, host = %binding.host_id, "console access withdrawn");
                            state.audit(&binding.username, "console.revoked", &binding.host_id, serde_json::json!({})).await;
                            let alert = Alert::new(AlertCode::AccessRevoked);
                            farewell = Some(Farewell::from(&alert));
                            session.close(alert, now());
                        }
                        session.poll(now())
                    }
                    _ => session.poll(now()),
                }
            }
        };
        for record in session.take_outgoing() {
            stats.bytes_out += record.len() as u64;
            if socket.send(WsMessage::Binary(record.into())).await.is_err() {
                break;
            }
        }
        if let Err(err) = step {
            break Err(err);
        }
        if session.is_closed() {
            break Ok(());
        }
    };
    if let Some(v) = &viewer {
        record_handover(&state, &v.host.id, v.sharing.leave(v.id)).await;
    }
    let reason = match &outcome {
        Ok(()) => "closed".to_string(),
        Err(err) => err.to_string(),
    };
    match &outcome {
        Ok(()) => tracing::info!("console link closed"),
        Err(err) => crate::quiet_warn!("console link ended", reason = %err, "console link ended"),
    }
    if let Some(binding) = &env.binding {
        let key = session.tx_position();
        state
            .audit(
                &binding.username,
                "console.close",
                &binding.host_id,
                serde_json::json!({
                    "listener": listener.name(),
                    "suite": stats.suite,
                    "bytes_in": stats.bytes_in,
                    "bytes_out": stats.bytes_out,
                    "renewals": stats.renewals,
                    "refused_inputs": stats.refused_inputs,
                    "inputs_while_watching": stats.inputs_while_watching,
                    "refreshes_ignored": stats.refreshes_ignored,
                    "generation": key.map(|k| k.generation),
                    "epoch": key.map(|k| k.epoch),
                    "reason": reason,
                }),
            )
            .await;
    }
    let farewell = match (&outcome, farewell) {
        (_, Some(farewell)) => farewell,
        (Err(err), None) => Farewell { code: err.code().close_code(), reason: err.to_string() },
        (Ok(()), None) => Farewell { code: close_code::NORMAL, reason: "closed".into() },
    };
    close_socket(socket, farewell).await;
}

/// How the WebSocket is closed: a close code (RFC 6455) and a short reason the page can show.
struct Farewell {
    code: u16,
    reason: String,
}

impl From<&Alert> for Farewell {
    fn from(alert: &Alert) -> Self {
        Self { code: alert.code.close_code(), reason: alert.message.clone() }
    }
}

/// The WebSocket close codes we use (RFC 6455, section 7.4.1).
mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const POLICY: u16 = 1008;
}

/// Longest time we wait for the peer's half of the closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Sends the close frame, then reads until the peer answers it (or `CLOSE_WAIT` passes): a
/// socket dropped with unread data is reset, and a reset makes the peer's system discard what
/// it had not yet read, our last alert among it.
async fn close_socket(mut socket: WebSocket, farewell: Farewell) {
    // A close reason is at most 123 bytes; cut on a character boundary.
    let mut reason = farewell.reason;
    while reason.len() > 123 {
        reason.pop();
    }
    let frame = axum::extract::ws::CloseFrame { code: farewell.code, reason: reason.into() };
    if socket.send(WsMessage::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, WsMessage::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[allow(clippy::too_many_arguments)] // one call site; the link's state, spelled out
async fn on_events(
    events: Vec<ServerEvent>,
    session: &mut ServerSession,
    viewer: &mut Option<Viewer>,
    env: &Env<'_>,
    state: &AppState,
    stats: &mut LinkStats,
    (listener, source): (Listener, &Source),
    now_ms: u64,
) -> Result<(), SessionError> {
    for event in events {
        match event {
            ServerEvent::Established { info, .. } => {
                let Some(binding) = &env.binding else { continue };
                let (Some(host), Some(sharing)) =
                    (state.hosts.get(&binding.host_id), state.sharing.get(&binding.host_id).cloned())
                else {
                    let alert = Alert::new(AlertCode::HostUnavailable);
                    session.close(alert.clone(), now_ms);
                    return Err(SessionError::Refused(alert));
                };
                tracing::info!(user = %binding.username, host = %host.id, suite = %info.suite, "console link established");
                stats.suite = Some(info.suite.name());
                let mut detail = source.audit();
                detail["listener"] = listener.name().into();
                detail["suite"] = info.suite.name().into();
                detail["control"] = binding.control.into();
                state.audit(&binding.username, "console.open", &host.id, detail).await;
                // A viewer's first picture goes out with its handshake, as before: joining here,
                // inline, keeps it in the same flush (off the runtime it arrived late enough for a
                // page to see the link connected with an empty screen). Refreshes, which a viewer
                // can repeat, go to the blocking pool.
                let video = host.video.subscribe();
                for update in video.start() {
                    session.send_video(update, now_ms)?;
                }
                let mut status = host.status.clone();
                session.send(AppMessage::HostStatus(status.borrow_and_update().clone()), now_ms)?;
                let mut presence = sharing.subscribe();
                let (id, handover) = sharing.join(&binding.username, &binding.web_session, binding.control);
                record_handover(state, &host.id, handover).await;
                presence.borrow_and_update();
                session.send(AppMessage::Presence(sharing.view(id)), now_ms)?;
                // The serial console streams only once the applet opens it.
                *viewer = Some(Viewer { host, video, serial: None, status, sharing, id, presence, last_refresh: None });
            }
            ServerEvent::Message(AppMessage::Input(input)) => {
                let Some(v) = may_type(env, viewer, state, stats).await else { continue };
                if let InputEvent::Special(SpecialKey::CtrlAltDel) = &input {
                    if let Some(b) = &env.binding {
                        state.audit(&b.username, "console.ctrl-alt-del", &b.host_id, serde_json::json!({})).await;
                    }
                }
                // Bounded: a stuck host slows this link rather than growing memory.
                let _ = v.host.input.send(input).await;
            }
            ServerEvent::Message(AppMessage::Serial(bytes)) => {
                let Some(v) = may_type(env, viewer, state, stats).await else { continue };
                if let Some(port) = &v.host.serial_input {
                    // A port that cannot keep up drops keystrokes rather than stall the link.
                    let _ = port.try_send(bytes);
                }
            }
            ServerEvent::Message(AppMessage::RequestControl) => {
                if let Some(v) = viewer {
                    record_handover(state, &v.host.id, v.sharing.request(v.id)).await;
                }
            }
            ServerEvent::Message(AppMessage::GiveControl { to }) => {
                if let Some(v) = viewer {
                    record_handover(state, &v.host.id, v.sharing.give(v.id, to)).await;
                }
            }
            ServerEvent::Message(AppMessage::RefreshRequest) => {
                // A full frame costs an encode: one a second per viewer at most, the rest ignored
                // (the one let through brings the viewer up to date anyway).
                let Some(v) = viewer.as_mut() else { continue };
                if v.last_refresh.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
                    stats.refreshes_ignored += 1;
                    continue;
                }
                v.last_refresh = Some(Instant::now());
                resync(session, viewer, now_ms).await?
            }
            ServerEvent::Message(AppMessage::SerialOpen) => {
                let Some(v) = viewer else { continue };
                let (Some(hub), None) = (&v.host.serial, &v.serial) else { continue };
                let start = hub.subscribe();
                for piece in start.backlog.chunks(SERIAL_PIECE) {
                    session.send(AppMessage::Serial(piece.to_vec()), now_ms)?;
                }
                v.serial = Some(start.updates);
                if let Some(b) = &env.binding {
                    state.audit(&b.username, "console.serial-open", &b.host_id, serde_json::json!({})).await;
                }
            }
            ServerEvent::Message(_) => {
                return Err(SessionError::Unexpected("controller-bound message the applet may not send"))
            }
            ServerEvent::RekeyComplete { generation } => {
                stats.renewals += 1;
                tracing::info!(generation, "console key switched");
            }
            ServerEvent::RekeyRefused(alert) => tracing::info!(reason = %alert, "console key switch refused"),
            ServerEvent::PeerClosed(_) => {}
        }
    }
    Ok(())
}

/// The viewer, if this link may send keys now: its key allows control and its viewer holds
/// the keyboard. Refusals are counted (the first one of a view-only link is audited).
async fn may_type<'v>(
    env: &Env<'_>,
    viewer: &'v mut Option<Viewer>,
    state: &AppState,
    stats: &mut LinkStats,
) -> Option<&'v mut Viewer> {
    let b = env.binding.as_ref()?;
    if !b.control {
        // A viewer's input goes nowhere; the first refusal of a link is audited and the count
        // goes into the close record.
        if stats.refused_inputs == 0 {
            state
                .audit(&b.username, "console.input-refused", &b.host_id, serde_json::json!({ "reason": "view only" }))
                .await;
        }
        stats.refused_inputs += 1;
        return None;
    }
    let v = viewer.as_mut()?;
    if !v.sharing.input(v.id) {
        // Another viewer holds the keyboard and mouse; the page shows who.
        stats.inputs_while_watching += 1;
        return None;
    }
    Some(v)
}

/// Whether the link's owner may still watch its host (and control it, if the key allows
/// control), as the store says now. A store that cannot tell ends the link: fail closed.
async fn still_allowed(state: &AppState, binding: &KeyBinding) -> bool {
    let (state, binding) = (state.clone(), binding.clone());
    let checked = crate::store::off_runtime(move || {
        let Some(user) = crate::web::principal::current_user(&state, &binding.credential)? else { return Ok(false) };
        if user.id != binding.user_id || user.must_change_password {
            return Ok(false);
        }
        let rights = state.rights(&user, &binding.host_id)?;
        Ok(rights.view && (rights.control || !binding.control))
    })
    .await;
    checked.unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot check a console link's rights");
        false
    })
}

/// Control changed hands: the audit trail says who got it, from whom and why.
async fn record_handover(state: &AppState, host_id: &str, handover: Option<Handover>) {
    if let Some(h) = handover {
        tracing::info!(host = %host_id, to = %h.to, reason = h.reason, "console control changed hands");
        state.audit(&h.to, "console.control", host_id, serde_json::json!({ "from": h.from, "reason": h.reason })).await;
    }
}

/// Starts the viewer over from a full frame (after it lagged, or on request).
async fn resync(session: &mut ServerSession, viewer: &mut Option<Viewer>, now_ms: u64) -> Result<(), SessionError> {
    if let Some(v) = viewer {
        tracing::info!(host = %v.host.id, "viewer fell behind the video; starting it over from a full frame");
        v.video = subscribe(&v.host).await?;
        for update in v.video.start() {
            session.send_video(update, now_ms)?;
        }
    }
    Ok(())
}

/// Joins the host's video. Joining encodes a full frame (a deflate of the whole screen) under
/// the hub's lock: on the blocking pool, not on a runtime worker.
async fn subscribe(host: &Arc<Host>) -> Result<Subscription, SessionError> {
    let hub = host.video.clone();
    tokio::task::spawn_blocking(move || hub.subscribe()).await.map_err(|_| SessionError::Closed)
}

enum HostEvent {
    Video(Arc<Vec<u8>>),
    Serial(Arc<Vec<u8>>),
    /// This viewer fell behind on the serial console by this many pieces.
    SerialLagged(u64),
    /// This viewer fell behind and must start over from a full frame.
    Lagged,
    Status(shared::wire::message::HostStatus),
    /// Someone joined, left, asked for or got control.
    Presence,
}

/// Serial output as sent to a viewer, at most this much per message.
const SERIAL_PIECE: usize = 16 << 10;

/// A broadcast result as "a piece, or how many were skipped"; `None` once the stream closed.
trait OrLag<T> {
    fn ok_or_lag(self) -> Option<Result<T, u64>>;
}

impl<T> OrLag<T> for Result<T, RecvError> {
    fn ok_or_lag(self) -> Option<Result<T, u64>> {
        match self {
            Ok(item) => Some(Ok(item)),
            Err(RecvError::Lagged(n)) => Some(Err(n)),
            Err(RecvError::Closed) => None,
        }
    }
}

/// The next thing the watched host did. Pending forever without a viewer.
async fn next_host_event(viewer: &mut Option<Viewer>) -> HostEvent {
    let Some(v) = viewer else { return std::future::pending().await };
    tokio::select! {
        update = v.video.updates.recv() => match update {
            Ok(update) => HostEvent::Video(update),
            Err(RecvError::Lagged(_)) => HostEvent::Lagged,
            Err(RecvError::Closed) => std::future::pending().await,
        },
        piece = async { v.serial.as_mut()?.recv().await.ok_or_lag() }, if v.serial.is_some() => match piece {
            Some(Ok(bytes)) => HostEvent::Serial(bytes),
            Some(Err(skipped)) => HostEvent::SerialLagged(skipped),
            None => {
                v.serial = None;
                std::future::pending().await
            }
        },
        changed = v.status.changed() => match changed {
            Ok(()) => HostEvent::Status(v.status.borrow_and_update().clone()),
            Err(_) => std::future::pending().await,
        },
        changed = v.presence.changed() => match changed {
            Ok(()) => {
                v.presence.borrow_and_update();
                HostEvent::Presence
            }
            Err(_) => std::future::pending().await,
        },
    }
}
