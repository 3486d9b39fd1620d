//! `kafka-cli groups reset-offsets GROUP --topic T (--to-earliest | --to-latest |
//! --to-offset N | --to-datetime TIME) [--dry-run]`.
//!
//! Like `kafka-consumer-groups.sh --reset-offsets`, the group must have no members: a running
//! consumer would overwrite the new offsets with its next commit, and the broker refuses
//! commits from outside an active generation anyway. Unlike it, the reset is carried out
//! unless `--dry-run` is given (the Kafka tool's default is the dry run, which surprises).
//! An offset outside a partition's log is clamped to its start or end, as Kafka does.

use clap::{ArgGroup, Args};
use kafka_admin::{AdminClient, AdminOptions, GroupState, OffsetAndMetadata, OffsetSpec};
use kafka_protocol::ErrorCode;

use super::finish_items;
use super::offsets::{list, partitions_of};
use crate::error::{CliError, CliResult};
use crate::offset_spec::parse_time_ms;
use crate::table::Table;

/// `groups reset-offsets`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true)))]
pub struct ResetArgs {
    /// The group.
    pub group: String,
    /// The topic whose offsets to reset. Repeatable.
    #[arg(long = "topic", short = 't', required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// To each partition's first offset.
    #[arg(long, group = "target")]
    pub to_earliest: bool,
    /// To each partition's end (skip everything not yet consumed).
    #[arg(long, group = "target")]
    pub to_latest: bool,
    /// To this offset in every partition (clamped to the log).
    #[arg(long, group = "target", value_name = "N")]
    pub to_offset: Option<i64>,
    /// To the first record at or after this time: epoch ms or ISO-8601
    /// (2024-05-01T12:00:00Z; UTC unless an offset is given).
    #[arg(long, group = "target", value_name = "TIME", value_parser = parse_time_ms)]
    pub to_datetime: Option<i64>,
    /// Print the new offsets without committing them.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `groups reset-offsets`.
pub async fn run(admin: &AdminClient, options: &AdminOptions, args: ResetArgs) -> CliResult {
    ensure_inactive(admin, options, &args.group).await?;
    let mut plan = Vec::new();
    for topic in &args.topics {
        let partitions = partitions_of(admin, topic, options).await?;
        let earliest = list(admin, &partitions, OffsetSpec::Earliest, options).await?;
        let latest = list(admin, &partitions, OffsetSpec::Latest, options).await?;
        let wanted = if args.to_earliest {
            earliest.clone()
        } else if args.to_latest {
            latest.clone()
        } else if let Some(n) = args.to_offset {
            vec![n; partitions.len()]
        } else if let Some(ts) = args.to_datetime {
            let found = list(admin, &partitions, OffsetSpec::Timestamp(ts), options).await?;
            // -1: no record that late, so the position is the end.
            found
                .iter()
                .zip(&latest)
                .map(|(&f, &l)| if f < 0 { l } else { f })
                .collect()
        } else {
            unreachable!("clap requires one target")
        };
        for (i, tp) in partitions.into_iter().enumerate() {
            plan.push((tp, wanted[i].clamp(earliest[i], latest[i])));
        }
    }
    let mut t = Table::new(["TOPIC", "PARTITION", "NEW-OFFSET"]);
    for (tp, offset) in &plan {
        t.row([
            tp.topic.clone(),
            tp.partition.to_string(),
            offset.to_string(),
        ]);
    }
    t.print().map_err(|e| CliError::io("-", e))?;
    if args.dry_run {
        eprintln!("dry run: nothing committed");
        return Ok(());
    }
    let results = admin
        .alter_consumer_group_offsets(
            &args.group,
            plan.into_iter()
                .map(|(tp, o)| (tp, OffsetAndMetadata::new(o))),
            options,
        )
        .await;
    finish_items(
        results.into_iter().map(|(tp, r)| (tp.to_string(), r)),
        "resetting the offset of",
        |_, ()| {},
    )?;
    eprintln!("reset the offsets of group {}", args.group);
    Ok(())
}

/// Refuses a group that has members; a group that does not exist yet is fine (the reset
/// creates its offsets).
async fn ensure_inactive(admin: &AdminClient, options: &AdminOptions, group: &str) -> CliResult {
    let mut found = admin.describe_consumer_groups([group], options).await;
    match found.remove(group) {
        Some(Ok(d)) if d.members.is_empty() => Ok(()),
        Some(Ok(d)) if matches!(d.state, GroupState::Empty | GroupState::Dead) => Ok(()),
        Some(Ok(d)) => Err(CliError::Failed(format!(
            "group {group} is {} with {} member(s): stop its consumers before resetting its offsets",
            d.state,
            d.members.len()
        ))),
        Some(Err(e)) if e.code() == Some(ErrorCode::GroupIdNotFound) => Ok(()),
        Some(Err(e)) => Err(CliError::admin(format!("describing group {group}"), e)),
        None => Err(CliError::Failed(format!("group {group} was not described"))),
    }
}
