//! A QMP (QEMU Machine Protocol) client on a unix socket: JSON lines, one command at a time,
//! and the asynchronous events QEMU sends between them (kept in order, a bounded number, for
//! whoever asks with [`Qmp::next_event`]).

use std::path::Path;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP closed the connection")]
    Closed,
    #[error("QMP sent something that is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("QEMU refused {command}: {message}")]
    Refused { command: String, message: String },
    #[error("QMP did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("QMP sent a line longer than 1 MiB")]
    TooLong,
}

/// A QEMU that stops answering is stuck, not busy: every reply has this long.
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const MAX_LINE: u64 = 1 << 20;

/// Events kept while nobody asks for them, at most (the oldest go first).
const MAX_EVENTS: usize = 64;

pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// The line being read: kept here, so that a read cancelled halfway loses nothing.
    line: Vec<u8>,
    events: std::collections::VecDeque<Value>,
}

impl Qmp {
    /// Connects and leaves capabilities negotiation, ready for commands.
    pub async fn connect(path: &Path) -> Result<Self, QmpError> {
        let (read, writer) = UnixStream::connect(path).await?.into_split();
        let mut qmp = Self { reader: BufReader::new(read), writer, line: Vec::new(), events: Default::default() };
        qmp.reply().await?; // the greeting
        qmp.execute("qmp_capabilities", json!({})).await?;
        Ok(qmp)
    }

    /// Runs one command and returns its `return` value.
    pub async fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, QmpError> {
        let mut line = json!({ "execute": command, "arguments": arguments }).to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await?;
        let reply = self.reply().await?;
        if let Some(error) = reply.get("error") {
            let message = error["desc"].as_str().unwrap_or("no reason given").to_string();
            return Err(QmpError::Refused { command: command.into(), message });
        }
        Ok(reply["return"].clone())
    }

    /// The next message that is not an asynchronous event, within [`REPLY_TIMEOUT`]; events
    /// that come first are kept.
    async fn reply(&mut self) -> Result<Value, QmpError> {
        tokio::time::timeout(REPLY_TIMEOUT, async {
            loop {
                let value = self.message().await?;
                if value.get("event").is_none() {
                    return Ok(value);
                }
                self.keep(value);
            }
        })
        .await
        .map_err(|_| QmpError::Timeout(REPLY_TIMEOUT))?
    }

    /// The next asynchronous event (`{"event": "RESET", ...}`), waiting for one if none is
    /// kept. Cancel-safe: a line read halfway is finished by the next call.
    pub async fn next_event(&mut self) -> Result<Value, QmpError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            let value = self.message().await?;
            // A reply with no command waiting for it is not ours to give anyone.
            if value.get("event").is_some() {
                return Ok(value);
            }
        }
    }

    fn keep(&mut self, event: Value) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// The next whole line, as JSON.
    async fn message(&mut self) -> Result<Value, QmpError> {
        let room = (MAX_LINE as usize).saturating_sub(self.line.len()) as u64;
        tokio::io::AsyncReadExt::take(&mut self.reader, room).read_until(b'\n', &mut self.line).await?;
        // Short of a newline: the line outgrew its limit, or the stream ended.
        if !self.line.ends_with(b"\n") {
            return Err(if self.line.len() as u64 >= MAX_LINE { QmpError::TooLong } else { QmpError::Closed });
        }
        let line = std::mem::take(&mut self.line);
        Ok(serde_json::from_slice(&line)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_qemu_that_stops_answering_is_given_up_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.write_all(b"{\"QMP\": {}}\n").await.unwrap();
            // Takes qmp_capabilities and never answers.
            std::future::pending::<()>().await;
            drop(socket);
        });
        let started = tokio::time::Instant::now();
        assert!(matches!(Qmp::connect(&path).await, Err(QmpError::Timeout(_))));
        assert_eq!(started.elapsed(), REPLY_TIMEOUT);
        server.abort();
    }
}
