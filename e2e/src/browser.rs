//! Headless Chromium through chromedriver, and the steps a user takes in our UI.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::{wait_for, Controller};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session; chromedriver (and with it Chromium) is killed when this drops.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// As `start`, with more Chromium switches (`--host-resolver-rules=...`, say).
    pub async fn start_with(switches: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_env(switches, &[], None).await
    }

    /// As `start_with`, with variables added to the browser's environment (`KRB5CCNAME`, say)
    /// and, when given, the profile's `Local State` to start from (browser-wide preferences
    /// that have no switch, such as `auth.negotiate_delegate_whitelist`).
    pub async fn start_with_env(
        switches: &[&str],
        env: &[(&str, &std::path::Path)],
        local_state: Option<&Value>,
    ) -> anyhow::Result<Self> {
        // fantoccini's HTTP client asks rustls for the process default; it may already be set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = crate::free_port()?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {CHROMEDRIVER} (apt-get install chromium-driver)"))?;
        let url = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir()?;
        if let Some(state) = local_state {
            std::fs::write(profile.path().join("Local State"), state.to_string())?;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("acceptInsecureCerts".into(), json!(true));
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1280,900",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(switches.iter().map(|s| s.to_string()));
        caps.insert("goog:chromeOptions".into(), json!({ "binary": CHROMIUM, "args": args }));
        let mut last_err = None;
        for _ in 0..50 {
            match ClientBuilder::rustls()?.capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Ok(Self { client, driver, _profile: profile }),
                Err(e) => last_err = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not start a session: {last_err:?}")
    }

    /// Ends the session cleanly (Chromium exits), then chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    pub async fn text_of(&self, id: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Id(id)).await?.text().await?)
    }

    /// Waits until the element `id` exists and its text contains `part` (pages show some things
    /// in answer to events, a task after the change a test can see from script).
    pub async fn wait_text(&self, id: &str, part: &str, timeout: Duration) -> anyhow::Result<String> {
        crate::wait_for(&format!("#{id} to say {part:?}"), timeout, || async {
            let text = self.text_of(id).await.unwrap_or_default();
            Ok(if text.contains(part) { Ok(text) } else { Err(text) })
        })
        .await
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute_async(script, args).await?)
    }

    /// Logs in with the first-run password and replaces it, as a new administrator would.
    /// Returns the new password.
    pub async fn first_login(&self, controller: &Controller) -> anyhow::Result<String> {
        self.client.goto(&controller.url).await?;
        self.first_login_as("admin", &controller.first_password).await
    }

    /// Opens the login page afresh (no session) and logs in as `user`: `Ok` once the host list
    /// shows, the page's error message otherwise.
    pub async fn login_as(&self, url: &str, user: &str, password: &str) -> anyhow::Result<Result<(), String>> {
        let c = &self.client;
        c.delete_all_cookies().await?;
        c.goto(url).await?;
        self.submit_login(user, password).await?;
        crate::wait_for("the host list or a login error", Duration::from_secs(30), || async {
            if c.find(Locator::Id("open-local")).await.is_ok() {
                return Ok(Ok(Ok(())));
            }
            let error = self.text_of("login-error").await.unwrap_or_default();
            Ok(if error.trim().is_empty() { Err("neither yet".into()) } else { Ok(Err(error)) })
        })
        .await
    }

    /// On the login page: fills in the name and password and presses *Log in*.
    async fn submit_login(&self, user: &str, password: &str) -> anyhow::Result<()> {
        let c = &self.client;
        // The first page of a fresh browser compiles the console's Wasm; on a loaded two-core
        // machine (QEMU guests in the tests beside this one) that can take tens of seconds.
        let name = wait_for("the login form", Duration::from_secs(60), || async {
            if let Ok(field) = c.find(Locator::Id("username")).await {
                return Ok(Ok(field));
            }
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let body = match c.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            // Chromium drops a page load when the machine's interfaces change, which tests
            // that make network namespaces beside this one do: load it again, as a user would.
            if body.contains("ERR_NETWORK_CHANGED") {
                let _ = c.goto(&url).await;
            }
            Ok(Err(format!("{url}: {body}")))
        })
        .await?;
        name.clear().await?;
        name.send_keys(user).await?;
        c.find(Locator::Id("password")).await?.send_keys(password).await?;
        c.find(Locator::Id("login-button")).await?.click().await?;
        Ok(())
    }

    /// On the login page: logs in as `user` with a password that must be replaced, and
    /// replaces it. Returns the new password.
    pub async fn first_login_as(&self, user: &str, password: &str) -> anyhow::Result<String> {
        let c = &self.client;
        self.submit_login(user, password).await?;
        let new_password = format!("pw-{}-{}", crate::marker(), crate::marker());
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("current-password"))
            .await?
            .send_keys(password)
            .await?;
        c.find(Locator::Id("new-password")).await?.send_keys(&new_password).await?;
        c.find(Locator::Id("repeat-password")).await?.send_keys(&new_password).await?;
        c.find(Locator::Id("password-button")).await?.click().await?;
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("open-local")).await?;
        Ok(new_password)
    }

    /// Logged in as the administrator here, makes `name` an Operator who may view and control
    /// the `local` shell, and logs `other` in as them.
    pub async fn admin_with_operator(
        &self,
        controller: &Controller,
        other: &Browser,
        name: &str,
    ) -> anyhow::Result<()> {
        self.first_login(controller).await?;
        let user = json!({"username": name, "password": "temporary password", "role": "Operator"});
        let created = self.api("POST", "/api/users", user).await?;
        anyhow::ensure!(created["status"] == 200, "creating {name}: {created}");
        // The local shell is administrators' only by default.
        let grant = json!({"view": true, "control": true, "power": false});
        let path = format!("/api/hosts/local/access/{}", created["body"]["id"]);
        let granted = self.api("PUT", &path, grant).await?;
        anyhow::ensure!(granted["status"] == 204, "granting {name} the local shell: {granted}");
        other.client.goto(&controller.url).await?;
        other.first_login_as(name, "temporary password").await?;
        Ok(())
    }

    /// Calls the controller's API from the page, with the session's CSRF token.
    pub async fn api(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        self.js_async(
            r#"
            const [method, path, body, done] = arguments;
            (async () => {
              const s = await (await fetch('/api/session')).json();
              const init = { method, headers: { 'X-CSRF-Token': s.csrf_token } };
              if (body !== null) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
              const r = await fetch(path, init);
              const text = await r.text();
              done({ status: r.status, body: text ? JSON.parse(text) : null });
            })().catch((e) => done({ error: String(e) }));
            "#,
            vec![json!(method), json!(path), body],
        )
        .await
    }

    /// Opens the console of `host` from the host list and waits until it is connected.
    pub async fn open_console(&self, host: &str) -> anyhow::Result<()> {
        // The host list may still be loading (a page just opened compiles the console's Wasm).
        let open = Locator::Id(&format!("open-{host}"));
        self.client.wait().at_most(Duration::from_secs(30)).for_element(open).await?.click().await?;
        self.wait_state("connected", Duration::from_secs(15)).await
    }

    pub async fn wait_state(&self, state: &str, timeout: Duration) -> anyhow::Result<()> {
        wait_for(&format!("console state {state}"), timeout, || async {
            let seen = self.text_of("status-state").await.unwrap_or_default();
            let message = self.text_of("status-message").await.unwrap_or_default();
            Ok(if seen == state { Ok(()) } else { Err(format!("{seen}: {message}")) })
        })
        .await
    }

    /// Types on the console canvas as a user would (real key events).
    pub async fn type_keys(&self, keys: &str) -> anyhow::Result<()> {
        let canvas = self.client.find(Locator::Id("console-canvas")).await?;
        canvas.send_keys(keys).await?;
        Ok(())
    }

    /// Presses and releases a key for each character of `text` on the console canvas, named by
    /// the character as a keyboard whose layout has it would (WebDriver actions; `send_keys`
    /// gives characters off the US layout no key name).
    pub async fn type_characters(&self, text: &str) -> anyhow::Result<()> {
        self.type_characters_holding(&[], text).await
    }

    /// The same with `held` keys (WebDriver key values such as `Key::Shift`) held down around.
    pub async fn type_characters_holding(&self, held: &[fantoccini::key::Key], text: &str) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        self.client.find(Locator::Id("console-canvas")).await?.click().await?;
        let mut keys = KeyActions::new("keyboard".into());
        for &key in held {
            keys = keys.then(KeyAction::Down { value: key.into() });
        }
        for value in text.chars() {
            keys = keys.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        for &key in held.iter().rev() {
            keys = keys.then(KeyAction::Up { value: key.into() });
        }
        self.client.perform_actions(keys).await?;
        Ok(())
    }

    /// Presses power button `id` on the console page and answers the question that follows
    /// with the keyboard, as a user would: checks that it names `host`, then Escape (`confirm`
    /// false) or Tab to the action's button and Enter. Waits for the dialog to go.
    pub async fn press_power(&self, id: &str, host: &str, confirm: bool) -> anyhow::Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        use fantoccini::key::Key;
        self.client.find(Locator::Id(id)).await?.click().await?;
        let question = self.client.wait().for_element(Locator::Css("#power-confirm[open]")).await?;
        let text = question.text().await?;
        anyhow::ensure!(text.contains(&format!("{host}?")), "the question names the host: {text:?}");
        let keys: &[Key] = if confirm { &[Key::Tab, Key::Enter] } else { &[Key::Escape] };
        let mut actions = KeyActions::new("keyboard".into());
        for &key in keys {
            actions = actions.then(KeyAction::Down { value: key.into() }).then(KeyAction::Up { value: key.into() });
        }
        self.client.perform_actions(actions).await?;
        wait_for("the question to close", Duration::from_secs(5), || async {
            let open = self.js("return document.getElementById('power-confirm').open", vec![]).await?;
            Ok(if open == Value::Bool(false) { Ok(()) } else { Err(format!("open: {open}")) })
        })
        .await
    }

    /// Types `text` on the host through the console's paste panel, as a user would.
    pub async fn paste(&self, text: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Id("btn-paste")).await?.click().await?;
        self.client.find(Locator::Id("paste-text")).await?.send_keys(text).await?;
        self.client.find(Locator::Id("btn-paste-send")).await?.click().await?;
        Ok(())
    }

    /// Shows the text view and waits until the screen text satisfies `check`.
    pub async fn wait_screen(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        if self.client.find(Locator::Id("screen-text")).await.is_err() {
            self.client.find(Locator::Id("btn-text")).await?.click().await?;
        }
        wait_for(what, timeout, || async {
            let text = self.text_of("screen-text").await.unwrap_or_default();
            Ok(if check(&text) { Ok(text.clone()) } else { Err(text) })
        })
        .await
    }
}

/// SHA-256 of the console canvas's RGB bytes (alpha left out), with its size.
const CANVAS_DIGEST: &str = r#"
const done = arguments[arguments.length - 1];
const canvas = document.getElementById(arguments[0]);
const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
const rgb = new Uint8Array(canvas.width * canvas.height * 3);
for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
  rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
}
crypto.subtle.digest('SHA-256', rgb).then((h) => done({
  width: canvas.width, height: canvas.height,
  sha256: Array.from(new Uint8Array(h)).map((b) => b.toString(16).padStart(2, '0')).join(''),
}));
"#;

/// JavaScript run in our page (after login): fetches a console key over the page's TLS
/// session, exactly as a vendor portal's back end would be handed one.
const FETCH_KEY: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const s = await (await fetch('/api/session')).json();
  const r = await fetch('/api/hosts/local/console-key', { method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token } });
  done(await r.json());
})().catch((e) => done({ error: String(e) }));
"#;

/// Creates a canvas with id `name` and a `LanternConsole` on it (window[name]) through the
/// applet's public entry point, with a key provider that fetches fresh keys for `url`.
const NEW_CONSOLE: &str = r#"
const [name, url, host] = arguments;
const canvas = document.createElement('canvas');
canvas.id = name;
document.body.appendChild(canvas);
const fetchKey = async () => {
  const s = await (await fetch('/api/session')).json();
  const k = await (await fetch(`/api/hosts/${host}/console-key`, { method: 'POST', headers: { 'X-CSRF-Token': s.csrf_token } })).json();
  return { url, keyId: k.key_id, pms: k.pms, controllerKey: k.controller_key };
};
window[name] = new wasmBindings.LanternConsole(canvas, { keyProvider: fetchKey });
"#;

impl Browser {
    /// What the canvas `id` shows: (width, height, SHA-256 of its RGB bytes in hex).
    pub async fn canvas_digest(&self, id: &str) -> anyhow::Result<(u64, u64, String)> {
        let d = self.js_async(CANVAS_DIGEST, vec![json!(id)]).await?;
        Ok((
            d["width"].as_u64().unwrap_or_default(),
            d["height"].as_u64().unwrap_or_default(),
            d["sha256"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// A fresh console key as the API returns it.
    pub async fn fetch_key(&self) -> anyhow::Result<Value> {
        let key = self.js_async(FETCH_KEY, vec![]).await?;
        if key.get("key_id").is_none() {
            bail!("no console key: {key}");
        }
        Ok(key)
    }

    /// A console on a new canvas of our page, made through the JS entry point.
    pub async fn new_applet(&self, name: &str, url: &str) -> anyhow::Result<()> {
        self.new_applet_for(name, url, "local").await
    }

    /// A console on a new canvas of our page for `host`, made through the JS entry point.
    pub async fn new_applet_for(&self, name: &str, url: &str, host: &str) -> anyhow::Result<()> {
        self.js(NEW_CONSOLE, vec![json!(name), json!(url), json!(host)]).await?;
        Ok(())
    }

    /// Connects the applet `name` to `url` with `key` as the console-key API returns it
    /// (`key_id`, `pms`, `controller_key`).
    pub async fn applet_connect(&self, name: &str, url: &str, key: &Value) -> anyhow::Result<()> {
        self.js(
            "const [n, url, k] = arguments; \
             window[n].connect({ url, keyId: k.key_id, pms: k.pms, controllerKey: k.controller_key });",
            vec![json!(name), json!(url), key.clone()],
        )
        .await?;
        Ok(())
    }

    pub async fn applet_status(&self, name: &str) -> anyhow::Result<Value> {
        self.js("return window[arguments[0]].status();", vec![json!(name)]).await
    }

    /// Waits until the applet's state is `state`; returns its status.
    pub async fn applet_wait_state(&self, name: &str, state: &str, timeout: Duration) -> anyhow::Result<Value> {
        wait_for(&format!("applet {name} state {state}"), timeout, || async {
            let status = self.applet_status(name).await?;
            Ok(if status["state"] == state { Ok(status) } else { Err(status.to_string()) })
        })
        .await
    }

    pub async fn applet_wait_screen(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        wait_for(what, timeout, || async {
            let text = self.js("return window[arguments[0]].screenText();", vec![json!(name)]).await?;
            let text = text.as_str().unwrap_or_default().to_string();
            Ok(if check(&text) { Ok(text) } else { Err(text) })
        })
        .await
    }

    /// Real key events on the applet's canvas.
    pub async fn applet_type(&self, name: &str, keys: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Id(name)).await?.send_keys(keys).await?;
        Ok(())
    }
}
