//! Directives: commands a user runs on an agent's machine, and what they printed.
//!
//! Each directive keeps the last `RETAIN` bytes of its output (older chunks are dropped and
//! counted), so a program that floods its output (`yes`) costs the controller a fixed amount
//! however long it runs; readers follow the output live from any point and are told how much
//! they missed. A host keeps its last `KEEP_PER_HOST` directives.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use agent_link::{Exit, OutputChannel};
use serde::Serialize;
use tokio::sync::watch;

use crate::sync::Locked;

/// Output bytes kept per directive.
pub const RETAIN: usize = 1 << 20;
/// Directives kept per host (running ones are never dropped).
pub const KEEP_PER_HOST: usize = 32;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub output_bytes: u64,
    /// Why the agent ended it ("timed out", "output limit", "cancelled", "cannot start: ...",
    /// "the agent disconnected"); empty when it ended by itself.
    pub reason: String,
}

impl From<Exit> for ExitInfo {
    fn from(exit: Exit) -> Self {
        Self {
            code: exit.code,
            signal: exit.signal,
            duration_ms: exit.duration_ms,
            output_bytes: exit.output_bytes,
            reason: exit.reason,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Chunk {
    /// Output bytes before this chunk.
    pub offset: u64,
    pub channel: OutputChannel,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Output {
    chunks: VecDeque<Chunk>,
    retained: usize,
    output_bytes: u64,
    exit: Option<ExitInfo>,
}

/// One directive.
pub struct Directive {
    pub id: u64,
    pub host_id: String,
    pub user: String,
    pub command: String,
    pub started_at: i64,
    output: Mutex<Output>,
    /// Moves on with every chunk and at the exit, for readers following live.
    changed: watch::Sender<u64>,
}

/// What a reader gets from `read_from`.
pub struct Read {
    pub chunks: Vec<Chunk>,
    /// Bytes dropped before the first chunk the reader gets, which it has not seen.
    pub lost: u64,
    /// Where the reader goes on from.
    pub next_offset: u64,
    pub exit: Option<ExitInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectiveSummary {
    pub id: u64,
    pub user: String,
    pub command: String,
    pub started_at: i64,
    pub output_bytes: u64,
    pub exit: Option<ExitInfo>,
}

impl Directive {
    pub fn new(id: u64, host_id: &str, user: &str, command: &str, started_at: i64) -> Self {
        Self {
            id,
            host_id: host_id.to_string(),
            user: user.to_string(),
            command: command.to_string(),
            started_at,
            output: Mutex::new(Output::default()),
            changed: watch::channel(0).0,
        }
    }

    pub fn push(&self, channel: OutputChannel, bytes: Vec<u8>) {
        {
            let mut out = self.output.locked();
            if out.exit.is_some() {
                return;
            }
            let offset = out.output_bytes;
            out.output_bytes += bytes.len() as u64;
            out.retained += bytes.len();
            out.chunks.push_back(Chunk { offset, channel, bytes });
            while out.retained > RETAIN {
                let Some(old) = out.chunks.pop_front() else { break };
                out.retained -= old.bytes.len();
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The directive ended; later output is ignored. Returns false if it had already ended.
    pub fn finish(&self, exit: ExitInfo) -> bool {
        let first = {
            let mut out = self.output.locked();
            let first = out.exit.is_none();
            if first {
                out.exit = Some(exit);
            }
            first
        };
        self.changed.send_modify(|n| *n += 1);
        first
    }

    /// The chunks after the first `seen` bytes of output, and how many bytes between those and
    /// the oldest one kept were dropped unseen.
    pub fn read_from(&self, seen: u64) -> Read {
        let out = self.output.locked();
        let first_kept = out.chunks.front().map_or(out.output_bytes, |c| c.offset);
        let chunks: Vec<Chunk> = out.chunks.iter().filter(|c| c.offset >= seen).cloned().collect();
        Read { chunks, lost: first_kept.saturating_sub(seen), next_offset: out.output_bytes, exit: out.exit.clone() }
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn summary(&self) -> DirectiveSummary {
        let out = self.output.locked();
        DirectiveSummary {
            id: self.id,
            user: self.user.clone(),
            command: self.command.clone(),
            started_at: self.started_at,
            output_bytes: out.output_bytes,
            exit: out.exit.clone(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.output.locked().exit.is_none()
    }

    /// Bytes of output held now.
    pub fn retained(&self) -> usize {
        self.output.locked().retained
    }
}

/// Every host's recent directives.
#[derive(Default)]
pub struct Directives {
    by_host: Mutex<HashMap<String, VecDeque<Arc<Directive>>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Directives {
    pub fn start(&self, host_id: &str, user: &str, command: &str, now_ms: i64) -> Arc<Directive> {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let directive = Arc::new(Directive::new(id, host_id, user, command, now_ms));
        let mut by_host = self.by_host.locked();
        let list = by_host.entry(host_id.to_string()).or_default();
        list.push_back(directive.clone());
        while list.len() > KEEP_PER_HOST {
            match list.iter().position(|d| !d.is_running()) {
                Some(at) => {
                    list.remove(at);
                }
                None => break,
            }
        }
        directive
    }

    pub fn get(&self, host_id: &str, id: u64) -> Option<Arc<Directive>> {
        self.by_host.locked().get(host_id)?.iter().find(|d| d.id == id).cloned()
    }

    /// The host's directives, newest first.
    pub fn list(&self, host_id: &str) -> Vec<DirectiveSummary> {
        let by_host = self.by_host.locked();
        by_host.get(host_id).map(|l| l.iter().rev().map(|d| d.summary()).collect()).unwrap_or_default()
    }

    pub fn forget_host(&self, host_id: &str) {
        self.by_host.locked().remove(host_id);
    }
}

/// Turns a byte stream into text a character at a time: a character cut between two chunks
/// waits for its end; bytes that are no UTF-8 become U+FFFD.
#[derive(Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut text = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    rest = &[];
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match err.error_len() {
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = after.get(bad..).unwrap_or_default();
                        }
                        // A character's first bytes at the end: keep them for the next chunk.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_keeps_only_the_newest_output_and_says_how_much_went() {
        let d = Directive::new(1, "h", "u", "yes", 0);
        for _ in 0..3 * RETAIN / 1024 {
            d.push(OutputChannel::Stdout, vec![b'y'; 1024]);
        }
        assert!(d.retained() <= RETAIN);
        let read = d.read_from(0);
        assert_eq!(read.lost, (2 * RETAIN) as u64);
        let kept: usize = read.chunks.iter().map(|c| c.bytes.len()).sum();
        assert_eq!(kept, RETAIN);
        assert_eq!(d.summary().output_bytes, (3 * RETAIN) as u64);
        // A reader that kept up misses nothing.
        let tail = d.read_from(read.next_offset - 1024);
        assert_eq!((tail.lost, tail.chunks.len()), (0, 1));
        assert_eq!(d.read_from(read.next_offset).chunks.len(), 0);
    }

    #[test]
    fn output_after_the_exit_is_ignored() {
        let d = Directive::new(1, "h", "u", "true", 0);
        d.push(OutputChannel::Stderr, b"x".to_vec());
        let exit = ExitInfo { code: Some(0), signal: None, duration_ms: 1, output_bytes: 1, reason: String::new() };
        assert!(d.finish(exit.clone()));
        assert!(!d.finish(exit.clone()));
        d.push(OutputChannel::Stdout, b"late".to_vec());
        let read = d.read_from(0);
        assert_eq!((read.chunks.len(), read.exit), (1, Some(exit)));
    }

    #[test]
    fn a_host_keeps_its_newest_directives_and_every_running_one() {
        let all = Directives::default();
        let first = all.start("h", "u", "sleep", 0);
        for i in 0..KEEP_PER_HOST + 5 {
            let d = all.start("h", "u", "true", i as i64);
            d.finish(ExitInfo { code: Some(0), signal: None, duration_ms: 0, output_bytes: 0, reason: String::new() });
        }
        let listed = all.list("h");
        assert_eq!(listed.len(), KEEP_PER_HOST);
        assert!(all.get("h", first.id).is_some(), "the running one stays");
        assert!(all.list("other").is_empty());
    }

    #[test]
    fn text_is_cut_between_characters_never_inside_one() {
        let mut s = Utf8Stream::default();
        let euro = "€".as_bytes();
        assert_eq!(s.push(&[b'a', euro[0]]), "a");
        assert_eq!(s.push(&euro[1..]), "€");
        assert_eq!(s.push(&[0xff, b'b']), "\u{fffd}b");
    }
}
