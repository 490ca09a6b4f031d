//! `/metrics` as a scraper sees it: refused without the bearer token, parsed by the Prometheus
//! project's own Python parsers (the text format and, strictly, OpenMetrics), and moving as a
//! console link over `wss://` opens, carries the screen and closes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::client::{ApiClient, ConsoleClient};
use e2e::{wait_for, Controller};

const TOKEN: &str = "scrape-me-0123456789abcdef";

/// Every sample: name, labels, value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses with `prometheus_client` (Debian's python3-prometheus-client): its text-format
/// parser, or its OpenMetrics parser, which refuses anything the standard does not allow.
fn parse(text: &str, openmetrics: bool) -> Samples {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == "openmetrics" else prometheus
print(json.dumps([[s.name, s.labels, s.value] for f in parse(sys.stdin.read()) for s in f.samples]))
"#;
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, if openmetrics { "openmetrics" } else { "prometheus" }])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (scripts/setup.sh --tests installs it)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser refused it: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<(String, BTreeMap<String, String>, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    rows
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| *v)
}

async fn scrape(api: &ApiClient, token: Option<&str>, accept: Option<&str>) -> (u16, String, String) {
    let mut request = api.http.get(format!("{}/metrics", api.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, kind, response.text().await.unwrap())
}

async fn samples(api: &ApiClient) -> Samples {
    let (status, kind, text) = scrape(api, Some(TOKEN), None).await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    parse(&text, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_as_a_console_opens_and_closes() {
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("metrics-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let controller = Controller::start(|c| {
        c.metrics = Some(controller_server::metrics::scrape::MetricsConfig {
            token_file: Some(token_file.clone()),
            allow: vec!["127.0.0.1/32".into()],
        })
    })
    .await
    .unwrap();
    let mut admin = ApiClient::new(&controller).unwrap();

    // No token, a wrong one: refused, with the scheme named.
    let (status, _, _) = scrape(&admin, None, None).await;
    assert_eq!(status, 401);
    let (status, _, _) = scrape(&admin, Some("scrape-me-0123456789abcdeX"), None).await;
    assert_eq!(status, 401);

    // A failed login, then the administrator's first login.
    let (status, _) = admin
        .call("POST", "/api/login", Some(serde_json::json!({"username": "admin", "password": "wrong"})))
        .await
        .unwrap();
    assert_eq!(status, 401);
    admin.first_login("admin", &controller.first_password, "metrics-admin-password-1").await.unwrap();
    let before = samples(&admin).await;
    let failed = [("purpose", "login"), ("reason", "wrong")];
    assert_eq!(value(&before, "lantern_login_failures_total", &failed), Some(1.0));
    assert_eq!(value(&before, "lantern_hosts", &[("state", "running")]), Some(1.0), "the local shell runs");
    assert_eq!(value(&before, "lantern_console_links", &[("host", "local")]).unwrap_or(0.0), 0.0);
    let login_route = [("route", "/api/login"), ("method", "POST"), ("status", "200")];
    assert!(value(&before, "lantern_http_request_duration_seconds_count", &login_route) >= Some(1.0));

    // A console link over wss://, which gets the host's screen.
    let key = admin.console_key("local").await.unwrap();
    let wss = format!("wss://127.0.0.1:{}/console/ws", controller.running.site.port());
    let link = ConsoleClient::connect_tls(&wss, controller.running.site, &controller.cert_path(), &key).await.unwrap();
    let open = wait_for("the link on the gauges", Duration::from_secs(10), || async {
        let now = samples(&admin).await;
        let shown = value(&now, "lantern_console_links", &[("host", "local"), ("listener", "wss")]) == Some(1.0)
            && value(&now, "lantern_console_viewers", &[("host", "local")]) == Some(1.0)
            && value(&now, "lantern_console_bytes_total", &[("host", "local"), ("direction", "out")]) > Some(0.0);
        Ok(if shown { Ok(now) } else { Err(format!("{now:?}")) })
    })
    .await
    .unwrap();
    let out = |s: &Samples| value(s, "lantern_console_bytes_total", &[("host", "local"), ("direction", "out")]);
    assert!(value(&open, "lantern_console_records_total", &[("host", "local"), ("direction", "in")]) > Some(0.0));
    assert!(value(&open, "lantern_console_records_total", &[("host", "local"), ("direction", "out")]) > Some(0.0));
    assert!(value(&open, "lantern_console_bytes_total", &[("host", "local"), ("direction", "in")]) > Some(0.0));

    // Closed: off the gauges within a second; the counters keep what was carried.
    let closed_at = Instant::now();
    let closing = tokio::spawn(link.close());
    let closed = wait_for("the link off the gauges", Duration::from_secs(10), || async {
        let now = samples(&admin).await;
        let gone = value(&now, "lantern_console_links", &[("host", "local"), ("listener", "wss")]) == Some(0.0)
            && value(&now, "lantern_console_viewers", &[("host", "local")]) == Some(0.0);
        Ok(if gone { Ok(now) } else { Err(format!("{now:?}")) })
    })
    .await
    .unwrap();
    eprintln!("the link left the gauges {} ms after the applet closed it", closed_at.elapsed().as_millis());
    closing.await.unwrap().unwrap();
    assert!(out(&closed) >= out(&open));
    let key_route = [("route", "/api/hosts/{id}/console-key"), ("method", "POST"), ("status", "200")];
    assert_eq!(value(&closed, "lantern_http_request_duration_seconds_count", &key_route), Some(1.0));

    // The same, as OpenMetrics for a scraper that asks, passes the strict parser.
    let (status, kind, text) = scrape(&admin, Some(TOKEN), Some("application/openmetrics-text;version=1.0.0")).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/openmetrics-text; version=1.0.0"), "{kind}");
    let strict = parse(&text, true);
    assert_eq!(value(&strict, "lantern_console_links", &[("host", "local"), ("listener", "wss")]), Some(0.0));
}
