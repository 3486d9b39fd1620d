//! `kafka-cli offsets TOPIC`: the earliest and latest offset of each partition, and how many
//! records lie between them.

use clap::Args;
use kafka_admin::{AdminClient, AdminOptions, OffsetSpec, TopicPartition};

use super::Context;
use crate::error::{CliError, CliResult};
use crate::table::Table;

/// `offsets`.
#[derive(Debug, Args)]
pub struct OffsetsArgs {
    /// The topic.
    pub topic: String,
}

/// Runs `offsets`.
pub async fn run(ctx: &Context, args: OffsetsArgs) -> CliResult {
    let admin = ctx.admin().await?;
    let options = ctx.admin_options();
    let partitions = partitions_of(&admin, &args.topic, &options).await?;
    let earliest = list(&admin, &partitions, OffsetSpec::Earliest, &options).await?;
    let latest = list(&admin, &partitions, OffsetSpec::Latest, &options).await?;
    let mut t = Table::new(["PARTITION", "EARLIEST", "LATEST", "RECORDS"]);
    for (i, tp) in partitions.iter().enumerate() {
        t.row([
            tp.partition.to_string(),
            earliest[i].to_string(),
            latest[i].to_string(),
            (latest[i] - earliest[i]).to_string(),
        ]);
    }
    t.print().map_err(|e| CliError::io("-", e))
}

/// The partitions of `topic`, in order; a topic that does not exist is an error.
pub async fn partitions_of(
    admin: &AdminClient,
    topic: &str,
    options: &AdminOptions,
) -> CliResult<Vec<TopicPartition>> {
    let mut found = admin.describe_topics([topic], options).await;
    let description = found
        .remove(topic)
        .unwrap_or_else(|| Err(kafka_admin::AdminError::Protocol("no answer".into())))
        .map_err(|e| CliError::admin(format!("describing topic {topic}"), e))?;
    let mut partitions: Vec<i32> = description.partitions.iter().map(|p| p.partition).collect();
    partitions.sort_unstable();
    Ok(partitions
        .into_iter()
        .map(|p| TopicPartition::new(topic, p))
        .collect())
}

/// The offsets `spec` finds for `partitions`, in the same order; any partition failing is
/// the command's error.
pub async fn list(
    admin: &AdminClient,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    options: &AdminOptions,
) -> CliResult<Vec<i64>> {
    let mut found = admin
        .list_offsets(partitions.iter().map(|tp| (tp.clone(), spec)), options)
        .await;
    partitions
        .iter()
        .map(|tp| {
            found
                .remove(tp)
                .unwrap_or_else(|| Err(kafka_admin::AdminError::Protocol("no answer".into())))
                .map(|o| o.offset)
                .map_err(|e| CliError::admin(format!("listing offsets of {tp}"), e))
        })
        .collect()
}
