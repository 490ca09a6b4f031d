//! Screenshots as users and scripts take them: the console's Screenshot button in headless
//! Chromium and `GET /api/hosts/{id}/screenshot`, against a real TigerVNC desktop (whose own
//! picture, `xwd -root`, they must equal pixel for pixel) and a text host (PNG and text).

use std::time::Duration;

use base64::Engine;
use e2e::browser::Browser;
use e2e::xvnc::Xvnc;
use e2e::{key, marker, rgb_of_png, scenario, wait_for};
use fantoccini::key::Key;
use fantoccini::Locator;

const WAIT: Duration = Duration::from_secs(20);

/// The bytes behind a URL the page can fetch (a download link's blob, an API path).
async fn fetch_bytes(browser: &Browser, url: &str) -> anyhow::Result<Vec<u8>> {
    let answer = browser
        .js_async(
            "const [url, done] = arguments;
             fetch(url).then(async (r) => {
               const bytes = new Uint8Array(await r.arrayBuffer());
               let text = ''; for (const b of bytes) text += String.fromCharCode(b);
               done({ status: r.status, type: r.headers.get('content-type'), body: btoa(text) });
             }).catch((e) => done({ error: String(e) }));",
            vec![serde_json::json!(url)],
        )
        .await?;
    anyhow::ensure!(answer["status"] == 200, "{url}: {answer}");
    Ok(base64::engine::general_purpose::STANDARD.decode(answer["body"].as_str().unwrap_or_default())?)
}

/// Presses Screenshot and waits for the download link `id` to offer a new file; its name and
/// bytes. (The page's policy lets it fetch only from its controller, so the file is read
/// from the blob the page made, seen on its way to `URL.createObjectURL`.)
async fn screenshot_download(browser: &Browser, id: &str) -> anyhow::Result<(String, Vec<u8>)> {
    browser
        .js(
            "if (!window.blobs) { window.blobs = {}; const make = URL.createObjectURL;
               URL.createObjectURL = (b) => { const u = make(b); window.blobs[u] = b; return u; }; }
             return true;",
            vec![],
        )
        .await?;
    let before = browser.js(&format!("return document.getElementById('{id}').href"), vec![]).await?;
    browser.client.find(Locator::Id("btn-screenshot")).await?.click().await?;
    let href = wait_for("the screenshot's download", WAIT, || async {
        let href = browser.js(&format!("return document.getElementById('{id}').href"), vec![]).await?;
        Ok(match href.as_str() {
            Some(h) if h.starts_with("blob:") && href != before => Ok(h.to_string()),
            _ => Err(href.to_string()),
        })
    })
    .await?;
    let name = browser.js(&format!("return document.getElementById('{id}').download"), vec![]).await?;
    Ok((name.as_str().unwrap_or_default().to_string(), blob_bytes(browser, &href).await?))
}

/// The bytes of a blob the page made, by its URL.
async fn blob_bytes(browser: &Browser, url: &str) -> anyhow::Result<Vec<u8>> {
    let answer = browser
        .js_async(
            "const [url, done] = arguments;
             window.blobs[url].arrayBuffer().then((buffer) => {
               const bytes = new Uint8Array(buffer);
               let text = ''; for (const b of bytes) text += String.fromCharCode(b);
               done({ body: btoa(text) });
             }).catch((e) => done({ error: String(e) }));",
            vec![serde_json::json!(url)],
        )
        .await?;
    let body = answer["body"].as_str().ok_or_else(|| anyhow::anyhow!("{url}: {answer}"))?;
    Ok(base64::engine::general_purpose::STANDARD.decode(body)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktops_screenshot_from_the_button_and_the_api_equals_the_x_servers_picture() {
    let mut x = Xvnc::start(800, 600).await.unwrap();
    x.run("xsetroot", &["-solid", "#306090"]).unwrap();
    x.run("xterm", &["-geometry", "60x12+30+40", "-e", "sh", "-c", "echo screenshot test; sleep 600"]).unwrap();
    let host = x.desk_host();
    scenario!(move |c| c.hosts.push(host), |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("desk").await?;
        x.wait_for_canvas(&browser, WAIT).await?;
        let want = x.screenshot().await?;

        let (name, png) = screenshot_download(&browser, "screenshot-link").await?;
        assert!(name.starts_with("Desktop-") && name.ends_with(".png"), "{name}");
        assert!(rgb_of_png(&png)? == want, "the button's PNG is the X server's picture");

        let png = fetch_bytes(&browser, "/api/hosts/desk/screenshot").await?;
        assert!(rgb_of_png(&png)? == want, "the API's PNG is the X server's picture");
        let trail = controller.running.state.audit.page(None, 5)?;
        assert!(trail.iter().any(|r| r.action == "host.screenshot" && r.target == "desk"), "audited");
        let answer = browser.api("GET", "/api/hosts/desk/screenshot?format=text", serde_json::Value::Null).await?;
        assert_eq!(answer["status"], 409, "a picture has no text: {answer}");
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_hosts_screenshot_is_a_png_and_its_text() {
    scenario!(|_| {}, |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("local").await?;
        let m = marker();
        browser.type_keys(&format!("echo shot-$((6*7))-{m}{}", key(Key::Enter))).await?;
        browser.wait_screen("the command's output", WAIT, |t| t.lines().any(|l| l == format!("shot-42-{m}"))).await?;
        let (name, text) = screenshot_download(&browser, "screenshot-text-link").await?;
        assert!(name.starts_with("Test_shell-") && name.ends_with(".txt"), "{name}");
        let text = String::from_utf8(text)?;
        assert!(text.lines().any(|l| l == format!("shot-42-{m}")), "{text}");
        // The PNG comes a moment later (the browser encodes it).
        let href = wait_for("the screenshot's PNG", WAIT, || async {
            let href = browser.js("return document.getElementById('screenshot-link').href", vec![]).await?;
            Ok(match href.as_str() {
                Some(h) if h.starts_with("blob:") => Ok(h.to_string()),
                _ => Err(href.to_string()),
            })
        })
        .await?;
        let png = blob_bytes(&browser, &href).await?;
        let (w, h, rgb) = rgb_of_png(&png)?;
        assert_eq!((w, h), (100 * 8, 30 * 16), "the canvas, one font pixel per pixel");
        // The API's picture is drawn with the same font and colours as the canvas.
        let api = fetch_bytes(&browser, "/api/hosts/local/screenshot").await?;
        assert!(rgb_of_png(&api)? == (w, h, rgb), "the API's PNG equals the button's");
        let api_text = String::from_utf8(fetch_bytes(&browser, "/api/hosts/local/screenshot?format=text").await?)?;
        assert!(api_text.lines().any(|l| l == format!("shot-42-{m}")), "{api_text}");
        Ok(())
    });
}
