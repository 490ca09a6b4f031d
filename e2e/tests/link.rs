//! The console link's security, seen from outside: what crosses the wire, which keys are
//! refused, what tampering does, and key renewal under load. The applet is driven through its
//! public JavaScript entry point, as a vendor portal would, in headless Chromium.

use std::time::Duration;

use base64::Engine;
use e2e::proxy::{Direction, Proxy};
use e2e::{key, marker, scenario};
use fantoccini::key::Key;

const WAIT: Duration = Duration::from_secs(15);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_keystrokes_nor_screen_text_nor_the_key_appear_on_the_wire_or_in_the_logs() {
    let logs = e2e::capture_logs();
    let proxy = Proxy::bind(None).await.expect("proxy listens");
    let public = proxy.url.clone();
    scenario!(|c| c.console_public_plain_url = Some(public), |controller, browser| {
        proxy.forward_to(controller.running.plain.expect("plain listener"));
        let new_password = browser.first_login(&controller).await?;
        let console_key = browser.fetch_key().await?;
        let (key_id, pms_b64) =
            (console_key["key_id"].as_str().unwrap_or_default(), console_key["pms"].as_str().unwrap_or_default());
        browser.new_applet("wire", &proxy.url).await?;
        browser.applet_connect("wire", &proxy.url, &console_key).await?;
        browser.applet_wait_state("wire", "connected", WAIT).await?;

        let (typed, pasted) = (marker(), marker());
        browser.applet_type("wire", &format!("echo typed-{typed}{}", key(Key::Enter))).await?;
        browser
            .js("window.wire.paste(arguments[0]);", vec![serde_json::json!(format!("echo pasted-{pasted}"))])
            .await?;
        browser.applet_type("wire", &key(Key::Enter)).await?;
        browser
            .applet_wait_screen("wire", "both outputs", WAIT, |t| {
                t.lines().any(|l| l == format!("typed-{typed}")) && t.lines().any(|l| l == format!("pasted-{pasted}"))
            })
            .await?;

        let messages = proxy.messages();
        let pms = base64::engine::general_purpose::STANDARD.decode(pms_b64)?;
        let pms_hex: String = pms.iter().map(|b| format!("{b:02x}")).collect();
        let key_id_raw: Vec<u8> =
            (0..16).map(|i| u8::from_str_radix(&key_id[i * 2..i * 2 + 2], 16).unwrap_or(0)).collect();
        assert!(messages.len() > 10, "the proxy saw the link: {} messages", messages.len());
        // The capture is real: the key id travels in the clear ClientHello, as designed.
        assert!(messages.iter().any(|(d, m)| *d == Direction::ToController && contains(m, &key_id_raw)));
        for (direction, m) in &messages {
            for secret in [pms.as_slice(), pms_b64.as_bytes(), pms_hex.as_bytes()] {
                assert!(!contains(m, secret), "{direction:?} message carries the PMS");
            }
            for text in [typed.as_bytes(), pasted.as_bytes(), b"echo", b"Enter", b"KeyE", b"bash"] {
                assert!(
                    !contains(m, text),
                    "{direction:?} message carries {:?} in the clear",
                    String::from_utf8_lossy(text)
                );
            }
        }

        // The controller logged the session, and no secret with it.
        let logged = logs.lock().map(|l| l.clone()).unwrap_or_default();
        assert!(contains(&logged, b"console link established"), "the log capture works");
        assert!(contains(&logged, b"console key issued"));
        for secret in [
            pms.as_slice(),
            pms_b64.as_bytes(),
            pms_hex.as_bytes(),
            controller.first_password.as_bytes(),
            new_password.as_bytes(),
        ] {
            assert!(!contains(&logged, secret), "a secret reached the log");
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_reused_keys_are_refused_with_a_clear_message() {
    scenario!(|_| {}, |controller, browser| {
        let url = format!("wss://{}/console/ws", controller.running.site);
        browser.first_login(&controller).await?;

        browser.new_applet("unknown", &url).await?;
        let mut unknown = browser.fetch_key().await?;
        unknown["key_id"] = serde_json::json!(marker().repeat(4));
        unknown["pms"] = serde_json::json!(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        browser.applet_connect("unknown", &url, &unknown).await?;
        let status = browser.applet_wait_state("unknown", "closed", WAIT).await?;
        assert!(status["message"].as_str().unwrap_or_default().contains("console key is unknown"), "{status}");

        let console_key = browser.fetch_key().await?;
        browser.new_applet("first", &url).await?;
        browser.applet_connect("first", &url, &console_key).await?;
        browser.applet_wait_state("first", "connected", WAIT).await?;
        browser.new_applet("again", &url).await?;
        browser.applet_connect("again", &url, &console_key).await?;
        let status = browser.applet_wait_state("again", "closed", WAIT).await?;
        assert!(status["message"].as_str().unwrap_or_default().contains("console key was already used"), "{status}");
        // The first link is unaffected.
        assert_eq!(browser.applet_status("first").await?["state"], "connected");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_server_that_does_not_sign_with_the_controllers_key_is_stopped() {
    // The page was given another node key than the one this console server signs with: as if
    // something between them (a relay that was handed the PMS) answered in the controller's place.
    let logs = e2e::capture_logs();
    scenario!(|_| {}, |controller, browser| {
        let url = format!("wss://{}/console/ws", controller.running.site);
        browser.first_login(&controller).await?;
        let mut console_key = browser.fetch_key().await?;
        let node = browser.api("GET", "/api/node", serde_json::Value::Null).await?;
        assert_eq!(
            console_key["controller_fingerprint"], node["body"]["pin"],
            "the page is told the key /api/node shows"
        );
        assert_eq!(console_key["controller_key"], node["body"]["public_key"]);
        let other_key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]);
        console_key["controller_key"] = serde_json::json!(other_key);
        browser.new_applet("pinned", &url).await?;
        browser.applet_connect("pinned", &url, &console_key).await?;
        let status = browser.applet_wait_state("pinned", "closed", WAIT).await?;
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.contains("did not prove it is this controller"), "{status}");
        e2e::wait_for("the controller to log why", WAIT, || async {
            let logged = logs.lock().map(|l| l.clone()).unwrap_or_default();
            Ok(if contains(&logged, b"wrong node key") { Ok(()) } else { Err("not logged yet".to_string()) })
        })
        .await?;
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_refused_console_server_is_reported() {
    scenario!(|_| {}, |controller, browser| {
        browser.first_login(&controller).await?;
        // Not in the page's connect-src (Chromium reports only an error event), and a path
        // the controller does not serve (an error, then a close).
        for (name, url) in [
            ("blocked", "ws://127.0.0.1:9/console/ws".to_string()),
            ("refused", format!("wss://{}/nope", controller.running.site)),
        ] {
            let console_key = browser.fetch_key().await?;
            browser.new_applet(name, &url).await?;
            browser.applet_connect(name, &url, &console_key).await?;
            let status = browser.applet_wait_state(name, "closed", WAIT).await?;
            assert!(
                status["message"].as_str().unwrap_or_default().contains("could not reach the console server"),
                "{status}"
            );
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_refused_with_a_clear_message() {
    scenario!(|c| c.console.key_ttl_seconds = 1, |controller, browser| {
        let url = format!("wss://{}/console/ws", controller.running.site);
        browser.first_login(&controller).await?;
        let console_key = browser.fetch_key().await?;
        // Outlive the configured one-second TTL.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        browser.new_applet("late", &url).await?;
        browser.applet_connect("late", &url, &console_key).await?;
        let status = browser.applet_wait_state("late", "closed", WAIT).await?;
        assert!(status["message"].as_str().unwrap_or_default().contains("console key has expired"), "{status}");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_altered_on_the_wire_closes_the_session_with_an_error() {
    // The browser sends its hello and its Finished, then the typed keys: the first message to
    // the browser after its third (the echo of the first key) is altered.
    let proxy = Proxy::bind(Some(3)).await.expect("proxy listens");
    let public = proxy.url.clone();
    scenario!(|c| c.console_public_plain_url = Some(public), |controller, browser| {
        proxy.forward_to(controller.running.plain.expect("plain listener"));
        browser.first_login(&controller).await?;
        let console_key = browser.fetch_key().await?;
        browser.new_applet("victim", &proxy.url).await?;
        browser.applet_connect("victim", &proxy.url, &console_key).await?;
        browser.applet_wait_state("victim", "connected", WAIT).await?;
        browser.applet_type("victim", &format!("echo {}{}", marker(), key(Key::Enter))).await?;
        let status = browser.applet_wait_state("victim", "closed", WAIT).await?;
        assert!(status["message"].as_str().unwrap_or_default().contains("integrity"), "{status}");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_loses_nothing_across_key_epochs_and_in_band_key_switches() {
    // A 10 s key life: the applet renews at about 6.7 s and 13.3 s; epochs turn every second
    // and every KiB.
    scenario!(
        |c| {
            c.console.key_life_seconds = 10;
            c.console.epoch_bytes = 1024;
            c.console.epoch_seconds = 1;
        },
        |controller, browser| {
            browser.first_login(&controller).await?;
            browser.open_console("local").await?;
            browser.type_keys(&format!("wc -c{}", key(Key::Enter))).await?;
            let chunk = "abcdefghij";
            let rounds = 16;
            for _ in 0..rounds {
                browser.type_keys(chunk).await?;
                // A person typing: one burst a second, so the session spans two key switches.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            browser.type_keys(&format!("{}{}d{}", key(Key::Enter), key(Key::Control), key(Key::Control))).await?;
            let expected = (chunk.len() * rounds + 1).to_string();
            browser
                .wait_screen("wc's count of every keystroke", WAIT, |t| t.lines().any(|l| l.trim() == expected))
                .await?;
            let epoch = browser.text_of("status-epoch").await?;
            let generation: u32 = epoch.trim_start_matches("key ").split('.').next().unwrap_or("0").parse()?;
            assert!(generation >= 2, "two in-band switches expected, status shows {epoch}");
            let message = browser.text_of("status-message").await?;
            assert!(!message.contains("failed"), "{message}");
            Ok(())
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_require_the_designs_rc4_hmac_sha1() {
    scenario!(|c| c.console.suites = vec!["rc4-hmac-sha1".into()], |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("local").await?;
        assert_eq!(browser.text_of("status-suite").await?, "rc4-hmac-sha1");
        let m = marker();
        browser.type_keys(&format!("echo rc4-{m}{}", key(Key::Enter))).await?;
        browser.wait_screen("output over rc4-hmac-sha1", WAIT, |t| t.lines().any(|l| l == format!("rc4-{m}"))).await?;
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_drop_the_console_reconnects_with_a_fresh_key() {
    let proxy = Proxy::bind(None).await.expect("proxy listens");
    let public = proxy.url.clone();
    scenario!(|c| c.console_public_plain_url = Some(public), |controller, browser| {
        proxy.forward_to(controller.running.plain.expect("plain listener"));
        browser.first_login(&controller).await?;
        // The console page, on the plain listener (through the proxy).
        browser.client.goto(&format!("{}/?transport=plain", controller.url)).await?;
        browser.client.wait().at_most(WAIT).for_element(fantoccini::Locator::Id("open-local")).await?;
        browser.open_console("local").await?;
        assert_eq!(proxy.hellos(), 1);

        proxy.drop_connections();
        browser.wait_state("connecting", WAIT).await?;
        browser.wait_state("connected", Duration::from_secs(30)).await?;
        assert_eq!(proxy.hellos(), 2, "a second link, with a second key");
        let m = marker();
        browser.type_keys(&format!("echo again-{m}{}", key(Key::Enter))).await?;
        browser.wait_screen("output on the new link", WAIT, |t| t.lines().any(|l| l == format!("again-{m}"))).await?;
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_foreign_origin_cannot_open_the_console_socket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let controller = e2e::Controller::start(|_| {}).await.expect("controller starts");
    let url = format!("ws://{}/console/ws", controller.running.plain.expect("plain listener"));
    let mut request = url.as_str().into_client_request().expect("request");
    request.headers_mut().insert("origin", "https://evil.example".parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "an open socket")),
    }
    // Without Origin (a native client), the upgrade goes through; the key protects it.
    assert!(tokio_tungstenite::connect_async(url.as_str()).await.is_ok());
}
