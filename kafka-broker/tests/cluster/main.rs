//! Several brokers in one process: metadata that tells the truth about replicas, leaders and
//! ISRs; acks=all produces replicated to every follower; requests to non-leaders refused;
//! leadership moving when a broker stops without losing an acknowledged record; restarted
//! brokers catching up and rejoining the ISR; min.insync.replicas; group coordinators spread
//! over the brokers; a cluster restarted from its data directory.
//!
//! One test binary: `support` holds the helpers; `metadata` (what every broker tells
//! clients, coordinators, admin changes), `replication` (acks=all, non-leaders, the high
//! watermark, min.insync.replicas) and `failover` (stopping, restarting and catching up).

#[path = "../common/mod.rs"]
mod common;
mod failover;
mod metadata;
mod replication;
mod support;
