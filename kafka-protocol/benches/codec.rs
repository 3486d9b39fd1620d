//! Codec benchmarks: decoding a ~1 MiB Fetch response of 10,000 records (10 B key, 100 B
//! value) and reading every record out of it (borrowed with `records_ref`: `ours_borrowed`;
//! owned with `records`: `ours_owned`), and encoding a Produce request of the same records,
//! uncompressed and LZ4. See `common/mod.rs` for the workloads; `perf/codec-peer` runs the
//! same ones side by side with the crates.io `kafka-protocol` crate.
//!
//! `cargo bench -p kafka-protocol --bench codec`. After criterion's own output it prints a
//! table per workload: ns per record, GB/s (over the uncompressed frame bytes) and heap
//! allocations per record (counted by the bench's global allocator). It asserts nothing:
//! the targets are judged by whoever reads the numbers.
//!
//! rustc 1.95 (LLVM 22) overflows its stack optimising this crate with the `arbitrary`
//! feature that the dev-dependencies turn on, at the default 16 codegen units: the root
//! `Cargo.toml` builds kafka-protocol with one codegen unit in the bench profile.
//!
//! `CODEC_PROFILE=fetch_decode_none` (or `fetch_decode_lz4`, `produce_encode_none`,
//! `produce_encode_lz4`; `fetch_decode_none/ours_owned` for the owned fetch loop) runs just
//! that workload `CODEC_PROFILE_RUNS` times (200) without criterion, for a profiler such as
//! `valgrind --tool=callgrind`.

#![allow(unsafe_code)] // the counting global allocator in `common`

mod common;

use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group};
use kafka_protocol::compression::Compression;

use common::*;

const CODECS: [(&str, Compression); 2] = [("none", Compression::None), ("lz4", Compression::Lz4)];

fn fetch_decode(c: &mut Criterion) {
    let logical = logical_fetch_bytes();
    for (name, codec) in CODECS {
        let group = format!("fetch_decode_{name}");
        let frame = fetch_frame(codec);
        for id in FETCH_IDS {
            let decode = ours_fetch_decode_by_id(id);
            let (n, kv) = decode(&frame);
            let allocs = allocs_per_record(|| decode(&frame));
            let extra = [
                ("records_read", n.to_string()),
                ("kv_bytes_read", kv.to_string()),
            ];
            record_meta(&group, id, allocs, logical, frame.len(), &extra);
        }
        let mut g = c.benchmark_group(&group);
        g.throughput(Throughput::Elements(RECORDS as u64));
        for id in FETCH_IDS {
            let decode = ours_fetch_decode_by_id(id);
            g.bench_function(id, |b| b.iter(|| decode(&frame)));
        }
        g.finish();
    }
}

fn produce_encode(c: &mut Criterion) {
    let pairs = pairs();
    let logical = logical_produce_bytes(&pairs);
    for (name, codec) in CODECS {
        let group = format!("produce_encode_{name}");
        let wire = ours_produce_encode(&pairs, codec).len();
        let allocs = allocs_per_record(|| ours_produce_encode(&pairs, codec));
        record_meta(&group, "ours", allocs, logical, wire, &[]);
        let mut g = c.benchmark_group(&group);
        g.throughput(Throughput::Elements(RECORDS as u64));
        g.bench_function("ours", |b| b.iter(|| ours_produce_encode(&pairs, codec)));
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = fetch_decode, produce_encode
}

fn profile(workload: &str) {
    let runs: usize = std::env::var("CODEC_PROFILE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let (workload, id) = workload
        .split_once('/')
        .unwrap_or((workload, "ours_borrowed"));
    let codec = if workload.ends_with("lz4") {
        Compression::Lz4
    } else {
        Compression::None
    };
    if workload.starts_with("fetch") {
        let frame = fetch_frame(codec);
        let decode = ours_fetch_decode_by_id(id);
        for _ in 0..runs {
            std::hint::black_box(decode(&frame));
        }
    } else {
        let pairs = pairs();
        for _ in 0..runs {
            std::hint::black_box(ours_produce_encode(&pairs, codec));
        }
    }
}

fn main() {
    if let Ok(w) = std::env::var("CODEC_PROFILE") {
        profile(&w);
        return;
    }
    let start = SystemTime::now();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_summary(start, None);
}
