//! The HTTP/JSON control endpoint (`--control-listen HOST:PORT`, builder
//! `.control_listen(addr)`): drive faults and brokers from any language.
//!
//! A minimal HTTP/1.1 server: one request per connection (`Connection: close`), JSON in and
//! out, requests up to 1 MiB. Answers are `200` with a JSON body, `400` for a bad request,
//! `404` for an unknown path or broker, `409` when the cluster refuses (a broker already
//! stopped, a replica not in sync, ...), `408` when a wait times out (with the last state
//! seen). Errors are `{"error": "..."}`.
//!
//! | Method and path | Body | Does |
//! |---|---|---|
//! | `GET /v1/cluster` | | brokers, controller, every partition's state |
//! | `POST /v1/brokers/stop` | `{"broker": 1}` | stops broker 1 (leaders move first) |
//! | `POST /v1/brokers/start` | `{"broker": 1}` | starts it again, same port |
//! | `POST /v1/brokers/drop-connections` | `{"broker": 1}` | closes its client connections |
//! | `POST /v1/faults` | a fault, below | injects it |
//! | `GET /v1/faults` | | the faults not used up, and latencies |
//! | `DELETE /v1/faults` (or `POST /v1/faults/clear`) | | clears every fault, latency and ISR shrink |
//! | `POST /v1/latency` | `{"broker": 1, "ms": 200}` (no broker: all) | delays every request |
//! | `POST /v1/partitions/move-leader` | `{"topic": "t", "partition": 0, "to": 2}` (`to` optional) | new leader, epoch + 1 |
//! | `POST /v1/partitions/shrink-isr` | `{"topic": "t", "partition": 0, "remove": [1]}` | drops followers from the ISR until cleared |
//! | `POST /v1/partitions/pause-replica` | `{"topic": "t", "partition": 0, "broker": 1}` | stops a follower fetching (it leaves the ISR after the lag limit) until cleared |
//! | `POST /v1/wait/high-watermark` | `{"topic": "t", "partition": 0, "offset": 10, "timeout_ms": 5000}` | blocks until HW >= offset |
//! | `POST /v1/wait/leader` | `{"topic", "partition", "timeout_ms", "not": 1, "min_epoch": 2}` (last two optional) | blocks until a live leader (other than `not`, at an epoch >= `min_epoch`) |
//! | `POST /v1/wait/isr` | `{"topic", "partition", "isr": [0, 1, 2]}` or `"size": 3` | blocks until the ISR is that set (or has that many) |
//!
//! A fault: `{"api": "Produce", "action": "error", "error": "NOT_LEADER_OR_FOLLOWER",
//! "count": 3, "broker": 1, "topic": "t", "partition": 0}`. `api` is a name as Kafka spells
//! it (`Produce`, `ListOffsets`) or a key number; `action` is `error` (needs `error`, a name
//! such as `NOT_LEADER_OR_FOLLOWER` or a code), `drop_response` (apply, then close without
//! answering) or `disconnect` (close without applying); `count` defaults to 1; `broker`,
//! `topic` and `partition` narrow it (see `cluster::faults`). Waits default to a 10 s
//! timeout (at most 10 min). Partition states are
//! `{"topic", "partition", "leader" (null when offline), "leader_epoch", "replicas", "isr",
//! "high_watermark", "log_end_offsets": {"0": 12, ...}}`.
//!
//! With curl:
//! ```text
//! curl -s localhost:9999/v1/cluster
//! curl -s -XPOST localhost:9999/v1/faults -d '{"api":"Produce","error":"NOT_LEADER_OR_FOLLOWER","count":3}'
//! curl -s -XPOST localhost:9999/v1/brokers/stop -d '{"broker":1}'
//! curl -s -XPOST localhost:9999/v1/wait/leader -d '{"topic":"t","partition":0,"not":1}'
//! curl -s -XDELETE localhost:9999/v1/faults
//! ```

use std::sync::{Arc, Weak};
use std::time::Duration;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::faults::{Fault, FaultAction, FaultScope};
use super::partition::{PartitionInfo, PartitionWaitTimeout};
use super::runtime::{ClusterError, ClusterInner, upgrade};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1 << 20;
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(600);

/// Serves the endpoint until `stop`.
pub(crate) async fn serve(
    listener: TcpListener,
    cluster: Weak<ClusterInner>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let for_connections = stop.clone();
    loop {
        tokio::select! {
            () = crate::server::stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, cluster.clone(), for_connections.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// An HTTP answer: status and JSON body.
type Answer = (u16, Value);

fn error(status: u16, message: impl std::fmt::Display) -> Answer {
    (status, json!({ "error": message.to_string() }))
}

async fn connection(
    mut stream: TcpStream,
    cluster: Weak<ClusterInner>,
    mut stop: watch::Receiver<bool>,
) {
    let (status, body) = match read_request(&mut stream).await {
        Err(e) => error(400, e),
        Ok((method, path, body)) => {
            let Some(cluster) = upgrade(&cluster) else {
                return;
            };
            tokio::select! {
                a = route(&cluster, &method, &path, &body) => a,
                () = crate::server::stopped(&mut stop) => error(503, "the cluster is shutting down"),
            }
        }
    };
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads one request: method, path (without the query) and body.
async fn read_request(stream: &mut TcpStream) -> Result<(String, String, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err("request head too large".into());
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .map_err(|_| "timed out reading the request")?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the request ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "request head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().ok_or("no method")?.to_ascii_uppercase();
    let target = parts.next().ok_or("no path")?;
    let path = target.split('?').next().unwrap_or(target).to_string();
    let mut length = 0usize;
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| "bad Content-Length")?;
        }
    }
    if length > MAX_BODY {
        return Err("request body too large".into());
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .map_err(|_| "timed out reading the body")?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the body ended".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok((method, path, body))
}

async fn route(cluster: &Arc<ClusterInner>, method: &str, path: &str, body: &[u8]) -> Answer {
    let json: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(400, format!("the body is not JSON: {e}")),
        }
    };
    let result = match (method, path.trim_end_matches('/')) {
        ("GET", "/v1/cluster") => Ok(describe(cluster)),
        ("POST", "/v1/brokers/stop") => match broker_of(&json) {
            Ok(id) => cluster
                .stop_broker(id)
                .await
                .map(|()| describe(cluster))
                .map_err(refused),
            Err(e) => Err(e),
        },
        ("POST", "/v1/brokers/start") => match broker_of(&json) {
            Ok(id) => cluster
                .start_broker(id)
                .await
                .map(|()| describe(cluster))
                .map_err(refused),
            Err(e) => Err(e),
        },
        ("POST", "/v1/brokers/drop-connections") => broker_of(&json).and_then(|id| {
            cluster
                .drop_connections(id)
                .map(|()| json!({ "dropped": id }))
                .map_err(refused)
        }),
        ("GET", "/v1/faults") => Ok(faults(cluster)),
        ("POST", "/v1/faults") => parse_fault(&json)
            .and_then(|f| cluster.inject(f).map_err(refused))
            .map(|()| faults(cluster)),
        ("DELETE", "/v1/faults") | ("POST", "/v1/faults/clear") => {
            cluster.clear_faults();
            Ok(faults(cluster))
        }
        ("POST", "/v1/latency") => latency(cluster, &json),
        ("POST", "/v1/partitions/move-leader") => partition_of(&json).and_then(|(t, p)| {
            let to = opt_i32(&json, "to")?;
            cluster
                .move_leader(&t, p, to)
                .map(|i| partition_json(&i))
                .map_err(refused)
        }),
        ("POST", "/v1/partitions/shrink-isr") => partition_of(&json).and_then(|(t, p)| {
            let remove = i32_list(&json["remove"])
                .ok_or_else(|| error(400, "\"remove\" must be a list of broker ids"))?;
            cluster
                .shrink_isr(&t, p, &remove)
                .map(|i| partition_json(&i))
                .map_err(refused)
        }),
        ("POST", "/v1/partitions/pause-replica") => partition_of(&json).and_then(|(t, p)| {
            let node = broker_of(&json)?;
            cluster
                .pause_replica(&t, p, node)
                .map(|i| partition_json(&i))
                .map_err(refused)
        }),
        ("POST", "/v1/wait/high-watermark") => wait_hw(cluster, &json).await,
        ("POST", "/v1/wait/leader") => wait_leader(cluster, &json).await,
        ("POST", "/v1/wait/isr") => wait_isr(cluster, &json).await,
        (_, p) if ROUTES.contains(&p) => Err(error(405, format!("{method} is not allowed on {p}"))),
        (_, p) => Err(error(404, format!("no such endpoint: {p}"))),
    };
    match result {
        Ok(v) => (200, v),
        Err(a) => a,
    }
}

const ROUTES: &[&str] = &[
    "/v1/cluster",
    "/v1/brokers/stop",
    "/v1/brokers/start",
    "/v1/brokers/drop-connections",
    "/v1/faults",
    "/v1/faults/clear",
    "/v1/latency",
    "/v1/partitions/move-leader",
    "/v1/partitions/shrink-isr",
    "/v1/partitions/pause-replica",
    "/v1/wait/high-watermark",
    "/v1/wait/leader",
    "/v1/wait/isr",
];

fn refused(e: ClusterError) -> Answer {
    match e {
        ClusterError::UnknownBroker(_) => error(404, e),
        ClusterError::Broker(_) => error(503, e),
        _ => error(409, e),
    }
}

fn opt_i32(json: &Value, key: &str) -> Result<Option<i32>, Answer> {
    match &json[key] {
        Value::Null => Ok(None),
        v => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| error(400, format!("\"{key}\" must be an integer"))),
    }
}

fn i32_list(v: &Value) -> Option<Vec<i32>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_i64().and_then(|n| i32::try_from(n).ok()))
        .collect()
}

fn broker_of(json: &Value) -> Result<i32, Answer> {
    opt_i32(json, "broker")?.ok_or_else(|| error(400, "\"broker\" is required"))
}

fn partition_of(json: &Value) -> Result<(String, i32), Answer> {
    let topic = json["topic"]
        .as_str()
        .ok_or_else(|| error(400, "\"topic\" is required"))?;
    let partition = opt_i32(json, "partition")?.unwrap_or(0);
    Ok((topic.to_string(), partition))
}

fn timeout_of(json: &Value) -> Result<Duration, Answer> {
    match &json["timeout_ms"] {
        Value::Null => Ok(DEFAULT_WAIT),
        v => v
            .as_u64()
            .map(|ms| Duration::from_millis(ms).min(MAX_WAIT))
            .ok_or_else(|| error(400, "\"timeout_ms\" must be a non-negative integer")),
    }
}

/// A partition's state as JSON (see the module docs).
pub(crate) fn partition_json(p: &PartitionInfo) -> Value {
    let leos: serde_json::Map<String, Value> = p
        .log_end_offsets
        .iter()
        .map(|(n, o)| (n.to_string(), json!(o)))
        .collect();
    json!({
        "topic": p.topic,
        "partition": p.partition,
        "leader": p.leader,
        "leader_epoch": p.leader_epoch,
        "replicas": p.replicas,
        "isr": p.isr,
        "high_watermark": p.high_watermark,
        "log_end_offsets": leos,
    })
}

fn describe(cluster: &ClusterInner) -> Value {
    let ctl = cluster.controller();
    let brokers: Vec<Value> = cluster
        .brokers()
        .iter()
        .map(|b| json!({ "id": b.id, "host": b.addr.ip().to_string(), "port": b.addr.port(), "alive": b.alive }))
        .collect();
    let topics: Vec<Value> = ctl
        .describe()
        .iter()
        .map(|(name, id, ps)| {
            json!({
                "name": name,
                "id": crate::server::metadata_store::MetadataStore::encode_uuid(*id),
                "partitions": ps.iter().map(partition_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "cluster_id": cluster.cluster_id(),
        "controller": ctl.controller_id(),
        "as_version": ctl.settings().as_version.map(|r| r.name()),
        "brokers": brokers,
        "topics": topics,
    })
}

fn faults(cluster: &ClusterInner) -> Value {
    let ctl = cluster.controller();
    let faults: Vec<Value> = ctl
        .faults
        .list()
        .iter()
        .map(|f| {
            let (action, code) = match f.action {
                FaultAction::Error(c) => ("error", Some(c.name())),
                FaultAction::DropResponse => ("drop_response", None),
                FaultAction::Disconnect => ("disconnect", None),
            };
            json!({
                "api": f.api.name(),
                "action": action,
                "error": code,
                "count": f.count,
                "broker": match f.scope { FaultScope::Broker(id) => Some(id), FaultScope::Cluster => None },
                "topic": f.topic,
                "partition": f.partition,
            })
        })
        .collect();
    let latency: Vec<Value> = ctl
        .faults
        .latencies()
        .iter()
        .map(|(scope, d)| {
            json!({
                "broker": match scope { FaultScope::Broker(id) => Some(*id), FaultScope::Cluster => None },
                "ms": u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    json!({ "faults": faults, "latency": latency })
}

/// An API by name (as Kafka spells it, case-insensitive) or key number.
fn parse_api(v: &Value) -> Option<ApiKey> {
    if let Some(n) = v.as_i64() {
        return i16::try_from(n).ok().and_then(ApiKey::from_i16);
    }
    let s = v.as_str()?;
    ApiKey::ALL
        .iter()
        .copied()
        .find(|a| a.name().eq_ignore_ascii_case(s))
}

/// An error code by name (`NOT_LEADER_OR_FOLLOWER`, case-insensitive) or number.
fn parse_error(v: &Value) -> Option<ErrorCode> {
    if let Some(n) = v.as_i64() {
        let code = i16::try_from(n).ok()?;
        return ErrorCode::ALL.iter().copied().find(|e| e.code() == code);
    }
    let s = v.as_str()?;
    ErrorCode::ALL
        .iter()
        .copied()
        .find(|e| e.name().eq_ignore_ascii_case(s))
}

fn parse_fault(json: &Value) -> Result<Fault, Answer> {
    let api = parse_api(&json["api"]).ok_or_else(|| {
        error(
            400,
            "\"api\" must name a Kafka API (e.g. \"Produce\") or give its key",
        )
    })?;
    let action = json["action"].as_str().unwrap_or("error");
    let mut fault = match action {
        "error" => {
            let code = parse_error(&json["error"]).ok_or_else(|| {
                error(400, "\"error\" must name a Kafka error (e.g. \"NOT_LEADER_OR_FOLLOWER\") or give its code")
            })?;
            Fault::error(api, code)
        }
        "drop_response" => Fault::drop_response(api),
        "disconnect" => Fault::disconnect(api),
        other => {
            return Err(error(
                400,
                format!("unknown action {other:?}: error, drop_response or disconnect"),
            ));
        }
    };
    if let Some(n) = json["count"].as_u64() {
        fault = fault.times(u32::try_from(n).unwrap_or(u32::MAX));
    } else if !json["count"].is_null() {
        return Err(error(400, "\"count\" must be a non-negative integer"));
    }
    if let Some(id) = opt_i32(json, "broker")? {
        fault = fault.on_broker(id);
    }
    match (json["topic"].as_str(), opt_i32(json, "partition")?) {
        (Some(t), Some(p)) => fault = fault.for_partition(t, p),
        (Some(t), None) => fault = fault.for_topic(t),
        (None, Some(_)) => return Err(error(400, "\"partition\" needs \"topic\"")),
        (None, None) => {}
    }
    Ok(fault)
}

fn latency(cluster: &ClusterInner, json: &Value) -> Result<Value, Answer> {
    let ms = json["ms"]
        .as_u64()
        .ok_or_else(|| error(400, "\"ms\" must be a non-negative integer"))?;
    let scope = match opt_i32(json, "broker")? {
        Some(id) => FaultScope::Broker(id),
        None => FaultScope::Cluster,
    };
    cluster
        .set_latency(scope, Duration::from_millis(ms))
        .map_err(refused)?;
    Ok(faults(cluster))
}

fn waited(r: Result<PartitionInfo, PartitionWaitTimeout>) -> Result<Value, Answer> {
    r.map(|p| partition_json(&p)).map_err(|e| {
        (
            408,
            json!({
                "error": e.to_string(),
                "last": e.last.as_ref().map(partition_json),
            }),
        )
    })
}

async fn wait_hw(cluster: &ClusterInner, json: &Value) -> Result<Value, Answer> {
    let (topic, partition) = partition_of(json)?;
    let offset = json["offset"]
        .as_i64()
        .ok_or_else(|| error(400, "\"offset\" is required"))?;
    let timeout = timeout_of(json)?;
    waited(
        cluster
            .controller()
            .wait_for_partition(
                &topic,
                partition,
                &format!("high watermark {offset}"),
                timeout,
                |p| p.high_watermark >= offset,
            )
            .await,
    )
}

async fn wait_leader(cluster: &ClusterInner, json: &Value) -> Result<Value, Answer> {
    let (topic, partition) = partition_of(json)?;
    let not = opt_i32(json, "not")?;
    let min_epoch = opt_i32(json, "min_epoch")?.unwrap_or(i32::MIN);
    let timeout = timeout_of(json)?;
    let ctl = Arc::clone(cluster.controller());
    waited(
        cluster
            .controller()
            .wait_for_partition(&topic, partition, "a live leader", timeout, |p| {
                p.leader.is_some_and(|l| ctl.is_alive(l) && Some(l) != not)
                    && p.leader_epoch >= min_epoch
            })
            .await,
    )
}

async fn wait_isr(cluster: &ClusterInner, json: &Value) -> Result<Value, Answer> {
    let (topic, partition) = partition_of(json)?;
    let timeout = timeout_of(json)?;
    let want = match (&json["isr"], opt_i32(json, "size")?) {
        (Value::Null, Some(n)) => Err(usize::try_from(n).unwrap_or(0)),
        (v, None) => {
            let mut set = i32_list(v)
                .ok_or_else(|| error(400, "\"isr\" (a list) or \"size\" is required"))?;
            set.sort_unstable();
            Ok(set)
        }
        _ => return Err(error(400, "give \"isr\" or \"size\", not both")),
    };
    let what = match &want {
        Ok(set) => format!("ISR {set:?}"),
        Err(n) => format!("an ISR of {n}"),
    };
    waited(
        cluster
            .controller()
            .wait_for_partition(&topic, partition, &what, timeout, |p| match &want {
                Ok(set) => {
                    let mut have = p.isr.clone();
                    have.sort_unstable();
                    &have == set
                }
                Err(n) => p.isr.len() >= *n,
            })
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_json() {
        let f = parse_fault(&json!({"api": "produce", "error": "not_leader_or_follower", "count": 3, "broker": 1, "topic": "t", "partition": 0})).unwrap();
        assert_eq!(
            f,
            Fault::error(ApiKey::Produce, ErrorCode::NotLeaderOrFollower)
                .times(3)
                .on_broker(1)
                .for_partition("t", 0)
        );
        let f = parse_fault(&json!({"api": 0, "action": "drop_response"})).unwrap();
        assert_eq!(f, Fault::drop_response(ApiKey::Produce));
        assert_eq!(parse_error(&json!(6)), Some(ErrorCode::NotLeaderOrFollower));
        assert!(parse_fault(&json!({"api": "Nope", "error": 6})).is_err());
        assert!(parse_fault(&json!({"api": "Fetch"})).is_err());
        assert!(parse_fault(&json!({"api": "Fetch", "action": "explode"})).is_err());
        assert!(
            parse_fault(&json!({"api": "Fetch", "action": "disconnect", "partition": 1})).is_err()
        );
    }
}
