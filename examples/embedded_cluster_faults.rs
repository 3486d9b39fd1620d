//! Testing an application against failures, with the embedded cluster: three brokers in
//! the test's process, injected errors and a broker stopped mid-stream.
//!
//! ```sh
//! cargo run --example embedded_cluster_faults      # prints each step
//! cargo test --example embedded_cluster_faults     # the same, as a test (CI runs it)
//! ```
//!
//! `kafka_broker::Cluster` starts N companion brokers that replicate to each other, elect
//! leaders and accept faults: `inject` makes the next requests of an API fail with an error
//! code (or drop their response, or disconnect), `stop_broker`/`start_broker` take a broker
//! away and bring it back, and `wait_for_*` waits for the cluster to settle instead of
//! sleeping. The scenario checks what an application relies on: with `acks=all` and the
//! idempotent producer, retriable errors and a leader failover lose and duplicate nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_admin::{AdminClient, AdminOptions, NewTopic};
use kafka_broker::{Cluster, ClusterHandle, Fault};
use kafka_client::config::ClientConfig;
use kafka_consumer::{Consumer, ConsumerConfig, TopicPartition};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

type Error = Box<dyn std::error::Error + Send + Sync>;

const WAIT: Duration = Duration::from_secs(20);
const TOPIC: &str = "payments";

/// Sends `range` as records and waits for every acknowledgement.
async fn send_all(producer: &Producer, range: std::ops::Range<u32>) -> Result<(), Error> {
    let mut deliveries = Vec::new();
    for i in range {
        let record = ProducerRecord::new(TOPIC, format!("{i}")).with_key("account-1");
        deliveries.push(producer.send(record).await?);
    }
    for d in deliveries {
        d.await?;
    }
    Ok(())
}

/// The scenario; `say` narrates each step.
async fn scenario(say: impl Fn(&str)) -> Result<(), Error> {
    let cluster: ClusterHandle = Cluster::builder()
        .brokers(3)
        .default_replication_factor(3)
        .start()
        .await?;
    say(&format!("3 brokers at {}", cluster.bootstrap()));
    let admin =
        AdminClient::connect(ClientConfig::new().set("bootstrap.servers", &cluster.bootstrap())?)
            .await?;
    for (_, created) in admin
        .create_topics([NewTopic::new(TOPIC, 1, 3)], &AdminOptions::new())
        .await
    {
        created?;
    }
    let first_leader = cluster
        .wait_for_leader(TOPIC, 0, WAIT)
        .await?
        .leader
        .ok_or("no leader")?;
    say(&format!(
        "{TOPIC}-0 is led by broker {first_leader}, replicated on all three"
    ));

    let producer = Producer::connect(
        ProducerConfig::new()
            .set("bootstrap.servers", &cluster.bootstrap())?
            .set("acks", "all")?
            .set("enable.idempotence", "true")?
            .set("retry.backoff.ms", "20")?
            // The producer currently keeps reconnecting to a stopped leader for up to
            // request.timeout.ms before it looks the new leader up (reported); keep the
            // failover short here.
            .set("request.timeout.ms", "3000")?,
    )
    .await?;

    // 1. Retriable errors: the leader answers the next two Produce requests with
    //    NOT_LEADER_OR_FOLLOWER (without writing); the producer refreshes and retries.
    cluster.inject(
        Fault::error(ApiKey::Produce, ErrorCode::NotLeaderOrFollower)
            .times(2)
            .on_broker(first_leader)
            .for_partition(TOPIC, 0),
    )?;
    send_all(&producer, 0..100).await?;
    let retries = producer.metrics().record_retries;
    assert!(retries > 0, "the injected errors were retried");
    say(&format!(
        "100 records delivered through 2 injected errors ({retries} record retries)"
    ));

    // 2. Failover: stop the leader; an in-sync follower takes over at the next epoch.
    cluster.stop_broker(first_leader).await?;
    let after = cluster.wait_for_leader(TOPIC, 0, WAIT).await?;
    let new_leader = after.leader.ok_or("no leader")?;
    assert_ne!(new_leader, first_leader);
    say(&format!(
        "broker {first_leader} stopped; broker {new_leader} leads at epoch {}",
        after.leader_epoch
    ));
    send_all(&producer, 100..200).await?;
    say("100 more records delivered to the new leader");

    // 3. The stopped broker comes back, catches up and rejoins the ISR.
    cluster.start_broker(first_leader).await?;
    cluster.wait_for_isr(TOPIC, 0, &[0, 1, 2], WAIT).await?;
    say(&format!("broker {first_leader} restarted and back in sync"));
    producer.close(Duration::from_secs(10)).await?;

    // 4. Every record exactly once, in order.
    let mut consumer = Consumer::new(
        ConsumerConfig::new()
            .set("bootstrap.servers", &cluster.bootstrap())?
            .set("enable.auto.commit", "false")?,
    )
    .await?;
    let tp = TopicPartition::new(TOPIC, 0);
    consumer.assign([tp.clone()])?;
    consumer.seek_to_beginning([tp])?;
    let mut seen = Vec::new();
    while seen.len() < 200 {
        for r in consumer.poll(Duration::from_secs(1)).await? {
            seen.push(
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).parse::<u32>()?,
            );
        }
    }
    assert_eq!(
        seen,
        (0..200).collect::<Vec<_>>(),
        "no loss, no duplicate, in order"
    );
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 200);
    say("read back: 200 records, each exactly once, in order");
    consumer.close().await?;
    admin.close();
    cluster.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // RUST_LOG=kafka_producer=debug shows the producer's retries and leader changes.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let start = std::time::Instant::now();
    scenario(|step| println!("[{:>5.1} s] {step}", start.elapsed().as_secs_f64())).await
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failover_and_injected_errors_lose_nothing() {
        super::scenario(|_| {}).await.expect("the scenario holds");
    }
}
