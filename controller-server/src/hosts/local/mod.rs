//! The `local` backend: a pseudo-terminal on the controller's machine running a shell (or any
//! configured command), emulated by `vt100` and shown in text mode.
//!
//! When the command exits, the host reports it and starts it again a moment later, as a
//! machine would reboot. Ctrl-Alt-Del and power reset restart it; power off stops it (the
//! screen says so) until power on.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use shared::wire::message::{HostState, HostStatus};
use shared::wire::{InputEvent, SpecialKey};
use tokio::sync::mpsc;

use super::{Backend, Host, PowerAction};

/// A program has no NMI: power maps to the program's life (off and shutdown stop it, on
/// starts it, reset restarts it).
const POWER_ACTIONS: &[PowerAction] = &[PowerAction::On, PowerAction::Off, PowerAction::Shutdown, PowerAction::Reset];

pub struct LocalHost {
    pub id: String,
    pub name: String,
    pub command: Option<String>,
    pub args: Vec<String>,
    /// Another user to run the program as (through `runuser`).
    pub run_as: Option<String>,
    pub cols: u16,
    pub rows: u16,
}

const RESTART_DELAY: Duration = Duration::from_secs(1);
const NO_NMI: &str = "the local host has no NMI";

pub fn spawn(config: LocalHost) -> Arc<Host> {
    let starting = HostStatus { state: HostState::Stopped, text: "starting".into() };
    let (host, backend) = Host::new(&config.id, &config.name, "local", POWER_ACTIONS, true, false, starting);
    super::supervisor::spawn(config, host.id.clone(), backend, |config, backend| drive(config, backend).boxed());
    host
}

/// Runs the command, and again whenever it exits, unless the power is off.
async fn drive(config: &LocalHost, backend: &mut Backend) {
    loop {
        let outcome = run_once(config, backend).await;
        let text = match outcome {
            Ok(Exit::Exited(code)) => format!("console program exited ({code}); restarting"),
            Ok(Exit::Restart) => "Ctrl-Alt-Del: restarting the console program".to_string(),
            Ok(Exit::Reset) => "power reset: restarting the console program".to_string(),
            Ok(Exit::PowerOff) => {
                tracing::info!(host = %config.id, "powered off");
                if !stay_off(config, backend).await {
                    return;
                }
                continue;
            }
            Ok(Exit::NoViewersLeft) => return,
            Err(err) => {
                tracing::warn!(host = %config.id, error = %err, "local console failed to start");
                format!("console program failed to start: {err}")
            }
        };
        tracing::info!(host = %config.id, "{text}");
        let _ = backend.status.send(HostStatus { state: HostState::Stopped, text });
        tokio::time::sleep(RESTART_DELAY).await;
    }
}

/// Powered off: a blank screen that says so, keystrokes go nowhere, until power on (or reset).
/// Returns false when the controller is shutting down.
async fn stay_off(config: &LocalHost, backend: &mut Backend) -> bool {
    let Backend { video, input, power, status, .. } = backend;
    video.publish(super::notice_screen(config.cols, config.rows, &["The host is powered off."]));
    let _ = status.send(HostStatus { state: HostState::Stopped, text: "powered off".into() });
    super::wait_for_power_on(input, power).await
}

enum Exit {
    Exited(String),
    Restart,
    Reset,
    PowerOff,
    /// The controller is shutting down (the input channel closed).
    NoViewersLeft,
}

async fn run_once(config: &LocalHost, backend: &mut Backend) -> anyhow::Result<Exit> {
    // The pseudo-terminal is also the host's serial console: its raw output, and raw input.
    let Backend { video, input, power, status, serial, serial_input, .. } = backend;
    let pty = native_pty_system().openpty(PtySize {
        rows: config.rows,
        cols: config.cols,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let program = config.command.clone().or_else(|| std::env::var("SHELL").ok()).unwrap_or_else(|| "/bin/sh".into());
    let mut cmd = match &config.run_as {
        Some(user) => {
            let mut cmd = CommandBuilder::new("runuser");
            cmd.args(["-u", user.as_str(), "--", program.as_str()]);
            // Not the controller's home: the other user may not enter it.
            cmd.cwd("/");
            cmd.env("USER", user);
            cmd.env_remove("HOME");
            cmd
        }
        None => {
            let mut cmd = CommandBuilder::new(&program);
            if let Ok(home) = std::env::var("HOME") {
                cmd.cwd(home);
            }
            cmd
        }
    };
    cmd.args(&config.args);
    cmd.env("TERM", "xterm-256color");
    let mut child = pty.slave.spawn_command(cmd)?;
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader()?;
    let mut writer = pty.master.take_writer()?;

    // Blocking pty I/O runs on threads of its own; the async side only sees channels.
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || out_tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for bytes in in_rx {
            if writer.write_all(&bytes).and_then(|()| writer.flush()).is_err() {
                break;
            }
        }
    });

    let mut screen = super::terminal::TerminalScreen::start(config.cols, config.rows, video);
    let _ = status.send(HostStatus { state: HostState::Running, text: format!("running {program}") });
    let exit = loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(bytes) => {
                    serial.publish(&bytes);
                    screen.feed(&bytes);
                }
                None => break None,
            },
            event = input.recv() => match event {
                None => break Some(Exit::NoViewersLeft),
                Some(InputEvent::Special(SpecialKey::CtrlAltDel)) => break Some(Exit::Restart),
                Some(event) => {
                    if let Some(bytes) = screen.input_bytes(event) {
                        let _ = in_tx.send(bytes);
                    }
                }
            },
            bytes = serial_input.recv() => {
                if let Some(bytes) = bytes {
                    let _ = in_tx.send(bytes);
                }
            },
            request = power.recv() => match request {
                Some(request) => {
                    let exit = match request.action {
                        // Both stop the program: a shell has nothing to shut down gracefully.
                        PowerAction::Off | PowerAction::Shutdown => Some(Exit::PowerOff),
                        PowerAction::Reset => Some(Exit::Reset),
                        PowerAction::On => None,
                        PowerAction::Nmi => {
                            request.answer(Err(NO_NMI.into()));
                            continue;
                        }
                    };
                    request.answer(Ok(()));
                    if let Some(exit) = exit {
                        break Some(exit);
                    }
                }
                None => break Some(Exit::NoViewersLeft),
            },
            () = screen.due() => screen.publish(video),
        }
    };
    screen.publish(video);
    let _ = child.kill();
    let code = tokio::task::spawn_blocking(move || child.wait()).await;
    Ok(match exit {
        Some(e) => e,
        None => Exit::Exited(match code {
            Ok(Ok(status)) => status.to_string(),
            _ => "unknown status".into(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::VideoHub;
    use shared::wire::{KeyEvent, Modifiers};

    /// A local host running /bin/sh on an 80x24 terminal.
    fn shell(id: &str) -> Arc<Host> {
        spawn(LocalHost {
            id: id.into(),
            name: id.into(),
            command: Some("/bin/sh".into()),
            args: vec![],
            run_as: None,
            cols: 80,
            rows: 24,
        })
    }

    /// Waits for the shell's prompt, then types `line` key by key and Enter, as the browser
    /// would send it. Typing before the prompt lets the terminal echo keys ahead of it.
    async fn type_line(host: &Host, line: &str) {
        wait_for_prompt(&host.video).await;
        let keys = line.chars().map(|ch| ch.to_string()).chain(["Enter".to_string()]);
        for key in keys {
            let event = KeyEvent { down: true, modifiers: Modifiers::default(), key, code: String::new() };
            host.input.send(InputEvent::Key(event)).await.unwrap();
        }
    }

    async fn wait_for_prompt(video: &VideoHub) {
        for _ in 0..500 {
            let text = video.text().unwrap_or_default();
            if text.trim_end().ends_with(['#', '$']) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no shell prompt; screen:\n{}", video.text().unwrap_or_default());
    }

    async fn wait_for_text(video: &VideoHub, needle: &str) -> String {
        for _ in 0..500 {
            if let Some(text) = video.text() {
                if text.contains(needle) {
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{needle:?} never appeared; screen:\n{}", video.text().unwrap_or_default());
    }

    #[tokio::test]
    async fn typed_keys_reach_the_shell_and_its_output_reaches_the_screen() {
        let host = shell("t");
        type_line(&host, "echo $((6*7))").await;
        let text = wait_for_text(&host.video, "42").await;
        assert!(text.contains("echo $((6*7))"), "{text}");
    }

    async fn wait_for_status(host: &Host, state: HostState, text: &str) {
        let mut status = host.status.clone();
        let seen = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                {
                    let s = status.borrow_and_update();
                    if s.state == state && s.text.contains(text) {
                        return;
                    }
                }
                if status.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(seen.is_ok(), "never reached {state:?} {text:?}; last {:?}", host.status.borrow());
    }

    #[tokio::test]
    async fn power_off_stops_the_program_until_power_on() {
        let host = shell("p");
        wait_for_status(&host, HostState::Running, "running").await;
        host.press_power(PowerAction::Off).await.unwrap();
        wait_for_status(&host, HostState::Stopped, "powered off").await;
        wait_for_text(&host.video, "The host is powered off.").await;
        // Typing while off goes nowhere, and the host stays off (no automatic restart).
        host.input.send(InputEvent::Paste("echo lost\n".into())).await.unwrap();
        tokio::time::sleep(RESTART_DELAY * 2).await;
        assert_eq!(host.status.borrow().text, "powered off");

        assert!(host.press_power(PowerAction::Nmi).await.is_err(), "no NMI on a shell");
        host.press_power(PowerAction::On).await.unwrap();
        wait_for_status(&host, HostState::Running, "running").await;
        type_line(&host, "echo $((5*5))").await;
        let text = wait_for_text(&host.video, "25").await;
        assert!(!text.contains("lost"), "{text}");
    }

    #[tokio::test]
    async fn the_pseudo_terminal_is_also_the_serial_console() {
        let host = shell("s");
        wait_for_prompt(&host.video).await;
        let serial = host.serial.clone().unwrap();
        let mut stream = serial.subscribe().updates;
        host.serial_input.as_ref().unwrap().send(b"echo serial-$((6*7))\r".to_vec()).await.unwrap();
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("serial-42") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.recv()).await.unwrap().unwrap();
            seen.extend_from_slice(&chunk);
        }
        wait_for_text(&host.video, "serial-42").await;
        assert!(String::from_utf8_lossy(&serial.subscribe().backlog).contains("serial-42"));
    }

    #[tokio::test]
    async fn run_as_runs_the_program_as_that_user() {
        // runuser needs root; the test machines run as root, a developer's may not.
        if !std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n") {
            eprintln!("skipped: run_as needs the controller to run as root");
            return;
        }
        let host = spawn(LocalHost {
            id: "as-nobody".into(),
            name: "as-nobody".into(),
            command: Some("/bin/sh".into()),
            args: vec!["-c".into(), "echo \"I am $(id -un)\"; sleep 30".into()],
            run_as: Some("nobody".into()),
            cols: 80,
            rows: 24,
        });
        let text = wait_for_text(&host.video, "I am ").await;
        assert!(text.contains("I am nobody"), "{text}");
    }
}
