//! The *Sessions* page with two real browsers: an administrator sees another user's console
//! link (user, source address, host, listener, suite) and web session, ends the link, and the
//! other browser's console says an administrator ended it; then ends the web session, and the
//! other browser is logged out. Both are in the audit trail.

use std::time::{Duration, Instant};

use e2e::browser::Browser;
use e2e::{wait_for, Controller};
use fantoccini::Locator;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// The first element `css` finds, once it is there.
async fn find(browser: &Browser, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    Ok(browser.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await?)
}

async fn scenario(controller: &Controller, admin: &Browser, bob: &Browser) -> anyhow::Result<()> {
    admin.admin_with_operator(controller, bob, "bob").await?;
    bob.open_console("local").await?;

    // The administrator's Sessions page lists bob's link and web session.
    admin.client.find(Locator::Id("nav-sessions")).await?.click().await?;
    let row = find(admin, r#"#console-links tr.console-link[data-user="bob"]"#).await?;
    let cells: Vec<String> = {
        let mut texts = Vec::new();
        for cell in row.find_all(Locator::Css("td")).await? {
            texts.push(cell.text().await?);
        }
        texts
    };
    assert_eq!(cells[0], "bob", "{cells:?}");
    assert_eq!(cells[1], "127.0.0.1", "the source address: {cells:?}");
    assert_eq!((cells[3].as_str(), cells[4].as_str()), ("local", "wss"), "{cells:?}");
    assert_eq!(cells[5], "chacha20-poly1305", "{cells:?}");
    let web_rows = admin.client.find_all(Locator::Css("#web-sessions tr.web-session")).await?;
    let mut bobs_web = None;
    for r in web_rows {
        let user = r.find(Locator::Css("td")).await?.text().await?;
        if user == "bob" {
            bobs_web = Some(r.find(Locator::Css("button")).await?);
        }
    }
    let bobs_web = bobs_web.expect("bob's web session is listed");

    // Ended: bob's console says who ended it, and does not come back by itself.
    let pressed = Instant::now();
    row.find(Locator::Css("button")).await?.click().await?;
    let said = wait_for("bob's console to say it was ended", WAIT, || async {
        let message = bob.text_of("status-message").await.unwrap_or_default();
        let state = bob.text_of("status-state").await.unwrap_or_default();
        Ok(if state == "closed" && message.contains("ended by an administrator (admin)") {
            Ok(message)
        } else {
            Err(format!("{state}: {message}"))
        })
    })
    .await?;
    let took = pressed.elapsed();
    eprintln!("bob's console said {said:?} {} ms after the click", took.as_millis());
    assert!(took < Duration::from_secs(2), "took {took:?}");
    wait_for("the link off the Sessions page", WAIT, || async {
        let left = admin.client.find_all(Locator::Css("#console-links tr.console-link")).await?.len();
        Ok(if left == 0 { Ok(()) } else { Err(format!("{left} links listed")) })
    })
    .await?;

    // Bob's web session, ended: his next request is refused.
    bobs_web.click().await?;
    wait_for("bob logged out", WAIT, || async {
        let status = bob
            .js_async("fetch('/api/session').then((r) => arguments[0](r.status))", vec![])
            .await?
            .as_u64()
            .unwrap_or_default();
        Ok(if status == 401 { Ok(()) } else { Err(format!("answered {status}")) })
    })
    .await?;

    // Both ends are in the audit trail, by the administrator, naming bob.
    let page = admin.api("GET", "/api/audit?limit=50", json!(null)).await?;
    let ends: Vec<(String, String)> = page["body"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "session.end" && r["actor"] == "admin")
        .filter_map(|r| {
            let detail: serde_json::Value = serde_json::from_str(r["detail"].as_str()?).ok()?;
            Some((detail["kind"].as_str()?.to_string(), detail["user"].as_str()?.to_string()))
        })
        .collect();
    for kind in ["console", "web"] {
        assert!(ends.contains(&(kind.to_string(), "bob".to_string())), "{kind} missing from {ends:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_ends_another_browsers_console_and_session() {
    let controller = Controller::start(|_| {}).await.expect("controller starts");
    let admin = Browser::start().await.expect("first browser starts");
    let bob = Browser::start().await.expect("second browser starts");
    let result = scenario(&controller, &admin, &bob).await;
    admin.close().await;
    bob.close().await;
    result.unwrap();
}
