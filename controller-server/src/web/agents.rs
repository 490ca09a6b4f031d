//! Agents and directives over the API: enrolment tokens, the agent list, revocation (for
//! administrators), and directives (for users with the host's `run` right): start one, list
//! them, follow one's output live, cancel it.

use std::time::Duration;

use agent_link::enrol::EnrolToken;
use agent_link::OpenKind;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiJson};
use super::guard::Authenticated;
use super::hosts::visible_rights;
use crate::agents::directives::{DirectiveSummary, Utf8Stream};
use crate::agents::Command;
use crate::app::AppState;
use crate::store::agents::AgentStoreError;
use crate::store::audit::now_ms;
use crate::store::off_runtime;
use crate::web::principal::{current_user, Credential};

/// A directive that has not reached the agent in this long has failed.
const OPEN_DEADLINE: Duration = Duration::from_secs(10);
/// A reader following a directive's output has its right to it checked again this often.
const RECHECK: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
pub struct NewEnrolment {
    host_id: String,
    name: Option<String>,
    /// How long the token is valid, in minutes (default: the configuration's
    /// `enrolment_minutes`) or, for a pipeline that enrols at once, in seconds.
    minutes: Option<u64>,
    seconds: Option<u64>,
}

fn valid_host_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Makes an enrolment token, and the command that enrols a machine with it. Shown once.
pub async fn enrol(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewEnrolment>,
) -> Result<Json<Value>, ApiError> {
    auth.require_admin()?;
    let host_id = req.host_id.trim().to_string();
    if !valid_host_id(&host_id) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "a host id is 1 to 64 letters, digits, '-', '_' or '.'"));
    }
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&host_id).to_string();
    if name.chars().count() > 100 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "a host name is at most 100 characters"));
    }
    if state.hosts.get(&host_id).is_some() && state.agents.slot(&host_id).is_none() {
        return Err(ApiError::new(StatusCode::CONFLICT, "a configured host has this id"));
    }
    let seconds = match (req.seconds, req.minutes) {
        (Some(seconds), _) => seconds,
        (None, minutes) => minutes.unwrap_or(state.agents.config.enrolment_minutes).saturating_mul(60),
    };
    let seconds = seconds.clamp(1, 7 * 24 * 3600);
    let token = EnrolToken::from_random(rand::random());
    let expires_at = now_ms() + i64::try_from(seconds * 1000).unwrap_or(i64::MAX);
    let detail = json!({ "token": token.id(), "name": name, "expires_at": expires_at });
    state.audit_first(&auth.session.user.username, "agent.enrolment.create", &host_id, detail).await?;
    let (store, t, h, n, by) =
        (state.agents.store.clone(), token.clone(), host_id.clone(), name.clone(), auth.session.user.username.clone());
    let made = off_runtime(move || Ok(store.create_enrolment(&t, &h, &n, &by, now_ms(), expires_at))).await?;
    match made {
        Ok(()) => {}
        Err(err @ AgentStoreError::HostTaken(_)) => {
            return Err(ApiError::with_message(StatusCode::CONFLICT, err.to_string()))
        }
        Err(AgentStoreError::Store(err)) => return Err(err.into()),
        Err(err) => return Err(ApiError::with_message(StatusCode::CONFLICT, err.to_string())),
    }
    let url =
        state.agents.config.public_url.clone().unwrap_or_else(|| format!("https://localhost:{}", state.site_port));
    let pin = state.agents.pin.to_string();
    let command = format!("lantern-agent enroll --controller {url} --token {} --pin {pin}", token.reveal());
    Ok(Json(json!({
        "host_id": host_id,
        "name": name,
        "token": token.reveal(),
        "pin": pin,
        "controller": url,
        "expires_at": expires_at,
        "command": command,
    })))
}

/// Every enrolled agent, with whether it is connected now.
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    auth.require_admin()?;
    let store = state.agents.store.clone();
    let rows = off_runtime(move || store.list()).await?;
    let agents: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let live = state.agents.info(&row.host_id).unwrap_or_default();
            json!({
                "host_id": row.host_id,
                "name": row.name,
                "agent_id": row.agent_id,
                "enrolled_at": row.enrolled_at,
                "revoked_at": row.revoked_at,
                "last_seen": live.last_seen.or(row.last_seen),
                "connected": live.connected,
                "version": row.version,
                "facts": row.facts,
                "epoch": row.epoch,
            })
        })
        .collect();
    Ok(Json(json!(agents)))
}

/// Revokes an agent: its record is marked, its open link closed at once, its host removed.
pub async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_admin()?;
    state.audit_first(&auth.session.user.username, "agent.revoke", &host_id, json!({})).await?;
    let (store, id) = (state.agents.store.clone(), host_id.clone());
    let revoked = off_runtime(move || store.revoke(&id, now_ms())).await?;
    if revoked.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no live agent has this host id"));
    }
    state.agents.forget(&host_id, &state.hosts);
    state.event(&host_id, "warning", &format!("agent revoked by {}", auth.session.user.username)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller may run directives on this host (and it is an agent's).
fn may_run(state: &AppState, auth: &Authenticated, host_id: &str) -> Result<(), ApiError> {
    auth.require_password_changed()?;
    let rights = visible_rights(state, &auth.session.user, host_id)?;
    if !rights.run {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "you may not run directives on this host"));
    }
    if state.agents.slot(host_id).is_none() {
        return Err(ApiError::new(StatusCode::CONFLICT, "directives run on agent hosts only"));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct NewDirective {
    /// A command line, run by the agent's shell as its configured user...
    command: Option<String>,
    /// ...or the name of a saved one.
    saved: Option<String>,
}

/// Starts a directive. Fails at once when the agent is not connected.
pub async fn run(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: axum::http::HeaderMap,
    Path(host_id): Path<String>,
    ApiJson(req): ApiJson<NewDirective>,
) -> Result<(StatusCode, Json<DirectiveSummary>), ApiError> {
    may_run(&state, &auth, &host_id)?;
    let command = match (req.command, req.saved) {
        (Some(command), None) => command,
        (None, Some(name)) => super::saved_directives::command(&state, &name)
            .await?
            .ok_or(ApiError::new(StatusCode::NOT_FOUND, "no saved directive has this name"))?,
        _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, "give either a command or the name of a saved one")),
    };
    super::saved_directives::check_command(&command)?;
    let live = state.agents.live(&host_id).ok_or(ApiError::new(StatusCode::CONFLICT, "the agent is not connected"))?;
    let user = auth.session.user.username.clone();
    let directive = state.agents.directives.start(&host_id, &user, &command, now_ms());
    let detail = json!({ "directive": directive.id, "command": command });
    if let Err(refused) = state.audit_first(&user, "directive.run", &host_id, detail).await {
        directive.finish(not_started("the audit trail cannot be written"));
        return Err(refused);
    }
    let config = &state.agents.config;
    let (timeout_ms, max_output) = (config.directive_timeout_seconds.max(1) * 1000, config.directive_max_output_bytes);
    let kerberos = kerberos_proof(&state, &headers, &host_id, &command, timeout_ms, max_output).await;
    let kind = OpenKind::Directive { command, timeout_ms, max_output, kerberos };
    let (opened, answer) = tokio::sync::oneshot::channel();
    let sent = live.commands.send(Command::Directive { directive: directive.clone(), kind, opened }).await;
    let outcome = match sent {
        Ok(()) => tokio::time::timeout(OPEN_DEADLINE, answer).await.ok().and_then(Result::ok),
        Err(_) => None,
    };
    match outcome {
        Some(Ok(())) => Ok((StatusCode::CREATED, Json(directive.summary()))),
        failed => {
            let reason = match failed {
                Some(Err(err)) => err,
                _ => "the agent is not connected".to_string(),
            };
            directive.finish(not_started(&reason));
            Err(ApiError::with_message(StatusCode::CONFLICT, reason))
        }
    }
}

/// The user's Kerberos proof for this directive, when their session holds delegated
/// credentials (the sealed cookie of a Kerberos login): the agent decides whether it needs one,
/// and says so to a user without. The credentials are opened, used by the helper and wiped here.
async fn kerberos_proof(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    host_id: &str,
    command: &str,
    timeout_ms: u64,
    max_output: u64,
) -> Option<agent_link::KerberosProof> {
    let config = state.directory.as_ref()?.kerberos()?.clone();
    let credentials = crate::web::auth::delegated_credentials(state, headers)?;
    let host = state.agents.info(host_id)?.facts?.hostname;
    let binding = agent_link::directive_binding(&host, command, timeout_ms, max_output);
    match crate::directory::kerberos::prove(&config, &credentials, &host, &binding).await {
        Ok(proof) => Some(proof),
        Err(why) => {
            crate::quiet_warn!("kerberos proof", "no Kerberos proof for a directive: {why}");
            None
        }
    }
}

fn not_started(reason: &str) -> crate::agents::directives::ExitInfo {
    crate::agents::directives::ExitInfo {
        code: None,
        signal: None,
        duration_ms: 0,
        output_bytes: 0,
        reason: format!("not started: {reason}"),
    }
}

pub async fn directives(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(host_id): Path<String>,
) -> Result<Json<Vec<DirectiveSummary>>, ApiError> {
    may_run(&state, &auth, &host_id)?;
    Ok(Json(state.agents.directives.list(&host_id)))
}

pub async fn directive(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((host_id, n)): Path<(String, u64)>,
) -> Result<Json<DirectiveSummary>, ApiError> {
    may_run(&state, &auth, &host_id)?;
    let directive =
        state.agents.directives.get(&host_id, n).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such directive"))?;
    Ok(Json(directive.summary()))
}

pub async fn cancel(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((host_id, n)): Path<(String, u64)>,
) -> Result<StatusCode, ApiError> {
    may_run(&state, &auth, &host_id)?;
    let directive =
        state.agents.directives.get(&host_id, n).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such directive"))?;
    if !directive.is_running() {
        return Err(ApiError::new(StatusCode::CONFLICT, "the directive has ended"));
    }
    state.audit_first(&auth.session.user.username, "directive.cancel", &host_id, json!({ "directive": n })).await?;
    let live = state.agents.live(&host_id).ok_or(ApiError::new(StatusCode::CONFLICT, "the agent is not connected"))?;
    let _ = live.commands.send(Command::Cancel { directive: n }).await;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, Default)]
pub struct OutputQuery {
    /// Output bytes already seen: the stream starts after them.
    #[serde(default)]
    from: u64,
}

/// A directive's output as it comes, one JSON object per line: `{"stdout": text}`,
/// `{"stderr": text}`, `{"lost": bytes}` (dropped before this reader saw them), and last
/// `{"exit": {...}}`.
pub async fn output(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((host_id, n)): Path<(String, u64)>,
    Query(q): Query<OutputQuery>,
) -> Result<Response, ApiError> {
    may_run(&state, &auth, &host_id)?;
    let directive =
        state.agents.directives.get(&host_id, n).ok_or(ApiError::new(StatusCode::NOT_FOUND, "no such directive"))?;
    let reader = Reader {
        state: state.clone(),
        credential: auth.session.credential.clone(),
        user_id: auth.session.user.id,
        host_id,
        changed: directive.subscribe(),
        directive,
        seen: q.from,
        stdout: Utf8Stream::default(),
        stderr: Utf8Stream::default(),
        checked: tokio::time::Instant::now(),
        done: false,
    };
    let lines = output_lines(reader);
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
            // Each line goes out as it comes: no compression buffering it.
            (header::CONTENT_ENCODING, "identity"),
        ],
        Body::from_stream(lines),
    )
        .into_response())
}

/// Whether the caller may still run directives on the host, as the store says now; a store
/// that cannot tell ends the stream (fail closed).
async fn still_may_run(state: &AppState, credential: &Credential, user_id: i64, host_id: &str) -> bool {
    let (state, credential, host) = (state.clone(), credential.clone(), host_id.to_string());
    let checked = off_runtime(move || {
        let Some(user) = current_user(&state, &credential)? else { return Ok(false) };
        Ok(user.id == user_id && !user.must_change_password && state.rights(&user, &host)?.run)
    })
    .await;
    checked.unwrap_or(false)
}

/// One reader of a directive's output, and who it is.
struct Reader {
    state: AppState,
    credential: Credential,
    user_id: i64,
    host_id: String,
    directive: std::sync::Arc<crate::agents::directives::Directive>,
    changed: tokio::sync::watch::Receiver<u64>,
    seen: u64,
    stdout: Utf8Stream,
    stderr: Utf8Stream,
    checked: tokio::time::Instant,
    done: bool,
}

/// The lines of a directive's output from where the reader is, following it live until it
/// ends, or until the reader's right to it is withdrawn (checked every `RECHECK`).
fn output_lines(reader: Reader) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::convert::Infallible>> {
    futures_util::stream::unfold(reader, |mut reader| async move {
        if reader.done {
            return None;
        }
        loop {
            if reader.checked.elapsed() >= RECHECK {
                reader.checked = tokio::time::Instant::now();
                if !still_may_run(&reader.state, &reader.credential, reader.user_id, &reader.host_id).await {
                    reader.done = true;
                    let line = json!({ "error": "your right to run directives on this host was withdrawn" });
                    return Some((Ok([line.to_string().into_bytes(), b"\n".to_vec()].concat()), reader));
                }
            }
            // Marked seen before reading: a chunk that comes after the read wakes the wait.
            reader.changed.borrow_and_update();
            let read = reader.directive.read_from(reader.seen);
            let mut out = Vec::new();
            let mut line = |value: Value| {
                out.extend_from_slice(value.to_string().as_bytes());
                out.push(b'\n');
            };
            if read.lost > 0 {
                line(json!({ "lost": read.lost }));
            }
            for chunk in &read.chunks {
                let (key, text) = match chunk.channel {
                    agent_link::OutputChannel::Stdout => ("stdout", reader.stdout.push(&chunk.bytes)),
                    agent_link::OutputChannel::Stderr => ("stderr", reader.stderr.push(&chunk.bytes)),
                };
                if !text.is_empty() {
                    line(json!({ key: text }));
                }
            }
            reader.seen = read.next_offset;
            if let Some(exit) = read.exit {
                line(json!({ "exit": exit }));
                reader.done = true;
            }
            if !out.is_empty() {
                return Some((Ok(out), reader));
            }
            if reader.done {
                return None;
            }
            let until_check = RECHECK.saturating_sub(reader.checked.elapsed());
            match tokio::time::timeout(until_check, reader.changed.changed()).await {
                Ok(Ok(())) | Err(_) => {}
                Ok(Err(_)) => return None,
            }
        }
    })
}
