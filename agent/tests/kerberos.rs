//! Kerberos-authenticated directives against a real MIT KDC: a user who logged in with their
//! Kerberos password runs a directive on an agent that requires Kerberos, and it runs as the
//! local account mapped from their principal (`id -un`); the same directive without the
//! user's sealed credentials (a controller acting on its own) is refused by the agent.

mod common;

use std::time::Duration;

use common::{admin, enroll, follow, new_enrolment, path, AgentProcess};
use e2e::client::set_cookie;
use e2e::kdc::{Kdc, REALM};
use e2e::Controller;
use serde_json::{json, Value};

const ALICE: &str = "alice's kerberos password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kerberos_directive_runs_as_the_mapped_account_and_not_without_the_user() -> anyhow::Result<()> {
    let kdc = Kdc::start(&[("alice", ALICE)]).await?;
    let hostname = nix_hostname();
    let keytab = kdc.service_keytab(&format!("host/{hostname}@{REALM}"))?;
    let helper = Kdc::helper()?;
    let kerberos = toml::from_str(&format!(
        r#"realm = "{REALM}"
           kdc = ["127.0.0.1:{}"]
           helper = "{}"
           [[roles]]
           principal = "alice@{REALM}"
           role = "Administrator""#,
        kdc.port,
        helper.display()
    ))?;
    let controller = Controller::start(|c| c.auth.kerberos = Some(kerberos)).await?;
    let api = admin(&controller).await?;

    // An agent that requires Kerberos and maps alice to `daemon` (its default user: nobody).
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
    let enrolment = new_enrolment(&api, "krb-box").await?;
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
    common::connected(&api, "krb-box", Duration::from_secs(20)).await?;
    // The controller asks for host/<the hostname the agent reports>: wait for its facts.
    e2e::wait_for("the agent's facts", Duration::from_secs(20), || async {
        let (_, agents) = api.call("GET", "/api/agents", None).await?;
        let named = agents.to_string().contains(&hostname);
        Ok(if named { Ok(()) } else { Err(agents.to_string()) })
    })
    .await?;

    // alice logs in with her Kerberos password; her sealed ticket comes with her requests.
    let cert = reqwest::Certificate::from_pem(&std::fs::read(controller.cert_path())?)?;
    let http = reqwest::Client::builder().add_root_certificate(cert).timeout(Duration::from_secs(60)).build()?;
    let login = http
        .post(format!("{}/api/login", controller.url))
        .json(&json!({"username": format!("alice@{REALM}"), "password": ALICE}))
        .send()
        .await?;
    anyhow::ensure!(login.status() == 200, "alice's login: {}", login.status());
    let session = format!("lantern_session={}", set_cookie(&login, "lantern_session").unwrap_or_default());
    let sealed = format!("lantern_krb={}", set_cookie(&login, "lantern_krb").unwrap_or_default());
    anyhow::ensure!(sealed.len() > "lantern_krb=".len(), "no sealed credentials cookie");
    let csrf = login.json::<Value>().await?["csrf_token"].as_str().unwrap_or_default().to_string();
    let run = |cookies: String| {
        let (http, url, csrf) =
            (http.clone(), format!("{}/api/hosts/krb-box/directives", controller.url), csrf.clone());
        async move {
            let response = http
                .post(url)
                .header("cookie", cookies)
                .header("x-csrf-token", csrf)
                .json(&json!({"command": "id -un"}))
                .send()
                .await?;
            let status = response.status().as_u16();
            anyhow::Ok((status, response.json::<Value>().await.unwrap_or(Value::Null)))
        }
    };

    let (status, started) = run(format!("{session}; {sealed}")).await?;
    anyhow::ensure!(status == 201, "alice's directive answered {status}: {started}");
    let id = started["id"].as_u64().unwrap_or_default();
    let lines = follow(&api, "krb-box", id).await?;
    let stdout = common::text_of(&lines, "stdout");
    assert_eq!(stdout.trim(), "daemon", "{lines:?}\n{}", agent.log());

    // Without her sealed credentials the controller has no proof to send, and the agent says no.
    let (status, refused) = run(session.clone()).await?;
    let told = if status == 201 {
        let lines = follow(&api, "krb-box", refused["id"].as_u64().unwrap_or_default()).await?;
        assert_eq!(common::text_of(&lines, "stdout"), "", "nothing ran");
        common::exit_of(&lines).to_string()
    } else {
        refused.to_string()
    };
    assert!(told.contains("prove themselves with Kerberos"), "{status}: {told}");
    // A sealed value from another session opens nothing either.
    let (status, other) = run(format!("{session}; lantern_krb=v1.AAAA{}", &sealed[16..])).await?;
    let told = if status == 201 {
        common::exit_of(&follow(&api, "krb-box", other["id"].as_u64().unwrap_or_default()).await?).to_string()
    } else {
        other.to_string()
    };
    assert!(told.contains("prove themselves with Kerberos"), "{status}: {told}");
    agent.kill().await;
    Ok(())
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string()
}
