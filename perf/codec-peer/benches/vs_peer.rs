//! The codec workloads of `kafka-protocol/benches/codec.rs` (same source: `common` below is
//! that bench's module), run side by side with the crates.io `kafka-protocol` crate v0.18
//! (`kp` here): one criterion group per workload, with ours and `peer` in it.
//!
//! - fetch decode: both crates decode the same Fetch v16 frame (built by this SDK) and read
//!   every record: ours with `frame::decode_response` + `RecordSetReader`, twice: records
//!   borrowed from their batch (`ours_borrowed`, `RecordBatch::records_ref`, what a consumer
//!   loop that copies out or aggregates uses) and owned (`ours_owned`, `RecordBatch::records`:
//!   `Bytes` views, like the peer's records, the like-for-like comparison); the peer with
//!   `ResponseHeader`/`FetchResponse` `Decodable` + `RecordBatchDecoder::decode_all`, which
//!   only makes owned records. All check batch CRCs (the peer always does; ours by default).
//! - produce encode: from the same 10,000 (key, value) pairs, one 100-record batch per
//!   partition, 100 partitions, then the Produce v9 frame with its size prefix: ours with
//!   `RecordBatchBuilder` + `frame::encode_request`; the peer with `Record`s,
//!   `RecordBatchEncoder::encode` and `RequestHeader`/`ProduceRequest` `Encodable`.
//!
//! After criterion's output it prints a table: ns/record, GB/s (over the uncompressed frame),
//! allocations per record (counting global allocator) for both crates, and the speed-up of
//! each of ours over the peer against the goals. Asserts nothing.

#![allow(unsafe_code)]

#[path = "../../../kafka-protocol/benches/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group};
use kafka_protocol::compression::Compression;

use common::*;

use kp::messages::fetch_response::FetchResponse as PFetchResponse;
use kp::messages::produce_request::{
    PartitionProduceData as PPartitionProduceData, ProduceRequest as PProduceRequest,
    TopicProduceData as PTopicProduceData,
};
use kp::messages::{
    ApiKey as PApiKey, RequestHeader as PRequestHeader, ResponseHeader as PResponseHeader,
    TopicName,
};
use kp::protocol::{Decodable, Encodable, StrBytes};
use kp::records::{
    Compression as PCompression, Record as PRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as PTimestampType,
};

const CODECS: [(&str, Compression, PCompression); 2] = [
    ("none", Compression::None, PCompression::None),
    ("lz4", Compression::Lz4, PCompression::Lz4),
];

/// The peer's consumer path: response header, Fetch response body, then every record set of
/// every partition decoded into `Record`s.
fn peer_fetch_decode(frame: &Bytes) -> (usize, usize) {
    let mut buf = frame.clone();
    let hv = PApiKey::Fetch.response_header_version(FETCH_VERSION);
    let _header = PResponseHeader::decode(&mut buf, hv).expect("header");
    let resp = PFetchResponse::decode(&mut buf, FETCH_VERSION).expect("decode");
    let mut count = 0;
    let mut bytes = 0;
    for topic in &resp.responses {
        for p in &topic.partitions {
            let Some(records) = &p.records else { continue };
            let mut records = records.clone();
            for set in RecordBatchDecoder::decode_all(&mut records).expect("records") {
                for r in &set.records {
                    count += 1;
                    bytes += r.key.as_ref().map_or(0, Bytes::len)
                        + r.value.as_ref().map_or(0, Bytes::len);
                }
            }
        }
    }
    (count, bytes)
}

/// The peer's producer path: `Record`s from the pairs (key and value are `Bytes` clones, no
/// copy), one batch per partition, then the request frame with its size prefix.
fn peer_produce_encode(pairs: &[(Bytes, Bytes)], compression: PCompression) -> BytesMut {
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    let mut partitions = Vec::with_capacity(pairs.len().div_ceil(PER_BATCH));
    for (n, chunk) in pairs.chunks(PER_BATCH).enumerate() {
        let records: Vec<PRecord> = chunk
            .iter()
            .enumerate()
            .map(|(i, (k, v))| PRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: PTimestampType::Creation,
                offset: i as i64,
                // The peer batches records whose offset - sequence agree; offset - 1 gives the
                // batch base sequence -1 (no idempotence), as ours writes.
                sequence: i as i32 - 1,
                timestamp: BASE_TIMESTAMP + (n * PER_BATCH + i) as i64,
                key: Some(k.clone()),
                value: Some(v.clone()),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::with_capacity(BATCH_CAPACITY);
        RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode batch");
        partitions.push(
            PPartitionProduceData::default()
                .with_index(n as i32)
                .with_records(Some(buf.freeze())),
        );
    }
    let req = PProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            PTopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(partitions),
        ]);
    let header = PRequestHeader::default()
        .with_request_api_key(PApiKey::Produce as i16)
        .with_request_api_version(PRODUCE_VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("bench")));
    let hv = PApiKey::Produce.request_header_version(PRODUCE_VERSION);
    let size =
        header.compute_size(hv).expect("size") + req.compute_size(PRODUCE_VERSION).expect("size");
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header.encode(&mut buf, hv).expect("encode header");
    req.encode(&mut buf, PRODUCE_VERSION).expect("encode");
    buf
}

fn fetch_decode(c: &mut Criterion) {
    let logical = logical_fetch_bytes();
    for (name, codec, _) in CODECS {
        let group = format!("fetch_decode_{name}");
        let frame = fetch_frame(codec);
        let runs: Vec<(&str, FetchDecode)> = FETCH_IDS
            .iter()
            .map(|&id| (id, ours_fetch_decode_by_id(id)))
            .chain([("peer", peer_fetch_decode as FetchDecode)])
            .collect();
        for &(id, decode) in &runs {
            let read = decode(&frame);
            let allocs = allocs_per_record(|| decode(&frame));
            let extra = [
                ("records_read", read.0.to_string()),
                ("kv_bytes_read", read.1.to_string()),
            ];
            record_meta(&group, id, allocs, logical, frame.len(), &extra);
        }
        let mut g = c.benchmark_group(&group);
        g.throughput(Throughput::Elements(RECORDS as u64));
        for &(id, decode) in &runs {
            g.bench_function(id, |b| b.iter(|| decode(&frame)));
        }
        g.finish();
    }
}

fn produce_encode(c: &mut Criterion) {
    let pairs = pairs();
    let logical = logical_produce_bytes(&pairs);
    for (name, codec, pcodec) in CODECS {
        let group = format!("produce_encode_{name}");
        let ours = ours_produce_encode(&pairs, codec);
        let peer = peer_produce_encode(&pairs, pcodec);
        // Each frame read back with this SDK, to show both hold the same records.
        let check = |wire: &BytesMut| recount_produce(&Bytes::copy_from_slice(&wire[4..]));
        for (krate, wire, allocs) in [
            (
                "ours",
                &ours,
                allocs_per_record(|| ours_produce_encode(&pairs, codec)),
            ),
            (
                "peer",
                &peer,
                allocs_per_record(|| peer_produce_encode(&pairs, pcodec)),
            ),
        ] {
            let extra = [("records_written", check(wire).to_string())];
            record_meta(&group, krate, allocs, logical, wire.len(), &extra);
        }
        let mut g = c.benchmark_group(&group);
        g.throughput(Throughput::Elements(RECORDS as u64));
        g.bench_function("ours", |b| b.iter(|| ours_produce_encode(&pairs, codec)));
        g.bench_function("peer", |b| b.iter(|| peer_produce_encode(&pairs, pcodec)));
        g.finish();
    }
}

/// Records in a Produce request frame (without size prefix), read with this SDK.
fn recount_produce(frame: &Bytes) -> usize {
    use kafka_protocol::frame::decode_request;
    use kafka_protocol::messages::RequestBody;
    use kafka_protocol::records::RecordSetReader;
    let Ok(req) = decode_request(frame) else {
        return 0;
    };
    let RequestBody::Produce(p) = req.body else {
        return 0;
    };
    let mut n = 0;
    for t in &p.topic_data {
        for part in &t.partition_data {
            for batch in RecordSetReader::new(part.records.clone().unwrap_or_default()) {
                let Ok(batch) = batch else { return 0 };
                n += batch.records().filter(Result::is_ok).count();
            }
        }
    }
    n
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

/// `CODEC_PROFILE=<workload>/<id>` (e.g. `fetch_decode_lz4/ours_borrowed`, `.../ours_owned`,
/// `.../peer`; `ours` is `ours_borrowed` for fetch decode) runs just that workload
/// `CODEC_PROFILE_RUNS` times (default 200) instead of criterion: for profilers
/// (`valgrind --tool=callgrind`), whose counts then divide by runs x 10,000 records.
fn profile(what: &str) {
    let runs: usize = std::env::var("CODEC_PROFILE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let (workload, krate) = what.split_once('/').unwrap_or((what, "ours"));
    let (kind, codec) = workload.rsplit_once('_').unwrap_or((workload, "none"));
    let (codec, pcodec) = match codec {
        "lz4" => (Compression::Lz4, PCompression::Lz4),
        _ => (Compression::None, PCompression::None),
    };
    match (kind, krate) {
        ("fetch_decode", k) => {
            let frame = fetch_frame(codec);
            let decode = if k == "peer" {
                peer_fetch_decode
            } else {
                ours_fetch_decode_by_id(k)
            };
            for _ in 0..runs {
                std::hint::black_box(decode(&frame));
            }
        }
        (_, k) => {
            let pairs = pairs();
            for _ in 0..runs {
                if k == "peer" {
                    std::hint::black_box(peer_produce_encode(&pairs, pcodec));
                } else {
                    std::hint::black_box(ours_produce_encode(&pairs, codec));
                }
            }
        }
    }
}

fn main() {
    if let Ok(what) = std::env::var("CODEC_PROFILE") {
        profile(&what);
        return;
    }
    let start = std::time::SystemTime::now();
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_summary(
        start,
        Some(Versus {
            ours: &["ours", "ours_borrowed", "ours_owned"],
            other: "peer",
            goals: &[("fetch_decode", 2.0), ("produce_encode", 1.5)],
        }),
    );
}
