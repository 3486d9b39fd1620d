//! gzip, as Java's `GZIPOutputStream`/`GZIPInputStream` write and read it.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{encode_failed, read_bounded};
use crate::error::{DecodeError, EncodeError};

/// Compresses into a single gzip member; `level` 0-9, default 6 (zlib's default, which is
/// what Java's `Deflater.DEFAULT_COMPRESSION` means).
pub(super) fn compress(data: &[u8], level: Option<i32>) -> Result<Vec<u8>, EncodeError> {
    let level = match level {
        None => flate2::Compression::default(),
        Some(l @ 0..=9) => flate2::Compression::new(l.unsigned_abs()),
        Some(_) => return Err(EncodeError::Compression("gzip level must be 0-9".into())),
    };
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), level);
    enc.write_all(data).map_err(|e| encode_failed("gzip", e))?;
    enc.finish().map_err(|e| encode_failed("gzip", e))
}

/// Decompresses every gzip member in `data` (Java reads concatenated members too).
pub(super) fn decompress(data: &[u8], max_size: usize) -> Result<Vec<u8>, DecodeError> {
    read_bounded(MultiGzDecoder::new(data), "gzip", data.len(), max_size)
}
