//! `kafka-cli cluster describe`: the cluster id, the controller and every broker.

use clap::Subcommand;

use super::Context;
use crate::error::{CliError, CliResult};
use crate::table::Table;

/// `cluster` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Print the cluster id, the controller and the brokers.
    Describe,
}

/// Runs a `cluster` subcommand.
pub async fn run(ctx: &Context, cmd: ClusterCommand) -> CliResult {
    match cmd {
        ClusterCommand::Describe => {
            let admin = ctx.admin().await?;
            let cluster = admin
                .describe_cluster(&ctx.admin_options())
                .await
                .map_err(|e| CliError::admin("describing the cluster", e))?;
            println!(
                "Cluster id: {}",
                cluster.cluster_id.as_deref().unwrap_or("-")
            );
            println!(
                "Controller: {}",
                cluster
                    .controller
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |b| b.id.to_string())
            );
            let mut t = Table::new(["ID", "HOST", "PORT", "RACK"]);
            for b in &cluster.brokers {
                t.row([
                    b.id.to_string(),
                    b.host.clone(),
                    b.port.to_string(),
                    b.rack.clone().unwrap_or_default(),
                ]);
            }
            t.print().map_err(|e| CliError::io("-", e))
        }
    }
}
