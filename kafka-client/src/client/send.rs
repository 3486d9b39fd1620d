//! Sending with retries: resolve the target to a broker, get a connection, send at the
//! negotiated version, and on a retriable failure update the caches, back off and try again
//! until the call's time budget runs out.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use kafka_protocol::ApiKey;
use kafka_protocol::messages::{RequestBody, ResponseBody};

use super::pool::{ConnKey, Lane};
use super::response_errors::coordinator_error;
use super::{Client, SendOptions, Target, leader_in};
use crate::backoff::RetrySchedule;
use crate::connection::BrokerAddress;
use crate::error::{Error, ErrorKind, Result};
use crate::metadata::TopicSelection;

impl Client {
    pub(super) async fn request_loop<'b, F>(
        &self,
        target: Target,
        api: ApiKey,
        options: &SendOptions,
        mut build: F,
    ) -> Result<ResponseBody>
    where
        F: FnMut(i16) -> Cow<'b, RequestBody>,
    {
        self.check_open()?;
        let budget = options
            .timeout
            .unwrap_or(self.inner.config.default_api_timeout());
        let mut schedule = RetrySchedule::new(self.inner.retry_backoff, Instant::now(), budget);
        loop {
            let result = self
                .attempt(&target, api, options, &mut build, schedule.deadline())
                .await;
            let e = match result {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            self.after_failure(&target, &e);
            if options.no_retry || !e.is_retriable() {
                return Err(e);
            }
            let now = Instant::now();
            match schedule.next_delay(now, self.unit()) {
                Some(wait) => {
                    tracing::debug!(api = api.name(), error = %e, ?wait, attempt = schedule.attempts(), "retrying");
                    tokio::time::sleep(wait).await;
                    self.check_open()?;
                }
                None => {
                    return Err(Error::new(ErrorKind::RetriesExhausted {
                        attempts: schedule.attempts(),
                        elapsed: now - schedule.started(),
                        last: Box::new(e),
                    })
                    .with_api(api));
                }
            }
        }
    }

    async fn attempt<'b, F>(
        &self,
        target: &Target,
        api: ApiKey,
        options: &SendOptions,
        build: &mut F,
        deadline: Instant,
    ) -> Result<ResponseBody>
    where
        F: FnMut(i16) -> Cow<'b, RequestBody>,
    {
        // A previous attempt may have shown the metadata stale; refresh before resolving.
        self.refresh_if_due(deadline).await;
        let (key, addr) = self.resolve(target, deadline).await?;
        let conn = self.inner.pool.get(key, &addr, deadline).await?;
        let version = conn.api_version(api)?;
        let body = build(version);
        if body.api_key() != api {
            return Err(Error::new(ErrorKind::Protocol(format!(
                "asked to send {api:?} but the request is {:?}",
                body.api_key()
            ))));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let per_attempt = options
            .request_timeout
            .unwrap_or(self.inner.config.request_timeout())
            .min(remaining)
            .max(Duration::from_millis(1));
        let resp = conn.send_at(version, &body, Some(per_attempt)).await?;
        if let Target::Coordinator { kind, key } = target
            && let Some(code) = coordinator_error(&resp)
        {
            self.inner
                .coordinators
                .lock()
                .handle_error(*kind, key, code);
            if !options.no_retry {
                return Err(Error::broker(code, None)
                    .with_api(api)
                    .with_broker(conn.broker().id));
            }
        }
        Ok(resp)
    }

    /// Updates the caches after a failed attempt.
    fn after_failure(&self, target: &Target, e: &Error) {
        let connection_lost = matches!(
            e.kind(),
            ErrorKind::Connect { .. }
                | ErrorKind::ConnectTimeout { .. }
                | ErrorKind::Disconnected { .. }
                | ErrorKind::RequestTimeout { .. }
        );
        if e.invalidates_metadata() || connection_lost {
            // A broker that went away may have taken leaderships with it.
            self.inner.metadata.lock().request_update();
            self.inner.wake.notify_one();
        }
        if let Target::Coordinator { kind, key } = target
            && connection_lost
        {
            self.inner.coordinators.lock().invalidate(*kind, key);
        }
    }

    /// Resolves a target to a pool key and an address.
    pub(super) async fn resolve(
        &self,
        target: &Target,
        deadline: Instant,
    ) -> Result<(ConnKey, BrokerAddress)> {
        self.check_open()?;
        let lane = Self::lane_for(target);
        match target {
            Target::Any => self.least_loaded(),
            Target::Broker(id) => {
                if *id < 0
                    && let Some(b) = self.inner.bootstrap.iter().find(|b| b.id == *id)
                {
                    return Ok((ConnKey::new(*id, lane), b.clone()));
                }
                if self.metadata().broker(*id).is_none() {
                    self.refresh_metadata_until(TopicSelection::none(), deadline)
                        .await?;
                }
                let cluster = self.metadata();
                let b = cluster
                    .broker(*id)
                    .ok_or_else(|| Error::new(ErrorKind::UnknownBroker(*id)).with_broker(*id))?;
                Ok((ConnKey::new(*id, lane), b.address()))
            }
            Target::Controller => {
                let cluster = self.metadata();
                let controller = cluster.controller_id().and_then(|id| cluster.broker(id));
                match controller {
                    Some(b) => Ok((ConnKey::new(b.id, lane), b.address())),
                    None => {
                        self.inner.metadata.lock().request_update();
                        Err(Error::new(ErrorKind::ControllerNotAvailable))
                    }
                }
            }
            Target::Leader { topic, partition } => {
                let known = self
                    .metadata()
                    .leader_for(topic, *partition)
                    .map(|(b, _)| b.address());
                let addr = match known {
                    Some(addr) => addr,
                    None => {
                        let cluster = self
                            .refresh_metadata_until(
                                TopicSelection::topics([topic.as_str()]),
                                deadline,
                            )
                            .await?;
                        leader_in(&cluster, topic, *partition)?.0.address()
                    }
                };
                Ok((ConnKey::new(addr.id, lane), addr))
            }
            Target::Coordinator { kind, key } => {
                let b = self.coordinator_until(*kind, key, deadline).await?;
                Ok((ConnKey::new(b.id, Lane::Coordinator), b.address()))
            }
        }
    }

    /// The broker with the fewest requests in flight among those connected; else a random
    /// broker not in reconnect backoff; else the one whose backoff ends first. Before the first
    /// metadata arrives, the bootstrap addresses stand in for the brokers.
    pub(super) fn least_loaded(&self) -> Result<(ConnKey, BrokerAddress)> {
        let cluster = self.metadata();
        let mut candidates: Vec<BrokerAddress> = cluster.brokers().map(|b| b.address()).collect();
        if candidates.is_empty() {
            candidates = self.inner.bootstrap.clone();
        }
        if candidates.is_empty() {
            return Err(Error::new(ErrorKind::NoBrokerAvailable {
                tried: "no brokers known".into(),
            }));
        }
        let pool = &self.inner.pool;
        let key = |b: &BrokerAddress| ConnKey::new(b.id, Lane::Default);
        if let Some((b, _)) = candidates
            .iter()
            .filter_map(|b| pool.live(key(b)).map(|c| (b, c.in_flight())))
            .min_by_key(|(_, n)| *n)
        {
            return Ok((key(b), b.clone()));
        }
        let now = Instant::now();
        let ready: Vec<&BrokerAddress> = candidates
            .iter()
            .filter(|b| pool.is_ready(key(b), now))
            .collect();
        if !ready.is_empty() {
            let pick = (self.unit() * ready.len() as f64) as usize;
            let b = ready[pick.min(ready.len() - 1)];
            return Ok((key(b), b.clone()));
        }
        let b = candidates
            .iter()
            .min_by_key(|b| pool.ready_at(key(b)).unwrap_or(now))
            .expect("candidates is not empty");
        Ok((key(b), b.clone()))
    }
}
