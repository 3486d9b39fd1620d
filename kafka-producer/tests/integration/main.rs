//! Integration tests of the producer against the companion broker started in-process, or
//! against the cluster named by `KAFKA_TEST_BOOTSTRAP` (then no broker is started, every
//! name is unique to the run, and the tests that need the broker's internals - a proxy in
//! front of it, shutting it down - skip with a note).
//!
//! One test binary with a module per area, so the broker and the producer link once.

mod cluster;
mod failures;
mod features;
mod partitioning;
mod proxy;
mod send;
mod support;
