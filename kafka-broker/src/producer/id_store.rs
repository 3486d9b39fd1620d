//! The broker's producer-id coordinator and its file, `producer-ids` in the data directory.
//!
//! Kafka keeps the id high-water mark in its metadata log and transactional-id bindings in
//! `__transaction_state`. Here both live in one small file, rewritten whole (temporary file,
//! fsync, rename) whenever InitProducerId claims a new block of ids or changes a binding,
//! *before* the answer goes out, so a restart never hands out an id or epoch twice. Ids within
//! a claimed block cost no write. Big-endian:
//!
//! ```text
//! version     i16  1
//! crc         u32  CRC-32C of everything after this field
//! high_water  i64  every id below may have been handed out
//! count       i32  transactional ids, then per id:
//!   transactional_id  i16 length + UTF-8
//!   producer_id i64, epoch i16, prev_producer_id i64, last_epoch i16, timeout_ms i32
//! ```
//!
//! A damaged file stops the broker from starting (like a damaged `topics.meta`): guessing
//! would risk reusing producer ids.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut};
use parking_lot::Mutex;

use super::ids::{Granted, InitError, InitRequest, ProducerIdManager, TxnProducer};
use crate::BrokerError;

/// The file's name in the data directory.
pub(crate) const ID_FILE: &str = "producer-ids";

const VERSION: i16 = 1;
const ENTRY_BYTES: usize = 8 + 2 + 8 + 2 + 4;

/// The broker's producer-id coordinator.
#[derive(Debug)]
pub(crate) struct ProducerIdStore {
    manager: Mutex<ProducerIdManager>,
    /// The data directory; `None` keeps everything in memory.
    dir: Option<PathBuf>,
}

impl ProducerIdStore {
    /// Loads the coordinator's state from `data_dir` (a new one if the file is absent).
    pub(crate) fn open(data_dir: Option<&Path>) -> Result<Self, BrokerError> {
        let manager = match data_dir {
            None => ProducerIdManager::default(),
            Some(dir) => {
                let path = dir.join(ID_FILE);
                match std::fs::read(&path) {
                    Ok(bytes) => decode(&bytes).map_err(|reason| BrokerError::BadMetadata {
                        path: path.clone(),
                        reason: reason.into(),
                    })?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        ProducerIdManager::default()
                    }
                    Err(source) => return Err(BrokerError::DataDir { path, source }),
                }
            }
        };
        Ok(Self {
            manager: Mutex::new(manager),
            dir: data_dir.map(Path::to_path_buf),
        })
    }

    /// Handles an InitProducerId, persisting the change before granting it.
    pub(crate) fn init(&self, req: &InitRequest<'_>) -> Result<Granted, InitError> {
        let mut manager = self.manager.lock();
        let outcome = manager.init(req)?;
        if outcome.persist
            && let Some(dir) = &self.dir
            && let Err(e) = super::write_atomically(dir, ID_FILE, &encode(&manager))
        {
            tracing::error!(error = %e, "cannot persist producer ids");
            manager.undo(outcome.undo);
            return Err(InitError::Storage(e.to_string()));
        }
        Ok(outcome.granted)
    }
}

/// The file's bytes for `manager`'s state.
pub(crate) fn encode(manager: &ProducerIdManager) -> Vec<u8> {
    let mut body = Vec::new();
    body.put_i64(manager.high_water());
    let tx = manager.transactional();
    // Ids longer than a Kafka string cannot arrive (the request's string is i16-prefixed),
    // and there are never 2^31 of them; skip rather than write a file that does not decode.
    let fits: Vec<_> = tx
        .iter()
        .filter(|(id, _)| i16::try_from(id.len()).is_ok())
        .take(i32::MAX as usize)
        .collect();
    body.put_i32(fits.len() as i32);
    for (id, e) in fits {
        body.put_i16(id.len() as i16);
        body.put_slice(id.as_bytes());
        body.put_i64(e.producer_id);
        body.put_i16(e.epoch);
        body.put_i64(e.prev_producer_id);
        body.put_i16(e.last_epoch);
        body.put_i32(e.timeout_ms);
    }
    let mut out = Vec::with_capacity(6 + body.len());
    out.put_i16(VERSION);
    out.put_u32(crc32c::crc32c(&body));
    out.extend_from_slice(&body);
    out
}

/// Parses the file; the error says what is wrong.
pub(crate) fn decode(bytes: &[u8]) -> Result<ProducerIdManager, &'static str> {
    let mut buf = bytes;
    if buf.len() < 6 + 12 {
        return Err("truncated");
    }
    if buf.get_i16() != VERSION {
        return Err("unknown version");
    }
    let crc = buf.get_u32();
    if crc != crc32c::crc32c(buf) {
        return Err("checksum mismatch");
    }
    let high_water = buf.get_i64();
    let count = usize::try_from(buf.get_i32()).map_err(|_| "negative count")?;
    if high_water < 0 {
        return Err("negative high-water mark");
    }
    if count > buf.len() / (2 + ENTRY_BYTES) {
        return Err("truncated");
    }
    let mut tx = BTreeMap::new();
    for _ in 0..count {
        if buf.len() < 2 {
            return Err("truncated");
        }
        let len = usize::try_from(buf.get_i16()).map_err(|_| "negative id length")?;
        if buf.len() < len + ENTRY_BYTES {
            return Err("truncated");
        }
        let id = std::str::from_utf8(&buf[..len]).map_err(|_| "transactional id is not UTF-8")?;
        let id = id.to_string();
        buf.advance(len);
        let entry = TxnProducer {
            producer_id: buf.get_i64(),
            epoch: buf.get_i16(),
            prev_producer_id: buf.get_i64(),
            last_epoch: buf.get_i16(),
            timeout_ms: buf.get_i32(),
        };
        if entry.producer_id < 0 || entry.producer_id >= high_water {
            return Err("a transactional id's producer id is above the high-water mark");
        }
        tx.insert(id, entry);
    }
    if !buf.is_empty() {
        return Err("trailing bytes");
    }
    Ok(ProducerIdManager::restore(high_water, tx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(tid: Option<&str>) -> InitRequest<'_> {
        InitRequest {
            transactional_id: tid,
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
        }
    }

    #[test]
    fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProducerIdStore::open(Some(dir.path())).unwrap();
        let a = store.init(&req(None)).unwrap();
        let t = store.init(&req(Some("tx-é"))).unwrap();
        assert_eq!((a.producer_id, t.producer_id, t.epoch), (0, 1, 0));
        drop(store);
        let store = ProducerIdStore::open(Some(dir.path())).unwrap();
        let b = store.init(&req(None)).unwrap();
        assert!(b.producer_id >= 2, "ids are never reused: {b:?}");
        let t2 = store.init(&req(Some("tx-é"))).unwrap();
        assert_eq!(
            (t2.producer_id, t2.epoch),
            (1, 1),
            "stable id, bumped epoch"
        );
    }

    #[test]
    fn in_memory_needs_no_directory() {
        let store = ProducerIdStore::open(None).unwrap();
        assert_eq!(store.init(&req(None)).unwrap().producer_id, 0);
        assert_eq!(store.init(&req(None)).unwrap().producer_id, 1);
    }

    #[test]
    fn a_failed_write_grants_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let store = ProducerIdStore::open(Some(&data)).unwrap();
        std::fs::remove_dir(&data).unwrap();
        let e = store.init(&req(Some("t"))).unwrap_err();
        assert_eq!(e.code(), kafka_protocol::ErrorCode::CoordinatorNotAvailable);
        std::fs::create_dir(&data).unwrap();
        // The failed request left no trace: the binding is new again, the id unused.
        let t = store.init(&req(Some("t"))).unwrap();
        assert_eq!((t.producer_id, t.epoch), (0, 0));
    }

    #[test]
    fn damaged_files_are_refused() {
        let mut m = ProducerIdManager::default();
        m.init(&req(Some("abc"))).unwrap();
        m.init(&req(None)).unwrap();
        let bytes = encode(&m);
        assert_eq!(
            decode(&bytes).unwrap(),
            ProducerIdManager::restore(1000, m.transactional().clone())
        );
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x04;
            assert!(decode(&bad).is_err(), "byte {i} flipped");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ID_FILE), b"junk").unwrap();
        assert!(matches!(
            ProducerIdStore::open(Some(dir.path())),
            Err(BrokerError::BadMetadata { .. })
        ));
    }
}
