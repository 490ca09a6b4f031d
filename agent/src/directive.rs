//! One directive: a command line run by the configured shell as the configured user, in a
//! process group of its own (so a cancel, a time-out or the output limit ends everything it
//! started), with no input, and its stdout and stderr read in bounded chunks (a program that
//! prints faster than the link takes blocks on its own pipe).

use std::process::Stdio;
use std::time::{Duration, Instant};

use agent_link::OutputChannel;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::config::Config;

const CHUNK: usize = 16 * 1024;
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a process ended, as the wait saw it.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl From<std::process::ExitStatus> for Ended {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self { code: status.code(), signal: status.signal() }
    }
}

pub struct Running {
    group: Option<Pid>,
    pub started: Instant,
    pub deadline: Instant,
    pub max_output: u64,
    pub output_bytes: u64,
    /// Why the agent ended it, once it did.
    pub ended_by: Option<&'static str>,
}

/// What a started directive hands the link's pump: its output channels.
pub type Outputs = Vec<(OutputChannel, mpsc::Receiver<Vec<u8>>)>;

/// Starts `command`; its end goes to `ended` with `stream`.
pub fn start(
    stream: u32,
    command: &str,
    timeout: Duration,
    max_output: u64,
    config: &Config,
    account: Option<&str>,
    ended: mpsc::UnboundedSender<(u32, Ended)>,
) -> Result<(Running, Outputs), String> {
    // A Kerberos user's mapped account, else the configured one.
    let user = match account {
        Some(account) => Some(account),
        None => config.run_as().map_err(str::to_string)?,
    };
    let mut cmd = match user {
        Some(user) => {
            let mut cmd = tokio::process::Command::new("runuser");
            cmd.args(["-u", user, "--", config.shell.as_str(), "-c", command]);
            cmd
        }
        None => {
            let mut cmd = tokio::process::Command::new(&config.shell);
            cmd.args(["-c", command]);
            cmd
        }
    };
    cmd.env_clear()
        .env("PATH", PATH)
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|err| format!("cannot start {}: {err}", config.shell))?;
    let group = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    let mut outputs = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        outputs.push((OutputChannel::Stdout, read_chunks(stdout)));
    }
    if let Some(stderr) = child.stderr.take() {
        outputs.push((OutputChannel::Stderr, read_chunks(stderr)));
    }
    tokio::spawn(async move {
        let status = child.wait().await.map(Ended::from).unwrap_or(Ended { code: None, signal: None });
        let _ = ended.send((stream, status));
    });
    let now = Instant::now();
    Ok((Running { group, started: now, deadline: now + timeout, max_output, output_bytes: 0, ended_by: None }, outputs))
}

/// Reads a pipe in chunks into a channel of four: the pipe stays full while nobody takes them.
fn read_chunks(mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut buf = vec![0; CHUNK];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(buf.get(..n).unwrap_or_default().to_vec()).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

impl Running {
    /// Ends the directive and everything it started, saying why.
    pub fn kill(&mut self, why: &'static str) {
        if self.ended_by.is_none() {
            self.ended_by = Some(why);
        }
        if let Some(group) = self.group {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }

    /// Counts output against the limit; returns how much of `len` bytes may go out (the rest
    /// is past the limit, and the directive is ended).
    pub fn admit(&mut self, len: usize) -> usize {
        let room = self.max_output.saturating_sub(self.output_bytes);
        let admitted = (len as u64).min(room);
        self.output_bytes += admitted;
        if admitted < len as u64 {
            self.kill("output limit");
        }
        admitted as usize
    }
}
