//! Integration tests of every admin operation, each with a success and a failure case,
//! against the companion broker started in-process, or against the cluster named by
//! `KAFKA_TEST_BOOTSTRAP` (no broker is started then, and every name is unique to the run).
//!
//! One test binary with a module per operation family, so the broker and client are linked
//! once.

mod cluster;
mod configs;
mod groups;
mod offsets;
mod records;
mod retries;
mod support;
mod topic_descriptions;
mod topics;
