//! Java's murmur2 hash, bit for bit, so keyed records land on the partitions Java clients
//! (and librdkafka's `murmur2` partitioners, and franz-go) choose for the same key.
//!
//! The arithmetic is Java's `Utils.murmur2`: 32-bit wrapping, unsigned shifts, the tail read
//! little-endian, seed `0x9747b28c`.

/// Java's `Utils.murmur2(byte[])`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java computes `seed ^ length` on ints: the length wraps like Java's int would.
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&b) = tail.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which differs for negatives).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Java's built-in partitioner picks for a key among `partitions` partitions
/// (all of them, available or not): `toPositive(murmur2(key)) % partitions`.
///
/// ```
/// use kafka_producer::partitioner::partition_for_key;
/// assert_eq!(partition_for_key(b"foobar", 6), (-790332482i32 & 0x7fffffff) % 6);
/// ```
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    let n = i32::try_from(partitions.max(1)).unwrap_or(i32::MAX);
    to_positive(murmur2(key)) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_test_vectors() {
        // Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn librdkafka_test_vectors() {
        // librdkafka's rdmurmur2.c unit test.
        assert_eq!(murmur2(b"kafka") as u32, 0xd067_cf64);
        assert_eq!(murmur2(b"") as u32, 0x106e_08d9);
    }

    #[test]
    fn to_positive_is_not_abs() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(partition_for_key(b"21", 3), (-973932308 & 0x7fffffff) % 3);
    }
}
