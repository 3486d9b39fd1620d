use super::*;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};

fn batch(limit: usize) -> ProducerBatch {
    ProducerBatch::new(
        1,
        "t".into(),
        2,
        BatchOptions::default(),
        limit,
        limit,
        true,
        Instant::now(),
        None,
    )
}

fn rec(value: &[u8]) -> RecordInput<'_> {
    RecordInput {
        timestamp: 1000,
        key: Some(b"k"),
        value: Some(value),
        headers: &[],
    }
}

#[test]
fn appends_until_the_write_limit_and_always_takes_the_first_record() {
    let mut b = batch(300);
    let big = [0u8; 1000];
    assert_eq!(
        b.try_append(&rec(&big)).unwrap().map(|r| r.0),
        Some(0),
        "first always fits"
    );
    assert!(b.try_append(&rec(b"x")).unwrap().is_none());
    let mut b = batch(300);
    let mut n = 0;
    while b.try_append(&rec(&[1u8; 50])).unwrap().is_some() {
        n += 1;
    }
    assert!((3..=4).contains(&n), "{n}");
    assert!(b.is_full_for(rec(&[1u8; 50]).size()));
    assert!(b.size() <= 300);
}

#[test]
fn stamps_are_written_into_the_built_batch_with_a_valid_crc() {
    let mut b = batch(1000);
    b.try_append(&rec(b"a")).unwrap();
    b.try_append(&rec(b"b")).unwrap();
    b.set_stamp(ProducerStamp {
        producer_id: 77,
        epoch: 3,
        base_sequence: 10,
    });
    b.close().unwrap();
    let h = BatchHeader::parse(&b.bytes()).unwrap();
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (77, 3, 10)
    );
    BatchHeader::verify_crc(&b.bytes()).unwrap();
    assert_eq!(b.last_sequence(), Some(11));
    // Re-stamping a closed batch (an epoch bump) rewrites it.
    let held = b.bytes(); // as if a request still held it: the rewrite copies
    b.set_stamp(ProducerStamp {
        producer_id: 77,
        epoch: 4,
        base_sequence: 0,
    });
    let h = BatchHeader::parse(&b.bytes()).unwrap();
    assert_eq!((h.producer_epoch, h.base_sequence), (4, 0));
    BatchHeader::verify_crc(&b.bytes()).unwrap();
    assert_eq!(BatchHeader::parse(&held).unwrap().producer_epoch, 3);
}

#[test]
fn sequences_wrap_at_i32_max() {
    assert_eq!(add_sequence(i32::MAX, 1), 0);
    assert_eq!(add_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(add_sequence(5, 0), 5);
}

struct Acks(AtomicUsize, AtomicUsize);
impl AckListener for Acks {
    fn on_ack(&self, result: Result<&RecordMetadata, &ProducerError>) {
        match result {
            Ok(_) => self.0.fetch_add(1, Ordering::SeqCst),
            Err(_) => self.1.fetch_add(1, Ordering::SeqCst),
        };
    }
}

#[test]
fn completion_reaches_futures_callbacks_and_listeners() {
    let mut b = batch(10_000);
    for v in [b"a", b"b", b"c"] {
        b.try_append(&rec(v)).unwrap();
    }
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let s = seen.clone();
    b.add_callback(2, 1000, move |r: Result<RecordMetadata, ProducerError>| {
        s.lock().unwrap().push(r.unwrap().offset)
    });
    let shared = b.shared.clone();
    let listener = Acks(AtomicUsize::new(0), AtomicUsize::new(0));
    b.complete(
        Ok(BatchAck {
            base_offset: 100,
            log_append_time: -1,
        }),
        Some(&listener),
    );
    assert_eq!(*seen.lock().unwrap(), [102]);
    assert_eq!(listener.0.load(Ordering::SeqCst), 3);
    let f = crate::delivery::DeliveryFuture::new(shared, 1, 5);
    let m = futures_lite_block_on(f).unwrap();
    assert_eq!((m.offset, m.timestamp), (101, 5));
}

#[test]
fn split_keeps_records_sequences_callbacks_and_futures() {
    let mut b = batch(100_000);
    for i in 0..10u8 {
        b.try_append(&rec(&[i; 100])).unwrap();
    }
    let seen = Arc::new(StdMutex::new(Vec::new()));
    for i in [0u32, 5, 9] {
        let s = seen.clone();
        b.add_callback(i, 1000, move |r: Result<RecordMetadata, ProducerError>| {
            s.lock().unwrap().push((i, r.unwrap().offset))
        });
    }
    b.set_stamp(ProducerStamp {
        producer_id: 1,
        epoch: 0,
        base_sequence: 20,
    });
    b.close().unwrap();
    let parent = b.shared.clone();
    let reserved = b.reserved;
    let parts = b
        .split(BatchOptions::default(), 400, Instant::now())
        .unwrap();
    assert!(parts.len() >= 3, "{}", parts.len());
    assert_eq!(parts.iter().map(|p| p.records).sum::<u32>(), 10);
    assert_eq!(parts[0].reserved, reserved);
    let mut seq = 20;
    for p in &parts {
        assert_eq!(p.stamp.unwrap().base_sequence, seq);
        assert!(p.size() <= 400 || p.records == 1);
        seq += p.records as i32;
    }
    let futures: Vec<_> = (0..10)
        .map(|i| crate::delivery::DeliveryFuture::new(parent.clone(), i, 0))
        .collect();
    let mut base = 500;
    for p in parts {
        let n = i64::from(p.records);
        p.complete(
            Ok(BatchAck {
                base_offset: base,
                log_append_time: -1,
            }),
            None,
        );
        base += n;
    }
    let offsets: Vec<i64> = futures
        .into_iter()
        .map(|f| futures_lite_block_on(f).unwrap().offset)
        .collect();
    assert_eq!(offsets, (500..510).collect::<Vec<_>>());
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [(0, 500), (5, 505), (9, 509)]);
}

/// Polls a future that must already be ready.
fn futures_lite_block_on<F: std::future::Future + Unpin>(mut f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    match std::pin::Pin::new(&mut f).poll(&mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("not ready"),
    }
}
