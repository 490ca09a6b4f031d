//! A writable layer over a medium that is not written itself (the browser's file, a web
//! server's image, an image of the media folder): the guest's writes land in a scratch file in
//! the host's run directory, in `BLOCK`-sized blocks copied from the medium on their first
//! write, and later reads of those blocks come from there. The scratch file is unlinked as it is
//! made, so it goes with the medium (eject, the machine stopping, the controller dying): what
//! the guest wrote lasts as long as the medium is inserted, as on a machine whose USB stick is
//! taken out and put back blank. Nothing can be written back to a file in the user's browser,
//! and an image of the media folder is shared by every host.
//!
//! Requests are taken one at a time, so two writes into one block never race on its first
//! copy; a read that touches no written block goes straight to the medium, which keeps its
//! read-ahead and its requests in flight.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Source, SourceRequest};

/// The size writes are kept in (a guest writes in 512-byte sectors or 4 KiB pages).
pub const BLOCK: u64 = 4096;
/// Requests queued towards the layer, at most (the export keeps 16 in flight).
const QUEUE: usize = 32;

/// Puts a writable layer, kept in a scratch file in `scratch_dir`, over `base`; the task ends
/// when the export drops its side.
pub fn wrap(base: Source, scratch_dir: &Path) -> std::io::Result<Source> {
    let file = Arc::new(tempfile::tempfile_in(scratch_dir)?);
    let (requests, queue) = mpsc::channel(QUEUE);
    let size = base.size;
    let blocks = size.div_ceil(BLOCK);
    let written = vec![0u64; usize::try_from(blocks.div_ceil(64)).unwrap_or(usize::MAX)];
    tokio::spawn(Overlay { base, file, written }.run(queue));
    Ok(Source { requests, size, read_only: false })
}

struct Overlay {
    base: Source,
    file: Arc<std::fs::File>,
    /// One bit per block: written (its bytes are in the scratch file).
    written: Vec<u64>,
}

impl Overlay {
    async fn run(mut self, mut queue: mpsc::Receiver<SourceRequest>) {
        while let Some(request) = queue.recv().await {
            match request {
                SourceRequest::Read { offset, length, reply } => {
                    if let Err(why) = self.check(offset, u64::from(length)) {
                        let _ = reply.send(Err(why));
                    } else if !self.any_written(offset, u64::from(length)) {
                        // The medium answers the guest itself.
                        let request = SourceRequest::Read { offset, length, reply };
                        if self.base.requests.send(request).await.is_err() {
                            return;
                        }
                    } else {
                        let _ = reply.send(self.read(offset, length).await);
                    }
                }
                SourceRequest::Write { offset, data, reply } => {
                    let _ = reply.send(self.write(offset, data).await);
                }
                // Nothing here is meant to outlive the medium: there is nothing to make durable.
                SourceRequest::Flush { reply } => {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    fn check(&self, offset: u64, length: u64) -> Result<(), String> {
        match offset.checked_add(length) {
            Some(end) if end <= self.base.size => Ok(()),
            _ => Err(format!("{length} bytes at {offset} are outside the medium")),
        }
    }

    fn is_written(&self, block: u64) -> bool {
        let (word, bit) = ((block / 64) as usize, block % 64);
        self.written.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    fn mark_written(&mut self, block: u64) {
        let (word, bit) = ((block / 64) as usize, block % 64);
        if let Some(w) = self.written.get_mut(word) {
            *w |= 1 << bit;
        }
    }

    /// The blocks holding bytes `offset..offset + length` (none for an empty range).
    fn blocks(offset: u64, length: u64) -> std::ops::Range<u64> {
        if length == 0 {
            return 0..0;
        }
        offset / BLOCK..(offset + length - 1) / BLOCK + 1
    }

    fn any_written(&self, offset: u64, length: u64) -> bool {
        Self::blocks(offset, length).any(|b| self.is_written(b))
    }

    /// A read that touches written blocks: the medium's bytes (unless every block is written),
    /// with the written blocks' bytes laid over them.
    async fn read(&self, offset: u64, length: u32) -> Result<Vec<u8>, String> {
        let len = u64::from(length);
        let blocks = Self::blocks(offset, len);
        let mut data = if blocks.clone().all(|b| self.is_written(b)) {
            vec![0u8; length as usize]
        } else {
            self.base_read(offset, length).await?
        };
        // The written parts, as (offset in the medium, length) runs of whole written blocks
        // clipped to the read.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for block in blocks.filter(|&b| self.is_written(b)) {
            let start = (block * BLOCK).max(offset);
            let end = ((block + 1) * BLOCK).min(offset + len);
            match runs.last_mut() {
                Some((at, n)) if *at + *n == start => *n += end - start,
                _ => runs.push((start, end - start)),
            }
        }
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            for (at, n) in runs {
                let from = (at - offset) as usize;
                file.read_exact_at(&mut data[from..from + n as usize], at).map_err(|e| e.to_string())?;
            }
            Ok(data)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn write(&mut self, offset: u64, data: Vec<u8>) -> Result<(), String> {
        let len = data.len() as u64;
        self.check(offset, len)?;
        let blocks = Self::blocks(offset, len);
        // A first write that covers part of a block keeps the rest of it: the block is copied
        // from the medium first (only the first and the last block can be partly covered).
        let mut copies = Vec::new();
        for block in [blocks.start, blocks.end.saturating_sub(1)] {
            let (start, end) = (block * BLOCK, ((block + 1) * BLOCK).min(self.base.size));
            let covered = offset <= start && offset + len >= end;
            if blocks.contains(&block)
                && !covered
                && !self.is_written(block)
                && !copies.iter().any(|(s, _)| *s == start)
            {
                let copy = self.base_read(start, (end - start) as u32).await?;
                copies.push((start, copy));
            }
        }
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            for (at, copy) in copies {
                file.write_all_at(&copy, at)?;
            }
            file.write_all_at(&data, offset)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the scratch file for the medium's writes: {e}"))?;
        for block in blocks {
            self.mark_written(block);
        }
        Ok(())
    }

    async fn base_read(&self, offset: u64, length: u32) -> Result<Vec<u8>, String> {
        let (reply, answer) = oneshot::channel();
        let request = SourceRequest::Read { offset, length, reply };
        self.base.requests.send(request).await.map_err(|_| "the medium is gone".to_string())?;
        answer.await.map_err(|_| "the medium did not answer".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-only medium in memory, counting the reads it answers.
    fn medium(content: Vec<u8>) -> (Source, Arc<std::sync::atomic::AtomicUsize>) {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = reads.clone();
        let (requests, mut queue) = mpsc::channel(8);
        let size = content.len() as u64;
        tokio::spawn(async move {
            while let Some(request) = queue.recv().await {
                match request {
                    SourceRequest::Read { offset, length, reply } => {
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let at = offset as usize;
                        let _ = reply.send(Ok(content[at..at + length as usize].to_vec()));
                    }
                    SourceRequest::Write { reply, .. } => {
                        let _ = reply.send(Err("the medium itself is never written".into()));
                    }
                    SourceRequest::Flush { reply } => {
                        let _ = reply.send(Ok(()));
                    }
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

    async fn write(source: &Source, offset: u64, data: &[u8]) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        source.requests.send(SourceRequest::Write { offset, data: data.to_vec(), reply }).await.unwrap();
        answer.await.unwrap()
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[tokio::test]
    async fn writes_land_in_the_layer_and_reads_see_them_over_the_medium() {
        let dir = tempfile::tempdir().unwrap();
        // Not a whole number of blocks: the last one is short.
        let content = pattern(5 * BLOCK as usize + 1000);
        let (base, _) = medium(content.clone());
        let layer = wrap(base, dir.path()).unwrap();
        assert!(!layer.read_only);
        let mut expected = content.clone();
        // Sector-sized writes into blocks not written before: the rest of each block stays.
        for (at, data) in
            [(512u64, vec![0xAA; 512]), (3 * BLOCK - 100, vec![0xBB; 300]), (5 * BLOCK + 900, vec![0xCC; 100])]
        {
            write(&layer, at, &data).await.unwrap();
            expected[at as usize..at as usize + data.len()].copy_from_slice(&data);
        }
        assert_eq!(read(&layer, 0, expected.len() as u32).await.unwrap(), expected);
        assert_eq!(read(&layer, 400, 300).await.unwrap(), expected[400..700]);
        assert_eq!(read(&layer, 5 * BLOCK, 1000).await.unwrap(), expected[5 * BLOCK as usize..]);
        // Nothing is left in the directory: the scratch file was unlinked when it was made.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_read_of_blocks_never_written_goes_to_the_medium_and_whole_written_blocks_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let content = pattern(4 * BLOCK as usize);
        let (base, reads) = medium(content.clone());
        let layer = wrap(base, dir.path()).unwrap();
        // A write of whole blocks copies nothing from the medium.
        write(&layer, BLOCK, &vec![1; 2 * BLOCK as usize]).await.unwrap();
        assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(read(&layer, BLOCK + 10, 20).await.unwrap(), vec![1; 20]);
        assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 0, "wholly written: no read of the medium");
        assert_eq!(read(&layer, 3 * BLOCK, 10).await.unwrap(), content[3 * BLOCK as usize..][..10]);
        assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any run of writes and reads, anywhere and of any size, reads what a plain buffer
        /// written the same way holds; the medium itself never changes.
        #[test]
        fn the_layer_reads_as_a_buffer_written_the_same_way(
            steps in proptest::collection::vec((proptest::bool::ANY, 0u64..6 * BLOCK, 1usize..3 * BLOCK as usize, proptest::num::u8::ANY), 1..24)
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let size = 5 * BLOCK as usize + 123;
                let content = pattern(size);
                let (base, _) = medium(content.clone());
                let layer = wrap(base, dir.path()).unwrap();
                let mut model = content;
                for (is_write, offset, length, fill) in steps {
                    let offset = (offset as usize).min(size - 1);
                    let length = length.min(size - offset);
                    if is_write {
                        let data: Vec<u8> = (0..length).map(|i| fill.wrapping_add(i as u8)).collect();
                        write(&layer, offset as u64, &data).await.unwrap();
                        model[offset..offset + length].copy_from_slice(&data);
                    } else {
                        let read = read(&layer, offset as u64, length as u32).await.unwrap();
                        assert!(read == model[offset..offset + length], "read of {length} at {offset}");
                    }
                }
                assert!(read(&layer, 0, size as u32).await.unwrap() == model);
            });
        }
    }

    #[tokio::test]
    async fn requests_outside_the_medium_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (base, _) = medium(pattern(BLOCK as usize));
        let layer = wrap(base, dir.path()).unwrap();
        assert!(write(&layer, BLOCK - 10, &[0; 20]).await.unwrap_err().contains("outside"));
        assert!(write(&layer, u64::MAX - 5, &[0; 20]).await.unwrap_err().contains("outside"));
        assert!(read(&layer, BLOCK, 1).await.unwrap_err().contains("outside"));
        assert_eq!(read(&layer, 0, 4).await.unwrap(), pattern(4));
    }
}
