//! Cross-check of record batches and message sets against kafka-python, an implementation
//! that shares no code with ours, in both directions and for every magic × codec pair:
//!
//! - kafka-python writes record sets from a spec; we read them and must get the same
//!   batches and records kafka-python reads back, and the records of the spec;
//! - we write record sets from the same specs (plus some only a broker writes: log-append
//!   time, transaction markers, several batches in one set); kafka-python must read what
//!   we read.
//!
//! The Python to run is named by `KAFKA_SDK_PYTHON` (set by `cargo xtask test` to a venv
//! with kafka-python and its codec packages). Without it the test says it skipped and
//! passes, so a plain `cargo test` needs no Python; with it, any failure fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use bytes::Bytes;
use kafka_protocol::compression::Compression;
use kafka_protocol::records::control::{ControlRecordKey, end_txn_marker_batch};
use kafka_protocol::records::{
    BatchOptions, LegacyBuilder, RecordBatchBuilder, RecordHeader, RecordSetReader, TimestampType,
};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/records_xcheck.py"
);

/// One record of a spec.
#[derive(Debug, Clone)]
struct Rec {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A record set to write, as kafka-python's `MemoryRecordsBuilder` takes it.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    magic: i8,
    codec: Compression,
    base_offset: i64,
    producer: Option<(i64, i16, i32)>,
    transactional: bool,
    records: Vec<Rec>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from the script"))
        .collect()
}

fn opt_hex(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| Value::String(hex(b)))
}

/// Record shapes: small edge cases, a large compressible run spanning several LZ4 (64 KiB)
/// and snappy (32 KiB) blocks, and a single record.
fn shapes(magic: i8) -> Vec<(&'static str, i64, Vec<Rec>)> {
    let v2 = magic == 2;
    let hdrs = |h: Vec<(&str, Option<&[u8]>)>| -> Vec<(String, Option<Vec<u8>>)> {
        if v2 {
            h.into_iter()
                .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
                .collect()
        } else {
            Vec::new()
        }
    };
    let small = vec![
        Rec {
            timestamp: 1_700_000_000_000,
            key: Some(b"key-0".to_vec()),
            value: Some(b"value-0 value-0 value-0 value-0".to_vec()),
            headers: hdrs(vec![
                ("trace-id", Some(b"abc")),
                ("empty", Some(b"")),
                ("null", None),
            ]),
        },
        Rec {
            timestamp: 1_700_000_000_005,
            key: None,
            value: Some(Vec::new()),
            headers: hdrs(vec![("clé-ü", Some(&[0, 1, 2, 255]))]),
        },
        Rec {
            timestamp: 1_699_999_999_990,
            key: Some(Vec::new()),
            value: None,
            headers: Vec::new(),
        },
    ];
    let big = (0..40)
        .map(|i| Rec {
            timestamp: 1_700_000_000_000 + i * 3,
            key: Some(format!("key-{i:04}").into_bytes()),
            value: Some(
                format!("{i:04} the quick brown fox jumps over the lazy dog ")
                    .repeat(40)
                    .into_bytes(),
            ),
            headers: hdrs(if i % 5 == 0 {
                vec![("n", Some(b"five"))]
            } else {
                vec![]
            }),
        })
        .collect();
    let single = vec![Rec {
        timestamp: 42,
        key: Some(vec![0xff; 3]),
        value: Some(vec![b'z'; 500]),
        headers: Vec::new(),
    }];
    vec![
        ("small", 0, small),
        ("big", 1000, big),
        ("single", 7, single),
    ]
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for magic in [0i8, 1, 2] {
        let codecs: &[Compression] = if magic == 2 {
            &Compression::ALL
        } else {
            &Compression::ALL[..4]
        };
        for &codec in codecs {
            for (shape, base, records) in shapes(magic) {
                let idempotent = magic == 2 && shape == "big";
                out.push(Case {
                    name: format!("magic {magic} {codec} {shape}"),
                    magic,
                    codec,
                    base_offset: base,
                    producer: idempotent.then_some((42, 3, 100)),
                    transactional: idempotent,
                    records,
                });
            }
        }
    }
    out
}

fn case_json(c: &Case) -> Value {
    let (pid, epoch, seq) = c.producer.unwrap_or((-1, -1, -1));
    json!({
        "magic": c.magic,
        "compression": c.codec.id(),
        "base_offset": c.base_offset,
        "producer_id": pid,
        "producer_epoch": epoch,
        "base_sequence": seq,
        "transactional": c.transactional,
        "records": c.records.iter().map(|r| json!({
            "timestamp": r.timestamp,
            "key": opt_hex(r.key.as_deref()),
            "value": opt_hex(r.value.as_deref()),
            "headers": r.headers.iter().map(|(k, v)| json!([k, opt_hex(v.as_deref())])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Runs the script in `mode` with `input`; panics with its stderr if it fails.
fn run_python(python: &str, mode: &str, input: &Value) -> Value {
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let body = serde_json::to_vec(input).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Write from a thread so a large output cannot deadlock against a large input.
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "records_xcheck.py {mode} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("script output is JSON")
}

/// Our reading of a record set, in the script's decode format.
fn decode_ours(set: Bytes) -> Value {
    let mut reader = RecordSetReader::new(set.clone());
    let mut batches = Vec::new();
    while let Some(raw) = reader.next_raw() {
        let raw = raw.expect("entry frames");
        let crc_ok = raw.verify_crc().is_ok();
        let batch = raw.decode(&Default::default()).expect("batch decodes");
        let legacy = batch.magic() < 2;
        let v2 = |v: Value| if legacy { Value::Null } else { v };
        let ts_type = match batch.timestamp_type() {
            TimestampType::NoTimestamp => Value::Null,
            TimestampType::CreateTime => json!(0),
            TimestampType::LogAppendTime => json!(1),
        };
        let records: Vec<Value> = batch
            .records()
            .map(|r| {
                let r = r.expect("record decodes");
                let control_type = if batch.is_control() {
                    json!(ControlRecordKey::from_record(&r).unwrap().kind.id())
                } else {
                    Value::Null
                };
                json!({
                    "offset": r.offset,
                    "timestamp": if batch.magic() == 0 { Value::Null } else { json!(r.timestamp) },
                    "key": opt_hex(r.key.as_deref()),
                    "value": opt_hex(r.value.as_deref()),
                    "headers": r.headers.iter().map(|h| json!([h.key.as_str(), opt_hex(h.value.as_deref())])).collect::<Vec<_>>(),
                    "control_type": control_type,
                })
            })
            .collect();
        batches.push(json!({
            "magic": batch.magic(),
            "compression": batch.compression().id(),
            // For legacy entries kafka-python reports the offset field itself (a wrapper's
            // last offset), not the first record's.
            "base_offset": if legacy { raw.offset } else { batch.base_offset() },
            "last_offset": v2(json!(batch.last_offset())),
            "timestamp_type": ts_type,
            "max_timestamp": v2(json!(batch.max_timestamp())),
            "producer_id": v2(json!(batch.producer_id())),
            "producer_epoch": v2(json!(batch.producer_epoch())),
            "base_sequence": v2(json!(batch.base_sequence())),
            "leader_epoch": v2(json!(batch.partition_leader_epoch())),
            "transactional": batch.is_transactional(),
            "control": batch.is_control(),
            "crc_ok": crc_ok,
            "records": records,
        }));
    }
    assert!(!reader.is_truncated(), "set read to its end");
    json!({ "batches": batches })
}

/// Writes a case with our builders.
fn build_ours(c: &Case, timestamp_type: TimestampType) -> Bytes {
    let (producer_id, producer_epoch, base_sequence) = c.producer.unwrap_or((-1, -1, -1));
    let opts = BatchOptions {
        compression: c.codec,
        base_offset: c.base_offset,
        producer_id,
        producer_epoch,
        base_sequence,
        transactional: c.transactional,
        timestamp_type,
        ..Default::default()
    };
    if c.magic == 2 {
        let mut b = RecordBatchBuilder::new(opts);
        for r in &c.records {
            let headers: Vec<_> = r
                .headers
                .iter()
                .map(|(k, v)| RecordHeader::new(k.as_str(), v.clone().map(Bytes::from)))
                .collect();
            b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
                .unwrap();
        }
        b.build().unwrap()
    } else {
        let mut b = LegacyBuilder::new(c.magic, opts).unwrap();
        for r in &c.records {
            b.append(r.timestamp, r.key.as_deref(), r.value.as_deref())
                .unwrap();
        }
        b.build().unwrap()
    }
}

/// The records of a decoded set must be the case's records.
fn check_against_spec(c: &Case, decoded: &Value, who: &str) {
    let records: Vec<&Value> = decoded["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["records"].as_array().unwrap())
        .collect();
    assert_eq!(records.len(), c.records.len(), "{who}: {}", c.name);
    for (i, (got, want)) in records.iter().zip(&c.records).enumerate() {
        let ctx = format!("{who}: {} record {i}", c.name);
        assert_eq!(got["offset"], json!(c.base_offset + i as i64), "{ctx}");
        let ts = if c.magic == 0 {
            Value::Null
        } else {
            json!(want.timestamp)
        };
        assert_eq!(got["timestamp"], ts, "{ctx}");
        assert_eq!(got["key"], opt_hex(want.key.as_deref()), "{ctx}");
        assert_eq!(got["value"], opt_hex(want.value.as_deref()), "{ctx}");
        let headers: Vec<Value> = want
            .headers
            .iter()
            .map(|(k, v)| json!([k, opt_hex(v.as_deref())]))
            .collect();
        assert_eq!(got["headers"], json!(headers), "{ctx}");
    }
    for b in decoded["batches"].as_array().unwrap() {
        assert_eq!(b["crc_ok"], json!(true), "{who}: {}", c.name);
    }
}

#[test]
fn kafka_python_cross_check() {
    let Some(python) = std::env::var("KAFKA_SDK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        println!("skipped: KAFKA_SDK_PYTHON is not set (cargo xtask test sets it)");
        return;
    };
    let cases = cases();

    // Theirs -> ours.
    let input = json!({ "cases": cases.iter().map(case_json).collect::<Vec<_>>() });
    let built = run_python(&python, "build", &input);
    let built = built["cases"].as_array().unwrap();
    assert_eq!(built.len(), cases.len());
    for (c, out) in cases.iter().zip(built) {
        let set = Bytes::from(unhex(out["hex"].as_str().unwrap()));
        let theirs = &out["decoded"];
        let ours = decode_ours(set);
        assert_eq!(
            &ours, theirs,
            "kafka-python wrote {}: we read it differently",
            c.name
        );
        check_against_spec(c, &ours, "kafka-python -> ours");
        // kafka-python sends a v2 batch uncompressed when compression does not pay; the
        // large shape always compresses, so every codec's bytes are exercised.
        if c.name.ends_with("big") || c.magic < 2 {
            for b in ours["batches"].as_array().unwrap() {
                assert_eq!(b["compression"], json!(c.codec.id()), "{}", c.name);
            }
        }
    }

    // Ours -> theirs: the same cases, and what only brokers write.
    let mut sets: Vec<(String, Bytes, Option<&Case>)> = cases
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                build_ours(c, TimestampType::CreateTime),
                Some(c),
            )
        })
        .collect();
    for c in cases
        .iter()
        .filter(|c| c.magic > 0 && c.codec != Compression::None)
    {
        let name = format!("{} log-append time", c.name);
        sets.push((name, build_ours(c, TimestampType::LogAppendTime), None));
    }
    for (commit, name) in [(true, "commit marker"), (false, "abort marker")] {
        let opts = BatchOptions {
            base_offset: 77,
            producer_id: 42,
            producer_epoch: 3,
            partition_leader_epoch: 5,
            ..Default::default()
        };
        sets.push((
            name.into(),
            end_txn_marker_batch(opts, 1_700_000_000_000, commit, 9).unwrap(),
            None,
        ));
    }
    // One set mixing every format, as a fetch across a message format upgrade returns.
    let mixed: Vec<u8> = cases
        .iter()
        .filter(|c| c.name.ends_with("single"))
        .flat_map(|c| build_ours(c, TimestampType::CreateTime).to_vec())
        .collect();
    sets.push(("mixed formats".into(), Bytes::from(mixed), None));

    let input = json!({ "sets": sets.iter().map(|(_, b, _)| hex(b)).collect::<Vec<_>>() });
    let decoded = run_python(&python, "decode", &input);
    let decoded = decoded["sets"].as_array().unwrap();
    assert_eq!(decoded.len(), sets.len());
    for ((name, set, case), theirs) in sets.iter().zip(decoded) {
        let ours = decode_ours(set.clone());
        assert_eq!(
            theirs, &ours,
            "we wrote {name}: kafka-python reads it differently"
        );
        if let Some(c) = case {
            check_against_spec(c, theirs, "ours -> kafka-python");
            for b in theirs["batches"].as_array().unwrap() {
                assert_eq!(b["compression"], json!(c.codec.id()), "{name}");
            }
        }
    }
    println!(
        "kafka-python cross-check: {} sets written by kafka-python, {} by us",
        built.len(),
        sets.len()
    );
}
