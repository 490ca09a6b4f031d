//! A QMP (QEMU Machine Protocol) client on a unix socket: JSON lines, one command at a time.

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
}

pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Qmp {
    /// Connects and leaves capabilities negotiation, ready for commands.
    pub async fn connect(path: &Path) -> Result<Self, QmpError> {
        let (read, writer) = UnixStream::connect(path).await?.into_split();
        let mut qmp = Self { reader: BufReader::new(read), writer };
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

    /// The next message that is not an asynchronous event.
    async fn reply(&mut self) -> Result<Value, QmpError> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(QmpError::Closed);
            }
            let value: Value = serde_json::from_str(&line)?;
            if value.get("event").is_none() {
                return Ok(value);
            }
        }
    }
}
