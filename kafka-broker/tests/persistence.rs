//! A data directory keeps topics, ids, configs and data across restarts; the binary starts,
//! announces itself and stops cleanly on SIGTERM. Both need the broker's internals, so they
//! skip against an external cluster.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    Client, TestBroker, batch, create_topic, fetch, list_offset, produce, stored_part, unique_topic,
};
use kafka_broker::Broker;
use kafka_broker::log::LogConfig;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::records::RecordSetReader;

async fn retention_ms(c: &mut Client, topic: &str) -> Option<String> {
    let resp = c
        .call(
            4,
            DescribeConfigsRequest {
                resources: vec![DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: topic.into(),
                    configuration_keys: None,
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    resp.results[0]
        .configs
        .iter()
        .find(|c| c.name.as_str() == "retention.ms")
        .and_then(|c| c.value.as_deref().map(str::to_string))
}

#[tokio::test]
async fn restart_on_a_data_dir_keeps_topics_and_data() {
    if common::external().is_some() {
        common::skip("restart on a data directory");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = || TestBroker::start_with(|b| b.data_dir(dir.path()));
    let tb = start().await;
    let cluster_id = tb.handle().unwrap().state().cluster_id().to_string();
    let mut c = tb.connect().await;
    let topic = unique_topic("persist");
    let id = create_topic(&mut c, &topic, 2, &[("retention.ms", "86400000")]).await;
    let batches = [batch(&["one", "two"], 1_000), batch(&["three"], 2_000)];
    for b in &batches {
        produce(&mut c, &topic, 1, b.clone()).await;
    }
    let before = fetch(&mut c, &topic, id, 1, 0, 12).await.records.unwrap();
    drop(c);
    tb.shutdown().await;
    assert!(
        dir.path().join(format!("{topic}-1")).is_dir(),
        "Kafka's partition directory layout"
    );

    let tb = start().await;
    assert_eq!(tb.handle().unwrap().state().cluster_id(), cluster_id);
    let mut c = tb.connect().await;
    let md = common::wait_for_topic(&mut c, &topic, Some(2)).await;
    assert_eq!(md.topics[0].topic_id, id, "topic id survives");
    assert_eq!(
        retention_ms(&mut c, &topic).await.as_deref(),
        Some("86400000")
    );
    let p = fetch(&mut c, &topic, id, 1, 0, 13).await;
    assert_eq!((p.error_code, p.high_watermark), (0, 3));
    let after = p.records.unwrap();
    assert_eq!(after, before, "fetched bytes identical across the restart");
    let mut reader = RecordSetReader::new(after);
    for b in &batches {
        assert_eq!(
            stored_part(&reader.next_raw().unwrap().unwrap().bytes),
            stored_part(b)
        );
    }
    // Appends continue from the stored end.
    let p = produce(&mut c, &topic, 1, batch(&["four"], 3_000)).await;
    assert_eq!(p.base_offset, 3);
    drop(c);
    tb.shutdown().await;

    // Deleting removes the data for good.
    let tb = start().await;
    let mut c = tb.connect().await;
    let resp = c
        .call(
            6,
            kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest {
                topics: vec![
                    kafka_protocol::messages::delete_topics_request::DeleteTopicState {
                        name: Some(topic.as_str().into()),
                        ..Default::default()
                    },
                ],
                timeout_ms: 1_000,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(resp.responses[0].error_code, 0);
    assert!(!dir.path().join(format!("{topic}-1")).exists());
    drop(c);
    tb.shutdown().await;
    let tb = start().await;
    assert!(tb.handle().unwrap().state().topic(&topic).is_none());
    tb.shutdown().await;
}

#[tokio::test]
async fn retention_runs_in_the_background() {
    if common::external().is_some() {
        common::skip("retention with a short check interval");
        return;
    }
    let tb = TestBroker::start_with(|b| {
        b.retention_check_interval(Duration::from_millis(100))
            .log_config(LogConfig {
                retention_ms: 1_000,
                ..LogConfig::default()
            })
    })
    .await;
    let mut c = tb.connect().await;
    let topic = unique_topic("ret");
    create_topic(&mut c, &topic, 1, &[]).await;
    // Timestamps from 1970: long past retention.ms.
    produce(&mut c, &topic, 0, batch(&["old"], 1_000)).await;
    for _ in 0..100 {
        if list_offset(&mut c, &topic, 0, -2).await.1 == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("retention never removed the old batch");
}

#[tokio::test]
async fn binary_announces_and_stops_on_sigterm() {
    if common::external().is_some() {
        common::skip("running the kafka-broker binary");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-broker"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--default-partitions",
            "2",
            "--auto-create-topics",
            "false",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("announcement")
        .to_string();
    let mut c = Client::connect(&addr).await;
    let resp = c
        .call(
            c.version(ApiKey::Metadata, 12),
            common::metadata_request(&["x"], true),
        )
        .await;
    assert_eq!(
        resp.topics[0].error_code, 3,
        "--auto-create-topics false is honoured"
    );
    drop(c);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    assert!(dir.path().join("meta.properties").is_file());
}

#[tokio::test]
async fn mismatched_node_id_is_refused() {
    if common::external().is_some() {
        common::skip("data directory identity checks");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    b.shutdown().await.unwrap();
    let err = Broker::builder()
        .data_dir(dir.path())
        .node_id(5)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("node"), "{err}");
}
