//! A coarse timing of record decoding, the consumer's hot path (budget: 50 ns for a
//! 100-byte record in release builds). Ignored by default, as timings on shared CI machines
//! are noise; run with
//! `cargo test --release -p kafka-protocol --test records_perf -- --ignored --nocapture`.

use std::time::Instant;

use kafka_protocol::records::{BatchOptions, ReadOptions, RecordBatchBuilder, RecordSetReader};

#[test]
#[ignore = "timing; run explicitly in release"]
fn decode_100_byte_records() {
    // 1000 records per batch, 100 batches; each record ~100 bytes on the wire.
    let mut set = Vec::new();
    for b in 0..100 {
        let mut builder = RecordBatchBuilder::new(BatchOptions {
            base_offset: b * 1000,
            ..Default::default()
        });
        for i in 0..1000 {
            let key = format!("key-{i:08}");
            builder
                .append(
                    1_700_000_000_000 + i,
                    Some(key.as_bytes()),
                    Some(&[b'v'; 80]),
                    &[],
                )
                .unwrap();
        }
        set.extend_from_slice(&builder.build().unwrap());
    }
    let set = bytes::Bytes::from(set);
    let per_record = set.len() as f64 / 100_000.0;

    for verify_crc in [true, false] {
        let opts = ReadOptions {
            verify_crc,
            ..ReadOptions::default()
        };
        let mut best = f64::MAX;
        for _ in 0..20 {
            let start = Instant::now();
            let mut n = 0u64;
            let mut sum = 0i64;
            for batch in RecordSetReader::with_options(set.clone(), opts) {
                for r in batch.unwrap().records() {
                    let r = r.unwrap();
                    sum = sum.wrapping_add(r.offset);
                    n += 1;
                }
            }
            assert_eq!(n, 100_000);
            std::hint::black_box(sum);
            best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
        }
        println!("decode: {best:.1} ns per {per_record:.0}-byte record (verify_crc: {verify_crc})");
    }
}
