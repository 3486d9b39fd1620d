//! Empty: the benchmarks are in `benches/vs_peer.rs`.
