//! The `controller-server` binary as an operator runs it, for the tests that kill it (SIGKILL)
//! and start it again on the same data directory.
#![allow(dead_code)] // each test binary uses its own part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A controller binary on loopback with its own data directory.
pub struct Controller {
    pub child: Child,
    pub url: String,
    pub first_password: Option<String>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary, with the configuration file `config` if given; on a first run it also
/// prints the first-run password, which is read.
pub fn start(data: &std::path::Path, first_run: bool, config: Option<&std::path::Path>) -> Controller {
    let mut command = Command::new(env!("CARGO_BIN_EXE_controller-server"));
    if let Some(config) = config {
        command.args(["--config", config.to_str().unwrap()]);
    }
    let mut child = command
        .args(["--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--web-root", data.to_str().unwrap()])
        .env("LANTERN_LOG", std::env::var("TEST_LANTERN_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("TEST_LANTERN_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
    let url = lines
        .find_map(|l| l.strip_prefix("Lantern controller: ").map(|u| u.trim_end_matches('/').to_string()))
        .expect("the controller printed its URL");
    let first_password = first_run.then(|| {
        lines
            .find_map(|l| l.split("password ").nth(1).and_then(|p| p.split_whitespace().next()).map(str::to_string))
            .expect("the first-run password")
    });
    // The rest is read too: a closed pipe would end the controller at its next line of output.
    std::thread::spawn(move || lines.for_each(drop));
    Controller { child, url, first_password }
}

/// An HTTPS client that trusts the certificate the controller made in `data`.
pub fn client(data: &std::path::Path) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(data.join("tls-cert.pem")).unwrap()).unwrap();
    reqwest::Client::builder().add_root_certificate(cert).timeout(Duration::from_secs(30)).build().unwrap()
}
