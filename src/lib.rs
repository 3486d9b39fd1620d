//! The pure-Rust Apache Kafka SDK.
//!
//! This facade re-exports the workspace's crates so that an application can depend on one
//! package. Each crate is usable on its own as well; see DESIGN.md for the map.

#![forbid(unsafe_code)]

pub use kafka_protocol as protocol;
