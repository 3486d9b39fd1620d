//! The ApiVersions exchange that opens every connection.
//!
//! The client sends the newest ApiVersions it implements. A broker too old for that version
//! answers with a v0 body holding UNSUPPORTED_VERSION and the ranges it does support; the
//! client then parses that reply at v0 and retries at the broker's highest ApiVersions version
//! (or v0 when the list lacks it), as Kafka's own clients do.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::frame::decode_response;
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode, KStr};

use super::mux::Mux;
use super::versions::{BrokerVersions, VersionCaps};
use crate::error::{Error, ErrorKind};

/// KIP-511 software name and version, sent from ApiVersions v3 on.
#[derive(Debug, Clone)]
pub(crate) struct SoftwareInfo {
    pub name: String,
    pub version: String,
}

fn request(version: i16, software: &SoftwareInfo) -> RequestBody {
    let mut req = ApiVersionsRequest::default();
    if version >= 3 {
        req.client_software_name = KStr::from(software.name.as_str());
        req.client_software_version = KStr::from(software.version.as_str());
    }
    RequestBody::ApiVersions(req)
}

/// Parses an ApiVersions response at `version`, falling back to v0 (the form a broker uses
/// to say UNSUPPORTED_VERSION when it cannot speak the requested version).
pub(crate) fn parse_response(frame: &Bytes, version: i16) -> Result<ApiVersionsResponse, Error> {
    let attempt = |v: i16| match decode_response(frame, ApiKey::ApiVersions, v) {
        Ok((_, ResponseBody::ApiVersions(r))) => Ok(r),
        Ok((_, other)) => Err(Error::new(ErrorKind::Protocol(format!(
            "ApiVersions answered with {:?}",
            other.api_key()
        )))),
        Err(source) => Err(Error::new(ErrorKind::Decode {
            api: ApiKey::ApiVersions,
            version: v,
            source,
        })),
    };
    match attempt(version) {
        Ok(r) => Ok(r),
        Err(e) if version == 0 => Err(e),
        Err(e) => attempt(0).map_err(|_| e),
    }
}

/// Runs the exchange and returns what the broker supports.
pub(crate) async fn negotiate(
    mux: &Mux,
    caps: &VersionCaps,
    software: &SoftwareInfo,
    timeout: Duration,
) -> Result<BrokerVersions, Error> {
    let ours = caps.get(ApiKey::ApiVersions).ok_or_else(|| {
        Error::new(ErrorKind::Protocol(
            "ApiVersions is disabled in the version caps".into(),
        ))
    })?;
    let mut version = ours.max;
    let mut retried = false;
    loop {
        let frame = mux
            .request_frame(version, &request(version, software), timeout)
            .await?;
        let resp = parse_response(&frame, version)?;
        let code = ErrorCode::from_code(resp.error_code);
        if code == ErrorCode::UnsupportedVersion && !retried {
            retried = true;
            let theirs = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions.key())
                .map_or(0, |k| k.max_version);
            version = theirs.min(ours.max).max(0);
            tracing::debug!(
                retry_version = version,
                "broker refused ApiVersions v{}; retrying",
                ours.max
            );
            continue;
        }
        if code != ErrorCode::None {
            return Err(Error::broker(code, None).with_api(ApiKey::ApiVersions));
        }
        return Ok(BrokerVersions::from_response(&resp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::frame::encode_response;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    fn frame(version: i16, resp: ApiVersionsResponse) -> Bytes {
        let mut wire = encode_response(7, version, &ResponseBody::ApiVersions(resp)).unwrap();
        let _ = wire.split_to(4);
        wire.freeze()
    }

    #[test]
    fn a_v0_unsupported_version_reply_parses_when_v3_was_asked() {
        let resp = ApiVersionsResponse {
            error_code: ErrorCode::UnsupportedVersion.code(),
            api_keys: vec![ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        let parsed = parse_response(&frame(0, resp.clone()), 3).unwrap();
        assert_eq!(parsed.error_code, 35);
        assert_eq!(parsed.api_keys[0].max_version, 2);
        let same = parse_response(&frame(3, resp), 3).unwrap();
        assert_eq!(same.api_keys.len(), 1);
    }

    #[test]
    fn garbage_is_a_decode_error_at_the_requested_version() {
        let e = parse_response(&Bytes::from_static(&[0, 0, 0, 7, 0xff]), 3).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Decode { version: 3, .. }),
            "{e}"
        );
    }

    #[test]
    fn software_fields_only_from_v3() {
        let sw = SoftwareInfo {
            name: "n".into(),
            version: "1".into(),
        };
        let RequestBody::ApiVersions(r) = request(2, &sw) else {
            unreachable!()
        };
        assert!(r.client_software_name.is_empty());
        let RequestBody::ApiVersions(r) = request(3, &sw) else {
            unreachable!()
        };
        assert_eq!(r.client_software_name, "n");
    }
}
