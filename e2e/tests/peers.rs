//! Moving between cooperating controllers in the browser, without logging in again.

use std::time::Duration;

use controller_server::config::PeerConfig;
use controller_server::federation::Node;
use e2e::browser::Browser;
use e2e::{key, marker, wait_for, Controller};
use fantoccini::key::Key;
use fantoccini::Locator;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_moves_to_a_cooperating_controller_without_logging_in_again() {
    let keys = tempfile::tempdir().expect("temp dir");
    let (a_key, b_key) = (keys.path().join("a"), keys.path().join("b"));
    std::fs::write(&a_key, [1u8; 32]).expect("key");
    std::fs::write(&b_key, [2u8; 32]).expect("key");
    let (a_port, b_port) = (free_port(), free_port());
    let peer = |id: &str, port: u16, seed: u8| PeerConfig {
        id: id.into(),
        url: format!("https://127.0.0.1:{port}"),
        public_key: Node::from_seed(id.into(), [seed; 32]).public_key(),
        // Each trusts the other's administrators as administrators (the default is ReadOnly).
        role_cap: controller_server::store::Role::Administrator,
        ca_file: None,
        kerberos: false,
    };
    let (to_b, to_a) = (peer("node-b", b_port, 2), peer("node-a", a_port, 1));
    let a = Controller::start(|c| {
        c.listen = ([127, 0, 0, 1], a_port).into();
        c.node_id = "node-a".into();
        c.node_key_file = Some(a_key);
        c.peers = vec![to_b];
    })
    .await
    .expect("controller A");
    let b = Controller::start(|c| {
        c.listen = ([127, 0, 0, 1], b_port).into();
        c.node_id = "node-b".into();
        c.node_key_file = Some(b_key);
        c.peers = vec![to_a];
    })
    .await
    .expect("controller B");
    let browser = Browser::start().await.expect("browser");
    let result: anyhow::Result<()> = async {
        browser.first_login(&a).await?;
        let open_on =
            browser.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("open-on")).await?;
        open_on.select_by_value("node-b").await?;
        wait_for("arrival on controller B, logged in", Duration::from_secs(20), || async {
            let url = browser.client.current_url().await?.to_string();
            let user = browser.text_of("current-user").await.unwrap_or_default();
            Ok(if url == format!("{}/", b.url) && user == "admin@node-a (Administrator)" {
                Ok(())
            } else {
                Err(format!("{url} {user}"))
            })
        })
        .await?;
        browser.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("open-local")).await?;
        browser.open_console("local").await?;
        let m = marker();
        browser.type_keys(&format!("echo moved-{m}{}", key(Key::Enter))).await?;
        browser
            .wait_screen("output on controller B", Duration::from_secs(10), |t| {
                t.lines().any(|l| l == format!("moved-{m}"))
            })
            .await?;
        // The token in the address bar was used up and removed; the same one again fails.
        assert!(!browser.client.current_url().await?.as_str().contains("sso="));
        Ok(())
    }
    .await;
    browser.close().await;
    result.unwrap();
}
