//! Walking the batches stored in a segment's log file with positioned reads.
//!
//! Recovery, index rebuilds, offset lookups and timestamp queries all walk batches forward
//! from a known batch boundary. The walker reads the file in chunks (one syscall per chunk
//! rather than per header) and checks each batch's framing before handing it out, so damaged
//! bytes on disk become a typed stop at a known position instead of a panic or a bogus
//! offset. Checksums are the caller's business: recovery checks them, lookups do not.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use kafka_protocol::records::{BatchHeader, LOG_OVERHEAD};

/// Chunk size for walks that read every batch (recovery, rebuilds).
pub(super) const SCAN_CHUNK: usize = 1 << 20;
/// Chunk size for short walks from an index entry to one batch.
pub(super) const LOOKUP_CHUNK: usize = 16 << 10;

/// One framed batch of a log file.
#[derive(Debug, Clone, Copy)]
pub(super) struct StoredBatch {
    /// Where it starts in the file.
    pub position: u64,
    /// Its total size in bytes.
    pub size: usize,
    /// Its header.
    pub header: BatchHeader,
}

impl StoredBatch {
    /// The position just after the batch.
    pub(super) fn end(&self) -> u64 {
        self.position + self.size as u64
    }
}

/// Why a walk stopped before the end of the file.
#[derive(Debug)]
pub(super) enum ScanError {
    /// Reading failed.
    Io(io::Error),
    /// The file ends inside the batch at `position` (a write cut short).
    Torn {
        /// Where the partial batch starts.
        position: u64,
    },
    /// The bytes at `position` are not a valid batch.
    Invalid {
        /// Where the bad batch starts.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
}

impl ScanError {
    /// Where the walk stopped, for a damaged (not unreadable) file.
    pub(super) fn position(&self) -> Option<u64> {
        match self {
            ScanError::Io(_) => None,
            ScanError::Torn { position } | ScanError::Invalid { position, .. } => Some(*position),
        }
    }
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Io(e) => write!(f, "{e}"),
            ScanError::Torn { position } => write!(f, "partial batch at position {position}"),
            ScanError::Invalid { position, reason } => {
                write!(f, "invalid batch at position {position}: {reason}")
            }
        }
    }
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// A forward walk over the batches of `file` between two positions.
#[derive(Debug)]
pub(super) struct FileBatches<'a> {
    file: &'a File,
    /// Where the walk ends (the log's size).
    end: u64,
    /// Where the next batch starts.
    pos: u64,
    /// Bytes read ahead, starting at file position `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    chunk: usize,
}

impl<'a> FileBatches<'a> {
    /// A walk over `file` from `from` (a batch boundary) to `end`, reading `chunk` bytes at a
    /// time (more when a batch is larger).
    pub(super) fn new(file: &'a File, from: u64, end: u64, chunk: usize) -> Self {
        Self {
            file,
            end,
            pos: from,
            buf: Vec::new(),
            buf_start: from,
            chunk,
        }
    }

    /// The next batch's framing and header, or `None` at the end.
    pub(super) fn next_header(&mut self) -> Result<Option<StoredBatch>, ScanError> {
        let position = self.pos;
        let left = self.end.saturating_sub(position);
        if left == 0 {
            return Ok(None);
        }
        if left < LOG_OVERHEAD as u64 {
            return Err(ScanError::Torn { position });
        }
        let framing = self.bytes(position, LOG_OVERHEAD)?;
        let length = i32::from_be_bytes([framing[8], framing[9], framing[10], framing[11]]);
        let invalid = |reason: String| ScanError::Invalid { position, reason };
        let size = usize::try_from(length)
            .ok()
            .map(|n| n + LOG_OVERHEAD)
            .filter(|&n| n >= BatchHeader::SIZE)
            .ok_or_else(|| invalid(format!("batch length {length} is below the header size")))?;
        if size as u64 > left {
            return Err(ScanError::Torn { position });
        }
        let header = BatchHeader::parse(self.bytes(position, BatchHeader::SIZE)?)
            .map_err(|e| invalid(e.to_string()))?;
        if header.base_offset < 0
            || header.last_offset_delta < 0
            || header
                .base_offset
                .checked_add(i64::from(header.last_offset_delta))
                .is_none()
        {
            return Err(invalid(format!(
                "offsets {} + {} are out of range",
                header.base_offset, header.last_offset_delta
            )));
        }
        self.pos = position + size as u64;
        Ok(Some(StoredBatch {
            position,
            size,
            header,
        }))
    }

    /// The next batch with all its bytes, or `None` at the end.
    pub(super) fn next_batch(&mut self) -> Result<Option<(StoredBatch, &[u8])>, ScanError> {
        let Some(batch) = self.next_header()? else {
            return Ok(None);
        };
        let bytes = self.bytes(batch.position, batch.size)?;
        Ok(Some((batch, bytes)))
    }

    /// `n` bytes at file position `at`, from the read-ahead buffer or a fresh read; the
    /// caller has checked that they lie before `end`.
    fn bytes(&mut self, at: u64, n: usize) -> io::Result<&[u8]> {
        let have = at >= self.buf_start && at + n as u64 <= self.buf_start + self.buf.len() as u64;
        if !have {
            let left = usize::try_from(self.end.saturating_sub(at)).unwrap_or(usize::MAX);
            let want = n.max(self.chunk).min(left).max(n);
            self.buf.clear();
            self.buf.resize(want, 0);
            self.file.read_exact_at(&mut self.buf, at)?;
            self.buf_start = at;
        }
        let from = usize::try_from(at - self.buf_start).unwrap_or(usize::MAX);
        self.buf
            .get(from..from.saturating_add(n))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the buffer"))
    }
}
