//! Request and response frames: the 4-byte size prefix, the header, and the body.
//!
//! On the wire every Kafka message is `size: i32` followed by `size` bytes: a request header
//! (api key, api version, correlation id, client id, tagged fields in v2) and the request body,
//! or a response header (correlation id, tagged fields in v1) and the response body. Which header
//! version goes with which (api, version) comes from the generated [`ApiKey`] table.
//!
//! [`FrameSplitter`] is the sans-IO piece a connection uses to cut frames out of a byte stream,
//! refusing a negative or oversized size before buffering it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codec::{Decode, Encode};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::messages::request_header::RequestHeader;
use crate::messages::response_header::ResponseHeader;
use crate::messages::{ApiKey, RequestBody, ResponseBody};

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    /// The API, from the header.
    pub api_key: ApiKey,
    /// The header (api key, version, correlation id, client id).
    pub header: RequestHeader,
    /// The body.
    pub body: RequestBody,
}

impl RequestFrame {
    /// The request's API version.
    pub fn api_version(&self) -> i16 {
        self.header.request_api_version
    }

    /// The request's correlation id.
    pub fn correlation_id(&self) -> i32 {
        self.header.correlation_id
    }
}

/// The first fields of a request header, readable even when the rest is not (so a broker can
/// answer an unknown version or a malformed body with the right correlation id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    /// The raw API key (may be unknown).
    pub api_key: i16,
    /// The API version.
    pub api_version: i16,
    /// The correlation id.
    pub correlation_id: i32,
}

/// Reads the api key, version and correlation id at the start of a request frame.
pub fn peek_request(frame: &[u8]) -> Option<RequestPrefix> {
    let mut b = frame.get(..8)?;
    Some(RequestPrefix {
        api_key: b.get_i16(),
        api_version: b.get_i16(),
        correlation_id: b.get_i32(),
    })
}

fn finish<T>(buf: &Bytes, r: crate::codec::PResult<'_, T>) -> Result<(usize, T), DecodeError> {
    match r {
        Ok((rest, v)) => Ok((buf.len() - rest.len(), v)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.with_base(buf)),
        Err(nom::Err::Incomplete(_)) => Err(DecodeError::new(DecodeErrorKind::UnexpectedEof)),
    }
}

/// Decodes a request frame (without its size prefix). Body fields are views into `frame`.
pub fn decode_request(frame: &Bytes) -> Result<RequestFrame, DecodeError> {
    let prefix = peek_request(frame).ok_or_else(|| {
        DecodeError::new(DecodeErrorKind::UnexpectedEof).in_field("RequestHeader", "")
    })?;
    let api_key = ApiKey::from_i16(prefix.api_key).ok_or_else(|| {
        DecodeError::new(DecodeErrorKind::UnknownApiKey(prefix.api_key))
            .in_field("RequestHeader", "RequestApiKey")
    })?;
    let hv = api_key.request_header_version(prefix.api_version);
    let (used, header) = finish(frame, RequestHeader::decode(frame, frame, hv))?;
    let body_start = &frame[used..];
    let (_, body) = finish(
        frame,
        RequestBody::decode(api_key, frame, body_start, prefix.api_version),
    )?;
    Ok(RequestFrame {
        api_key,
        header,
        body,
    })
}

/// Encodes a request with its 4-byte size prefix, in one allocation. The API and version come
/// from `header`; the body must be of the same API.
pub fn encode_request(header: &RequestHeader, body: &RequestBody) -> Result<BytesMut, EncodeError> {
    let mut buf = BytesMut::new();
    encode_request_into(header, body, &mut buf)?;
    Ok(buf)
}

/// Like [`encode_request`], appending to `buf` (reserving the frame's size at once), so a
/// connection can reuse the buffers of frames already written.
pub fn encode_request_into(
    header: &RequestHeader,
    body: &RequestBody,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let version = header.request_api_version;
    let api = body.api_key();
    if header.request_api_key != api.key() {
        return Err(EncodeError::FieldNotInVersion {
            message: "RequestHeader",
            field: "RequestApiKey",
            version,
        });
    }
    let hv = api.request_header_version(version);
    let size = header.encoded_size(hv)? + body.encoded_size(version)?;
    let start = buf.len();
    buf.reserve(4 + size);
    buf.put_i32(frame_size(size)?);
    header.encode(buf, hv)?;
    body.encode(buf, version)?;
    debug_assert_eq!(buf.len() - start, 4 + size);
    Ok(())
}

/// Decodes a response frame (without its size prefix) to a request of `api` at `version`.
pub fn decode_response(
    frame: &Bytes,
    api: ApiKey,
    version: i16,
) -> Result<(ResponseHeader, ResponseBody), DecodeError> {
    let hv = api.response_header_version(version);
    let (used, header) = finish(frame, ResponseHeader::decode(frame, frame, hv))?;
    let (_, body) = finish(
        frame,
        ResponseBody::decode(api, frame, &frame[used..], version),
    )?;
    Ok((header, body))
}

/// Reads just the correlation id of a response frame (to find the request it answers).
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    let mut b = frame.get(..4)?;
    Some(b.get_i32())
}

/// Encodes a response with its 4-byte size prefix, in one allocation.
pub fn encode_response(
    correlation_id: i32,
    version: i16,
    body: &ResponseBody,
) -> Result<BytesMut, EncodeError> {
    let api = body.api_key();
    let hv = api.response_header_version(version);
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    let size = header.encoded_size(hv)? + body.encoded_size(version)?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(frame_size(size)?);
    header.encode(&mut buf, hv)?;
    body.encode(&mut buf, version)?;
    debug_assert_eq!(buf.len(), 4 + size);
    Ok(buf)
}

fn frame_size(size: usize) -> Result<i32, EncodeError> {
    i32::try_from(size).map_err(|_| EncodeError::TooLong {
        message: "frame",
        field: "size",
        len: size,
    })
}

/// Why a byte stream cannot be split into frames; the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The size prefix is negative.
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    /// The size prefix exceeds the configured maximum.
    #[error("frame size {size} exceeds the maximum {max}")]
    TooLarge {
        /// The declared size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// Cuts size-prefixed frames out of a byte stream (sans-IO: feed it bytes, take frames).
#[derive(Debug)]
pub struct FrameSplitter {
    buf: BytesMut,
    max: usize,
}

impl FrameSplitter {
    /// A splitter that refuses frames larger than `max` bytes (Kafka's
    /// `socket.request.max.bytes` defaults to 100 MiB).
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
        }
    }

    /// The buffer to read more bytes into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete frame (without its size prefix), `Ok(None)` if more bytes are
    /// needed. The size is checked before anything is reserved for it.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let size = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if size < 0 {
            return Err(FrameError::NegativeSize(size));
        }
        let size = size as usize;
        if size > self.max {
            return Err(FrameError::TooLarge {
                size,
                max: self.max,
            });
        }
        if self.buf.len() < 4 + size {
            // Reserve what this frame still needs (bounded by `max`), so one read can finish it.
            self.buf.reserve(4 + size - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(size).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KStr;
    use crate::messages::api_versions_request::ApiVersionsRequest;
    use crate::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};

    #[test]
    fn request_round_trip_with_header() {
        let header = RequestHeader {
            request_api_key: ApiKey::Metadata.key(),
            request_api_version: 12,
            correlation_id: 7,
            client_id: Some(KStr::from("me")),
            ..Default::default()
        };
        let body = RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some("t".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let mut wire = encode_request(&header, &body).unwrap();
        let mut split = FrameSplitter::new(1 << 20);
        split.buffer().extend_from_slice(&wire.split_to(3));
        assert_eq!(split.next_frame().unwrap(), None);
        split.buffer().extend_from_slice(&wire);
        let frame = split.next_frame().unwrap().unwrap();
        let req = decode_request(&frame).unwrap();
        assert_eq!(req.header, header);
        assert_eq!(req.body, body);
        assert_eq!(req.api_key, ApiKey::Metadata);
    }

    #[test]
    fn api_versions_v3_request_matches_librdkafka_bytes() {
        // The first request librdkafka 2.x sends: ApiVersions v3, header v2, client id
        // "rdkafka", software name "librdkafka", version "2.0.2".
        let body = RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "librdkafka".into(),
            client_software_version: "2.0.2".into(),
            ..Default::default()
        });
        let header = RequestHeader {
            request_api_key: 18,
            request_api_version: 3,
            correlation_id: 1,
            client_id: Some("rdkafka".into()),
            ..Default::default()
        };
        let wire = encode_request(&header, &body).unwrap();
        let mut expected = vec![0, 0, 0, 0];
        expected.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 7]);
        expected.extend_from_slice(b"rdkafka");
        expected.push(0); // header tagged fields
        expected.push(11);
        expected.extend_from_slice(b"librdkafka");
        expected.push(6);
        expected.extend_from_slice(b"2.0.2");
        expected.push(0); // body tagged fields
        let n = (expected.len() - 4) as u32;
        expected[..4].copy_from_slice(&n.to_be_bytes());
        assert_eq!(&wire[..], &expected[..]);
    }

    #[test]
    fn hostile_sizes_are_refused_before_buffering() {
        let mut split = FrameSplitter::new(100);
        split.buffer().extend_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(split.next_frame(), Err(FrameError::NegativeSize(-5)));
        let mut split = FrameSplitter::new(100);
        split.buffer().extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            split.next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(split.buffer().capacity() < 1024);
    }

    #[test]
    fn unknown_api_key_and_truncated_frames_are_errors() {
        let frame = Bytes::from_static(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        let e = decode_request(&frame).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnknownApiKey(0x7f00));
        assert!(decode_request(&Bytes::from_static(&[0, 3])).is_err());
        // Metadata v12 with a topic count larger than the frame.
        let frame = Bytes::from_static(&[
            0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x7f,
        ]);
        let e = decode_request(&frame).unwrap_err();
        assert_eq!(e.message, "MetadataRequest");
        assert!(e.offset.is_some());
    }
}
