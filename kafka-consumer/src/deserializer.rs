//! Turning record keys and values into application types.
//!
//! Records arrive as bytes ([`ConsumerRecord`]); a [`Deserializer`] makes a key or value
//! into something else, given the topic and headers (schema registries put schema ids in
//! either). Built in: [`BytesDeserializer`] (the bytes as they are, zero-copy),
//! [`StrDeserializer`] (UTF-8 checked, still zero-copy, as a [`KStr`]),
//! [`StringDeserializer`] (an owned `String`). Implement the trait for your own formats.
//!
//! ```
//! use kafka_consumer::deserializer::{Deserializer, StrDeserializer};
//! use kafka_consumer::DeserializeError;
//! use bytes::Bytes;
//!
//! struct Celsius;
//!
//! impl Deserializer for Celsius {
//!     type Output = f64;
//!     fn deserialize(&self, topic: &str, _headers: &[kafka_consumer::RecordHeader], data: Option<&Bytes>) -> Result<f64, DeserializeError> {
//!         let text = StrDeserializer.deserialize(topic, &[], data)?
//!             .ok_or_else(|| DeserializeError::new(topic, "value", "null"))?;
//!         text.parse().map_err(|e| DeserializeError::new(topic, "value", format!("{e}")))
//!     }
//! }
//!
//! let v = Celsius.deserialize("temps", &[], Some(&Bytes::from_static(b"21.5"))).unwrap();
//! assert_eq!(v, 21.5);
//! ```

use bytes::Bytes;
use kafka_protocol::KStr;

use crate::error::DeserializeError;
use crate::record::{ConsumerRecord, RecordHeader};

/// Makes a key or value (`None`: null) into `Output`.
pub trait Deserializer: Send + Sync {
    /// The type produced.
    type Output;

    /// Deserializes `data` of a record of `topic` with `headers`.
    fn deserialize(
        &self,
        topic: &str,
        headers: &[RecordHeader],
        data: Option<&Bytes>,
    ) -> Result<Self::Output, DeserializeError>;
}

/// The bytes as they are (a view into the fetch response; no copy).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDeserializer;

impl Deserializer for BytesDeserializer {
    type Output = Option<Bytes>;

    fn deserialize(
        &self,
        _: &str,
        _: &[RecordHeader],
        data: Option<&Bytes>,
    ) -> Result<Option<Bytes>, DeserializeError> {
        Ok(data.cloned())
    }
}

/// UTF-8 text as a zero-copy [`KStr`].
#[derive(Debug, Clone, Copy, Default)]
pub struct StrDeserializer;

impl Deserializer for StrDeserializer {
    type Output = Option<KStr>;

    fn deserialize(
        &self,
        topic: &str,
        _: &[RecordHeader],
        data: Option<&Bytes>,
    ) -> Result<Option<KStr>, DeserializeError> {
        data.map(|b| {
            KStr::from_utf8(b.clone())
                .map_err(|e| DeserializeError::new(topic, "data", e.to_string()))
        })
        .transpose()
    }
}

/// UTF-8 text as an owned `String`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringDeserializer;

impl Deserializer for StringDeserializer {
    type Output = Option<String>;

    fn deserialize(
        &self,
        topic: &str,
        headers: &[RecordHeader],
        data: Option<&Bytes>,
    ) -> Result<Option<String>, DeserializeError> {
        Ok(StrDeserializer
            .deserialize(topic, headers, data)?
            .map(|s| s.as_str().to_owned()))
    }
}

/// A record with its key and value deserialized.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypedRecord<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The record itself (offset, timestamp, headers, raw key and value).
    pub record: ConsumerRecord,
}

impl ConsumerRecord {
    /// Deserializes key and value with `keys` and `values`.
    pub fn deserialize<KD: Deserializer, VD: Deserializer>(
        self,
        keys: &KD,
        values: &VD,
    ) -> Result<TypedRecord<KD::Output, VD::Output>, DeserializeError> {
        let key = keys
            .deserialize(&self.topic, &self.headers, self.key.as_ref())
            .map_err(|e| DeserializeError { what: "key", ..e })?;
        let value = values
            .deserialize(&self.topic, &self.headers, self.value.as_ref())
            .map_err(|e| DeserializeError { what: "value", ..e })?;
        Ok(TypedRecord {
            key,
            value,
            record: self,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn record(key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 7,
            timestamp: 1,
            timestamp_type: Default::default(),
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
            headers: Vec::new(),
            leader_epoch: None,
        }
    }

    #[test]
    fn built_in_deserializers() {
        let r = record(Some(b"k"), Some("héllo".as_bytes()));
        let t = r
            .clone()
            .deserialize(&StrDeserializer, &StringDeserializer)
            .unwrap();
        assert_eq!(t.key.unwrap().as_str(), "k");
        assert_eq!(t.value.as_deref(), Some("héllo"));
        let t = r
            .deserialize(&BytesDeserializer, &BytesDeserializer)
            .unwrap();
        assert_eq!(t.value.unwrap().len(), 6);
        let bad = record(None, Some(&[0xff, 0xfe]));
        let e = bad
            .deserialize(&StrDeserializer, &StrDeserializer)
            .unwrap_err();
        assert_eq!(e.what, "value");
        let nulls = record(None, None)
            .deserialize(&StringDeserializer, &StringDeserializer)
            .unwrap();
        assert!(nulls.key.is_none() && nulls.value.is_none());
    }
}
