//! CRC-32C of a concatenation from the CRCs of its parts.
//!
//! A batch's CRC covers its header fields (from `attributes` on) and then its records. The
//! builder checksums the records in chunks as they are appended, so building the batch only
//! has the last chunk and the 40 header bytes left to checksum and the two CRCs to combine;
//! most of a 16 KiB batch is then not read a second time by whoever builds it (a producer's
//! sender task).
//!
//! The combination is zlib's (`crc32_combine`, Mark Adler's current version): the first CRC
//! is multiplied by x^(8·len) modulo the polynomial, with x^(2^k) precomputed at compile
//! time, so combining costs a few hundred cycles whatever the length.

/// CRC-32C (Castagnoli), reflected.
const POLY: u32 = 0x82F6_3B78;

/// a·b modulo the polynomial (reflected bit order: x^0 is the top bit).
const fn mul_mod(a: u32, mut b: u32) -> u32 {
    let mut m: u32 = 1 << 31;
    let mut p: u32 = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        if m == 0 {
            break;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// x^(2^k) modulo the polynomial, for k in 0..64 (squared one from the other; k stays
/// below 64 for any length under 2^61 bytes).
const X2N: [u32; 64] = {
    let mut table = [0u32; 64];
    let mut p: u32 = 1 << 30; // x^1
    table[0] = p;
    let mut n = 1;
    while n < 64 {
        p = mul_mod(p, p);
        table[n] = p;
        n += 1;
    }
    table
};

/// x^(8·len) modulo the polynomial: the operator that moves a CRC past `len` bytes.
fn x8n(mut len: usize) -> u32 {
    let mut p: u32 = 1 << 31; // x^0
    let mut k = 3; // 8 = 2^3
    while len != 0 {
        if len & 1 != 0 {
            p = mul_mod(X2N[k & 63], p);
        }
        len >>= 1;
        k += 1;
    }
    p
}

/// The CRC-32C of `a ‖ b` from `crc_a` (of `a`), `crc_b` (of `b`) and `b`'s length.
pub(crate) fn combine(crc_a: u32, crc_b: u32, len_b: usize) -> u32 {
    if len_b == 0 {
        return crc_a;
    }
    mul_mod(x8n(len_b), crc_a) ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn combines_like_a_single_pass() {
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for split in [0, 1, 7, 40, 61, 4096, 16_384, 65_536, data.len()] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()),
                crc32c::crc32c(&data),
                "split at {split}"
            );
        }
    }

    #[test]
    fn agrees_with_the_crc32c_crate() {
        for len in [1usize, 2, 3, 100, 1023, 1 << 20, (1 << 31) + 5] {
            assert_eq!(
                combine(0x1234_5678, 0x9abc_def0, len),
                crc32c::crc32c_combine(0x1234_5678, 0x9abc_def0, len),
                "len {len}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_split_of_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048), cut in any::<usize>()) {
            let cut = if data.is_empty() { 0 } else { cut % (data.len() + 1) };
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len()), crc32c::crc32c(&data));
        }
    }
}
