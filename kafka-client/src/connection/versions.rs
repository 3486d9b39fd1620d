//! API version negotiation: which version of each API to use with a given broker.
//!
//! The broker advertises a range per API in its ApiVersions response ([`BrokerVersions`]); the
//! client knows the range its code implements ([`VersionCaps`], by default every version the
//! codec was generated for, minus versions Kafka marks unstable). The version used is the
//! highest both sides know; when the ranges do not meet, the request fails before it is sent
//! with [`ErrorKind::UnsupportedVersion`] naming both ranges.

use std::collections::HashMap;

use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::{ApiKey, VersionRange};

use crate::error::{Error, ErrorKind};

/// The versions of each API this client is willing to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCaps {
    ranges: HashMap<ApiKey, VersionRange>,
}

impl Default for VersionCaps {
    fn default() -> Self {
        Self::codec()
    }
}

impl VersionCaps {
    /// Every version the codec implements, except:
    /// - the newest version of an API whose spec marks it unstable (a broker advertises those
    ///   only when told to, and their layout may still change);
    /// - Metadata v0, where an empty topic list means "all topics" rather than "none", which
    ///   would turn a brokers-only refresh into a full one;
    /// - SaslHandshake v0, which switches to unframed SASL tokens this client does not speak.
    pub fn codec() -> Self {
        let mut ranges = HashMap::new();
        for &api in ApiKey::ALL {
            let mut r = api.versions();
            if api.latest_version_unstable() && r.max > r.min {
                r.max -= 1;
            }
            ranges.insert(api, r);
        }
        let mut caps = Self { ranges };
        caps.raise_min(ApiKey::Metadata, 1);
        caps.raise_min(ApiKey::SaslHandshake, 1);
        caps
    }

    fn raise_min(&mut self, api: ApiKey, min: i16) {
        if let Some(r) = self.ranges.get_mut(&api) {
            r.min = r.min.max(min).min(r.max);
        }
    }

    /// Limits `api` to `range` (intersected with what the codec implements); a range that does
    /// not meet the codec's disables the API.
    pub fn cap(mut self, api: ApiKey, range: VersionRange) -> Self {
        match self.ranges.get(&api).and_then(|r| r.intersect(&range)) {
            Some(r) => {
                self.ranges.insert(api, r);
            }
            None => {
                self.ranges.remove(&api);
            }
        }
        self
    }

    /// Never sends `api`.
    pub fn disable(mut self, api: ApiKey) -> Self {
        self.ranges.remove(&api);
        self
    }

    /// The range this client sends for `api`, `None` when disabled.
    pub fn get(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&api).copied()
    }
}

/// The version ranges a broker advertised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    ranges: HashMap<i16, VersionRange>,
}

impl BrokerVersions {
    /// Reads an ApiVersions response's `api_keys` (unknown keys are kept by number).
    pub fn from_response(resp: &ApiVersionsResponse) -> Self {
        Self {
            ranges: resp
                .api_keys
                .iter()
                .map(|k| {
                    (
                        k.api_key,
                        VersionRange {
                            min: k.min_version,
                            max: k.max_version,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Builds from explicit ranges (tests, or a broker known in advance).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (ApiKey, VersionRange)>) -> Self {
        Self {
            ranges: ranges.into_iter().map(|(k, r)| (k.key(), r)).collect(),
        }
    }

    /// What the broker advertised for `api`.
    pub fn get(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&api.key()).copied()
    }

    /// The highest version both the broker and `caps` know.
    pub fn negotiate(&self, api: ApiKey, caps: &VersionCaps) -> Result<i16, Error> {
        let broker = self.get(api);
        let client = caps.get(api);
        match (broker, client) {
            (Some(b), Some(c)) => match b.intersect(&c) {
                Some(r) => Ok(r.max),
                None => Err(unsupported(api, broker, c)),
            },
            (_, c) => Err(unsupported(
                api,
                broker,
                c.unwrap_or(VersionRange { min: 0, max: -1 }),
            )),
        }
    }

    /// How many APIs the broker advertised.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker advertised nothing.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

fn unsupported(api: ApiKey, broker: Option<VersionRange>, client: VersionRange) -> Error {
    Error::new(ErrorKind::UnsupportedVersion {
        api,
        broker_range: broker,
        client_range: client,
    })
    .with_api(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn picks_the_highest_common_version() {
        let broker =
            BrokerVersions::from_ranges([(ApiKey::Metadata, r(0, 9)), (ApiKey::Fetch, r(4, 30))]);
        let caps = VersionCaps::codec();
        assert_eq!(broker.negotiate(ApiKey::Metadata, &caps).unwrap(), 9);
        assert_eq!(
            broker.negotiate(ApiKey::Fetch, &caps).unwrap(),
            ApiKey::Fetch.versions().max
        );
        let capped = caps.cap(ApiKey::Fetch, r(4, 11));
        assert_eq!(broker.negotiate(ApiKey::Fetch, &capped).unwrap(), 11);
    }

    #[test]
    fn disjoint_or_missing_ranges_name_both_sides() {
        let broker = BrokerVersions::from_ranges([(ApiKey::Produce, r(3, 11))]);
        let caps = VersionCaps::codec().cap(ApiKey::Produce, r(0, 2));
        let e = broker.negotiate(ApiKey::Produce, &caps).unwrap_err();
        match e.kind() {
            ErrorKind::UnsupportedVersion {
                api,
                broker_range,
                client_range,
            } => {
                assert_eq!(*api, ApiKey::Produce);
                assert_eq!(*broker_range, Some(r(3, 11)));
                assert_eq!(*client_range, r(0, 2));
            }
            other => panic!("{other:?}"),
        }
        let e = broker
            .negotiate(ApiKey::Fetch, &VersionCaps::codec())
            .unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::UnsupportedVersion {
                broker_range: None,
                ..
            }
        ));
        let disabled = VersionCaps::codec().disable(ApiKey::Produce);
        assert!(broker.negotiate(ApiKey::Produce, &disabled).is_err());
    }

    #[test]
    fn codec_caps_skip_unstable_and_unsafe_versions() {
        let caps = VersionCaps::codec();
        for &api in ApiKey::ALL {
            let full = api.versions();
            let got = caps.get(api).unwrap();
            if api.latest_version_unstable() && full.max > full.min {
                assert_eq!(got.max, full.max - 1, "{api:?}");
            }
        }
        assert_eq!(caps.get(ApiKey::Metadata).unwrap().min, 1);
        assert_eq!(caps.get(ApiKey::SaslHandshake).unwrap().min, 1);
    }
}
