//! The file log checked against the memory log as a model: random appends (of random
//! batches, several per append), reads, timestamp queries, DeleteRecords, truncations and
//! clean or unclean reopenings, with tiny segments and a dense index, must give the same
//! answers from both. Retention, which works on segments in one and batches in the other,
//! is applied to the file log and mirrored into the model as DeleteRecords at the file log's
//! new start offset (always a batch boundary).

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::Compression;
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};
use proptest::prelude::*;

use super::{FileLog, Log, LogConfig, LogError, MemoryLog};

#[derive(Debug, Clone)]
struct BatchSpec {
    /// (timestamp, value length) per record.
    records: Vec<(i64, usize)>,
    lz4: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        batches: Vec<BatchSpec>,
        log_append_time: Option<i64>,
    },
    Read {
        offset: u16,
        max_bytes: usize,
        upper_bound: u16,
    },
    OffsetForTimestamp(i64),
    DeleteRecords(u16),
    Truncate(u16),
    Reopen {
        clean: bool,
    },
    Retention {
        ms: Option<i64>,
        bytes: Option<i64>,
    },
}

fn batch_spec() -> impl Strategy<Value = BatchSpec> {
    (
        prop::collection::vec((900i64..1_600, 0usize..150), 1..7),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(records, lz4)| BatchSpec { records, lz4 })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec(batch_spec(), 1..4), prop::option::weighted(0.1, 1_000i64..2_000))
            .prop_map(|(batches, log_append_time)| Op::Append { batches, log_append_time }),
        4 => (any::<u16>(), 0usize..2_000, any::<u16>())
            .prop_map(|(offset, max_bytes, upper_bound)| Op::Read { offset, max_bytes, upper_bound }),
        2 => (850i64..1_700).prop_map(Op::OffsetForTimestamp),
        1 => any::<u16>().prop_map(Op::DeleteRecords),
        1 => any::<u16>().prop_map(Op::Truncate),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => (prop::option::of(0i64..1_200), prop::option::of(0i64..4_000))
            .prop_map(|(ms, bytes)| Op::Retention { ms, bytes }),
    ]
}

fn build(specs: &[BatchSpec]) -> Bytes {
    let mut out = BytesMut::new();
    for spec in specs {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            compression: if spec.lz4 {
                Compression::Lz4
            } else {
                Compression::None
            },
            ..Default::default()
        });
        for (i, &(ts, len)) in spec.records.iter().enumerate() {
            let value: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            b.append(ts, None, Some(&value), &[]).unwrap();
        }
        out.extend_from_slice(&b.build().unwrap());
    }
    out.freeze()
}

/// An offset around the log's range: a little before the start to a little past the end.
fn pick(log: &MemoryLog, raw: u16) -> i64 {
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    start - 2 + i64::from(raw) % (end - start + 5)
}

/// Both results, compared as values (errors by kind and fields).
fn same<T: PartialEq + std::fmt::Debug>(
    file: Result<T, LogError>,
    model: Result<T, LogError>,
    what: &str,
) {
    match (file, model) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
        (
            Err(LogError::OffsetOutOfRange { offset, start, end }),
            Err(LogError::OffsetOutOfRange {
                offset: o,
                start: s,
                end: e,
            }),
        ) => assert_eq!((offset, start, end), (o, s, e), "{what}"),
        (a, b) => panic!("{what}: file log {a:?}, model {b:?}"),
    }
}

fn run(config: LogConfig, ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut file = FileLog::open(dir.path(), config.clone()).unwrap();
    let mut model = MemoryLog::new(config.clone());
    for op in ops {
        match op {
            Op::Append {
                batches,
                log_append_time,
            } => {
                let bytes = build(&batches);
                same(
                    file.append(&bytes, 3, log_append_time),
                    model.append(&bytes, 3, log_append_time),
                    "append",
                );
            }
            Op::Read {
                offset,
                max_bytes,
                upper_bound,
            } => {
                let offset = pick(&model, offset);
                let upper = pick(&model, upper_bound) + 2;
                let what = format!("read {offset} {max_bytes} {upper}");
                same(
                    file.read(offset, max_bytes, upper),
                    model.read(offset, max_bytes, upper),
                    &what,
                );
            }
            Op::OffsetForTimestamp(ts) => same(
                file.offset_for_timestamp(ts),
                model.offset_for_timestamp(ts),
                &format!("offset for {ts}"),
            ),
            Op::DeleteRecords(raw) => {
                let offset = pick(&model, raw);
                same(
                    file.delete_records_before(offset),
                    model.delete_records_before(offset),
                    &format!("delete records {offset}"),
                );
            }
            Op::Truncate(raw) => {
                let offset = pick(&model, raw);
                same(
                    file.truncate_to(offset),
                    model.truncate_to(offset),
                    &format!("truncate {offset}"),
                );
            }
            Op::Reopen { clean } => {
                if clean {
                    file.close().unwrap();
                }
                drop(file);
                file = FileLog::open(dir.path(), config.clone()).unwrap();
            }
            Op::Retention { ms, bytes } => {
                file.set_config(LogConfig {
                    retention_ms: ms.unwrap_or(-1),
                    retention_bytes: bytes.unwrap_or(-1),
                    ..config.clone()
                });
                let size = file.size_bytes();
                let deleted = file.apply_retention(2_000).unwrap();
                if let Some(limit) = bytes
                    && ms.is_none()
                    && deleted > 0
                {
                    assert!(
                        file.size_bytes() as i64 >= limit,
                        "{size} -> {}",
                        file.size_bytes()
                    );
                }
                file.set_config(config.clone());
                model
                    .delete_records_before(file.log_start_offset())
                    .unwrap();
            }
        }
        assert_eq!(file.log_start_offset(), model.log_start_offset());
        assert_eq!(file.log_end_offset(), model.log_end_offset());
        assert_eq!(file.max_timestamp(), model.max_timestamp());
    }
    // Everything still there, byte for byte.
    let start = model.log_start_offset();
    same(
        file.read(start, usize::MAX, i64::MAX),
        model.read(start, usize::MAX, i64::MAX),
        "final read",
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_file_log_answers_like_the_memory_log(
        segment_bytes in 80u64..3_000,
        index_interval_bytes in 0u64..600,
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let config = LogConfig {
            segment_bytes,
            index_interval_bytes,
            segment_ms: i64::MAX,
            ..LogConfig::default()
        };
        run(config, ops);
    }
}
