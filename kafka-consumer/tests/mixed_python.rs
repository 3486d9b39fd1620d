//! A group shared with confluent-kafka (librdkafka) members, for each protocol both sides
//! speak: `range` (eager) and `cooperative-sticky`. Whichever member leads, the other must
//! decode its subscription and assignment, the partitions must be split without overlap, and
//! when the librdkafka member leaves, ours takes everything over.
//!
//! Runs only when `KAFKA_SDK_PYTHON` names a Python with `confluent_kafka` (e.g.
//! `/work/main/.venv/bin/python`); otherwise it prints a note and passes.

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

const SCRIPT: &str = r#"
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

struct PyMember {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stopfile: std::path::PathBuf,
}

impl PyMember {
    fn start(python: &str, bootstrap: &str, group: &str, topic: &str, strategy: &str) -> Self {
        let dir = std::env::temp_dir();
        let script = dir.join(format!("{}.py", unique("mixed")));
        std::fs::write(&script, SCRIPT).unwrap();
        let stopfile = dir.join(unique("stop"));
        let mut child = Command::new(python)
            .arg(&script)
            .args([bootstrap, group, topic, strategy])
            .arg(&stopfile)
            .stdout(Stdio::piped())
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

    fn stop(mut self) {
        std::fs::write(&self.stopfile, b"stop").unwrap();
        for _ in 0..200 {
            if self.lines.lock().iter().any(|l| l == "CLOSED") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_with_librdkafka_members() {
    let Some(python) = std::env::var("KAFKA_SDK_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        println!(
            "skipped: set KAFKA_SDK_PYTHON to a Python with confluent_kafka to run the mixed-group test"
        );
        return;
    };
    let cluster = TestCluster::start().await;
    let topic = unique("mixed");
    cluster.create_topic(&topic, 4, 1).await;
    cluster.fill(&topic, 4, 25).await;
    let all: BTreeSet<TopicPartition> = (0..4).map(|p| TopicPartition::new(&topic, p)).collect();
    for (strategy, rust_leads) in [
        ("range", false),
        ("cooperative-sticky", false),
        ("range", true),
        ("cooperative-sticky", true),
    ] {
        let group = unique(strategy);
        let config = cluster
            .consumer_config(Some(&group))
            .with_assignors([strategy])
            .with_session_timeout(Duration::from_secs(6))
            .with_heartbeat_interval(Duration::from_millis(300));
        // The first member to join leads and assigns for both.
        let (py, ours) = if rust_leads {
            let ours = Worker::start("rust", config, &[&topic]).await;
            eventually("ours has everything", || async { ours.assigned() == all }).await;
            let py = PyMember::start(&python, cluster.bootstrap(), &group, &topic, strategy);
            (py, ours)
        } else {
            let py = PyMember::start(&python, cluster.bootstrap(), &group, &topic, strategy);
            eventually("the librdkafka member has everything", || async {
                py.assignment(&topic) == all
            })
            .await;
            let ours = Worker::start("rust", config, &[&topic]).await;
            (py, ours)
        };
        eventually(&format!("{strategy}: split between both"), || async {
            let theirs = py.assignment(&topic);
            let mine = ours.assigned();
            theirs.len() == 2
                && mine.len() == 2
                && theirs.is_disjoint(&mine)
                && theirs.union(&mine).cloned().collect::<BTreeSet<_>>() == all
        })
        .await;
        let fresh: Vec<String> = (0..4).map(|p| format!("{group}-both-{p}")).collect();
        for (p, v) in fresh.iter().enumerate() {
            cluster
                .produce(&topic, p as i32, std::slice::from_ref(v))
                .await;
        }
        eventually("both members consume their partitions", || async {
            let mut got: BTreeSet<String> = ours.values().into_iter().collect();
            got.extend(py.values());
            fresh.iter().all(|v| got.contains(v))
        })
        .await;
        // The librdkafka member leaves: ours takes everything over.
        py.stop();
        eventually(&format!("{strategy}: ours has everything"), || async {
            ours.assigned() == all
        })
        .await;
        let fresh: Vec<String> = (0..4).map(|p| format!("{group}-after-{p}")).collect();
        for (p, v) in fresh.iter().enumerate() {
            cluster
                .produce(&topic, p as i32, std::slice::from_ref(v))
                .await;
        }
        eventually("ours consumes the new records", || async {
            let got: BTreeSet<String> = ours.values().into_iter().collect();
            fresh.iter().all(|v| got.contains(v))
        })
        .await;
        ours.close().await;
    }
    cluster.stop().await;
}
