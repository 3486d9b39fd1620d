//! Reading fetched record sets: positions inside batches, control batches, aborted
//! transactions under read_committed, corrupt data and stale data.

use bytes::{BufMut, BytesMut};
use kafka_protocol::records::control::end_txn_marker_batch;
use kafka_protocol::records::{BatchOptions, RecordBatchBuilder};

use super::*;
use crate::config::OffsetReset;
use crate::positions::Positions;
use crate::record::TopicPartition;

fn batch(base: i64, n: usize, producer: Option<i64>) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions {
        base_offset: base,
        partition_leader_epoch: 3,
        producer_id: producer.unwrap_or(-1),
        producer_epoch: if producer.is_some() { 0 } else { -1 },
        transactional: producer.is_some(),
        ..Default::default()
    });
    for i in 0..n {
        let v = format!("v{}", base + i as i64);
        b.append(1_000 + i as i64, None, Some(v.as_bytes()), &[])
            .unwrap();
    }
    b.build().unwrap()
}

fn marker(offset: i64, producer: i64, commit: bool) -> Bytes {
    end_txn_marker_batch(
        BatchOptions {
            base_offset: offset,
            producer_id: producer,
            producer_epoch: 0,
            ..Default::default()
        },
        5,
        commit,
        0,
    )
    .unwrap()
}

fn concat(parts: &[Bytes]) -> Bytes {
    let mut b = BytesMut::new();
    for p in parts {
        b.put_slice(p);
    }
    b.freeze()
}

struct Setup {
    positions: Positions,
    budget: Arc<Budget>,
    tp: TopicPartition,
}

fn setup(position: i64) -> Setup {
    let tp = TopicPartition::new("t", 0);
    let mut positions = Positions::new();
    positions.add([tp.clone()], false, OffsetReset::Earliest);
    positions.seek(&tp, position, None);
    Setup {
        positions,
        budget: Arc::new(Budget::default()),
        tp,
    }
}

impl Setup {
    fn fetch(&self, data: Bytes, aborted: Vec<(i64, i64)>) -> CompletedFetch {
        let part = self.positions.get(&self.tp).unwrap().clone();
        let era = part.era();
        CompletedFetch::new(part, era, data, aborted, self.budget.clone())
    }
}

fn offsets(records: &[ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

#[test]
fn skips_before_the_position_and_delivers_in_chunks() {
    let s = setup(3);
    let data = concat(&[batch(0, 5, None), batch(5, 5, None)]);
    let mut d = Drain::new(s.fetch(data.clone(), vec![]), true, false).unwrap();
    assert_eq!(s.budget.bytes(), data.len());
    let mut out = Vec::new();
    d.drain(4, &mut out).unwrap();
    assert_eq!(offsets(&out), [3, 4, 5, 6]);
    assert_eq!(out[0].leader_epoch, Some(3));
    assert_eq!(out[0].value.as_deref(), Some(&b"v3"[..]));
    assert_eq!(&*out[0].topic, "t");
    let part = s.positions.get(&s.tp).unwrap().clone();
    assert_eq!(part.position(), Some(7));
    d.drain(100, &mut out).unwrap();
    assert_eq!(offsets(&out), [3, 4, 5, 6, 7, 8, 9]);
    assert!(d.is_done());
    assert_eq!(part.position(), Some(10));
    drop(d);
    assert_eq!(s.budget.bytes(), 0, "bytes given back");
    assert_eq!(part.buffered.load(Ordering::Relaxed), 0);
}

#[test]
fn control_batches_are_skipped_but_advance_the_position() {
    let s = setup(0);
    let data = concat(&[batch(0, 2, Some(7)), marker(2, 7, true)]);
    let mut d = Drain::new(s.fetch(data, vec![]), true, false).unwrap();
    let mut out = Vec::new();
    d.drain(100, &mut out).unwrap();
    assert_eq!(offsets(&out), [0, 1]);
    assert_eq!(s.positions.get(&s.tp).unwrap().position(), Some(3));
}

#[test]
fn read_committed_drops_aborted_transactions() {
    // Producer 7 aborts offsets 0-1; producer 8 commits 2-3; producer 7 then commits 6-7;
    // a non-transactional batch sits in between.
    let data = concat(&[
        batch(0, 2, Some(7)),
        batch(2, 2, Some(8)),
        marker(4, 7, false),
        marker(5, 8, true),
        batch(6, 2, Some(7)),
        batch(8, 1, None),
        marker(9, 7, true),
    ]);
    let aborted = vec![(7, 0)];
    let s = setup(0);
    let mut d = Drain::new(s.fetch(data.clone(), aborted.clone()), true, true).unwrap();
    let mut out = Vec::new();
    d.drain(100, &mut out).unwrap();
    assert_eq!(offsets(&out), [2, 3, 6, 7, 8]);
    assert_eq!(s.positions.get(&s.tp).unwrap().position(), Some(10));

    // read_uncommitted sees every data record, still no markers.
    let s = setup(0);
    let mut d = Drain::new(s.fetch(data, aborted), true, false).unwrap();
    let mut out = Vec::new();
    d.drain(100, &mut out).unwrap();
    assert_eq!(offsets(&out), [0, 1, 2, 3, 6, 7, 8]);
}

#[test]
fn corrupt_data_is_reported_after_the_good_records() {
    let good = batch(0, 2, None);
    let bad = batch(2, 2, None);
    let mut bad = BytesMut::from(&bad[..]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let s = setup(0);
    let mut d = Drain::new(s.fetch(concat(&[good, bad.freeze()]), vec![]), true, false).unwrap();
    let mut out = Vec::new();
    let e = d.drain(100, &mut out).unwrap_err();
    assert_eq!(offsets(&out), [0, 1]);
    assert!(matches!(e, ConsumerError::Corrupt { offset: 2, .. }), "{e}");
    assert!(d.is_done());
}

#[test]
fn stale_data_is_dropped() {
    let mut s = setup(0);
    let fetch = s.fetch(batch(0, 3, None), vec![]);
    s.positions.seek(&s.tp.clone(), 1, None);
    assert!(
        Drain::new(fetch, true, false).is_none(),
        "fetched before the seek"
    );

    // A seek between two drains of the same fetch: the second drain hands out nothing.
    let fetch = s.fetch(batch(0, 3, None), vec![]);
    let mut d = Drain::new(fetch, true, false).unwrap();
    let mut out = Vec::new();
    d.drain(1, &mut out).unwrap();
    assert_eq!(offsets(&out), [1]);
    let part = s.positions.get(&s.tp).unwrap().clone();
    // The position moved elsewhere without a generation change reaching this drain yet.
    assert!(part.advance(2, 50, None));
    d.drain(10, &mut out).unwrap();
    assert_eq!(offsets(&out), [1]);
    assert!(d.is_done());
}
