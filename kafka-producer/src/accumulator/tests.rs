//! The accumulator driven by hand: a fake cluster and a clock that only moves when told.

use super::*;
use crate::batch::ProducerStamp;
use crate::idempotence::ProducerIdAndEpoch;
use kafka_protocol::records::RecordSetReader;
use std::collections::HashMap as Map;

/// Topics with partitions and leaders.
#[derive(Default)]
struct FakeCluster {
    leaders: Map<String, Vec<Option<i32>>>,
}

impl FakeCluster {
    fn with(topic: &str, leaders: &[Option<i32>]) -> Self {
        let mut c = Self::default();
        c.leaders.insert(topic.into(), leaders.to_vec());
        c
    }
}

impl ClusterView for FakeCluster {
    fn partition_count(&self, topic: &str) -> Option<usize> {
        self.leaders.get(topic).map(Vec::len)
    }
    fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        *self.leaders.get(topic)?.get(partition as usize)?
    }
    fn available(&self, topic: &str) -> Vec<i32> {
        self.leaders.get(topic).map_or_else(Vec::new, |l| {
            (0..l.len() as i32)
                .filter(|p| l[*p as usize].is_some())
                .collect()
        })
    }
}

fn config() -> AccumulatorConfig {
    AccumulatorConfig {
        batch_size: 1000,
        linger: Duration::from_millis(5),
        buffer_memory: 10_000,
        compression: Compression::None,
        compression_level: None,
        delivery_timeout: Duration::from_secs(120),
        retry_backoff: ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1)),
        max_request_size: 1 << 20,
        one_in_flight: false,
        adaptive: false,
        availability_timeout: Duration::ZERO,
        track_timestamps: false,
    }
}

fn record(value: &[u8]) -> RecordInput<'_> {
    RecordInput {
        timestamp: 1,
        key: None,
        value: Some(value),
        headers: &[],
    }
}

const V: &[u8] = &[7u8; 100];

#[test]
fn a_batch_is_ready_when_full_or_after_linger() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let t0 = Instant::now();
    let a = acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    assert!(
        a.wake_sender,
        "a new batch wakes the sender to start its linger"
    );
    let check = acc.ready(&cluster, t0);
    assert!(check.nodes.is_empty());
    assert_eq!(check.next_check, Some(t0 + Duration::from_millis(5)));
    let check = acc.ready(&cluster, t0 + Duration::from_millis(5));
    assert_eq!(check.nodes, [1]);
    // Fill it: about (1000 - 61) / 100+framing records fit.
    let mut n = 1;
    while acc.queued_batches("t", 0) == 1 {
        acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
        n += 1;
    }
    assert!((8..=9).contains(&n), "{n}");
    assert_eq!(
        acc.ready(&cluster, t0).nodes,
        [1],
        "full batches need no linger"
    );
}

#[test]
fn drain_takes_one_batch_per_partition_for_the_ready_leaders() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(2), Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    for p in 0..3 {
        for _ in 0..20 {
            acc.append("t", Some(p), &record(V), &cluster, t0).unwrap();
        }
    }
    let check = acc.ready(&cluster, t0);
    let mut nodes = check.nodes.clone();
    nodes.sort();
    assert_eq!(nodes, [1, 2]);
    let (drained, failed) = acc.drain(&cluster, &[1], &mut idem, t0);
    assert!(failed.is_empty());
    assert_eq!(drained.len(), 1);
    let (node, batches) = &drained[0];
    assert_eq!(*node, 1);
    let mut parts: Vec<i32> = batches.iter().map(|b| b.partition).collect();
    parts.sort();
    assert_eq!(
        parts,
        [0, 2],
        "one request carries every partition the broker leads"
    );
    assert!(batches.iter().all(|b| b.is_closed() && b.attempts == 1));
    assert_eq!(acc.queued_batches("t", 1), 3, "broker 2 was not drained");
}

#[test]
fn max_request_size_limits_a_request_but_not_a_single_batch() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(1)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            max_request_size: 1200,
            ..config()
        },
        1,
    );
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    for p in 0..2 {
        for _ in 0..9 {
            acc.append("t", Some(p), &record(V), &cluster, t0).unwrap();
        }
    }
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let sizes: Vec<usize> = drained[0].1.iter().map(|b| b.size()).collect();
    assert_eq!(
        drained[0].1.len(),
        1,
        "the second batch would exceed max.request.size: {sizes:?}"
    );
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let total: usize = drained[0].1.iter().map(|b| b.size()).sum();
    assert!(total <= 1200, "{total}");
    // A batch larger than max.request.size on its own still goes (the broker judges it).
    let mut small = RecordAccumulator::new(
        AccumulatorConfig {
            max_request_size: 100,
            ..config()
        },
        1,
    );
    small
        .append("t", Some(0), &record(V), &cluster, t0)
        .unwrap();
    let (drained, _) = small.drain(&cluster, &[1], &mut idem, t0);
    assert_eq!(drained[0].1.len(), 1);
}

#[test]
fn memory_is_reserved_per_batch_and_released_on_completion() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(1), Some(1)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            buffer_memory: 2500,
            ..config()
        },
        1,
    );
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    acc.append("t", Some(1), &record(V), &cluster, t0).unwrap();
    assert_eq!(acc.available_memory(), 500);
    assert!(matches!(
        acc.append("t", Some(2), &record(V), &cluster, t0),
        Err(AppendError::NoMemory)
    ));
    // Appending to an existing batch needs no memory.
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    // A waiting send makes everything ready at once.
    acc.memory_waiter(true);
    assert_eq!(acc.ready(&cluster, t0).nodes, [1]);
    let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    for b in &mut drained[0].1 {
        acc.on_answered(b, &mut idem);
        assert!(acc.release(b), "the waiting send is told");
    }
    acc.memory_waiter(false);
    assert_eq!(acc.available_memory(), 2500);
    assert!(!acc.has_incomplete());
}

#[test]
fn completed_batches_buffers_are_reused_within_buffer_memory() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(1)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            buffer_memory: 2500,
            ..config()
        },
        1,
    );
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    acc.append("t", Some(1), &record(V), &cluster, t0).unwrap();
    let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let mut addresses = Vec::new();
    for mut b in drained.remove(0).1 {
        acc.on_answered(&b, &mut idem);
        addresses.push(b.bytes().as_ptr());
        acc.release(&mut b);
        assert!(
            b.bytes().is_empty(),
            "the released batch gave its buffer up"
        );
    }
    assert_eq!(acc.pool.held(), 2 * 1000, "both kept: 2000 of 2500 bytes");
    // The next batch is built in a recycled buffer, not a fresh one.
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    assert_eq!(acc.pool.held(), 1000);
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let bytes = drained[0].1[0].bytes();
    assert!(addresses.contains(&bytes.as_ptr()));
    let records: Vec<_> = RecordSetReader::new(bytes)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 1, "the old contents are gone");
    // The other recycled buffer serves the next batch.
    acc.append("t", Some(1), &record(V), &cluster, t0).unwrap();
    assert_eq!(acc.pool.held(), 0);
    assert!(acc.used_memory() + acc.pool.held() <= 2500);
}

#[test]
fn a_record_larger_than_batch_size_gets_a_batch_of_its_own() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let t0 = Instant::now();
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    let big = vec![1u8; 3000];
    acc.append("t", Some(0), &record(&big), &cluster, t0)
        .unwrap();
    assert_eq!(acc.queued_batches("t", 0), 2);
    assert!(
        acc.used_memory() > 3000 && acc.used_memory() < 4200,
        "{}",
        acc.used_memory()
    );
}

#[test]
fn retried_batches_wait_out_the_backoff_and_go_first() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    acc.append("t", Some(0), &record(b"first"), &cluster, t0)
        .unwrap();
    let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let first = drained.remove(0).1.remove(0);
    acc.append("t", Some(0), &record(b"second"), &cluster, t0)
        .unwrap();
    acc.on_answered(&first, &mut idem);
    acc.reenqueue(first, 0.5, t0);
    let check = acc.ready(&cluster, t0);
    assert!(check.nodes.is_empty(), "backing off");
    assert_eq!(check.next_check, Some(t0 + Duration::from_millis(100)));
    let later = t0 + Duration::from_millis(100);
    assert_eq!(acc.ready(&cluster, later).nodes, [1]);
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, later);
    let b = &drained[0].1[0];
    assert_eq!(b.attempts, 2);
    let batch = RecordSetReader::new(b.bytes()).next().unwrap().unwrap();
    let rec = batch.records().next().unwrap().unwrap();
    assert_eq!(rec.value.as_deref(), Some(&b"first"[..]));
}

#[test]
fn one_in_flight_mutes_a_partition_until_answered() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            one_in_flight: true,
            ..config()
        },
        1,
    );
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    for _ in 0..30 {
        acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    }
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    assert!(acc.ready(&cluster, t0).nodes.is_empty(), "muted");
    let (again, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    assert!(again.is_empty());
    acc.on_answered(&drained[0].1[0], &mut idem);
    assert_eq!(acc.ready(&cluster, t0).nodes, [1]);
}

#[test]
fn unknown_leaders_are_reported_and_batches_expire() {
    let cluster = FakeCluster::with("t", &[None]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let t0 = Instant::now();
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    let check = acc.ready(&cluster, t0 + Duration::from_secs(1));
    assert!(check.nodes.is_empty());
    assert_eq!(check.unknown_leaders.len(), 1);
    assert_eq!(acc.next_expiry(), Some(t0 + Duration::from_secs(120)));
    assert!(acc.expire(t0 + Duration::from_secs(119)).is_empty());
    let mut expired = acc.expire(t0 + Duration::from_secs(120));
    assert_eq!(expired.len(), 1);
    assert!(!acc.release(&mut expired[0]), "nobody waits for memory");
    assert_eq!(acc.available_memory(), 10_000);
    assert!(!acc.has_incomplete());
}

/// An accumulator whose `buffer.memory` is exactly one batch for each of `partitions`
/// partitions of "t", each holding one record (so memory is full).
fn one_batch_per_partition(
    cluster: &FakeCluster,
    partitions: i32,
) -> (RecordAccumulator, Idempotence, Instant) {
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            buffer_memory: 1000 * partitions as usize,
            ..config()
        },
        1,
    );
    let t0 = Instant::now();
    for p in 0..partitions {
        acc.append("t", Some(p), &record(V), cluster, t0).unwrap();
    }
    (acc, Idempotence::new(false), t0)
}

#[test]
fn waiting_sends_are_told_once_a_sixteenth_of_the_buffer_is_free() {
    let cluster = FakeCluster::with("t", &[Some(1); 32]);
    let (mut acc, mut idem, t0) = one_batch_per_partition(&cluster, 32);
    assert_eq!(acc.available_memory(), 0);
    acc.memory_waiter(true);
    let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let mut batches = drained.remove(0).1.into_iter();
    let mut release = |acc: &mut RecordAccumulator, idem: &mut Idempotence| {
        let mut b = batches.next().unwrap();
        acc.on_answered(&b, idem);
        acc.release(&mut b)
    };
    assert!(!release(&mut acc, &mut idem), "1000 bytes free: not yet");
    assert!(
        release(&mut acc, &mut idem),
        "2000 bytes free, a sixteenth: look again"
    );
    assert!(
        release(&mut acc, &mut idem),
        "and at every release from then on"
    );
    acc.memory_waiter(false);
    assert!(!release(&mut acc, &mut idem), "nobody waits");
}

#[test]
fn waiting_sends_are_told_when_nothing_else_is_on_the_wire() {
    // Partitions 0 and 1 on broker 1, 46 more on broker 2 (not drained here).
    let mut leaders = vec![Some(2); 48];
    leaders[0] = Some(1);
    leaders[1] = Some(1);
    let cluster = FakeCluster::with("t", &leaders);
    let (mut acc, mut idem, t0) = one_batch_per_partition(&cluster, 48);
    acc.memory_waiter(true);
    let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    let mut batches = drained.remove(0).1;
    let mut last = batches.pop().unwrap();
    let mut first = batches.pop().unwrap();
    acc.on_answered(&first, &mut idem);
    assert!(
        !acc.release(&mut first),
        "1000 of the 3000 bytes, one more batch on the wire"
    );
    acc.on_answered(&last, &mut idem);
    assert!(
        acc.release(&mut last),
        "2000 bytes, but nothing on the wire will free more: look now"
    );
}

#[test]
fn sticky_partitioning_fills_a_batch_then_moves_on() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(1), Some(1), Some(1)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            buffer_memory: 1 << 20,
            ..config()
        },
        42,
    );
    let t0 = Instant::now();
    let mut partitions = Vec::new();
    for _ in 0..90 {
        partitions.push(
            acc.append("t", None, &record(V), &cluster, t0)
                .unwrap()
                .partition,
        );
    }
    // Runs of one batch's worth of records (8 or 9), then a switch.
    let mut runs = Vec::new();
    let mut run = 1;
    for w in partitions.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            runs.push(run);
            run = 1;
        }
    }
    assert!(runs.len() >= 5, "{partitions:?}");
    assert!(runs.iter().all(|r| (8..=18).contains(r)), "{runs:?}");
    // Every queued batch is full except possibly the last of each partition.
    for p in 0..4 {
        assert!(acc.queued_batches("t", p) <= 3);
    }
}

#[test]
fn adaptive_partitioning_avoids_long_queues() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(2)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            adaptive: true,
            buffer_memory: 1 << 20,
            ..config()
        },
        7,
    );
    let t0 = Instant::now();
    // Partition 0's broker is slow: ten batches queue there.
    for _ in 0..90 {
        acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    }
    acc.ready(&cluster, t0);
    let mut to_one = 0;
    for _ in 0..40 {
        let a = acc.append("t", None, &record(V), &cluster, t0).unwrap();
        if a.partition == 1 {
            to_one += 1;
        }
        acc.ready(&cluster, t0);
    }
    // Weights 1 (ten batches queued) against 11 - n while partition 1 catches up.
    assert!(to_one >= 30, "{to_one} of 40 went to the short queue");
}

#[test]
fn idempotent_drain_sequences_batches_and_retries_in_order() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let mut idem = Idempotence::new(true);
    assert!(idem.start_init());
    idem.init_done(Ok(ProducerIdAndEpoch { id: 9, epoch: 0 }));
    let t0 = Instant::now();
    let mut sent = Vec::new();
    for round in 0..3 {
        for _ in 0..3 {
            acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
        }
        let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
        let b = drained.remove(0).1.remove(0);
        assert_eq!(
            b.stamp,
            Some(ProducerStamp {
                producer_id: 9,
                epoch: 0,
                base_sequence: round * 3
            })
        );
        let h = BatchHeader::parse(&b.bytes()).unwrap();
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (9, 0, round * 3)
        );
        BatchHeader::verify_crc(&b.bytes()).unwrap();
        sent.push(b);
    }
    // The first fails retriably; the later two come back out of order: all three are
    // retried, the first alone until it is done.
    let third = sent.pop().unwrap();
    let second = sent.pop().unwrap();
    let first = sent.pop().unwrap();
    for b in [&first, &second, &third] {
        acc.on_answered(b, &mut idem);
    }
    acc.reenqueue(third, 0.0, t0);
    acc.reenqueue(first, 0.0, t0);
    acc.reenqueue(second, 0.0, t0);
    let later = t0 + Duration::from_secs(1);
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, later);
    let retry = &drained[0].1[0];
    assert_eq!(retry.stamp.unwrap().base_sequence, 0, "in sequence order");
    let (nothing, _) = acc.drain(&cluster, &[1], &mut idem, later);
    assert!(nothing.is_empty(), "the next retry waits for the first");
    acc.on_answered(retry, &mut idem);
    idem.on_success(&retry.topic, 0, retry.stamp.unwrap(), 2);
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, later);
    assert_eq!(drained[0].1[0].stamp.unwrap().base_sequence, 3);
}

#[test]
fn a_lost_sequence_bumps_the_epoch_and_resequences_from_zero() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let mut idem = Idempotence::new(true);
    idem.start_init();
    idem.init_done(Ok(ProducerIdAndEpoch { id: 9, epoch: 3 }));
    let t0 = Instant::now();
    let mut sent = Vec::new();
    for _ in 0..2 {
        for _ in 0..2 {
            acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
        }
        let (mut d, _) = acc.drain(&cluster, &[1], &mut idem, t0);
        sent.push(d.remove(0).1.remove(0));
    }
    let second = sent.pop().unwrap();
    let mut first = sent.pop().unwrap();
    // The first fails for good; the second (OUT_OF_ORDER behind it) is retried.
    acc.on_answered(&first, &mut idem);
    idem.on_fatal_failure(&first.topic, 0, first.stamp.unwrap());
    acc.release(&mut first);
    acc.on_answered(&second, &mut idem);
    acc.reenqueue(second, 0.0, t0);
    idem.maybe_bump();
    let later = t0 + Duration::from_secs(1);
    let (drained, _) = acc.drain(&cluster, &[1], &mut idem, later);
    let b = &drained[0].1[0];
    assert_eq!(
        b.stamp,
        Some(ProducerStamp {
            producer_id: 9,
            epoch: 4,
            base_sequence: 0
        })
    );
    let h = BatchHeader::parse(&b.bytes()).unwrap();
    assert_eq!((h.producer_epoch, h.base_sequence), (4, 0));
    BatchHeader::verify_crc(&b.bytes()).unwrap();
}

#[test]
fn flush_waits_for_batches_created_before_it() {
    let cluster = FakeCluster::with("t", &[Some(1)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    let marker = acc.begin_flush();
    assert!(!acc.flushed(marker));
    assert_eq!(
        acc.ready(&cluster, t0).nodes,
        [1],
        "a flush makes batches ready at once"
    );
    let big = vec![0u8; 2000];
    acc.append("t", Some(0), &record(&big), &cluster, t0)
        .unwrap();
    let (mut drained, _) = acc.drain(&cluster, &[1], &mut idem, t0);
    acc.release(&mut drained[0].1[0]);
    assert!(
        !acc.flushed(marker),
        "released, but its callbacks have not run"
    );
    acc.completing()
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    assert!(
        acc.flushed(marker),
        "the later batch does not hold the flush up"
    );
    acc.end_flush();
}

#[test]
fn compression_ratio_grows_compressed_batches() {
    assert_eq!(update_ratio(1.0, 300, 1000), 0.995);
    assert_eq!(update_ratio(0.3, 900, 1000), 0.9);
    let (limit, reserve) = batch_limits(1000, 0.5, Compression::Lz4, 100);
    assert_eq!((limit, reserve), (2000, 2000));
    assert_eq!(
        batch_limits(1000, 0.01, Compression::Lz4, 100).0,
        4000,
        "capped at 4x"
    );
    assert_eq!(batch_limits(1000, 0.5, Compression::None, 100).0, 1000);
    assert_eq!(batch_limits(1000, 1.0, Compression::None, 5000).0, 5000);
}

#[test]
fn a_broker_that_is_not_drained_within_the_availability_timeout_gets_no_records() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(2)]);
    let mut acc = RecordAccumulator::new(
        AccumulatorConfig {
            adaptive: true,
            availability_timeout: Duration::from_millis(100),
            buffer_memory: 1 << 20,
            ..config()
        },
        3,
    );
    let mut idem = Idempotence::new(false);
    let t0 = Instant::now();
    for p in 0..2 {
        for _ in 0..20 {
            acc.append("t", Some(p), &record(V), &cluster, t0).unwrap();
        }
    }
    // Broker 1 is drained; broker 2 stays ready without being drained.
    acc.ready(&cluster, t0);
    acc.drain(&cluster, &[1, 2], &mut idem, t0);
    let later = t0 + Duration::from_millis(500);
    acc.ready(&cluster, later);
    acc.drain(&cluster, &[1], &mut idem, later);
    acc.ready(&cluster, later);
    for _ in 0..100 {
        let a = acc.append("t", None, &record(V), &cluster, later).unwrap();
        assert_eq!(a.partition, 0, "partition 1's broker is unavailable");
        acc.ready(&cluster, later);
    }
}

#[test]
fn a_new_batch_wakes_the_sender_only_if_it_would_look_too_late() {
    let cluster = FakeCluster::with("t", &[Some(1); 4]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let t0 = Instant::now();
    assert!(
        acc.append("t", Some(0), &record(V), &cluster, t0)
            .unwrap()
            .wake_sender
    );
    let check = acc.ready(&cluster, t0);
    // The sender says it looks again when that linger ends: a batch for another partition
    // started meanwhile, whose linger ends later, needs no wake-up; one the sender would
    // not see in time does.
    acc.sender_will_look(check.next_check);
    let b = acc.append("t", Some(1), &record(V), &cluster, t0).unwrap();
    assert!(!b.wake_sender, "the sender looks before its linger ends");
    acc.sender_will_look(Some(t0 + Duration::from_millis(6)));
    let c = acc.append("t", Some(2), &record(V), &cluster, t0).unwrap();
    assert!(c.wake_sender, "the sender would look too late");
    acc.sender_will_look(None);
    let d = acc.append("t", Some(3), &record(V), &cluster, t0).unwrap();
    assert!(d.wake_sender, "the sender sleeps until told");
}

#[test]
fn a_full_batch_behind_a_saturated_connection_does_not_wake_the_sender() {
    let cluster = FakeCluster::with("t", &[Some(1), Some(2)]);
    let mut acc = RecordAccumulator::new(config(), 1);
    let t0 = Instant::now();
    // Learn the leaders, then say broker 1 has all its requests in flight.
    acc.append("t", Some(0), &record(V), &cluster, t0).unwrap();
    acc.append("t", Some(1), &record(V), &cluster, t0).unwrap();
    acc.ready(&cluster, t0);
    acc.sender_will_look(Some(t0));
    acc.set_saturated([1]);
    // Appends until the partition's last batch is full and the next record starts another;
    // says whether any of those appends woke the sender (starting one does not: the sender
    // said it looks at t0).
    let fill = |acc: &mut RecordAccumulator, p: i32| {
        let before = acc.queued_batches("t", p);
        let mut woke = false;
        while acc.queued_batches("t", p) == before {
            woke |= acc
                .append("t", Some(p), &record(V), &cluster, t0)
                .unwrap()
                .wake_sender;
        }
        woke
    };
    assert!(
        !fill(&mut acc, 0),
        "broker 1's next answer makes the sender look"
    );
    assert!(fill(&mut acc, 1), "broker 2 can take a request now");
    acc.set_saturated([]);
    assert!(fill(&mut acc, 0), "no longer saturated");
}
