//! Placeholder until generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKey { Produce }
