//! Kafka's 128-bit UUID (topic ids, directory ids), written as 16 big-endian bytes.

use std::fmt;

/// A 128-bit UUID as Kafka writes it. `Uuid::ZERO` is the spec default ("no id").
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero id.
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// From the two 64-bit halves, as the Java `Uuid(msb, lsb)` constructor.
    pub const fn from_u64_pair(msb: u64, lsb: u64) -> Self {
        let m = msb.to_be_bytes();
        let l = lsb.to_be_bytes();
        Uuid([
            m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], l[0], l[1], l[2], l[3], l[4], l[5],
            l[6], l[7],
        ])
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
