//! Zstandard, through the reference C library (the `zstd` crate).

use super::{corrupt, encode_failed, read_bounded};
use crate::error::{DecodeError, EncodeError};

/// Level used when none is given: zstd's own default, which is also Kafka's.
const DEFAULT_LEVEL: i32 = 3;

/// Largest window a frame may ask the decoder to allocate, as a power of two, when the
/// output limit is small. 2^23 (8 MiB) is what every standard level up to 22 uses for a
/// stream of unknown size (Java's streaming compressor), so no ordinary frame is refused.
const MIN_WINDOW_LOG: u32 = 23;
/// zstd's own default ceiling (128 MiB).
const MAX_WINDOW_LOG: u32 = 27;

/// Compresses into one frame.
pub(super) fn compress(data: &[u8], level: Option<i32>) -> Result<Vec<u8>, EncodeError> {
    zstd::bulk::compress(data, level.unwrap_or(DEFAULT_LEVEL)).map_err(|e| encode_failed("zstd", e))
}

/// Decompresses every frame in `data`.
///
/// Besides the output limit, the window a frame may declare is capped near the limit: the
/// decoder allocates the window up front, so a 20-byte frame declaring a 128 MiB window
/// would otherwise cost 128 MiB of memory whatever the output limit.
pub(super) fn decompress(data: &[u8], max_size: usize) -> Result<Vec<u8>, DecodeError> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt("zstd", e))?;
    dec.window_log_max(window_log_for(max_size))
        .map_err(|e| corrupt("zstd", e))?;
    read_bounded(dec, "zstd", data.len(), max_size)
}

/// The smallest power of two at least `max_size`, clamped to the window bounds above.
fn window_log_for(max_size: usize) -> u32 {
    let log = usize::BITS - max_size.saturating_sub(1).leading_zeros();
    log.clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds() {
        assert_eq!(window_log_for(0), MIN_WINDOW_LOG);
        assert_eq!(window_log_for(1 << 20), MIN_WINDOW_LOG);
        assert_eq!(window_log_for((1 << 25) + 1), 26);
        assert_eq!(window_log_for(usize::MAX), MAX_WINDOW_LOG);
    }

    #[test]
    fn concatenated_frames_are_read() {
        let mut z = compress(b"hello ", None).unwrap();
        z.extend(compress(b"world", Some(1)).unwrap());
        assert_eq!(decompress(&z, 100).unwrap(), b"hello world");
    }
}
