//! Moving between cooperating controllers without logging in again (see `crate::federation`).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::SessionInfo;
use super::error::{ApiError, ApiJson};
use super::guard::{check_origin, Authenticated};
use super::sessions::cookie;
use crate::app::AppState;
use crate::store::audit::now_ms;
use crate::store::Role;

/// This controller's node id and public key (for peers' configuration) and its peers.
pub async fn node(State(state): State<AppState>, _auth: Authenticated) -> Json<Value> {
    let peers: Vec<Value> = state.peers.iter().map(|p| json!({ "id": p.id, "url": p.url })).collect();
    let relay = state.relay.get().map(|status| status.borrow().clone());
    Json(json!({
        "node_id": state.node.id,
        "public_key": state.node.public_key(),
        // What agents pin and relays allow, to be checked out of band.
        "pin": state.node.pin().to_string(),
        "peers": peers,
        "relay": relay,
    }))
}

#[derive(Deserialize)]
pub struct TokenRequest {
    audience: String,
}

/// A signed session token for the logged-in user to present to a peer, and the URL that
/// carries it there (in the fragment, which browsers never send to a server).
pub async fn issue(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    auth.require_password_changed()?;
    let peer = state
        .peers
        .iter()
        .find(|p| p.id == req.audience)
        .ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such peer"))?;
    let user = &auth.session.user;
    let token = state.node.issue(&peer.id, &user.username, user.role, now_ms());
    state.audit(&user.username, "session.token", &peer.id, json!({ "role": user.role })).await;
    let url = format!("{}/#sso={token}", peer.url.trim_end_matches('/'));
    Ok(Json(json!({ "token": token, "url": url, "expires_in_ms": crate::federation::TOKEN_LIFE_MS })))
}

#[derive(Deserialize)]
pub struct TokenLogin {
    token: String,
}

/// Logs in with a peer's session token: the user arrives as `name@peer`, with the role the
/// token names.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TokenLogin>,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let store = state.users.clone();
    let verified = state.node.verify(&req.token, &state.trusted_nodes, now_ms(), |key, expires_at| {
        // A store that cannot say whether the token is new refuses it.
        store.first_use_of_token(key, expires_at, now_ms()).unwrap_or_else(|err| {
            tracing::error!(error = %err, "session token replay check failed");
            false
        })
    });
    let claims = match verified {
        Ok(claims) => claims,
        Err(err) => {
            state.audit("", "login.token-refused", "", json!({ "reason": err.to_string() })).await;
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, err.message()));
        }
    };
    let cap = state.peers.iter().find(|p| p.id == claims.iss).map_or(Role::ReadOnly, |p| p.role_cap);
    let role = claims.role.at_most(cap);
    let (store, name, node) = (state.users.clone(), claims.sub.clone(), claims.iss.clone());
    let account = crate::store::off_runtime(move || store.federated_account(&name, &node, role)).await?;
    let user = account.map_err(|e| ApiError::with_message(StatusCode::CONFLICT, e.to_string()))?;
    state.audit(
        &user.username,
        "login.token",
        "",
        json!({ "issuer": claims.iss, "claimed_role": claims.role, "role_cap": role, "role": user.role.at_most(role) }),
    ).await;
    let (token, session) = state.sessions.create(user.id, Some(role)).await?.ok_or(ApiError::UNAUTHORIZED)?;
    Ok(([(header::SET_COOKIE, cookie(&token, state.session_idle()))], Json(SessionInfo::from(&session)))
        .into_response())
}
