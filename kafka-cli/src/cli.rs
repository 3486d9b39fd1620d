//! The command line: global options and the command tree.
//!
//! Each command's own flags live beside its code (`commands/*.rs`); this file only ties them
//! together, so adding a command touches one line here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{broker, cluster, consume, groups, offsets, perf, produce, topics};

/// The help heading of the flags every client command shares, kept apart from each
/// command's own (`broker` ignores them).
const CLIENT_OPTIONS: &str = "Client options";

/// Produce, consume, administer and benchmark a Kafka cluster, or run the companion broker.
///
/// Exit codes: 0 success, 1 the command failed, 2 the command line is wrong.
#[derive(Debug, Parser)]
#[command(name = "kafka-cli", version, propagate_version = true)]
pub struct Cli {
    /// Bootstrap servers (comma-separated HOST:PORT list); overrides bootstrap.servers.
    #[arg(
        short = 'b',
        long = "bootstrap-servers",
        global = true,
        value_name = "HOST:PORT",
        help_heading = CLIENT_OPTIONS
    )]
    pub bootstrap: Option<String>,
    /// Set a client property, e.g. -X acks=all -X security.protocol=SSL. Repeatable; later
    /// ones win.
    #[arg(
        short = 'X',
        long = "property",
        global = true,
        value_name = "NAME=VALUE",
        help_heading = CLIENT_OPTIONS
    )]
    pub properties: Vec<String>,
    /// Read client properties from a Java .properties file (applied before -X). Give it
    /// before the command: after it, `--config` is the command's own (topic configs).
    #[arg(long = "config", value_name = "FILE", help_heading = CLIENT_OPTIONS)]
    pub config: Option<PathBuf>,
    /// The same as --config FILE, accepted anywhere (Kafka's tools call it this); --config
    /// wins when both are given.
    #[arg(
        long = "command-config",
        global = true,
        value_name = "FILE",
        help_heading = CLIENT_OPTIONS
    )]
    pub command_config: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Produce records: one per line of stdin or --file.
    Produce(produce::ProduceArgs),
    /// Consume records and print them.
    Consume(consume::ConsumeArgs),
    /// List, describe, create, delete or alter topics.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
    /// List, describe or delete consumer groups, or reset their offsets.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Describe the cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Earliest and latest offsets of each partition of a topic.
    Offsets(offsets::OffsetsArgs),
    /// Measure producer or consumer throughput and latency.
    #[command(subcommand)]
    Perf(perf::PerfCommand),
    /// Run the companion broker (same flags as the kafka-broker binary).
    // Boxed: its many flags would make every other command's value as large.
    Broker(Box<broker::BrokerArgs>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap checks the command tree (duplicate flags, dangling references) only when a
    /// command line reaches the broken part; this checks all of it.
    #[test]
    fn command_tree_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
