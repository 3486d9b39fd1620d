//! Serializers: how a producer turns its key and value types into bytes.
//!
//! A [`Producer`](crate::Producer) is typed by its key and value types and holds one
//! [`Serializer`] for each, as Java's `KafkaProducer<K, V>` does. The default producer takes
//! [`Bytes`] through [`BytesSerializer`], which copies nothing; [`StringSerializer`] writes
//! UTF-8; users implement [`Serializer`] for their own types (JSON, Avro, ...).
//!
//! ```
//! use bytes::Bytes;
//! use kafka_producer::serializer::{SerializeError, Serializer};
//!
//! /// Big-endian u64 keys.
//! struct U64Serializer;
//!
//! impl Serializer<u64> for U64Serializer {
//!     fn serialize(&self, _topic: &str, data: &u64) -> Result<Bytes, SerializeError> {
//!         Ok(Bytes::copy_from_slice(&data.to_be_bytes()))
//!     }
//! }
//!
//! assert_eq!(U64Serializer.serialize("t", &1).unwrap().len(), 8);
//! ```

use std::sync::Arc;

use bytes::Bytes;

/// Why a serializer failed (any error; strings convert with `.into()`).
pub type SerializeError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a `T` into the bytes of a record key or value.
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Serializes `data` for a record to `topic`.
    fn serialize(&self, topic: &str, data: &T) -> Result<Bytes, SerializeError>;
}

impl<T: ?Sized, S: Serializer<T> + ?Sized> Serializer<T> for Arc<S> {
    fn serialize(&self, topic: &str, data: &T) -> Result<Bytes, SerializeError> {
        (**self).serialize(topic, data)
    }
}

/// Passes bytes through: [`Bytes`] without copying, `Vec<u8>` and `[u8]` by copying.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerializer;

impl Serializer<Bytes> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &Bytes) -> Result<Bytes, SerializeError> {
        // A reference-count increment, not a copy.
        Ok(data.clone())
    }
}

impl Serializer<Vec<u8>> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &Vec<u8>) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data))
    }
}

impl Serializer<[u8]> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &[u8]) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data))
    }
}

/// Writes strings as UTF-8, as Java's `StringSerializer` does by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerializer;

impl Serializer<String> for StringSerializer {
    fn serialize(&self, _topic: &str, data: &String) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

impl Serializer<str> for StringSerializer {
    fn serialize(&self, _topic: &str, data: &str) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

/// Writes integers big-endian, as Java's `IntegerSerializer` and `LongSerializer` do.
#[derive(Debug, Clone, Copy, Default)]
pub struct BigEndianSerializer;

impl Serializer<i32> for BigEndianSerializer {
    fn serialize(&self, _topic: &str, data: &i32) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(&data.to_be_bytes()))
    }
}

impl Serializer<i64> for BigEndianSerializer {
    fn serialize(&self, _topic: &str, data: &i64) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(&data.to_be_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_serializers() {
        let b = Bytes::from_static(b"abc");
        let out = BytesSerializer.serialize("t", &b).unwrap();
        assert_eq!(out.as_ptr(), b.as_ptr(), "no copy");
        assert_eq!(
            &StringSerializer.serialize("t", "héllo").unwrap()[..],
            "héllo".as_bytes()
        );
        assert_eq!(
            &BigEndianSerializer.serialize("t", &1i32).unwrap()[..],
            &[0, 0, 0, 1]
        );
        let shared: Arc<dyn Serializer<String>> = Arc::new(StringSerializer);
        assert_eq!(&shared.serialize("t", &"x".to_owned()).unwrap()[..], b"x");
    }
}
