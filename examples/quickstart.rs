//! The quickstart: a broker, a topic, a million keyed records produced and consumed by a
//! group of three consumers, and what it cost.
//!
//! ```sh
//! cargo run --release --example quickstart                  # companion broker, in memory
//! cargo run --release --example quickstart -- --data-dir /tmp/kafka-data
//! cargo run --release --example quickstart -- --records 10000
//! KAFKA_BOOTSTRAP=localhost:9092 cargo run --release --example quickstart
//! ```
//!
//! With no configuration it starts the companion broker in this process; with
//! `KAFKA_BOOTSTRAP` it uses that cluster instead. It creates a topic with 6 partitions,
//! forms a group of three consumers, produces the records (keyed, so each key's records stay
//! in order in one partition) while the group reads them all, prints which partitions each
//! consumer got and that the totals match, commits, and prints the throughput each way and
//! the end-to-end latency percentiles. The logic is in `support/quickstart.rs`, which
//! `tests/quickstart.rs` also runs.

mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use support::quickstart::{self, Options};
use support::{ExampleCluster, unique_topic};

/// The kafka-sdk quickstart.
#[derive(Debug, Parser)]
struct Args {
    /// Records to produce and consume.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Keep the companion broker's data here instead of in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("quickstart: the consumed total does not match what was produced");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("quickstart: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let cluster = ExampleCluster::start(args.data_dir).await?;
    println!("using the {}", cluster.describe());
    let mut options = Options::new(cluster.bootstrap(), unique_topic("quickstart"));
    options.records = args.records;
    options.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    println!(
        "topic {}: {} partitions; producing {} keyed records while a group of {} consumers reads them",
        options.topic, options.partitions, options.records, options.consumers
    );
    let summary = quickstart::run(&options).await?;
    print!("{}", summary.render());
    cluster.stop().await?;
    Ok(summary.totals_match())
}
