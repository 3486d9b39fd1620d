//! Workloads shared by `benches/codec.rs` and the side-by-side comparison with the crates.io
//! `kafka-protocol` crate (`perf/codec-peer/benches/vs_peer.rs`, which includes this file by
//! path so that both run exactly the same workloads).
//!
//! - **fetch decode**: a ~1 MiB Fetch response (v16) whose one partition holds 10,000 records
//!   of a 10-byte key and a 100-byte value, in 100 batches of 100 records (uncompressed, or
//!   LZ4 per batch), as a broker returns it. Timed: decoding the frame and reading every record
//!   out of the record set (what a consumer does), two ways: `ours_borrowed` reads each record
//!   in place with `RecordBatch::records_ref` (a consumer loop that copies out or aggregates),
//!   `ours_owned` makes each an owned `Record` with `RecordBatch::records` (records kept
//!   beyond the batch, and the only form the crates.io crate offers).
//! - **produce encode**: the same 10,000 (key, value) pairs. Timed: building the record
//!   batches (one 100-record batch per partition, 100 partitions, as a producer sends them)
//!   and encoding the Produce request (v9) frame.
//!
//! Also a counting global allocator, to report heap allocations per record.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::Compression;
use kafka_protocol::frame::{self, FrameSplitter};
use kafka_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::messages::{ApiKey, RequestBody, ResponseBody};
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder, RecordSetReader};
use kafka_protocol::{KStr, Uuid};

/// Records per workload.
pub const RECORDS: usize = 10_000;
/// Records per batch.
pub const PER_BATCH: usize = 100;
/// Bytes of each record's value.
pub const VALUE_SIZE: usize = 100;
/// Bytes of each record's key.
pub const KEY_SIZE: usize = 10;
/// Fetch response version decoded.
pub const FETCH_VERSION: i16 = 16;
/// Produce request version encoded.
pub const PRODUCE_VERSION: i16 = 9;
/// Timestamp of the first record.
pub const BASE_TIMESTAMP: i64 = 1_700_000_000_000;
/// The topic.
pub const TOPIC: &str = "bench-topic";
/// The producer's `batch.size` (the builder's initial buffer).
pub const BATCH_CAPACITY: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------
// Counting allocator

/// The system allocator, counting allocations (alloc, alloc_zeroed and realloc calls).
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

#[allow(unsafe_code)]
// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Heap allocations per record made by `f` (one warm-up call, then the mean of 5).
pub fn allocs_per_record<T>(mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    const RUNS: u64 = 5;
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..RUNS {
        std::hint::black_box(f());
    }
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    n as f64 / (RUNS as f64 * RECORDS as f64)
}

/// What the summary table needs about one benchmark besides its time.
struct Meta {
    group: String,
    id: String,
    allocs_per_record: f64,
    logical_bytes: usize,
    wire_bytes: usize,
}

static METAS: Mutex<Vec<Meta>> = Mutex::new(Vec::new());

/// Records a benchmark's allocations and sizes for [`print_summary`], and prints them as
/// `codec-meta: <group>/<id> key=value ...`.
pub fn record_meta(
    group: &str,
    id: &str,
    allocs_per_record: f64,
    logical_bytes: usize,
    wire_bytes: usize,
    extra: &[(&str, String)],
) {
    let mut line = format!(
        "codec-meta: {group}/{id} allocs_per_record={allocs_per_record:.4} \
         logical_bytes={logical_bytes} wire_bytes={wire_bytes}"
    );
    for (k, v) in extra {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
    METAS.lock().unwrap_or_else(|e| e.into_inner()).push(Meta {
        group: group.to_string(),
        id: id.to_string(),
        allocs_per_record,
        logical_bytes,
        wire_bytes,
    });
}

/// Where criterion writes its results: `$CARGO_TARGET_DIR/criterion`, else the `target`
/// directory the bench binary runs from (`target/release/deps/<bench>`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(t).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// Criterion's mean time (ns) of `group/id` if it was measured by this run.
fn mean_ns(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()?
        .join(group)
        .join(id)
        .join("new")
        .join("estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None; // left by an earlier run (filtered out of this one)
    }
    let json = std::fs::read_to_string(path).ok()?;
    let mean = &json[json.find("\"mean\"")?..];
    let at = mean.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = mean[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

/// Which benchmark ids [`print_summary`] compares, and the speed-up goals by group prefix.
#[derive(Debug, Clone, Copy)]
pub struct Versus<'a> {
    /// The ids of this crate's benchmarks (each compared with `other` where both ran).
    pub ours: &'a [&'a str],
    /// The id it is compared with.
    pub other: &'a str,
    /// (group prefix, minimum speed-up).
    pub goals: &'a [(&'a str, f64)],
}

/// Prints the table of every benchmark measured since `since`: time, ns/record, GB/s over
/// the uncompressed frame bytes, wire size, allocations per record; with `vs` also how many
/// times faster each of `ours` is than `other`.
pub fn print_summary(since: SystemTime, vs: Option<Versus<'_>>) {
    let metas = METAS.lock().unwrap_or_else(|e| e.into_inner());
    let mut rows = vec![
        [
            "workload",
            "crate",
            "ms/iter",
            "ns/record",
            "GB/s",
            "wire MB",
            "allocs/record",
            "speed-up",
        ]
        .map(String::from),
    ];
    for m in metas.iter() {
        let Some(t) = mean_ns(&m.group, &m.id, since) else {
            continue;
        };
        let mut ratio = String::new();
        if let Some(vs) = vs
            && vs.ours.contains(&m.id.as_str())
            && let Some(o) = mean_ns(&m.group, vs.other, since)
        {
            let r = o / t;
            ratio = format!("{r:.2}x vs {}", vs.other);
            if let Some((_, goal)) = vs.goals.iter().find(|(p, _)| m.group.starts_with(p)) {
                let verdict = if r >= *goal { "met" } else { "MISSED" };
                ratio.push_str(&format!(" (goal {goal}x: {verdict})"));
            }
        }
        rows.push([
            m.group.clone(),
            m.id.clone(),
            format!("{:.3}", t / 1e6),
            format!("{:.1}", t / RECORDS as f64),
            format!("{:.2}", m.logical_bytes as f64 / t),
            format!("{:.3}", m.wire_bytes as f64 / 1e6),
            format!("{:.4}", m.allocs_per_record),
            ratio,
        ]);
    }
    if rows.len() == 1 {
        return;
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    println!();
    println!(
        "Summary ({RECORDS} records of a {KEY_SIZE} B key and {VALUE_SIZE} B value; GB/s over the \
         uncompressed frame; mean times; {} cores):",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (n, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("{}", rule.join("  "));
        }
    }
    println!(
        "Targets: fetch decode >= 2x and produce encode >= 1.5x the crates.io kafka-protocol; \
         <= 1 allocation per decoded record; <= 50 ns per 100 B record."
    );
}

// ---------------------------------------------------------------------------------------
// Input data

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The 10,000 (key, value) pairs: views into one buffer, so cloning one is a reference-count
/// increment (no copy, no allocation) for either crate. Values are JSON-like events with
/// random fields (LZ4 shrinks them about as much as real event data).
pub fn pairs() -> Vec<(Bytes, Bytes)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut all = Vec::with_capacity(RECORDS * (KEY_SIZE + VALUE_SIZE));
    let events = ["click", "view", "purchase", "scroll", "login"];
    for i in 0..RECORDS {
        let key = format!("key-{:06}", i % 1_000_000);
        assert_eq!(key.len(), KEY_SIZE);
        all.extend_from_slice(key.as_bytes());
        let r = rng.next();
        let mut v = format!(
            "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"{}\",\"ts\":{},\"score\":{},\"pad\":\"",
            r % 100_000,
            events[(r >> 20) as usize % events.len()],
            BASE_TIMESTAMP + i as i64,
            (r >> 32) % 10_000,
        );
        while v.len() < VALUE_SIZE - 2 {
            let c = b'a' + (rng.next() % 26) as u8;
            v.push(c as char);
        }
        v.push_str("\"}");
        assert_eq!(v.len(), VALUE_SIZE);
        all.extend_from_slice(v.as_bytes());
    }
    let all = Bytes::from(all);
    (0..RECORDS)
        .map(|i| {
            let at = i * (KEY_SIZE + VALUE_SIZE);
            (
                all.slice(at..at + KEY_SIZE),
                all.slice(at + KEY_SIZE..at + KEY_SIZE + VALUE_SIZE),
            )
        })
        .collect()
}

/// The topic id in the Fetch response.
pub const TOPIC_ID: [u8; 16] = *b"bench-topic-id-0";

/// The Fetch response frame (without its size prefix, as a connection's frame splitter hands
/// it over) whose one partition holds the records in batches of 100, each compressed with
/// `compression`; built with this crate (both crates decode these same bytes).
pub fn fetch_frame(compression: Compression) -> Bytes {
    let pairs = pairs();
    let mut set = BytesMut::new();
    for (n, chunk) in pairs.chunks(PER_BATCH).enumerate() {
        let mut b = RecordBatchBuilder::new(BatchOptions {
            compression,
            base_offset: (n * PER_BATCH) as i64,
            partition_leader_epoch: 5,
            ..Default::default()
        });
        for (i, (k, v)) in chunk.iter().enumerate() {
            let ts = BASE_TIMESTAMP + (n * PER_BATCH + i) as i64;
            b.append(ts, Some(k), Some(v), &[]).expect("append");
        }
        set.extend_from_slice(&b.build().expect("build"));
    }
    let resp = FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic_id: Uuid(TOPIC_ID),
            partitions: vec![PartitionData {
                partition_index: 0,
                high_watermark: RECORDS as i64,
                last_stable_offset: RECORDS as i64,
                log_start_offset: 0,
                aborted_transactions: Some(Vec::new()),
                preferred_read_replica: -1,
                records: Some(set.freeze()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let wire =
        frame::encode_response(7, FETCH_VERSION, &ResponseBody::Fetch(resp)).expect("encode");
    let mut split = FrameSplitter::new(64 << 20);
    split.buffer().extend_from_slice(&wire);
    split.next_frame().expect("frame").expect("whole frame")
}

// ---------------------------------------------------------------------------------------
// This crate's side of each workload

/// The ids of this crate's fetch-decode benchmarks: records borrowed, records owned.
pub const FETCH_IDS: [&str; 2] = ["ours_borrowed", "ours_owned"];

/// A fetch-decode workload: the frame in, (records, key + value bytes) out.
pub type FetchDecode = fn(&Bytes) -> (usize, usize);

/// The fetch-decode workload by id (one of [`FETCH_IDS`]; anything else is the borrowed one).
pub fn ours_fetch_decode_by_id(id: &str) -> FetchDecode {
    if id == "ours_owned" {
        ours_fetch_decode_owned
    } else {
        ours_fetch_decode
    }
}

/// Decodes a Fetch response frame and calls `f` with the record set of every partition.
#[inline(always)]
fn for_each_record_set(frame: &Bytes, mut f: impl FnMut(Bytes)) {
    let (_header, body) =
        frame::decode_response(frame, ApiKey::Fetch, FETCH_VERSION).expect("decode");
    let ResponseBody::Fetch(resp) = body else {
        panic!("not a fetch response")
    };
    for topic in resp.responses {
        for p in topic.partitions {
            if let Some(records) = p.records {
                f(records);
            }
        }
    }
}

/// What a consumer loop does with a fetch response: decode the frame, then read every record
/// of every batch in place (CRCs checked, the default), borrowed from its batch
/// (`records_ref`): no reference counting per record. Returns (records, key + value bytes)
/// so nothing is optimised away.
pub fn ours_fetch_decode(frame: &Bytes) -> (usize, usize) {
    let mut count = 0;
    let mut bytes = 0;
    for_each_record_set(frame, |records| {
        for batch in RecordSetReader::new(records) {
            let batch = batch.expect("batch");
            for r in batch.records_ref() {
                let r = r.expect("record");
                count += 1;
                bytes += r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len);
            }
        }
    });
    (count, bytes)
}

/// [`ours_fetch_decode`] with every record made an owned `Record` (`records`: key and value
/// are `Bytes` views, as the crates.io crate's records are), what a consumer that hands
/// records to the application or keeps them past the batch does.
pub fn ours_fetch_decode_owned(frame: &Bytes) -> (usize, usize) {
    let mut count = 0;
    let mut bytes = 0;
    for_each_record_set(frame, |records| {
        for batch in RecordSetReader::new(records) {
            let batch = batch.expect("batch");
            for r in batch.records() {
                let r = r.expect("record");
                count += 1;
                bytes +=
                    r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len);
            }
        }
    });
    (count, bytes)
}

/// What a producer does: one batch of 100 records per partition, 100 partitions, then the
/// Produce request frame (size prefix included), ready to write to the socket.
pub fn ours_produce_encode(pairs: &[(Bytes, Bytes)], compression: Compression) -> BytesMut {
    let mut partitions = Vec::with_capacity(pairs.len().div_ceil(PER_BATCH));
    for (n, chunk) in pairs.chunks(PER_BATCH).enumerate() {
        let mut b = RecordBatchBuilder::with_capacity(
            BatchOptions {
                compression,
                ..Default::default()
            },
            BATCH_CAPACITY,
        );
        for (i, (k, v)) in chunk.iter().enumerate() {
            let ts = BASE_TIMESTAMP + (n * PER_BATCH + i) as i64;
            b.append(ts, Some(k), Some(v), &[]).expect("append");
        }
        partitions.push(PartitionProduceData {
            index: n as i32,
            records: Some(b.build().expect("build")),
            ..Default::default()
        });
    }
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: KStr::from_static(TOPIC),
            partition_data: partitions,
            ..Default::default()
        }],
        ..Default::default()
    };
    let header = RequestHeader {
        request_api_key: ApiKey::Produce.key(),
        request_api_version: PRODUCE_VERSION,
        correlation_id: 1,
        client_id: Some(KStr::from_static("bench")),
        ..Default::default()
    };
    frame::encode_request(&header, &RequestBody::Produce(req)).expect("encode")
}

/// Bytes of the uncompressed Fetch frame: the data volume GB/s figures are computed from
/// (the same for the LZ4 workload, whose frame is smaller on the wire).
pub fn logical_fetch_bytes() -> usize {
    fetch_frame(Compression::None).len()
}

/// Bytes of the uncompressed Produce frame.
pub fn logical_produce_bytes(pairs: &[(Bytes, Bytes)]) -> usize {
    ours_produce_encode(pairs, Compression::None).len()
}
