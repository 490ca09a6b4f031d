//! Forwarding to a real syslog collector: Debian's rsyslog, started here with its own
//! configuration, taking RFC 5425 (TLS, a test CA, client certificates required). What it
//! receives must parse as RFC 5424 (by rsyslog and by an independent parser), and no record
//! may be lost while the collector is stopped and the controller killed and started again.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::binary::{self, Controller};
use common::live::free_port;
use serde_json::json;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// A test CA with a certificate for the collector (127.0.0.1) and one for the controller.
fn certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Lantern test syslog CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (name, san, usage) in [
        ("collector", "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth),
        ("controller", "lantern-test", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    }
}

/// rsyslogd in the foreground, listening for TLS on `port` and writing what it receives, one
/// line per message: the protocol version its parser found, then the message as received.
struct Collector {
    child: Child,
}

impl Collector {
    fn start(dir: &Path, port: u16) -> Self {
        let d = dir.display();
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{d}/work" maxMessageSize="64k"
       defaultNetstreamDriver="ossl"
       defaultNetstreamDriverCAFile="{d}/ca.pem"
       defaultNetstreamDriverCertFile="{d}/collector.pem"
       defaultNetstreamDriverKeyFile="{d}/collector-key.pem")
module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
template(name="received" type="string" string="%protocol-version% %rawmsg%\n")
input(type="imtcp" address="127.0.0.1" port="{port}")
action(type="omfile" file="{d}/received.log" template="received")
"#
            ),
        )
        .unwrap();
        let child = Command::new(RSYSLOGD)
            .args(["-n", "-f", conf.to_str().unwrap(), "-i", dir.join("rsyslogd.pid").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("rsyslogd runs (scripts/setup.sh --tests installs it)");
        // Listening once the kernel says so (a probing connection would be a failed TLS
        // handshake, which rsyslog's OpenSSL driver carries into the next one).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !listening(port) {
            assert!(Instant::now() < deadline, "rsyslogd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    /// Stops it as an operator would (SIGTERM): it writes out what it has, then exits.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a socket listens on 127.0.0.1:`port` (`/proc/net/tcp`: local address in hex, state
/// 0A for LISTEN).
fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").unwrap_or_default().lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
    })
}

/// What the collector received, by stream and record id: how often each arrived.
#[derive(Default, Debug)]
struct Received {
    audit: BTreeMap<i64, usize>,
    events: BTreeMap<i64, usize>,
    /// Audit records' ids by action.
    actions: BTreeMap<String, BTreeSet<i64>>,
}

fn received(dir: &Path) -> Received {
    let mut got = Received::default();
    let text = std::fs::read_to_string(dir.join("received.log")).unwrap_or_default();
    for line in text.lines() {
        let (version, raw) = line.split_once(' ').unwrap();
        assert_eq!(version, "1", "rsyslog did not take this as RFC 5424: {raw}");
        let message = syslog_rfc5424::parse_message(raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
        assert_eq!(message.appname.as_deref(), Some("lantern"), "{raw}");
        assert_eq!(message.hostname.as_deref(), Some("bmc-test"), "{raw}");
        let (stream, sd_id) = match message.msgid.as_deref() {
            Some("audit") => (&mut got.audit, "audit@32473"),
            Some("event") => (&mut got.events, "event@32473"),
            other => panic!("MSGID {other:?}: {raw}"),
        };
        let fields = message.sd.find_sdid(sd_id).unwrap_or_else(|| panic!("no {sd_id}: {raw}"));
        let id: i64 = fields["id"].parse().unwrap();
        *stream.entry(id).or_default() += 1;
        if sd_id == "audit@32473" {
            got.actions.entry(fields["action"].clone()).or_default().insert(id);
            if fields["action"] == "login.failed" {
                assert_eq!(message.severity, syslog_rfc5424::SyslogSeverity::SEV_WARNING, "{raw}");
            }
        }
    }
    got
}

/// Every audit record and host event in the controller's database, by id.
fn stored(data: &Path) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let db = rusqlite::Connection::open(data.join("lantern.db")).unwrap();
    let ids = |table: &str| -> BTreeSet<i64> {
        let mut stmt = db.prepare(&format!("SELECT id FROM {table}")).unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    (ids("audit"), ids("host_events"))
}

/// Waits until the collector has every stored record.
fn wait_for_everything(collector_dir: &Path, data: &Path, within: Duration) -> Received {
    let deadline = Instant::now() + within;
    loop {
        let (audit, events) = stored(data);
        let got = received(collector_dir);
        let missing_audit: Vec<_> = audit.iter().filter(|id| !got.audit.contains_key(id)).collect();
        let missing_events: Vec<_> = events.iter().filter(|id| !got.events.contains_key(id)).collect();
        if missing_audit.is_empty() && missing_events.is_empty() {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "not received: audit records {missing_audit:?}, host events {missing_events:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `count` failed logins with names nobody has, each an audit record.
async fn fail_logins(controller: &Controller, data: &Path, count: usize) {
    let http = binary::client(data);
    for n in 0..count {
        let status = http
            .post(format!("{}/api/login", controller.url))
            .json(&json!({ "username": format!("nobody-{n}"), "password": "wrong" }))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
}

fn config_file(dir: &Path, port: u16) -> PathBuf {
    let d = dir.display();
    let path = dir.join("lantern.toml");
    std::fs::write(
        &path,
        format!(
            r#"[syslog]
target = "tls://127.0.0.1:{port}"
ca_file = "{d}/ca.pem"
cert_file = "{d}/controller.pem"
key_file = "{d}/controller-key.pem"
hostname = "bmc-test"
"#
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_reaches_rsyslog_over_tls_through_restarts_of_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let (collector_dir, data) = (dir.path().join("collector"), dir.path().join("data"));
    std::fs::create_dir_all(&collector_dir).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    certificates(&collector_dir);
    let port = free_port();
    let config = config_file(&collector_dir, port);

    // Both up: the first-run records, the host's start and some failed logins arrive.
    let collector = Collector::start(&collector_dir, port);
    let controller = binary::start(&data, true, Some(&config));
    fail_logins(&controller, &data, 3).await;
    let got = wait_for_everything(&collector_dir, &data, Duration::from_secs(30));
    assert_eq!(got.actions.get("login.failed").map(BTreeSet::len), Some(3), "{got:?}");
    assert!(!got.events.is_empty(), "the local host's start is a host event");
    let sent_before = stored(&data).0;

    // The collector stops; the controller goes on (its logins answer as before) and is then
    // killed before it could send anything.
    collector.stop();
    fail_logins(&controller, &data, 10).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let kept_back = loop {
        let written: BTreeSet<i64> = stored(&data).0.difference(&sent_before).copied().collect();
        if written.len() >= 10 {
            break written;
        }
        assert!(Instant::now() < deadline, "the failed logins were not written");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(kept_back.iter().all(|id| !received(&collector_dir).audit.contains_key(id)), "the collector was down");
    drop(controller); // SIGKILL

    // Both back: what was kept is sent, with what comes after.
    let _collector = Collector::start(&collector_dir, port);
    let controller = binary::start(&data, false, Some(&config));
    fail_logins(&controller, &data, 2).await;
    let got = wait_for_everything(&collector_dir, &data, Duration::from_secs(60));
    assert!(kept_back.iter().all(|id| got.audit.contains_key(id)));
    assert_eq!(got.actions.get("login.failed").map(BTreeSet::len), Some(15), "{got:?}");
    let twice = got.audit.values().chain(got.events.values()).filter(|n| **n > 1).count();
    eprintln!(
        "received {} audit records and {} host events, {twice} of them more than once",
        got.audit.len(),
        got.events.len()
    );
}
