//! `GET /metrics`: the Prometheus text format (0.0.4), or OpenMetrics 1.0 for a scraper that
//! asks for it, served only to scrapers that `[metrics]` lets in: with its bearer token, from
//! an allowed network, or both.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{prometheus_text, text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::HostLabels;
use crate::app::AppState;
use crate::web::error::ApiError;
use crate::web::login::Source;

/// `[metrics]`: who may scrape. At least one of the two must be set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A file holding the token scrapers send as `Authorization: Bearer …` (Prometheus:
    /// `authorization: { credentials_file: … }`), at least 16 characters.
    pub token_file: Option<PathBuf>,
    /// Networks scrapers may come from (`10.1.0.0/16`, `127.0.0.1/32`, `::1/128`).
    pub allow: Vec<String>,
}

/// The shortest token accepted: a guessable one protects nothing.
const MIN_TOKEN: usize = 16;

impl MetricsConfig {
    pub fn problem(&self) -> Option<String> {
        if self.token_file.is_none() && self.allow.is_empty() {
            return Some("[metrics] needs token_file, allow, or both: /metrics is never open to all".into());
        }
        self.allow.iter().find_map(|net| {
            net.parse::<ipnet::IpNet>().err().map(|e| format!("[metrics] allow {net:?} is not a network: {e}"))
        })
    }
}

/// Who may scrape, as read at start.
pub struct Access {
    token: Option<String>,
    allow: Vec<ipnet::IpNet>,
}

impl Access {
    pub fn from_config(config: &MetricsConfig) -> anyhow::Result<Self> {
        if let Some(problem) = config.problem() {
            anyhow::bail!(problem);
        }
        let token = match &config.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("[metrics] cannot read token_file {}: {e}", path.display()))?;
                let token = text.trim().to_string();
                anyhow::ensure!(
                    token.len() >= MIN_TOKEN,
                    "[metrics] the token in {} is shorter than {MIN_TOKEN} characters",
                    path.display()
                );
                Some(token)
            }
            None => None,
        };
        let allow = config.allow.iter().filter_map(|net| net.parse().ok()).collect();
        Ok(Self { token, allow })
    }

    fn address_allowed(&self, addr: Option<IpAddr>) -> bool {
        if self.allow.is_empty() {
            return true;
        }
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
        let addr = addr.map(|a| a.to_canonical());
        addr.is_some_and(|a| self.allow.iter().any(|net| net.contains(&a)))
    }

    fn token_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else { return true };
        let sent = crate::web::guard::bearer(headers).unwrap_or_default();
        bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
    }
}

pub async fn metrics(State(state): State<AppState>, source: Source, headers: HeaderMap) -> Response {
    let Some(access) = &state.metrics_access else {
        return ApiError::new(StatusCode::NOT_FOUND, "metrics are not enabled ([metrics] in the configuration)")
            .into_response();
    };
    if !access.address_allowed(source.addr) {
        return ApiError::new(StatusCode::FORBIDDEN, "metrics are not served to this address").into_response();
    }
    if !access.token_allowed(&headers) {
        let mut refused = ApiError::new(StatusCode::UNAUTHORIZED, "metrics need their bearer token").into_response();
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"metrics\""));
        return refused;
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let now = current(&state);
    let mut body = String::new();
    let encoded = if openmetrics {
        text::encode_registry(&mut body, state.metrics.registry())
            .and_then(|()| text::encode_registry(&mut body, &now))
            .and_then(|()| text::encode_eof(&mut body))
    } else {
        prometheus_text::encode(&mut body, state.metrics.registry())
            .and_then(|()| prometheus_text::encode(&mut body, &now))
    };
    if encoded.is_err() {
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "metrics could not be written").into_response();
    }
    let content_type = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        prometheus_text::CONTENT_TYPE
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    subscription: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeOnly {
    outcome: String,
}

/// What is a state rather than a count, read now from where it is kept.
fn current(state: &AppState) -> Registry {
    let mut registry = Registry::with_prefix("lantern");
    let hosts = Family::<StateLabels, Gauge>::default();
    let viewers = Family::<HostLabels, Gauge>::default();
    let agents = Gauge::<i64>::default();
    use shared::wire::message::HostState;
    for each in [HostState::Running, HostState::Stopped, HostState::NoSignal] {
        hosts.get_or_create(&StateLabels { state: each.name().into() }).set(0);
    }
    for host in state.hosts.all() {
        let name = host.status.borrow().state.name();
        hosts.get_or_create(&StateLabels { state: name.into() }).inc();
        let watching = state.hosts.sharing(&host.id).map_or(0, |s| s.viewers());
        viewers.get_or_create(&HostLabels { host: host.id.clone() }).set(watching as i64);
        if state.agents.live(&host.id).is_some() {
            agents.inc();
        }
    }
    registry.register("hosts", "Hosts by state", hosts);
    registry.register("console_viewers", "People watching each host's console", viewers);
    registry.register("agents_connected", "Agents connected now", agents);

    let deliveries = Family::<DeliveryLabels, Counter>::default();
    for (subscription, counts) in state.subscriptions.list() {
        for (outcome, n) in [("delivered", &counts.delivered), ("failed", &counts.failed), ("dropped", &counts.dropped)]
        {
            let labels = DeliveryLabels { subscription: subscription.id.to_string(), outcome: outcome.into() };
            deliveries.get_or_create(&labels).inc_by(n.load(Ordering::Relaxed));
        }
    }
    registry.register("event_deliveries", "Events for Redfish subscribers, by how they went", deliveries);

    if let Some(syslog) = &state.syslog {
        let records = Family::<OutcomeOnly, Counter>::default();
        records
            .get_or_create(&OutcomeOnly { outcome: "forwarded".into() })
            .inc_by(syslog.forwarded.load(Ordering::Relaxed));
        registry.register("syslog_records", "Records the syslog collector confirmed", records);
        let failures = Counter::<u64>::default();
        failures.inc_by(syslog.failures.load(Ordering::Relaxed));
        registry.register("syslog_batch_failures", "Syslog batches that did not get through (sent again)", failures);
    }
    registry
}

/// Times every routed request by its route's pattern.
pub async fn track(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // Methods are the client's to invent: anything unusual is one label, not one per name.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str).to_string();
    let response = next.run(request).await;
    state.metrics.request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_needs_a_rule_and_checks_both() {
        assert!(MetricsConfig::default().problem().is_some());
        assert!(MetricsConfig { allow: vec!["10.0.0.0/33".into()], ..Default::default() }.problem().is_some());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "short\n").unwrap();
        let config = MetricsConfig { token_file: Some(file.clone()), allow: vec!["10.1.0.0/16".into()] };
        assert!(Access::from_config(&config).is_err(), "a short token is refused");
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        let access = Access::from_config(&config).unwrap();
        assert!(access.address_allowed(Some("10.1.2.3".parse().unwrap())));
        assert!(access.address_allowed(Some("::ffff:10.1.2.3".parse().unwrap())));
        assert!(!access.address_allowed(Some("10.2.0.1".parse().unwrap())));
        assert!(!access.address_allowed(None));
        let mut headers = HeaderMap::new();
        assert!(!access.token_allowed(&headers));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer 0123456789abcdef0123"));
        assert!(access.token_allowed(&headers));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer 0123456789abcdef0124"));
        assert!(!access.token_allowed(&headers));
    }
}
