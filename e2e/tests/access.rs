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
        let trail = wait_for("the refusal in the audit trail", Duration::from_secs(10), || async {
            let page = browser.api("GET", "/api/audit?limit=20", json!(null)).await?;
            let text = page["body"].to_string();
            Ok(if text.contains("console.input-refused") { Ok(text) } else { Err(text) })
        })
        .await?;
        assert!(trail.contains("\"actor\":\"vera\""), "{trail}");
        // ... and nothing of it reached the host: the viewer still sees a live, untouched screen.
        let screen = browser.wait_screen("the viewer's screen", Duration::from_secs(5), |t| t.contains("bash")).await?;
        assert!(!screen.contains(&format!("viewer-{m}")), "{screen}");
        assert_eq!(browser.text_of("status-state").await?, "connected");
        Ok(())
    });
}
