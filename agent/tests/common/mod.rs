//! What the agent tests share: the agent binary as a process, enrolment, and directives
//! through the controller's API.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use e2e::client::ApiClient;
use e2e::netns::Namespace;
use e2e::{wait_for, Controller};
use futures_util::StreamExt;
use serde_json::{json, Value};

pub const AGENT: &str = env!("CARGO_BIN_EXE_lantern-agent");

/// The agent binary with `args`, inside `ns` (or here, for the tests that need no firewall).
pub fn agent_command<'a>(ns: impl Into<Option<&'a Namespace>>, args: &[&str]) -> tokio::process::Command {
    let mut cmd = match ns.into() {
        Some(ns) => ns.command(AGENT),
        None => tokio::process::Command::new(AGENT),
    };
    cmd.args(args).kill_on_drop(true);
    cmd
}

/// A running `lantern-agent run`, its log in a file.
pub struct AgentProcess {
    pub child: tokio::process::Child,
    log: PathBuf,
}

impl AgentProcess {
    pub fn start<'a>(ns: impl Into<Option<&'a Namespace>>, dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let log = dir.join(format!("agent-{}.log", e2e::marker()));
        let file = std::fs::File::create(&log)?;
        let (config, state) = (dir.join("agent.toml"), dir.join("state.json"));
        let mut cmd = agent_command(ns, &["run", "--config", path(&config), "--state", path(&state)]);
        cmd.envs(env.iter().copied()).stdout(Stdio::null()).stderr(file);
        Ok(Self { child: cmd.spawn()?, log })
    }

    /// `kill -9`, as a crash would.
    pub async fn kill(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

pub async fn admin(controller: &Controller) -> anyhow::Result<ApiClient> {
    let mut api = ApiClient::new(controller)?;
    api.first_login("admin", &controller.first_password, "an agent test password").await?;
    Ok(api)
}

pub async fn new_enrolment(api: &ApiClient, host: &str) -> anyhow::Result<Value> {
    let (status, body) =
        api.call("POST", "/api/agents/enrolments", Some(json!({ "host_id": host, "name": "Box one" }))).await?;
    if status != 200 {
        bail!("enrolment token answered {status}: {body}");
    }
    Ok(body)
}

pub async fn enroll<'a>(
    ns: impl Into<Option<&'a Namespace>>,
    url: &str,
    token: &str,
    pin: &str,
    state: &Path,
) -> anyhow::Result<std::process::Output> {
    let args = ["enroll", "--controller", url, "--token", token, "--pin", pin, "--state", path(state)];
    Ok(tokio::time::timeout(Duration::from_secs(30), agent_command(ns, &args).output()).await??)
}

/// The host as the host list shows it.
pub async fn host(api: &ApiClient, id: &str) -> anyhow::Result<Option<Value>> {
    let (_, hosts) = api.call("GET", "/api/hosts", None).await?;
    Ok(hosts.as_array().and_then(|h| h.iter().find(|h| h["id"] == id).cloned()))
}

pub async fn wait_state(api: &ApiClient, id: &str, state: &str, within: Duration) -> anyhow::Result<Value> {
    wait_for(&format!("host {id} {state}"), within, || async move {
        Ok(match host(api, id).await? {
            Some(h) if h["state"] == state => Ok(h),
            other => Err(format!("{other:?}")),
        })
    })
    .await
}

/// Starts a directive; returns its id.
pub async fn directive(api: &ApiClient, host: &str, command: &str) -> anyhow::Result<u64> {
    let (status, body) =
        api.call("POST", &format!("/api/hosts/{host}/directives"), Some(json!({ "command": command }))).await?;
    if status != 201 {
        bail!("directive {command:?} answered {status}: {body}");
    }
    body["id"].as_u64().context("a directive id")
}

/// Reads a directive's output stream to its end: every line, with when it arrived.
pub async fn follow(api: &ApiClient, host: &str, id: u64) -> anyhow::Result<Vec<(Instant, Value)>> {
    let response = api.http.get(format!("{}/api/hosts/{host}/directives/{id}/output", api.base)).send().await?;
    anyhow::ensure!(response.status() == 200, "output answered {}", response.status());
    let mut body = response.bytes_stream();
    let (mut lines, mut partial) = (Vec::new(), Vec::new());
    let read = async {
        while let Some(chunk) = body.next().await {
            partial.extend_from_slice(&chunk?);
            while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = partial.drain(..=end).collect();
                lines.push((Instant::now(), serde_json::from_slice::<Value>(&line)?));
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.context("the output stream never ended")??;
    Ok(lines)
}

pub fn text_of(lines: &[(Instant, Value)], channel: &str) -> String {
    lines.iter().filter_map(|(_, l)| l[channel].as_str()).collect()
}

pub fn exit_of(lines: &[(Instant, Value)]) -> Value {
    lines.last().map(|(_, l)| l["exit"].clone()).unwrap_or(Value::Null)
}

pub async fn connected(api: &ApiClient, host: &str, within: Duration) -> anyhow::Result<()> {
    wait_for(&format!("agent {host} connected"), within, || async move {
        let (_, agents) = api.call("GET", "/api/agents", None).await?;
        let live = agents.as_array().is_some_and(|a| a.iter().any(|a| a["host_id"] == host && a["connected"] == true));
        Ok(if live { Ok(()) } else { Err(agents.to_string()) })
    })
    .await
}
