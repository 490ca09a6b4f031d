//! A controller in a process of its own: for tests that crash it on purpose (a crash point
//! aborts the whole process) or run it inside a network namespace.
//!
//! The test binary starts itself again, running only the `#[test]` named in
//! [`ControllerProcess::start`], which calls [`serve_from_env`]: that test does nothing in a
//! normal run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use controller_server::config::Config;

use crate::client::ApiClient;
use crate::netns::Namespace;
use crate::wait_for;

const DATA: &str = "LANTERN_TEST_CONTROLLER";
const LISTEN: &str = "LANTERN_TEST_LISTEN";

/// In the started process: runs a controller on `$LANTERN_TEST_LISTEN` with its data in
/// `$LANTERN_TEST_CONTROLLER`, configured further by `adjust`, until it is killed. Returns at
/// once when those are not set.
pub fn serve_from_env(adjust: impl FnOnce(&mut Config) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let Ok(data) = std::env::var(DATA) else { return Ok(()) };
    let listen = std::env::var(LISTEN)?;
    // To stderr, which the parent keeps in a file ([`ControllerProcess::log`]).
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let data = PathBuf::from(data);
        let mut config = Config {
            listen: listen.parse()?,
            data_dir: data.clone(),
            web_root: crate::workspace_root().join("web-console/dist"),
            hosts: Vec::new(),
            ..Default::default()
        };
        adjust(&mut config)?;
        let running = controller_server::start(config).await?;
        if let Some(password) = &running.first_password {
            std::fs::write(data.join("first-password"), password)?;
        }
        std::fs::write(data.join("ready"), "")?;
        std::future::pending::<()>().await;
        anyhow::Ok(())
    })
}

/// A controller started by [`ControllerProcess::start`]; killed on drop.
pub struct ControllerProcess {
    pub child: tokio::process::Child,
    pub data: PathBuf,
    pub url: String,
    log: PathBuf,
}

impl ControllerProcess {
    /// Starts this test binary again, running only `test` (which calls [`serve_from_env`]),
    /// in `ns` when given, listening on `listen`, with `env` added; waits until it is up.
    pub async fn start(
        test: &str,
        ns: Option<&Namespace>,
        data: &Path,
        listen: std::net::SocketAddr,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data)?;
        let _ = std::fs::remove_file(data.join("ready"));
        let exe = std::env::current_exe()?;
        let mut cmd = match ns {
            Some(ns) => ns.command(&exe),
            None => tokio::process::Command::new(&exe),
        };
        let log = data.join(format!("controller-{}.log", crate::marker()));
        cmd.args([test, "--exact", "--nocapture", "--test-threads", "1"])
            .env(DATA, data)
            .env(LISTEN, listen.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true);
        let child = cmd.spawn()?;
        let ready = data.join("ready");
        let log_text = log.clone();
        wait_for("the controller process to start", Duration::from_secs(30), || async {
            Ok(if ready.exists() { Ok(()) } else { Err(std::fs::read_to_string(&log_text).unwrap_or_default()) })
        })
        .await?;
        Ok(Self { child, data: data.to_path_buf(), url: format!("https://{listen}"), log })
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn first_password(&self) -> String {
        std::fs::read_to_string(self.data.join("first-password")).unwrap_or_default()
    }

    pub fn cert_path(&self) -> PathBuf {
        self.data.join("tls-cert.pem")
    }

    /// An administrator's API client, changing the first-run password to `password` the first
    /// time.
    pub async fn admin(&self, password: &str) -> anyhow::Result<ApiClient> {
        let mut api = ApiClient::for_site(&self.url, &self.cert_path())?;
        match std::fs::read_to_string(self.data.join("first-password")) {
            Ok(first) if !self.data.join("password-changed").exists() => {
                api.first_login("admin", &first, password).await?;
                std::fs::write(self.data.join("password-changed"), "")?;
            }
            _ => {
                api.login("admin", password).await?;
            }
        }
        Ok(api)
    }

    /// Waits until it died by itself (a crash point), within `within`.
    pub async fn crashed(&mut self, within: Duration) -> anyhow::Result<()> {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .map_err(|_| anyhow::anyhow!("the controller did not crash"))??;
        anyhow::ensure!(!status.success(), "the controller exited cleanly: {status}");
        Ok(())
    }
}
