//! Property tests: whatever the builders write, the reader gives back, for every magic and
//! every codec Kafka allows with it; and no input, however mangled, makes the reader panic.
//! Throughout, the borrowed records (`records_ref`) and the owned ones (`records`) must agree.

use bytes::Bytes;
use kafka_protocol::DecodeErrorKind;
use kafka_protocol::compression::Compression;
use kafka_protocol::records::{
    BatchOptions, LegacyBuilder, ReadOptions, Record, RecordBatch, RecordBatchBuilder,
    RecordHeader, RecordSetReader, TimestampType,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// One record to append.
#[derive(Debug, Clone)]
struct Input {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn bytes_strategy(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..max),
        // Compressible runs, so codecs do real work.
        (any::<u8>(), 0..max * 4).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn input(with_headers: bool) -> impl Strategy<Value = Input> {
    let headers = if with_headers {
        vec(
            ("[a-zA-Z0-9_.é-]{0,12}", option::of(bytes_strategy(16))),
            0..4,
        )
        .boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (
        prop_oneof![Just(-1i64), 0i64..(1 << 45)],
        option::of(bytes_strategy(32)),
        option::of(bytes_strategy(200)),
        headers,
    )
        .prop_map(|(timestamp, key, value, headers)| Input {
            timestamp,
            key,
            value,
            headers,
        })
}

fn options() -> impl Strategy<Value = BatchOptions> {
    (
        0i64..(1 << 50),
        any::<bool>(),
        prop_oneof![
            Just(None),
            (0i64..1 << 40, 0i16..100, 0i32..i32::MAX).prop_map(Some)
        ],
        -1i32..1000,
        any::<bool>(),
    )
        .prop_map(|(base, log_append, producer, epoch, transactional)| {
            let mut o = BatchOptions {
                base_offset: base,
                partition_leader_epoch: epoch,
                timestamp_type: if log_append {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                ..Default::default()
            };
            if let Some((id, ep, seq)) = producer {
                o.producer_id = id;
                o.producer_epoch = ep;
                o.base_sequence = seq;
                o.transactional = transactional;
            }
            o
        })
}

fn headers_of(i: &Input) -> Vec<RecordHeader> {
    i.headers
        .iter()
        .map(|(k, v)| RecordHeader::new(k.as_str(), v.clone().map(Bytes::from)))
        .collect()
}

/// Asserts that the borrowed and owned iterations of `batch` agree: the same records (also
/// after `to_owned_record`, and header by header), the same error at the same place, the
/// same end. The one difference allowed is a header key that is not UTF-8: the owned
/// iteration fails at that record, the borrowed one yields it and reports the key from
/// `headers()` and `to_owned_record()`, then goes on.
fn assert_views_agree(batch: &RecordBatch) {
    let mut owned = batch.records();
    let mut refs = batch.records_ref();
    loop {
        match (owned.next(), refs.next()) {
            (None, None) => return,
            (Some(Ok(o)), Some(Ok(r))) => {
                assert_eq!(r, o);
                assert_eq!(r.to_owned_record().as_ref(), Ok(&o));
                assert_eq!((r.offset, r.timestamp), (o.offset, o.timestamp));
                assert_eq!((r.key, r.value), (o.key.as_deref(), o.value.as_deref()));
                let got: Vec<_> = r.headers().map(Result::unwrap).collect();
                let want: Vec<_> = o
                    .headers
                    .iter()
                    .map(|h| (h.key.as_str(), h.value.as_deref()))
                    .collect();
                assert_eq!(got, want);
            }
            (Some(Err(e)), Some(Ok(r))) if e.kind == DecodeErrorKind::InvalidUtf8 => {
                assert_eq!(r.to_owned_record(), Err(e.clone()));
                assert!(r.headers().any(|h| h == Err(e.clone())));
                assert!(owned.next().is_none());
                refs.for_each(drop);
                return;
            }
            (Some(Err(a)), Some(Err(b))) => {
                assert_eq!(a, b);
                assert!(owned.next().is_none() && refs.next().is_none());
                return;
            }
            (o, r) => panic!("owned {o:?}, borrowed {r:?}"),
        }
    }
}

/// Reads every record, asserting the set is complete and error-free.
fn read_all(set: Bytes) -> Vec<(kafka_protocol::records::BatchHeader, Record)> {
    let mut reader = RecordSetReader::new(set);
    let mut out = Vec::new();
    for batch in reader.by_ref() {
        let batch = batch.expect("batch decodes");
        assert_views_agree(&batch);
        let header = *batch.header();
        for r in batch.records() {
            out.push((header, r.expect("record decodes")));
        }
    }
    assert!(!reader.is_truncated());
    out
}

fn check_v2(codec: Compression, opts: BatchOptions, inputs: &[Input]) {
    let opts = BatchOptions {
        compression: codec,
        ..opts
    };
    let mut b = RecordBatchBuilder::new(opts);
    for i in inputs {
        b.append(
            i.timestamp,
            i.key.as_deref(),
            i.value.as_deref(),
            &headers_of(i),
        )
        .unwrap();
    }
    let exact = b.estimated_size();
    let set = b.build().unwrap();
    if codec == Compression::None {
        assert_eq!(set.len(), exact);
    }
    let max_ts = inputs.iter().map(|i| i.timestamp).max().unwrap_or(-1);
    let got = read_all(set);
    assert_eq!(got.len(), inputs.len());
    for (n, ((h, r), i)) in got.iter().zip(inputs).enumerate() {
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!(h.partition_leader_epoch, opts.partition_leader_epoch);
        assert_eq!(h.producer_id, opts.producer_id);
        assert_eq!(h.producer_epoch, opts.producer_epoch);
        assert_eq!(h.base_sequence, opts.base_sequence);
        assert_eq!(h.is_transactional(), opts.transactional);
        assert_eq!(h.timestamp_type(), opts.timestamp_type);
        assert_eq!(h.max_timestamp, max_ts);
        assert_eq!(r.offset, opts.base_offset + n as i64);
        let want_ts = if opts.timestamp_type == TimestampType::LogAppendTime {
            max_ts
        } else {
            i.timestamp
        };
        assert_eq!(r.timestamp, want_ts);
        assert_eq!(r.key.as_deref(), i.key.as_deref());
        assert_eq!(r.value.as_deref(), i.value.as_deref());
        assert_eq!(r.headers, headers_of(i));
    }
}

fn check_legacy(magic: i8, codec: Compression, base: i64, log_append: bool, inputs: &[Input]) {
    let opts = BatchOptions {
        compression: codec,
        base_offset: base,
        timestamp_type: if log_append {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        },
        ..Default::default()
    };
    let mut b = LegacyBuilder::new(magic, opts).unwrap();
    for i in inputs {
        b.append(i.timestamp, i.key.as_deref(), i.value.as_deref())
            .unwrap();
    }
    let exact = b.estimated_size();
    let set = b.build().unwrap();
    if codec == Compression::None {
        assert_eq!(set.len(), exact);
    }
    let max_ts = inputs.iter().map(|i| i.timestamp).max().unwrap_or(-1);
    let got = read_all(set);
    assert_eq!(got.len(), inputs.len());
    for (n, ((h, r), i)) in got.iter().zip(inputs).enumerate() {
        assert_eq!(h.magic, magic);
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!(r.offset, base + n as i64);
        let want_ts = match (magic, log_append && codec != Compression::None) {
            (0, _) => -1,
            (_, true) => max_ts,
            _ => i.timestamp,
        };
        assert_eq!(r.timestamp, want_ts);
        assert_eq!(r.key.as_deref(), i.key.as_deref());
        assert_eq!(r.value.as_deref(), i.value.as_deref());
        assert!(r.headers.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn v2_round_trips(inputs in vec(input(true), 1..24), opts in options()) {
        for codec in Compression::ALL {
            check_v2(codec, opts, &inputs);
        }
    }

    #[test]
    fn legacy_round_trips(
        inputs in vec(input(false), 1..24),
        base in 0i64..(1 << 50),
        log_append in any::<bool>(),
    ) {
        for magic in [0i8, 1] {
            for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4] {
                check_legacy(magic, codec, base, log_append, &inputs);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..600)) {
        for batch in RecordSetReader::new(Bytes::from(data)).flatten() {
            assert_views_agree(&batch);
        }
    }

    #[test]
    fn mangled_sets_never_panic(
        inputs in vec(input(true), 1..6),
        codec_id in 0u8..5,
        magic in 0i8..3,
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let codec = Compression::from_id(codec_id).unwrap();
        let codec = if magic < 2 && codec == Compression::Zstd { Compression::Gzip } else { codec };
        let opts = BatchOptions { compression: codec, ..Default::default() };
        let set = if magic == 2 {
            let mut b = RecordBatchBuilder::new(opts);
            for i in &inputs {
                b.append(i.timestamp, i.key.as_deref(), i.value.as_deref(), &headers_of(i)).unwrap();
            }
            b.build().unwrap()
        } else {
            let mut b = LegacyBuilder::new(magic, opts).unwrap();
            for i in &inputs {
                b.append(i.timestamp, i.key.as_deref(), i.value.as_deref()).unwrap();
            }
            b.build().unwrap()
        };
        let mut bytes = set.to_vec();
        for (at, b) in edits {
            let at = at.index(bytes.len());
            bytes[at] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        for verify_crc in [true, false] {
            let opts = ReadOptions { verify_crc, max_decompressed_size: 1 << 20 };
            for batch in RecordSetReader::with_options(Bytes::from(bytes.clone()), opts).flatten() {
                assert_views_agree(&batch);
            }
        }
    }
}
