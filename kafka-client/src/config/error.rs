//! Why a configuration was refused.
//!
//! Every variant names the property at fault, so a user with a 40-line properties file can
//! find the line to fix without reading code.

use std::path::PathBuf;
use std::sync::Arc;

/// A configuration error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No definition table knows this property.
    #[error("unknown configuration property `{name}`")]
    UnknownProperty {
        /// The property as given.
        name: String,
    },
    /// The value does not parse as the property's type, or lies outside its range.
    #[error("invalid value `{value}` for `{name}`: expected {expected}")]
    InvalidValue {
        /// The property.
        name: String,
        /// The value as given (`[hidden]` for secrets).
        value: String,
        /// The type or range the property accepts.
        expected: String,
    },
    /// A property that must be set is not.
    #[error("`{name}` must be set{}", reason_suffix(.reason))]
    Missing {
        /// The property.
        name: String,
        /// When it is required (e.g. "when security.protocol is SASL_SSL").
        reason: String,
    },
    /// A value this library recognises but does not implement (e.g. `sasl.mechanism=GSSAPI`).
    #[error("`{name}={value}` is not supported by this client: {reason}")]
    Unsupported {
        /// The property.
        name: String,
        /// The value.
        value: String,
        /// What to use instead.
        reason: String,
    },
    /// A line of a properties file or string failed.
    #[error("{}line {line}: {source}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    AtLine {
        /// The file, when the properties came from one.
        path: Option<PathBuf>,
        /// The 1-based line where the property starts.
        line: usize,
        /// What was wrong with it.
        #[source]
        source: Box<ConfigError>,
    },
    /// A properties file or a file a property names (a certificate) could not be read.
    #[error("cannot read {path}: {source}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

impl ConfigError {
    /// The property this error is about, when there is one.
    pub fn property(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownProperty { name }
            | ConfigError::InvalidValue { name, .. }
            | ConfigError::Missing { name, .. }
            | ConfigError::Unsupported { name, .. } => Some(name),
            ConfigError::AtLine { source, .. } => source.property(),
            ConfigError::Io { .. } => None,
        }
    }
}
