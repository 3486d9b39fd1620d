//! `kafka-cli groups list|describe|delete|reset-offsets`.
//!
//! `describe` prints what `kafka-consumer-groups.sh --describe` does: per partition the
//! committed offset, the log end offset, the lag and the member consuming it, after a line
//! with the group's state, coordinator and assignor. `reset-offsets` lives in
//! `groups_reset.rs`.

use std::collections::{BTreeMap, HashMap};

use clap::Subcommand;
use kafka_admin::{
    AdminClient, AdminOptions, ConsumerGroupDescription, OffsetSpec, TopicPartition,
};

use super::groups_reset::{self, ResetArgs};
use super::{Context, finish_items};
use crate::error::{CliError, CliResult};
use crate::table::Table;

/// `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List consumer groups with their state.
    List,
    /// Describe groups: state, members, and per partition the committed offset and lag.
    Describe {
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Delete groups and their committed offsets (they must have no members).
    Delete {
        /// The groups.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Move a group's committed offsets (the group must have no members).
    ResetOffsets(ResetArgs),
}

/// Runs a `groups` subcommand.
pub async fn run(ctx: &Context, cmd: GroupsCommand) -> CliResult {
    let admin = ctx.admin().await?;
    let options = ctx.admin_options();
    match cmd {
        GroupsCommand::List => {
            let listings = admin
                .list_consumer_groups(&[], &options)
                .await
                .map_err(|e| CliError::admin("listing groups", e))?;
            for (broker, e) in &listings.errors {
                eprintln!("kafka-cli: warning: broker {broker} did not list its groups: {e}");
            }
            let mut groups = listings.groups;
            groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
            let mut t = Table::new(["GROUP", "STATE", "PROTOCOL"]);
            for g in groups {
                t.row([
                    g.group_id,
                    g.state.map(|s| s.to_string()).unwrap_or_default(),
                    g.protocol_type,
                ]);
            }
            t.print().map_err(|e| CliError::io("-", e))
        }
        GroupsCommand::Describe { groups } => {
            let found = admin
                .describe_consumer_groups(groups.clone(), &options)
                .await;
            let mut described = Vec::new();
            for (group, result) in found {
                let outcome = match result {
                    Ok(d) => describe_offsets(&admin, &d, &options)
                        .await
                        .map(|rows| (d, rows)),
                    Err(e) => Err(e),
                };
                described.push((group, outcome));
            }
            finish_items(described, "describing group", |_, (d, rows)| {
                print_group(&d, &rows)
            })
        }
        GroupsCommand::Delete { groups } => {
            let results = admin.delete_consumer_groups(groups, &options).await;
            finish_items(results, "deleting group", |name, ()| {
                println!("deleted group {name}")
            })
        }
        GroupsCommand::ResetOffsets(args) => groups_reset::run(&admin, &options, args).await,
    }
}

/// One line of a group's offsets table.
struct OffsetRow {
    tp: TopicPartition,
    committed: Option<i64>,
    end: Option<i64>,
    member: Option<(String, String, String)>,
}

/// The committed offsets of a group, the log end offsets of those partitions, and which
/// member holds each: what `describe` prints.
async fn describe_offsets(
    admin: &AdminClient,
    d: &ConsumerGroupDescription,
    options: &AdminOptions,
) -> Result<Vec<OffsetRow>, kafka_admin::AdminError> {
    let committed = admin
        .list_consumer_group_offsets(&d.group_id, None, options)
        .await?;
    let mut owners: HashMap<TopicPartition, (String, String, String)> = HashMap::new();
    for m in &d.members {
        for tp in m.assignment.iter().flat_map(|a| &a.partitions) {
            owners.insert(
                tp.clone(),
                (
                    m.member_id.clone(),
                    m.client_host.clone(),
                    m.client_id.clone(),
                ),
            );
        }
    }
    let mut partitions: BTreeMap<(String, i32), TopicPartition> = BTreeMap::new();
    for tp in committed.keys().chain(owners.keys()) {
        partitions.insert((tp.topic.clone(), tp.partition), tp.clone());
    }
    let mut ends = admin
        .list_offsets(
            partitions
                .values()
                .map(|tp| (tp.clone(), OffsetSpec::Latest)),
            options,
        )
        .await;
    Ok(partitions
        .into_values()
        .map(|tp| OffsetRow {
            committed: committed
                .get(&tp)
                .and_then(|r| r.as_ref().ok())
                .and_then(|o| o.as_ref())
                .map(|o| o.offset),
            end: ends.remove(&tp).and_then(Result::ok).map(|o| o.offset),
            member: owners.remove(&tp),
            tp,
        })
        .collect())
}

fn print_group(d: &ConsumerGroupDescription, rows: &[OffsetRow]) {
    let coordinator = d.coordinator.as_ref().map_or_else(
        || "-".to_owned(),
        |b| format!("{} ({}:{})", b.id, b.host, b.port),
    );
    println!(
        "Group: {}\tState: {}\tCoordinator: {}\tAssignor: {}\tMembers: {}",
        d.group_id,
        d.state,
        coordinator,
        if d.partition_assignor.is_empty() {
            "-"
        } else {
            &d.partition_assignor
        },
        d.members.len()
    );
    let mut t = Table::new([
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let lag = match (r.committed, r.end) {
            (Some(c), Some(e)) => Some((e - c).max(0)),
            _ => None,
        };
        let (member, host, client) = r.member.clone().unwrap_or_default();
        t.row([
            r.tp.topic.clone(),
            r.tp.partition.to_string(),
            opt(r.committed),
            opt(r.end),
            opt(lag),
            member,
            host,
            client,
        ]);
    }
    let _ = t.print();
}
