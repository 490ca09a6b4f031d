//! The HTTPS site: pages, the JSON API and the console WebSocket, built in one router.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod error;
pub mod federation;
pub mod guard;
pub mod headers;
pub mod hosts;
pub mod launch;
pub mod login;
pub mod media;
pub mod negotiate;
pub mod preferences;
pub mod principal;
pub mod saved_directives;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod who;

use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::console::link;

/// The whole site. Tests drive it without a socket.
pub fn router(state: AppState) -> Router {
    let index = state.web_root.join("index.html");
    // The Wasm module is most of a page load and compresses about threefold.
    let pages = tower::ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .service(ServeDir::new(&state.web_root).fallback(ServeFile::new(index)));
    Router::new()
        .route("/api/login", post(auth::login))
        .route("/api/login/methods", get(negotiate::methods))
        .route("/api/login/negotiate", post(negotiate::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/session", get(auth::current))
        .route("/api/password", post(auth::change_password))
        .route("/api/hosts", get(hosts::list))
        .route("/api/users", get(users::list).post(users::create))
        .route("/api/users/{id}", put(users::update).delete(users::delete))
        .route("/api/hosts/{id}/power", post(hosts::power))
        .route("/api/hosts/{id}/events", get(hosts::events))
        .route("/api/hosts/{id}/sensors", get(hosts::sensors))
        .route("/api/hosts/{id}/recovery", get(hosts::recovery).put(hosts::set_recovery))
        .route("/api/hosts/{id}/heartbeat", post(hosts::heartbeat))
        .route("/api/hosts/{id}/captures/{name}", get(hosts::capture))
        .route("/api/hosts/{id}/screenshot", get(hosts::screenshot))
        .route("/api/hosts/{id}/access", get(users::access_list))
        .route("/api/hosts/{host}/access/{user}", put(users::set_access))
        .route("/api/node", get(federation::node))
        .route("/api/session-token", post(federation::issue))
        .route("/api/login/token", post(federation::login))
        .route(crate::federation::client::PATH, post(federation::session_data))
        .route("/api/session/carried", get(federation::carried))
        .route("/api/media", get(media::images))
        .route("/api/hosts/{id}/media", get(media::status))
        .route("/api/hosts/{id}/media/{drive}", put(media::insert).delete(media::eject))
        .route("/api/hosts/{id}/boot", put(media::boot))
        .route("/api/preferences", get(preferences::list))
        .route("/api/preferences/{name}", put(preferences::set))
        .route("/api/launches", post(launch::create))
        .route("/api/launch-session/console-key", post(launch::console_key))
        .route("/launch/{id}", get(launch::page))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", delete(tokens::revoke))
        .route("/api/sessions", get(who::list))
        .route("/api/sessions/{kind}/{id}", delete(who::end))
        .route("/api/audit", get(audit::page))
        .route("/api/audit/export", get(audit::export))
        .route("/api/audit/actions", get(audit::actions))
        .route("/api/audit/verify", get(audit::verify))
        .route("/api/hosts/{id}/console-key", post(hosts::console_key))
        .route("/console/ws", get(link::upgrade).layer(Extension(link::Listener::Tls)))
        .route("/agent/link", get(crate::agents::socket::upgrade))
        .route("/api/agents", get(agents::list))
        .route("/api/agents/enrolments", post(agents::enrol))
        .route("/api/agents/{host}", delete(agents::revoke))
        .route("/api/directives/saved", get(saved_directives::list))
        .route("/api/directives/saved/{name}", put(saved_directives::save).delete(saved_directives::delete))
        .route("/api/hosts/{id}/directives", get(agents::directives).post(agents::run))
        .route("/api/hosts/{id}/directives/{n}", get(agents::directive))
        .route("/api/hosts/{id}/directives/{n}/output", get(agents::output))
        .route("/api/hosts/{id}/directives/{n}/cancel", post(agents::cancel))
        // An API path we do not have is an API error, not the page shell.
        .route("/api/{*rest}", axum::routing::any(unknown_api))
        .route("/api", axum::routing::any(unknown_api))
        .nest("/redfish", crate::redfish::router())
        // Every route above is timed by its pattern; pages and unknown paths are not.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::scrape::track))
        .route("/metrics", get(crate::metrics::scrape::metrics))
        .fallback_service(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::security_headers))
        // One span per request; paths and methods only, never bodies or cookies.
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn unknown_api() -> error::ApiError {
    error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such API endpoint")
}

/// The plain console listener: the console WebSocket and nothing else.
pub fn plain_console_router(state: AppState) -> Router {
    Router::new().route("/console/ws", get(link::upgrade).layer(Extension(link::Listener::Plain))).with_state(state)
}
