//! The quickstart's logic (`examples/support/quickstart.rs`), run with a small record count
//! against the companion broker: every record produced is consumed by the group of three,
//! the partitions are shared out, and the summary says so.

#[path = "../examples/support/mod.rs"]
mod support;

use std::time::Duration;

use support::quickstart::{Options, run};
use support::{ExampleCluster, unique_topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_produces_and_consumes_everything() {
    let cluster = ExampleCluster::for_tests().await.expect("broker starts");
    let mut options = Options::new(cluster.bootstrap(), unique_topic("quickstart-test"));
    options.records = 3_000;
    options.keys = 50;
    options.progress = false;
    options.consume_timeout = Duration::from_secs(120);
    let summary = run(&options).await.expect("quickstart runs");

    assert_eq!(summary.produced, 3_000);
    assert_eq!(summary.consumed, 3_000);
    assert!(summary.totals_match());
    assert_eq!(summary.consumers.len(), 3);
    // Every partition was read, and the records received add up (redeliveries aside).
    let read: std::collections::BTreeSet<i32> = summary
        .consumers
        .iter()
        .flat_map(|c| c.read_from.iter().copied())
        .collect();
    assert_eq!(read, (0..6).collect());
    let received: u64 = summary.consumers.iter().map(|c| c.received).sum();
    assert_eq!(received, summary.consumed + summary.redelivered);
    // The group formed before producing: the six partitions are split over all three
    // members, none twice.
    let mut assigned: Vec<i32> = summary
        .consumers
        .iter()
        .flat_map(|c| c.final_assignment.iter().copied())
        .collect();
    assigned.sort_unstable();
    assert_eq!(
        assigned,
        (0..6).collect::<Vec<_>>(),
        "{:?}",
        summary.consumers
    );
    assert!(
        summary
            .consumers
            .iter()
            .all(|c| !c.final_assignment.is_empty()),
        "{:?}",
        summary.consumers
    );
    let [p50, p95, p99, max] = summary.latency_ms;
    assert!(
        p50 <= p95 && p95 <= p99 && p99 <= max,
        "{:?}",
        summary.latency_ms
    );
    assert!(summary.produce_rate() > 0.0 && summary.consume_rate() > 0.0);

    let text = summary.render();
    assert!(text.contains("produced 3000 records"), "{text}");
    assert!(text.contains("consumed 3000 records"), "{text}");
    assert!(text.contains("total matches: yes"), "{text}");
    assert!(text.contains("group of 3 formed"), "{text}");
    assert!(text.contains("end-to-end latency: p50"), "{text}");
    assert_eq!(text.matches("  consumer ").count(), 3, "{text}");
    cluster.stop().await.expect("broker stops");
}
