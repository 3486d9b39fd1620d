//! The fetch throughput phase: a consumer assign()ed to every partition from the beginning
//! reads back what the produce phase wrote, timed until the last record.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::Args;
use crate::client::{ConsumerLog, consumer_config};
use crate::produce::{Throughput, throughput};
use crate::stats::{cpu_delta, cpu_secs};

pub(crate) fn fetch_phase(
    args: &Args,
    topic: &str,
    n: u64,
    size: usize,
) -> Result<Throughput, String> {
    let group = format!("broker-peer-{topic}");
    let consumer: BaseConsumer<ConsumerLog> = consumer_config(&args.bootstrap, &group)
        .create_with_context(ConsumerLog)
        .map_err(|e| e.to_string())?;
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..args.partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    let cpu0 = args.broker_pid.and_then(cpu_secs);
    let self0 = cpu_secs(std::process::id());
    let t0 = Instant::now();
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let (mut count, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    let mut last_progress = Instant::now();
    while count < n {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                count += 1;
                bytes += m.payload_len() as u64;
                last_progress = Instant::now();
            }
            Some(Err(e)) => {
                errors += 1;
                if first_error.is_none() {
                    first_error = Some(e.to_string());
                }
            }
            None => {
                if last_progress.elapsed() > Duration::from_secs(60) {
                    return Err(format!(
                        "fetch stalled at {count}/{n} (first error {first_error:?})"
                    ));
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_delta(args.broker_pid, cpu0);
    let self_cpu = cpu_delta(Some(std::process::id()), self0);
    if bytes != n * size as u64 {
        return Err(format!(
            "fetched {bytes} value bytes, expected {}",
            n * size as u64
        ));
    }
    Ok(throughput(
        count,
        size,
        secs,
        errors,
        first_error,
        cpu,
        self_cpu,
        args.broker_pid,
    ))
}
