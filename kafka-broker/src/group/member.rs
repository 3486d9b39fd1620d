//! One member of a classic group: who it is, the protocols it offers, its assignment, the
//! JoinGroup or SyncGroup request it has parked, and when its session expires.

use std::collections::BTreeSet;

use bytes::Bytes;
use kafka_protocol::Decode;
use kafka_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;

/// Identifies a parked JoinGroup or SyncGroup request, so its answer can be routed back to it
/// (the async driver maps tickets to the waiting requests).
pub(crate) type Ticket = u64;

/// A protocol a member offers (for consumers: an assignor name and the subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A member of a classic group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: i64,
    pub rebalance_timeout: i64,
    /// In the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// What the leader assigned it in the current generation (empty until then).
    pub assignment: Bytes,
    /// Its JoinGroup request waiting for the rebalance to complete.
    pub awaiting_join: Option<Ticket>,
    /// Its SyncGroup request waiting for the leader's assignment.
    pub awaiting_sync: Option<Ticket>,
    /// Added in the current rebalance and not yet answered: such a member cannot heartbeat,
    /// so it expires after [`NEW_MEMBER_JOIN_TIMEOUT`] instead of its session timeout.
    pub is_new: bool,
    /// When the member expires unless it heartbeats (or has a request parked).
    pub deadline: i64,
}

/// How long a new member's first JoinGroup may wait before the member is dropped (Kafka's
/// `NewMemberJoinTimeoutMs`): a client that disconnected during a long rebalance would
/// otherwise stay a member forever, since parked requests cannot notice the disconnect.
pub(crate) const NEW_MEMBER_JOIN_TIMEOUT: i64 = 5 * 60 * 1000;

impl Member {
    /// The metadata it gave for `protocol` (empty if it does not offer it).
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// Whether it offers `protocol`.
    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// Whether `protocols` is exactly what it offers (names, metadata and order): a rejoin
    /// with the same protocols does not force a rebalance.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// Its vote: the first protocol in its preference order that every member supports.
    pub fn vote<'a>(&'a self, candidates: &BTreeSet<&str>) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Restarts its session timer (a heartbeat, or an answered request).
    pub fn touch(&mut self, now: i64) {
        self.deadline = now.saturating_add(self.session_timeout);
    }
}

/// The topics a consumer-protocol member subscribes to, from its metadata for the chosen
/// protocol: a version (i16) and a `ConsumerProtocolSubscription`. Like Kafka it reads the
/// version-0 layout, which every later version extends, so future versions parse too.
/// `None` if the metadata does not parse.
pub(crate) fn subscribed_topics(metadata: &Bytes) -> Option<BTreeSet<String>> {
    let version = i16::from_be_bytes([*metadata.first()?, *metadata.get(1)?]);
    if version < 0 {
        return None;
    }
    let body = metadata.slice(2..);
    let (_, sub) = ConsumerProtocolSubscription::decode(&body, &body, 0).ok()?;
    Some(sub.topics.iter().map(|t| t.as_str().to_string()).collect())
}

/// A member id: the client id (or the static member's instance id), a dash and a random
/// UUID, as Kafka forms them.
pub(crate) fn new_member_id(prefix: &str) -> String {
    let u = crate::state::random_uuid().0;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{prefix}-{}-{}-{}-{}-{}",
        hex(&u[0..4]),
        hex(&u[4..6]),
        hex(&u[6..8]),
        hex(&u[8..10]),
        hex(&u[10..16])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::Encode;

    fn subscription(version: i16, topics: &[&str]) -> Bytes {
        let sub = ConsumerProtocolSubscription {
            topics: topics.iter().map(|t| (*t).into()).collect(),
            ..Default::default()
        };
        let mut out = version.to_be_bytes().to_vec();
        out.extend_from_slice(&sub.encode_to_bytes(version.clamp(0, 3)).unwrap());
        Bytes::from(out)
    }

    #[test]
    fn reads_subscriptions_of_every_version() {
        for v in 0..=3 {
            let topics = subscribed_topics(&subscription(v, &["a", "b"])).unwrap();
            assert_eq!(topics.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        }
        // A future version still starts with the v0 layout.
        assert!(subscribed_topics(&subscription(9, &["x"])).is_some());
        assert_eq!(subscribed_topics(&Bytes::from_static(b"\x00")), None);
        assert_eq!(
            subscribed_topics(&Bytes::from_static(b"\x00\x00\x00")),
            None
        );
        assert_eq!(subscribed_topics(&Bytes::from_static(b"\xff\xff")), None);
    }

    #[test]
    fn member_ids_look_like_kafkas() {
        let id = new_member_id("rdkafka");
        assert!(id.starts_with("rdkafka-"));
        assert_eq!(id.len(), "rdkafka-".len() + 36);
        assert_ne!(new_member_id("x"), new_member_id("x"));
    }
}
