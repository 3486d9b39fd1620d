//! The consumer protocol's member data: a member's [`Subscription`] (its JoinGroup metadata)
//! and [`Assignment`] (its SyncGroup assignment), as Java and librdkafka consumers write them.
//! The consumer writes and reads them to form groups; the admin client reads them to describe
//! groups' members.
//!
//! Each blob is a big-endian `int16` version followed by the `ConsumerProtocolSubscription`
//! or `ConsumerProtocolAssignment` message at that version. A version newer than the codec
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

use crate::TopicPartition;

/// The protocol type of consumer groups in JoinGroup.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// What a member subscribes to, as sent in JoinGroup and seen by the group leader's assignor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Subscription {
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

/// What a member was assigned, as sent in SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Assignment {
    /// The version it was written at.
    pub version: i16,
    /// The partitions assigned.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

impl Subscription {
    /// A subscription to `topics` at the newest version.
    pub fn new<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        Self {
            version: ConsumerProtocolSubscription::VERSIONS.max,
            topics: topics.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

impl Assignment {
    /// An assignment of `partitions` at the newest version.
    pub fn new(partitions: impl IntoIterator<Item = TopicPartition>) -> Self {
        Self {
            version: ConsumerProtocolAssignment::VERSIONS.max,
            partitions: partitions.into_iter().collect(),
            user_data: None,
        }
    }
}

/// Member data that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

fn split_version<M: Message>(data: &Bytes) -> Result<(i16, i16, Bytes), ProtocolError> {
    if data.len() < 2 {
        return Err(ProtocolError(format!(
            "{} of {} bytes has no version",
            M::NAME,
            data.len()
        )));
    }
    let version = i16::from_be_bytes([data[0], data[1]]);
    if version < 0 {
        return Err(ProtocolError(format!(
            "{} has negative version {version}",
            M::NAME
        )));
    }
    Ok((version, version.min(M::VERSIONS.max), data.slice(2..)))
}

/// Decodes `M` at `read_at`, allowing trailing bytes only when the data is newer than the
/// schema (its extra fields).
fn decode<M: Message>(body: &Bytes, version: i16, read_at: i16) -> Result<M, ProtocolError> {
    let bad = |e: kafka_protocol::DecodeError| {
        ProtocolError(format!("{} v{version} does not decode: {e}", M::NAME))
    };
    if version > read_at {
        match M::decode(body, body, read_at) {
            Ok((_, m)) => Ok(m),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(bad(e)),
            Err(nom::Err::Incomplete(_)) => Err(ProtocolError(format!("{} is cut short", M::NAME))),
        }
    } else {
        M::decode_from(body, read_at).map_err(bad)
    }
}

fn flatten(topic: &KStr, partitions: &[i32]) -> impl Iterator<Item = TopicPartition> {
    partitions
        .iter()
        .map(move |&p| TopicPartition::new(topic.as_str(), p))
}

/// Decodes a member's subscription.
pub fn decode_subscription(data: &Bytes) -> Result<Subscription, ProtocolError> {
    let (version, read_at, body) = split_version::<ConsumerProtocolSubscription>(data)?;
    let s: ConsumerProtocolSubscription = decode(&body, version, read_at)?;
    Ok(Subscription {
        version,
        topics: s.topics.iter().map(|t| t.to_string()).collect(),
        user_data: s.user_data,
        owned_partitions: s
            .owned_partitions
            .iter()
            .flat_map(|tp| flatten(&tp.topic, &tp.partitions))
            .collect(),
        // -1 is the schema's "no generation".
        generation_id: (read_at >= 2 && s.generation_id >= 0).then_some(s.generation_id),
        rack_id: s.rack_id.map(|r| r.to_string()).filter(|r| !r.is_empty()),
    })
}

/// Decodes a member's assignment. Empty data (a member the leader gave nothing, as some
/// clients send it) is an empty assignment.
pub fn decode_assignment(data: &Bytes) -> Result<Assignment, ProtocolError> {
    if data.is_empty() {
        return Ok(Assignment::new([]));
    }
    let (version, read_at, body) = split_version::<ConsumerProtocolAssignment>(data)?;
    let a: ConsumerProtocolAssignment = decode(&body, version, read_at)?;
    Ok(Assignment {
        version,
        partitions: a
            .assigned_partitions
            .iter()
            .flat_map(|tp| flatten(&tp.topic, &tp.partitions))
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

fn with_version<M: Encode>(version: i16, message: &M) -> Bytes {
    // Every field of these messages exists at every version we write (we only write the
    // fields a version has), so encoding cannot fail; fall back to an empty body anyway.
    let body = message.encode_to_bytes(version).unwrap_or_default();
    let mut buf = BytesMut::with_capacity(2 + body.len());
    buf.put_i16(version);
    buf.put_slice(&body);
    buf.freeze()
}

/// Encodes a subscription at `s.version`.
pub fn encode_subscription(s: &Subscription) -> Bytes {
    let v = s
        .version
        .clamp(0, ConsumerProtocolSubscription::VERSIONS.max);
    let message = ConsumerProtocolSubscription {
        topics: s.topics.iter().map(|t| KStr::from(t.as_str())).collect(),
        user_data: s.user_data.clone(),
        owned_partitions: if v >= 1 {
            nest(&s.owned_partitions)
                .into_iter()
                .map(|(topic, partitions)| subscription::TopicPartition { topic, partitions })
                .collect()
        } else {
            Vec::new()
        },
        generation_id: if v >= 2 {
            s.generation_id.unwrap_or(-1)
        } else {
            -1
        },
        rack_id: if v >= 3 {
            s.rack_id.as_deref().map(KStr::from)
        } else {
            None
        },
    };
    with_version(v, &message)
}

/// Encodes an assignment at `a.version`.
pub fn encode_assignment(a: &Assignment) -> Bytes {
    let v = a.version.clamp(0, ConsumerProtocolAssignment::VERSIONS.max);
    let message = ConsumerProtocolAssignment {
        assigned_partitions: nest(&a.partitions)
            .into_iter()
            .map(|(topic, partitions)| assignment::TopicPartition { topic, partitions })
            .collect(),
        user_data: a.user_data.clone(),
    };
    with_version(v, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_version() {
        for v in 0..=3 {
            let mut s = Subscription::new(["a", "b"]);
            s.version = v;
            s.user_data = Some(Bytes::from_static(b"ud"));
            if v >= 1 {
                s.owned_partitions = vec![TopicPartition::new("a", 0), TopicPartition::new("a", 2)];
            }
            if v >= 2 {
                s.generation_id = Some(4);
            }
            if v >= 3 {
                s.rack_id = Some("r1".into());
            }
            let bytes = encode_subscription(&s);
            assert_eq!(&bytes[..2], &v.to_be_bytes());
            assert_eq!(decode_subscription(&bytes).unwrap(), s);
        }
        let a = Assignment::new([TopicPartition::new("a", 1), TopicPartition::new("b", 0)]);
        assert_eq!(decode_assignment(&encode_assignment(&a)).unwrap(), a);
        assert!(
            decode_assignment(&Bytes::new())
                .unwrap()
                .partitions
                .is_empty()
        );
    }

    #[test]
    fn future_versions_and_garbage() {
        let a = Assignment::new([TopicPartition::new("t", 0)]);
        let mut future = BytesMut::from(&encode_assignment(&a)[..]);
        future[..2].copy_from_slice(&9i16.to_be_bytes());
        future.put_slice(&[1, 2, 3]);
        let got = decode_assignment(&future.freeze()).unwrap();
        assert_eq!((got.version, got.partitions.len()), (9, 1));
        assert!(decode_assignment(&Bytes::from_static(&[0])).is_err());
        assert!(decode_subscription(&Bytes::from_static(&[0xff, 0xff])).is_err());
        assert!(decode_subscription(&Bytes::from_static(&[0, 0, 0, 9])).is_err());
        assert!(decode_assignment(&Bytes::from_static(&[0xff, 0xff])).is_err());
        // Trailing bytes after a known version are corruption, not news.
        let mut extra = BytesMut::from(&encode_assignment(&a)[..]);
        extra.put_u8(0);
        assert!(decode_assignment(&extra.freeze()).is_err());
    }

    #[test]
    fn fields_absent_at_a_version_are_not_written() {
        let mut s = Subscription::new(["t"]);
        s.version = 0;
        s.owned_partitions = vec![TopicPartition::new("t", 0)];
        s.generation_id = Some(7);
        s.rack_id = Some("r".into());
        let got = decode_subscription(&encode_subscription(&s)).unwrap();
        assert_eq!(got.topics, ["t"]);
        assert!(got.owned_partitions.is_empty());
        assert_eq!((got.generation_id, got.rack_id), (None, None));
    }

    /// Bytes a Java 3.x consumer sends for `subscribe(["t"])` with the range assignor:
    /// version 3, one topic, null user data, no owned partitions, generation -1, null rack.
    #[test]
    fn decodes_java_bytes() {
        let java = Bytes::from_static(&[
            0, 3, // version
            0, 0, 0, 1, 0, 1, b't', // topics
            0xff, 0xff, 0xff, 0xff, // user data: null
            0, 0, 0, 0, // owned partitions
            0xff, 0xff, 0xff, 0xff, // generation -1
            0xff, 0xff, // rack: null
        ]);
        let s = decode_subscription(&java).unwrap();
        assert_eq!(s.topics, ["t"]);
        assert_eq!(s.generation_id, None);
        assert_eq!(encode_subscription(&s), java);
    }
}
