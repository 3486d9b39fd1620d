//! [`AdminOptions`]: the per-call settings every admin operation takes.
//!
//! One options type serves every operation rather than one per operation, as most settings
//! (the timeout above all) are shared; a flag an operation has no use for is ignored, and each
//! flag's documentation names the operations that read it.

use std::time::Duration;

/// Per-call settings. `AdminOptions::default()` uses `default.api.timeout.ms` and asks for
/// nothing optional.
///
/// ```
/// use std::time::Duration;
/// use kafka_admin::AdminOptions;
///
/// let options = AdminOptions::new()
///     .timeout(Duration::from_secs(5))
///     .validate_only(true);
/// assert_eq!(options.timeout, Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminOptions {
    /// The whole call's budget, retries included (default `default.api.timeout.ms`). Items
    /// still failing retriably when it runs out get [`AdminError::TimedOut`](crate::AdminError).
    pub timeout: Option<Duration>,
    /// Check without changing anything: `create_topics`, `create_partitions`,
    /// `incremental_alter_configs`.
    pub validate_only: bool,
    /// Ask for the operations the caller may perform: `describe_topics`, `describe_cluster`,
    /// `describe_consumer_groups`.
    pub include_authorized_operations: bool,
    /// Ask for each config's synonyms (the settings it falls back to): `describe_configs`.
    pub include_synonyms: bool,
    /// Ask for each config's documentation: `describe_configs`.
    pub include_documentation: bool,
    /// Include internal topics (`__consumer_offsets`, ...): `list_topics`.
    pub include_internal: bool,
    /// Which records `list_offsets` considers.
    pub isolation_level: IsolationLevel,
    /// Wait for pending transactional offset commits instead of returning what is committed
    /// so far: `list_consumer_group_offsets` (OffsetFetch v7+).
    pub require_stable: bool,
}

impl AdminOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the whole call's budget.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Validates without changing anything.
    pub fn validate_only(mut self, on: bool) -> Self {
        self.validate_only = on;
        self
    }

    /// Asks for authorized operations.
    pub fn include_authorized_operations(mut self, on: bool) -> Self {
        self.include_authorized_operations = on;
        self
    }

    /// Asks for config synonyms.
    pub fn include_synonyms(mut self, on: bool) -> Self {
        self.include_synonyms = on;
        self
    }

    /// Asks for config documentation.
    pub fn include_documentation(mut self, on: bool) -> Self {
        self.include_documentation = on;
        self
    }

    /// Includes internal topics in listings.
    pub fn include_internal(mut self, on: bool) -> Self {
        self.include_internal = on;
        self
    }

    /// Sets the isolation level of `list_offsets`.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = level;
        self
    }

    /// Waits for pending transactional offset commits.
    pub fn require_stable(mut self, on: bool) -> Self {
        self.require_stable = on;
        self
    }
}

/// Which records offset lookups consider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// Every record: "latest" is the high watermark.
    #[default]
    ReadUncommitted,
    /// Committed records only: "latest" is the last stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value.
    pub const fn wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}
