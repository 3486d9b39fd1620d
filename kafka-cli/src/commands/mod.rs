//! The commands, one file each, and what they share: the checked client properties and
//! connecting with a clear error when the cluster cannot be reached.

pub mod broker;
pub mod cluster;
pub mod consume;
pub mod groups;
mod groups_reset;
pub mod offsets;
pub mod perf;
mod perf_consume;
mod perf_produce;
pub mod produce;
pub mod topics;

use kafka_admin::{AdminClient, AdminError, AdminOptions};
use kafka_client::ErrorKind;

use crate::cli::{Cli, Command};
use crate::error::{CliError, CliResult};
use crate::props::ClientProperties;

/// What every command gets: the client properties of this invocation.
#[derive(Debug)]
pub struct Context {
    /// `--config`, `-X` and `-b`, checked.
    pub props: ClientProperties,
}

impl Context {
    /// An admin client, or an error saying the cluster cannot be reached.
    pub async fn admin(&self) -> CliResult<AdminClient> {
        let config = self.props.client_config()?;
        let bootstrap = config.bootstrap_servers().join(",");
        AdminClient::connect(config)
            .await
            .map_err(|e| connect_error(&bootstrap, e))
    }

    /// Admin call options: the configured `default.api.timeout.ms`.
    pub fn admin_options(&self) -> AdminOptions {
        AdminOptions::new()
    }
}

/// Runs the command line's command.
pub async fn run(cli: Cli) -> CliResult {
    let props = ClientProperties::load(
        cli.config.as_deref().or(cli.command_config.as_deref()),
        &cli.properties,
        cli.bootstrap.as_deref(),
    )?;
    let ctx = Context { props };
    match cli.command {
        Command::Produce(args) => produce::run(&ctx, args).await,
        Command::Consume(args) => consume::run(&ctx, args).await,
        Command::Topics(cmd) => topics::run(&ctx, cmd).await,
        Command::Groups(cmd) => groups::run(&ctx, cmd).await,
        Command::Cluster(cmd) => cluster::run(&ctx, cmd).await,
        Command::Offsets(args) => offsets::run(&ctx, args).await,
        Command::Perf(cmd) => perf::run(&ctx, cmd).await,
        Command::Broker(args) => broker::run(*args).await,
    }
}

/// Sorts a connect failure into "the configuration is wrong" (exit 2) and "the cluster cannot
/// be reached" (exit 1).
pub fn connect_error(bootstrap: &str, e: AdminError) -> CliError {
    match e {
        AdminError::Client(source) => match source.kind() {
            ErrorKind::Config(c) => CliError::Config {
                origin: "client configuration".into(),
                source: c.clone(),
            },
            _ => CliError::Unreachable {
                bootstrap: bootstrap.to_owned(),
                source,
            },
        },
        other => CliError::admin(format!("connecting to {bootstrap}"), other),
    }
}

/// Reports per-item results (topics, groups): `on_ok` for each success, in name order; one
/// failure is the command's error, several are each printed and summed up, so a script sees
/// exit 1 whenever anything failed.
pub fn finish_items<T>(
    results: impl IntoIterator<Item = (String, Result<T, AdminError>)>,
    doing: &str,
    mut on_ok: impl FnMut(&str, T),
) -> CliResult {
    let mut results: Vec<_> = results.into_iter().collect();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let total = results.len();
    let mut failures = Vec::new();
    for (name, result) in results {
        match result {
            Ok(v) => on_ok(&name, v),
            Err(e) => failures.push((name, e)),
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => {
            let (name, e) = failures.pop().expect("one failure");
            Err(CliError::admin(format!("{doing} {name}"), e))
        }
        n => {
            for (name, e) in &failures {
                eprintln!("kafka-cli: error: {doing} {name}: {e}");
            }
            Err(CliError::Failed(format!("{doing}: {n} of {total} failed")))
        }
    }
}

/// Parses `NAME=VALUE` (for `--config` and `--header` flags).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}
