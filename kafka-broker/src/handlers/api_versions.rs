//! ApiVersions (key 18), versions 0-4.
//!
//! Answers with [`SUPPORTED_APIS`](super::SUPPORTED_APIS), exactly the versions the broker
//! serves. From v3 the client's software name and version must match Kafka's pattern
//! (`[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`), else INVALID_REQUEST with no API list.
//! A request at a version the broker does not know is answered (by the dispatcher) with
//! UNSUPPORTED_VERSION encoded as v0, listing only ApiVersions' own range, as Kafka does.
//! No features are advertised: there is no KRaft feature state to report.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

use super::SUPPORTED_APIS;

pub(crate) fn handle(req: &ApiVersionsRequest, version: i16) -> ApiVersionsResponse {
    if version >= 3
        && !(valid_software(&req.client_software_name)
            && valid_software(&req.client_software_version))
    {
        return ApiVersionsResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            ..Default::default()
        };
    }
    ApiVersionsResponse {
        api_keys: SUPPORTED_APIS
            .iter()
            .map(|(api, range)| ApiVersion {
                api_key: api.key(),
                min_version: range.min,
                max_version: range.max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The v0 answer to an ApiVersions version the broker does not know.
pub(crate) fn unsupported_version() -> ApiVersionsResponse {
    let range = super::supported(ApiKey::ApiVersions).unwrap_or(ApiKey::ApiVersions.versions());
    ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: vec![ApiVersion {
            api_key: ApiKey::ApiVersions.key(),
            min_version: range.min,
            max_version: range.max,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Kafka's `ApiVersionsRequest.isValid` pattern for client software names and versions.
fn valid_software(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_alphanumeric();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            edge(first)
                && edge(last)
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_names_follow_kafkas_pattern() {
        for ok in ["a", "librdkafka", "apache-kafka-java", "3.9.0", "2.0.2-RC1"] {
            assert!(valid_software(ok), "{ok}");
        }
        for bad in ["", "-a", "a.", "a b", "a_b"] {
            assert!(!valid_software(bad), "{bad}");
        }
    }
}
