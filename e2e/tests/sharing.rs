//! Shared viewing with two real browsers: both see the same screen, one holds the keyboard and
//! mouse, control is asked for, given, and passes by itself from an idle holder; a viewer who
//! leaves the page stops watching.

use std::time::Duration;

use e2e::browser::Browser;
use e2e::{key, marker, wait_for, Controller};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

async fn wait_text(browser: &Browser, id: &str, what: &str, check: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    wait_for(what, WAIT, || async {
        let text = browser.text_of(id).await.unwrap_or_default();
        Ok(if check(&text) { Ok(text.clone()) } else { Err(text) })
    })
    .await
}

async fn click(browser: &Browser, id: &str) -> anyhow::Result<()> {
    browser.client.find(Locator::Id(id)).await?.click().await?;
    Ok(())
}

async fn scenario(controller: &Controller, alice: &Browser, bob: &Browser) -> anyhow::Result<()> {
    alice.admin_with_operator(controller, bob, "bob").await?;

    alice.open_console("local").await?;
    wait_text(alice, "sharing-holder", "alice holds control", |t| t == "You have the keyboard and mouse").await?;
    bob.open_console("local").await?;
    wait_text(bob, "sharing-holder", "bob sees who holds control", |t| t == "admin has the keyboard and mouse").await?;
    wait_text(alice, "sharing-viewers", "alice sees bob watching", |t| t == "Watching: admin (you), bob").await?;

    // Both see what the holder types.
    let m = marker();
    alice.type_keys(&format!("echo alice-$((1+2))-{m}{}", key(Key::Enter))).await?;
    for b in [alice, bob] {
        b.wait_screen("alice's output", WAIT, |t| t.lines().any(|l| l == format!("alice-3-{m}"))).await?;
    }

    // Bob's keys go nowhere while alice holds control (a later line of alice's proves order).
    bob.type_keys(&format!("echo bob-early-{m}{}", key(Key::Enter))).await?;
    alice.type_keys(&format!("echo sync-{m}{}", key(Key::Enter))).await?;
    let screen = bob.wait_screen("the sync line", WAIT, |t| t.lines().any(|l| l == format!("sync-{m}"))).await?;
    assert!(!screen.contains(&format!("bob-early-{m}")), "{screen}");

    // Bob asks; alice is asked and gives it.
    click(bob, "btn-request-control").await?;
    wait_text(alice, "sharing-request", "alice is asked", |t| t == "bob asks for the keyboard and mouse").await?;
    click(alice, "btn-give-control").await?;
    wait_text(bob, "sharing-holder", "bob holds control", |t| t == "You have the keyboard and mouse").await?;
    wait_text(alice, "sharing-holder", "alice sees bob holds it", |t| t == "bob has the keyboard and mouse").await?;
    bob.type_keys(&format!("echo bob-$((2+2))-{m}{}", key(Key::Enter))).await?;
    alice.wait_screen("bob's output on alice's screen", WAIT, |t| t.lines().any(|l| l == format!("bob-4-{m}"))).await?;

    // Alice asks back; bob stays idle, so control passes to her by itself.
    click(alice, "btn-request-control").await?;
    wait_text(alice, "sharing-holder", "control back with alice", |t| t == "You have the keyboard and mouse").await?;
    alice.type_keys(&format!("echo back-{m}{}", key(Key::Enter))).await?;
    bob.wait_screen("alice typing again", WAIT, |t| t.lines().any(|l| l == format!("back-{m}"))).await?;

    // Every change of hands is in the audit trail.
    let page = alice.api("GET", "/api/audit?limit=50", json!(null)).await?;
    let reasons: Vec<String> = page["body"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter(|r| r["action"] == "console.control")
                .map(|r| {
                    let detail: serde_json::Value =
                        serde_json::from_str(r["detail"].as_str().unwrap_or("{}")).unwrap_or_default();
                    format!("{}: {}", r["actor"].as_str().unwrap_or(""), detail["reason"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default();
    for expected in ["admin: first to arrive", "bob: given by the holder", "admin: the holder was idle"] {
        assert!(reasons.iter().any(|r| r == expected), "{expected:?} missing from {reasons:?} ({})", page["body"]);
    }

    // Bob leaves the page for another one: his link closes (the browser may keep the page,
    // frozen, to go back to, but not the link), and he is no longer watching. Back on the
    // console page, he is watching again.
    bob.client.goto(&format!("{}/api/session", controller.url)).await?;
    wait_text(alice, "sharing-viewers", "bob gone from the viewers", |t| t == "Watching: admin (you)").await?;
    bob.client.back().await?;
    wait_text(alice, "sharing-viewers", "bob back among the viewers", |t| t == "Watching: admin (you), bob").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_see_the_same_screen_and_control_passes_between_them() {
    let controller = Controller::start(|c| c.console.control_idle_seconds = 3).await.expect("controller starts");
    let alice = Browser::start().await.expect("first browser starts");
    let bob = Browser::start().await.expect("second browser starts");
    let result = scenario(&controller, &alice, &bob).await;
    alice.close().await;
    bob.close().await;
    result.unwrap();
}
