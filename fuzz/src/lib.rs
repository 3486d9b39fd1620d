//! Shared pieces of the kafka-protocol fuzz targets: how a response target picks its
//! (api, version) from the input, and the seed corpora each target writes at start-up.
//!
//! Seeds are generated, not checked in: when `KAFKA_FUZZ_SEED_DIR` is set, a target's `init`
//! writes a handful of valid inputs there before libFuzzer reads its corpus directories
//! (`scripts/fuzz.sh` points it at the target's corpus dir).

use std::path::Path;

use bytes::Bytes;
use kafka_protocol::ApiKey;
use kafka_protocol::codec::arbitrary::Gen;
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{KStr, frame};

/// The environment variable naming the directory to write seeds into.
pub const SEED_DIR_ENV: &str = "KAFKA_FUZZ_SEED_DIR";

/// How many random messages per (api, version) the seed generators make.
const SEEDS_PER_VERSION: u64 = 2;

/// Splits a `response_frame` input into the (api, version) its first 4 bytes choose and the
/// frame: bytes 0..2 (big-endian) index `ApiKey::ALL` modulo its length, bytes 2..4 pick a
/// version within that API's range modulo its width.
pub fn select_response(data: &[u8]) -> Option<(ApiKey, i16, &[u8])> {
    let (sel, rest) = data.split_at_checked(4)?;
    let idx = u16::from_be_bytes([sel[0], sel[1]]) as usize % ApiKey::ALL.len();
    let api = ApiKey::ALL[idx];
    let r = api.versions();
    let width = (i32::from(r.max) - i32::from(r.min) + 1) as u32;
    let off = u32::from(u16::from_be_bytes([sel[2], sel[3]])) % width;
    Some((api, (i32::from(r.min) + off as i32) as i16, rest))
}

/// The 4-byte selector that `select_response` maps to `(api, version)`.
pub fn response_selector(api: ApiKey, version: i16) -> [u8; 4] {
    let idx = ApiKey::ALL
        .iter()
        .position(|a| *a == api)
        .expect("api in ALL") as u16;
    let off = (version - api.versions().min) as u16;
    let mut out = [0u8; 4];
    out[..2].copy_from_slice(&idx.to_be_bytes());
    out[2..].copy_from_slice(&off.to_be_bytes());
    out
}

/// Valid request frames (without size prefix): random bodies of every API and version.
pub fn request_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (n, &api) in ApiKey::ALL.iter().enumerate() {
        let r = api.versions();
        for version in r.min..=r.max {
            for s in 0..SEEDS_PER_VERSION {
                let mut g = Gen::new((n as u64) << 32 | (version as u64) << 8 | s);
                let body = RequestBody::arbitrary(api, &mut g, version);
                let header = RequestHeader {
                    request_api_key: api.key(),
                    request_api_version: version,
                    correlation_id: g.i32(),
                    client_id: if s == 0 {
                        Some(KStr::from("fuzz-seed"))
                    } else {
                        None
                    },
                    ..Default::default()
                };
                if let Ok(wire) = frame::encode_request(&header, &body) {
                    out.push(wire[4..].to_vec());
                }
            }
        }
    }
    out
}

/// Valid `response_frame` inputs: selector + response frame of every API and version.
pub fn response_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (n, &api) in ApiKey::ALL.iter().enumerate() {
        let r = api.versions();
        for version in r.min..=r.max {
            for s in 0..SEEDS_PER_VERSION {
                let mut g =
                    Gen::new(0x5eed_0000_0000_0000 | (n as u64) << 32 | (version as u64) << 8 | s);
                let body = ResponseBody::arbitrary(api, &mut g, version);
                if let Ok(wire) = frame::encode_response(g.i32(), version, &body) {
                    let mut input = response_selector(api, version).to_vec();
                    input.extend_from_slice(&wire[4..]);
                    out.push(input);
                }
            }
        }
    }
    out
}

/// Writes `seeds` into the directory named by `KAFKA_FUZZ_SEED_DIR`, if set, as
/// `seed-<name>-<n>` files. Called from each target's `init` block.
pub fn write_seeds_if_requested(name: &str, seeds: impl FnOnce() -> Vec<Vec<u8>>) {
    let Some(dir) = std::env::var_os(SEED_DIR_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create seed dir");
    let seeds = seeds();
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{name}-{i:04}")), seed).expect("write seed");
    }
    eprintln!("wrote {} {name} seeds to {}", seeds.len(), dir.display());
}

/// The `record_set` decompression cap: small, so that the fuzzer can hit it cheaply.
pub const RECORD_SET_MAX_DECOMPRESSED: usize = 1 << 20;

/// `record_set` input flag (bit 0 of the first byte): recompute every top-level entry's CRC
/// before reading, so mutations reach decompression and record parsing (the reader still
/// verifies CRCs; inner messages of compressed legacy wrappers keep their own).
pub const FIX_CRCS: u8 = 1;

/// Recomputes the CRC of every complete top-level entry of `set` in place: CRC-32C of a v2
/// batch (attributes to the end), CRC-32 of a v0/v1 message (magic to the end).
pub fn fix_crcs(set: &mut [u8]) {
    use kafka_protocol::records::{BatchHeader, LOG_OVERHEAD};
    let mut pos = 0usize;
    while let Some(head) = set.get(pos..pos + 17) {
        let Ok(size) = usize::try_from(i32::from_be_bytes([head[8], head[9], head[10], head[11]]))
        else {
            return;
        };
        let magic = head[16];
        let Some(end) = (pos + LOG_OVERHEAD)
            .checked_add(size)
            .filter(|&e| e <= set.len())
        else {
            return;
        };
        let entry = &mut set[pos..end];
        match magic {
            2 if entry.len() >= BatchHeader::SIZE => {
                let _ = BatchHeader::update_crc(entry);
            }
            0 | 1 if entry.len() > 16 => {
                let crc = crc32fast::hash(&entry[16..]);
                entry[12..16].copy_from_slice(&crc.to_be_bytes());
            }
            _ => return,
        }
        pos = end;
    }
}

/// Valid `record_set` inputs (flag byte + record set): v2 batches with every codec, with
/// headers, log-append time, transactional and control batches; legacy v0/v1 message sets
/// plain and compressed; and a few concatenations.
pub fn record_set_seeds() -> Vec<Vec<u8>> {
    use kafka_protocol::compression::Compression;
    use kafka_protocol::records::control::end_txn_marker_batch;
    use kafka_protocol::records::{
        BatchOptions, LegacyBuilder, RecordBatchBuilder, RecordHeader, TimestampType,
    };

    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut sets: Vec<Bytes> = Vec::new();
    for (i, &compression) in codecs.iter().enumerate() {
        for n in [1usize, 3] {
            let opts = BatchOptions {
                compression,
                base_offset: 10 * i as i64,
                timestamp_type: if n == 3 {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                producer_id: if n == 3 { 42 } else { -1 },
                producer_epoch: if n == 3 { 1 } else { -1 },
                base_sequence: if n == 3 { 7 } else { -1 },
                transactional: n == 3,
                ..Default::default()
            };
            let mut b = RecordBatchBuilder::new(opts);
            for k in 0..n {
                let headers = [RecordHeader::new("h", Some(Bytes::from_static(b"v")))];
                let value = vec![b'x'; 20 * (k + 1)];
                let key = format!("key-{k}");
                let hs: &[RecordHeader] = if k % 2 == 0 { &headers } else { &[] };
                let _ = b.append(
                    1_700_000_000_000 + k as i64,
                    Some(key.as_bytes()),
                    Some(&value),
                    hs,
                );
            }
            if let Ok(set) = b.build() {
                sets.push(set);
            }
        }
        for magic in [0i8, 1] {
            if compression == Compression::Zstd {
                continue;
            }
            let opts = BatchOptions {
                compression,
                base_offset: 5,
                ..Default::default()
            };
            if let Ok(mut b) = LegacyBuilder::new(magic, opts) {
                let _ = b.append(1_600_000_000_000, Some(b"k"), Some(b"legacy value"));
                let _ = b.append(1_600_000_000_001, None, None);
                if let Ok(set) = b.build() {
                    sets.push(set);
                }
            }
        }
    }
    let marker = BatchOptions {
        base_offset: 99,
        producer_id: 42,
        producer_epoch: 1,
        ..Default::default()
    };
    for commit in [true, false] {
        if let Ok(set) = end_txn_marker_batch(marker, 1_700_000_000_000, commit, 3) {
            sets.push(set);
        }
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for set in &sets {
        for flag in [0u8, FIX_CRCS] {
            let mut input = vec![flag];
            input.extend_from_slice(set);
            out.push(input);
        }
    }
    // Mixed formats back to back, and one cut short (a fetch response's partial last batch).
    let mut all = vec![0u8];
    for set in &sets {
        all.extend_from_slice(set);
    }
    out.push(all.clone());
    all.truncate(all.len() - 7);
    out.push(all);
    out
}

#[cfg(test)]
mod tests {
    //! The seeds must be valid inputs, or the fuzzer starts from noise: every request and
    //! response seed decodes, and every record set seed reads to the end without an error.
    use super::*;
    use kafka_protocol::records::{ReadOptions, RecordSetReader};

    #[test]
    fn request_seeds_decode() {
        let seeds = request_seeds();
        assert!(seeds.len() > ApiKey::ALL.len());
        for s in seeds {
            frame::decode_request(&Bytes::from(s)).unwrap();
        }
    }

    #[test]
    fn response_seeds_decode() {
        let seeds = response_seeds();
        assert!(seeds.len() > ApiKey::ALL.len());
        for s in seeds {
            let (api, version, rest) = select_response(&s).unwrap();
            frame::decode_response(&Bytes::copy_from_slice(rest), api, version).unwrap();
        }
    }

    #[test]
    fn record_set_seeds_read_to_the_end() {
        let options = ReadOptions {
            verify_crc: true,
            max_decompressed_size: RECORD_SET_MAX_DECOMPRESSED,
        };
        let seeds = record_set_seeds();
        let n = seeds.len();
        for (k, s) in seeds.into_iter().enumerate() {
            let mut reader =
                RecordSetReader::with_options(Bytes::copy_from_slice(&s[1..]), options);
            let mut records = 0;
            for batch in reader.by_ref() {
                for r in batch.unwrap().records() {
                    r.unwrap();
                    records += 1;
                }
            }
            assert!(records > 0);
            // The last seed is cut short on purpose.
            assert_eq!(reader.is_truncated(), k == n - 1, "seed {k}");
        }
    }

    #[test]
    fn selector_round_trips() {
        for &api in ApiKey::ALL {
            let r = api.versions();
            for v in r.min..=r.max {
                let sel = response_selector(api, v);
                let (a, b, rest) = select_response(&sel).unwrap();
                assert_eq!((a, b, rest.len()), (api, v, 0));
            }
        }
    }

    #[test]
    fn fix_crcs_makes_a_corrupted_batch_readable_again() {
        let mut s = record_set_seeds().swap_remove(0);
        let last = s.len() - 1;
        s[last] ^= 0xff;
        let options = ReadOptions::default();
        let read = |b: &[u8]| {
            RecordSetReader::with_options(Bytes::copy_from_slice(b), options).all(|b| b.is_ok())
        };
        assert!(!read(&s[1..]));
        fix_crcs(&mut s[1..]);
        assert!(read(&s[1..]));
    }
}
