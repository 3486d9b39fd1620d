//! Batches and configurations for the log tests.

use bytes::Bytes;
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

use super::LogConfig;

/// A batch of records with the given timestamps, each with a `value_len`-byte value.
pub(super) fn batch_at(timestamps: &[i64], value_len: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions::default());
    for (i, &ts) in timestamps.iter().enumerate() {
        let value = vec![b'a' + (i % 26) as u8; value_len];
        b.append(ts, Some(format!("k{i}").as_bytes()), Some(&value), &[])
            .unwrap();
    }
    b.build().unwrap()
}

/// A batch of `n` records all timestamped `ts`.
pub(super) fn batch(n: usize, ts: i64, value_len: usize) -> Bytes {
    batch_at(&vec![ts; n], value_len)
}

/// A configuration with small segments and a dense index, and no time-based behaviour.
pub(super) fn config(segment_bytes: u64, index_interval_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes,
        segment_ms: i64::MAX,
        retention_ms: -1,
        retention_bytes: -1,
        ..LogConfig::default()
    }
}
