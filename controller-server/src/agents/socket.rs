//! `/agent/link`: where every agent connection arrives, on the HTTPS port (so it passes proxies
//! and firewalls that allow only 443). No cookie or token: the Noise handshake inside is the
//! authentication. The first message says whether it is an enrolment or a running agent.

use std::time::Duration;

use agent_link::enrol::{ControllerEnrolment, EnrolStep};
use agent_link::hello::Hello;
use agent_link::{Association, LinkError, Psk};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use crate::app::AppState;
use crate::store::agents::AgentStoreError;
use crate::store::audit::now_ms;
use crate::store::off_runtime;
use crate::web::login::Source;

/// A Noise message (64 KiB) in one WebSocket message, with room for the clear hello.
const MAX_MESSAGE: usize = 66 << 10;
/// The first message, and each step of an enrolment, must come within this long.
const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// Bytes read from the socket at a time. Agents are many and mostly idle: tungstenite's 128 KiB
/// default per connection would be most of what an idle agent costs.
const READ_CHUNK: usize = 4 << 10;

pub async fn upgrade(State(state): State<AppState>, source: Source, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_CHUNK)
        // Each message goes out as it is sent: the link pump flushes its own batches.
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve(state, socket, source))
}

async fn serve(state: AppState, mut socket: WebSocket, source: Source) {
    let _open = state.link_guard();
    let first = match next_binary(&mut socket).await {
        Ok(first) => first,
        Err(err) => return close(socket, &err).await,
    };
    match Hello::decode(&first) {
        Ok((Hello::Run { .. }, _, _)) => super::link::run(state, socket, first, source).await,
        Ok((Hello::Enrol { .. }, _, _)) => enrol(state, socket, first, source).await,
        Err(err) => close(socket, &err).await,
    }
}

/// The next binary message, within the step deadline.
async fn next_binary(socket: &mut WebSocket) -> Result<Vec<u8>, LinkError> {
    let message = tokio::time::timeout(STEP_DEADLINE, async {
        loop {
            match socket.recv().await {
                Some(Ok(WsMessage::Binary(bytes))) => return Ok(bytes.to_vec()),
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(WsMessage::Text(_))) => return Err(LinkError::Malformed("a text message".into())),
                _ => return Err(LinkError::Closed("the agent closed the connection".into())),
            }
        }
    })
    .await;
    message.unwrap_or(Err(LinkError::HandshakeTimeout(STEP_DEADLINE.as_millis() as u64)))
}

/// Ends a connection that failed, with a close code that says which way.
pub async fn close(mut socket: WebSocket, err: &LinkError) {
    let code = match err {
        LinkError::Handshake(_) => 4401,
        LinkError::Malformed(_) | LinkError::Protocol(_) | LinkError::Decrypt => 4400,
        LinkError::HandshakeTimeout(_) | LinkError::Silent(_) => 4408,
        LinkError::Closed(_) => 1000,
    };
    let reason: String = err.to_string().chars().take(120).collect();
    let _ = socket.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}

async fn send_all(socket: &mut WebSocket, enrolment: &mut ControllerEnrolment) -> Result<(), LinkError> {
    while let Some(message) = enrolment.take_outgoing() {
        tokio::time::timeout(STEP_DEADLINE, socket.send(WsMessage::Binary(message.into())))
            .await
            .map_err(|_| LinkError::HandshakeTimeout(STEP_DEADLINE.as_millis() as u64))?
            .map_err(|_| LinkError::Closed("the agent closed the connection".into()))?;
    }
    Ok(())
}

/// An enrolment: the token is looked up, the handshake answered with the controller's proof,
/// and once the agent proved it holds the token's secret, the token is used up and the agent
/// recorded, in the audit trail first.
async fn enrol(state: AppState, mut socket: WebSocket, first: Vec<u8>, source: Source) {
    if let Err(err) = enrol_steps(&state, &mut socket, first, &source).await {
        crate::quiet_warn!("agent enrolment", address = %source.key(), error = %err, "agent enrolment failed");
        return close(socket, &err).await;
    }
    let _ = socket.send(WsMessage::Close(None)).await;
}

async fn enrol_steps(
    state: &AppState,
    socket: &mut WebSocket,
    first: Vec<u8>,
    source: &Source,
) -> Result<(), LinkError> {
    let agents = &state.agents;
    let (mut enrolment, token_id) = ControllerEnrolment::accept(&first)?;
    let (store, lookup) = (agents.store.clone(), token_id.clone());
    let found = off_runtime(move || store.enrolment(&lookup, now_ms()))
        .await
        .map_err(|_| LinkError::Closed("the controller cannot read its store".into()))?
        .ok_or(LinkError::Handshake("the enrolment token is unknown, used or expired"))?;
    let (secret, proof) = agents.identity();
    enrolment.token_found(&found.psk, secret, proof, rand::random())?;
    send_all(socket, &mut enrolment).await?;
    let EnrolStep::Admit { agent_public } = enrolment.handle_message(&next_binary(socket).await?)? else {
        return Err(LinkError::Protocol("the enrolment did not end its handshake".into()));
    };
    let agent_id = crate::secret::random_token::<16>();
    let association = Association { epoch: 1, psk: Psk::from_bytes(rand::random()) };
    let detail = json!({ "agent": agent_id, "name": found.name, "address": source.key(), "token": token_id });
    if state.audit_first(&format!("agent {}", found.host_id), "agent.enrol", &found.host_id, detail).await.is_err() {
        enrolment.refuse("the controller cannot record the enrolment");
        let _ = send_all(socket, &mut enrolment).await;
        return Err(LinkError::Closed("the audit trail cannot be written".into()));
    }
    let (store, id, first_generation) = (agents.store.clone(), agent_id.clone(), association.clone());
    let admitted =
        off_runtime(move || Ok(store.admit(&token_id, &id, &agent_public, &first_generation, now_ms()))).await;
    let admitted = match admitted {
        Ok(Ok(admitted)) => admitted,
        Ok(Err(err @ (AgentStoreError::TokenUnusable | AgentStoreError::HostTaken(_)))) => {
            enrolment.refuse(&err.to_string());
            let _ = send_all(socket, &mut enrolment).await;
            return Err(LinkError::Closed(err.to_string()));
        }
        Ok(Err(AgentStoreError::Store(_))) | Err(_) => {
            enrolment.refuse("the controller cannot store the enrolment");
            let _ = send_all(socket, &mut enrolment).await;
            return Err(LinkError::Closed("the controller cannot store the enrolment".into()));
        }
    };
    enrolment.enrolled(&agent_id, &admitted.host_id, &admitted.name, &association)?;
    send_all(socket, &mut enrolment).await?;
    // The host exists from now on, connected or not; its agent stores and says so.
    if let Err(err) = agents.slot_for(&admitted.host_id, &admitted.name, &state.hosts) {
        tracing::error!(error = %err, "cannot make the enrolled agent's host");
    }
    let stored = enrolment.handle_message(&next_binary(socket).await?)?;
    if stored != EnrolStep::Done {
        return Err(LinkError::Protocol("the agent did not confirm its enrolment".into()));
    }
    state.event(&admitted.host_id, "info", &format!("agent enrolled from {}", source.key())).await;
    Ok(())
}
