//! The machine's text console: a pseudo-terminal running a login shell (as the configured
//! user; `login` itself when the agent is root and no user is configured, as on a physical
//! console), its bytes carried on the console stream.

use std::io::{Read, Write};

use agent_link::OutputChannel;
use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::directive::{Ended, Outputs};

pub struct Running {
    master: Box<dyn MasterPty + Send>,
    input: std::sync::mpsc::Sender<Vec<u8>>,
    killer: Box<dyn portable_pty::ChildKiller + Send + Sync>,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize { rows: rows.clamp(1, 500), cols: cols.clamp(1, 500), pixel_width: 0, pixel_height: 0 }
}

pub fn start(
    stream: u32,
    cols: u16,
    rows: u16,
    config: &Config,
    ended: mpsc::UnboundedSender<(u32, Ended)>,
) -> Result<(Running, Outputs), String> {
    let pty = native_pty_system().openpty(size(cols, rows)).map_err(|err| format!("no pseudo-terminal: {err}"))?;
    let mut cmd = match config.run_as() {
        Ok(Some(user)) => {
            let mut cmd = CommandBuilder::new("runuser");
            match &config.console_shell {
                Some(shell) => cmd.args(["-u", user, "--", shell.as_str(), "-l"]),
                None => cmd.args(["-l", user]),
            }
            cmd.cwd("/");
            cmd
        }
        Ok(None) => {
            let own = nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.shell.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty());
            let shell = config.console_shell.clone().or(own).unwrap_or_else(|| config.shell.clone());
            let mut cmd = CommandBuilder::new(shell);
            cmd.arg("-l");
            cmd.cwd(std::env::var("HOME").unwrap_or_else(|_| "/".into()));
            cmd
        }
        // Root with nobody configured: a login prompt, as on a machine's own console.
        Err(_) => CommandBuilder::new("login"),
    };
    cmd.env("TERM", "xterm-256color");
    let mut child = pty.slave.spawn_command(cmd).map_err(|err| format!("cannot start the console's shell: {err}"))?;
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().map_err(|err| err.to_string())?;
    let mut writer = pty.master.take_writer().map_err(|err| err.to_string())?;
    let killer = child.clone_killer();
    // Blocking pty I/O runs on threads of its own; the pump sees channels.
    let (out_tx, out_rx) = mpsc::channel(8);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || out_tx.blocking_send(buf.get(..n).unwrap_or_default().to_vec()).is_err() {
                break;
            }
        }
    });
    let (input, in_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for bytes in in_rx {
            if writer.write_all(&bytes).and_then(|()| writer.flush()).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        let status = child.wait().ok();
        let ended_as = Ended { code: status.map(|s| s.exit_code() as i32), signal: None };
        let _ = ended.send((stream, ended_as));
    });
    Ok((Running { master: pty.master, input, killer }, vec![(OutputChannel::Stdout, out_rx)]))
}

impl Running {
    pub fn write(&self, bytes: Vec<u8>) {
        let _ = self.input.send(bytes);
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = self.master.resize(size(cols, rows));
    }

    pub fn kill(&mut self) {
        let _ = self.killer.kill();
    }
}
