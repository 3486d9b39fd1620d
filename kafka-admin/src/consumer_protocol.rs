//! The consumer protocol's member data: what a consumer group member subscribes to and what
//! it was assigned, as carried opaquely by JoinGroup, SyncGroup and DescribeGroups.
//!
//! Each blob is a big-endian `int16` version followed by the `ConsumerProtocolSubscription`
//! or `ConsumerProtocolAssignment` message at that version. A version newer than this codec
//! knows is read with the newest schema it knows, ignoring what follows, as Kafka's clients
//! do: newer versions only append fields.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::{
    self as assignment, ConsumerProtocolAssignment,
};
use kafka_protocol::messages::consumer_protocol_subscription::{
    self as subscription, ConsumerProtocolSubscription,
};
use kafka_protocol::{Encode, KStr, Message};

use crate::{AdminError, TopicPartition};

/// What a member subscribes to (its JoinGroup metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberSubscription {
    /// The version it was written at.
    pub version: i16,
    /// The topics subscribed to.
    pub topics: Vec<String>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
    /// The partitions the member owned when it joined (v1+, cooperative rebalancing).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation it last joined (v2+).
    pub generation_id: Option<i32>,
    /// Its rack (v3+).
    pub rack_id: Option<String>,
}

/// What a member was assigned (its SyncGroup assignment).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberAssignment {
    /// The version it was written at.
    pub version: i16,
    /// The partitions assigned.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

/// Splits the version prefix off and picks the schema version to read the rest with.
fn split_version<M: Message>(data: &Bytes) -> Result<(i16, i16, Bytes), AdminError> {
    if data.len() < 2 {
        return Err(AdminError::Protocol(format!(
            "{} of {} bytes has no version",
            M::NAME,
            data.len()
        )));
    }
    let version = i16::from_be_bytes([data[0], data[1]]);
    if version < 0 {
        return Err(AdminError::Protocol(format!(
            "{} has negative version {version}",
            M::NAME
        )));
    }
    Ok((version, version.min(M::VERSIONS.max), data.slice(2..)))
}

/// Decodes `M` at `read_at`, allowing trailing bytes only when the data is newer than the
/// schema (its extra fields).
fn decode<M: Message>(body: &Bytes, version: i16, read_at: i16) -> Result<M, AdminError> {
    let bad = |e: kafka_protocol::DecodeError| {
        AdminError::Protocol(format!("{} v{version} does not decode: {e}", M::NAME))
    };
    if version > read_at {
        M::decode(body, body, read_at)
            .map(|(_, m)| m)
            .map_err(|e| match e {
                nom::Err::Error(e) | nom::Err::Failure(e) => bad(e),
                nom::Err::Incomplete(_) => {
                    AdminError::Protocol(format!("{} is cut short", M::NAME))
                }
            })
    } else {
        M::decode_from(body, read_at).map_err(bad)
    }
}

fn partitions(topic: &KStr, partitions: &[i32]) -> impl Iterator<Item = TopicPartition> {
    partitions
        .iter()
        .map(move |&p| TopicPartition::new(topic.as_str(), p))
}

/// Decodes a member's subscription (JoinGroup metadata of protocol type "consumer").
pub fn decode_subscription(data: &Bytes) -> Result<MemberSubscription, AdminError> {
    let (version, read_at, body) = split_version::<ConsumerProtocolSubscription>(data)?;
    let s: ConsumerProtocolSubscription = decode(&body, version, read_at)?;
    Ok(MemberSubscription {
        version,
        topics: s.topics.iter().map(|t| t.to_string()).collect(),
        user_data: s.user_data,
        owned_partitions: s
            .owned_partitions
            .iter()
            .flat_map(|tp| partitions(&tp.topic, &tp.partitions))
            .collect(),
        // -1 is the schema's "no generation".
        generation_id: (read_at >= 2 && s.generation_id >= 0).then_some(s.generation_id),
        rack_id: s.rack_id.map(|r| r.to_string()),
    })
}

/// Decodes a member's assignment (SyncGroup assignment of protocol type "consumer").
pub fn decode_assignment(data: &Bytes) -> Result<MemberAssignment, AdminError> {
    let (version, read_at, body) = split_version::<ConsumerProtocolAssignment>(data)?;
    let a: ConsumerProtocolAssignment = decode(&body, version, read_at)?;
    Ok(MemberAssignment {
        version,
        partitions: a
            .assigned_partitions
            .iter()
            .flat_map(|tp| partitions(&tp.topic, &tp.partitions))
            .collect(),
        user_data: a.user_data,
    })
}

/// Groups partitions by topic, in order of first appearance.
fn nest(tps: &[TopicPartition]) -> Vec<(KStr, Vec<i32>)> {
    let mut out: Vec<(KStr, Vec<i32>)> = Vec::new();
    for tp in tps {
        match out.iter_mut().find(|(t, _)| t.as_str() == tp.topic) {
            Some((_, ps)) => ps.push(tp.partition),
            None => out.push((tp.topic.as_str().into(), vec![tp.partition])),
        }
    }
    out
}

fn with_version<M: Encode>(version: i16, message: &M) -> Result<Bytes, AdminError> {
    let body = message
        .encode_to_bytes(version)
        .map_err(|e| AdminError::InvalidArgument(e.to_string()))?;
    let mut buf = BytesMut::with_capacity(2 + body.len());
    buf.put_i16(version);
    buf.put_slice(&body);
    Ok(buf.freeze())
}

/// Encodes a subscription at `subscription.version` (as a consumer joining a group sends it).
pub fn encode_subscription(s: &MemberSubscription) -> Result<Bytes, AdminError> {
    let message = ConsumerProtocolSubscription {
        topics: s.topics.iter().map(|t| KStr::from(t.as_str())).collect(),
        user_data: s.user_data.clone(),
        owned_partitions: nest(&s.owned_partitions)
            .into_iter()
            .map(|(topic, partitions)| subscription::TopicPartition { topic, partitions })
            .collect(),
        generation_id: s.generation_id.unwrap_or(-1),
        rack_id: s.rack_id.as_deref().map(KStr::from),
    };
    with_version(s.version, &message)
}

/// Encodes an assignment at `assignment.version` (as a group leader sends it).
pub fn encode_assignment(a: &MemberAssignment) -> Result<Bytes, AdminError> {
    let message = ConsumerProtocolAssignment {
        assigned_partitions: nest(&a.partitions)
            .into_iter()
            .map(|(topic, partitions)| assignment::TopicPartition { topic, partitions })
            .collect(),
        user_data: a.user_data.clone(),
    };
    with_version(a.version, &message)
}

impl MemberSubscription {
    /// A subscription to `topics` at the newest version, with nothing else set.
    pub fn new<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        Self {
            version: ConsumerProtocolSubscription::VERSIONS.max,
            topics: topics.into_iter().map(Into::into).collect(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: None,
            rack_id: None,
        }
    }
}

impl MemberAssignment {
    /// An assignment of `partitions` at the newest version.
    pub fn new(partitions: impl IntoIterator<Item = TopicPartition>) -> Self {
        Self {
            version: ConsumerProtocolAssignment::VERSIONS.max,
            partitions: partitions.into_iter().collect(),
            user_data: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut s = MemberSubscription::new(["a", "b"]);
        s.owned_partitions = vec![TopicPartition::new("a", 0), TopicPartition::new("a", 2)];
        s.generation_id = Some(4);
        s.rack_id = Some("r1".into());
        let bytes = encode_subscription(&s).unwrap();
        assert_eq!(&bytes[..2], &3i16.to_be_bytes());
        assert_eq!(decode_subscription(&bytes).unwrap(), s);

        let a = MemberAssignment::new([TopicPartition::new("a", 1), TopicPartition::new("b", 0)]);
        assert_eq!(
            decode_assignment(&encode_assignment(&a).unwrap()).unwrap(),
            a
        );
    }

    #[test]
    fn old_and_future_versions() {
        let mut v0 = MemberSubscription::new(["t"]);
        v0.version = 0;
        let got = decode_subscription(&encode_subscription(&v0).unwrap()).unwrap();
        assert_eq!(got.topics, ["t"]);
        assert_eq!(got.generation_id, None);

        // A v9 assignment: the v3 layout followed by fields this codec does not know.
        let a = MemberAssignment::new([TopicPartition::new("t", 0)]);
        let mut future = BytesMut::from(&encode_assignment(&a).unwrap()[..]);
        future[..2].copy_from_slice(&9i16.to_be_bytes());
        future.put_slice(&[1, 2, 3]);
        let got = decode_assignment(&future.freeze()).unwrap();
        assert_eq!((got.version, got.partitions.len()), (9, 1));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_assignment(&Bytes::from_static(&[0])).is_err());
        assert!(decode_assignment(&Bytes::from_static(&[0xff, 0xff])).is_err());
        assert!(decode_subscription(&Bytes::from_static(&[0, 0, 0, 9])).is_err());
        // Trailing bytes after a known version are corruption, not news.
        let a = MemberAssignment::new([TopicPartition::new("t", 0)]);
        let mut extra = BytesMut::from(&encode_assignment(&a).unwrap()[..]);
        extra.put_u8(0);
        assert!(decode_assignment(&extra.freeze()).is_err());
    }
}
