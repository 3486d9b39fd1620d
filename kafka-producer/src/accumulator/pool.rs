//! Buffers of completed batches kept for new ones, as Java's `BufferPool` does: a new batch
//! then costs no allocator round trip, no fresh pages to fault in, and no free on another
//! thread's arena (batches are built on the application's threads and completed on the
//! sender's).
//!
//! The pooled capacity counts with the batches' reservations against `buffer.memory`: a
//! buffer is kept only while both fit, and pooled buffers are let go before a fresh
//! allocation would make them not fit.

use bytes::BytesMut;

/// Recycled buffers kept at most.
const POOL_MAX: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Vec<BytesMut>,
    /// Capacity held in `free`.
    held: usize,
}

impl BufferPool {
    /// Keeps `buf` if it is at most `largest` bytes and fits in `limit` beside `used` bytes
    /// reserved by batches and the buffers already pooled.
    pub fn put(&mut self, buf: BytesMut, largest: usize, used: usize, limit: usize) {
        let cap = buf.capacity();
        if cap <= largest && self.free.len() < POOL_MAX && used + self.held + cap <= limit {
            self.held += cap;
            self.free.push(buf);
        }
    }

    /// A buffer of at least `capacity` bytes for a batch reserving `reserve`, if the last one
    /// pooled is one; otherwise buffers are let go until a fresh allocation of `reserve`
    /// fits in `limit` beside them and the `used` bytes.
    pub fn take(
        &mut self,
        capacity: usize,
        reserve: usize,
        used: usize,
        limit: usize,
    ) -> Option<BytesMut> {
        if self.free.last().is_some_and(|b| b.capacity() >= capacity) {
            let buf = self.free.pop()?;
            self.held -= buf.capacity();
            return Some(buf);
        }
        while used + self.held + reserve > limit {
            let Some(buf) = self.free.pop() else { break };
            self.held -= buf.capacity();
        }
        None
    }

    /// Capacity held.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_buffer_large_enough() {
        let mut pool = BufferPool::default();
        pool.put(BytesMut::with_capacity(100), 200, 0, 1000);
        assert_eq!(pool.held(), 100);
        assert!(pool.take(150, 150, 0, 1000).is_none(), "too small");
        let buf = pool.take(80, 80, 0, 1000).expect("fits");
        assert!(buf.capacity() >= 80);
        assert_eq!(pool.held(), 0);
    }

    #[test]
    fn pooled_and_reserved_memory_stay_within_the_limit() {
        let mut pool = BufferPool::default();
        pool.put(BytesMut::with_capacity(400), 1000, 500, 1000);
        assert_eq!(pool.held(), 400);
        // No room beside 700 reserved bytes: not kept.
        pool.put(BytesMut::with_capacity(400), 1000, 700, 1000);
        assert_eq!(pool.held(), 400);
        // Oversized: not kept.
        pool.put(BytesMut::with_capacity(2000), 1000, 0, 10_000);
        assert_eq!(pool.held(), 400);
        // A fresh 600-byte batch beside 500 reserved: the pooled 400 are let go.
        assert!(pool.take(600, 600, 400, 1000).is_none());
        assert_eq!(pool.held(), 0);
    }
}
