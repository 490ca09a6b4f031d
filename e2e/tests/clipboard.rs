//! The clipboard both ways against a real TigerVNC desktop: text an X client copies (xclip,
//! with non-Latin-1 characters) shows in the console's clipboard panel in Chromium and goes to
//! the browser's clipboard on a click; text sent from the panel is what xclip then reads.

use std::time::Duration;

use e2e::xvnc::Xvnc;
use e2e::{scenario, wait_for};
use fantoccini::Locator;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_copied_on_the_host_reaches_the_browser_and_text_from_the_panel_reaches_the_host() {
    let mut x = Xvnc::start(640, 400).await.unwrap();
    let host = x.desk_host();
    scenario!(move |c| c.hosts.push(host), |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("desk").await?;
        browser.client.find(Locator::Id("btn-clipboard")).await?.click().await?;

        // Copied on the host (UTF-8: the Extended Clipboard, which TigerVNC has).
        let copied = "grüße ✓ всем €";
        x.run("sh", &["-c", &format!("printf '%s' '{copied}' | xclip -selection clipboard")])?;
        wait_for("the host's clipboard in the panel", WAIT, || async {
            let shown = browser.js("return document.getElementById('clipboard-host').value", vec![]).await?;
            Ok(if shown == copied { Ok(()) } else { Err(shown.to_string()) })
        })
        .await?;
        browser.client.find(Locator::Id("btn-clipboard-copy")).await?.click().await?;
        wait_for("the browser's clipboard", WAIT, || async {
            let message = browser.text_of("clipboard-message").await?;
            Ok(if message.starts_with("Copied") { Ok(()) } else { Err(message) })
        })
        .await?;

        // Sent from the panel: what an X client pastes.
        let sent = "zurück ✓\nzweite Zeile €";
        browser.client.find(Locator::Id("clipboard-send-text")).await?.send_keys(sent).await?;
        browser.client.find(Locator::Id("btn-clipboard-send")).await?.click().await?;
        wait_for("the text on the host's clipboard", WAIT, || async {
            let pasted = x.output("xclip", &["-o", "-selection", "clipboard"]).await?;
            Ok(if pasted == sent { Ok(()) } else { Err(format!("{pasted:?}")) })
        })
        .await?;
        Ok(())
    });
}
