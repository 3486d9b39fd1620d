//! `kafka-cli topics list|describe|create|delete|alter`.
//!
//! `describe` prints what `kafka-topics.sh --describe` does: a summary line per topic with
//! its overridden configs, then one line per partition with leader, replicas and ISR.

use std::collections::{BTreeMap, HashMap};

use clap::{Args, Subcommand};
use kafka_admin::{
    AdminError, AlterConfigOp, ConfigResource, ConfigSource, NewPartitions, NewTopic,
    TopicDescription,
};
use kafka_protocol::ErrorCode;

use super::{Context, finish_items, parse_key_value};
use crate::error::{CliError, CliResult};
use crate::table::Table;

/// `topics` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// List topic names, one a line.
    List {
        /// Include internal topics (__consumer_offsets, ...).
        #[arg(long)]
        internal: bool,
    },
    /// Describe topics (all of them when none is named).
    Describe(DescribeArgs),
    /// Create a topic.
    Create(CreateArgs),
    /// Delete topics.
    Delete(DeleteArgs),
    /// Change a topic's configs or grow its partition count.
    Alter(AlterArgs),
}

/// `topics describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Topics to describe.
    pub topics: Vec<String>,
    /// Show every config, not only those set on the topic.
    #[arg(long)]
    pub all_configs: bool,
}

/// `topics create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The topic.
    pub topic: String,
    /// Partition count (default: the broker's num.partitions).
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Replication factor (default: the broker's default.replication.factor).
    #[arg(long, value_name = "N")]
    pub replication_factor: Option<i16>,
    /// A topic config, e.g. --config retention.ms=60000. Repeatable.
    #[arg(long = "config", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    pub configs: Vec<(String, String)>,
    /// Succeed if the topic already exists.
    #[arg(long)]
    pub if_not_exists: bool,
}

/// `topics delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Topics to delete.
    #[arg(required = true)]
    pub topics: Vec<String>,
    /// Succeed for topics that do not exist.
    #[arg(long)]
    pub if_exists: bool,
}

/// `topics alter`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
pub struct AlterArgs {
    /// The topic.
    pub topic: String,
    /// Set a topic config. Repeatable.
    #[arg(long = "config", value_name = "NAME=VALUE", value_parser = parse_key_value, group = "change")]
    pub configs: Vec<(String, String)>,
    /// Remove a topic config override (back to the broker default). Repeatable.
    #[arg(long = "delete-config", value_name = "NAME", group = "change")]
    pub delete_configs: Vec<String>,
    /// Grow the topic to this many partitions.
    #[arg(long, value_name = "N", group = "change")]
    pub partitions: Option<i32>,
}

/// Runs a `topics` subcommand.
pub async fn run(ctx: &Context, cmd: TopicsCommand) -> CliResult {
    let admin = ctx.admin().await?;
    let options = ctx.admin_options();
    match cmd {
        TopicsCommand::List { internal } => {
            let topics = admin
                .list_topics(&options.include_internal(internal))
                .await
                .map_err(|e| CliError::admin("listing topics", e))?;
            for t in topics {
                println!("{}", t.name);
            }
            Ok(())
        }
        TopicsCommand::Describe(args) => describe(ctx, &admin, args).await,
        TopicsCommand::Create(args) => {
            if args.partitions.is_some_and(|n| n < 1) {
                return Err(CliError::usage("--partitions must be at least 1"));
            }
            if args.replication_factor.is_some_and(|n| n < 1) {
                return Err(CliError::usage("--replication-factor must be at least 1"));
            }
            let mut topic = NewTopic::with_defaults(&args.topic);
            topic.num_partitions = args.partitions;
            topic.replication_factor = args.replication_factor;
            for (k, v) in args.configs {
                topic = topic.config(k, v);
            }
            let results = admin.create_topics([topic], &options).await;
            let results = results.into_iter().map(|(name, r)| {
                let r = match r {
                    Err(e) if args.if_not_exists && is(&e, ErrorCode::TopicAlreadyExists) => {
                        println!("topic {name} already exists");
                        return (name, Ok(None));
                    }
                    other => other.map(Some),
                };
                (name, r)
            });
            finish_items(results, "creating topic", |name, created| {
                if created.is_some() {
                    println!("created topic {name}");
                }
            })
        }
        TopicsCommand::Delete(args) => {
            let results = admin.delete_topics(args.topics, &options).await;
            let results = results.into_iter().map(|(name, r)| match r {
                Err(e) if args.if_exists && is(&e, ErrorCode::UnknownTopicOrPartition) => {
                    (name, Ok(false))
                }
                other => (name, other.map(|()| true)),
            });
            finish_items(results, "deleting topic", |name, deleted| {
                if deleted {
                    println!("deleted topic {name}");
                }
            })
        }
        TopicsCommand::Alter(args) => {
            let topic = args.topic;
            let mut ops: Vec<AlterConfigOp> = args
                .configs
                .into_iter()
                .map(|(k, v)| AlterConfigOp::set(k, v))
                .collect();
            ops.extend(args.delete_configs.into_iter().map(AlterConfigOp::delete));
            if !ops.is_empty() {
                let results = admin
                    .incremental_alter_configs([(ConfigResource::topic(&topic), ops)], &options)
                    .await;
                finish_items(
                    results.into_iter().map(|(r, result)| (r.name, result)),
                    "altering the configs of topic",
                    |name, ()| println!("altered the configs of topic {name}"),
                )?;
            }
            if let Some(n) = args.partitions {
                let results = admin
                    .create_partitions([(topic.as_str(), NewPartitions::increase_to(n))], &options)
                    .await;
                finish_items(results, "adding partitions to topic", |name, ()| {
                    println!("topic {name} now has {n} partitions")
                })?;
            }
            Ok(())
        }
    }
}

fn is(e: &AdminError, code: ErrorCode) -> bool {
    e.code() == Some(code)
}

async fn describe(
    ctx: &Context,
    admin: &kafka_admin::AdminClient,
    args: DescribeArgs,
) -> CliResult {
    let options = ctx.admin_options();
    let names = if args.topics.is_empty() {
        admin
            .list_topics(&options)
            .await
            .map_err(|e| CliError::admin("listing topics", e))?
            .into_iter()
            .map(|t| t.name)
            .collect()
    } else {
        args.topics
    };
    let descriptions = admin.describe_topics(names.clone(), &options).await;
    let configs = admin
        .describe_configs(names.iter().map(ConfigResource::topic), &options)
        .await;
    let configs: HashMap<String, _> = configs.into_iter().map(|(r, c)| (r.name, c)).collect();
    let mut found: BTreeMap<String, Result<TopicDescription, AdminError>> =
        descriptions.into_iter().collect();
    let mut out = Vec::new();
    for name in &names {
        let Some(result) = found.remove(name) else {
            continue;
        };
        let d = match result {
            Ok(d) => d,
            Err(e) => {
                out.push((name.clone(), Err(e)));
                continue;
            }
        };
        let shown: Vec<String> = match configs.get(name) {
            Some(Ok(entries)) => entries
                .iter()
                .filter(|c| args.all_configs || c.source == ConfigSource::DynamicTopic)
                .map(|c| {
                    let v = if c.is_sensitive {
                        "[hidden]"
                    } else {
                        c.value.as_deref().unwrap_or("")
                    };
                    format!("{}={v}", c.name)
                })
                .collect(),
            Some(Err(e)) => vec![format!("(configs unavailable: {e})")],
            None => Vec::new(),
        };
        print_description(&d, &shown);
        out.push((name.clone(), Ok(())));
    }
    finish_items(out, "describing topic", |_, ()| {})
}

fn print_description(d: &TopicDescription, configs: &[String]) {
    let replication = d.partitions.first().map_or(0, |p| p.replicas.len());
    let id = d.topic_id.map(|id| id.to_string()).unwrap_or_default();
    println!(
        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
        d.name,
        if id.is_empty() { "-" } else { &id },
        d.partitions.len(),
        replication,
        configs.join(",")
    );
    let mut t = Table::new(["PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE"]);
    let list = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    for p in &d.partitions {
        t.row([
            p.partition.to_string(),
            p.leader
                .map_or_else(|| "none".to_owned(), |l| l.to_string()),
            list(&p.replicas),
            list(&p.isr),
            list(&p.offline_replicas),
        ]);
    }
    let _ = t.print();
}
