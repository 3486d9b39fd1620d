//! Client properties from the command line: `--config FILE`, `-X name=value` and `-b`.
//!
//! Every property is checked up front against every client's table (client core, producer,
//! consumer), so a misspelt name or a bad value fails before anything connects, naming the
//! property and where it came from; exit code 2. Each command then applies the properties its
//! own client knows and skips the others, so one properties file can serve `produce`,
//! `consume` and `topics` alike (as with Kafka's `--command-config`).
//!
//! Precedence, lowest first: the CLI's defaults (short timeouts, so an unreachable cluster is
//! reported in seconds), the file, `-X` in order, then `-b`.

use std::path::{Path, PathBuf};

use kafka_client::config::properties;
use kafka_client::config::{CLIENT_CONFIGS, ClientConfig, ConfigDef, ConfigError, Configurable};

use crate::error::{CliError, CliResult};

/// How long the CLI waits for a cluster by default (`default.api.timeout.ms`,
/// `socket.connection.setup.timeout.ms` and `max.block.ms`): a person at a terminal wants an answer in seconds,
/// not Kafka's minute.
pub const CLI_TIMEOUT_MS: &str = "10000";

/// Properties the CLI sets before the user's, which override them.
const CLI_DEFAULTS: &[(&str, &str)] = &[
    ("client.id", "kafka-cli"),
    ("default.api.timeout.ms", CLI_TIMEOUT_MS),
    ("socket.connection.setup.timeout.ms", CLI_TIMEOUT_MS),
    // A producer waits this long for a topic's metadata or buffer room before failing.
    ("max.block.ms", CLI_TIMEOUT_MS),
];

/// Where a property came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Flag,
    Bootstrap,
}

/// One property and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Property {
    name: String,
    value: String,
    origin: Origin,
}

impl Property {
    fn describe(&self) -> String {
        match &self.origin {
            Origin::Default => format!("CLI default {}={}", self.name, self.value),
            Origin::File { path, line } => format!("{}: line {line}", path.display()),
            Origin::Flag => format!("-X {}={}", self.name, self.shown_value()),
            Origin::Bootstrap => format!("-b {}", self.value),
        }
    }

    /// The value as it may be echoed: secrets are not.
    fn shown_value(&self) -> &str {
        if is_secret(&self.name) {
            "[hidden]"
        } else {
            &self.value
        }
    }
}

fn is_secret(name: &str) -> bool {
    name.contains("password") || name.contains("jaas")
}

/// The client properties of one invocation, checked and in precedence order.
#[derive(Debug, Clone, Default)]
pub struct ClientProperties {
    entries: Vec<Property>,
}

impl ClientProperties {
    /// Reads `--config`, `-X` and `-b` and checks every property against every client's
    /// table.
    pub fn load(
        config_file: Option<&Path>,
        overrides: &[String],
        bootstrap: Option<&str>,
    ) -> CliResult<Self> {
        let mut entries: Vec<Property> = CLI_DEFAULTS
            .iter()
            .map(|&(name, value)| Property {
                name: name.into(),
                value: value.into(),
                origin: Origin::Default,
            })
            .collect();
        if let Some(path) = config_file {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
            entries.extend(properties::parse(&text).into_iter().map(|p| Property {
                name: p.key,
                value: p.value,
                origin: Origin::File {
                    path: path.to_owned(),
                    line: p.line,
                },
            }));
        }
        for flag in overrides {
            let (name, value) = flag
                .split_once('=')
                .ok_or_else(|| CliError::usage(format!("-X {flag}: expected NAME=VALUE")))?;
            entries.push(Property {
                name: name.trim().into(),
                value: value.into(),
                origin: Origin::Flag,
            });
        }
        if let Some(b) = bootstrap {
            entries.push(Property {
                name: "bootstrap.servers".into(),
                value: b.into(),
                origin: Origin::Bootstrap,
            });
        }
        let props = Self { entries };
        props.check()?;
        Ok(props)
    }

    /// Every property must be known to some client and parse as its type.
    fn check(&self) -> CliResult {
        let tables = known_tables();
        for p in &self.entries {
            let def = tables
                .iter()
                .find_map(|t| ConfigDef::find(t, &p.name))
                .ok_or_else(|| CliError::Config {
                    origin: p.describe(),
                    source: ConfigError::UnknownProperty {
                        name: p.name.clone(),
                    },
                })?;
            def.parse(&p.value).map_err(|source| CliError::Config {
                origin: p.describe(),
                source,
            })?;
        }
        Ok(())
    }

    /// Whether any source set `name` (the CLI's own defaults aside).
    pub fn is_set(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|p| p.name == name && p.origin != Origin::Default)
    }

    /// The bootstrap servers, if any source gave them.
    pub fn bootstrap(&self) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|p| p.name == "bootstrap.servers")
            .map(|p| p.value.as_str())
    }

    /// Adds a property a command sets itself (e.g. `group.id` from `-g`), after the user's,
    /// so an explicit flag wins over a file.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.entries.push(Property {
            name: name.into(),
            value: value.into(),
            origin: Origin::Flag,
        });
        self
    }

    /// Applies the properties `config` knows, in precedence order, skipping those only other
    /// clients know (`acks` means nothing to an admin client).
    pub fn apply<C: Configurable>(&self, config: &mut C) -> CliResult {
        let known = config.definitions();
        for p in &self.entries {
            if !known.iter().any(|d| d.name == p.name) {
                continue;
            }
            config
                .set_property(&p.name, &p.value)
                .map_err(|source| CliError::Config {
                    origin: p.describe(),
                    source,
                })?;
        }
        Ok(())
    }

    /// The client-core configuration (what the admin client uses), with bootstrap servers
    /// required.
    pub fn client_config(&self) -> CliResult<ClientConfig> {
        self.require_bootstrap()?;
        let mut config = ClientConfig::new();
        self.apply(&mut config)?;
        Ok(config)
    }

    /// A usage error unless some source gave bootstrap servers.
    pub fn require_bootstrap(&self) -> CliResult<&str> {
        self.bootstrap().ok_or_else(|| {
            CliError::usage(
                "no bootstrap servers: give -b HOST:PORT (or bootstrap.servers in --config or -X)",
            )
        })
    }
}

/// The property tables of every client the CLI can build.
fn known_tables() -> Vec<&'static [ConfigDef]> {
    vec![
        CLIENT_CONFIGS,
        kafka_producer::config::PRODUCER_CONFIGS,
        kafka_consumer::CONSUMER_CONFIGS,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(flags: &[&str]) -> CliResult<ClientProperties> {
        let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        ClientProperties::load(None, &flags, Some("localhost:9092"))
    }

    #[test]
    fn unknown_names_and_bad_values_name_the_property() {
        let e = load(&["no.such.thing=1"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("no.such.thing"), "{e}");
        let e = load(&["request.timeout.ms=soon"]).unwrap_err();
        assert!(e.to_string().contains("request.timeout.ms"), "{e}");
        let e = load(&["missing-equals"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn later_sources_win_and_secrets_stay_hidden() {
        let props = load(&["client.id=mine", "default.api.timeout.ms=2500"]).unwrap();
        let config = props.client_config().unwrap();
        assert_eq!(config.client_id(), "mine");
        assert_eq!(config.default_api_timeout().as_millis(), 2500);
        assert_eq!(config.bootstrap_servers(), ["localhost:9092"]);
        let e = load(&["sasl.password"]).unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
        let p = Property {
            name: "sasl.password".into(),
            value: "hunter2".into(),
            origin: Origin::Flag,
        };
        assert!(!p.describe().contains("hunter2"));
    }

    #[test]
    fn bootstrap_is_required_for_clients() {
        let props = ClientProperties::load(None, &[], None).unwrap();
        assert_eq!(props.client_config().unwrap_err().exit_code(), 2);
    }
}
