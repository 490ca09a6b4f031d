//! Moving between cooperating controllers without logging in again (see `crate::federation`):
//! the token a user takes to a peer, the peer's login with it, which fetches the session's data
//! from here over a signed exchange, and what the page learns of what its session carried.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson};
use super::guard::{check_origin, Authenticated};
use super::login::LoggedIn;
use crate::app::AppState;
use crate::config::PeerConfig;
use crate::directory::Credentials;
use crate::federation::client::{DataAnswer, DataRequest, ANSWER, ASK};
use crate::federation::envelope::{self, Signed};
use crate::federation::grants::Grant;
use crate::federation::{data, session, Carry, Claims, CLOCK_SKEW_MS};
use crate::store::audit::now_ms;
use crate::store::carried::Carried;
use crate::store::{off_runtime, Role, User};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// How long carried Kerberos credentials' cookie lasts: the ticket's own end time is what
/// counts (a cookie that outlives it gets "no valid credentials" at use), and the controller
/// they left cannot tell it without opening them.
const CARRIED_CREDENTIALS_LIFE: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

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

fn peer<'a>(state: &'a AppState, id: &str) -> Option<&'a PeerConfig> {
    state.peers.iter().find(|p| p.id == id)
}

/// What seals carried Kerberos credentials to one token and its audience.
fn kerberos_context(claims: &Claims) -> Vec<u8> {
    format!("{}|{}|{}", claims.iss, claims.jti, claims.aud).into_bytes()
}

/// A signed session token for the logged-in user to present to a peer, and the URL that
/// carries it there (in the fragment, which browsers never send to a server). The session's
/// data is recorded at a new version for the peer to fetch once.
pub async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Authenticated,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    auth.require_password_changed()?;
    let peer = peer(&state, &req.audience).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such peer"))?.clone();
    let user = auth.session.user.clone();
    let (st, u, web_session) = (state.clone(), user.clone(), auth.session.id.clone());
    let mut carried = off_runtime(move || session::snapshot(&st, &u, &web_session)).await?;
    let now = now_ms();
    let carry = Carry { sid: carried.sid.clone(), version: carried.data.version };
    let claims = state.node.claims(&peer.id, &user.username, user.role, now, Some(carry));
    // Sealed to the peer at once: from here on this controller cannot read them either.
    let kerberos = if peer.kerberos {
        let recipient = crate::federation::peer_key(&state.trusted_nodes, &peer.id);
        let credentials = super::auth::delegated_credentials(&state, &headers);
        recipient
            .zip(credentials)
            .map(|(to, plain)| federation_wire::seal::seal(&to, &kerberos_context(&claims), &plain, rand::random()))
    } else {
        None
    };
    let detail = json!({
        "role": user.role, "sid": carried.sid, "version": carried.data.version, "kerberos": kerberos.is_some(),
    });
    state.audit_first(&user.username, "session.token", &peer.id, detail).await?;
    let grant = Grant {
        sid: carried.sid.clone(),
        audience: peer.id.clone(),
        user_id: user.id,
        expires_at: claims.exp + CLOCK_SKEW_MS,
        kerberos,
    };
    state.grants.insert(&claims.jti, grant, now);
    carried.away = Some((peer.id.clone(), user.role));
    let st = state.clone();
    off_runtime(move || st.users.save_carried(&carried, now)).await?;
    let token = state.node.issue_claims(claims);
    let url = format!("{}/#sso={token}", peer.url.trim_end_matches('/'));
    Ok(Json(json!({ "token": token, "url": url, "expires_in_ms": crate::federation::TOKEN_LIFE_MS })))
}

#[derive(Deserialize)]
pub struct TokenLogin {
    token: String,
}

/// Logs in with a peer's session token. The session's data is fetched from the issuer first;
/// the user arrives as `name@peer` within this controller's cap for that peer, or, coming back
/// from the peer this controller sent them to, as themselves.
pub async fn login(
    State(state): State<AppState>,
    source: crate::web::login::Source,
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
        Err(err) => return Err(refused(&state, err.message().to_string(), StatusCode::UNAUTHORIZED).await),
    };
    let cap = peer(&state, &claims.iss).map_or(Role::ReadOnly, |p| p.role_cap);
    let Some(carry) = claims.carry.clone() else {
        if returns_home(&state, &claims) {
            let why = "a token for this controller's own user carries no session to bring back";
            return Err(refused(&state, why.into(), StatusCode::FORBIDDEN).await);
        }
        let role = claims.role.at_most(cap);
        let user = federated_account(&state, &claims, role).await?;
        let detail = json!({ "issuer": claims.iss, "claimed_role": claims.role, "role_cap": role });
        state.audit_first(&user.username, "login.token", "", detail).await?;
        return super::auth::session_response(&state, LoggedIn { user, credentials: None, source: source.addr }).await;
    };
    let (st, sid) = (state.clone(), carry.sid.clone());
    let local = off_runtime(move || st.users.carried(&sid)).await?;
    let home = match coming_home(&state, &claims, local.as_ref()).await? {
        Some(home) => Some(home),
        None if returns_home(&state, &claims) => {
            let why = "this controller did not send that user to the controller the token comes from";
            return Err(refused(&state, why.into(), StatusCode::FORBIDDEN).await);
        }
        None => None,
    };
    let since = local.as_ref().map_or(0, |c| c.data.version);
    let takes_kerberos = peer(&state, &claims.iss).is_some_and(|p| p.kerberos)
        && state.directory.as_ref().and_then(|d| d.kerberos()).is_some();
    let request = DataRequest { token: req.token.clone(), since, kerberos: takes_kerberos };
    let answer = match state.peer_clients.fetch(&state.node, &state.trusted_nodes, &claims.iss, request).await {
        Ok(answer) if answer.sid == carry.sid => answer,
        Ok(_) => return Err(refused(&state, format!("{} answered for another session", claims.iss), BAD_GATEWAY).await),
        Err(err) => {
            let why = format!("moving here failed: {err}; go back to {} and move again", claims.iss);
            return Err(refused(&state, why, BAD_GATEWAY).await);
        }
    };
    let (user, role_cap) = match &home {
        Some((user, left_as)) => (user.clone(), *left_as),
        None => (federated_account(&state, &claims, claims.role.at_most(cap)).await?, claims.role.at_most(cap)),
    };
    let credentials = answer
        .kerberos
        .as_deref()
        .and_then(|sealed| B64.decode(sealed).ok())
        .and_then(|sealed| state.node.open_sealed(&kerberos_context(&claims), &sealed))
        .map(|token| Credentials { token, lifetime: CARRIED_CREDENTIALS_LIFE });
    let fetched: Vec<&String> = answer.parts.keys().collect();
    let detail = json!({
        "issuer": claims.iss, "claimed_role": claims.role, "role_cap": role_cap, "role": user.role.at_most(role_cap),
        "home": home.is_some(), "sid": carry.sid, "since": since, "version": answer.version, "fetched": fetched,
        "kerberos": credentials.is_some(),
    });
    state.audit_first(&user.username, "login.token", "", detail).await?;
    let mut data = local.map(|c| c.data).unwrap_or_default();
    data.merge(answer.version, answer.parts.clone());
    let (st, u, merged, at_home) = (state.clone(), user.clone(), data.clone(), home.is_some());
    off_runtime(move || session::take_in(&st, &u, &merged, &answer.parts, at_home)).await?;
    let (response, web) =
        super::auth::open_session(&state, LoggedIn { user, credentials, source: source.addr }, Some(role_cap)).await?;
    let carried = Carried { sid: carry.sid, web_session: Some(web.id), user_id: web.user.id, data, away: None };
    let st = state.clone();
    off_runtime(move || st.users.save_carried(&carried, now_ms())).await?;
    Ok(response)
}

const BAD_GATEWAY: StatusCode = StatusCode::BAD_GATEWAY;

/// A refused token login, in the trail and for the user.
async fn refused(state: &AppState, why: String, status: StatusCode) -> ApiError {
    state.audit("", "login.token-refused", "", json!({ "reason": why })).await;
    ApiError::with_message(status, why)
}

/// Whether the token names one of this controller's own users (`name@<this node>`).
fn returns_home(state: &AppState, claims: &Claims) -> bool {
    claims.sub.ends_with(&format!("@{}", state.node.id))
}

/// The user coming back, and the role their session had when it left, when this controller
/// sent this session to the token's issuer and the token names that session's user.
async fn coming_home(
    state: &AppState,
    claims: &Claims,
    local: Option<&Carried>,
) -> Result<Option<(User, Role)>, ApiError> {
    let Some((user_id, left_as)) = local.and_then(|c| match &c.away {
        Some((to, role)) if *to == claims.iss => Some((c.user_id, *role)),
        _ => None,
    }) else {
        return Ok(None);
    };
    let store = state.users.clone();
    let user = off_runtime(move || store.by_id(user_id)).await?;
    Ok(user.filter(|u| format!("{}@{}", u.username, state.node.id) == claims.sub).map(|u| (u, left_as)))
}

/// The local account of the token's user from its issuer (made on first arrival with `role`).
async fn federated_account(state: &AppState, claims: &Claims, role: Role) -> Result<User, ApiError> {
    let (store, name, node) = (state.users.clone(), claims.sub.clone(), claims.iss.clone());
    let account = off_runtime(move || store.federated_account(&name, &node, role)).await?;
    account.map_err(|e| ApiError::with_message(StatusCode::CONFLICT, e.to_string()))
}

/// A peer asks for the data of a session it was handed a token for: the request is signed by
/// the token's audience, the token is this controller's own and alive, and its grant is taken
/// once. The answer holds the parts changed after the version the peer already has.
pub async fn session_data(
    State(state): State<AppState>,
    ApiJson(signed): ApiJson<Signed>,
) -> Result<Json<Signed>, ApiError> {
    let now = now_ms();
    let opened =
        crate::federation::open_envelope::<DataRequest>(&signed, ASK, &state.node.id, &state.trusted_nodes, now);
    let (from, request) = opened.map_err(|e| peer_refused(StatusCode::UNAUTHORIZED, e.to_string()))?;
    let claims = state
        .node
        .verify_own(&request.token, &from, now)
        .map_err(|e| peer_refused(StatusCode::FORBIDDEN, e.message().to_string()))?;
    let gone = || peer_refused(StatusCode::CONFLICT, "this token's session was already fetched, or has expired".into());
    let carry = claims.carry.clone().ok_or_else(gone)?;
    let grant = state.grants.take(&claims.jti, &from, now).filter(|g| g.sid == carry.sid).ok_or_else(gone)?;
    let (store, sid) = (state.users.clone(), carry.sid.clone());
    let carried = off_runtime(move || store.carried(&sid))
        .await?
        .filter(|c| c.user_id == grant.user_id)
        .ok_or_else(|| peer_refused(StatusCode::NOT_FOUND, "this session is no longer known here".into()))?;
    let parts: BTreeMap<String, data::Part> = carried.data.since(request.since);
    let gives_kerberos = request.kerberos && peer(&state, &from).is_some_and(|p| p.kerberos);
    let kerberos = grant.kerberos.filter(|_| gives_kerberos).map(|sealed| B64.encode(sealed));
    let names: Vec<&String> = parts.keys().collect();
    let detail = json!({
        "sid": carried.sid, "since": request.since, "version": carried.data.version, "parts": names,
        "kerberos": kerberos.is_some(),
    });
    state.audit_first(&claims.sub, "federation.session-data", &from, detail).await?;
    tracing::info!(peer = %from, user = %claims.sub, since = request.since, parts = ?names, "handed a session's data to a peer");
    let answer = DataAnswer {
        request: envelope::digest(&signed),
        sid: carried.sid,
        version: carried.data.version,
        parts,
        kerberos,
    };
    Ok(Json(state.node.sign_envelope(ANSWER, &from, answer, now)))
}

fn peer_refused(status: StatusCode, why: String) -> ApiError {
    crate::quiet_warn!("federation request", %why, "refused a peer's request for session data");
    ApiError::with_message(status, why)
}

/// What the current session carried from other controllers: where its user's home is, and the
/// consoles it had open elsewhere (each marked with whether this controller has that host and
/// lets the user see it).
pub async fn carried(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    let (st, session) = (state.clone(), auth.session.clone());
    let view = off_runtime(move || {
        let Some(carried) = st.users.carried_by_session(&session.id)? else {
            return Ok(json!({ "home": st.node.id, "version": 0, "consoles": [] }));
        };
        let mut consoles = Vec::new();
        for (node, list) in carried.data.consoles_elsewhere(&st.node.id) {
            for c in list {
                let here = st.hosts.get(&c.host).is_some() && st.rights(&session.user, &c.host)?.view;
                consoles
                    .push(json!({ "node": node, "host": c.host, "name": c.name, "control": c.control, "here": here }));
            }
        }
        Ok(json!({
            "home": session::home(&carried.data, &st.node.id),
            "version": carried.data.version,
            "consoles": consoles,
        }))
    })
    .await?;
    Ok(Json(view))
}
