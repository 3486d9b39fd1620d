//! Typed decode and encode errors.
//!
//! A decode error names the message and field that failed and the byte offset in the frame,
//! so that a hostile or corrupt frame can be reported precisely without a panic. Encode errors
//! say which field could not be written at the requested version (the same rules the Java
//! client's generated code enforces).

use std::fmt;

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the field did.
    UnexpectedEof,
    /// A length or count prefix declared more than the bytes left in the frame.
    LengthTooLarge {
        /// The declared length or element count.
        declared: u64,
        /// Bytes actually left.
        remaining: usize,
    },
    /// A length prefix was negative where null is not allowed (or below -1).
    InvalidLength(i64),
    /// A string was not valid UTF-8.
    InvalidUtf8,
    /// A varint ran over its maximum width.
    VarintOverflow,
    /// The requested version is not one the message has.
    UnsupportedVersion(i16),
    /// The API key in a request header is not a known API.
    UnknownApiKey(i16),
    /// A record batch or message failed its checksum.
    CrcMismatch {
        /// The checksum stored in the data.
        stored: u32,
        /// The checksum computed over the data.
        computed: u32,
    },
    /// A record batch or message had a magic byte this codec does not know.
    UnknownMagic(i8),
    /// A compression codec id that is not defined.
    UnknownCompression(u8),
    /// Decompression failed or produced more than the allowed size.
    Decompression(String),
    /// A value is outside what the format allows.
    InvalidValue(&'static str),
    /// A low-level parser failure.
    Parser(nom::error::ErrorKind),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof => f.write_str("unexpected end of input"),
            Self::LengthTooLarge {
                declared,
                remaining,
            } => write!(
                f,
                "declared length {declared} exceeds the {remaining} bytes remaining"
            ),
            Self::InvalidLength(n) => write!(f, "invalid length {n}"),
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::VarintOverflow => f.write_str("varint is too long"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            Self::UnknownApiKey(k) => write!(f, "unknown api key {k}"),
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Self::UnknownMagic(m) => write!(f, "unknown magic byte {m}"),
            Self::UnknownCompression(c) => write!(f, "unknown compression codec {c}"),
            Self::Decompression(e) => write!(f, "decompression failed: {e}"),
            Self::InvalidValue(what) => write!(f, "invalid value: {what}"),
            Self::Parser(k) => write!(f, "parser error {k:?}"),
        }
    }
}

/// A decode failure with the message, field and byte offset where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The message or struct being decoded ("" if not known).
    pub message: &'static str,
    /// The field being decoded ("" if not known).
    pub field: &'static str,
    /// Byte offset from the start of the decoded buffer, when known.
    pub offset: Option<usize>,
    /// What went wrong.
    pub kind: DecodeErrorKind,
    // Address of the input position where the error was raised: turned into `offset`
    // once the start of the buffer is known (never dereferenced).
    at: usize,
}

impl DecodeError {
    /// An error of `kind` raised at `input` (a position inside the buffer being decoded).
    pub fn at(input: &[u8], kind: DecodeErrorKind) -> Self {
        Self {
            message: "",
            field: "",
            offset: None,
            kind,
            at: input.as_ptr() as usize,
        }
    }

    /// An error with no position.
    pub fn new(kind: DecodeErrorKind) -> Self {
        Self {
            message: "",
            field: "",
            offset: None,
            kind,
            at: 0,
        }
    }

    /// Names the message and field, unless a more specific (inner) one was already named.
    #[must_use]
    pub fn in_field(mut self, message: &'static str, field: &'static str) -> Self {
        if self.message.is_empty() {
            self.message = message;
            self.field = field;
        }
        self
    }

    /// Resolves the byte offset against `buf`, the buffer decoding started from.
    #[must_use]
    pub fn with_base(mut self, buf: &[u8]) -> Self {
        let start = buf.as_ptr() as usize;
        if self.offset.is_none() && self.at >= start && self.at <= start + buf.len() {
            self.offset = Some(self.at - start);
        }
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot decode")?;
        if !self.message.is_empty() {
            write!(f, " {}", self.message)?;
            if !self.field.is_empty() {
                write!(f, ".{}", self.field)?;
            }
        }
        if let Some(o) = self.offset {
            write!(f, " at byte {o}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}

impl<'a> nom::error::ParseError<&'a [u8]> for DecodeError {
    fn from_error_kind(input: &'a [u8], kind: nom::error::ErrorKind) -> Self {
        let k = match kind {
            nom::error::ErrorKind::Eof | nom::error::ErrorKind::Complete => {
                DecodeErrorKind::UnexpectedEof
            }
            other => DecodeErrorKind::Parser(other),
        };
        Self::at(input, k)
    }

    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Why a value could not be encoded at the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The version is outside the message's valid versions.
    #[error("{message} has no version {version}")]
    UnsupportedVersion {
        /// Message name.
        message: &'static str,
        /// Requested version.
        version: i16,
    },
    /// A field that the version lacks holds a non-default value, and the field is not ignorable.
    #[error("{message}.{field} is not default but version {version} cannot carry it")]
    FieldNotInVersion {
        /// Message or struct name.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// Requested version.
        version: i16,
    },
    /// A null value in a field that is not nullable at this version.
    #[error("{message}.{field} is null but not nullable at version {version}")]
    NullNotAllowed {
        /// Message or struct name.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// Requested version.
        version: i16,
    },
    /// A string, byte field or array is longer than its length prefix can express.
    #[error("{message}.{field} is too long ({len}) for its length prefix")]
    TooLong {
        /// Message or struct name.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// The length that does not fit.
        len: usize,
    },
    /// A record or batch could not be built.
    #[error("record encoding: {0}")]
    Records(&'static str),
    /// Compression failed.
    #[error("compression failed: {0}")]
    Compression(String),
}
