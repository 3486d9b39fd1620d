//! [`ConsumerBuilder`]: a consumer with a rebalance listener or assignors of its own, and the
//! start-up of its background tasks.

use std::sync::Arc;
use std::time::Instant;

use kafka_client::Client;

use crate::assignor::{self, Assignor};
use crate::config::ConsumerConfig;
use crate::consumer::Consumer;
use crate::error::{ConsumerError, Result};
use crate::listener::RebalanceListener;
use crate::membership::{Membership, MembershipConfig};
use crate::offsets::{AutoCommit, Committer, run_committer};
use crate::state::Shared;

/// Builds a [`Consumer`] with options beyond the configuration: a rebalance listener and
/// assignors of your own.
#[derive(Debug)]
#[must_use]
pub struct ConsumerBuilder {
    config: ConsumerConfig,
    listener: Option<Arc<dyn RebalanceListener>>,
    custom: Vec<Arc<dyn Assignor>>,
}

impl ConsumerBuilder {
    pub(crate) fn new(config: ConsumerConfig) -> Self {
        Self {
            config,
            listener: None,
            custom: Vec::new(),
        }
    }
}

impl ConsumerBuilder {
    /// Sets the rebalance listener.
    pub fn listener(mut self, listener: impl RebalanceListener + 'static) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Adds an assignor. It is used where `partition.assignment.strategy` names it, or, if
    /// the list does not, as the most preferred one.
    pub fn assignor(mut self, assignor: impl Assignor + 'static) -> Self {
        self.custom.push(Arc::new(assignor));
        self
    }

    fn assignors(&self) -> Result<Vec<Arc<dyn Assignor>>> {
        let strategy = &self.config.assignment_strategy;
        let mut out: Vec<Arc<dyn Assignor>> = self
            .custom
            .iter()
            .filter(|a| !strategy.iter().any(|s| s == a.name()))
            .cloned()
            .collect();
        for name in strategy {
            let found = self
                .custom
                .iter()
                .find(|a| a.name() == name)
                .cloned()
                .or_else(|| assignor::builtin(name));
            match found {
                Some(a) => out.push(a),
                None => {
                    return Err(ConsumerError::InvalidArgument(format!(
                        "partition.assignment.strategy names {name}, which is neither built in nor added with ConsumerBuilder::assignor"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Connects (bootstrap, metadata) and starts the background tasks.
    pub async fn build(self) -> Result<Consumer> {
        self.config.validate()?;
        let assignors = self.assignors()?;
        let client = Client::builder(self.config.client.clone())
            .allow_auto_topic_creation(self.config.allow_auto_create_topics)
            .connect()
            .await?;
        let now = Instant::now();
        let membership = self.config.group_id().map(|group| {
            Membership::new(
                MembershipConfig {
                    group_id: group.to_owned(),
                    instance_id: self.config.group_instance_id().map(str::to_owned),
                    session_timeout: self.config.session_timeout,
                    rebalance_timeout: self.config.max_poll_interval,
                    heartbeat_interval: self.config.heartbeat_interval,
                    retry_backoff: self.config.client().retry_backoff(),
                    protocol: assignor::common_protocol(&assignors),
                },
                now,
            )
        });
        let (committer, inbox) = Committer::channel();
        let auto_commit = AutoCommit::new(
            self.config.enable_auto_commit && self.config.group_id().is_some(),
            self.config.auto_commit_interval,
            now,
        );
        let grouped = membership.is_some();
        let shared = Arc::new(Shared::new(
            client,
            self.config,
            membership,
            assignors,
            self.listener,
            committer,
        ));
        shared.spawn(run_committer(Arc::downgrade(&shared), inbox));
        shared.spawn(crate::fetcher::run(shared.clone()));
        if grouped {
            shared.spawn(crate::consumer_group::run_group(shared.clone()));
            shared.spawn(crate::heartbeat::run_heartbeat(shared.clone()));
        }
        Ok(Consumer::from_parts(shared, auto_commit))
    }
}
