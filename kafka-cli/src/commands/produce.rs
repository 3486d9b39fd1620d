//! `kafka-cli produce -t TOPIC [-k KEY | --key-delimiter C] [-p N] [-H k=v]... [-f FILE]`:
//! one record per input line.
//!
//! Lines are read as bytes (a value need not be UTF-8); the line ending (`\n` or `\r\n`) is
//! not part of the value. Input is streamed: a reader thread feeds lines through a bounded
//! channel and at most [`MAX_PENDING`] deliveries are awaited at once, so piping a large
//! file uses bounded memory. Every record's delivery is checked; if any failed the command
//! exits 1 naming the first failure and how many failed. A record the producer refuses
//! outright (an unknown topic or partition) stops the command at once, since every later
//! line would wait `max.block.ms` for the same answer.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use kafka_producer::{DeliveryFuture, Producer, ProducerConfig, ProducerError, ProducerRecord};

use super::{Context, parse_key_value};
use crate::error::{CliError, CliResult};

/// Deliveries awaited at once; beyond this, reading waits for the oldest to complete.
const MAX_PENDING: usize = 10_000;

/// `produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic.
    #[arg(short, long)]
    pub topic: String,
    /// The key of every record.
    #[arg(short, long, conflicts_with = "key_delimiter")]
    pub key: Option<String>,
    /// Split each line at the first C into key and value (a line without C has no key).
    #[arg(long, value_name = "C")]
    pub key_delimiter: Option<char>,
    /// Send to this partition instead of letting the partitioner choose.
    #[arg(short, long, value_name = "N")]
    pub partition: Option<i32>,
    /// A header for every record. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    pub headers: Vec<(String, String)>,
    /// Read lines from FILE instead of stdin.
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Runs `produce`.
pub async fn run(ctx: &Context, args: ProduceArgs) -> CliResult {
    if args.partition.is_some_and(|p| p < 0) {
        return Err(CliError::usage("--partition must not be negative"));
    }
    let producer = connect(ctx).await?;
    let source = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut lines = spawn_reader(args.file.clone())?;
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut tally = Tally::default();
    while let Some(line) = lines.recv().await {
        let line = line.map_err(|e| CliError::io(&source, e))?;
        let record = to_record(&args, line);
        tally.sent += 1;
        match producer.send(record).await {
            Ok(delivery) => pending.push_back(delivery),
            // Refused before buffering (no such topic or partition, no buffer room within
            // max.block.ms): the next line would wait just as long, so stop here.
            Err(e) => {
                tally.failed(e);
                break;
            }
        }
        if pending.len() >= MAX_PENDING
            && let Some(oldest) = pending.pop_front()
        {
            tally.settle(oldest.await);
        }
    }
    producer.flush().await;
    for delivery in pending {
        tally.settle(delivery.await);
    }
    let _ = producer.close(std::time::Duration::from_secs(5)).await;
    tally.finish(&args.topic)
}

/// A producer configured from the command line's properties.
pub async fn connect(ctx: &Context) -> CliResult<Producer> {
    let bootstrap = ctx.props.require_bootstrap()?.to_owned();
    let mut config = ProducerConfig::new();
    ctx.props.apply(&mut config)?;
    Producer::connect(config)
        .await
        .map_err(|e| producer_error(&bootstrap, e))
}

/// Sorts a producer's connect failure like the admin client's (see `connect_error`).
pub fn producer_error(bootstrap: &str, e: ProducerError) -> CliError {
    match e {
        ProducerError::Config(source) => CliError::Config {
            origin: "producer configuration".into(),
            source,
        },
        ProducerError::Client(source) => match source.kind() {
            kafka_client::ErrorKind::Config(c) => CliError::Config {
                origin: "producer configuration".into(),
                source: c.clone(),
            },
            _ => CliError::Unreachable {
                bootstrap: bootstrap.to_owned(),
                source,
            },
        },
        other => CliError::Failed(format!("starting the producer: {other}")),
    }
}

/// The record for one input line.
fn to_record(args: &ProduceArgs, line: Vec<u8>) -> ProducerRecord {
    let (key, value) = match args.key_delimiter {
        Some(d) => split_key(line, d),
        None => (
            args.key.as_ref().map(|k| Bytes::from(k.clone())),
            Bytes::from(line),
        ),
    };
    let mut record = ProducerRecord::new(args.topic.clone(), value);
    if let Some(key) = key {
        record = record.with_key(key);
    }
    if let Some(p) = args.partition {
        record = record.with_partition(p);
    }
    for (k, v) in &args.headers {
        record = record.with_header(k, Bytes::from(v.clone()));
    }
    record
}

/// Splits at the first `delimiter` (its UTF-8 bytes); no delimiter: no key.
fn split_key(line: Vec<u8>, delimiter: char) -> (Option<Bytes>, Bytes) {
    let mut buf = [0u8; 4];
    let d = delimiter.encode_utf8(&mut buf).as_bytes();
    match line.windows(d.len()).position(|w| w == d) {
        Some(at) => {
            let line = Bytes::from(line);
            (Some(line.slice(..at)), line.slice(at + d.len()..))
        }
        None => (None, Bytes::from(line)),
    }
}

/// Reads lines on a thread (stdin and files block) into a bounded channel.
fn spawn_reader(
    file: Option<PathBuf>,
) -> CliResult<tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>> {
    let input: Box<dyn Read + Send> = match &file {
        Some(path) => Box::new(std::fs::File::open(path).map_err(|e| CliError::io(path, e))?),
        None => Box::new(std::io::stdin()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 16, input);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// Counts deliveries and keeps the first failure.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    failures: u64,
    first: Option<ProducerError>,
}

impl Tally {
    fn settle<T>(&mut self, result: Result<T, ProducerError>) {
        if let Err(e) = result {
            self.failed(e);
        }
    }

    fn failed(&mut self, e: ProducerError) {
        self.failures += 1;
        self.first.get_or_insert(e);
    }

    fn finish(self, topic: &str) -> CliResult {
        match self.first {
            None => {
                eprintln!("produced {} record(s) to {topic}", self.sent);
                Ok(())
            }
            Some(e) => Err(CliError::Failed(format!(
                "{} of {} record(s) were not delivered to {topic}; the first: {e}",
                self.failures, self.sent
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_delimiter() {
        let (k, v) = split_key(b"user-1:a:b".to_vec(), ':');
        assert_eq!(k.as_deref(), Some(&b"user-1"[..]));
        assert_eq!(&v[..], b"a:b");
        let (k, v) = split_key(b"no delimiter".to_vec(), ':');
        assert_eq!(k, None);
        assert_eq!(&v[..], b"no delimiter");
        let (k, v) = split_key("ключ→значение".as_bytes().to_vec(), '→');
        assert_eq!(k.as_deref(), Some("ключ".as_bytes()));
        assert_eq!(&v[..], "значение".as_bytes());
    }
}
