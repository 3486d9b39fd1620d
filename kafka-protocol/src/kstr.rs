//! `KStr`: a protocol string that is a validated-UTF-8 view into a received frame.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// An immutable UTF-8 string backed by `Bytes`, so decoded strings share the frame's memory.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KStr(Bytes);

impl KStr {
    /// A string from a static str, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes already checked to be UTF-8 (crate-internal: decoders validate first).
    pub(crate) fn from_utf8_unchecked_bytes(b: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&b).is_ok());
        Self(b)
    }

    /// Validates `b` as UTF-8 and wraps it without copying.
    pub fn from_utf8(b: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&b)?;
        Ok(Self(b))
    }

    /// The string.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor establishes that the bytes are UTF-8: `from_utf8`
        // validates, the decoders validate before calling `from_utf8_unchecked_bytes`
        // (crate-private, debug-asserted), `from_static`/`From<&str>`/`From<String>` take a
        // `str`, and `Default` is empty. `Bytes` is immutable, so the invariant holds for the
        // value's lifetime. Tested by `tests::validates_and_shares` and the decoder tests
        // that feed invalid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for KStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for KStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for KStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for KStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for KStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for KStr {
    fn from(s: String) -> Self {
        Self(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for KStr {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for KStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for KStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_shares() {
        let b = Bytes::from_static("héllo".as_bytes());
        let s = KStr::from_utf8(b.clone()).unwrap();
        assert_eq!(&*s, "héllo");
        assert_eq!(s.as_bytes().as_ptr(), b.as_ptr());
        assert!(KStr::from_utf8(Bytes::from_static(&[0xc3])).is_err());
        assert_eq!(KStr::from("x"), "x");
    }
}
