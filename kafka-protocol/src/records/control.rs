//! Control records: the records of control batches, chiefly the transaction markers a
//! transaction coordinator has partition leaders write (commit or abort).
//!
//! A control record's key is a version (i16, 0) and a type (i16); an end-transaction
//! marker's value is a version (i16, 0) and the coordinator epoch (i32). Newer versions may
//! append fields, so longer keys and values are accepted and the extra bytes ignored, as
//! Java does.

use bytes::Bytes;

use super::{BatchOptions, Record, RecordBatchBuilder};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};

/// The kind of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Transaction aborted (0).
    Abort,
    /// Transaction committed (1).
    Commit,
    /// KRaft leader change (2).
    LeaderChange,
    /// KRaft snapshot header (3).
    SnapshotHeader,
    /// KRaft snapshot footer (4).
    SnapshotFooter,
    /// KRaft version (5).
    KRaftVersion,
    /// KRaft voters (6).
    KRaftVoters,
    /// A type this codec does not know.
    Unknown(i16),
}

impl ControlRecordType {
    /// The type id on the wire.
    pub const fn id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::LeaderChange => 2,
            Self::SnapshotHeader => 3,
            Self::SnapshotFooter => 4,
            Self::KRaftVersion => 5,
            Self::KRaftVoters => 6,
            Self::Unknown(id) => id,
        }
    }

    /// The type with this id.
    pub const fn from_id(id: i16) -> Self {
        match id {
            0 => Self::Abort,
            1 => Self::Commit,
            2 => Self::LeaderChange,
            3 => Self::SnapshotHeader,
            4 => Self::SnapshotFooter,
            5 => Self::KRaftVersion,
            6 => Self::KRaftVoters,
            id => Self::Unknown(id),
        }
    }
}

fn too_short(b: &[u8], field: &'static str) -> DecodeError {
    DecodeError::at(b, DecodeErrorKind::UnexpectedEof).in_field("ControlRecord", field)
}

/// The key of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecordKey {
    /// Key schema version (0).
    pub version: i16,
    /// What the record is.
    pub kind: ControlRecordType,
}

impl ControlRecordKey {
    /// Current key version.
    pub const CURRENT_VERSION: i16 = 0;

    /// A current-version key of `kind`.
    pub const fn new(kind: ControlRecordType) -> Self {
        Self {
            version: Self::CURRENT_VERSION,
            kind,
        }
    }

    /// Parses a key; at least 4 bytes, version not negative.
    pub fn parse(key: &[u8]) -> Result<Self, DecodeError> {
        let (version, rest) = key
            .split_first_chunk::<2>()
            .ok_or_else(|| too_short(key, "version"))?;
        let version = i16::from_be_bytes(*version);
        if version < 0 {
            return Err(DecodeError::at(
                key,
                DecodeErrorKind::InvalidValue("negative control record key version"),
            )
            .in_field("ControlRecord", "version"));
        }
        let (kind, _) = rest
            .split_first_chunk::<2>()
            .ok_or_else(|| too_short(rest, "type"))?;
        Ok(Self {
            version,
            kind: ControlRecordType::from_id(i16::from_be_bytes(*kind)),
        })
    }

    /// Parses the key of a record from a control batch.
    pub fn from_record(record: &Record) -> Result<Self, DecodeError> {
        match &record.key {
            Some(k) => Self::parse(k),
            None => Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "control record without a key",
            ))
            .in_field("ControlRecord", "key")),
        }
    }

    /// The key on the wire.
    pub fn to_bytes(&self) -> [u8; 4] {
        let [a, b] = self.version.to_be_bytes();
        let [c, d] = self.kind.id().to_be_bytes();
        [a, b, c, d]
    }
}

/// The value of an end-transaction (commit or abort) control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// Value schema version (0).
    pub version: i16,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// Current value version.
    pub const CURRENT_VERSION: i16 = 0;

    /// A current-version marker value.
    pub const fn new(coordinator_epoch: i32) -> Self {
        Self {
            version: Self::CURRENT_VERSION,
            coordinator_epoch,
        }
    }

    /// Parses a marker value; at least 6 bytes, version not negative.
    pub fn parse(value: &[u8]) -> Result<Self, DecodeError> {
        let (version, rest) = value
            .split_first_chunk::<2>()
            .ok_or_else(|| too_short(value, "version"))?;
        let version = i16::from_be_bytes(*version);
        if version < 0 {
            return Err(DecodeError::at(
                value,
                DecodeErrorKind::InvalidValue("negative end transaction marker version"),
            )
            .in_field("EndTxnMarker", "version"));
        }
        let (epoch, _) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| too_short(rest, "coordinatorEpoch"))?;
        Ok(Self {
            version,
            coordinator_epoch: i32::from_be_bytes(*epoch),
        })
    }

    /// Parses the value of a commit or abort record.
    pub fn from_record(record: &Record) -> Result<Self, DecodeError> {
        match &record.value {
            Some(v) => Self::parse(v),
            None => Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "end transaction marker without a value",
            ))
            .in_field("EndTxnMarker", "value")),
        }
    }

    /// The value on the wire.
    pub fn to_bytes(&self) -> [u8; 6] {
        let mut out = [0u8; 6];
        let (v, e) = out.split_at_mut(2);
        v.copy_from_slice(&self.version.to_be_bytes());
        e.copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        out
    }
}

/// Builds a control batch holding one end-transaction marker, as a partition leader writes
/// it when the coordinator ends a transaction. `options` supplies offset, producer id and
/// epoch and leader epoch; the batch is always transactional, control and uncompressed.
pub fn end_txn_marker_batch(
    options: BatchOptions,
    timestamp: i64,
    commit: bool,
    coordinator_epoch: i32,
) -> Result<Bytes, EncodeError> {
    let kind = if commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    let mut b = RecordBatchBuilder::with_capacity(
        BatchOptions {
            transactional: true,
            control: true,
            compression: crate::compression::Compression::None,
            ..options
        },
        80,
    );
    b.append(
        timestamp,
        Some(&ControlRecordKey::new(kind).to_bytes()),
        Some(&EndTxnMarker::new(coordinator_epoch).to_bytes()),
        &[],
    )?;
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RecordSetReader;

    #[test]
    fn marker_batches_round_trip() {
        for commit in [true, false] {
            let opts = BatchOptions {
                base_offset: 42,
                producer_id: 9,
                producer_epoch: 1,
                ..Default::default()
            };
            let bytes = end_txn_marker_batch(opts, 1234, commit, 17).unwrap();
            let batch = RecordSetReader::new(bytes).next().unwrap().unwrap();
            assert!(batch.is_control() && batch.is_transactional());
            assert_eq!(batch.producer_id(), 9);
            let records: Vec<_> = batch.records().map(Result::unwrap).collect();
            assert_eq!(records.len(), 1);
            assert_eq!(records[0].offset, 42);
            let key = ControlRecordKey::from_record(&records[0]).unwrap();
            let want = if commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            };
            assert_eq!(key, ControlRecordKey::new(want));
            assert_eq!(
                EndTxnMarker::from_record(&records[0]).unwrap(),
                EndTxnMarker::new(17)
            );
        }
    }

    #[test]
    fn short_or_bad_keys_and_values_are_refused() {
        for n in 0..4 {
            assert!(ControlRecordKey::parse(&[0, 0, 0, 1][..n]).is_err());
        }
        assert!(ControlRecordKey::parse(&[0xff, 0xff, 0, 1]).is_err());
        // Longer (newer) keys keep their known prefix.
        let k = ControlRecordKey::parse(&[0, 1, 0, 9, 7, 7]).unwrap();
        assert_eq!((k.version, k.kind), (1, ControlRecordType::Unknown(9)));
        for n in 0..6 {
            assert!(EndTxnMarker::parse(&[0, 0, 0, 0, 0, 5][..n]).is_err());
        }
        assert_eq!(
            EndTxnMarker::parse(&[0, 0, 0, 0, 0, 5, 1])
                .unwrap()
                .coordinator_epoch,
            5
        );
        assert!(ControlRecordKey::from_record(&Record::default()).is_err());
        assert!(EndTxnMarker::from_record(&Record::default()).is_err());
        for id in -1..8 {
            assert_eq!(ControlRecordType::from_id(id).id(), id);
        }
    }
}
