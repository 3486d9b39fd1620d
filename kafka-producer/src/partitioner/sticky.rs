//! The uniform sticky partitioner (KIP-794), Java's built-in choice for records without a key.
//!
//! Records without a key stick to one partition until about `batch.size` bytes went to it,
//! then the next partition is drawn at random, so batches fill up (few large requests rather
//! than many small ones) and every partition gets the same share of bytes over time. With
//! adaptive partitioning the draw is weighted towards partitions with shorter queues, so a
//! slow broker gets less; with `partitioner.availability.timeout.ms` a broker that has not
//! taken a request for that long gets nothing.
//!
//! Sans-IO: the accumulator owns one per topic, calls [`StickyPartitioner::partition`] before
//! an append and [`StickyPartitioner::on_append`] after, and feeds queue sizes to
//! [`StickyPartitioner::update_load`] when it checks readiness. Randomness comes in as an
//! argument.

/// The per-topic sticky state.
#[derive(Debug, Clone, Default)]
pub struct StickyPartitioner {
    current: Option<i32>,
    produced_bytes: usize,
    /// Partitions and the running sum of their weights (for the weighted draw); `None` when
    /// every partition is equally loaded and available, so the plain uniform draw applies.
    load: Option<LoadStats>,
}

#[derive(Debug, Clone)]
struct LoadStats {
    partitions: Vec<i32>,
    cumulative: Vec<u64>,
}

impl StickyPartitioner {
    /// No partition chosen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The partition to append the next record to: the current one, or a new random pick
    /// among `available` (all `count` partitions when none is available).
    pub fn partition(&mut self, count: usize, available: &[i32], random: u32) -> i32 {
        if let Some(p) = self.current
            && (p as usize) < count
        {
            return p;
        }
        let p = self.next(count, available, random);
        self.current = Some(p);
        self.produced_bytes = 0;
        p
    }

    /// The partition records stick to now, if one was chosen.
    pub fn current(&self) -> Option<i32> {
        self.current
    }

    /// Records that `bytes` were appended to `partition`. `batch_full` says the partition's
    /// last batch has no room for another record like this one: switching then starts the
    /// new partition on a fresh batch instead of leaving a small one behind.
    ///
    /// Switches when the partition could not take another such record within `batch_size`
    /// bytes and its batch is full, and always at twice `batch_size` (Java's cap, for a mix
    /// of keyed and unkeyed records that keeps the last batch from filling).
    pub fn on_append(&mut self, partition: i32, bytes: usize, batch_full: bool, batch_size: usize) {
        if self.current != Some(partition) {
            return;
        }
        self.produced_bytes += bytes;
        let would_overflow = self.produced_bytes + bytes > batch_size;
        if (would_overflow && batch_full) || self.produced_bytes >= 2 * batch_size {
            self.current = None;
        }
    }

    /// Adaptive partitioning: `queue_sizes` are `(partition, batches queued)` for the
    /// partitions whose leaders are available; `all_partitions` is the topic's count. The
    /// draw then favours short queues, with weight `max + 1 - size`.
    pub fn update_load(&mut self, queue_sizes: &[(i32, usize)], all_partitions: usize) {
        let Some(max) = queue_sizes.iter().map(|(_, n)| *n).max() else {
            self.load = None;
            return;
        };
        let all_equal = queue_sizes.iter().all(|(_, n)| *n == max);
        if all_equal && queue_sizes.len() == all_partitions {
            self.load = None;
            return;
        }
        let mut sum = 0u64;
        let mut cumulative = Vec::with_capacity(queue_sizes.len());
        for (_, n) in queue_sizes {
            sum += (max + 1 - n) as u64;
            cumulative.push(sum);
        }
        self.load = Some(LoadStats {
            partitions: queue_sizes.iter().map(|(p, _)| *p).collect(),
            cumulative,
        });
    }

    /// Forgets load statistics (adaptive partitioning off).
    pub fn clear_load(&mut self) {
        self.load = None;
    }

    fn next(&self, count: usize, available: &[i32], random: u32) -> i32 {
        let random = u64::from(random & 0x7fff_ffff);
        if let Some(load) = &self.load
            && let Some(&total) = load.cumulative.last()
            && total > 0
        {
            let r = random % total;
            // The first partition whose running sum exceeds the draw (Java's binary search).
            let i = load.cumulative.partition_point(|&c| c <= r);
            if let Some(&p) = load.partitions.get(i) {
                return p;
            }
        }
        if available.is_empty() {
            (random % count.max(1) as u64) as i32
        } else {
            available[(random % available.len() as u64) as usize]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticks_until_a_batch_worth_of_bytes() {
        let mut s = StickyPartitioner::new();
        let first = s.partition(4, &[0, 1, 2, 3], 7);
        assert_eq!(first, 3);
        // 100-byte records into 1000-byte batches: the batch is full after 9 (plus a header).
        for i in 0..9 {
            assert_eq!(s.partition(4, &[0, 1, 2, 3], i), first);
            s.on_append(first, 100, false, 1000);
        }
        assert_eq!(s.current(), Some(first));
        s.on_append(first, 100, true, 1000);
        assert_eq!(s.current(), None, "switches once a batch is full");
        assert_eq!(s.partition(4, &[0, 1, 2, 3], 1), 1);
    }

    #[test]
    fn switches_at_twice_the_batch_size_regardless() {
        let mut s = StickyPartitioner::new();
        let p = s.partition(2, &[], 0);
        for _ in 0..19 {
            s.on_append(p, 100, false, 1000);
            assert_eq!(s.current(), Some(p));
        }
        s.on_append(p, 100, false, 1000);
        assert_eq!(s.current(), None);
    }

    #[test]
    fn only_available_partitions_are_drawn() {
        let mut s = StickyPartitioner::new();
        for r in 0..100 {
            s.current = None;
            let p = s.partition(6, &[1, 4], r);
            assert!(p == 1 || p == 4);
        }
        // None available: any partition.
        s.current = None;
        assert_eq!(s.partition(6, &[], 11), 5);
    }

    #[test]
    fn adaptive_draw_favours_short_queues() {
        let mut s = StickyPartitioner::new();
        s.update_load(&[(0, 0), (1, 3), (2, 0)], 3);
        // Weights 4, 1, 4: cumulative 4, 5, 9.
        let mut hits = [0usize; 3];
        for r in 0..9 {
            s.current = None;
            hits[s.partition(3, &[0, 1, 2], r) as usize] += 1;
        }
        assert_eq!(hits, [4, 1, 4]);
        s.update_load(&[(0, 2), (1, 2), (2, 2)], 3);
        assert!(s.load.is_none(), "equal queues: plain uniform draw");
        s.update_load(&[(0, 2), (2, 2)], 3);
        assert!(s.load.is_some(), "an unavailable partition is left out");
    }
}
