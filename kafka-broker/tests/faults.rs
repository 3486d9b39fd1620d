//! Fault injection: injected errors (unapplied), dropped responses (applied), disconnects,
//! latency, dropped connections, leader moves, ISR shrinks, `--as-version`, and the
//! HTTP/JSON control endpoint driving them.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{
    Client, batch, connect_to, create_topic, fetch, fetch_request, list_offset, metadata_request,
    produce_request, start_cluster, unique_topic,
};
use kafka_broker::{ClusterHandle, Fault, FaultScope};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};
use kafka_protocol::{ErrorCode, Uuid};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(15);

async fn topic_on(
    cluster: &ClusterHandle,
    prefix: &str,
    configs: &[(&str, &str)],
) -> (String, Uuid, i32) {
    let topic = unique_topic(prefix);
    let mut c = connect_to(cluster, 0).await;
    let id = create_topic(&mut c, &topic, 1, configs).await;
    let leader = cluster.partition(&topic, 0).unwrap().leader.unwrap();
    (topic, id, leader)
}

async fn produce_to(c: &mut Client, topic: &str, acks: i16, records: Bytes) -> (ErrorCode, i64) {
    let resp = c.call(11, produce_request(topic, 0, acks, records)).await;
    let p = &resp.responses[0].partition_responses[0];
    (ErrorCode::from_code(p.error_code), p.base_offset)
}

#[tokio::test]
async fn injected_errors_fail_the_next_requests_without_applying_them() {
    let cluster = start_cluster(3, |b| b).await;
    let (topic, id, l) = topic_on(&cluster, "faults-error", &[]).await;
    let mut c = connect_to(&cluster, l).await;
    cluster
        .inject(
            Fault::error(ApiKey::Produce, ErrorCode::NotLeaderOrFollower)
                .times(2)
                .on_broker(l)
                .for_partition(&topic, 0),
        )
        .unwrap();
    // Another topic is not hit.
    let (other, _, other_leader) = topic_on(&cluster, "faults-other", &[]).await;
    let mut o = connect_to(&cluster, other_leader).await;
    assert_eq!(
        produce_to(&mut o, &other, -1, batch(&["o"], 1)).await.0,
        ErrorCode::None
    );
    for _ in 0..2 {
        assert_eq!(
            produce_to(&mut c, &topic, -1, batch(&["x"], 1)).await.0,
            ErrorCode::NotLeaderOrFollower
        );
    }
    assert_eq!(
        cluster.replica_log_end_offset(l, &topic, 0),
        Some(0),
        "nothing applied"
    );
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["x"], 1)).await,
        (ErrorCode::None, 0)
    );
    assert!(cluster.faults().is_empty(), "used up");

    // Fetch, ListOffsets, Metadata (brokers still listed) and FindCoordinator.
    cluster
        .inject(Fault::error(ApiKey::Fetch, ErrorCode::UnknownLeaderEpoch))
        .unwrap();
    let p = fetch(&mut c, &topic, id, 0, 0, 12).await;
    assert_eq!(
        ErrorCode::from_code(p.error_code),
        ErrorCode::UnknownLeaderEpoch
    );
    assert_eq!(fetch(&mut c, &topic, id, 0, 0, 12).await.error_code, 0);
    cluster
        .inject(Fault::error(ApiKey::ListOffsets, ErrorCode::OffsetNotAvailable).for_topic(&topic))
        .unwrap();
    assert_eq!(
        ErrorCode::from_code(list_offset(&mut c, &topic, 0, -1).await.0),
        ErrorCode::OffsetNotAvailable
    );
    cluster
        .inject(Fault::error(ApiKey::Metadata, ErrorCode::LeaderNotAvailable).for_topic(&topic))
        .unwrap();
    let resp = c.call(12, metadata_request(&[&topic], false)).await;
    assert_eq!(
        ErrorCode::from_code(resp.topics[0].error_code),
        ErrorCode::LeaderNotAvailable
    );
    assert_eq!(resp.brokers.len(), 3);
    cluster
        .inject(Fault::error(ApiKey::FindCoordinator, ErrorCode::CoordinatorNotAvailable).times(1))
        .unwrap();
    for (v, want) in [
        (3, ErrorCode::CoordinatorNotAvailable),
        (3, ErrorCode::None),
    ] {
        let resp = c
            .call(
                v,
                FindCoordinatorRequest {
                    key: "g".into(),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(ErrorCode::from_code(resp.error_code), want);
    }
    // Faults that cannot be: an API not served, or one errors cannot be injected into.
    assert!(
        cluster
            .inject(Fault::error(ApiKey::EndTxn, ErrorCode::None))
            .is_err()
    );
    assert!(
        cluster
            .inject(Fault::error(ApiKey::DescribeConfigs, ErrorCode::None))
            .is_err()
    );
    assert!(
        cluster
            .inject(Fault::disconnect(ApiKey::Fetch).on_broker(7))
            .is_err()
    );
    cluster.shutdown().await.unwrap();
}

/// An idempotent batch from `pid`, first sequence `seq`.
fn idempotent(pid: i64, seq: i32, value: &str) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        producer_id: pid,
        producer_epoch: 0,
        base_sequence: seq,
        ..Default::default()
    });
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    b.append(ts, Some(b"k"), Some(value.as_bytes()), &[])
        .unwrap();
    b.build().unwrap()
}

#[tokio::test]
async fn a_dropped_response_is_applied_and_the_idempotent_retry_deduplicated() {
    let cluster = start_cluster(3, |b| b).await;
    let (topic, _, l) = topic_on(&cluster, "faults-drop", &[]).await;
    let mut c = connect_to(&cluster, l).await;
    let pid = c
        .call(
            4,
            InitProducerIdRequest {
                transactional_id: None,
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await
        .producer_id;
    assert!(pid >= 0);
    cluster
        .inject(Fault::drop_response(ApiKey::Produce).on_broker(l))
        .unwrap();
    c.send(
        11,
        produce_request(&topic, 0, -1, idempotent(pid, 0, "once")),
    )
    .await;
    assert!(
        c.is_closed().await,
        "the response is dropped with the connection"
    );
    // Applied (and replicated: acks=all completed before the response was dropped).
    assert_eq!(cluster.replica_log_end_offset(l, &topic, 0), Some(1));
    cluster
        .wait_for_high_watermark(&topic, 0, 1, WAIT)
        .await
        .unwrap();
    // The producer retries the same batch: answered with the original offset, not appended.
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, -1, idempotent(pid, 0, "once")).await,
        (ErrorCode::None, 0)
    );
    assert_eq!(
        produce_to(&mut c, &topic, -1, idempotent(pid, 1, "next")).await,
        (ErrorCode::None, 1)
    );
    for n in 0..3 {
        assert_eq!(cluster.replica_log_end_offset(n, &topic, 0), Some(2));
    }
    // Producer ids are unique across the brokers.
    let mut others = Vec::new();
    for n in 0..3 {
        let mut c = connect_to(&cluster, n).await;
        let r = c
            .call(
                4,
                InitProducerIdRequest {
                    transactional_id: None,
                    transaction_timeout_ms: 60_000,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(r.error_code, 0, "InitProducerId at broker {n}");
        others.push(r.producer_id);
    }
    others.push(pid);
    others.sort_unstable();
    others.dedup();
    assert_eq!(others.len(), 4, "{others:?}");
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn disconnects_latency_and_dropped_connections() {
    let cluster = start_cluster(2, |b| b).await;
    let (topic, _, l) = topic_on(&cluster, "faults-net", &[]).await;
    // Disconnect: closed, not applied.
    cluster.inject(Fault::disconnect(ApiKey::Produce)).unwrap();
    let mut c = connect_to(&cluster, l).await;
    c.send(11, produce_request(&topic, 0, -1, batch(&["x"], 1)))
        .await;
    assert!(c.is_closed().await);
    assert_eq!(cluster.replica_log_end_offset(l, &topic, 0), Some(0));
    // Latency on one broker.
    let other = 1 - l;
    cluster
        .set_latency(FaultScope::Broker(l), Duration::from_millis(300))
        .unwrap();
    let mut slow = connect_to(&cluster, l).await;
    let mut fast = connect_to(&cluster, other).await;
    let t = Instant::now();
    slow.call(12, metadata_request(&[&topic], false)).await;
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    fast.call(12, metadata_request(&[&topic], false)).await;
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    cluster.clear_faults();
    let t = Instant::now();
    slow.call(12, metadata_request(&[&topic], false)).await;
    assert!(t.elapsed() < Duration::from_millis(300));
    // Dropping a broker's connections closes them; the broker keeps serving new ones.
    cluster.drop_connections(l).unwrap();
    assert!(slow.is_closed().await);
    let mut again = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut again, &topic, -1, batch(&["y"], 2)).await,
        (ErrorCode::None, 0)
    );
    // The other broker's connection survived.
    fast.call(12, metadata_request(&[&topic], false)).await;
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn moving_the_leader_bumps_the_epoch_and_fences_the_old_one() {
    let cluster = start_cluster(3, |b| b).await;
    let (topic, id, l) = topic_on(&cluster, "faults-move", &[]).await;
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["a"], 1)).await.0,
        ErrorCode::None
    );
    let to = (l + 2) % 3;
    let p = cluster.move_leader(&topic, 0, Some(to)).unwrap();
    assert_eq!((p.leader, p.leader_epoch), (Some(to), 1));
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["b"], 2)).await.0,
        ErrorCode::NotLeaderOrFollower
    );
    let mut n = connect_to(&cluster, to).await;
    assert_eq!(
        produce_to(&mut n, &topic, -1, batch(&["b"], 2)).await,
        (ErrorCode::None, 1)
    );
    for (epoch, want) in [
        (0, ErrorCode::FencedLeaderEpoch),
        (1, ErrorCode::None),
        (5, ErrorCode::UnknownLeaderEpoch),
    ] {
        let mut req = fetch_request(&topic, id, 0, 0, 0, 0);
        req.topics[0].partitions[0].current_leader_epoch = epoch;
        let resp = n.call(12, req).await;
        assert_eq!(
            ErrorCode::from_code(resp.responses[0].partitions[0].error_code),
            want
        );
    }
    // The old leader follows the new one.
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    cluster
        .wait_for_high_watermark(&topic, 0, 2, WAIT)
        .await
        .unwrap();
    // No leader for a replica out of sync or stopped; round-robin by default.
    cluster.stop_broker(l).await.unwrap();
    assert!(cluster.move_leader(&topic, 0, Some(l)).is_err());
    assert!(cluster.move_leader(&topic, 0, Some(9)).is_err());
    let p = cluster.move_leader(&topic, 0, None).unwrap();
    assert!(
        p.leader != Some(l) && p.leader != Some(to) || p.isr.len() == 1,
        "{p:?}"
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn shrinking_the_isr_holds_followers_out_until_cleared() {
    let cluster = start_cluster(3, |b| b).await;
    let (topic, _, l) = topic_on(&cluster, "faults-shrink", &[("min.insync.replicas", "2")]).await;
    let followers: Vec<i32> = (0..3).filter(|&n| n != l).collect();
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["a"], 1)).await.0,
        ErrorCode::None
    );
    let p = cluster.shrink_isr(&topic, 0, &followers).unwrap();
    assert_eq!(p.isr, vec![l]);
    assert!(
        cluster.shrink_isr(&topic, 0, &[l]).is_err(),
        "not the leader"
    );
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["b"], 2)).await.0,
        ErrorCode::NotEnoughReplicas
    );
    assert_eq!(
        produce_to(&mut c, &topic, 1, batch(&["c"], 3)).await,
        (ErrorCode::None, 1)
    );
    // They stay out (not fetching) while the fault holds.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cluster.partition(&topic, 0).unwrap().isr, vec![l]);
    assert_eq!(
        cluster.replica_log_end_offset(followers[0], &topic, 0),
        Some(1)
    );
    cluster.clear_faults();
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["d"], 4)).await,
        (ErrorCode::None, 2)
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_lagging_follower_leaves_the_isr_after_the_lag_limit() {
    let lag = Duration::from_millis(400);
    let cluster = start_cluster(3, |b| b.replica_lag_time_max(lag)).await;
    let (topic, _, l) = topic_on(&cluster, "faults-lag", &[]).await;
    // Healthy followers stay in sync across several lag periods, idle or not.
    tokio::time::sleep(lag * 3).await;
    assert_eq!(cluster.partition(&topic, 0).unwrap().isr.len(), 3);
    let stuck = (l + 1) % 3;
    let p = cluster.pause_replica(&topic, 0, stuck).unwrap();
    assert_eq!(p.isr.len(), 3, "still in sync until it lags");
    // An acks=all produce waits for the stuck follower until it is dropped from the ISR.
    let mut c = connect_to(&cluster, l).await;
    let t = Instant::now();
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["a"], 1)).await,
        (ErrorCode::None, 0)
    );
    assert!(t.elapsed() >= lag / 2, "{:?}", t.elapsed());
    let p = cluster.partition(&topic, 0).unwrap();
    assert!(!p.isr.contains(&stuck), "{p:?}");
    assert_eq!(cluster.replica_log_end_offset(stuck, &topic, 0), Some(0));
    cluster.clear_faults();
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();
    assert_eq!(cluster.replica_log_end_offset(stuck, &topic, 0), Some(1));
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn as_version_caps_the_advertised_versions() {
    let cluster = start_cluster(1, |b| b.as_version("2.8")).await;
    let c = connect_to(&cluster, 0).await;
    assert_eq!(c.range(ApiKey::Produce), Some((3, 9)));
    assert_eq!(c.range(ApiKey::Fetch), Some((4, 12)));
    assert_eq!(c.range(ApiKey::ListOffsets), Some((1, 6)));
    assert_eq!(c.range(ApiKey::Metadata), Some((0, 11)));
    assert_eq!(c.range(ApiKey::DescribeCluster), Some((0, 0)));
    assert_eq!(c.range(ApiKey::ApiVersions), Some((0, 3)));
    // A version the release does not have is refused as that release would: closed.
    let mut raw = connect_to(&cluster, 0).await;
    raw.send(13, fetch_request("t", Uuid::ZERO, 0, 0, 0, 0))
        .await;
    assert!(raw.is_closed().await);
    cluster.shutdown().await.unwrap();
    let cluster = start_cluster(1, |b| b.as_version("3.9")).await;
    let c = connect_to(&cluster, 0).await;
    assert_eq!(c.range(ApiKey::ListOffsets), Some((1, 9)));
    assert_eq!(c.range(ApiKey::Fetch), Some((4, 17)));
    cluster.shutdown().await.unwrap();
    let err = kafka_broker::Cluster::builder()
        .as_version("1.0")
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("2.8"), "{err}");
}

/// One HTTP request to the control endpoint: (status, JSON body).
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(head.contains("Content-Type: application/json"), "{head}");
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn the_http_control_endpoint_drives_faults_and_brokers() {
    let cluster = start_cluster(3, |b| b.control_listen("127.0.0.1:0")).await;
    let ctl = cluster.control_addr().expect("a control endpoint");
    let (status, state) = http(ctl, "GET", "/v1/cluster", None).await;
    assert_eq!(status, 200);
    assert_eq!(state["brokers"].as_array().unwrap().len(), 3);
    assert_eq!(state["controller"], 0);
    let (topic, _, l) = topic_on(&cluster, "faults-http", &[]).await;
    let (_, state) = http(ctl, "GET", "/v1/cluster", None).await;
    let t = state["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == topic.as_str())
        .unwrap()
        .clone();
    assert_eq!(t["partitions"][0]["leader"], l);
    assert_eq!(t["partitions"][0]["isr"].as_array().unwrap().len(), 3);

    // Inject an error, see it hit, and see the fault used up.
    let (status, faults) = http(
        ctl,
        "POST",
        "/v1/faults",
        Some(json!({"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 1, "topic": topic, "partition": 0})),
    )
    .await;
    assert_eq!(status, 200, "{faults}");
    assert_eq!(faults["faults"][0]["count"], 1);
    let mut c = connect_to(&cluster, l).await;
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["x"], 1)).await.0,
        ErrorCode::NotLeaderOrFollower
    );
    assert_eq!(
        produce_to(&mut c, &topic, -1, batch(&["x"], 1)).await.0,
        ErrorCode::None
    );
    let (_, faults) = http(ctl, "GET", "/v1/faults", None).await;
    assert!(faults["faults"].as_array().unwrap().is_empty());
    let (status, _) = http(
        ctl,
        "POST",
        "/v1/latency",
        Some(json!({"broker": l, "ms": 50})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, faults) = http(ctl, "DELETE", "/v1/faults", None).await;
    assert_eq!(status, 200);
    assert!(faults["latency"].as_array().unwrap().is_empty());

    // Blocking waits.
    let (status, p) = http(
        ctl,
        "POST",
        "/v1/wait/high-watermark",
        Some(json!({"topic": topic, "partition": 0, "offset": 1, "timeout_ms": 5000})),
    )
    .await;
    assert_eq!((status, p["high_watermark"].as_i64()), (200, Some(1)));
    let (status, p) = http(
        ctl,
        "POST",
        "/v1/wait/high-watermark",
        Some(json!({"topic": topic, "partition": 0, "offset": 99, "timeout_ms": 100})),
    )
    .await;
    assert_eq!(status, 408);
    assert_eq!(p["last"]["high_watermark"], 1);

    // Stop the leader; wait for another; start it; wait for the full ISR.
    let (status, _) = http(ctl, "POST", "/v1/brokers/stop", Some(json!({"broker": l}))).await;
    assert_eq!(status, 200);
    let (status, p) = http(
        ctl,
        "POST",
        "/v1/wait/leader",
        Some(json!({"topic": topic, "partition": 0, "not": l, "min_epoch": 1})),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_ne!(p["leader"], l);
    let (status, p) = http(ctl, "POST", "/v1/brokers/stop", Some(json!({"broker": l}))).await;
    assert_eq!(status, 409, "{p}");
    let (status, _) = http(ctl, "POST", "/v1/brokers/start", Some(json!({"broker": l}))).await;
    assert_eq!(status, 200);
    let (status, p) = http(
        ctl,
        "POST",
        "/v1/wait/isr",
        Some(json!({"topic": topic, "partition": 0, "isr": [0, 1, 2], "timeout_ms": 15000})),
    )
    .await;
    assert_eq!(status, 200, "{p}");

    // Leader moves and ISR shrinks.
    let (status, p) = http(
        ctl,
        "POST",
        "/v1/partitions/move-leader",
        Some(json!({"topic": topic, "partition": 0, "to": l})),
    )
    .await;
    assert_eq!((status, p["leader"].as_i64()), (200, Some(i64::from(l))));
    let follower = (l + 1) % 3;
    let (status, p) = http(
        ctl,
        "POST",
        "/v1/partitions/shrink-isr",
        Some(json!({"topic": topic, "partition": 0, "remove": [follower]})),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["isr"].as_array().unwrap().len(), 2);
    let (status, _) = http(
        ctl,
        "POST",
        "/v1/wait/isr",
        Some(json!({"topic": topic, "partition": 0, "size": 2})),
    )
    .await;
    assert_eq!(status, 200);
    http(ctl, "POST", "/v1/faults/clear", None).await;
    cluster
        .wait_for_isr(&topic, 0, &[0, 1, 2], WAIT)
        .await
        .unwrap();

    // Bad requests.
    assert_eq!(http(ctl, "GET", "/v1/nope", None).await.0, 404);
    assert_eq!(http(ctl, "GET", "/v1/faults/clear", None).await.0, 405);
    assert_eq!(
        http(ctl, "POST", "/v1/brokers/stop", Some(json!({"broker": 9})))
            .await
            .0,
        404
    );
    assert_eq!(
        http(ctl, "POST", "/v1/faults", Some(json!({"api": "Produce"})))
            .await
            .0,
        400
    );
    let (status, _) = http(
        ctl,
        "POST",
        "/v1/partitions/move-leader",
        Some(json!({"topic": "no-such-topic"})),
    )
    .await;
    assert_eq!(status, 409);
    cluster.shutdown().await.unwrap();
}
