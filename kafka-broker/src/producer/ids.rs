//! Producer ids: allocation, and the stable id and epoch of each transactional id — the
//! coordinator side of InitProducerId. Sans-IO: [`ProducerIdManager::init`] changes the
//! state and says whether it must be persisted before answering; `id_store.rs` does that.
//!
//! Following Kafka (`TransactionCoordinator.handleInitProducerId`,
//! `TransactionMetadata.prepareIncrementProducerEpoch` / `prepareProducerIdRotation`,
//! `ProducerIdManager`):
//!
//! - **Ids** come from blocks of [`BLOCK_SIZE`]: claiming a block persists its end first, so
//!   after a restart allocation resumes above every id that may have been handed out, and no
//!   id is ever reused (Kafka's controller hands out blocks of 1000 the same way).
//! - **No transactional id**: a fresh id at epoch 0, every time. Kafka "blindly" does this and
//!   ignores the request's producer id and epoch; a KIP-360 idempotent producer that wants a
//!   new epoch bumps it itself, in its Produce requests.
//! - **Transactional id**: empty is INVALID_REQUEST; a timeout outside
//!   `1..=`[`TRANSACTION_MAX_TIMEOUT_MS`] is INVALID_TRANSACTION_TIMEOUT. The first init gets
//!   a new id at epoch 0; each later one keeps the id and bumps the epoch, which fences the
//!   older epoch's writes (Produce refuses them as INVALID_PRODUCER_EPOCH). Once the epoch
//!   is exhausted (`i16::MAX - 1`), a new id at epoch 0 replaces it.
//! - **KIP-360** (v3+, producer id and epoch given): the request is fenced (PRODUCER_FENCED)
//!   unless it names the current id, or the previous id with an exhausted epoch (a retry after
//!   a rotation), or the transactional id has no epoch yet. Then the epoch is bumped if the
//!   request's epoch is the current one, the current epoch is returned unchanged if the
//!   request's is the previous one (a retry whose answer was lost), and anything else is
//!   PRODUCER_FENCED. The handler turns PRODUCER_FENCED into INVALID_PRODUCER_EPOCH below v4,
//!   which cannot carry it.
//!
//! There are no transactions (AddPartitionsToTxn, EndTxn, ... are not served), so a
//! transactional id is always in Kafka's Empty/Complete state: init never has to abort one.

use std::collections::BTreeMap;

use kafka_protocol::ErrorCode;
use kafka_protocol::records::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

/// Ids claimed at a time.
pub(crate) const BLOCK_SIZE: i64 = 1000;

/// Kafka's default `transaction.max.timeout.ms`: 15 minutes.
pub(crate) const TRANSACTION_MAX_TIMEOUT_MS: i32 = 900_000;

/// An InitProducerId request, as the coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InitRequest<'a> {
    pub transactional_id: Option<&'a str>,
    pub transaction_timeout_ms: i32,
    /// -1 unless the client resumes (v3+).
    pub producer_id: i64,
    /// -1 unless the client resumes (v3+).
    pub producer_epoch: i16,
}

/// The id and epoch granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Granted {
    pub producer_id: i64,
    pub epoch: i16,
}

/// Why InitProducerId is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InitError {
    /// Malformed: an empty transactional id, or only one of producer id and epoch given.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The transaction timeout is not in `1..=TRANSACTION_MAX_TIMEOUT_MS`.
    #[error("transaction timeout {0} ms is not in 1..={TRANSACTION_MAX_TIMEOUT_MS}")]
    InvalidTransactionTimeout(i32),
    /// The request's producer id or epoch is not the transactional id's current one.
    #[error("producer {producer_id} epoch {epoch} is fenced by a newer producer")]
    ProducerFenced { producer_id: i64, epoch: i16 },
    /// Every producer id has been handed out.
    #[error("producer ids are exhausted")]
    IdsExhausted,
    /// The new state could not be persisted (set by the store, never by the manager).
    #[error("cannot persist producer ids: {0}")]
    Storage(String),
}

impl InitError {
    /// The error code Kafka answers with (PRODUCER_FENCED for every version: the handler
    /// downgrades it below v4).
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            InitError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            InitError::InvalidTransactionTimeout(_) => ErrorCode::InvalidTransactionTimeout,
            InitError::ProducerFenced { .. } => ErrorCode::ProducerFenced,
            InitError::IdsExhausted => ErrorCode::UnknownServerError,
            // Kafka answers a failed write to its transaction log this way: retriable.
            InitError::Storage(_) => ErrorCode::CoordinatorNotAvailable,
        }
    }
}

/// What a transactional id is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxnProducer {
    pub producer_id: i64,
    /// -1 until the first init completes.
    pub epoch: i16,
    /// The id before the last change (the same id after a bump, the old one after a rotation).
    pub prev_producer_id: i64,
    /// The epoch a KIP-360 retry may still name (-1 if none).
    pub last_epoch: i16,
    pub timeout_ms: i32,
}

/// What [`ProducerIdManager::init`] did: the answer, whether the persisted state changed,
/// and how to take the change back if persisting it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub granted: Granted,
    pub persist: bool,
    pub undo: Undo,
}

/// The state [`ProducerIdManager::init`] overwrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undo {
    next_id: i64,
    block_end: i64,
    txn: Option<(String, Option<TxnProducer>)>,
}

/// Producer-id allocation and transactional-id bindings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProducerIdManager {
    /// The next id to hand out.
    next_id: i64,
    /// The end of the claimed block: ids in `next_id..block_end` need no persisting.
    block_end: i64,
    transactional: BTreeMap<String, TxnProducer>,
}

impl ProducerIdManager {
    /// The state persisted as `high_water` (every id below may have been handed out) and
    /// the transactional ids.
    pub(crate) fn restore(high_water: i64, transactional: BTreeMap<String, TxnProducer>) -> Self {
        let high_water = high_water.max(0);
        Self {
            next_id: high_water,
            block_end: high_water,
            transactional,
        }
    }

    /// What must be persisted: the high-water mark.
    pub(crate) fn high_water(&self) -> i64 {
        self.block_end
    }

    /// The transactional-id bindings.
    pub(crate) fn transactional(&self) -> &BTreeMap<String, TxnProducer> {
        &self.transactional
    }

    /// Handles one InitProducerId (rules in the module docs). On `Ok`, the state has
    /// changed; persist it if told, and [`undo`](Self::undo) if that fails.
    pub(crate) fn init(&mut self, req: &InitRequest<'_>) -> Result<Outcome, InitError> {
        let expected = match (req.producer_id, req.producer_epoch) {
            (NO_PRODUCER_ID, NO_PRODUCER_EPOCH) => None,
            (NO_PRODUCER_ID, _) | (_, NO_PRODUCER_EPOCH) => {
                return Err(InitError::InvalidRequest(
                    "producer id and epoch must both be given or both be -1",
                ));
            }
            (id, epoch) => Some((id, epoch)),
        };
        let mut undo = Undo {
            next_id: self.next_id,
            block_end: self.block_end,
            txn: None,
        };
        let Some(tid) = req.transactional_id else {
            let (producer_id, persist) = self.allocate()?;
            return Ok(Outcome {
                granted: Granted {
                    producer_id,
                    epoch: 0,
                },
                persist,
                undo,
            });
        };
        if tid.is_empty() {
            return Err(InitError::InvalidRequest("empty transactional id"));
        }
        let timeout = req.transaction_timeout_ms;
        if timeout <= 0 || timeout > TRANSACTION_MAX_TIMEOUT_MS {
            return Err(InitError::InvalidTransactionTimeout(timeout));
        }
        let old = self.transactional.get(tid).copied();
        let entry = match self.transition(old, expected, timeout) {
            Ok(e) => e,
            Err(e) => {
                // A new binding's id may have been allocated: give it back.
                self.undo(undo);
                return Err(e);
            }
        };
        self.transactional.insert(tid.to_string(), entry);
        undo.txn = Some((tid.to_string(), old));
        Ok(Outcome {
            granted: Granted {
                producer_id: entry.producer_id,
                epoch: entry.epoch,
            },
            persist: true,
            undo,
        })
    }

    /// Takes back the change an [`init`](Self::init) made.
    pub(crate) fn undo(&mut self, undo: Undo) {
        self.next_id = undo.next_id;
        self.block_end = undo.block_end;
        if let Some((tid, old)) = undo.txn {
            match old {
                Some(entry) => self.transactional.insert(tid, entry),
                None => self.transactional.remove(&tid),
            };
        }
    }

    /// The new binding of a transactional id currently bound to `old` (`None`: new).
    fn transition(
        &mut self,
        old: Option<TxnProducer>,
        expected: Option<(i64, i16)>,
        timeout_ms: i32,
    ) -> Result<TxnProducer, InitError> {
        let current = match old {
            Some(e) => e,
            None => {
                let (id, _) = self.allocate()?;
                TxnProducer {
                    producer_id: id,
                    epoch: NO_PRODUCER_EPOCH,
                    prev_producer_id: NO_PRODUCER_ID,
                    last_epoch: NO_PRODUCER_EPOCH,
                    timeout_ms,
                }
            }
        };
        let fenced =
            |(producer_id, epoch): (i64, i16)| InitError::ProducerFenced { producer_id, epoch };
        if let Some((id, epoch)) = expected {
            let valid = current.epoch == NO_PRODUCER_EPOCH
                || id == current.producer_id
                || (id == current.prev_producer_id && is_epoch_exhausted(epoch));
            if !valid {
                return Err(fenced((id, epoch)));
            }
        }
        if is_epoch_exhausted(current.epoch) && expected.is_none_or(|(_, e)| e == current.epoch) {
            // Rotate: a new id, epoch 0.
            let (id, _) = self.allocate()?;
            let last_epoch = if expected.is_some() {
                current.epoch
            } else {
                NO_PRODUCER_EPOCH
            };
            return Ok(TxnProducer {
                producer_id: id,
                epoch: 0,
                prev_producer_id: current.producer_id,
                last_epoch,
                timeout_ms,
            });
        }
        let (epoch, last_epoch) = match expected {
            None => (bump(current.epoch), NO_PRODUCER_EPOCH),
            Some((_, e)) if current.epoch == NO_PRODUCER_EPOCH || e == current.epoch => {
                (bump(current.epoch), current.epoch)
            }
            // A retry of a bump whose answer was lost: answer it again. (With an exhausted
            // current epoch Kafka fails this retry with an internal error instead.)
            Some((_, e)) if e == current.last_epoch => (current.epoch, current.last_epoch),
            Some(exp) => return Err(fenced(exp)),
        };
        Ok(TxnProducer {
            producer_id: current.producer_id,
            epoch,
            prev_producer_id: current.producer_id,
            last_epoch,
            timeout_ms,
        })
    }

    /// The next id; `true` when a new block was claimed (the high-water mark moved).
    fn allocate(&mut self) -> Result<(i64, bool), InitError> {
        let mut claimed = false;
        if self.next_id >= self.block_end {
            self.block_end = self
                .next_id
                .checked_add(BLOCK_SIZE)
                .ok_or(InitError::IdsExhausted)?;
            claimed = true;
        }
        let id = self.next_id;
        self.next_id += 1;
        Ok((id, claimed))
    }
}

/// Whether no epoch may follow `epoch` for this id (Kafka keeps `i16::MAX` for fencing).
pub(crate) fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// The epoch after `epoch` (0 after -1).
fn bump(epoch: i16) -> i16 {
    epoch.saturating_add(1).max(0)
}

#[cfg(test)]
#[path = "ids_tests.rs"]
mod tests;
