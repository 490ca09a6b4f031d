//! Security headers on every response, and the Content-Security-Policy of the site.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::app::AppState;

pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    // The applet's module and Wasm may be loaded by the pages of allowed origins (the direct
    // way of embedding); nothing else is shared across origins.
    let is_applet = matches!(request.uri().path(), "/web-console.js" | "/web-console_bg.wasm");
    let cors_origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| is_applet && state.trusted_origins.iter().any(|t| t == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if let Some(origin) = cors_origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !state.frameable {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if let Ok(csp) = HeaderValue::from_str(&state.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The policy: our own scripts and the hashes of trunk's inline loader, Wasm compilation,
/// WebSockets to this origin and the plain console listener, and framing only by the
/// configured origins.
pub fn content_security_policy(
    index_html: Option<&str>,
    plain_ws_url: Option<&str>,
    frame_ancestors: &[String],
) -> String {
    let mut script = String::from("'self' 'wasm-unsafe-eval'");
    for body in index_html.map(inline_scripts).unwrap_or_default() {
        let digest = Sha256::digest(body.as_bytes());
        script.push_str(&format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)));
    }
    let mut connect = String::from("'self'");
    if let Some(origin) = plain_ws_url.and_then(ws_origin) {
        connect.push(' ');
        connect.push_str(&origin);
    }
    let ancestors = if frame_ancestors.is_empty() { "'none'".to_string() } else { frame_ancestors.join(" ") };
    format!(
        "default-src 'self'; script-src {script}; style-src 'self'; img-src 'self' data:; connect-src {connect}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

/// The bodies of inline `<script>` elements (those without `src`).
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let Some(tag_end) = rest[start..].find('>') else { break };
        let tag = &rest[start..start + tag_end];
        let body_start = start + tag_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else { break };
        if !tag.contains(" src=") {
            out.push(&rest[body_start..body_start + close]);
        }
        rest = &rest[body_start + close..];
    }
    out
}

fn ws_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_loader_is_allowed_by_hash_and_nothing_else_inline() {
        let html = r#"<script type="module">import init from '/x.js';init();</script><script src="/a.js"></script>"#;
        let csp = content_security_policy(Some(html), Some("ws://127.0.0.1:8081/console/ws"), &[]);
        assert_eq!(csp.matches("'sha256-").count(), 1);
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:8081;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        let csp = content_security_policy(None, None, &["https://portal.example".to_string()]);
        assert!(csp.ends_with("frame-ancestors https://portal.example"), "{csp}");
    }
}
