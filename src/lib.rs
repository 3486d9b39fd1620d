//! The pure-Rust Apache Kafka SDK.
//!
//! This facade re-exports the workspace's crates so that an application can depend on one
//! package. Each crate is usable on its own as well; see DESIGN.md for the map.
//!
//! - [`client`]: configuration, connections, metadata, retries (what the others build on);
//! - [`producer`]: [`producer::Producer`], send records and await their delivery;
//! - [`consumer`]: [`consumer::Consumer`], groups, poll/recv/stream, commits, seeks;
//! - [`admin`]: [`admin::AdminClient`], topics, configs, groups, offsets, records;
//! - [`protocol`]: the sans-IO codec underneath.
//!
//! The companion broker (`kafka-broker`) is not re-exported: applications do not ship it;
//! tests and examples depend on it directly. Runnable examples are in `examples/`, starting
//! with `cargo run --release --example quickstart`.

#![forbid(unsafe_code)]

pub use kafka_admin as admin;
pub use kafka_client as client;
pub use kafka_consumer as consumer;
pub use kafka_producer as producer;
pub use kafka_protocol as protocol;
