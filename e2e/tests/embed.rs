//! Embedding, end to end: the example portal page, served from a second origin, shows working
//! consoles both ways, with launches and keys its own back end obtained with an API token.

use std::time::Duration;

use e2e::portal::Portal;
use e2e::{key, marker, scenario, wait_for, workspace_root};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    // The test controller's certificate is self-signed; the portal's back end is told to trust it.
    reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_portal_page_shows_a_launched_console_and_the_direct_applet() {
    let portal = Portal::bind().await.expect("portal");
    let origin = vec![portal.origin.clone()];
    scenario!(
        |c| {
            c.allowed_origins = origin.clone();
            c.frame_ancestors = origin;
            // Both consoles on the page watch one host; a request wins after a second's idle.
            c.console.control_idle_seconds = 1;
        },
        |controller, browser| {
            browser.first_login(&controller).await?;
            let made = browser.api("POST", "/api/tokens", json!({"name": "example portal"})).await?;
            let token = made["body"]["token"].as_str().unwrap_or_default().to_string();
            assert!(token.starts_with("lnt_"), "{made}");
            let audit_token = token.clone();

            // The portal: its page, and its back end calling the controller with the token.
            let page = std::fs::read_to_string(workspace_root().join("static/embed-example.html"))?;
            let api = controller.url.clone();
            portal.handle(move |method, path| {
                let (page, api, token) = (page.clone(), api.clone(), token.clone());
                async move {
                    let call = |url: String, body: Option<Value>| {
                        let token = token.clone();
                        async move {
                            let mut request = client().post(url).bearer_auth(token);
                            if let Some(body) = body {
                                request = request.json(&body);
                            }
                            match request.send().await {
                                Ok(r) => (r.status().as_u16(), "application/json", r.text().await.unwrap_or_default()),
                                Err(e) => (502, "text/plain", e.to_string()),
                            }
                        }
                    };
                    match (method.as_str(), path.as_str()) {
                        ("POST", "/portal/launch") => {
                            call(format!("{api}/api/launches"), Some(json!({"host": "local", "control": true}))).await
                        }
                        ("POST", "/portal/console-key") => {
                            call(format!("{api}/api/hosts/local/console-key"), None).await
                        }
                        _ if path.starts_with("/embed-example.html") => (200, "text/html", page),
                        _ => (404, "text/plain", String::new()),
                    }
                }
            });

            let c = &browser.client;
            c.goto(&format!("{}/embed-example.html?controller={}", portal.origin, controller.url)).await?;
            wait_for("the direct applet to connect", Duration::from_secs(20), || async {
                let state = browser.text_of("direct-state").await.unwrap_or_default();
                let message = browser.text_of("direct-message").await.unwrap_or_default();
                Ok(if state == "connected" { Ok(()) } else { Err(format!("{state}: {message}")) })
            })
            .await?;
            // The framed console may have taken the keyboard first: ask for it, as a user would.
            wait_for("the direct applet to hold the keyboard", Duration::from_secs(15), || async {
                let status = browser.js("return window.direct.status();", vec![]).await?;
                if status["holder"] == status["you"] {
                    return Ok(Ok(()));
                }
                if let Ok(button) = c.find(Locator::Id("direct-request-control")).await {
                    if button.is_displayed().await.unwrap_or(false) {
                        // Control may arrive (and the button go) between the look and the
                        // click; the status above is what counts, on the next round.
                        let _ = button.click().await;
                    }
                }
                Ok(Err(status.to_string()))
            })
            .await?;
            let m = marker();
            c.find(Locator::Id("direct-canvas"))
                .await?
                .send_keys(&format!("echo embedded-$((3*3))-{m}{}", key(Key::Enter)))
                .await?;
            wait_for("output in the direct applet", Duration::from_secs(15), || async {
                let text = browser.js("return window.direct.screenText();", vec![]).await?;
                let text = text.as_str().unwrap_or_default().to_string();
                Ok(if text.lines().any(|l| l == format!("embedded-9-{m}")) { Ok(()) } else { Err(text) })
            })
            .await?;

            // The framed console watches the same host: the output is there too.
            let launch_url = browser.js("return document.getElementById('launch-frame').src;", vec![]).await?;
            let launch_url = launch_url.as_str().unwrap_or_default().to_string();
            assert!(launch_url.starts_with(&format!("{}/launch/", controller.url)), "{launch_url}");
            wait_for("the framed console to connect and show the output", Duration::from_secs(20), || async {
                c.enter_frame(0).await?;
                let state = browser.js("return document.getElementById('status-state')?.textContent;", vec![]).await?;
                let text = browser
                    .js("return window.lanternConsole ? window.lanternConsole.screenText() : '';", vec![])
                    .await?;
                c.enter_parent_frame().await?;
                let text = text.as_str().unwrap_or_default().to_string();
                Ok(if state == "connected" && text.lines().any(|l| l == format!("embedded-9-{m}")) {
                    Ok(())
                } else {
                    Err(format!("{state}\n{text}"))
                })
            })
            .await?;

            // A launch works once.
            let again = client().get(&launch_url).send().await?;
            assert_eq!(again.status().as_u16(), 410);
            // (The browser is on the portal's origin now; the back end reads the trail.)
            let trail = client()
                .get(format!("{}/api/audit?limit=50", controller.url))
                .bearer_auth(&audit_token)
                .send()
                .await?
                .text()
                .await?;
            for action in ["token.create", "console.launch", "console.launch-open"] {
                assert!(trail.contains(action), "{action} missing");
            }
            Ok(())
        }
    );
}
