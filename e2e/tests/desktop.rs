//! A desktop through a real TigerVNC server (Xvnc) in headless Chromium: the canvas shows what
//! the X server has, the real mouse lands on the same X pixel, and typing reaches an X client.

use std::time::Duration;

use e2e::browser::Browser;
use e2e::xvnc::Xvnc;
use e2e::{key, scenario, wait_for};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::key::Key;

const WAIT: Duration = Duration::from_secs(20);

/// The canvas's mouse cursor: the host's pointer shape as an image, or what the page set.
async fn canvas_cursor(browser: &Browser) -> anyhow::Result<String> {
    let v = browser.js("return getComputedStyle(document.getElementById('console-canvas')).cursor;", vec![]).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tigervnc_desktop_shows_exactly_and_takes_the_mouse_and_keyboard() {
    let mut x = Xvnc::start(1024, 768).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let typed = dir.path().join("typed.txt");
    // The root window gets the usual arrow (Xvnc's own is an empty cursor).
    x.run("xsetroot", &["-cursor_name", "left_ptr"]).unwrap();
    // No window manager: the keyboard goes to the window under the pointer.
    x.run("xterm", &["-geometry", "80x24+40+40", "-e", "sh", "-c", &format!("cat > {}", typed.display())]).unwrap();
    let host = x.desk_host();
    scenario!(move |c| c.hosts.push(host), |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("desk").await?;

        // The real mouse, over the (scaled) canvas, moves the X pointer to the same pixel. The
        // canvas may be taller than the window: aim in viewport coordinates, once the canvas has
        // the desktop's size (it starts as a text screen's).
        wait_for("the canvas the desktop's size", WAIT, || async {
            let size = browser
                .js("const c = document.getElementById('console-canvas'); return [c.width, c.height];", vec![])
                .await?;
            Ok(if size == serde_json::json!([1024, 768]) { Ok(()) } else { Err(size.to_string()) })
        })
        .await?;
        let rect = browser
            .js(
                "window.scrollTo(0, 0); const c = document.getElementById('console-canvas'); \
                 const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height, c.width, c.height];",
                vec![],
            )
            .await?;
        let n = |i: usize| rect[i].as_f64().unwrap_or(1.0);
        let move_to = |(target_x, target_y): (f64, f64)| {
            let (vx, vy) = (n(0) + (target_x + 0.5) * n(2) / n(4), n(1) + (target_y + 0.5) * n(3) / n(5));
            MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
                duration: None,
                x: vx.floor(),
                y: vy.floor(),
            })
        };
        // The X pointer takes the shape of what it is over, and that shape is the canvas's
        // cursor, as a picture with its hotspot: the root window's arrow, then xterm's I-beam.
        let pointer_shape = |what: &'static str, not: String| {
            let browser = &browser;
            wait_for(what, WAIT, move || {
                let not = not.clone();
                async move {
                    let cursor = canvas_cursor(browser).await?;
                    let shown = cursor.starts_with("url(\"data:image/png;base64,") && cursor != not;
                    Ok(if shown { Ok(cursor) } else { Err(format!("{cursor:.80}")) })
                }
            })
        };
        browser.client.perform_actions(move_to((700.0, 100.0))).await?;
        let arrow = pointer_shape("the root window's arrow on the canvas", String::new()).await?;
        let (target_x, target_y) = (300.0, 200.0);
        browser.client.perform_actions(move_to((target_x, target_y))).await?;
        wait_for("the X pointer at the same pixel", WAIT, || async {
            let (px, py) = x.pointer().await?;
            let close = (f64::from(px) - target_x).abs() <= 2.0 && (f64::from(py) - target_y).abs() <= 2.0;
            Ok(if close { Ok(()) } else { Err(format!("X pointer at {px},{py}")) })
        })
        .await?;
        pointer_shape("xterm's I-beam on the canvas", arrow).await?;
        // The pointer is where the browser put it, so the server does not draw it into the
        // picture (it does, and hides the shape, while the pointer is where no viewer put it).
        x.wait_for_canvas(&browser, WAIT).await?;

        // Keys typed on the canvas reach the program in the xterm under the pointer, shifted
        // characters included.
        browser.type_keys(&format!("Hello, Lantern! $((1+1)){}", key(Key::Enter))).await?;
        wait_for("the typed line in the X client's file", WAIT, || async {
            let text = std::fs::read_to_string(&typed).unwrap_or_default();
            Ok(if text == "Hello, Lantern! $((1+1))\n" { Ok(()) } else { Err(format!("{text:?}")) })
        })
        .await?;
        x.wait_for_canvas(&browser, WAIT).await?;
        Ok(())
    });
}
