//! The relay binary as a process, for the tests and the benchmark.
#![allow(dead_code)] // each target uses its own part

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncBufReadExt;

pub const RELAY: &str = env!("CARGO_BIN_EXE_lantern-relay");

pub struct RelayProcess {
    pub child: tokio::process::Child,
    pub address: SocketAddr,
}

impl RelayProcess {
    /// Writes `config` (TOML) to `dir/relay.toml`, starts the relay with it (logging at
    /// `log`), and reads the address it listens on from its first line.
    pub async fn spawn(dir: &Path, config: &str, log: &str) -> anyhow::Result<Self> {
        let file = dir.join("relay.toml");
        std::fs::write(&file, config)?;
        let mut child = tokio::process::Command::new(RELAY)
            .args(["--config", file.to_str().unwrap_or_default()])
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await??.unwrap_or_default();
        let address = line.strip_prefix("listening on ").context("no listening line")?.parse()?;
        Ok(Self { child, address })
    }

    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
