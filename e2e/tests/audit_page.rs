//! The *Audit* page as an administrator uses it, in headless Chromium: the filters narrow the
//! table (user, an action, a family of actions), the source address has its column and the
//! details read as fields, the pages go older and back, and the CSV export holds exactly the
//! filtered view.

use std::time::Duration;

use e2e::browser::Browser;
use e2e::client::ApiClient;
use e2e::{key, wait_for, Controller};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// The table's rows now: (actor, action, source, details).
async fn rows(browser: &Browser) -> anyhow::Result<Vec<(String, String, String, String)>> {
    let mut out = Vec::new();
    for row in browser.client.find_all(Locator::Css("#audit-rows tr.audit-record")).await? {
        let cell = |class: &'static str| {
            let row = row.clone();
            async move { row.find(Locator::Css(class)).await?.text().await }
        };
        out.push((
            cell("td.actor").await?,
            cell("td.action").await?,
            cell("td.source").await?,
            cell("td.detail").await?,
        ));
    }
    Ok(out)
}

/// Waits until the table's rows pass `check`.
async fn table_where(
    browser: &Browser,
    what: &str,
    check: impl Fn(&[(String, String, String, String)]) -> bool,
) -> anyhow::Result<Vec<(String, String, String, String)>> {
    wait_for(what, WAIT, || async {
        // A table being drawn again leaves stale rows behind: look again.
        let now = match rows(browser).await {
            Ok(now) => now,
            Err(e) => return Ok(Err(e.to_string())),
        };
        Ok(if check(&now) { Ok(now) } else { Err(format!("{now:?}")) })
    })
    .await
}

async fn set_text(browser: &Browser, id: &str, text: &str) -> anyhow::Result<()> {
    // As a user does: select what is there and type over it (each key an input event).
    let input = browser.client.find(Locator::Id(id)).await?;
    let select_all = format!("{}a{}{}", key(Key::Control), key(Key::Null), key(Key::Backspace));
    input.send_keys(&format!("{select_all}{text}")).await?;
    Ok(())
}

async fn choose(browser: &Browser, id: &str, value: &str) -> anyhow::Result<()> {
    let select = browser.client.find(Locator::Id(id)).await?;
    select.select_by_value(value).await?;
    Ok(())
}

async fn click(browser: &Browser, id: &str) -> anyhow::Result<()> {
    browser.client.find(Locator::Id(id)).await?.click().await?;
    Ok(())
}

async fn scenario(controller: &Controller, admin: &Browser) -> anyhow::Result<()> {
    admin.first_login(controller).await?;
    let user = json!({"username": "bob", "password": "temporary password", "role": "Operator"});
    assert_eq!(admin.api("POST", "/api/users", user).await?["status"], 200);
    // Bob gets his password wrong once, then logs in (from this machine: 127.0.0.1).
    let mut bob = ApiClient::new(controller)?;
    assert!(bob.login("bob", "not his password").await.is_err());
    bob.login("bob", "temporary password").await?;
    // Enough records of one kind for more than one page.
    for n in 0..55 {
        let made = admin.api("POST", "/api/tokens", json!({ "name": format!("token {n}") })).await?;
        assert_eq!(made["status"], 200, "{made}");
    }

    admin.client.find(Locator::Id("nav-audit")).await?.click().await?;
    table_where(admin, "the newest page", |r| r.len() == 50).await?;

    // One user: every row is bob's, his failure among them, with its source and details.
    set_text(admin, "filter-user", "bob").await?;
    click(admin, "filter-apply").await?;
    let bobs =
        table_where(admin, "only bob's records", |r| !r.is_empty() && r.iter().all(|(a, ..)| a == "bob")).await?;
    assert!(bobs.iter().any(|(_, action, ..)| action == "login.failed"), "{bobs:?}");
    assert!(bobs.iter().any(|(_, action, ..)| action == "login.ok"), "{bobs:?}");
    let (_, _, source, detail) = bobs.iter().find(|(_, a, ..)| a == "login.failed").unwrap();
    assert_eq!(source, "127.0.0.1");
    assert!(detail.contains("name known true") && !detail.contains('{'), "readable fields: {detail:?}");

    // One action of his.
    choose(admin, "filter-action", "login.failed").await?;
    click(admin, "filter-apply").await?;
    table_where(admin, "bob's failed login only", |r| r.len() == 1 && r[0].1 == "login.failed").await?;

    // The CSV export is the view: a header and bob's one failed login.
    let href = admin.client.find(Locator::Id("export-csv")).await?.attr("href").await?.unwrap_or_default();
    assert!(href.contains("actor=bob") && href.contains("action=login.failed"), "{href}");
    let csv = admin.js_async("fetch(arguments[0]).then((r) => r.text()).then(arguments[1])", vec![json!(href)]).await?;
    let lines: Vec<&str> = csv.as_str().unwrap_or_default().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("id,at,actor,action,target,source,detail,hash"), "{lines:?}");
    assert!(lines[1].contains(",bob,login.failed,,127.0.0.1,"), "{lines:?}");

    // A family of actions, anyone's, over two pages: older, then back.
    set_text(admin, "filter-user", "").await?;
    choose(admin, "filter-action", "token").await?;
    click(admin, "filter-apply").await?;
    let first = table_where(admin, "a full page of tokens", |r| {
        r.len() == 50 && r.iter().all(|(_, a, ..)| a == "token.create")
    })
    .await?;
    click(admin, "audit-older").await?;
    table_where(admin, "the rest of the tokens", |r| r.len() == 5 && r.iter().all(|(_, a, ..)| a == "token.create"))
        .await?;
    assert_eq!(admin.text_of("audit-page").await?, "page 2");
    click(admin, "audit-newer").await?;
    table_where(admin, "the first page again", |r| *r == first[..]).await?;

    // Cleared: everything again (the newest 50 are the tokens; older pages hold the rest).
    click(admin, "filter-clear").await?;
    assert_eq!(admin.client.find(Locator::Id("filter-user")).await?.prop("value").await?.unwrap_or_default(), "");
    table_where(admin, "the newest page of everything", |r| r.len() == 50).await?;
    assert_eq!(admin.text_of("audit-page").await?, "page 1");
    click(admin, "audit-older").await?;
    table_where(admin, "older records of every kind", |r| r.iter().any(|(_, a, ..)| a == "login.failed")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_filters_narrow_the_table_and_the_export_as_a_user_would_use_them() {
    let controller = Controller::start(|_| {}).await.expect("controller starts");
    let admin = Browser::start().await.expect("browser starts");
    let result = scenario(&controller, &admin).await;
    admin.close().await;
    result.unwrap();
}
