//! `kafka-cli consume -t TOPIC [-g GROUP] [-o SPEC] [-p N] [-c COUNT] [-e] [-f FORMAT]`.
//!
//! Without `-g` the consumer assigns itself the topic's partitions (or `-p N`) and starts
//! where `-o` says: `beginning` (the default), `end`, an offset, `-N` (N before the end) or
//! `@TIME`; nothing is committed. With `-g` it joins the group, which assigns the
//! partitions and resumes from the group's committed offsets; `-o beginning|end` then only
//! says where to start in a partition with no committed offset (`auto.offset.reset`), and
//! the offsets of printed records are committed (auto-commit, and on exit).
//!
//! It stops after `-c COUNT` records, at the end of every assigned partition with `-e`, on
//! SIGINT/SIGTERM, or when stdout closes (`| head`); in each case it closes the consumer
//! cleanly, leaving the group and committing only what was printed.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use kafka_consumer::{Consumer, ConsumerConfig, ConsumerError, ConsumerRecord, TopicPartition};

use super::Context;
use super::offsets::partitions_of;
use crate::error::{CliError, CliResult};
use crate::format::{RecordView, Template};
use crate::offset_spec::StartOffset;
use crate::signals::{ShutdownSignals, stdout_closed};

/// How long one poll waits before the loop checks `-e` and signals again.
const POLL: Duration = Duration::from_millis(250);

/// `consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// The topic.
    #[arg(short, long)]
    pub topic: String,
    /// Consume as a member of this group (committing offsets).
    #[arg(short, long)]
    pub group: Option<String>,
    /// Where to start: beginning, end, OFFSET, -N (N before the end) or @TIME (epoch ms or
    /// ISO-8601). With -g only beginning or end, for partitions without a committed offset.
    /// [default: beginning]
    #[arg(short, long, value_name = "SPEC", allow_hyphen_values = true)]
    pub offset: Option<StartOffset>,
    /// Only this partition (not with -g).
    #[arg(short, long, value_name = "N", conflicts_with = "group")]
    pub partition: Option<i32>,
    /// Stop after COUNT records.
    #[arg(short, long, value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop at the end of every assigned partition.
    #[arg(short, long = "exit")]
    pub exit_at_end: bool,
    /// How to print each record: %t topic, %p partition, %o offset, %k key, %s value,
    /// %h headers, %T timestamp (ms), %K/%S key/value length, \n \t escapes.
    #[arg(short, long, default_value = "%s", value_parser = Template::parse)]
    pub format: Template,
}

/// Runs `consume`.
pub async fn run(ctx: &Context, args: ConsumeArgs) -> CliResult {
    let mut signals = ShutdownSignals::install().map_err(|e| CliError::io("signals", e))?;
    let mut consumer = match &args.group {
        Some(group) => join(ctx, group, &args).await?,
        None => assign(ctx, &args).await?,
    };
    let mut printed = 0u64;
    let mut buf = String::new();
    let reader_gone = stdout_closed();
    tokio::pin!(reader_gone);
    let outcome = loop {
        let batch = tokio::select! {
            _ = signals.wait() => break Ok(()),
            // The reader went away (`| head`) while nothing was arriving to write.
            () = &mut reader_gone => break Ok(()),
            batch = consumer.poll(POLL) => batch,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => break Err(consumer_error("consuming", e)),
        };
        buf.clear();
        let mut unprinted = None;
        for (i, record) in batch.iter().enumerate() {
            if args.count.is_some_and(|c| printed >= c) {
                unprinted = Some(&batch[i..]);
                break;
            }
            render(&args.format, record, &mut buf);
            printed += 1;
        }
        if let Err(e) = write_out(&buf) {
            // The reader went away (`| head`): a normal way to stop.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break Ok(());
            }
            break Err(CliError::io("-", e));
        }
        if let Some(rest) = unprinted {
            rewind(&mut consumer, rest);
        }
        if args.count.is_some_and(|c| printed >= c) || (args.exit_at_end && at_end(&consumer)) {
            break Ok(());
        }
    };
    let closed = consumer.close().await;
    outcome?;
    closed.map_err(|e| consumer_error("closing the consumer", e))
}

/// A consumer with the command line's properties plus `extra`.
async fn connect(ctx: &Context, extra: &[(&str, &str)]) -> CliResult<Consumer> {
    let bootstrap = ctx.props.require_bootstrap()?.to_owned();
    let mut props = ctx.props.clone();
    for (name, value) in extra {
        props = props.with(name, value);
    }
    let mut config = ConsumerConfig::new();
    props.apply(&mut config)?;
    Consumer::new(config)
        .await
        .map_err(|e| start_error(&bootstrap, e))
}

/// Sorts a consumer's start-up failure like the admin client's (see `connect_error`).
pub fn start_error(bootstrap: &str, e: ConsumerError) -> CliError {
    match e {
        ConsumerError::Config(source) => CliError::Config {
            origin: "consumer configuration".into(),
            source,
        },
        ConsumerError::Client(source) => match source.kind() {
            kafka_client::ErrorKind::Config(c) => CliError::Config {
                origin: "consumer configuration".into(),
                source: c.clone(),
            },
            _ => CliError::Unreachable {
                bootstrap: bootstrap.to_owned(),
                source,
            },
        },
        other => consumer_error("starting the consumer", other),
    }
}

/// A failed consumer call as a runtime error.
pub fn consumer_error(what: &str, e: ConsumerError) -> CliError {
    CliError::Failed(format!("{what}: {e}"))
}

/// Joins `group` and subscribes.
async fn join(ctx: &Context, group: &str, args: &ConsumeArgs) -> CliResult<Consumer> {
    let reset = match args.offset {
        Some(StartOffset::Beginning) => Some("earliest"),
        Some(StartOffset::End) => Some("latest"),
        None if ctx.props.is_set("auto.offset.reset") => None,
        None => Some("earliest"),
        Some(_) => {
            return Err(CliError::usage(
                "with -g, -o takes beginning or end (where the group has no committed offset)",
            ));
        }
    };
    let mut extra = vec![("group.id", group)];
    if let Some(r) = reset {
        extra.push(("auto.offset.reset", r));
    }
    let mut consumer = connect(ctx, &extra).await?;
    consumer
        .subscribe([args.topic.as_str()])
        .map_err(|e| consumer_error("subscribing", e))?;
    Ok(consumer)
}

/// Assigns the topic's partitions (or `-p`) and seeks to `-o`.
async fn assign(ctx: &Context, args: &ConsumeArgs) -> CliResult<Consumer> {
    // No group: nothing to commit to.
    let mut consumer = connect(ctx, &[("enable.auto.commit", "false")]).await?;
    let admin = ctx.admin().await?;
    let mut partitions: Vec<TopicPartition> =
        partitions_of(&admin, &args.topic, &ctx.admin_options()).await?;
    admin.close();
    if let Some(p) = args.partition {
        if !partitions.iter().any(|tp| tp.partition == p) {
            return Err(CliError::Failed(format!(
                "topic {} has no partition {p} (it has {})",
                args.topic,
                partitions.len()
            )));
        }
        partitions.retain(|tp| tp.partition == p);
    }
    consumer
        .assign(partitions.clone())
        .map_err(|e| consumer_error("assigning", e))?;
    let seek = |e| consumer_error("seeking", e);
    match args.offset.unwrap_or(StartOffset::Beginning) {
        StartOffset::Beginning => consumer
            .seek_to_beginning(partitions.clone())
            .map_err(seek)?,
        StartOffset::End => consumer.seek_to_end(partitions.clone()).map_err(seek)?,
        StartOffset::Absolute(n) => {
            for tp in &partitions {
                consumer.seek(tp, n).map_err(seek)?;
            }
        }
        StartOffset::FromEnd(n) => {
            let lookup = |e| consumer_error("looking up offsets", e);
            let begin = consumer
                .beginning_offsets(partitions.clone())
                .await
                .map_err(lookup)?;
            let end = consumer
                .end_offsets(partitions.clone())
                .await
                .map_err(lookup)?;
            for tp in &partitions {
                let (b, e) = (begin.get(tp).copied(), end.get(tp).copied());
                let start = e.unwrap_or(0).saturating_sub(n).max(b.unwrap_or(0));
                consumer.seek(tp, start).map_err(seek)?;
            }
        }
        StartOffset::Timestamp(ts) => {
            let found = consumer
                .offsets_for_times(partitions.iter().map(|tp| (tp.clone(), ts)))
                .await
                .map_err(|e| consumer_error("looking up offsets by time", e))?;
            let end = consumer
                .end_offsets(partitions.clone())
                .await
                .map_err(|e| consumer_error("looking up offsets", e))?;
            for tp in &partitions {
                // No record that late: start at the end.
                let start = match found.get(tp).copied().flatten() {
                    Some(o) => o.offset,
                    None => end.get(tp).copied().unwrap_or(0),
                };
                consumer.seek(tp, start).map_err(seek)?;
            }
        }
    }
    Ok(consumer)
}

fn render(template: &Template, r: &ConsumerRecord, out: &mut String) {
    let headers: Vec<(&str, Option<&[u8]>)> = r
        .headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_deref()))
        .collect();
    template.render(
        &RecordView {
            topic: r.topic(),
            partition: r.partition,
            offset: r.offset,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: &headers,
            timestamp: r.timestamp,
        },
        out,
    );
}

fn write_out(text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Moves each partition back to its first record that was handed out but not printed, so
/// closing commits only what was printed.
fn rewind(consumer: &mut Consumer, unprinted: &[ConsumerRecord]) {
    let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in unprinted {
        first.entry(r.topic_partition()).or_insert(r.offset);
    }
    for (tp, offset) in first {
        let _ = consumer.seek(&tp, offset);
    }
}

/// Whether every assigned partition has been read to its end (as of the last fetch).
fn at_end(consumer: &Consumer) -> bool {
    let assigned = consumer.assignment();
    !assigned.is_empty() && assigned.iter().all(|tp| consumer.lag(tp) == Some(0))
}
