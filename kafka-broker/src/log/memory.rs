//! The in-memory log, used when the broker has no data directory.
//!
//! Batches are kept as `Bytes` in offset order; reads hand out clones of those buffers (no
//! copy). Segments are not simulated, so `segment.*` settings do not apply; retention deletes
//! whole batches the same way segment retention would delete whole segments. Everything else
//! answers exactly as the file log does (the file log's tests use this log as their model).

use bytes::{Bytes, BytesMut};

use super::batches::{BatchSpan, first_record_at_or_after, offset_of_max_timestamp, spans, stamp};
use super::segment::wall_clock_ms;
use super::{AppendInfo, Log, LogConfig, LogError, ReadResult};

#[derive(Debug, Clone)]
struct StoredBatch {
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
    /// When the batch was appended: what retention by time uses when the batch has no
    /// timestamp (the file log uses the segment file's modification time).
    appended_ms: i64,
    data: Bytes,
}

/// A log held in memory.
#[derive(Debug, Default)]
pub struct MemoryLog {
    batches: Vec<StoredBatch>,
    start_offset: i64,
    end_offset: i64,
    size: u64,
    config: LogConfig,
}

impl MemoryLog {
    /// An empty log.
    pub fn new(config: LogConfig) -> Self {
        Self {
            config,
            ..Default::default()
        }
    }

    /// Index of the first batch whose last offset is >= `offset`.
    fn batch_index(&self, offset: i64) -> usize {
        self.batches.partition_point(|b| b.last_offset < offset)
    }

    /// Stores the batches `spans` locate in `buf` (already checked and stamped) at the log end.
    fn push(&mut self, buf: Bytes, spans: &[BatchSpan]) -> AppendInfo {
        let appended_ms = wall_clock_ms();
        let mut info = AppendInfo {
            base_offset: self.end_offset,
            last_offset: self.end_offset,
            max_timestamp: -1,
        };
        for s in spans {
            self.batches.push(StoredBatch {
                base_offset: s.base_offset,
                last_offset: s.last_offset,
                max_timestamp: s.max_timestamp,
                appended_ms,
                data: buf.slice(s.pos..s.pos + s.len),
            });
            self.size += s.len as u64;
            info.last_offset = s.last_offset;
            info.max_timestamp = info.max_timestamp.max(s.max_timestamp);
            self.end_offset = s.last_offset + 1;
        }
        info
    }

    fn drop_front(&mut self, n: usize) {
        for b in self.batches.drain(..n) {
            self.size -= b.data.len() as u64;
        }
    }
}

impl Log for MemoryLog {
    fn append(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        log_append_time: Option<i64>,
    ) -> Result<AppendInfo, LogError> {
        let (buf, spans) = stamp(batches, self.end_offset, leader_epoch, log_append_time)?;
        let buf: Bytes = BytesMut::freeze(buf);
        Ok(self.push(buf, &spans))
    }

    fn append_replicated(&mut self, batches: &[u8]) -> Result<AppendInfo, LogError> {
        let spans = spans(batches, self.end_offset)?;
        let buf = Bytes::copy_from_slice(batches);
        Ok(self.push(buf, &spans))
    }

    fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        self.batches.clear();
        self.size = 0;
        self.start_offset = offset;
        self.end_offset = offset;
        Ok(())
    }

    fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<ReadResult, LogError> {
        if offset < self.start_offset || offset > self.end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.start_offset,
                end: self.end_offset,
            });
        }
        let mut i = self.batch_index(offset);
        let mut out = BytesMut::new();
        let mut first = true;
        while let Some(b) = self.batches.get(i) {
            if b.base_offset >= upper_bound || (!first && out.len() + b.data.len() > max_bytes) {
                break;
            }
            if first && i + 1 < self.batches.len() && b.data.len() > max_bytes {
                // Always return at least one batch, even if it exceeds max_bytes (KIP-74).
                return Ok(ReadResult {
                    records: b.data.clone(),
                });
            }
            out.extend_from_slice(&b.data);
            first = false;
            i += 1;
        }
        Ok(ReadResult {
            records: out.freeze(),
        })
    }

    fn log_start_offset(&self) -> i64 {
        self.start_offset
    }

    fn log_end_offset(&self) -> i64 {
        self.end_offset
    }

    fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        // Batches are not necessarily in timestamp order: take the first whose max is >= ts,
        // as Kafka's time index does, then find the exact record inside it.
        for b in &self.batches {
            if b.max_timestamp >= timestamp {
                let hit = first_record_at_or_after(b.data.clone(), timestamp, self.start_offset)?;
                if hit.is_some() {
                    return Ok(hit);
                }
            }
        }
        Ok(None)
    }

    fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<&StoredBatch> = None;
        for b in &self.batches {
            if best.is_none_or(|m| b.max_timestamp > m.max_timestamp) {
                best = Some(b);
            }
        }
        let b = best?;
        let offset = offset_of_max_timestamp(b.data.clone(), b.max_timestamp, b.last_offset);
        Some((b.max_timestamp, offset))
    }

    fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset > self.end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.start_offset,
                end: self.end_offset,
            });
        }
        if offset > self.start_offset {
            self.start_offset = offset;
            let n = self.batch_index(offset);
            self.drop_front(n);
        }
        Ok(self.start_offset)
    }

    fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let mut n = 0;
        if self.config.retention_ms >= 0 {
            n = self
                .batches
                .iter()
                .take_while(|b| {
                    let t = if b.max_timestamp >= 0 {
                        b.max_timestamp
                    } else {
                        b.appended_ms
                    };
                    now_ms.saturating_sub(t) > self.config.retention_ms
                })
                .count();
        }
        if self.config.retention_bytes >= 0 {
            let mut size = self.size;
            let mut m = 0;
            for b in &self.batches {
                if size.saturating_sub(b.data.len() as u64) < self.config.retention_bytes as u64 {
                    break;
                }
                size -= b.data.len() as u64;
                m += 1;
            }
            n = n.max(m);
        }
        if n > 0 {
            self.start_offset = self.start_offset.max(self.batches[n - 1].last_offset + 1);
            self.drop_front(n);
        }
        Ok(n)
    }

    fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.end_offset {
            return Ok(());
        }
        let keep = self.batches.partition_point(|b| b.last_offset < offset);
        for b in self.batches.drain(keep..) {
            self.size -= b.data.len() as u64;
        }
        self.end_offset = offset.max(self.start_offset);
        Ok(())
    }

    fn size_bytes(&self) -> u64 {
        self.size
    }

    fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    fn flush(&mut self) -> Result<(), LogError> {
        Ok(())
    }
}
