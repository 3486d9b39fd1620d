//! `--as-version`: advertise the API versions of an older Kafka release.
//!
//! With a release set, ApiVersions lists each served API with its maximum capped at what
//! that release's brokers advertise, and drops APIs the release does not have; requests
//! above the cap are refused the way that release would refuse them (the connection is
//! closed). Minimum versions stay this broker's (it does not serve the oldest versions of
//! some APIs that old releases still did). Clients negotiate down, so this checks how they
//! behave against an older cluster.
//!
//! Source of the numbers: the ZooKeeper-mode broker tables (`z28`, `z30`, `z35`, `z37`,
//! `z39`) of franz-go's `pkg/kversion/requests.go`, which derives each release's maximum
//! versions from the Kafka commits that bumped them (each bump annotated with its KAFKA
//! ticket and KIP); checked against the version notes in Kafka's message specs. Only the
//! APIs this broker serves are listed.

use kafka_protocol::VersionRange;
use kafka_protocol::messages::ApiKey;

/// A Kafka release whose API versions the brokers can advertise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KafkaRelease {
    /// Apache Kafka 2.8.
    V2_8,
    /// Apache Kafka 3.0.
    V3_0,
    /// Apache Kafka 3.5.
    V3_5,
    /// Apache Kafka 3.7.
    V3_7,
    /// Apache Kafka 3.9.
    V3_9,
}

/// Every release known, oldest first.
pub const RELEASES: &[KafkaRelease] = &[
    KafkaRelease::V2_8,
    KafkaRelease::V3_0,
    KafkaRelease::V3_5,
    KafkaRelease::V3_7,
    KafkaRelease::V3_9,
];

/// Maximum versions of the served APIs, per release: (API, 2.8, 3.0, 3.5, 3.7, 3.9); -1 where
/// the release does not have the API.
const TABLE: &[(ApiKey, [i16; 5])] = &[
    (ApiKey::Produce, [9, 9, 9, 10, 11]),
    (ApiKey::Fetch, [12, 12, 15, 16, 17]),
    (ApiKey::ListOffsets, [6, 7, 8, 8, 9]),
    (ApiKey::Metadata, [11, 11, 12, 12, 12]),
    (ApiKey::OffsetCommit, [8, 8, 8, 9, 9]),
    (ApiKey::OffsetFetch, [7, 8, 8, 9, 9]),
    (ApiKey::FindCoordinator, [3, 4, 4, 4, 6]),
    (ApiKey::JoinGroup, [7, 7, 9, 9, 9]),
    (ApiKey::Heartbeat, [4, 4, 4, 4, 4]),
    (ApiKey::LeaveGroup, [4, 4, 5, 5, 5]),
    (ApiKey::SyncGroup, [5, 5, 5, 5, 5]),
    (ApiKey::DescribeGroups, [5, 5, 5, 5, 5]),
    (ApiKey::ListGroups, [4, 4, 4, 4, 5]),
    (ApiKey::SaslHandshake, [1, 1, 1, 1, 1]),
    (ApiKey::ApiVersions, [3, 3, 3, 3, 4]),
    (ApiKey::CreateTopics, [7, 7, 7, 7, 7]),
    (ApiKey::DeleteTopics, [6, 6, 6, 6, 6]),
    (ApiKey::DeleteRecords, [2, 2, 2, 2, 2]),
    (ApiKey::InitProducerId, [4, 4, 4, 4, 5]),
    (ApiKey::DescribeConfigs, [4, 4, 4, 4, 4]),
    (ApiKey::AlterConfigs, [2, 2, 2, 2, 2]),
    (ApiKey::SaslAuthenticate, [2, 2, 2, 2, 2]),
    (ApiKey::CreatePartitions, [3, 3, 3, 3, 3]),
    (ApiKey::DeleteGroups, [2, 2, 2, 2, 2]),
    (ApiKey::IncrementalAlterConfigs, [1, 1, 1, 1, 1]),
    (ApiKey::OffsetDelete, [0, 0, 0, 0, 0]),
    (ApiKey::DescribeCluster, [0, 0, 0, 1, 1]),
];

impl KafkaRelease {
    /// Parses `2.8`, `3.0`, `3.5`, `3.7`, `3.9` (a patch number, `v` prefix and `.0` are
    /// accepted: `v3.9.1`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_start_matches('v');
        let mut parts = s.split('.');
        let major = parts.next()?;
        let minor = parts.next()?;
        if parts.clone().count() > 1 || parts.any(|p| p.parse::<u32>().is_err()) {
            return None;
        }
        RELEASES
            .iter()
            .copied()
            .find(|r| r.name() == format!("{major}.{minor}"))
    }

    /// The release's name, e.g. `3.5`.
    pub fn name(self) -> &'static str {
        match self {
            KafkaRelease::V2_8 => "2.8",
            KafkaRelease::V3_0 => "3.0",
            KafkaRelease::V3_5 => "3.5",
            KafkaRelease::V3_7 => "3.7",
            KafkaRelease::V3_9 => "3.9",
        }
    }

    fn column(self) -> usize {
        match self {
            KafkaRelease::V2_8 => 0,
            KafkaRelease::V3_0 => 1,
            KafkaRelease::V3_5 => 2,
            KafkaRelease::V3_7 => 3,
            KafkaRelease::V3_9 => 4,
        }
    }

    /// The release's maximum version of `api`; `None` if it does not have it (or this
    /// broker does not serve it).
    pub fn max_version(self, api: ApiKey) -> Option<i16> {
        TABLE
            .iter()
            .find(|(k, _)| *k == api)
            .map(|(_, v)| v[self.column()])
            .filter(|&v| v >= 0)
    }

    /// The versions of `api` to serve as this release: `served` capped at the release's
    /// maximum, `None` if nothing is left.
    pub fn cap(self, api: ApiKey, served: VersionRange) -> Option<VersionRange> {
        let max = self.max_version(api)?.min(served.max);
        (max >= served.min).then_some(VersionRange {
            min: served.min,
            max,
        })
    }
}

impl std::fmt::Display for KafkaRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::SUPPORTED_APIS;

    #[test]
    fn parses_names() {
        assert_eq!(KafkaRelease::parse("2.8"), Some(KafkaRelease::V2_8));
        assert_eq!(KafkaRelease::parse("v3.9.1"), Some(KafkaRelease::V3_9));
        assert_eq!(KafkaRelease::parse("3.5.0"), Some(KafkaRelease::V3_5));
        assert_eq!(KafkaRelease::parse("3.4"), None);
        assert_eq!(KafkaRelease::parse("3"), None);
        assert_eq!(KafkaRelease::parse("3.9.x"), None);
    }

    #[test]
    fn every_served_api_has_a_row_and_caps_never_raise() {
        for &(api, range) in SUPPORTED_APIS {
            for &r in RELEASES {
                let max = r.max_version(api).expect("a row for every served API");
                let capped = r
                    .cap(api, range)
                    .expect("every release serves some version");
                assert!(capped.max <= range.max && capped.max <= max, "{api:?} {r}");
            }
        }
        // Monotonic over releases.
        for (api, row) in TABLE {
            assert!(row.windows(2).all(|w| w[0] <= w[1]), "{api:?}");
        }
        assert_eq!(
            KafkaRelease::V2_8.cap(ApiKey::Fetch, VersionRange { min: 4, max: 17 }),
            Some(VersionRange { min: 4, max: 12 })
        );
    }
}
