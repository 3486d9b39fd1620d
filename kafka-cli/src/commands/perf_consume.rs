//! `kafka-cli perf consume -t TOPIC --num-records N [-g GROUP] [--timeout MS] [--json]`:
//! Kafka's `kafka-consumer-perf-test`.
//!
//! A consumer joins a fresh group (unless `-g` names one) and reads the topic from the
//! beginning until N records arrived. Latency is end to end: the time a record is received
//! minus its timestamp (its create time, when the producer set it), so with a concurrent
//! `perf produce` it measures the whole path; over old data it mostly measures the data's
//! age. The run fails if no record arrives for `--timeout` ms before N are read.
//!
//! Throughput is over Kafka's "fetch time": from the moment the group assigned the
//! partitions to the last record, so joining the group does not count, and waiting for
//! records that never came does not either.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use kafka_consumer::{
    BoxFuture, Consumer, ConsumerConfig, RebalanceContext, RebalanceListener, TopicPartition,
};
use serde_json::json;

use super::Context;
use super::consume::{consumer_error, start_error};
use super::perf::{spawn_progress, stop_flag};
use crate::error::{CliError, CliResult};
use crate::perf::stats::Stats;

/// `perf consume`.
#[derive(Debug, Args)]
pub struct PerfConsumeArgs {
    /// The topic.
    #[arg(short, long)]
    pub topic: String,
    /// How many records to read.
    #[arg(long, value_name = "N")]
    pub num_records: u64,
    /// The consumer group [default: a new one per run].
    #[arg(short, long)]
    pub group: Option<String>,
    /// Give up when no record arrives for this long (ms).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `perf consume`.
pub async fn run(ctx: &Context, args: PerfConsumeArgs) -> CliResult {
    let stop = stop_flag()?;
    let bootstrap = ctx.props.require_bootstrap()?.to_owned();
    let group = args.group.clone().unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("kafka-cli-perf-{}-{now}", std::process::id())
    });
    let props = ctx
        .props
        .clone()
        .with("group.id", &group)
        .with("auto.offset.reset", "earliest");
    let mut config = ConsumerConfig::new();
    props.apply(&mut config)?;
    let assigned = AssignedAt::default();
    let mut consumer = Consumer::builder(config)
        .listener(assigned.clone())
        .build()
        .await
        .map_err(|e| start_error(&bootstrap, e))?;
    consumer
        .subscribe([args.topic.as_str()])
        .map_err(|e| consumer_error("subscribing", e))?;

    let stats = Arc::new(Mutex::new(Stats::new(args.num_records)));
    let progress = spawn_progress(stats.clone(), "consumed");
    let idle_limit = Duration::from_millis(args.timeout);
    let start = Instant::now();
    let mut last_record = Instant::now();
    let mut first_record: Option<Instant> = None;
    let mut count = 0u64;
    let mut batch = Vec::new();
    let outcome = loop {
        if count >= args.num_records || stop.load(std::sync::atomic::Ordering::Relaxed) {
            break Ok(());
        }
        batch.clear();
        if let Err(e) = consumer
            .poll_into(Duration::from_millis(100), &mut batch)
            .await
        {
            break Err(consumer_error("consuming", e));
        }
        let now_ms = epoch_ms();
        if batch.is_empty() {
            if last_record.elapsed() >= idle_limit {
                break Err(CliError::Failed(format!(
                    "only {count} of {} record(s) arrived; none for {} ms",
                    args.num_records, args.timeout
                )));
            }
            continue;
        }
        last_record = Instant::now();
        first_record.get_or_insert(last_record);
        if let Ok(mut s) = stats.lock() {
            for r in batch.iter().take((args.num_records - count) as usize) {
                let age = u64::try_from(now_ms - r.timestamp).unwrap_or(0);
                let size =
                    r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
                s.record(Duration::from_millis(age), size);
            }
        }
        count = (count + batch.len() as u64).min(args.num_records);
    };
    drop(progress);
    // From the assignment (or, had none been seen, the start) to the last record. Not from
    // the first record: a small topic arrives in one fetch, and timing from its first
    // record to its last would measure nothing.
    let fetch_start = assigned.get().unwrap_or(start);
    let elapsed = first_record
        .map_or(start.elapsed(), |_| {
            last_record.saturating_duration_since(fetch_start)
        })
        .max(Duration::from_millis(1));
    let joined_after = first_record.map(|t| t.duration_since(start));
    let _ = consumer.close().await;
    if let Ok(s) = stats.lock() {
        let summary = s.summary(elapsed);
        if args.json {
            let mut j = summary.json();
            j["type"] = json!("consume");
            j["topic"] = json!(args.topic);
            j["group"] = json!(group);
            j["requested_records"] = json!(args.num_records);
            j["assigned_after_secs"] = json!(
                assigned
                    .get()
                    .map(|t| t.duration_since(start).as_secs_f64())
            );
            j["first_record_after_secs"] = json!(joined_after.map(|d| d.as_secs_f64()));
            println!("{j}");
        } else {
            println!("{}", summary.text("consumed"));
        }
    }
    outcome
}

/// When the group first assigned partitions to this consumer.
#[derive(Debug, Clone, Default)]
struct AssignedAt(Arc<Mutex<Option<Instant>>>);

impl AssignedAt {
    fn get(&self) -> Option<Instant> {
        self.0.lock().ok().and_then(|t| *t)
    }
}

impl RebalanceListener for AssignedAt {
    fn on_partitions_assigned<'a>(
        &'a self,
        _ctx: &'a RebalanceContext,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        if !partitions.is_empty()
            && let Ok(mut at) = self.0.lock()
        {
            at.get_or_insert_with(Instant::now);
        }
        Box::pin(async {})
    }
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
