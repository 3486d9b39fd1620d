//! Arbitrary bytes as a record set, read with CRC verification on and a decompression cap:
//! every batch and every record is walked (control records parsed too). Must never panic.
//!
//! Oracle: a v2 batch whose records all decode is rebuilt with `RecordBatchBuilder` (same
//! codec and producer fields, the decoded offsets and timestamps) and must read back to the
//! same records. Batches the builder rightly refuses (offsets not increasing, deltas out of
//! range) are skipped.
//!
//! Bit 0 of the first byte asks to recompute the top-level CRCs first (see
//! `kafka_protocol_fuzz::fix_crcs`) so mutations get past the checksum; the rest is the set.
#![no_main]

use bytes::Bytes;
use kafka_protocol::records::control::{ControlRecordKey, ControlRecordType, EndTxnMarker};
use kafka_protocol::records::{
    BatchOptions, MAGIC_V2, ReadOptions, Record, RecordBatch, RecordBatchBuilder, RecordSetReader,
};
use kafka_protocol_fuzz::{
    FIX_CRCS, RECORD_SET_MAX_DECOMPRESSED, fix_crcs, record_set_seeds, write_seeds_if_requested,
};
use libfuzzer_sys::fuzz_target;

/// Rebuilds a fully decoded v2 batch and checks it reads back to the same records.
fn check_rebuild(batch: &RecordBatch, records: &[Record]) {
    let h = batch.header();
    let options = BatchOptions {
        compression: batch.compression(),
        compression_level: None,
        timestamp_type: batch.timestamp_type(),
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        transactional: batch.is_transactional(),
        control: batch.is_control(),
    };
    let mut b = RecordBatchBuilder::new(options);
    for r in records {
        let appended = b.append_with_offset(
            r.offset,
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
        if appended.is_err() {
            return;
        }
    }
    let Ok(built) = b.build() else {
        return;
    };
    // Canonical varints never make the records section longer than it was, but leave slack.
    let options = ReadOptions {
        verify_crc: true,
        max_decompressed_size: 2 * RECORD_SET_MAX_DECOMPRESSED,
    };
    let mut reader = RecordSetReader::with_options(built, options);
    let again = reader
        .next()
        .expect("a rebuilt batch")
        .unwrap_or_else(|e| panic!("rebuilt batch does not read: {e}\n{records:?}"));
    assert!(reader.next().is_none(), "one rebuilt batch");
    let back: Vec<Record> = again
        .records()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("rebuilt records do not read: {e}\n{records:?}"));
    assert_eq!(back, records, "rebuilt batch reads back differently");
    assert_eq!(again.is_control(), batch.is_control());
    assert_eq!(again.is_transactional(), batch.is_transactional());
    assert_eq!(again.compression(), batch.compression());
    assert_eq!(again.producer_id(), batch.producer_id());
    assert_eq!(again.base_sequence(), batch.base_sequence());
}

fuzz_target!(
    init: write_seeds_if_requested("record_set", record_set_seeds),
    |data: &[u8]| {
        let Some((&flag, set)) = data.split_first() else {
            return;
        };
        let mut set = set.to_vec();
        if flag & FIX_CRCS != 0 {
            fix_crcs(&mut set);
        }
        let len = set.len();
        let options = ReadOptions {
            verify_crc: true,
            max_decompressed_size: RECORD_SET_MAX_DECOMPRESSED,
        };
        let mut reader = RecordSetReader::with_options(Bytes::from(set), options);
        let mut errors = 0;
        for batch in reader.by_ref() {
            let batch = match batch {
                Ok(b) => b,
                Err(_) => {
                    errors += 1;
                    continue;
                }
            };
            // Accessors must not panic on whatever header values got through.
            let _ = (batch.last_offset(), batch.next_offset(), batch.size_in_bytes());
            let _ = (batch.max_timestamp(), batch.timestamp_type(), batch.records_count());
            let control = batch.is_control();
            let mut it = batch.records();
            let (_, upper) = it.size_hint();
            let mut records = Vec::new();
            let mut complete = true;
            for record in it.by_ref() {
                let Ok(record) = record else {
                    complete = false;
                    break;
                };
                let _ = batch.sequence_of(&record);
                if control {
                    if let Ok(key) = ControlRecordKey::from_record(&record) {
                        if matches!(key.kind, ControlRecordType::Commit | ControlRecordType::Abort) {
                            let _ = EndTxnMarker::parse(record.value.as_deref().unwrap_or_default());
                        }
                    }
                }
                records.push(record);
            }
            assert!(it.next().is_none(), "the records iterator is fused");
            if let Some(upper) = upper {
                assert!(records.len() <= upper, "size_hint upper bound {upper} < {}", records.len());
            }
            if complete {
                assert!(records.len() <= batch.records_count().max(0) as usize);
                if batch.magic() == MAGIC_V2 {
                    check_rebuild(&batch, &records);
                }
            }
        }
        assert!(errors <= 1, "the reader yields at most one error");
        assert!(reader.position() <= len);
        assert!(reader.next().is_none(), "the reader is fused");
    }
);
