//! Gate tests: the Kafka framing of PLAIN logins (v1 and v0 handshakes), refusals, and
//! hostile frames in every state.

use kafka_protocol::frame::{decode_response, encode_request};
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::request_header::RequestHeader;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;

use super::*;
use crate::server::sasl::{SaslConfig, SaslUser};

fn gate() -> SaslGate {
    // Deriving SCRAM keys is slow in debug builds: once for every test.
    static CREDENTIALS: std::sync::OnceLock<Arc<Credentials>> = std::sync::OnceLock::new();
    let credentials = CREDENTIALS.get_or_init(|| {
        let config = SaslConfig {
            mechanisms: vec![SaslMechanism::ScramSha256, SaslMechanism::Plain],
            users: vec![SaslUser::new("alice", "s3cret")],
            users_files: vec![],
        };
        Arc::new(Credentials::prepare(&config).unwrap())
    });
    SaslGate::new(Arc::clone(credentials))
}

fn frame(version: i16, body: RequestBody) -> Bytes {
    let header = RequestHeader {
        request_api_key: body.api_key().key(),
        request_api_version: version,
        correlation_id: 42,
        client_id: Some("test".into()),
        ..Default::default()
    };
    let mut wire = encode_request(&header, &body).unwrap();
    let _ = wire.split_to(4);
    wire.freeze()
}

fn handshake(mechanism: &str, version: i16) -> Bytes {
    frame(
        version,
        RequestBody::SaslHandshake(SaslHandshakeRequest {
            mechanism: KStr::from(mechanism),
        }),
    )
}

fn authenticate(token: &[u8], version: i16) -> Bytes {
    frame(
        version,
        RequestBody::SaslAuthenticate(SaslAuthenticateRequest {
            auth_bytes: Bytes::copy_from_slice(token),
            ..Default::default()
        }),
    )
}

fn response(bytes: &Bytes, api: ApiKey, version: i16) -> ResponseBody {
    let (header, body) = decode_response(&bytes.slice(4..), api, version).unwrap();
    assert_eq!(header.correlation_id, 42);
    body
}

fn respond(step: GateStep) -> Bytes {
    match step {
        GateStep::Respond(b) => b,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn plain_login_over_handshake_v1() {
    let mut g = gate();
    let versions = frame(3, RequestBody::ApiVersions(ApiVersionsRequest::default()));
    assert!(matches!(g.on_frame(versions.clone()), GateStep::Serve(f) if f == versions));
    let r = respond(g.on_frame(handshake("PLAIN", 1)));
    let ResponseBody::SaslHandshake(r) = response(&r, ApiKey::SaslHandshake, 1) else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    assert_eq!(r.mechanisms, ["SCRAM-SHA-256", "PLAIN"]);
    for version in [0, 1, 2] {
        let mut g = gate();
        respond(g.on_frame(handshake("PLAIN", 1)));
        let r = respond(g.on_frame(authenticate(b"\0alice\0s3cret", version)));
        let ResponseBody::SaslAuthenticate(r) = response(&r, ApiKey::SaslAuthenticate, version)
        else {
            panic!()
        };
        assert_eq!((r.error_code, r.auth_bytes.len()), (0, 0));
        assert_eq!(g.authenticated(), Some(("alice", SaslMechanism::Plain)));
        // From now on everything is served, even a second handshake (its handler refuses it).
        let metadata = frame(12, RequestBody::Metadata(MetadataRequest::default()));
        assert!(matches!(g.on_frame(metadata), GateStep::Serve(_)));
        assert!(matches!(
            g.on_frame(handshake("PLAIN", 1)),
            GateStep::Serve(_)
        ));
    }
}

#[test]
fn wrong_password_is_answered_then_closed() {
    let mut g = gate();
    respond(g.on_frame(handshake("PLAIN", 1)));
    let GateStep::Refuse {
        response: Some(r),
        error,
    } = g.on_frame(authenticate(b"\0alice\0wrong", 2))
    else {
        panic!("a wrong password must be refused with an answer");
    };
    assert!(matches!(error, GateError::Failed { .. }));
    assert!(!error.to_string().contains("wrong"));
    let ResponseBody::SaslAuthenticate(r) = response(&r, ApiKey::SaslAuthenticate, 2) else {
        panic!()
    };
    assert_eq!(r.error_code, ErrorCode::SaslAuthenticationFailed.code());
    assert_eq!(
        r.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert!(g.authenticated().is_none());
    assert!(matches!(
        g.on_frame(authenticate(b"\0alice\0s3cret", 2)),
        GateStep::Refuse { response: None, .. }
    ));
}

#[test]
fn plain_login_over_handshake_v0_uses_bare_tokens() {
    let mut g = gate();
    respond(g.on_frame(handshake("PLAIN", 0)));
    let r = respond(g.on_frame(Bytes::from_static(b"\0alice\0s3cret")));
    assert_eq!(&r[..], &[0, 0, 0, 0], "an empty token, size-prefixed");
    assert!(g.authenticated().is_some());

    let mut g = gate();
    respond(g.on_frame(handshake("PLAIN", 0)));
    assert!(matches!(
        g.on_frame(Bytes::from_static(b"\0alice\0nope")),
        GateStep::Refuse { response: None, .. }
    ));
}

#[test]
fn scram_handshake_gets_a_challenge() {
    let mut g = gate();
    respond(g.on_frame(handshake("SCRAM-SHA-256", 1)));
    let r = respond(g.on_frame(authenticate(b"n,,n=alice,r=abc", 1)));
    let ResponseBody::SaslAuthenticate(r) = response(&r, ApiKey::SaslAuthenticate, 1) else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    assert!(r.auth_bytes.starts_with(b"r=abc"));
    assert!(r.auth_bytes.ends_with(b",i=4096"));
}

#[test]
fn unsupported_mechanism_lists_the_enabled_ones() {
    for asked in ["SCRAM-SHA-512", "GSSAPI", "plain", ""] {
        let mut g = gate();
        let GateStep::Refuse {
            response: Some(r),
            error: GateError::UnsupportedMechanism(_),
        } = g.on_frame(handshake(asked, 1))
        else {
            panic!("{asked}");
        };
        let ResponseBody::SaslHandshake(r) = response(&r, ApiKey::SaslHandshake, 1) else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::UnsupportedSaslMechanism.code());
        assert_eq!(r.mechanisms, ["SCRAM-SHA-256", "PLAIN"]);
    }
}

#[test]
fn other_requests_close_the_connection() {
    let metadata = frame(12, RequestBody::Metadata(MetadataRequest::default()));
    let mut g = gate();
    assert!(matches!(
        g.on_frame(metadata.clone()),
        GateStep::Refuse {
            response: None,
            error: GateError::Unexpected("Metadata")
        }
    ));
    // SaslAuthenticate before the handshake, Metadata or ApiVersions during the exchange.
    let mut g = gate();
    assert!(matches!(
        g.on_frame(authenticate(b"\0alice\0s3cret", 1)),
        GateStep::Refuse { response: None, .. }
    ));
    for during in [
        metadata,
        frame(3, RequestBody::ApiVersions(ApiVersionsRequest::default())),
    ] {
        let mut g = gate();
        respond(g.on_frame(handshake("PLAIN", 1)));
        assert!(matches!(
            g.on_frame(during),
            GateStep::Refuse { response: None, .. }
        ));
    }
    // A SaslHandshake version the broker does not serve.
    let mut bad = handshake("PLAIN", 1).to_vec();
    bad[3] = 7;
    assert!(matches!(
        gate().on_frame(Bytes::from(bad)),
        GateStep::Refuse {
            error: GateError::UnsupportedVersion { .. },
            ..
        }
    ));
}

#[test]
fn hostile_frames_never_panic() {
    let mut seed = 0x1234_5678u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let templates = [
        handshake("PLAIN", 1),
        handshake("SCRAM-SHA-256", 0),
        authenticate(b"\0alice\0s3cret", 2),
        authenticate(b"n,,n=alice,r=abc", 0),
    ];
    for round in 0..2000 {
        let mut f = templates[round % templates.len()].to_vec();
        match round % 3 {
            0 => f.truncate(next() as usize % (f.len() + 1)),
            1 => {
                let i = next() as usize % f.len();
                f[i] ^= next() as u8;
            }
            _ => f = (0..next() % 64).map(|_| next() as u8).collect(),
        }
        // In every state: before the handshake, after each kind of handshake.
        let mut g = gate();
        let _ = g.on_frame(Bytes::from(f.clone()));
        for h in [handshake("PLAIN", 1), handshake("SCRAM-SHA-256", 0)] {
            let mut g = gate();
            respond(g.on_frame(h));
            let _ = g.on_frame(Bytes::from(f.clone()));
            let _ = g.on_frame(Bytes::from(f.clone()));
        }
    }
}
