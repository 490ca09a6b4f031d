//! One console link: a WebSocket carrying the console protocol. A pump: records, the host's
//! events, the time and the controller's stopping go into `shared`'s `ServerLink`, and its
//! actions (join the host, forward input, audit, check rights) are carried out here. Every
//! protocol decision is the link's.

use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shared::link::{Farewell, LinkAudit, ServerAction, ServerLink, ServerLinkConfig};
use shared::wire::{Alert, AlertCode};
use tokio::time::Instant;
use tracing::Instrument;

use super::keys::LinkKeys;
use super::media::{LinkMedia, MediaEvent};
use super::sharing::Handover;
use super::viewer::{self, HostEvent, Viewer};
use crate::app::AppState;
use crate::web::guard::check_origin;
use crate::web::login::Source;

/// The largest WebSocket message a client may send: a sealed chunk of a medium it offered
/// (the largest thing it sends), with room to spare.
const MAX_CLIENT_MESSAGE: usize = shared::wire::media::MEDIA_CHUNK as usize + (4 << 10);

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
    // The applet sends input, pastes (16 KiB at most), key switches and chunks of its media
    // (1 MiB): nothing near the 16 MiB a WebSocket frame may otherwise carry.
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| run(socket, state, listener, source).instrument(span))
}

/// The link's world: who it belongs to, where it came from, the host it watches.
struct Pump<'a> {
    state: &'a AppState,
    env: LinkKeys<'a>,
    viewer: Option<Viewer>,
    listener: Listener,
    source: &'a Source,
    /// Input sent while another viewer held the keyboard and mouse.
    inputs_while_watching: u64,
    started: Instant,
    media: LinkMedia,
    /// The host's console meters, once the link has joined it...
    meters: Option<crate::metrics::LinkMeters>,
    /// ...and the records (in, out) before that, which are counted then.
    early_records: (u64, u64),
    /// Its entry on the *Sessions* page, once joined: where an administrator ends it.
    listed: Option<super::live::Registration>,
}

async fn run(mut socket: WebSocket, state: AppState, listener: Listener, source: Source) {
    let _open = state.link_guard();
    let stopping = state.stopping();
    tokio::pin!(stopping);
    let mut stop_seen = false;
    let handshake_ms = u64::try_from(state.console_handshake.as_millis()).unwrap_or(u64::MAX);
    let mut link = ServerLink::new(ServerLinkConfig::new(state.link_config.clone(), handshake_ms), 0);
    let env = LinkKeys::new(&state.keys);
    let mut pump = Pump {
        state: &state,
        env,
        viewer: None,
        listener,
        source: &source,
        inputs_while_watching: 0,
        started: Instant::now(),
        media: LinkMedia::default(),
        meters: None,
        early_records: (0, 0),
        listed: None,
    };
    while !link.is_over() {
        let wake = pump.started + Duration::from_millis(link.next_poll());
        let media_reads = link.media_accepts_reads();
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {
                link.poll(pump.now());
                // The host's keyboard and mouse pass on from a holder who went idle.
                let handover = pump.viewer.as_ref().and_then(|v| v.sharing.tick());
                pump.record_handover(handover).await;
            }
            incoming = socket.recv() => match incoming {
                // `Bytes` into `Vec` keeps the buffer when the frame is its only owner.
                Some(Ok(WsMessage::Binary(bytes))) => {
                    pump.count_records(1, 0);
                    link.handle_record(bytes.into(), pump.now(), &mut pump.env);
                }
                Some(Ok(WsMessage::Text(_))) => link.text_frame(pump.now()),
                Some(Ok(WsMessage::Close(_))) | None => link.socket_closed(),
                Some(Err(err)) => link.websocket_error(&err.to_string()),
                Some(Ok(_)) => {} // ping and pong are the WebSocket layer's business
            },
            event = viewer::next_event(&mut pump.viewer) => pump.host_event(&mut link, event),
            event = pump.media.next(media_reads) => pump.media_event(&mut link, event).await,
            by = super::live::ended(&mut pump.listed) => {
                tracing::info!(by = %by, "console link ended by an administrator");
                pump.listed = None;
                link.end_by_administrator(&by, pump.now());
            }
            () = &mut stopping, if !stop_seen => {
                stop_seen = true;
                link.shutdown(pump.now());
            }
        }
        while let Some(action) = link.next_action() {
            pump.act(&mut link, action).await;
        }
        let outgoing = link.take_outgoing();
        pump.count_records(0, outgoing.len() as u64);
        if let Some(meters) = &mut pump.meters {
            let stats = link.stats();
            meters.totals(stats.bytes_in, stats.bytes_out, stats.renewals);
        }
        for record in outgoing {
            if socket.send(WsMessage::Binary(record.into())).await.is_err() {
                link.socket_closed();
                break;
            }
        }
    }
    pump.finish(&link).await;
    close_socket(socket, link.farewell()).await;
}

impl Pump<'_> {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn count_records(&mut self, incoming: u64, outgoing: u64) {
        match &self.meters {
            Some(meters) => meters.records(incoming, outgoing),
            None => {
                self.early_records.0 += incoming;
                self.early_records.1 += outgoing;
            }
        }
    }

    fn host_event(&mut self, link: &mut ServerLink, event: HostEvent) {
        let now = self.now();
        match event {
            HostEvent::Video(payload) => link.video(&payload, now),
            HostEvent::VideoLagged => link.video_lagged(),
            HostEvent::Serial(bytes) => link.serial(&bytes, now),
            HostEvent::SerialLagged(skipped) => link.serial_lagged(skipped, now),
            HostEvent::Status(status) => link.host_status(status, now),
            HostEvent::Clipboard(text) => link.clipboard(&text, now),
            HostEvent::Presence => {
                if let Some(v) = &self.viewer {
                    link.presence(v.sharing.view(v.id), now);
                }
            }
        }
    }

    async fn act(&mut self, link: &mut ServerLink, action: ServerAction) {
        let (state, now) = (self.state, self.now());
        match action {
            ServerAction::Join { info, .. } => self.join(link, info).await,
            ServerAction::Input(input) => {
                if let Some(v) = self.holding_control() {
                    // Bounded: a stuck host slows this link rather than growing memory.
                    let _ = v.host.input.send(input).await;
                }
            }
            ServerAction::SerialInput(bytes) => {
                if let Some(port) = self.holding_control().and_then(|v| v.host.serial_input.clone()) {
                    // A port that cannot keep up drops keystrokes rather than stall the link.
                    let _ = port.try_send(bytes);
                }
            }
            ServerAction::OpenSerial => {
                if let Some(backlog) = self.viewer.as_mut().and_then(Viewer::open_serial) {
                    link.serial_opened(&backlog, now);
                }
            }
            ServerAction::Refresh => {
                let Some(v) = self.viewer.as_mut() else { return };
                tracing::info!(host = %v.host.id, "starting the viewer over from a full frame");
                if v.resubscribe().await.is_ok() {
                    link.restart_video(v.video.start(), now);
                }
            }
            ServerAction::RequestControl => {
                let handover = self.viewer.as_ref().and_then(|v| v.sharing.request(v.id));
                self.record_handover(handover).await;
            }
            ServerAction::GiveControl { to } => {
                let handover = self.viewer.as_ref().and_then(|v| v.sharing.give(v.id, to));
                self.record_handover(handover).await;
            }
            ServerAction::CheckAccess => {
                if let Some(binding) = &self.env.binding {
                    if !binding.still_allowed(state).await {
                        tracing::info!(user = %binding.username, host = %binding.host_id, "console access withdrawn");
                        link.revoke(self.now());
                    }
                }
            }
            ServerAction::Audit(audit) => self.audit(audit).await,
            ServerAction::KeySwitched { generation } => tracing::info!(generation, "console key switched"),
            ServerAction::KeySwitchRefused(alert) => tracing::info!(reason = %alert, "console key switch refused"),
            ServerAction::Media(action) => {
                let Some(binding) = self.env.binding.clone() else { return };
                self.media.act(action, link, &binding, state, self.source.audit(), now).await;
            }
        }
    }

    async fn media_event(&mut self, link: &mut ServerLink, event: MediaEvent) {
        let Some(binding) = self.env.binding.clone() else { return };
        let now = self.now();
        self.media.on_event(event, link, &binding, self.state, now).await;
    }

    /// The link is established: join the host its key is for.
    async fn join(&mut self, link: &mut ServerLink, info: shared::session::LinkInfo) {
        let (state, now) = (self.state, self.now());
        let Some(binding) = self.env.binding.clone() else { return };
        let (Some(host), Some(sharing)) = (state.hosts.get(&binding.host_id), state.hosts.sharing(&binding.host_id))
        else {
            return link.refuse(Alert::new(AlertCode::HostUnavailable), now);
        };
        tracing::info!(user = %binding.username, host = %host.id, suite = %info.suite, "console link established");
        let mut detail = self.source.audit();
        detail["listener"] = self.listener.name().into();
        detail["suite"] = info.suite.name().into();
        detail["control"] = binding.control.into();
        state.audit(&binding.username, "console.open", &host.id, detail).await;
        self.listed = Some(state.console_links.register(super::live::LiveLink {
            id: 0,
            user: binding.username.clone(),
            source: self.source.addr.map(|a| a.to_string()),
            since: crate::store::audit::now_ms(),
            host: host.id.clone(),
            listener: self.listener.name(),
            suite: info.suite.name().to_string(),
            web_session: binding.web_session.clone(),
        }));
        let meters = state.metrics.link(&host.id, self.listener.name());
        meters.records(self.early_records.0, self.early_records.1);
        self.meters = Some(meters);
        let (mut viewer, handover) = Viewer::join(host, sharing, &binding);
        let (status, presence) = (viewer.current_status(), viewer.sharing.view(viewer.id));
        link.attach(binding.control, viewer.video.start(), status, presence, now);
        self.viewer = Some(viewer);
        self.record_handover(handover).await;
    }

    /// The viewer, if it holds its host's keyboard and mouse now (counted when it does not).
    fn holding_control(&mut self) -> Option<&Viewer> {
        let v = self.viewer.as_ref()?;
        if v.sharing.input(v.id) {
            return Some(v);
        }
        // Another viewer holds the keyboard and mouse; the page shows who.
        self.inputs_while_watching += 1;
        None
    }

    async fn audit(&self, audit: LinkAudit) {
        let Some(b) = &self.env.binding else { return };
        let (action, detail) = match audit {
            LinkAudit::InputRefused => ("console.input-refused", serde_json::json!({ "reason": "view only" })),
            LinkAudit::CtrlAltDel => ("console.ctrl-alt-del", serde_json::json!({})),
            LinkAudit::SerialOpen => ("console.serial-open", serde_json::json!({})),
            LinkAudit::Revoked => ("console.revoked", serde_json::json!({})),
        };
        self.state.audit(&b.username, action, &b.host_id, detail).await;
    }

    /// Control changed hands: the audit trail says who got it, from whom and why.
    async fn record_handover(&self, handover: Option<Handover>) {
        let (Some(h), Some(v)) = (handover, &self.viewer) else { return };
        tracing::info!(host = %v.host.id, to = %h.to, reason = h.reason, "console control changed hands");
        let detail = serde_json::json!({ "from": h.from, "reason": h.reason });
        self.state.audit(&h.to, "console.control", &v.host.id, detail).await;
    }

    /// The link is over: this viewer leaves its host, and the close is recorded.
    async fn finish(&mut self, link: &ServerLink) {
        // Off the open-links gauge and the Sessions page as soon as the link is over, not after
        // the close handshake.
        self.meters = None;
        self.listed = None;
        let handover = self.viewer.as_ref().and_then(|v| v.sharing.leave(v.id));
        self.record_handover(handover).await;
        if let Some(binding) = self.env.binding.clone() {
            self.media.finish(&binding, self.state, self.source.audit()).await;
        }
        // A session error, or else how the socket ended: a WebSocket or TLS failure (a record
        // altered on the way through a relay, say) ends the link without a session error.
        let farewell = link.farewell();
        let reason = match link.error() {
            Some(err) => Some(err.to_string()),
            None if farewell.code != shared::link::close_code::NORMAL => Some(farewell.reason),
            None => None,
        };
        match &reason {
            None => tracing::info!("console link closed"),
            Some(reason) => crate::quiet_warn!("console link ended", %reason, "console link ended"),
        }
        let reason = reason.unwrap_or_else(|| "closed".to_string());
        let Some(binding) = &self.env.binding else { return };
        let (stats, key) = (link.stats(), link.tx_position());
        let detail = serde_json::json!({
            "listener": self.listener.name(),
            "suite": stats.suite,
            "bytes_in": stats.bytes_in,
            "bytes_out": stats.bytes_out,
            "renewals": stats.renewals,
            "refused_inputs": stats.refused_inputs,
            "inputs_while_watching": self.inputs_while_watching,
            "refreshes_ignored": stats.refreshes_ignored,
            "media_bytes_read": link.media_bytes_read(),
            "generation": key.map(|k| k.generation),
            "epoch": key.map(|k| k.epoch),
            "reason": reason,
        });
        self.state.audit(&binding.username, "console.close", &binding.host_id, detail).await;
    }
}

/// Longest time we wait for the peer's half of the closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Sends the close frame, then reads until the peer answers it (or `CLOSE_WAIT` passes): a
/// socket dropped with unread data is reset, and a reset makes the peer's system discard what
/// it had not yet read, our last alert among it.
async fn close_socket(mut socket: WebSocket, farewell: Farewell) {
    let frame = axum::extract::ws::CloseFrame { code: farewell.code, reason: farewell.frame_reason().into() };
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
