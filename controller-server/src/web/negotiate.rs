//! Single sign-on: `POST /api/login/negotiate` with HTTP Negotiate (SPNEGO around Kerberos),
//! as iLO's "Zero Sign In". A browser that holds a ticket for the controller's
//! `HTTP/<name>@REALM` answers the first 401's `WWW-Authenticate: Negotiate` by itself; the
//! token is accepted with the keytab's keys by `lantern-kinit`, the principal gets its role from
//! the realm's map, and credentials the browser delegated go back to it sealed, as after a
//! password login. `GET /api/login/methods` tells the login page whether to offer it.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use directory_wire::negotiate;

use super::auth::session_response;
use super::error::ApiError;
use super::guard::check_origin;
use super::login::{record_login, LoggedIn, LoginRefused, Source};
use crate::app::AppState;
use crate::directory::kerberos::{self, KerberosConfig, NegotiateRefused};
use crate::directory::KERBEROS;
use crate::store::off_runtime;

/// The ways in the login page may offer.
pub async fn methods(State(state): State<AppState>) -> Json<serde_json::Value> {
    let negotiate = sso(&state).is_some();
    Json(serde_json::json!({ "password": true, "negotiate": negotiate }))
}

fn sso(state: &AppState) -> Option<std::sync::Arc<KerberosConfig>> {
    state.directory.as_ref()?.kerberos().filter(|k| k.keytab.is_some()).cloned()
}

/// A 401 that asks for a token (with the acceptor's reply, if any).
fn challenge(message: &str, reply: &[u8]) -> Response {
    let body = serde_json::json!({ "error": message });
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, negotiate::challenge(reply))], Json(body)).into_response()
}

pub async fn login(State(state): State<AppState>, source: Source, headers: HeaderMap) -> Result<Response, ApiError> {
    // As for the password login: no session yet, so the Origin check stops login forgery.
    check_origin(&headers, &state)?;
    let (Some(config), Some(directory)) = (sso(&state), state.directory.clone()) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "single sign-on is not configured on this controller"));
    };
    let Some(header) = headers.get(header::AUTHORIZATION) else {
        return Ok(challenge(
            "this browser sent no Kerberos ticket: log in to the realm first (kinit), and allow this site for Negotiate",
            &[],
        ));
    };
    let token = match negotiate::token(header.as_bytes()) {
        Ok(token) => token,
        Err(e) => return Err(ApiError::with_message(StatusCode::BAD_REQUEST, e.to_string())),
    };
    let Some(_turn) = state.logins.directory_turn().await else { return Err(ApiError::INTERNAL) };
    let mut detail = source.audit();
    detail["method"] = "negotiate".into();
    let negotiated = match kerberos::accept(&config, &token).await {
        Ok(negotiated) => negotiated,
        Err(NegotiateRefused::Token(why)) => {
            crate::quiet_warn!("negotiate refused", "single sign-on refused: {why}");
            detail["why"] = why.into();
            state.audit("", "login.failed", "", detail).await;
            return Ok(challenge("the Kerberos ticket was refused", &[]));
        }
        Err(NegotiateRefused::Unavailable(why)) => {
            crate::quiet_warn!("negotiate unavailable", "single sign-on failed: {why}");
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, LoginRefused::DIRECTORY_UNAVAILABLE));
        }
    };
    let principal = negotiated.principal.clone();
    let grant = match directory.kerberos_grant(&config, &principal).await {
        Ok(Ok(grant)) if config.claims(&principal) => grant,
        Ok(Ok(_)) | Ok(Err(_)) => {
            detail["why"] = format!("{principal} is not mapped to a role").into();
            state.audit(&principal, "login.not-permitted", "", detail).await;
            return Err(ApiError::new(StatusCode::FORBIDDEN, LoginRefused::NOT_PERMITTED));
        }
        Err(why) => {
            crate::quiet_warn!("directory unavailable", "directory lookup for single sign-on failed: {why}");
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, LoginRefused::DIRECTORY_UNAVAILABLE));
        }
    };
    let (role, grant_groups) = (grant.role, grant.groups.clone());
    let (store, name) = (state.users.clone(), principal.clone());
    let account = off_runtime(move || store.directory_account(&name, KERBEROS, &grant)).await?;
    let Ok(user) = account else {
        detail["why"] = "a local account has this name".into();
        state.audit(&principal, "login.not-permitted", "", detail).await;
        return Err(ApiError::new(StatusCode::FORBIDDEN, LoginRefused::NOT_PERMITTED));
    };
    detail["directory"] = KERBEROS.into();
    detail["role"] = serde_json::to_value(role).unwrap_or_default();
    detail["groups"] = grant_groups.into();
    detail["delegated"] = negotiated.delegated.is_some().into();
    tracing::info!(user = %user.username, "login by single sign-on");
    record_login(&state, &user.username, detail).await?;
    let mut response =
        session_response(&state, LoggedIn { user, credentials: negotiated.delegated, source: source.addr }).await?;
    if !negotiated.reply.is_empty() {
        if let Ok(value) = negotiate::challenge(&negotiated.reply).parse() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    Ok(response)
}
