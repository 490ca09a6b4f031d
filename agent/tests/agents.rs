//! The agent against a real controller, as an administrator and a machine would use them: the
//! agent in a network namespace of its own whose firewall drops every inbound connection, so
//! everything it does goes over the connection it dialled.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use e2e::client::ApiClient;
use e2e::netns::Namespace;
use e2e::process::ControllerProcess;
use e2e::{wait_for, Controller};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use futures_util::StreamExt;
use serde_json::{json, Value};

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_behind_a_closed_firewall_enrols_runs_directives_and_comes_back() -> anyhow::Result<()> {
    let ns = Namespace::new()?;
    let listen = format!("{}:0", ns.host);
    let controller = Controller::start(|c| {
        c.listen = listen.parse().unwrap_or(c.listen);
        c.agents.ping_seconds = 1;
        c.agents.ping_timeout_seconds = 2;
    })
    .await?;
    let api = admin(&controller).await?;
    let dir = tempfile::tempdir()?;
    // The machine's sensors (a fake sysfs tree), and a reboot that only leaves a mark: the agent
    // runs on this very machine.
    let sysfs = dir.path().join("sys");
    let chip = sysfs.join("class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip)?;
    for (file, value) in
        [("name", "coretemp"), ("temp1_input", "47000"), ("temp1_label", "Package"), ("temp1_max", "80000")]
    {
        std::fs::write(chip.join(file), value)?;
    }
    let rebooted = dir.path().join("rebooted");
    std::fs::write(
        dir.path().join("agent.toml"),
        format!(
            "run_as = \"nobody\"\nconsole_shell = \"/bin/sh\"\nheartbeat_seconds = 1\nsensors_seconds = 1\nsysfs = \"{}\"\n\
             reboot_command = [\"touch\", \"{}\"]\n",
            sysfs.display(),
            rebooted.display()
        ),
    )?;

    // A token not used in time is refused.
    let (status, short) =
        api.call("POST", "/api/agents/enrolments", Some(json!({ "host_id": "late", "seconds": 1 }))).await?;
    assert_eq!(status, 200, "{short}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (token, pin) = (short["token"].as_str().unwrap_or_default(), short["pin"].as_str().unwrap_or_default());
    let late = enroll(&ns, &controller.url, token, pin, &dir.path().join("late.json")).await?;
    assert!(String::from_utf8_lossy(&late.stderr).contains("unknown, used or expired"), "{late:?}");

    // Nothing gets into the namespace: a connection to it is dropped, not even refused.
    let probe =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect((ns.inside.as_str(), 22))).await;
    assert!(probe.is_err(), "the namespace's firewall let a connection in (or refused it): {probe:?}");

    let enrolment = new_enrolment(&api, "box-1").await?;
    let (token, pin) = (enrolment["token"].as_str().unwrap_or_default(), enrolment["pin"].as_str().unwrap_or_default());
    assert!(enrolment["command"].as_str().unwrap_or_default().contains(&format!("--pin {pin}")));
    let state = dir.path().join("state.json");

    // A wrong pin: the agent refuses the controller, and the token stays good.
    let wrong_pin = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refused = enroll(&ns, &controller.url, token, wrong_pin, &dir.path().join("other.json")).await?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not match the pin"), "{refused:?}");

    let enrolled = enroll(&ns, &controller.url, token, pin, &state).await?;
    assert!(enrolled.status.success(), "{enrolled:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&state)?.permissions().mode() & 0o777, 0o600);
    // The token works once.
    let again = enroll(&ns, &controller.url, token, pin, &dir.path().join("again.json")).await?;
    assert!(String::from_utf8_lossy(&again.stderr).contains("unknown, used or expired"), "{again:?}");

    // Enrolled, not yet running: the host is there, offline.
    wait_state(&api, "box-1", "no-signal", Duration::from_secs(5)).await?;
    let agent = AgentProcess::start(&ns, dir.path(), &[])?;
    let live = wait_state(&api, "box-1", "running", Duration::from_secs(20)).await?;
    assert_eq!(live["kind"], "agent");
    let (_, agents) = api.call("GET", "/api/agents", None).await?;
    let listed = &agents[0];
    assert_eq!((listed["host_id"].as_str(), listed["connected"].as_bool()), (Some("box-1"), Some(true)), "{agents}");
    assert!(listed["facts"]["kernel"].as_str().is_some_and(|k| !k.is_empty()), "{agents}");
    assert!(listed["facts"]["addresses"].to_string().contains(&ns.inside), "{agents}");

    // Its sensors, as the machine's hwmon reads them; its power, through its OS.
    let sensors = wait_for("the agent's sensors", Duration::from_secs(10), || async {
        let (_, sensors) = api.call("GET", "/api/hosts/box-1/sensors", None).await?;
        Ok(if sensors["sensors"][0]["value"] == 47.0 { Ok(sensors) } else { Err(sensors.to_string()) })
    })
    .await?;
    assert_eq!(sensors["sensors"][0]["thresholds"]["upper_caution"], 80.0, "{sensors}");
    let (status, body) = api.call("POST", "/api/hosts/box-1/power", Some(json!({ "action": "reset" }))).await?;
    assert_eq!(status, 202, "{body}");
    assert!(rebooted.exists(), "the agent did not run its reboot command");
    let (status, body) = api.call("POST", "/api/hosts/box-1/power", Some(json!({ "action": "off" }))).await?;
    assert_eq!(status, 409, "an agent's machine has no power-off button: {body}");

    // Two directives at once; their outputs stream as they come, each in its own stream.
    let uname = directive(&api, "box-1", "uname -a; id -un").await?;
    let counting =
        directive(&api, "box-1", "for i in 1 2 3 4 5; do echo line-$i; echo err-$i >&2; sleep 1; done").await?;
    let sleeper = directive(&api, "box-1", "sleep 60").await?;
    let (uname_out, counting_out) = tokio::join!(follow(&api, "box-1", uname), follow(&api, "box-1", counting));
    let (uname_out, counting_out) = (uname_out?, counting_out?);
    let uname_text = text_of(&uname_out, "stdout");
    assert!(uname_text.starts_with("Linux") && uname_text.contains("nobody"), "{uname_out:?}");
    assert_eq!(exit_of(&uname_out)["code"], 0);
    assert_eq!(text_of(&counting_out, "stdout"), "line-1\nline-2\nline-3\nline-4\nline-5\n");
    assert_eq!(text_of(&counting_out, "stderr"), "err-1\nerr-2\nerr-3\nerr-4\nerr-5\n");
    let first = counting_out.iter().find(|(_, l)| l["stdout"].as_str().is_some_and(|t| t.contains("line-1")));
    let last = counting_out.last().map(|(at, _)| *at);
    let streamed = first.zip(last).map(|((a, _), b)| b.duration_since(*a));
    assert!(streamed.is_some_and(|d| d >= Duration::from_secs(3)), "output came all at once: {streamed:?}");
    assert!(exit_of(&counting_out)["duration_ms"].as_u64().is_some_and(|d| d >= 4000));

    // Cancelled: it ends at once, killed, and says so.
    let (status, _) = api.call("POST", &format!("/api/hosts/box-1/directives/{sleeper}/cancel"), None).await?;
    assert_eq!(status, 202);
    let cancelled = follow(&api, "box-1", sleeper).await?;
    assert_eq!(exit_of(&cancelled)["reason"], "cancelled");
    assert_eq!(exit_of(&cancelled)["signal"], 9);

    // Every directive is in the audit trail and the host's event log.
    let (_, audit) = api.call("GET", "/api/audit", None).await?;
    let trail = audit.to_string();
    assert!(trail.contains("directive.run") && trail.contains("directive.exit") && trail.contains("directive.cancel"));
    let (_, events) = api.call("GET", "/api/hosts/box-1/events", None).await?;
    assert!(events.to_string().contains(&format!("directive #{counting} by admin ended: exit status 0")), "{events}");

    // kill -9: offline within 10 s, and a directive fails at once.
    let killed_at = Instant::now();
    let log = agent.kill().await;
    wait_state(&api, "box-1", "no-signal", Duration::from_secs(10)).await.with_context(|| log.clone())?;
    assert!(killed_at.elapsed() < Duration::from_secs(10));
    let asked = Instant::now();
    let (status, body) = api.call("POST", "/api/hosts/box-1/directives", Some(json!({ "command": "true" }))).await?;
    assert_eq!((status, body["error"].as_str()), (409, Some("the agent is not connected")), "{body}");
    assert!(asked.elapsed() < Duration::from_secs(2));

    // Started again: back, with no token.
    let agent = AgentProcess::start(&ns, dir.path(), &[])?;
    wait_state(&api, "box-1", "running", Duration::from_secs(20)).await.with_context(|| agent.log())?;

    // Revoked: the open link closes at once and the next connection is refused.
    let (status, _) = api.call("DELETE", "/api/agents/box-1", None).await?;
    assert_eq!(status, 204);
    wait_for("the revoked agent's link to close", Duration::from_secs(5), || async {
        let log = agent.log();
        Ok(if log.contains("the agent was revoked") { Ok(()) } else { Err(log) })
    })
    .await?;
    assert!(host(&api, "box-1").await?.is_none(), "a revoked agent's host is gone");
    wait_for("the revoked agent to be refused", Duration::from_secs(20), || async {
        let log = agent.log();
        Ok(if log.matches("the agent was revoked").count() >= 2 { Ok(()) } else { Err(log) })
    })
    .await?;
    agent.kill().await;
    Ok(())
}

/// Starts a controller listening in `ns`'s veth, logs in in a browser, enrols and runs an agent
/// in the namespace as `host`, configured with `agent_toml`.
async fn browser_setup(
    ns: &Namespace,
    dir: &Path,
    host: &str,
    agent_toml: &str,
) -> anyhow::Result<(Controller, e2e::browser::Browser, AgentProcess)> {
    let listen = format!("{}:0", ns.host);
    let controller = Controller::start(|c| c.listen = listen.parse().unwrap_or(c.listen)).await?;
    let browser = e2e::browser::Browser::start().await?;
    browser.first_login(&controller).await?;
    let made = browser.api("POST", "/api/agents/enrolments", json!({ "host_id": host })).await?;
    let (token, pin) =
        (made["body"]["token"].as_str().unwrap_or_default(), made["body"]["pin"].as_str().unwrap_or_default());
    let enrolled = enroll(ns, &controller.url, token, pin, &dir.join("state.json")).await?;
    anyhow::ensure!(enrolled.status.success(), "{enrolled:?}");
    std::fs::write(dir.join("agent.toml"), agent_toml)?;
    let agent = AgentProcess::start(ns, dir, &[])?;
    Ok((controller, browser, agent))
}

const SHELL_AS_NOBODY: &str = "run_as = \"nobody\"\nconsole_shell = \"/bin/sh\"\n";

/// Waits for the browser's host list to show the agent connected, with its machine.
async fn listed_as_connected(browser: &e2e::browser::Browser, agent: &AgentProcess) -> anyhow::Result<()> {
    use fantoccini::Locator;
    let c = &browser.client;
    wait_for("the agent's host to show connected", Duration::from_secs(30), || async {
        // The list loads after the page asks for it; it does not refresh by itself, so a list
        // that shows the host not yet connected is asked for again.
        let Ok(table) = c.find(Locator::Css("table.hosts")).await else {
            return Ok(Err("the host list is loading".to_string()));
        };
        let text = table.text().await.unwrap_or_default();
        if text.contains("agent connected") && text.contains("kernel") {
            return Ok(Ok(()));
        }
        c.find(Locator::Id("nav-hosts")).await?.click().await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok(Err(text))
    })
    .await
    .with_context(|| agent.log())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_hosts_console_and_directives_work_in_the_browser() -> anyhow::Result<()> {
    use fantoccini::Locator;
    let ns = Namespace::new()?;
    let dir = tempfile::tempdir()?;
    let (_controller, browser, agent) = browser_setup(&ns, dir.path(), "box-2", SHELL_AS_NOBODY).await?;
    let c = &browser.client;
    listed_as_connected(&browser, &agent).await?;
    browser.open_console("box-2").await?;
    let hello = format!("hello-{}", e2e::marker());
    browser.type_keys(&format!("echo {hello}\n")).await?;
    // Typed, echoed, and printed: twice on the screen.
    browser
        .wait_screen("the echo on the agent's console", Duration::from_secs(15), |t| t.matches(&hello).count() >= 2)
        .await?;

    // Directives, from the console page.
    c.find(Locator::Id("btn-directives")).await?.click().await?;
    let field = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("directive-command")).await?;
    field.send_keys("for i in 1 2 3; do echo tick-$i; sleep 1; done; echo oops >&2; exit 3").await?;
    c.find(Locator::Id("directive-run")).await?.click().await?;
    let output = wait_for("the directive's output and exit", Duration::from_secs(20), || async {
        // The exit first: it comes last, so the output read after it is whole.
        let exit = browser.text_of("directive-exit").await.unwrap_or_default();
        let out = browser.text_of("directive-output").await.unwrap_or_default();
        Ok(if exit.contains("exit status 3") { Ok(out) } else { Err(format!("{out} / {exit}")) })
    })
    .await?;
    assert!(output.contains("tick-1\ntick-2\ntick-3\noops"), "{output}");

    // An administrator saves a command for every agent host, runs it by name, and deletes it.
    c.find(Locator::Css("#saved-manage summary")).await?.click().await?;
    let field = c.find(Locator::Id("directive-command")).await?;
    field.clear().await?;
    field.send_keys("uname -s; echo saved-run").await?;
    c.find(Locator::Id("saved-name")).await?.send_keys("kernel name").await?;
    c.find(Locator::Id("saved-save")).await?.click().await?;
    let by_name = Locator::Css("#directive-saved option[value='kernel name']");
    c.wait().at_most(Duration::from_secs(10)).for_element(by_name).await?.click().await?;
    wait_for("the saved directive's output", Duration::from_secs(20), || async {
        let exit = browser.text_of("directive-exit").await.unwrap_or_default();
        let out = browser.text_of("directive-output").await.unwrap_or_default();
        let done = exit.contains("exit status 0") && out.contains("Linux\nsaved-run");
        Ok(if done { Ok(()) } else { Err(format!("{out} / {exit}")) })
    })
    .await?;
    c.find(Locator::Css(".saved-delete[data-name='kernel name']")).await?.click().await?;
    wait_for("the saved directive to be gone", Duration::from_secs(10), || async {
        let listed = browser.text_of("saved-list").await.unwrap_or_default();
        Ok(if listed.contains("kernel name") { Err(listed) } else { Ok(()) })
    })
    .await?;
    agent.kill().await;
    browser.close().await;
    Ok(())
}

/// An agent configured with the machine's own VNC server (a TigerVNC desktop on the
/// namespace's loopback, unreachable from the controller) shows it as the host's screen, and
/// takes the keyboard; its shell stays as the host's serial console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_hosts_own_vnc_desktop_is_its_screen_in_the_browser() -> anyhow::Result<()> {
    let ns = Namespace::new()?;
    let dir = tempfile::tempdir()?;
    let mut x = e2e::xvnc::Xvnc::start_in(800, 600, Some(&ns.name)).await?;
    let typed = dir.path().join("typed.txt");
    x.run("xsetroot", &["-solid", "#204060"])?;
    // No window manager: keys go to the window under the pointer, which starts mid-screen.
    x.run("xterm", &["-geometry", "132x50+0+0", "-e", "sh", "-c", &format!("cat > {}", typed.display())])?;
    let config = format!("{SHELL_AS_NOBODY}screen = \"127.0.0.1:{}\"\n", x.port);
    let (_controller, browser, agent) = browser_setup(&ns, dir.path(), "desk-1", &config).await?;
    listed_as_connected(&browser, &agent).await?;
    browser.open_console("desk-1").await?;
    let within = Duration::from_secs(30);
    wait_for("the desktop's size on the canvas", within, || async {
        let seen = browser.canvas_digest("console-canvas").await.ok();
        Ok(if seen.as_ref().is_some_and(|(w, h, _)| (*w, *h) == (800, 600)) {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        })
    })
    .await
    .with_context(|| agent.log())?;
    // The user's pointer over the screen: the server hands its shape to the browser rather than
    // paint it into the picture.
    let canvas = browser.client.find(fantoccini::Locator::Id("console-canvas")).await?;
    let to_middle = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
        element: canvas,
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    browser.client.perform_actions(to_middle).await?;
    x.wait_for_canvas(&browser, within).await.with_context(|| agent.log())?;
    let line = format!("typed-{}", e2e::marker());
    browser.type_keys(&format!("{line}\n")).await?;
    wait_for("the typed line in the X client's file", within, || async {
        let text = std::fs::read_to_string(&typed).unwrap_or_default();
        Ok(if text == format!("{line}\n") { Ok(()) } else { Err(format!("{text:?}")) })
    })
    .await?;
    x.wait_for_canvas(&browser, within).await?;
    agent.kill().await;
    browser.close().await;
    Ok(())
}

/// Follows a directive's output keeping nothing of it: the bytes it accounted for (text, and
/// what was dropped before this reader got to it), and its exit.
async fn follow_counting(api: &ApiClient, host: &str, id: u64) -> anyhow::Result<(u64, Value)> {
    let response = api.http.get(format!("{}/api/hosts/{host}/directives/{id}/output", api.base)).send().await?;
    let mut body = response.bytes_stream();
    let (mut text, mut exit, mut partial) = (0u64, Value::Null, Vec::new());
    let read = async {
        while let Some(chunk) = body.next().await {
            partial.extend_from_slice(&chunk?);
            while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                let line: Value = serde_json::from_slice(&partial[..end])?;
                partial.drain(..=end);
                text += line["stdout"].as_str().map_or(0, |t| t.len() as u64);
                text += line["lost"].as_u64().unwrap_or(0);
                if !line["exit"].is_null() {
                    exit = line["exit"].clone();
                }
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.context("the output stream never ended")??;
    Ok((text, exit))
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().to_string()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Connects to `/agent/link` as a fake agent, sends `first`, and returns the close frame's code.
async fn fake_agent(controller: &Controller, first: Vec<u8>) -> anyhow::Result<Option<u16>> {
    use futures_util::SinkExt;
    use rustls::pki_types::pem::PemObject;
    use tokio_tungstenite::tungstenite::Message;
    let host = controller.url.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(host).await?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(controller.cert_path())? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = host.rsplit_once(':').map_or(host, |(ip, _)| ip).to_string();
    let stream = tls.connect(rustls::pki_types::ServerName::try_from(name)?, tcp).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://{host}/agent/link"), stream).await?;
    ws.send(Message::Binary(first.into())).await?;
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await?;
    Ok(ended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_agents_and_a_flooding_directive_harm_only_themselves() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ns = Namespace::new()?;
    let listen = format!("{}:0", ns.host);
    // A limit well above what the controller keeps, small enough for a debug build to reach soon.
    let limit = 16 << 20;
    let controller = Controller::start(|c| {
        c.listen = listen.parse().unwrap_or(c.listen);
        c.agents.directive_max_output_bytes = limit;
    })
    .await?;
    let api = admin(&controller).await?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("agent.toml"), "run_as = \"nobody\"\n")?;
    let made = new_enrolment(&api, "box-3").await?;
    let state = dir.path().join("state.json");
    let enrolled = enroll(
        &ns,
        &controller.url,
        made["token"].as_str().unwrap_or_default(),
        made["pin"].as_str().unwrap_or_default(),
        &state,
    )
    .await?;
    anyhow::ensure!(enrolled.status.success(), "{enrolled:?}");
    let agent = AgentProcess::start(&ns, dir.path(), &[])?;
    wait_state(&api, "box-3", "running", Duration::from_secs(20)).await.with_context(|| agent.log())?;

    // Junk, an unknown agent, and the real agent's id without its keys: each is closed with its
    // own code, and the real agent's link carries on.
    assert_eq!(fake_agent(&controller, b"\x01\x07junk".to_vec()).await?, Some(4400));
    let unknown = agent_link::hello::Hello::Run { agent_id: "nobody-knows".into(), epochs: vec![1] }.encode();
    assert_eq!(fake_agent(&controller, [unknown, vec![0; 96]].concat()).await?, Some(4401));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state)?)?;
    let real_id = saved["agent_id"].as_str().unwrap_or_default().to_string();
    let impostor = agent_link::hello::Hello::Run { agent_id: real_id, epochs: vec![1] }.encode();
    assert_eq!(fake_agent(&controller, [impostor, vec![7; 96]].concat()).await?, Some(4401));
    let id = directive(&api, "box-3", "echo still-here").await?;
    assert_eq!(text_of(&follow(&api, "box-3", id).await?, "stdout"), "still-here\n");

    // An operator granted directives here follows one; the grant is withdrawn: the output stream
    // ends within a re-check, and the next directive is refused.
    let (status, otto) = api
        .call(
            "POST",
            "/api/users",
            Some(json!({ "username": "otto", "password": "otto's first password", "role": "Operator" })),
        )
        .await?;
    assert_eq!(status, 200, "{otto}");
    let otto_id = otto["id"].as_i64().unwrap_or_default();
    let mut operator = ApiClient::new(&controller)?;
    operator.first_login("otto", "otto's first password", "otto's own password").await?;
    let (status, _) = operator.call("POST", "/api/hosts/box-3/directives", Some(json!({ "command": "true" }))).await?;
    assert_eq!(status, 403, "an operator has no directives by default");
    let grant = json!({ "view": true, "control": true, "power": true, "run": true });
    assert_eq!(api.call("PUT", &format!("/api/hosts/box-3/access/{otto_id}"), Some(grant)).await?.0, 204);
    let long = directive(&operator, "box-3", "sleep 60").await?;
    let stream = follow(&operator, "box-3", long);
    let withdraw = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let none = json!({ "view": true, "control": false, "power": false, "run": false });
        api.call("PUT", &format!("/api/hosts/box-3/access/{otto_id}"), Some(none)).await
    };
    let started = Instant::now();
    let (lines, withdrawn) = tokio::join!(stream, withdraw);
    assert_eq!(withdrawn?.0, 204);
    let lines = lines?;
    assert!(started.elapsed() < Duration::from_secs(10), "the stream outlived the right by {:?}", started.elapsed());
    assert!(
        lines.last().is_some_and(|(_, l)| l["error"].as_str().is_some_and(|e| e.contains("withdrawn"))),
        "{lines:?}"
    );
    let (status, _) = operator.call("POST", "/api/hosts/box-3/directives", Some(json!({ "command": "true" }))).await?;
    assert_eq!(status, 403);
    let (status, _) = api.call("POST", &format!("/api/hosts/box-3/directives/{long}/cancel"), None).await?;
    assert_eq!(status, 202);

    // A flood: it ends at the output limit, the controller keeps only the newest MiB, and its
    // memory stays flat.
    let before = resident_kib();
    let flood = directive(&api, "box-3", "yes").await?;
    let (streamed, exit) = follow_counting(&api, "box-3", flood).await?;
    assert_eq!(streamed, limit, "a reader from the start is told of every byte");
    assert_eq!((exit["reason"].as_str(), exit["output_bytes"].as_u64()), (Some("output limit"), Some(limit)), "{exit}");
    let late_reader = follow(&api, "box-3", flood).await?;
    let lost = late_reader.first().and_then(|(_, l)| l["lost"].as_u64()).unwrap_or(0);
    let kept: usize = text_of(&late_reader, "stdout").len();
    assert!(kept <= 1 << 20 && lost + kept as u64 == limit, "kept {kept}, lost {lost}");
    let grown = resident_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "the controller grew by {grown} KiB over a {limit}-byte flood");
    wait_state(&api, "box-3", "running", Duration::from_secs(1)).await?;
    agent.kill().await;
    Ok(())
}

/// Not a test of its own: the crash tests start this test binary again as a separate process
/// (a crash point aborts the whole process) running this, a controller whose agents refresh
/// their keys every 2 s.
#[test]
fn controller_process_for_crash_tests() -> anyhow::Result<()> {
    e2e::process::serve_from_env(|config| {
        config.agents.refresh_seconds = 2;
        config.agents.ping_seconds = 1;
        Ok(())
    })
}

/// The controller above, as a process of its own (`LANTERN_TEST_CRASH_AT` naming where it dies).
async fn controller_process(data: &Path, port: u16, crash_at: Option<&str>) -> anyhow::Result<ControllerProcess> {
    let crash = crash_at.map(|step| ("LANTERN_TEST_CRASH_AT", step));
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let env: Vec<_> = crash.into_iter().collect();
    ControllerProcess::start("controller_process_for_crash_tests", None, data, listen, &env).await
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How many times the host's event log shows its agent connecting.
async fn connections(api: &ApiClient) -> anyhow::Result<usize> {
    let (_, events) = api.call("GET", "/api/hosts/crashy/events?limit=500", None).await?;
    Ok(events.to_string().matches("agent connected").count())
}

/// How many refreshes the host's event log shows as completed.
async fn refreshes(api: &ApiClient, host: &str) -> anyhow::Result<usize> {
    let (_, events) = api.call("GET", &format!("/api/hosts/{host}/events?limit=500"), None).await?;
    Ok(events.to_string().matches("association refreshed to generation").count())
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Side {
    Controller,
    Agent,
}

/// Kills `side` (as `kill -9` would) at `step` of the association's refresh, starts it again,
/// and checks the agent still connects, the next refresh completes, and a further restart of the
/// agent connects too: no interleaving of crashes locks the agent out.
async fn a_crash_at(side: Side, step: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("controller");
    let port = free_port()?;
    let password = "a crash test password";
    let mut controller = controller_process(&data, port, (side == Side::Controller).then_some(step)).await?;
    let api = controller.admin(password).await?;
    let made = new_enrolment(&api, "crashy").await?;
    let (token, pin) = (made["token"].as_str().unwrap_or_default(), made["pin"].as_str().unwrap_or_default());
    let enrolled = enroll(None, &controller.url, token, pin, &dir.path().join("state.json")).await?;
    anyhow::ensure!(enrolled.status.success(), "{enrolled:?}");
    std::fs::write(dir.path().join("agent.toml"), "")?;
    let crash_env = [("LANTERN_TEST_CRASH_AT", step)];
    let agent_env: &[(&str, &str)] = if side == Side::Agent { &crash_env } else { &[] };
    let mut agent = AgentProcess::start(None, dir.path(), agent_env)?;
    // The refresh comes two seconds after the agent connects: the chosen side dies in it.
    let api = match side {
        Side::Controller => {
            controller.crashed(Duration::from_secs(30)).await.with_context(|| agent.log())?;
            controller = controller_process(&data, port, None).await?;
            controller.admin(password).await?
        }
        Side::Agent => {
            let status = tokio::time::timeout(Duration::from_secs(30), agent.child.wait())
                .await
                .context("the agent did not crash")??;
            anyhow::ensure!(!status.success(), "the agent exited cleanly");
            agent = AgentProcess::start(None, dir.path(), &[])?;
            api
        }
    };
    connected(&api, "crashy", Duration::from_secs(30))
        .await
        .with_context(|| format!("crash at {step} on the {side:?}: {}", agent.log()))?;
    let before = refreshes(&api, "crashy").await?;
    wait_for("a refresh after the crash", Duration::from_secs(30), || async {
        let now = refreshes(&api, "crashy").await?;
        Ok(if now > before { Ok(()) } else { Err(format!("{now} refreshes")) })
    })
    .await?;
    let before = connections(&api).await?;
    agent.kill().await;
    let agent = AgentProcess::start(None, dir.path(), &[])?;
    wait_for("the agent back after its restart", Duration::from_secs(30), || async {
        let now = connections(&api).await?;
        Ok(if now > before { Ok(()) } else { Err(agent.log()) })
    })
    .await?;
    agent.kill().await;
    drop(controller);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_killed_at_any_step_of_a_refresh_locks_no_agent_out() -> anyhow::Result<()> {
    for step in ["ready", "acknowledge", "confirm"] {
        a_crash_at(Side::Controller, step).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_killed_at_any_step_of_a_refresh_is_not_locked_out() -> anyhow::Result<()> {
    for step in ["ready", "acknowledge", "confirm"] {
        a_crash_at(Side::Agent, step).await?;
    }
    Ok(())
}

/// The test guest's kernel and initrd with the agent overlay appended (scripts/guest-image.sh
/// and scripts/guest-agent.sh build them).
fn guest_with_agent(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let guest = e2e::workspace_root().join("target/guest");
    let (kernel, initrd, overlay) = (guest.join("vmlinuz"), guest.join("initrd.gz"), guest.join("agent.cpio.gz"));
    for file in [&kernel, &initrd, &overlay] {
        anyhow::ensure!(
            file.exists(),
            "{} is missing: run scripts/guest-image.sh and scripts/guest-agent.sh",
            file.display()
        );
    }
    // Concatenated archives: the kernel unpacks one after the other.
    let combined = dir.join("initrd-with-agent.gz");
    std::fs::write(&combined, [std::fs::read(&initrd)?, std::fs::read(&overlay)?].concat())?;
    Ok((kernel, combined))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_in_a_qemu_guest_dials_out_through_user_networking() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (kernel, initrd) = guest_with_agent(dir.path())?;
    let port = free_port()?;
    let controller = Controller::start(|c| c.listen = format!("127.0.0.1:{port}").parse().unwrap_or(c.listen)).await?;
    let api = admin(&controller).await?;
    let made = new_enrolment(&api, "guest").await?;
    // The guest reaches this machine's loopback as 10.0.2.2, through QEMU's user networking only.
    let enroll = format!(
        "https://10.0.2.2:{port},{},{}",
        made["token"].as_str().unwrap_or_default(),
        made["pin"].as_str().unwrap_or_default()
    );
    let serial = dir.path().join("serial.log");
    let mut qemu = tokio::process::Command::new("qemu-system-x86_64")
        .args(["-nodefaults", "-no-user-config", "-machine", "pc", "-accel", "tcg", "-m", "256", "-display", "none"])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", &format!("console=ttyS0 quiet lantern.agent=off lantern.enroll={enroll}")])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .args(["-nic", "user,model=virtio-net-pci"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let serial_log = || std::fs::read_to_string(&serial).unwrap_or_default();
    let live = wait_state(&api, "guest", "running", Duration::from_secs(120)).await.with_context(serial_log)?;
    assert_eq!(live["kind"], "agent");
    // A separate machine: its own kernel, the guest's.
    let id = directive(&api, "guest", "uname -r; cat /proc/cmdline").await?;
    let out = follow(&api, "guest", id).await?;
    let text = text_of(&out, "stdout");
    assert!(text.contains("cloud-amd64") && text.contains("lantern.enroll"), "{text}");
    assert_eq!(exit_of(&out)["code"], 0);
    let _ = qemu.start_kill();
    let _ = qemu.wait().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_whose_health_check_fails_is_rebooted_through_its_agent() -> anyhow::Result<()> {
    let ns = Namespace::new()?;
    let listen = format!("{}:0", ns.host);
    let controller = Controller::start(|c| {
        c.listen = listen.parse().unwrap_or(c.listen);
        c.agents.recovery = Some(controller_server::config::RecoveryConfig {
            enabled: true,
            timeout_seconds: 3,
            max_resets: 1,
            window_seconds: 3600,
        });
    })
    .await?;
    let api = admin(&controller).await?;
    let dir = tempfile::tempdir()?;
    let (healthy, rebooted) = (dir.path().join("healthy"), dir.path().join("rebooted"));
    std::fs::write(&healthy, "")?;
    std::fs::write(
        dir.path().join("agent.toml"),
        format!(
            "run_as = \"nobody\"\nheartbeat_seconds = 1\nheartbeat_check = [\"test\", \"-e\", \"{}\"]\n\
             reboot_command = [\"touch\", \"{}\"]\n",
            healthy.display(),
            rebooted.display()
        ),
    )?;
    let made = new_enrolment(&api, "watched").await?;
    let (token, pin) = (made["token"].as_str().unwrap_or_default(), made["pin"].as_str().unwrap_or_default());
    let enrolled = enroll(&ns, &controller.url, token, pin, &dir.path().join("state.json")).await?;
    anyhow::ensure!(enrolled.status.success(), "{enrolled:?}");
    let agent = AgentProcess::start(&ns, dir.path(), &[])?;
    let listed = wait_state(&api, "watched", "running", Duration::from_secs(20)).await.with_context(|| agent.log())?;
    assert_eq!(listed["recovery"], true);
    // Healthy: the agent's heartbeat keeps the timer from expiring.
    wait_for("the recovery timer armed by the agent's heartbeat", Duration::from_secs(10), || async {
        let (_, status) = api.call("GET", "/api/hosts/watched/recovery", None).await?;
        Ok(if status["armed"] == true && status["last_source"] == "agent" { Ok(()) } else { Err(status.to_string()) })
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!rebooted.exists(), "a healthy machine was rebooted");
    // The check fails: the heartbeat stops, and the controller reboots the machine through it.
    std::fs::remove_file(&healthy)?;
    wait_for("the reboot through the agent", Duration::from_secs(20), || async {
        Ok(if rebooted.exists() { Ok(()) } else { Err(agent.log()) })
    })
    .await?;
    let (_, events) = api.call("GET", "/api/hosts/watched/events", None).await?;
    assert!(events.to_string().contains("Automatic recovery: no heartbeat for 3 s; resetting the host"), "{events}");
    agent.kill().await;
    Ok(())
}
