//! The quickstart's logic: create a topic, produce keyed records, consume them with a group
//! of consumers, commit, and measure both directions.
//!
//! The group is formed first (all members joined and the partitions shared out), then the
//! producer runs while the group consumes, so the end-to-end latency (record timestamp to
//! receipt) is that of a live pipeline rather than the age of records produced earlier.
//!
//! `examples/quickstart.rs` runs it with a progress bar and prints the [`Summary`];
//! `tests/quickstart.rs` runs it with a small count and checks the summary. It returns a
//! typed error so either caller can say what failed.
//!
//! Counting: consumers in a group can receive a record twice around a rebalance (a partition
//! moves before its new offsets are committed: at-least-once). So "all consumed" means every
//! partition was read up to its end offset, tracked as the highest offset seen per
//! partition, and redeliveries are reported separately rather than counted as records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kafka_admin::{AdminClient, AdminError, AdminOptions, NewTopic};
use kafka_client::config::{ClientConfig, ConfigError};
use kafka_consumer::{Consumer, ConsumerConfig, ConsumerError};
use kafka_producer::{Producer, ProducerConfig, ProducerError, ProducerRecord};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bootstrap servers.
    pub bootstrap: String,
    /// The topic to create (it must not exist).
    pub topic: String,
    /// Records to produce.
    pub records: u64,
    /// Partitions of the topic.
    pub partitions: i32,
    /// Consumers in the group.
    pub consumers: usize,
    /// Bytes of each record's value.
    pub value_size: usize,
    /// Distinct keys (records with one key go to one partition, in order).
    pub keys: u64,
    /// Show progress bars on stderr.
    pub progress: bool,
    /// How long consuming may take before giving up.
    pub consume_timeout: Duration,
}

impl Options {
    /// The quickstart's defaults: 1M records of 100 bytes over 1000 keys, 6 partitions, 3
    /// consumers.
    pub fn new(bootstrap: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            topic: topic.into(),
            records: 1_000_000,
            partitions: 6,
            consumers: 3,
            value_size: 100,
            keys: 1000,
            progress: true,
            consume_timeout: Duration::from_secs(300),
        }
    }
}

/// Why the quickstart failed.
#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    /// A property was refused.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// An admin call failed.
    #[error("admin: {0}")]
    Admin(#[from] AdminError),
    /// The producer failed, or a record was not delivered.
    #[error("producer: {0}")]
    Producer(#[from] ProducerError),
    /// A consumer failed.
    #[error("consumer: {0}")]
    Consumer(#[from] ConsumerError),
    /// Consuming did not finish in time.
    #[error("consumed {consumed} of {expected} records before the {timeout:?} timeout")]
    Timeout {
        /// Records read so far.
        consumed: u64,
        /// Records produced.
        expected: u64,
        /// The limit.
        timeout: Duration,
    },
    /// A consumer task panicked or was cancelled.
    #[error("a consumer task failed: {0}")]
    Task(String),
}

/// What one consumer of the group did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerReport {
    /// Its number (1-based).
    pub id: usize,
    /// The partitions assigned to it at the end.
    pub final_assignment: BTreeSet<i32>,
    /// The partitions it received records from (a rebalance can move some).
    pub read_from: BTreeSet<i32>,
    /// Records it received (redeliveries included).
    pub received: u64,
}

/// The outcome.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The topic.
    pub topic: String,
    /// Records produced and acknowledged.
    pub produced: u64,
    /// Seconds from the first send to the last acknowledgement.
    pub produce_secs: f64,
    /// Distinct records consumed (every partition read to its end).
    pub consumed: u64,
    /// Records received again after a rebalance.
    pub redelivered: u64,
    /// Seconds from the first record received to the last.
    pub consume_secs: f64,
    /// Seconds the group took to form (every member joined, partitions shared out).
    pub group_secs: f64,
    /// End-to-end latency (record timestamp to receipt) percentiles, ms: p50, p95, p99, max.
    pub latency_ms: [f64; 4],
    /// Each consumer.
    pub consumers: Vec<ConsumerReport>,
}

impl Summary {
    /// Records per second produced.
    pub fn produce_rate(&self) -> f64 {
        self.produced as f64 / self.produce_secs.max(1e-6)
    }

    /// Records per second consumed.
    pub fn consume_rate(&self) -> f64 {
        self.consumed as f64 / self.consume_secs.max(1e-6)
    }

    /// Whether every produced record was consumed, and every partition was read by someone.
    pub fn totals_match(&self) -> bool {
        self.consumed == self.produced
    }

    /// The summary as the quickstart prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.consumers {
            out.push_str(&format!(
                "  consumer {}: partitions {:?}, {} records received\n",
                c.id, c.final_assignment, c.received
            ));
        }
        let [p50, p95, p99, max] = self.latency_ms;
        out.push_str(&format!(
            "group of {} formed in {:.2} s\n\
             produced {} records in {:.2} s ({:.0} records/s)\n\
             consumed {} records in {:.2} s ({:.0} records/s){}\n\
             total matches: {}\n\
             end-to-end latency: p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms, max {max:.1} ms\n",
            self.consumers.len(),
            self.group_secs,
            self.produced,
            self.produce_secs,
            self.produce_rate(),
            self.consumed,
            self.consume_secs,
            self.consume_rate(),
            if self.redelivered > 0 {
                format!(", {} redelivered after rebalances", self.redelivered)
            } else {
                String::new()
            },
            if self.totals_match() { "yes" } else { "NO" },
        ));
        out
    }
}

/// Runs the quickstart against `options.bootstrap`.
pub async fn run(options: &Options) -> Result<Summary, QuickstartError> {
    let client = ClientConfig::new()
        .set("bootstrap.servers", &options.bootstrap)?
        .set("client.id", "quickstart")?;
    let admin = AdminClient::connect(client).await?;
    // The cluster's default replication factor, so this works on any cluster.
    let mut topic = NewTopic::with_defaults(&options.topic);
    topic.num_partitions = Some(options.partitions);
    let created = admin.create_topics([topic], &AdminOptions::new()).await;
    for (_, result) in created {
        result?;
    }
    admin.close();

    let bars = if options.progress {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    };
    let group = start_group(options, &bars).await?;
    let (produced, produce_secs) = produce(options, &bars).await?;
    let consumed = finish_group(options, group).await?;
    let mut latencies = consumed.latencies;
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((p * latencies.len() as f64) as usize).min(latencies.len() - 1);
        f64::from(latencies[i])
    };
    Ok(Summary {
        topic: options.topic.clone(),
        produced,
        produce_secs,
        consumed: consumed.unique,
        redelivered: consumed.received.saturating_sub(consumed.unique),
        consume_secs: consumed.secs,
        group_secs: consumed.group_secs,
        latency_ms: [
            pct(0.50),
            pct(0.95),
            pct(0.99),
            latencies.last().map_or(0.0, |&l| f64::from(l)),
        ],
        consumers: consumed.reports,
    })
}

/// A progress bar under `bars`; the producer's goes first, above the group's (which is made
/// earlier, as the group forms before producing starts).
fn bar(bars: &MultiProgress, len: u64, what: &str) -> ProgressBar {
    let bar = if what == "produced" {
        bars.insert(0, ProgressBar::new(len))
    } else {
        bars.add(ProgressBar::new(len))
    };
    let style = ProgressStyle::with_template(&format!(
        "{what:>9} [{{bar:40}}] {{pos:>9}}/{{len}} {{elapsed}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Produces the records; returns how many were acknowledged and how long it took.
async fn produce(options: &Options, bars: &MultiProgress) -> Result<(u64, f64), QuickstartError> {
    let config = ProducerConfig::new()
        .set("bootstrap.servers", &options.bootstrap)?
        .set("client.id", "quickstart-producer")?
        .set("linger.ms", "5")?;
    let producer = Producer::connect(config).await?;
    // What the callbacks update, behind one `Arc`: each callback holds one clone, which the
    // producer's sender task drops (a clone per shared value would be three atomic updates
    // per record on counters the sending thread also touches).
    let tally = Arc::new(Tally {
        acked: AtomicU64::new(0),
        failure: Mutex::new(None),
        progress: bar(bars, options.records, "produced"),
    });
    let value = bytes::Bytes::from(vec![b'x'; options.value_size]);
    let start = Instant::now();
    for i in 0..options.records {
        let record = ProducerRecord::new(options.topic.clone(), value.clone())
            .with_key(format!("key-{}", i % options.keys.max(1)));
        let tally = tally.clone();
        producer
            .send_with_callback(record, move |result| tally.record(result.err()))
            .await?;
    }
    producer.flush().await;
    let secs = start.elapsed().as_secs_f64();
    tally
        .progress
        .set_position(tally.acked.load(Ordering::Relaxed));
    tally.progress.finish();
    producer.close(Duration::from_secs(30)).await?;
    if let Some(e) = tally.failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e.into());
    }
    Ok((tally.acked.load(Ordering::Relaxed), secs))
}

/// Delivery outcomes, as the producer's callbacks report them.
struct Tally {
    acked: AtomicU64,
    failure: Mutex<Option<ProducerError>>,
    progress: ProgressBar,
}

impl Tally {
    fn record(&self, error: Option<ProducerError>) {
        match error {
            None => {
                // The bar is redrawn from the count now and then, not at every record.
                let n = self.acked.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(1024) {
                    self.progress.set_position(n);
                }
            }
            Some(e) => {
                if let Ok(mut f) = self.failure.lock() {
                    f.get_or_insert(e);
                }
            }
        }
    }
}

/// What the group of consumers read.
struct Consumed {
    unique: u64,
    received: u64,
    secs: f64,
    group_secs: f64,
    latencies: Vec<u32>,
    reports: Vec<ConsumerReport>,
}

/// State the consumer tasks share.
struct Shared {
    /// The highest offset read per partition (-1: none yet).
    high: Vec<AtomicI64>,
    expected: u64,
    done: AtomicBool,
    progress: ProgressBar,
    /// When the first and the latest record arrived.
    first_last: Mutex<Option<(Instant, Instant)>>,
    /// Every member commits before any leaves: a member leaving rebalances the group, and a
    /// commit from the previous generation would be refused.
    committed: tokio::sync::Barrier,
}

impl Shared {
    /// Distinct records read: the topic is new, so partition p holds offsets 0..=high[p].
    fn unique(&self) -> u64 {
        self.high
            .iter()
            .map(|h| (h.load(Ordering::Relaxed) + 1) as u64)
            .sum()
    }
}

/// What a member task returns: its report and the latencies (ms) it measured.
type MemberResult = Result<(ConsumerReport, Vec<u32>), QuickstartError>;

/// The running group: its tasks and what they share.
struct Group {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<MemberResult>>,
    group_secs: f64,
}

/// Starts the consumers, waits for the group to form, and sets them reading.
async fn start_group(options: &Options, bars: &MultiProgress) -> Result<Group, QuickstartError> {
    let group = format!("{}-group", options.topic);
    let shared = Arc::new(Shared {
        high: (0..options.partitions)
            .map(|_| AtomicI64::new(-1))
            .collect(),
        expected: options.records,
        done: AtomicBool::new(false),
        progress: bar(bars, options.records, "consumed"),
        first_last: Mutex::new(None),
        committed: tokio::sync::Barrier::new(options.consumers),
    });
    let start = Instant::now();
    let mut members = Vec::new();
    for id in 1..=options.consumers {
        let config = ConsumerConfig::new()
            .set("bootstrap.servers", &options.bootstrap)?
            .set("client.id", &format!("quickstart-consumer-{id}"))?
            .set("group.id", &group)?
            .set("auto.offset.reset", "earliest")?;
        let mut consumer = Consumer::new(config).await?;
        consumer.subscribe([options.topic.as_str()])?;
        members.push(consumer);
    }
    settle(&members, options.partitions).await;
    let group_secs = start.elapsed().as_secs_f64();
    let tasks = members
        .into_iter()
        .enumerate()
        .map(|(i, consumer)| tokio::spawn(consume_one(i + 1, consumer, shared.clone())))
        .collect();
    Ok(Group {
        shared,
        tasks,
        group_secs,
    })
}

/// Waits for the group to read everything, then gathers what each member did.
async fn finish_group(options: &Options, group: Group) -> Result<Consumed, QuickstartError> {
    let Group {
        shared,
        tasks,
        group_secs,
    } = group;
    let all = async {
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await);
        }
        results
    };
    let results = match tokio::time::timeout(options.consume_timeout, all).await {
        Ok(r) => r,
        Err(_) => {
            shared.done.store(true, Ordering::Relaxed);
            return Err(QuickstartError::Timeout {
                consumed: shared.unique(),
                expected: options.records,
                timeout: options.consume_timeout,
            });
        }
    };
    shared.progress.finish();
    let secs = shared
        .first_last
        .lock()
        .ok()
        .and_then(|fl| *fl)
        .map_or(0.0, |(first, last)| {
            last.duration_since(first).as_secs_f64()
        });
    let mut consumed = Consumed {
        unique: shared.unique(),
        received: 0,
        secs,
        group_secs,
        latencies: Vec::new(),
        reports: Vec::new(),
    };
    for r in results {
        let (report, mut latencies) = r.map_err(|e| QuickstartError::Task(e.to_string()))??;
        consumed.received += report.received;
        consumed.latencies.append(&mut latencies);
        consumed.reports.push(report);
    }
    Ok(consumed)
}

/// Waits (up to 15 s) until the group has shared the partitions out among all its members.
///
/// Members join in the background, one after the other; the first to join gets every
/// partition until the next one's rebalance, and on a fast machine it can read everything
/// before the others arrive. Waiting shows the group as it runs steadily. If it does not
/// settle in time, consuming starts anyway: the group rebalances as it goes.
async fn settle(members: &[Consumer], partitions: i32) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let sizes: Vec<usize> = members.iter().map(|c| c.assignment().len()).collect();
        if sizes.iter().all(|&n| n > 0) && sizes.iter().sum::<usize>() == partitions as usize {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One member of the group: reads until the group has read everything, then commits and
/// leaves.
async fn consume_one(id: usize, mut consumer: Consumer, shared: Arc<Shared>) -> MemberResult {
    let mut read_from = BTreeSet::new();
    let mut latencies = Vec::new();
    let mut received = 0u64;
    let mut batch = Vec::new();
    while !shared.done.load(Ordering::Relaxed) {
        batch.clear();
        consumer
            .poll_into(Duration::from_millis(100), &mut batch)
            .await?;
        let now = now_ms();
        let mut highest: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &batch {
            latencies.push(u32::try_from((now - r.timestamp).max(0)).unwrap_or(u32::MAX));
            read_from.insert(r.partition);
            let h = highest.entry(r.partition).or_insert(-1);
            *h = (*h).max(r.offset);
        }
        received += batch.len() as u64;
        if !batch.is_empty()
            && let Ok(mut fl) = shared.first_last.lock()
        {
            let now = Instant::now();
            *fl = Some(fl.map_or((now, now), |(first, _)| (first, now)));
        }
        for (p, offset) in highest {
            if let Some(slot) = shared.high.get(p as usize) {
                let before = slot.fetch_max(offset, Ordering::Relaxed);
                if offset > before {
                    shared.progress.inc((offset - before) as u64);
                }
            }
        }
        if shared.unique() >= shared.expected {
            shared.done.store(true, Ordering::Relaxed);
        }
    }
    let final_assignment = consumer
        .assignment()
        .iter()
        .map(|tp| tp.partition)
        .collect();
    let committed = consumer.commit_sync().await;
    shared.committed.wait().await;
    committed?;
    consumer.close().await?;
    Ok((
        ConsumerReport {
            id,
            final_assignment,
            read_from,
            received,
        },
        latencies,
    ))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
