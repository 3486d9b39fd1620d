//! Idempotent producers: producer ids, and each partition's sequence state.
//!
//! - `ids`: InitProducerId's rules — id allocation in blocks, stable ids and epoch bumps for
//!   transactional ids, KIP-360 resumption (sans-IO);
//! - `id_store`: the broker's instance of it, persisted in the data directory;
//! - `sequence`: per partition and producer id, the epoch and last five batches, and the
//!   checks Produce applies to idempotent batches (sans-IO);
//! - `snapshot`: the byte format of a partition's sequence state;
//! - `partition`: a partition's sequence state with its persistence (snapshot at clean
//!   shutdown, replay of the log after it);
//! - `shutdown`: saving every partition's snapshot when the broker closes.
//!
//! Transactions are not implemented: InitProducerId serves transactional ids (so a
//! transactional producer can initialise and fence its predecessors), but AddPartitionsToTxn,
//! EndTxn and the rest are not served, and Produce refuses transactional batches.

pub(crate) mod id_store;
pub(crate) mod ids;
pub(crate) mod partition;
pub(crate) mod sequence;
mod shutdown;
pub(crate) mod snapshot;

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

pub(crate) use id_store::ProducerIdStore;
pub(crate) use partition::PartitionProducers;

/// Writes `dir/name` through `name.tmp`, fsync and rename, then syncs the directory: a crash
/// leaves the old file or the new one, never a torn one. (A leftover `.tmp` in a partition
/// directory is removed by log recovery.)
pub(crate) fn write_atomically(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    File::open(dir)?.sync_all()
}
