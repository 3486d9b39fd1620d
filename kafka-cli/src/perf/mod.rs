//! What the `perf` commands share: statistics ([`stats`]) and pacing ([`throttle`]).
//! The commands themselves are `commands/perf*.rs`.

pub mod stats;
pub mod throttle;
