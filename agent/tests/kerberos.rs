//! Kerberos-authenticated directives against a real MIT KDC: a user who logged in with their
//! Kerberos password runs a directive on an agent that requires Kerberos, and it runs as the
//! local account mapped from their principal (`id -un`); the same directive without the
//! user's sealed credentials (a controller acting on its own) is refused by the agent.

mod common;

use std::time::Duration;

use common::{admin, enroll, follow, new_enrolment, path, AgentProcess};
use controller_server::directory::kerberos::KerberosConfig;
use e2e::client::set_cookie;
use e2e::kdc::{Kdc, REALM};
use e2e::Controller;
use serde_json::{json, Value};

const ALICE: &str = "alice's kerberos password";

/// `[auth.kerberos]` for the KDC, with alice as an administrator.
fn kerberos_config(kdc: &Kdc) -> anyhow::Result<KerberosConfig> {
    Ok(toml::from_str(&format!(
        r#"realm = "{REALM}"
           kdc = ["127.0.0.1:{}"]
           helper = "{}"
           [[roles]]
           principal = "alice@{REALM}"
           role = "Administrator""#,
        kdc.port,
        Kdc::helper()?.display()
    ))?)
}

/// An agent `krb-box` of `controller` that requires Kerberos and maps alice to `daemon` (its
/// default user: nobody), connected and with its facts (the controller asks for
/// host/<the hostname the agent reports>). Its folder goes with it.
async fn kerberos_agent(
    controller: &Controller,
    api: &e2e::client::ApiClient,
    kdc: &Kdc,
) -> anyhow::Result<(AgentProcess, tempfile::TempDir)> {
    let hostname = nix_hostname();
    let keytab = kdc.service_keytab(&format!("host/{hostname}@{REALM}"))?;
    let dir = tempfile::tempdir()?;
    let rcache = dir.path().join("rcache");
    std::fs::create_dir(&rcache)?;
    std::fs::write(
        dir.path().join("agent.toml"),
        format!(
            "run_as = \"nobody\"\n[kerberos]\nkeytab = \"{}\"\nrequire = true\n[[kerberos.accounts]]\nprincipal = \"alice@{REALM}\"\naccount = \"daemon\"\n",
            keytab.display()
        ),
    )?;
    let enrolment = new_enrolment(api, "krb-box").await?;
    let out = enroll(
        None,
        &controller.url,
        enrolment["token"].as_str().unwrap_or_default(),
        enrolment["pin"].as_str().unwrap_or_default(),
        &dir.path().join("state.json"),
    )
    .await?;
    anyhow::ensure!(out.status.success(), "enrol: {}", String::from_utf8_lossy(&out.stderr));
    let krb5_config = kdc.env()[0].1.display().to_string();
    let agent =
        AgentProcess::start(None, dir.path(), &[("KRB5_CONFIG", &krb5_config), ("KRB5RCACHEDIR", path(&rcache))])?;
    common::connected(api, "krb-box", Duration::from_secs(20)).await?;
    e2e::wait_for("the agent's facts", Duration::from_secs(20), || async {
        let (_, agents) = api.call("GET", "/api/agents", None).await?;
        let named = agents.to_string().contains(&hostname);
        Ok(if named { Ok(()) } else { Err(agents.to_string()) })
    })
    .await?;
    Ok((agent, dir))
}

/// A client of `controller` that trusts its certificate.
fn https(controller: &Controller) -> anyhow::Result<reqwest::Client> {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(controller.cert_path())?)?;
    Ok(reqwest::Client::builder().add_root_certificate(cert).timeout(Duration::from_secs(60)).build()?)
}

/// A logged-in session as the browser holds it: its cookies (the sealed credentials' among
/// them, if any) and CSRF token.
struct Session {
    session: String,
    sealed: String,
    csrf: String,
}

impl Session {
    async fn from(response: reqwest::Response) -> anyhow::Result<Self> {
        anyhow::ensure!(response.status() == 200, "login answered {}", response.status());
        let session = format!("lantern_session={}", set_cookie(&response, "lantern_session").unwrap_or_default());
        let sealed = format!("lantern_krb={}", set_cookie(&response, "lantern_krb").unwrap_or_default());
        let csrf = response.json::<Value>().await?["csrf_token"].as_str().unwrap_or_default().to_string();
        Ok(Self { session, sealed, csrf })
    }

    fn cookies(&self) -> String {
        format!("{}; {}", self.session, self.sealed)
    }
}

/// alice logs in with her Kerberos password.
async fn alice(http: &reqwest::Client, controller: &Controller) -> anyhow::Result<Session> {
    let login = http
        .post(format!("{}/api/login", controller.url))
        .json(&json!({"username": format!("alice@{REALM}"), "password": ALICE}))
        .send()
        .await?;
    let session = Session::from(login).await?;
    anyhow::ensure!(session.sealed.len() > "lantern_krb=".len(), "no sealed credentials cookie");
    Ok(session)
}

/// Asks `controller` to run `id -un` on krb-box with `cookies`.
async fn run_id(
    http: &reqwest::Client,
    controller: &Controller,
    cookies: String,
    csrf: &str,
) -> anyhow::Result<(u16, Value)> {
    let response = http
        .post(format!("{}/api/hosts/krb-box/directives", controller.url))
        .header("cookie", cookies)
        .header("x-csrf-token", csrf)
        .json(&json!({"command": "id -un"}))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json::<Value>().await.unwrap_or(Value::Null)))
}

/// Runs `id -un` and returns what it printed, or why it did not run.
async fn id_or_refusal(
    api: &e2e::client::ApiClient,
    http: &reqwest::Client,
    controller: &Controller,
    cookies: String,
    csrf: &str,
) -> anyhow::Result<Result<String, String>> {
    let (status, started) = run_id(http, controller, cookies, csrf).await?;
    if status != 201 {
        return Ok(Err(format!("{status}: {started}")));
    }
    let lines = follow(api, "krb-box", started["id"].as_u64().unwrap_or_default()).await?;
    let stdout = common::text_of(&lines, "stdout");
    Ok(if stdout.is_empty() { Err(common::exit_of(&lines).to_string()) } else { Ok(stdout.trim().to_string()) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kerberos_directive_runs_as_the_mapped_account_and_not_without_the_user() -> anyhow::Result<()> {
    let kdc = Kdc::start(&[("alice", ALICE)]).await?;
    let kerberos = kerberos_config(&kdc)?;
    let controller = Controller::start(|c| c.auth.kerberos = Some(kerberos)).await?;
    let api = admin(&controller).await?;
    let (agent, _dir) = kerberos_agent(&controller, &api, &kdc).await?;

    // alice logs in with her Kerberos password; her sealed ticket comes with her requests.
    let http = https(&controller)?;
    let alice = alice(&http, &controller).await?;
    let ran = id_or_refusal(&api, &http, &controller, alice.cookies(), &alice.csrf).await?;
    assert_eq!(ran, Ok("daemon".to_string()), "{}", agent.log());

    // Without her sealed credentials the controller has no proof to send, and the agent says no.
    let refused = id_or_refusal(&api, &http, &controller, alice.session.clone(), &alice.csrf).await?;
    assert!(refused.as_ref().is_err_and(|why| why.contains("prove themselves with Kerberos")), "{refused:?}");
    // A sealed value from another session opens nothing either.
    let other = format!("{}; lantern_krb=v1.AAAA{}", alice.session, &alice.sealed[16..]);
    let refused = id_or_refusal(&api, &http, &controller, other, &alice.csrf).await?;
    assert!(refused.as_ref().is_err_and(|why| why.contains("prove themselves with Kerberos")), "{refused:?}");
    agent.kill().await;
    Ok(())
}

/// A Kerberos user logged in at A moves to B, where both controllers allow delegated
/// credentials to move: B gets them (sealed to its node key, through A's answer to its signed
/// fetch) and a directive from B on B's agent runs as alice's mapped account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_credentials_move_with_the_session_where_both_controllers_allow_it() -> anyhow::Result<()> {
    use controller_server::config::PeerConfig;
    use controller_server::federation::Node;
    let kdc = Kdc::start(&[("alice", ALICE)]).await?;
    let keys = tempfile::tempdir()?;
    std::fs::write(keys.path().join("a"), [1u8; 32])?;
    std::fs::write(keys.path().join("b"), [2u8; 32])?;
    let (a_port, b_port) = (e2e::free_port()?, e2e::free_port()?);
    let peer = |id: &str, port: u16, seed: u8, ca_file| PeerConfig {
        id: id.into(),
        url: format!("https://127.0.0.1:{port}"),
        public_key: Node::from_seed(id.into(), [seed; 32]).public_key(),
        role_cap: controller_server::store::Role::Administrator,
        ca_file,
        kerberos: true,
    };
    let (kerberos_a, kerberos_b) = (kerberos_config(&kdc)?, kerberos_config(&kdc)?);
    // A never fetches from B here, so it needs no CA for B.
    let a = Controller::start(|c| {
        c.listen = ([127, 0, 0, 1], a_port).into();
        c.node_id = "node-a".into();
        c.node_key_file = Some(keys.path().join("a"));
        c.peers = vec![peer("node-b", b_port, 2, None)];
        c.auth.kerberos = Some(kerberos_a);
    })
    .await?;
    let b = Controller::start(|c| {
        c.listen = ([127, 0, 0, 1], b_port).into();
        c.node_id = "node-b".into();
        c.node_key_file = Some(keys.path().join("b"));
        c.peers = vec![peer("node-a", a_port, 1, Some(a.cert_path()))];
        c.auth.kerberos = Some(kerberos_b);
    })
    .await?;
    let b_api = admin(&b).await?;
    let (agent, _dir) = kerberos_agent(&b, &b_api, &kdc).await?;

    let at_a = https(&a)?;
    let alice = alice(&at_a, &a).await?;
    let issued: Value = at_a
        .post(format!("{}/api/session-token", a.url))
        .header("cookie", alice.cookies())
        .header("x-csrf-token", &alice.csrf)
        .json(&json!({"audience": "node-b"}))
        .send()
        .await?
        .json()
        .await?;
    let token = issued["token"].as_str().unwrap_or_default();
    anyhow::ensure!(!token.is_empty() && token.len() < 1024, "a token that fits a URL: {issued}");
    let at_b = https(&b)?;
    let arrived = at_b
        .post(format!("{}/api/login/token", b.url))
        .header("origin", &b.url)
        .json(&json!({"token": token}))
        .send()
        .await?;
    let moved = Session::from(arrived).await?;
    assert!(moved.sealed.len() > "lantern_krb=".len(), "B sealed the credentials it was handed for its session");
    let ran = id_or_refusal(&b_api, &at_b, &b, moved.cookies(), &moved.csrf).await?;
    assert_eq!(ran, Ok("daemon".to_string()), "{}", agent.log());
    let handed: Vec<Value> = a
        .running
        .state
        .audit
        .all()?
        .into_iter()
        .filter(|r| r.action == "federation.session-data")
        .map(|r| serde_json::from_str(&r.detail).unwrap_or_default())
        .collect();
    assert_eq!(handed.len(), 1);
    assert_eq!(handed[0]["kerberos"], true, "{handed:?}");
    agent.kill().await;
    Ok(())
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string()
}
