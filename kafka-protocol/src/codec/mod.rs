//! The encoding machinery shared by generated messages, headers and records.
//!
//! `Decode`/`Encode` are what the generator implements for every message and nested struct;
//! `decode`/`encode` hold the primitive parsers and writers they are built from.

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod decode;
pub mod encode;
pub mod tagged;

use bytes::{Bytes, BytesMut};

pub use tagged::RawTaggedField;

use crate::error::{DecodeError, EncodeError};

/// Result of a nom parser over a slice of a frame.
pub type PResult<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

/// A value that decodes from a Kafka frame at a given version.
pub trait Decode: Sized {
    /// Parses `input`, a slice inside `frame`, at `version`. Byte and string fields are views
    /// into `frame`.
    fn decode<'a>(frame: &Bytes, input: &'a [u8], version: i16) -> PResult<'a, Self>;

    /// Decodes a whole buffer, ignoring nothing: the value must end where the buffer does.
    fn decode_from(buf: &Bytes, version: i16) -> Result<Self, DecodeError> {
        match Self::decode(buf, buf, version) {
            Ok(([], v)) => Ok(v),
            Ok((rest, _)) => Err(DecodeError::at(
                rest,
                crate::error::DecodeErrorKind::InvalidValue("trailing bytes after the message"),
            )
            .with_base(buf)),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.with_base(buf)),
            Err(nom::Err::Incomplete(_)) => Err(DecodeError::new(
                crate::error::DecodeErrorKind::UnexpectedEof,
            )),
        }
    }
}

/// A value that encodes into a Kafka frame at a given version.
pub trait Encode {
    /// The exact number of bytes `encode` will write; fails if the value cannot be written at
    /// this version (a non-default field the version lacks, a null where none is allowed).
    fn encoded_size(&self, version: i16) -> Result<usize, EncodeError>;

    /// Writes the value. Callers reserve `encoded_size` first (one allocation per frame).
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;

    /// Encodes into a new buffer of exactly the right size.
    fn encode_to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        let n = self.encoded_size(version)?;
        let mut buf = BytesMut::with_capacity(n);
        self.encode(&mut buf, version)?;
        debug_assert_eq!(buf.len(), n, "encoded_size disagrees with encode");
        Ok(buf.freeze())
    }
}

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// Whether `v` lies in the range.
    pub const fn contains(&self, v: i16) -> bool {
        v >= self.min && v <= self.max
    }

    /// The overlap of two ranges, if any.
    pub const fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let min = if self.min > other.min {
            self.min
        } else {
            other.min
        };
        let max = if self.max < other.max {
            self.max
        } else {
            other.max
        };
        if min <= max {
            Some(VersionRange { min, max })
        } else {
            None
        }
    }
}

/// A message defined by a Kafka JSON spec: a request, response, header or data record.
pub trait Message: Encode + Decode + Default + Clone + PartialEq + std::fmt::Debug {
    /// The spec's name, e.g. `FetchRequest`.
    const NAME: &'static str;
    /// The versions this message has.
    const VERSIONS: VersionRange;
    /// The first flexible version, if any.
    const FIRST_FLEXIBLE: Option<i16>;
}

/// A request message, tied to its API key and response type.
pub trait Request: Message {
    /// The API this request belongs to.
    const API_KEY: crate::ApiKey;
    /// The matching response.
    type Response: Message;
}
