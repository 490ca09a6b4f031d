//! An agent's screen as a transport for the `vnc` backend: the controller's own VNC client
//! speaks to the machine's local VNC server through a screen stream of the agent's link, as
//! through a socket, so an agent host's desktop is decoded, encoded and shared exactly as any
//! VNC host's.

use std::io;
use std::sync::Arc;

use agent_link::OpenKind;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

use super::Command;
use crate::hosts::vnc::{Dialer, Reader, Writer};

/// What the VNC client may have in flight in either direction before it waits.
const BUFFER: usize = 64 << 10;
const CHUNK: usize = 16 << 10;

pub struct AgentScreen {
    commands: mpsc::Sender<Command>,
}

impl AgentScreen {
    pub fn dialer(commands: mpsc::Sender<Command>) -> Arc<dyn Dialer> {
        Arc::new(Self { commands })
    }

    async fn open(&self) -> io::Result<(Reader, Writer)> {
        let gone = || io::Error::new(io::ErrorKind::NotConnected, "the agent is not connected");
        let (output, mut from_agent) = mpsc::channel(16);
        let (ended, mut why) = oneshot::channel();
        let (opened, answer) = oneshot::channel();
        let kind = OpenKind::Screen;
        self.commands.send(Command::Stream { kind, output, ended, opened }).await.map_err(|_| gone())?;
        let stream = answer.await.map_err(|_| gone())?.map_err(io::Error::other)?;
        // An RFB server speaks first: its greeting, or why the agent could not reach it.
        let first = tokio::select! {
            bytes = from_agent.recv() => bytes,
            reason = &mut why => {
                let reason = reason.unwrap_or_default();
                let reason = if reason.is_empty() { "the agent's VNC server closed the connection".into() } else { reason };
                return Err(io::Error::other(reason));
            }
        };
        let Some(first) = first else { return Err(gone()) };
        let (near, far) = tokio::io::duplex(BUFFER);
        tokio::spawn(carry(stream, first, from_agent, far, self.commands.clone()));
        let (reader, writer) = tokio::io::split(near);
        Ok((Box::new(reader), Box::new(writer)))
    }
}

impl Dialer for AgentScreen {
    fn describe(&self) -> String {
        "the agent's local VNC server".into()
    }

    fn dial(&self) -> BoxFuture<'_, io::Result<(Reader, Writer)>> {
        Box::pin(self.open())
    }
}

/// Carries bytes between the stream and the VNC client's end, each way on its own, until
/// either ends; then the stream is closed at the agent.
async fn carry(
    stream: u32,
    first: Vec<u8>,
    mut from_agent: mpsc::Receiver<Vec<u8>>,
    far: DuplexStream,
    commands: mpsc::Sender<Command>,
) {
    let (mut from_client, mut to_client) = tokio::io::split(far);
    let down = async {
        let mut next = Some(first);
        while let Some(bytes) = next {
            if to_client.write_all(&bytes).await.is_err() {
                return;
            }
            next = from_agent.recv().await;
        }
    };
    let up = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let bytes = buf.get(..n).unwrap_or_default().to_vec();
                    if commands.send(Command::Input { stream, bytes }).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = down => {}
        () = up => {}
    }
    let _ = commands.send(Command::CloseStream { stream }).await;
}
