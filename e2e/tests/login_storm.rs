//! A login storm against the real HTTPS listener: many wrong passwords in parallel from one
//! address lock that address out after at most `lockout_after` verifications, the
//! administrator still logs in from another address, and the controller's memory stays
//! bounded (argon2 runs two at a time).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use e2e::client::ApiClient;
use e2e::Controller;
use serde_json::json;

const STORM: usize = 100;

/// This process's resident memory (the controller runs in it), in MiB.
fn resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kib / 1024
}

fn client_from(controller: &Controller, addr: &str) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(controller.cert_path()).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(cert)
        .local_address(addr.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_guessing_storm_locks_its_address_and_not_the_administrator() {
    let controller = Controller::start(|c| {
        c.auth.failed_login_delay_ms = 100;
        c.auth.failed_login_max_delay_ms = 400;
    })
    .await
    .expect("controller starts");
    let mut admin = ApiClient::new(&controller).unwrap();
    let password = "the administrator's own password";
    admin.first_login("admin", &controller.first_password, password).await.unwrap();
    let lockout_after = u64::from(controller.running.state.logins.policy().lock_after);
    let idle = resident_mib();
    let verified_before = controller.running.state.logins.verifications();

    // The attacker, at 127.0.0.3: every guess at once.
    let attacker = client_from(&controller, "127.0.0.3");
    let url = format!("{}/api/login", controller.url);
    let guesses = (0..STORM).map(|i| {
        let (attacker, url) = (attacker.clone(), url.clone());
        tokio::spawn(async move {
            let body = json!({"username": "admin", "password": format!("guess number {i}")});
            attacker.post(url).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        })
    });
    let mut peak = idle;
    let mut answers = Vec::new();
    for guess in guesses {
        answers.push(guess.await.unwrap());
        peak = peak.max(resident_mib());
    }
    let verified = controller.running.state.logins.verifications() - verified_before;
    let count = |code| answers.iter().filter(|&&a| a == code).count();
    eprintln!(
        "{STORM} parallel guesses: {} x 401, {} x 429, {} x 503; {verified} verified; resident {idle} MiB idle, {peak} MiB at peak, {} MiB after",
        count(401),
        count(429),
        count(503),
        resident_mib()
    );
    assert_eq!(count(200), 0);
    assert!(verified <= lockout_after, "{verified} passwords verified before the lock (at most {lockout_after})");
    assert!(count(429) > 0, "the storm locked its address: {answers:?}");
    assert!(peak < idle + 200, "memory grew from {idle} to {peak} MiB");

    // The right password from the attacker's address: locked.
    let right = json!({"username": "admin", "password": password});
    let status = attacker.post(&url).json(&right).send().await.unwrap().status().as_u16();
    assert_eq!(status, 429, "the attacker's address stays locked even with the right password");

    // The administrator, elsewhere, gets in once the name's slow-down (at most 400 ms) passes.
    let elsewhere = client_from(&controller, "127.0.0.1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = elsewhere.post(&url).json(&right).send().await.unwrap();
        match response.status().as_u16() {
            200 => break,
            429 if Instant::now() < deadline => {
                let wait: u64 =
                    response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(1);
                assert!(wait <= 1, "the administrator is slowed, not locked out: retry after {wait} s");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("the administrator's login answered {other}"),
        }
    }
    let trail = controller.running.state.audit.all().unwrap();
    let locked = trail.iter().find(|r| r.action == "login.locked").expect("the lock is audited");
    assert!(locked.detail.contains("127.0.0.3"), "with the address: {}", locked.detail);
}
