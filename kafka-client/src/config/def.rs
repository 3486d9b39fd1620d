//! Property definitions: the table-driven half of configuration.
//!
//! Every Kafka property a client accepts is described once by a [`ConfigDef`]: its name, its
//! type and range, its default (written as the string a user would set) and its documentation.
//! Parsing a string goes through the definition, so every property gets the same checks and the
//! same error messages, and a client crate (producer, consumer, admin) extends configuration by
//! contributing its own table rather than its own parser.

use std::fmt;
use std::time::Duration;

use super::error::ConfigError;
use super::security::Password;

/// A check a property's parsed value must pass beyond its type and range, returning what was
/// expected when it fails (for the error message).
pub type Validator = fn(&ConfigValue) -> Result<(), String>;

/// The type of a property, with its range where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigType {
    /// A 32-bit integer within `min..=max`.
    Int {
        /// Smallest accepted value.
        min: i32,
        /// Largest accepted value.
        max: i32,
    },
    /// A 64-bit integer within `min..=max`.
    Long {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A duration written in milliseconds (Kafka's `*.ms` properties), within `min..=max`.
    Duration {
        /// Smallest accepted value in milliseconds.
        min_ms: i64,
        /// Largest accepted value in milliseconds.
        max_ms: i64,
    },
    /// `true` or `false` (case-insensitive).
    Bool,
    /// Any string.
    String,
    /// A secret string: never shown in `Debug` output or error messages.
    Password,
    /// A comma-separated list; entries are trimmed and empty entries dropped.
    List,
    /// One of a fixed set of names (matched case-insensitively).
    Enum(&'static [&'static str]),
}

impl ConfigType {
    /// The Java client's largest `int` property value.
    pub const INT_MAX: i32 = i32::MAX;

    /// A non-negative `int`.
    pub const NON_NEGATIVE_INT: ConfigType = ConfigType::Int {
        min: 0,
        max: i32::MAX,
    };

    /// A non-negative duration that fits Kafka's `long` milliseconds.
    pub const NON_NEGATIVE_DURATION: ConfigType = ConfigType::Duration {
        min_ms: 0,
        max_ms: i64::MAX,
    };

    /// A non-negative duration that fits Kafka's `int` milliseconds.
    pub const NON_NEGATIVE_INT_DURATION: ConfigType = ConfigType::Duration {
        min_ms: 0,
        max_ms: i32::MAX as i64,
    };
}

impl fmt::Display for ConfigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigType::Int { min, max } => write!(f, "an integer in [{min}, {max}]"),
            ConfigType::Long { min, max } => write!(f, "an integer in [{min}, {max}]"),
            ConfigType::Duration { min_ms, max_ms } => {
                write!(f, "a duration in milliseconds in [{min_ms}, {max_ms}]")
            }
            ConfigType::Bool => f.write_str("a boolean (true or false)"),
            ConfigType::String => f.write_str("a string"),
            ConfigType::Password => f.write_str("a password"),
            ConfigType::List => f.write_str("a comma-separated list"),
            ConfigType::Enum(names) => write!(f, "one of {}", names.join(", ")),
        }
    }
}

/// A parsed property value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigValue {
    /// From [`ConfigType::Int`].
    Int(i32),
    /// From [`ConfigType::Long`].
    Long(i64),
    /// From [`ConfigType::Duration`].
    Duration(Duration),
    /// From [`ConfigType::Bool`].
    Bool(bool),
    /// From [`ConfigType::String`].
    String(String),
    /// From [`ConfigType::Password`].
    Password(Password),
    /// From [`ConfigType::List`].
    List(Vec<String>),
    /// From [`ConfigType::Enum`]: the canonical spelling from the definition.
    Enum(&'static str),
}

/// How a definition documents how much a user needs to care about it (as in Kafka's docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Importance {
    /// Most deployments set it.
    High,
    /// Often tuned.
    Medium,
    /// Rarely changed.
    Low,
}

/// The definition of one property.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    /// The Kafka property name, e.g. `request.timeout.ms`.
    pub name: &'static str,
    /// Its type and range.
    pub ty: ConfigType,
    /// The default as the string a user would write; `None` when there is none.
    pub default: Option<&'static str>,
    /// One or two sentences of documentation.
    pub doc: &'static str,
    /// How much it matters.
    pub importance: Importance,
    /// An extra check of the parsed value.
    pub validator: Option<Validator>,
}

impl ConfigDef {
    /// A definition with no default and no extra validation.
    pub const fn new(name: &'static str, ty: ConfigType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            default: None,
            doc,
            importance: Importance::Medium,
            validator: None,
        }
    }

    /// The same definition with a default.
    pub const fn default_value(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// The same definition with an importance.
    pub const fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    /// The same definition with an extra check.
    pub const fn validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Finds the definition of `name` in `table`.
    pub fn find<'a>(table: &'a [ConfigDef], name: &str) -> Option<&'a ConfigDef> {
        table.iter().find(|d| d.name == name)
    }

    /// Parses `raw` as this property's value, checking type, range and validator. Errors name
    /// the property, the value (hidden for passwords) and what was expected.
    pub fn parse(&self, raw: &str) -> Result<ConfigValue, ConfigError> {
        let value = self.parse_type(raw.trim())?;
        if let Some(check) = self.validator {
            check(&value).map_err(|expected| self.invalid(raw, expected))?;
        }
        Ok(value)
    }

    /// Checks a typed duration against this definition's range (for typed builders, whose
    /// values never went through [`ConfigDef::parse`]).
    pub fn check_duration(&self, d: Duration) -> Result<(), ConfigError> {
        if let ConfigType::Duration { min_ms, max_ms } = self.ty {
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            if ms < min_ms || ms > max_ms {
                return Err(self.invalid(&ms.to_string(), self.ty.to_string()));
            }
        }
        Ok(())
    }

    fn invalid(&self, raw: &str, expected: String) -> ConfigError {
        let value = if self.ty == ConfigType::Password {
            "[hidden]".to_owned()
        } else {
            raw.to_owned()
        };
        ConfigError::InvalidValue {
            name: self.name.to_owned(),
            value,
            expected,
        }
    }

    fn parse_type(&self, raw: &str) -> Result<ConfigValue, ConfigError> {
        let bad = || self.invalid(raw, self.ty.to_string());
        Ok(match self.ty {
            ConfigType::Int { min, max } => {
                let v: i32 = raw.parse().map_err(|_| bad())?;
                if v < min || v > max {
                    return Err(bad());
                }
                ConfigValue::Int(v)
            }
            ConfigType::Long { min, max } => {
                let v: i64 = raw.parse().map_err(|_| bad())?;
                if v < min || v > max {
                    return Err(bad());
                }
                ConfigValue::Long(v)
            }
            ConfigType::Duration { min_ms, max_ms } => {
                let v: i64 = raw.parse().map_err(|_| bad())?;
                if v < min_ms || v > max_ms || v < 0 {
                    return Err(bad());
                }
                ConfigValue::Duration(Duration::from_millis(v as u64))
            }
            ConfigType::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" => ConfigValue::Bool(true),
                "false" => ConfigValue::Bool(false),
                _ => return Err(bad()),
            },
            ConfigType::String => ConfigValue::String(raw.to_owned()),
            ConfigType::Password => ConfigValue::Password(Password::new(raw)),
            ConfigType::List => ConfigValue::List(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            ConfigType::Enum(names) => ConfigValue::Enum(
                names
                    .iter()
                    .copied()
                    .find(|n| n.eq_ignore_ascii_case(raw))
                    .ok_or_else(bad)?,
            ),
        })
    }
}

/// Renders a definition table as Markdown (name, type, default, documentation), e.g. for a
/// crate's docs or a `--help-config` flag.
pub fn describe(table: &[ConfigDef]) -> String {
    let mut out =
        String::from("| Property | Type | Default | Description |\n| --- | --- | --- | --- |\n");
    for d in table {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            d.name,
            d.ty,
            d.default
                .map_or_else(|| "(none)".to_owned(), |v| format!("`{v}`")),
            d.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT: ConfigDef = ConfigDef::new("x.ms", ConfigType::NON_NEGATIVE_INT, "doc");

    #[test]
    fn int_range_and_type_errors_name_property_value_and_range() {
        assert_eq!(INT.parse(" 42 ").unwrap(), ConfigValue::Int(42));
        let e = INT.parse("-1").unwrap_err().to_string();
        assert!(
            e.contains("x.ms") && e.contains("-1") && e.contains("[0, 2147483647]"),
            "{e}"
        );
        let e = INT.parse("abc").unwrap_err().to_string();
        assert!(e.contains("abc") && e.contains("integer"), "{e}");
        assert!(INT.parse("2147483648").is_err());
    }

    #[test]
    fn enums_are_case_insensitive_and_canonical() {
        let d = ConfigDef::new("p", ConfigType::Enum(&["PLAINTEXT", "SSL"]), "doc");
        assert_eq!(d.parse("ssl").unwrap(), ConfigValue::Enum("SSL"));
        let e = d.parse("TLS").unwrap_err().to_string();
        assert!(e.contains("one of PLAINTEXT, SSL"), "{e}");
    }

    #[test]
    fn lists_trim_and_drop_empties() {
        let d = ConfigDef::new("l", ConfigType::List, "doc");
        assert_eq!(
            d.parse(" a:1 , ,b:2,").unwrap(),
            ConfigValue::List(vec!["a:1".into(), "b:2".into()])
        );
    }

    #[test]
    fn passwords_are_hidden_in_errors() {
        let d = ConfigDef::new("pw", ConfigType::Password, "doc").validator(|_| Err("x".into()));
        let e = d.parse("hunter2").unwrap_err().to_string();
        assert!(!e.contains("hunter2") && e.contains("[hidden]"), "{e}");
    }

    #[test]
    fn durations_and_bools() {
        let d = ConfigDef::new("d.ms", ConfigType::NON_NEGATIVE_INT_DURATION, "doc");
        assert_eq!(
            d.parse("1500").unwrap(),
            ConfigValue::Duration(Duration::from_millis(1500))
        );
        assert!(d.parse("1.5").is_err());
        assert!(d.check_duration(Duration::from_secs(u64::MAX / 2)).is_err());
        let b = ConfigDef::new("b", ConfigType::Bool, "doc");
        assert_eq!(b.parse("TRUE").unwrap(), ConfigValue::Bool(true));
        assert!(b.parse("yes").is_err());
    }

    #[test]
    fn describe_renders_every_row() {
        let md = describe(&[INT.default_value("5")]);
        assert!(md.contains("| `x.ms` |") && md.contains("`5`"));
    }
}
