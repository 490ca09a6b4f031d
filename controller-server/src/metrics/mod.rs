//! What the controller measures about itself, for Prometheus (`GET /metrics`, see [`scrape`]).
//!
//! Counters and gauges that move with the work (console traffic, logins, requests, directives)
//! live in one registry and are updated where the work is done, through handles taken once
//! per link or route (an increment is an atomic add). What is a state rather than a count
//! (hosts by state, viewers, agents connected, syslog and subscriber deliveries) is read at
//! scrape time from where it is kept, so it can never drift from it.

pub mod scrape;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkLabels {
    pub host: String,
    /// `wss` or `ws`.
    pub listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlowLabels {
    pub host: String,
    /// `in` (from the browser) or `out` (to it).
    pub direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostLabels {
    pub host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    /// `login` (the page, Redfish, Basic) or `password-check` (before a password change), as
    /// the trail names them.
    pub purpose: String,
    /// `wrong` (a refused password) or `locked` (refused while locked out).
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's pattern (`/api/hosts/{id}/power`), never the path itself: bounded.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `ok` (exit status 0), `failed` (another status), `signal`, `lost` (no status).
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    links: Family<LinkLabels, Gauge>,
    bytes: Family<FlowLabels, Counter>,
    records: Family<FlowLabels, Counter>,
    renewals: Family<HostLabels, Counter>,
    logins_failed: Family<LoginLabels, Counter>,
    requests: Family<RequestLabels, Histogram>,
    directives: Family<OutcomeLabels, Counter>,
    directive_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lantern");
        let links = Family::<LinkLabels, Gauge>::default();
        registry.register("console_links", "Console links attached to a host", links.clone());
        let bytes = Family::<FlowLabels, Counter>::default();
        registry.register_with_unit("console", "Console record bytes", Unit::Bytes, bytes.clone());
        let records = Family::<FlowLabels, Counter>::default();
        registry.register("console_records", "Console records (WebSocket messages)", records.clone());
        let renewals = Family::<HostLabels, Counter>::default();
        registry.register("console_key_renewals", "Console key renewals (in-band key switches)", renewals.clone());
        let logins_failed = Family::<LoginLabels, Counter>::default();
        registry.register("login_failures", "Refused logins", logins_failed.clone());
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer HTTP requests (the response's head; streams not included)",
            Unit::Seconds,
            requests.clone(),
        );
        let directives = Family::<OutcomeLabels, Counter>::default();
        registry.register("directives", "Directives run by agents, by how they ended", directives.clone());
        let directive_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        registry.register_with_unit(
            "directive_duration",
            "How long directives ran",
            Unit::Seconds,
            directive_seconds.clone(),
        );
        Self { registry, links, bytes, records, renewals, logins_failed, requests, directives, directive_seconds }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A console link attached to `host`: its meters, and its place in the open-links gauge
    /// until the handle is dropped.
    pub fn link(&self, host: &str, listener: &str) -> LinkMeters {
        let flow = |direction: &str| FlowLabels { host: host.to_string(), direction: direction.to_string() };
        // One handle per statement: `get_or_create` holds its family's lock until the end of
        // the statement, and a second one in the same statement would wait for it forever.
        let open = self.links.get_or_create(&LinkLabels { host: host.into(), listener: listener.into() }).clone();
        open.inc();
        let bytes_in = self.bytes.get_or_create(&flow("in")).clone();
        let bytes_out = self.bytes.get_or_create(&flow("out")).clone();
        let records_in = self.records.get_or_create(&flow("in")).clone();
        let records_out = self.records.get_or_create(&flow("out")).clone();
        let renewals = self.renewals.get_or_create(&HostLabels { host: host.into() }).clone();
        LinkMeters { bytes_in, bytes_out, records_in, records_out, renewals, open, reported: Reported::default() }
    }

    pub fn login_failed(&self, purpose: &str, reason: &str) {
        self.logins_failed.get_or_create(&LoginLabels { purpose: purpose.into(), reason: reason.into() }).inc();
    }

    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = RequestLabels { method: method.into(), route: route.into(), status };
        self.requests.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn directive(&self, outcome: &str, took: Duration) {
        self.directives.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
        self.directive_seconds.observe(took.as_secs_f64());
    }
}

/// What a link has reported so far, so that each report adds only what is new.
#[derive(Debug, Default, Clone, Copy)]
struct Reported {
    bytes_in: u64,
    bytes_out: u64,
    renewals: u32,
}

/// One link's handles on its host's meters.
pub struct LinkMeters {
    bytes_in: Counter,
    bytes_out: Counter,
    records_in: Counter,
    records_out: Counter,
    renewals: Counter,
    open: Gauge,
    reported: Reported,
}

impl LinkMeters {
    pub fn records(&self, incoming: u64, outgoing: u64) {
        self.records_in.inc_by(incoming);
        self.records_out.inc_by(outgoing);
    }

    /// The link's running totals (from `ServerLink::stats`): the counters move by what is new.
    pub fn totals(&mut self, bytes_in: u64, bytes_out: u64, renewals: u32) {
        let r = &mut self.reported;
        self.bytes_in.inc_by(bytes_in.saturating_sub(r.bytes_in));
        self.bytes_out.inc_by(bytes_out.saturating_sub(r.bytes_out));
        self.renewals.inc_by(u64::from(renewals.saturating_sub(r.renewals)));
        *r = Reported { bytes_in: bytes_in.max(r.bytes_in), bytes_out: bytes_out.max(r.bytes_out), renewals };
    }
}

impl Drop for LinkMeters {
    fn drop(&mut self) {
        self.open.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(metrics: &Metrics) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, metrics.registry()).unwrap();
        out
    }

    #[test]
    fn a_link_counts_what_is_new_and_leaves_the_gauge_when_dropped() {
        let metrics = Metrics::new();
        let mut link = metrics.link("web1", "wss");
        link.totals(100, 1000, 0);
        link.totals(150, 1000, 1);
        link.records(1, 3);
        let shown = text(&metrics);
        assert!(shown.contains(r#"lantern_console_links{host="web1",listener="wss"} 1"#), "{shown}");
        assert!(shown.contains(r#"lantern_console_bytes_total{host="web1",direction="in"} 150"#), "{shown}");
        assert!(shown.contains(r#"lantern_console_bytes_total{host="web1",direction="out"} 1000"#), "{shown}");
        assert!(shown.contains(r#"lantern_console_records_total{host="web1",direction="out"} 3"#), "{shown}");
        assert!(shown.contains(r#"lantern_console_key_renewals_total{host="web1"} 1"#), "{shown}");
        drop(link);
        assert!(text(&metrics).contains(r#"lantern_console_links{host="web1",listener="wss"} 0"#));
    }
}
