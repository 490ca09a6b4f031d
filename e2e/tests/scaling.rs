//! Scaling on a HiDPI screen (Chromium at device pixel ratio 2) against a real TigerVNC
//! desktop: at 100 % and with integer scaling every host pixel is a whole square of device
//! pixels, read back from the browser's own screenshot; *Resize host* makes the X server's
//! desktop the size of the window (ExtendedDesktopSize's SetDesktopSize).

use std::time::Duration;

use e2e::browser::Browser;
use e2e::xvnc::Xvnc;
use e2e::{rgb_of_png, scenario, wait_for};
use fantoccini::Locator;

const WAIT: Duration = Duration::from_secs(20);

/// Checks that in the browser's screenshot each host pixel of rows `rows` is a `k` x `k`
/// square of device pixels of exactly its colour.
async fn host_pixels_are_whole_squares(browser: &Browser, x: &Xvnc, rows: &[usize]) -> anyhow::Result<usize> {
    let (w, _, host) = x.screenshot().await?;
    let w = usize::from(w);
    browser.js("document.getElementById('console-canvas').scrollIntoView()", vec![]).await?;
    let rect = browser
        .js(
            "const r = document.getElementById('console-canvas').getBoundingClientRect();
             return [r.left * devicePixelRatio, r.top * devicePixelRatio, r.width * devicePixelRatio];",
            vec![],
        )
        .await?;
    let n = |i: usize| rect[i].as_f64().unwrap_or(0.0);
    let k = n(2) / w as f64;
    anyhow::ensure!(k.fract() == 0.0 && k >= 1.0, "{k} device pixels per host pixel");
    let (k, left, top) = (k as usize, n(0).round() as usize, n(1).round() as usize);
    let (sw, _, shot) = rgb_of_png(&browser.client.screenshot().await?)?;
    let sw = usize::from(sw);
    for &y in rows {
        for x in 0..w {
            let want = &host[(y * w + x) * 3..][..3];
            for (dx, dy) in (0..k).flat_map(|dx| (0..k).map(move |dy| (dx, dy))) {
                let at = ((top + y * k + dy) * sw + left + x * k + dx) * 3;
                let seen = shot.get(at..at + 3);
                anyhow::ensure!(seen == Some(want), "host pixel {x},{y}: {want:?}, device pixel +{dx},+{dy}: {seen:?}");
            }
        }
    }
    Ok(k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_hidpi_screen_host_pixels_stay_whole_and_the_host_resizes_to_the_window() {
    // Small, so that integer scaling has room for more than 100 % gives.
    let mut x = Xvnc::start(320, 200).await.unwrap();
    x.run("xsetroot", &["-solid", "#204060"]).unwrap();
    x.run("xterm", &["-geometry", "24x5+10+20", "-e", "sh", "-c", "echo crisp pixels; sleep 600"]).unwrap();
    let host = x.desk_host();
    let hidpi = Browser::start_with(&["--force-device-scale-factor=2"]);
    scenario!(move |c| c.hosts.push(host), browser: hidpi, |controller, browser| {
        browser.first_login(&controller).await?;
        browser.open_console("desk").await?;
        browser.client.find(Locator::Id("zoom")).await?.select_by_value("1").await?;
        x.wait_for_canvas(&browser, WAIT).await?;
        // Rows through the xterm's text and border, where neighbouring pixels differ.
        let rows: Vec<usize> = (20..60).step_by(3).collect();
        assert_eq!(host_pixels_are_whole_squares(&browser, &x, &rows).await?, 2, "100 %: 2x2 device pixels");

        browser.client.find(Locator::Id("zoom")).await?.select_by_value("int").await?;
        // Integer: more whole device pixels per host pixel, as many as the window has room for.
        wait_for("integer scaling", WAIT, || async {
            Ok(match host_pixels_are_whole_squares(&browser, &x, &rows).await {
                Ok(k) if k > 2 => Ok(k),
                other => Err(format!("{other:?}")),
            })
        })
        .await?;

        // Resize host: the X server's desktop becomes the window's room, in CSS pixels.
        browser.client.find(Locator::Id("zoom")).await?.select_by_value("1").await?;
        browser.client.find(Locator::Id("btn-resize-host")).await?.click().await?;
        let want = browser
            .js(
                "const f = document.querySelector('.frame');
                 return [f.clientWidth - 16, Math.floor(innerHeight - f.getBoundingClientRect().top - 16)];",
                vec![],
            )
            .await?;
        wait_for("the X server's new size", WAIT, || async {
            let (w, h, _) = x.screenshot().await?;
            let seen = serde_json::json!([w, h]);
            Ok(if seen == want { Ok(()) } else { Err(format!("{seen}, asked {want}")) })
        })
        .await?;
        x.wait_for_canvas(&browser, WAIT).await?;
        Ok(())
    });
}
