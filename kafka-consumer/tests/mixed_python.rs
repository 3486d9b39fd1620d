//! Groups shared with other clients' members: confluent-kafka (librdkafka) for each protocol
//! both sides speak, `range` (eager) and `cooperative-sticky`; and three-client groups of
//! ours, confluent-kafka and kafka-python (`range`, `roundrobin`; `sticky` with kafka-python
//! alone, librdkafka has no eager sticky). Whichever member leads, the others must decode its
//! subscription and assignment, the partitions must be split without overlap, and when the
//! Python members leave, ours takes everything over.
//!
//! Runs only when `KAFKA_SDK_PYTHON` names a Python with `confluent_kafka` and `kafka`
//! (kafka-python), as `cargo xtask test` sets up; otherwise it prints a note and passes.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kafka_consumer::TopicPartition;
use parking_lot::Mutex;
use support::worker::Worker;
use support::{TestCluster, eventually, unique};

/// A confluent-kafka member.
const CONFLUENT: &str = r#"
import json, os, sys, time
from confluent_kafka import Consumer
bootstrap, group, topic, strategy, stopfile = sys.argv[1:6]
c = Consumer({
    'bootstrap.servers': bootstrap, 'group.id': group,
    'partition.assignment.strategy': strategy, 'auto.offset.reset': 'earliest',
    'session.timeout.ms': 6000, 'heartbeat.interval.ms': 300,
    'enable.auto.commit': True, 'auto.commit.interval.ms': 200,
})
c.subscribe([topic])
last = None
deadline = time.time() + 120
while time.time() < deadline and not os.path.exists(stopfile):
    m = c.poll(0.05)
    if m is not None and not m.error():
        print('RECORD ' + m.value().decode(), flush=True)
    a = sorted(tp.partition for tp in c.assignment())
    if a != last:
        print('ASSIGN ' + json.dumps(a), flush=True)
        last = a
c.close()
print('CLOSED', flush=True)
"#;

/// A kafka-python member, printing the same lines.
const KAFKA_PYTHON: &str = r#"
import json, logging, os, sys, time
from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
bootstrap, group, topic, strategy, stopfile = sys.argv[1:6]
logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(message)s')
assignor = {'range': RangePartitionAssignor, 'roundrobin': RoundRobinPartitionAssignor,
            'sticky': StickyPartitionAssignor}[strategy]
c = KafkaConsumer(
    bootstrap_servers=bootstrap, group_id=group, partition_assignment_strategy=[assignor],
    auto_offset_reset='earliest', session_timeout_ms=6000, heartbeat_interval_ms=300,
    enable_auto_commit=True, auto_commit_interval_ms=200,
)
# The topic's metadata first: kafka-python 3.0.12 can hang (sync answered, assignment never
# applied, heartbeats stopped) when its first join lacks it and it rejoins at once.
while not c.partitions_for_topic(topic):
    time.sleep(0.05)
c.subscribe([topic])
last = None
deadline = time.time() + 120
while time.time() < deadline and not os.path.exists(stopfile):
    for records in c.poll(timeout_ms=50).values():
        for m in records:
            print('RECORD ' + m.value.decode(), flush=True)
    a = sorted(tp.partition for tp in c.assignment())
    if a != last:
        print('ASSIGN ' + json.dumps(a), flush=True)
        last = a
c.close()
print('CLOSED', flush=True)
"#;

impl Drop for PyMember {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- python member output:");
            for line in self.lines.lock().iter() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct PyMember {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stopfile: std::path::PathBuf,
}

impl PyMember {
    fn start(
        python: &str,
        code: &str,
        bootstrap: &str,
        group: &str,
        topic: &str,
        strategy: &str,
    ) -> Self {
        let dir = std::env::temp_dir();
        let script = dir.join(format!("{}.py", unique("mixed")));
        std::fs::write(&script, code).unwrap();
        let stopfile = dir.join(unique("stop"));
        let mut child = Command::new(python)
            .arg(&script)
            .args([bootstrap, group, topic, strategy])
            .arg(&stopfile)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().push(line);
            }
        });
        // Its log and errors, kept with the rest for a failing test to print.
        let err = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().push(format!("stderr: {line}"));
            }
        });
        Self {
            child,
            lines,
            stopfile,
        }
    }

    fn assignment(&self, topic: &str) -> BTreeSet<TopicPartition> {
        let lines = self.lines.lock();
        let last = lines.iter().rev().find_map(|l| l.strip_prefix("ASSIGN "));
        let parts: Vec<i32> = last
            .map(|j| {
                j.trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .filter_map(|p| p.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        parts
            .into_iter()
            .map(|p| TopicPartition::new(topic, p))
            .collect()
    }

    fn values(&self) -> Vec<String> {
        self.lines
            .lock()
            .iter()
            .filter_map(|l| l.strip_prefix("RECORD ").map(str::to_owned))
            .collect()
    }

    fn stop(self) {
        std::fs::write(&self.stopfile, b"stop").unwrap();
        for _ in 0..200 {
            if self.lines.lock().iter().any(|l| l == "CLOSED") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Dropping kills and reaps it.
    }
}

/// The Python to run members with, or `None` (the test then prints why it skips).
fn python() -> Option<String> {
    let python = std::env::var("KAFKA_SDK_PYTHON")
        .ok()
        .filter(|s| !s.is_empty());
    if python.is_none() {
        println!(
            "skipped: set KAFKA_SDK_PYTHON to a Python with confluent_kafka and kafka-python to run the mixed-group tests"
        );
    }
    python
}

/// One group on `topic` (`partitions` partitions, `strategy`): ours and a member per script
/// in `others`. The first to join leads and assigns for all: ours when `ours_leads`, else the
/// first of `others`. The partitions must be split evenly, disjoint and complete; fresh
/// records reach whoever owns them; when the others leave, ours takes everything over and
/// reads on.
async fn shared_group(
    cluster: &TestCluster,
    python: &str,
    topic: &str,
    partitions: i32,
    strategy: &str,
    others: &[&str],
    ours_leads: bool,
) {
    let all: BTreeSet<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let group = unique(strategy);
    let start = |code| PyMember::start(python, code, cluster.bootstrap(), &group, topic, strategy);
    let config = cluster
        .consumer_config(Some(&group))
        .with_assignors([strategy])
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(300));
    let mut members: Vec<PyMember> = Vec::new();
    let ours = if ours_leads {
        let ours = Worker::start("rust", config, &[topic]).await;
        eventually("ours has everything", || async { ours.assigned() == all }).await;
        ours
    } else {
        let first = start(others[0]);
        eventually("the first Python member has everything", || async {
            first.assignment(topic) == all
        })
        .await;
        members.push(first);
        Worker::start("rust", config, &[topic]).await
    };
    let skip = usize::from(!ours_leads);
    members.extend(others[skip..].iter().map(|code| start(code)));
    let share = all.len() / (members.len() + 1);
    eventually(&format!("{strategy}: split among all members"), || async {
        let mut shares = vec![ours.assigned()];
        shares.extend(members.iter().map(|m| m.assignment(topic)));
        let union: BTreeSet<_> = shares.iter().flatten().cloned().collect();
        shares.iter().all(|s| s.len() == share)
            && shares.iter().map(BTreeSet::len).sum::<usize>() == all.len()
            && union == all
    })
    .await;
    let group_name = group.as_str();
    let produce_fresh = |tag: &'static str| async move {
        let fresh: Vec<String> = (0..partitions)
            .map(|p| format!("{group_name}-{tag}-{p}"))
            .collect();
        for (p, v) in fresh.iter().enumerate() {
            cluster
                .produce(topic, p as i32, std::slice::from_ref(v))
                .await;
        }
        fresh
    };
    let fresh = produce_fresh("all").await;
    eventually("every member consumes its partitions", || async {
        let mut got: BTreeSet<String> = ours.values().into_iter().collect();
        got.extend(members.iter().flat_map(PyMember::values));
        fresh.iter().all(|v| got.contains(v))
    })
    .await;
    // The others leave: ours takes everything over.
    for m in members {
        m.stop();
    }
    eventually(&format!("{strategy}: ours has everything"), || async {
        ours.assigned() == all
    })
    .await;
    let fresh = produce_fresh("after").await;
    eventually("ours consumes the new records", || async {
        let got: BTreeSet<String> = ours.values().into_iter().collect();
        fresh.iter().all(|v| got.contains(v))
    })
    .await;
    ours.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_with_librdkafka_members() {
    let Some(python) = python() else { return };
    let cluster = TestCluster::start().await;
    let topic = unique("mixed");
    cluster.create_topic(&topic, 4, 1).await;
    cluster.fill(&topic, 4, 25).await;
    for (strategy, ours_leads) in [
        ("range", false),
        ("cooperative-sticky", false),
        ("range", true),
        ("cooperative-sticky", true),
    ] {
        shared_group(
            &cluster,
            &python,
            &topic,
            4,
            strategy,
            &[CONFLUENT],
            ours_leads,
        )
        .await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_three_clients() {
    let Some(python) = python() else { return };
    let cluster = TestCluster::start().await;
    let topic = unique("mixed3");
    cluster.create_topic(&topic, 6, 1).await;
    cluster.fill(&topic, 6, 10).await;
    // kafka-python leads unless ours does; librdkafka has no eager `sticky`.
    for (strategy, others, ours_leads) in [
        ("range", &[KAFKA_PYTHON, CONFLUENT][..], false),
        ("roundrobin", &[KAFKA_PYTHON, CONFLUENT][..], false),
        ("sticky", &[KAFKA_PYTHON][..], false),
        ("range", &[KAFKA_PYTHON, CONFLUENT][..], true),
        ("sticky", &[KAFKA_PYTHON][..], true),
    ] {
        shared_group(&cluster, &python, &topic, 6, strategy, others, ours_leads).await;
    }
    cluster.stop().await;
}
