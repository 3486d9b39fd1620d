//! Sans-IO codec for the Apache Kafka wire protocol.
//!
//! - [`messages`]: every request, response, header and data message, generated from Kafka's
//!   JSON message specs by `cargo xtask codegen` (never edited by hand), each version of each.
//! - [`frame`]: request and response frames (size prefix, header, body) keyed by [`ApiKey`].
//! - [`records`]: record batches (v2) and legacy message sets (v0/v1), with [`compression`].
//! - [`ErrorCode`]: Kafka's error table.
//!
//! Decoding is zero-copy: strings ([`KStr`]), byte fields and record sets are views into the
//! received frame. Every length prefix is checked against the bytes left before anything is
//! allocated, and every failure is a typed [`DecodeError`] naming message, field and offset.
//!
//! ```
//! use bytes::Bytes;
//! use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
//! use kafka_protocol::{Decode, Encode};
//!
//! let req = MetadataRequest {
//!     topics: Some(vec![MetadataRequestTopic { name: Some("events".into()), ..Default::default() }]),
//!     ..Default::default()
//! };
//! let bytes: Bytes = req.encode_to_bytes(12).unwrap();
//! let back = MetadataRequest::decode_from(&bytes, 12).unwrap();
//! assert_eq!(back, req);
//! ```

pub mod codec;
pub mod compression;
pub mod error;
mod error_code;
pub mod frame;
mod kstr;
pub mod messages;
pub mod records;
mod uuid;

pub use codec::{Decode, Encode, Message, RawTaggedField, Request, VersionRange};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use error_code::ErrorCode;
pub use kstr::KStr;
pub use messages::ApiKey;
pub use uuid::Uuid;
