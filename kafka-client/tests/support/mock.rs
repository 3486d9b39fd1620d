//! A scripted in-test broker for what the companion broker cannot do (yet): refuse newer
//! ApiVersions, leave requests unanswered, play coordinator with scripted errors, run the
//! server side of SASL PLAIN and SCRAM, and speak TLS.
//!
//! It understands ApiVersions, Metadata, FindCoordinator, Heartbeat, ListGroups,
//! SaslHandshake and SaslAuthenticate, answers with itself as the only broker, leader and
//! coordinator, and records every request it sees.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{FrameSplitter, decode_request, encode_response, peek_request};
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use kafka_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::list_groups_response::ListGroupsResponse;
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode, KStr, Uuid, VersionRange};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinSet};

/// SASL settings of the mock.
#[derive(Debug, Clone)]
pub struct MockSasl {
    pub mechanism: &'static str,
    pub username: String,
    pub password: String,
}

/// What the mock does.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub node_id: i32,
    /// The host the mock advertises for itself in Metadata and FindCoordinator.
    pub host: String,
    /// What ApiVersions advertises.
    pub api_versions: Vec<(ApiKey, VersionRange)>,
    /// ApiVersions requests above this version get a v0 UNSUPPORTED_VERSION reply.
    pub max_api_versions: i16,
    /// Topics and their partition counts.
    pub topics: Vec<(String, i32)>,
    /// Requests of these APIs are never answered.
    pub silent: Vec<ApiKey>,
    pub sasl: Option<MockSasl>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for MockConfig {
    fn default() -> Self {
        let apis = [
            ApiKey::ApiVersions,
            ApiKey::Metadata,
            ApiKey::FindCoordinator,
            ApiKey::Heartbeat,
            ApiKey::ListGroups,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate,
        ];
        Self {
            node_id: 7,
            host: "127.0.0.1".into(),
            api_versions: apis.iter().map(|a| (*a, a.versions())).collect(),
            max_api_versions: ApiKey::ApiVersions.versions().max,
            topics: vec![("t".into(), 2)],
            silent: Vec::new(),
            sasl: None,
            tls: None,
        }
    }
}

/// Errors to answer with, in order, before answering normally.
#[derive(Debug, Default)]
pub struct Script {
    pub find_coordinator: VecDeque<ErrorCode>,
    pub heartbeat: VecDeque<ErrorCode>,
}

struct State {
    config: MockConfig,
    port: u16,
    connections: AtomicUsize,
    /// Guards the log of (api, version) of every request received.
    requests: Mutex<Vec<(ApiKey, i16)>>,
    /// Guards the scripted error queues.
    script: Mutex<Script>,
    /// Guards the connection tasks (aborted to drop every connection).
    tasks: Mutex<Vec<AbortHandle>>,
}

/// A running mock broker; stops when dropped.
pub struct MockBroker {
    state: Arc<State>,
    addr: SocketAddr,
    accept: AbortHandle,
}

impl Drop for MockBroker {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_connections();
    }
}

impl MockBroker {
    pub async fn start(config: MockConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            config,
            port: addr.port(),
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Script::default()),
            tasks: Mutex::new(Vec::new()),
        });
        let s = state.clone();
        let accept = tokio::spawn(async move {
            let mut set = JoinSet::new();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let st = s.clone();
                let handle = match st.config.tls.clone() {
                    None => set.spawn(serve(st, sock)),
                    Some(tls) => set.spawn(async move {
                        if let Ok(sock) = tokio_rustls::TlsAcceptor::from(tls).accept(sock).await {
                            serve(st, sock).await;
                        }
                    }),
                };
                s.tasks.lock().push(handle);
            }
        })
        .abort_handle();
        Self {
            state,
            addr,
            accept,
        }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub fn node_id(&self) -> i32 {
        self.state.config.node_id
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<(ApiKey, i16)> {
        self.state.requests.lock().clone()
    }

    pub fn count(&self, api: ApiKey) -> usize {
        self.requests().iter().filter(|(a, _)| *a == api).count()
    }

    pub fn script(&self) -> parking_lot::MutexGuard<'_, Script> {
        self.state.script.lock()
    }

    /// Closes every open connection (the listener keeps accepting).
    pub fn drop_connections(&self) {
        for t in self.state.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

fn range(state: &State, api: ApiKey) -> Option<VersionRange> {
    state
        .config
        .api_versions
        .iter()
        .find(|(a, _)| *a == api)
        .map(|(_, r)| *r)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(state: Arc<State>, mut sock: S) {
    let mut split = FrameSplitter::new(1 << 24);
    let mut sasl = SaslServer::default();
    loop {
        let frame = loop {
            match split.next_frame() {
                Ok(Some(f)) => break f,
                Ok(None) => {}
                Err(_) => return,
            }
            match sock.read_buf(split.buffer()).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Some(prefix) = peek_request(&frame) else {
            return;
        };
        let Some(api) = ApiKey::from_i16(prefix.api_key) else {
            return;
        };
        state.requests.lock().push((api, prefix.api_version));
        if api == ApiKey::ApiVersions && prefix.api_version > state.config.max_api_versions {
            // What a Kafka broker does for an ApiVersions version it does not know: a v0 body
            // with UNSUPPORTED_VERSION and its own ApiVersions range.
            let body = ResponseBody::ApiVersions(ApiVersionsResponse {
                error_code: ErrorCode::UnsupportedVersion.code(),
                api_keys: vec![ApiVersion {
                    api_key: ApiKey::ApiVersions.key(),
                    min_version: 0,
                    max_version: state.config.max_api_versions,
                    ..Default::default()
                }],
                ..Default::default()
            });
            let out = encode_response(prefix.correlation_id, 0, &body).unwrap();
            if sock.write_all(&out).await.is_err() {
                return;
            }
            continue;
        }
        let Ok(req) = decode_request(&frame) else {
            return;
        };
        if state.config.silent.contains(&api) {
            continue;
        }
        let authenticated = state.config.sasl.is_none() || sasl.done;
        let pre_auth = matches!(
            api,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        );
        if !authenticated && !pre_auth {
            return; // Kafka closes a connection that skips authentication.
        }
        let Some(body) = respond(&state, &mut sasl, req.body, prefix.api_version) else {
            return;
        };
        let out = encode_response(prefix.correlation_id, prefix.api_version, &body).unwrap();
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn respond(
    state: &State,
    sasl: &mut SaslServer,
    body: RequestBody,
    version: i16,
) -> Option<ResponseBody> {
    let me = state.config.node_id;
    Some(match body {
        RequestBody::ApiVersions(_) => ResponseBody::ApiVersions(ApiVersionsResponse {
            api_keys: state
                .config
                .api_versions
                .iter()
                .map(|(a, r)| ApiVersion {
                    api_key: a.key(),
                    min_version: r.min,
                    max_version: r.max,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::Metadata(req) => {
            let wanted: Option<Vec<String>> = req.topics.map(|ts| {
                ts.iter()
                    .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                    .collect()
            });
            let topics = state
                .config
                .topics
                .iter()
                .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.contains(n)))
                .enumerate()
                .map(|(i, (name, parts))| MetadataResponseTopic {
                    name: Some(name.as_str().into()),
                    topic_id: if version >= 10 {
                        Uuid::from_u64_pair(42, i as u64 + 1)
                    } else {
                        Uuid::ZERO
                    },
                    partitions: (0..*parts)
                        .map(|p| MetadataResponsePartition {
                            partition_index: p,
                            leader_id: me,
                            replica_nodes: vec![me],
                            isr_nodes: vec![me],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                });
            let mut topics: Vec<_> = topics.collect();
            for missing in wanted.unwrap_or_default() {
                if !state.config.topics.iter().any(|(n, _)| *n == missing) {
                    topics.push(MetadataResponseTopic {
                        name: Some(missing.as_str().into()),
                        error_code: ErrorCode::UnknownTopicOrPartition.code(),
                        ..Default::default()
                    });
                }
            }
            ResponseBody::Metadata(MetadataResponse {
                brokers: vec![MetadataResponseBroker {
                    node_id: me,
                    host: state.config.host.as_str().into(),
                    port: i32::from(state.port),
                    ..Default::default()
                }],
                cluster_id: if version >= 2 {
                    Some("mock".into())
                } else {
                    None
                },
                controller_id: me,
                topics,
                ..Default::default()
            })
        }
        RequestBody::FindCoordinator(req) => {
            let next = || {
                state
                    .script
                    .lock()
                    .find_coordinator
                    .pop_front()
                    .unwrap_or(ErrorCode::None)
            };
            if version >= 4 {
                ResponseBody::FindCoordinator(FindCoordinatorResponse {
                    coordinators: req
                        .coordinator_keys
                        .iter()
                        .map(|k| Coordinator {
                            key: k.clone(),
                            node_id: me,
                            host: state.config.host.as_str().into(),
                            port: i32::from(state.port),
                            error_code: next().code(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            } else {
                ResponseBody::FindCoordinator(FindCoordinatorResponse {
                    error_code: next().code(),
                    node_id: me,
                    host: state.config.host.as_str().into(),
                    port: i32::from(state.port),
                    ..Default::default()
                })
            }
        }
        RequestBody::Heartbeat(_) => ResponseBody::Heartbeat(HeartbeatResponse {
            error_code: state
                .script
                .lock()
                .heartbeat
                .pop_front()
                .unwrap_or(ErrorCode::None)
                .code(),
            ..Default::default()
        }),
        RequestBody::ListGroups(_) => ResponseBody::ListGroups(ListGroupsResponse::default()),
        RequestBody::SaslHandshake(req) => {
            let mechanism = state.config.sasl.as_ref().map_or("", |s| s.mechanism);
            let code = if req.mechanism == mechanism {
                sasl.started = true;
                ErrorCode::None
            } else {
                ErrorCode::UnsupportedSaslMechanism
            };
            ResponseBody::SaslHandshake(SaslHandshakeResponse {
                error_code: code.code(),
                mechanisms: vec![KStr::from(mechanism)],
            })
        }
        RequestBody::SaslAuthenticate(req) => {
            let cfg = state.config.sasl.as_ref()?;
            if !sasl.started {
                return None;
            }
            let (code, message, bytes) = match sasl.step(cfg, &req.auth_bytes) {
                Ok(bytes) => (ErrorCode::None, None, bytes),
                Err(m) => (
                    ErrorCode::SaslAuthenticationFailed,
                    Some(KStr::from(m)),
                    Bytes::new(),
                ),
            };
            ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
                error_code: code.code(),
                error_message: message,
                auth_bytes: bytes,
                ..Default::default()
            })
        }
        _ => return None,
    })
}

/// The server side of PLAIN and SCRAM, written from RFC 5802 independently of the client's.
#[derive(Default)]
struct SaslServer {
    started: bool,
    done: bool,
    /// SCRAM: client-first-bare and server-first, kept for the auth message.
    first: Option<(String, String, String)>,
}

const SALT: &[u8] = b"mock-salt-123456";
const ITERATIONS: u32 = 4096;

impl SaslServer {
    fn step(&mut self, cfg: &MockSasl, msg: &[u8]) -> Result<Bytes, &'static str> {
        if cfg.mechanism == "PLAIN" {
            let expected = format!("\0{}\0{}", cfg.username, cfg.password);
            if msg != expected.as_bytes() {
                return Err("Authentication failed: Invalid username or password");
            }
            self.done = true;
            return Ok(Bytes::new());
        }
        let (alg, hmac_alg, pbkdf) = match cfg.mechanism {
            "SCRAM-SHA-256" => (
                &ring::digest::SHA256,
                ring::hmac::HMAC_SHA256,
                ring::pbkdf2::PBKDF2_HMAC_SHA256,
            ),
            _ => (
                &ring::digest::SHA512,
                ring::hmac::HMAC_SHA512,
                ring::pbkdf2::PBKDF2_HMAC_SHA512,
            ),
        };
        let text = std::str::from_utf8(msg).map_err(|_| "not utf-8")?;
        match self.first.take() {
            None => {
                let bare = text.strip_prefix("n,,").ok_or("bad gs2 header")?;
                let user = bare
                    .split(',')
                    .find_map(|a| a.strip_prefix("n="))
                    .ok_or("no user")?;
                let nonce = bare
                    .split(',')
                    .find_map(|a| a.strip_prefix("r="))
                    .ok_or("no nonce")?;
                if user != cfg.username {
                    return Err("Authentication failed: unknown user");
                }
                let server_first =
                    format!("r={nonce}srvnonce,s={},i={ITERATIONS}", BASE64.encode(SALT));
                self.first = Some((
                    bare.to_owned(),
                    server_first.clone(),
                    format!("{nonce}srvnonce"),
                ));
                Ok(Bytes::from(server_first))
            }
            Some((bare, server_first, nonce)) => {
                let (without_proof, proof) = text.rsplit_once(",p=").ok_or("no proof")?;
                if without_proof != format!("c=biws,r={nonce}") {
                    return Err("bad channel binding or nonce");
                }
                let mut salted = vec![0u8; alg.output_len()];
                ring::pbkdf2::derive(
                    pbkdf,
                    ITERATIONS.try_into().unwrap(),
                    SALT,
                    cfg.password.as_bytes(),
                    &mut salted,
                );
                let key = ring::hmac::Key::new(hmac_alg, &salted);
                let client_key = ring::hmac::sign(&key, b"Client Key");
                let stored_key = ring::digest::digest(alg, client_key.as_ref());
                let auth = format!("{bare},{server_first},{without_proof}");
                let sig = ring::hmac::sign(
                    &ring::hmac::Key::new(hmac_alg, stored_key.as_ref()),
                    auth.as_bytes(),
                );
                let proof = BASE64.decode(proof).map_err(|_| "proof not base64")?;
                let recovered: Vec<u8> =
                    proof.iter().zip(sig.as_ref()).map(|(p, s)| p ^ s).collect();
                if ring::digest::digest(alg, &recovered).as_ref() != stored_key.as_ref() {
                    return Err(
                        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM",
                    );
                }
                let server_key = ring::hmac::sign(&key, b"Server Key");
                let server_sig = ring::hmac::sign(
                    &ring::hmac::Key::new(hmac_alg, server_key.as_ref()),
                    auth.as_bytes(),
                );
                self.done = true;
                Ok(Bytes::from(format!(
                    "v={}",
                    BASE64.encode(server_sig.as_ref())
                )))
            }
        }
    }
}

/// A listener that accepts connections and never answers (for setup and request timeouts).
pub async fn black_hole() -> (String, AbortHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    (addr, task.abort_handle())
}

/// Reads one whole frame from a raw socket (for tests that play broker by hand).
pub async fn read_frame<S: AsyncRead + Unpin>(sock: &mut S) -> Option<Bytes> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len).await.ok()?;
    let mut buf = BytesMut::zeroed(i32::from_be_bytes(len) as usize);
    sock.read_exact(&mut buf).await.ok()?;
    Some(buf.freeze())
}
