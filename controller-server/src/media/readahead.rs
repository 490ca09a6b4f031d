//! Read-ahead for media whose every read costs a round trip (the browser's file over the
//! console link, a web server's image): a guest's CD drive asks one read at a time, so a slow
//! answer would set the pace. Reads are served from 1 MiB blocks; a read that follows the last
//! one fetches the next `AHEAD` blocks too, all at once, so the source works on several while
//! the guest takes the first.
//!
//! Bounded: at most `AHEAD` blocks fetched ahead and `KEPT` blocks kept; what the guest stopped
//! reading is dropped. A failed fetch fails the reads waiting for it and is asked again by the
//! next read that needs it. Writes pass through and drop the blocks they touch.

use std::collections::{BTreeMap, HashSet};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::{Source, SourceRequest};

/// The size reads are fetched in.
pub const BLOCK: u64 = 1 << 20;
/// Blocks fetched ahead of a sequential reader: as many as the console link keeps in flight
/// (`shared::link::media::MEDIA_WINDOW` chunks of 1 MiB), which the browser path needs to stay busy.
const AHEAD: u64 = 16;
/// Blocks kept, at most (the ones ahead, and a few just read for a reader that goes back).
const KEPT: usize = 20;
/// Requests queued towards the read-ahead, at most (the export keeps 16 in flight).
const QUEUE: usize = 32;

type Reply = oneshot::Sender<Result<Vec<u8>, String>>;

/// A read waiting for blocks.
struct Waiting {
    offset: u64,
    length: u32,
    reply: Reply,
}

impl Waiting {
    /// The blocks this read needs.
    fn blocks(&self) -> std::ops::RangeInclusive<u64> {
        covering(self.offset, self.offset + u64::from(self.length))
    }
}

/// The blocks that hold bytes `start..end`.
fn covering(start: u64, end: u64) -> std::ops::RangeInclusive<u64> {
    start / BLOCK..=end.saturating_sub(1) / BLOCK
}

enum Block {
    Fetching,
    Ready(Vec<u8>),
}

/// Puts read-ahead in front of `inner`; the task ends when the export drops its side.
pub fn wrap(inner: Source) -> Source {
    let (requests, queue) = mpsc::channel(QUEUE);
    let outer = Source { requests, size: inner.size, read_only: inner.read_only };
    tokio::spawn(ReadAhead::new(inner).run(queue));
    outer
}

struct ReadAhead {
    inner: Source,
    blocks: BTreeMap<u64, Block>,
    waiting: Vec<Waiting>,
    /// Where the last read ended: a read starting there is sequential.
    last_end: Option<u64>,
}

type Fetched = (u64, Result<Vec<u8>, String>);
/// Block fetches under way.
type Fetches = FuturesUnordered<futures_util::future::BoxFuture<'static, Fetched>>;

impl ReadAhead {
    fn new(inner: Source) -> Self {
        Self { inner, blocks: BTreeMap::new(), waiting: Vec::new(), last_end: None }
    }

    async fn run(mut self, mut queue: mpsc::Receiver<SourceRequest>) {
        let mut fetches = Fetches::new();
        loop {
            tokio::select! {
                request = queue.recv() => match request {
                    Some(request) => self.handle(request, &mut fetches),
                    None => return,
                },
                Some((index, result)) = fetches.next(), if !fetches.is_empty() => self.fetched(index, result),
            }
        }
    }

    fn handle(&mut self, request: SourceRequest, fetches: &mut Fetches) {
        match request {
            SourceRequest::Read { offset, length, reply } => {
                let end = offset.saturating_add(u64::from(length)).min(self.inner.size);
                let (first, last) = covering(offset, end).into_inner();
                let sequential = self.last_end.is_some_and(|e| e == offset) || offset == 0;
                self.last_end = Some(end);
                let ahead = if sequential { AHEAD } else { 0 };
                let blocks_in_medium = self.inner.size.div_ceil(BLOCK);
                for index in first..=(last + ahead).min(blocks_in_medium.saturating_sub(1)) {
                    if let std::collections::btree_map::Entry::Vacant(entry) = self.blocks.entry(index) {
                        entry.insert(Block::Fetching);
                        fetches.push(Box::pin(fetch(self.inner.clone(), index)));
                    }
                }
                self.waiting.push(Waiting { offset, length, reply });
                self.answer_ready();
                self.forget_behind(first);
            }
            SourceRequest::Write { offset, data, reply } => {
                let end = offset.saturating_add(data.len() as u64);
                let touched: Vec<u64> = self.blocks.range(offset / BLOCK..=end / BLOCK).map(|(i, _)| *i).collect();
                for index in touched {
                    self.blocks.remove(&index);
                }
                forward(&self.inner, SourceRequest::Write { offset, data, reply });
            }
            SourceRequest::Flush { reply } => forward(&self.inner, SourceRequest::Flush { reply }),
        }
    }

    fn fetched(&mut self, index: u64, result: Result<Vec<u8>, String>) {
        match result {
            Ok(bytes) => {
                self.blocks.insert(index, Block::Ready(bytes));
                self.answer_ready();
            }
            Err(why) => {
                self.blocks.remove(&index);
                // Every read that needs this block fails; the next one asks for it again.
                let (failed, rest) =
                    std::mem::take(&mut self.waiting).into_iter().partition(|w: &Waiting| w.blocks().contains(&index));
                self.waiting = rest;
                for w in failed {
                    let _ = w.reply.send(Err(why.clone()));
                }
            }
        }
    }

    /// Answers every waiting read whose blocks are all in.
    fn answer_ready(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        for w in waiting {
            match self.assemble(w.offset, w.length) {
                Some(bytes) => {
                    let _ = w.reply.send(Ok(bytes));
                }
                None => self.waiting.push(w),
            }
        }
    }

    /// The bytes of a read, if its blocks are all ready.
    fn assemble(&self, offset: u64, length: u32) -> Option<Vec<u8>> {
        let end = offset + u64::from(length);
        let mut out = Vec::with_capacity(length as usize);
        let mut at = offset;
        while at < end {
            let Some(Block::Ready(block)) = self.blocks.get(&(at / BLOCK)) else { return None };
            let from = (at % BLOCK) as usize;
            let to = ((end - (at / BLOCK) * BLOCK).min(BLOCK)) as usize;
            out.extend_from_slice(block.get(from..to)?);
            at = (at / BLOCK + 1) * BLOCK;
        }
        Some(out)
    }

    /// Keeps at most `KEPT` blocks, dropping those furthest behind `current` first, then
    /// those furthest ahead. Blocks being fetched or needed by a waiting read stay.
    fn forget_behind(&mut self, current: u64) {
        if self.blocks.len() <= KEPT {
            return;
        }
        let needed: HashSet<u64> = self.waiting.iter().flat_map(Waiting::blocks).collect();
        let mut candidates: Vec<u64> = self
            .blocks
            .iter()
            .filter(|(i, b)| matches!(b, Block::Ready(_)) && !needed.contains(*i))
            .map(|(i, _)| *i)
            .collect();
        // Behind first (furthest back first), then ahead (furthest first).
        candidates.sort_by_key(|&i| if i < current { (0, i) } else { (1, u64::MAX - i) });
        for index in candidates {
            if self.blocks.len() <= KEPT {
                break;
            }
            self.blocks.remove(&index);
        }
    }
}

/// Reads block `index` (the last one may be short) from the source.
async fn fetch(inner: Source, index: u64) -> Fetched {
    let offset = index * BLOCK;
    let length = (inner.size - offset).min(BLOCK) as u32;
    let (reply, answer) = oneshot::channel();
    let result = match inner.requests.send(SourceRequest::Read { offset, length, reply }).await {
        Err(_) => Err("the medium's source is gone".to_string()),
        Ok(()) => answer.await.unwrap_or_else(|_| Err("the medium's source did not answer".into())),
    };
    (index, result)
}

/// Hands a request on to the source without waiting (a full queue fails it).
fn forward(inner: &Source, request: SourceRequest) {
    if let Err(mpsc::error::TrySendError::Full(request) | mpsc::error::TrySendError::Closed(request)) =
        inner.requests.try_send(request)
    {
        let why = "the medium's source cannot take it now".to_string();
        match request {
            SourceRequest::Read { reply, .. } => drop(reply.send(Err(why))),
            SourceRequest::Write { reply, .. } | SourceRequest::Flush { reply } => drop(reply.send(Err(why))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// A source of `size` bytes (byte i = i % 251) counting the reads it answers.
    fn counting_source(size: u64) -> (Source, Arc<AtomicU64>) {
        let (requests, mut queue) = mpsc::channel::<SourceRequest>(64);
        let reads = Arc::new(AtomicU64::new(0));
        let counted = reads.clone();
        tokio::spawn(async move {
            while let Some(request) = queue.recv().await {
                if let SourceRequest::Read { offset, length, reply } = request {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let _ = reply.send(Ok((offset..offset + u64::from(length)).map(|i| (i % 251) as u8).collect()));
                }
            }
        });
        (Source { requests, size, read_only: true }, reads)
    }

    async fn read(source: &Source, offset: u64, length: u32) -> Result<Vec<u8>, String> {
        let (reply, answer) = oneshot::channel();
        source.requests.send(SourceRequest::Read { offset, length, reply }).await.unwrap();
        answer.await.unwrap()
    }

    #[tokio::test]
    async fn sequential_reads_are_answered_whole_and_fetched_ahead_in_blocks() {
        let size = 20 * BLOCK + 1234;
        let (inner, fetched) = counting_source(size);
        let source = wrap(inner);
        let mut offset = 0;
        for _ in 0..40 {
            let length = 128 << 10;
            let got = read(&source, offset, length).await.unwrap();
            assert!(got.iter().enumerate().all(|(i, &b)| b == ((offset + i as u64) % 251) as u8));
            offset += u64::from(length);
        }
        // 40 reads of 128 KiB cover 5 blocks; the rest of what was fetched is the read-ahead.
        let asked = fetched.load(Ordering::SeqCst);
        assert!((5..=5 + AHEAD + 1).contains(&asked), "{asked} block fetches");
        // The short last block, across a block boundary.
        let tail = read(&source, size - BLOCK - 10, (BLOCK + 10) as u32).await.unwrap();
        assert_eq!(tail.len() as u64, BLOCK + 10);
        assert_eq!(tail[0], ((size - BLOCK - 10) % 251) as u8);
    }

    #[tokio::test]
    async fn a_failed_fetch_fails_its_reads_and_is_asked_again_later() {
        let (requests, mut queue) = mpsc::channel::<SourceRequest>(64);
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let fail = failing.clone();
        tokio::spawn(async move {
            while let Some(SourceRequest::Read { offset, length, reply }) = queue.recv().await {
                let _ = reply.send(if fail.load(Ordering::SeqCst) && offset == 0 {
                    Err("browser gone".into())
                } else {
                    Ok(vec![7; length as usize])
                });
            }
        });
        let source = wrap(Source { requests, size: 4 * BLOCK, read_only: true });
        assert_eq!(read(&source, 0, 4096).await, Err("browser gone".into()));
        failing.store(false, Ordering::SeqCst);
        assert_eq!(read(&source, 0, 4096).await, Ok(vec![7; 4096]));
    }
}
