//! A small deterministic generator of random values, used by the generated `arbitrary`
//! functions to produce messages that a given version can carry (property tests, fuzzing).

use bytes::Bytes;

use crate::{KStr, Uuid};

/// A splitmix64 random source with helpers for protocol values.
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
    depth: u32,
}

impl Gen {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            depth: 0,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }

    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    pub fn i16(&mut self) -> i16 {
        self.next_u64() as i16
    }
    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }
    pub fn i32(&mut self) -> i32 {
        self.next_u64() as i32
    }
    pub fn u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    pub fn i64(&mut self) -> i64 {
        self.next_u64() as i64
    }
    /// A finite float (NaN would break equality in round-trip checks).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() % 1_000_000) as f64 / 7.0 - 1000.0
    }
    pub fn uuid(&mut self) -> Uuid {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        a[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        Uuid(a)
    }
    pub fn string(&mut self) -> KStr {
        const ALPHABET: &[&str] = &["a", "b", "z", "0", "-", "_", ".", "é", "日", "🙂"];
        let n = (self.next_u64() % 12) as usize;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(ALPHABET[(self.next_u64() % ALPHABET.len() as u64) as usize]);
        }
        KStr::from(s)
    }
    pub fn bytes(&mut self) -> Bytes {
        let n = (self.next_u64() % 24) as usize;
        (0..n)
            .map(|_| self.next_u64() as u8)
            .collect::<Vec<u8>>()
            .into()
    }
    /// A length for a generated array: short, and shorter the deeper the nesting.
    pub fn arr_len(&mut self) -> usize {
        let max = match self.depth {
            0 => 4,
            1 => 3,
            _ => 2,
        };
        (self.next_u64() % (max + 1)) as usize
    }
    /// Enters a nested struct (bounds how large generated values grow).
    pub fn enter(&mut self) {
        self.depth += 1;
    }
    /// Leaves a nested struct.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    /// Unknown tagged fields with tags above any the specs use, sorted by tag.
    pub fn unknown_tagged(&mut self) -> Vec<super::RawTaggedField> {
        if !self.one_in(4) {
            return Vec::new();
        }
        let n = 1 + (self.next_u64() % 2) as u32;
        (0..n)
            .map(|k| super::RawTaggedField {
                tag: 1000 + k * 7 + (self.next_u64() % 5) as u32,
                data: self.bytes(),
            })
            .collect()
    }
}

/// Encodes `value` at `version`, checks the size matches what `encoded_size` said, decodes it
/// back and checks it equals `value`.
pub fn check_roundtrip<T: super::Message>(value: &T, version: i16) -> Result<(), String> {
    let size = value
        .encoded_size(version)
        .map_err(|e| format!("{} v{version}: encoded_size: {e}", T::NAME))?;
    let mut buf = bytes::BytesMut::with_capacity(size);
    value
        .encode(&mut buf, version)
        .map_err(|e| format!("{} v{version}: encode: {e}", T::NAME))?;
    if buf.len() != size {
        return Err(format!(
            "{} v{version}: encoded_size said {size} but encode wrote {}",
            T::NAME,
            buf.len()
        ));
    }
    let bytes = buf.freeze();
    let back = T::decode_from(&bytes, version)
        .map_err(|e| format!("{} v{version}: decode: {e}\n{value:?}", T::NAME))?;
    if &back != value {
        return Err(format!(
            "{} v{version}: decoded value differs\nwrote: {value:?}\nread:  {back:?}",
            T::NAME
        ));
    }
    Ok(())
}
