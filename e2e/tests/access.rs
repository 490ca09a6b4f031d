//! Access control as users meet it in the browser.

use std::time::Duration;

use e2e::{key, marker, scenario, wait_for};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_watches_but_its_keystrokes_are_refused_and_audited() {
    scenario!(|_| {}, |controller, browser| {
        browser.first_login(&controller).await?;
        let created = browser
            .api(
                "POST",
                "/api/users",
                json!({"username": "vera", "password": "temporary password", "role": "ReadOnly"}),
            )
            .await?;
        assert_eq!(created["status"], 200, "{created}");
        browser.client.find(Locator::Id("btn-logout")).await?.click().await?;
        browser.first_login_as("vera", "temporary password").await?;

        browser.open_console("local").await?;
        assert_eq!(browser.text_of("view-only").await?, "View only");
        assert!(browser.client.find(Locator::Id("btn-cad")).await?.attr("disabled").await?.is_some());
        let m = marker();
        browser.type_keys(&format!("echo viewer-{m}{}", key(Key::Enter))).await?;

        // The controller refused the input and said so in the trail...
        let refused = wait_for("the refusal in the audit trail", Duration::from_secs(10), || async {
            let trail = controller.running.state.audit.page(None, 20)?;
            Ok(match trail.iter().find(|r| r.action == "console.input-refused") {
                Some(record) => Ok(record.clone()),
                None => Err(format!("{trail:?}")),
            })
        })
        .await?;
        assert_eq!(refused.actor, "vera");
        // ... and nothing of it reached the host: the viewer still sees a live, untouched screen.
        let screen = browser.wait_screen("the viewer's screen", Duration::from_secs(5), |t| t.contains("bash")).await?;
        assert!(!screen.contains(&format!("viewer-{m}")), "{screen}");
        assert_eq!(browser.text_of("status-state").await?, "connected");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_a_user_and_narrows_his_rights_on_a_host_from_the_users_page() {
    scenario!(|_| {}, |controller, browser| {
        browser.first_login(&controller).await?;
        let c = &browser.client;
        c.find(Locator::Id("nav-users")).await?.click().await?;
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("new-user-name"))
            .await?
            .send_keys("otto")
            .await?;
        c.find(Locator::Id("new-user-password")).await?.send_keys("temporary password").await?;
        c.find(Locator::Id("new-user-role")).await?.select_by_value("Operator").await?;
        c.find(Locator::Id("btn-create-user")).await?.click().await?;
        wait_for("otto in the user list", Duration::from_secs(10), || async {
            let table = browser.text_of("users-table").await.unwrap_or_default();
            Ok(if table.contains("otto (must change password)") { Ok(()) } else { Err(table) })
        })
        .await?;
        // otto is the only non-administrator, so the host's access list has one row.
        let select = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("select.host-access")).await?;
        select.select_by_value("view").await?;
        wait_for("the access entry", Duration::from_secs(10), || async {
            let list = browser.api("GET", "/api/hosts/local/access", json!(null)).await?;
            Ok(if list["body"][0]["rights"]["control"] == false { Ok(()) } else { Err(list.to_string()) })
        })
        .await?;

        browser.client.find(Locator::Id("btn-logout")).await?.click().await?;
        browser.first_login_as("otto", "temporary password").await?;
        assert!(browser.text_of("current-user").await?.contains("otto (Operator)"));
        assert!(browser.client.find(Locator::Id("nav-users")).await.is_err(), "no user management for operators");
        browser.open_console("local").await?;
        assert_eq!(browser.text_of("view-only").await?, "View only");
        // The trail is for administrators: otto may not read it.
        assert_eq!(browser.api("GET", "/api/audit?limit=50", json!(null)).await?["status"], 403);
        let trail: Vec<String> = controller.running.state.audit.all()?.into_iter().map(|r| r.action).collect();
        for action in ["user.create", "host.access"] {
            assert!(trail.iter().any(|a| a == action), "{action} missing: {trail:?}");
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_origins_may_frame_the_controller() {
    let (listed, unlisted) =
        (e2e::portal::Portal::bind().await.expect("portal"), e2e::portal::Portal::bind().await.expect("portal"));
    let ancestors = vec![listed.origin.clone()];
    scenario!(|c| c.frame_ancestors = ancestors, |controller, browser| {
        let page = format!(
            r#"<!doctype html><iframe id="lantern" src="{}/" width="900" height="600"></iframe>"#,
            controller.url
        );
        listed.serve(page.clone());
        unlisted.serve(page);
        let framed = |portal: String| {
            let browser = &browser;
            async move {
                browser.client.goto(&portal).await?;
                wait_for("the frame to load", Duration::from_secs(15), || async {
                    browser.client.enter_frame(0).await?;
                    let href = browser.js("return location.href;", vec![]).await?;
                    let login = browser.js("return !!document.getElementById('username');", vec![]).await?;
                    browser.client.enter_parent_frame().await?;
                    let href = href.as_str().unwrap_or_default().to_string();
                    Ok(if href.starts_with("chrome-error:") || login == true {
                        Ok((href, login == true))
                    } else {
                        Err(href)
                    })
                })
                .await
            }
        };
        let (href, login) = framed(listed.origin.clone()).await?;
        assert!(login && href.starts_with(&controller.url), "the listed portal shows the controller: {href}");
        let (href, login) = framed(unlisted.origin.clone()).await?;
        assert!(!login && href.starts_with("chrome-error:"), "the browser blocks the unlisted portal: {href}");
        Ok(())
    });
}
