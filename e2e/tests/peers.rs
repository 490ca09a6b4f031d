//! Moving between cooperating controllers in the browser, without logging in again: the
//! session's data comes along (the consoles open, the preferences), and a move back fetches
//! only what changed.

use std::time::Duration;

use controller_server::config::PeerConfig;
use controller_server::federation::Node;
use e2e::browser::Browser;
use e2e::{free_port, key, marker, wait_for, Controller};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::Value;

/// The details of `controller`'s audit records of `action`, once there are `n` of them.
async fn records(controller: &Controller, action: &str, n: usize) -> anyhow::Result<Vec<(String, String, Value)>> {
    wait_for(&format!("{n} {action} records"), Duration::from_secs(10), || async {
        let found: Vec<(String, String, Value)> = controller
            .running
            .state
            .audit
            .all()?
            .into_iter()
            .filter(|r| r.action == action)
            .map(|r| (r.actor, r.target, serde_json::from_str(&r.detail).unwrap_or_default()))
            .collect();
        Ok(if found.len() >= n { Ok(found) } else { Err(format!("{} so far", found.len())) })
    })
    .await
}

/// Picks `peer` in the top bar's *Open on…* and waits until the page is `controller`'s with
/// `user` logged in.
async fn move_to(browser: &Browser, peer: &str, controller: &Controller, user: &str) -> anyhow::Result<()> {
    let open_on = browser.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("open-on")).await?;
    open_on.select_by_value(peer).await?;
    wait_for(&format!("arrival on {peer} as {user}"), Duration::from_secs(20), || async {
        let url = browser.client.current_url().await?.to_string();
        let shown = browser.text_of("current-user").await.unwrap_or_default();
        Ok(if url == format!("{}/", controller.url) && shown == user { Ok(()) } else { Err(format!("{url} {shown}")) })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_moves_with_their_consoles_and_preferences_and_back() {
    let keys = tempfile::tempdir().expect("temp dir");
    let (a_key, b_key) = (keys.path().join("a"), keys.path().join("b"));
    std::fs::write(&a_key, [1u8; 32]).expect("key");
    std::fs::write(&b_key, [2u8; 32]).expect("key");
    // One certificate for both, so that each can check the other's when it fetches.
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("certificate");
    let (cert, tls_key) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("cert");
    std::fs::write(&tls_key, made.signing_key.serialize_pem()).expect("key");
    let (a_port, b_port) = (free_port().expect("port"), free_port().expect("port"));
    let peer = |id: &str, port: u16, seed: u8| PeerConfig {
        id: id.into(),
        url: format!("https://127.0.0.1:{port}"),
        public_key: Node::from_seed(id.into(), [seed; 32]).public_key(),
        // Each trusts the other's administrators as administrators (the default is ReadOnly).
        role_cap: controller_server::store::Role::Administrator,
        ca_file: Some(cert.clone()),
        kerberos: false,
    };
    let (to_b, to_a) = (peer("node-b", b_port, 2), peer("node-a", a_port, 1));
    let tls = |c: &mut controller_server::config::Config| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(tls_key.clone());
    };
    let a = Controller::start(|c| {
        c.listen = ([127, 0, 0, 1], a_port).into();
        c.node_id = "node-a".into();
        c.node_key_file = Some(a_key);
        c.peers = vec![to_b];
        tls(c);
    })
    .await
    .expect("controller A");
    let b = Controller::start(|c| {
        c.listen = ([127, 0, 0, 1], b_port).into();
        c.node_id = "node-b".into();
        c.node_key_file = Some(b_key);
        c.peers = vec![to_a];
        tls(c);
    })
    .await
    .expect("controller B");
    let browser = Browser::start().await.expect("browser");
    let result: anyhow::Result<()> = async {
        browser.first_login(&a).await?;
        // On A, the console is open when the user moves.
        browser.open_console("local").await?;
        move_to(&browser, "node-b", &b, "admin@node-a (Administrator)").await?;
        assert!(!browser.client.current_url().await?.as_str().contains("sso="), "the token left the address bar");

        // B fetched the session from A, which recorded handing it over, and B offers the console.
        let handed = records(&a, "federation.session-data", 1).await?;
        assert_eq!((handed[0].0.as_str(), handed[0].1.as_str()), ("admin", "node-b"));
        let reopen =
            browser.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("reopen-local")).await?;
        let listed = browser.text_of("carried-consoles").await?;
        assert!(listed.contains("on node-a (control)"), "{listed}");
        reopen.click().await?;
        browser.wait_state("connected", Duration::from_secs(15)).await?;
        let m = marker();
        browser.type_keys(&format!("echo moved-{m}{}", key(Key::Enter))).await?;
        browser
            .wait_screen("output on controller B", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == format!("moved-{m}"))
            })
            .await?;
        // A preference chosen on B: the zoom.
        browser.client.find(Locator::Id("zoom")).await?.select_by_value("2").await?;
        wait_for("the zoom kept on B", Duration::from_secs(10), || async {
            let saved = browser.api("GET", "/api/preferences", Value::Null).await?;
            Ok(if saved["body"]["console.zoom"] == "2" { Ok(()) } else { Err(saved.to_string()) })
        })
        .await?;

        // Home again, as A's own administrator: A fetched only what changed on B.
        move_to(&browser, "node-a", &a, "admin (Administrator)").await?;
        let arrived = records(&a, "login.token", 1).await?;
        let detail = &arrived[0].2;
        assert_eq!(detail["home"], true, "{detail}");
        assert_eq!(detail["fetched"], serde_json::json!(["consoles@node-b", "preferences"]), "{detail}");
        assert_eq!(detail["since"], handed[0].2["version"]);
        let listed = browser
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("carried-consoles"))
            .await?
            .text()
            .await?;
        assert!(listed.contains("on node-b (control)"), "{listed}");
        browser.open_console("local").await?;
        wait_for("the zoom chosen on B", Duration::from_secs(10), || async {
            let zoom = browser.js("return document.getElementById('zoom').value", vec![]).await?;
            Ok(if zoom == "2" { Ok(()) } else { Err(zoom.to_string()) })
        })
        .await?;
        Ok(())
    }
    .await;
    browser.close().await;
    result.unwrap();
}
