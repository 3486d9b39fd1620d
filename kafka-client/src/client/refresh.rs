//! Metadata refreshes: on demand (single-flight, with retries), when due before a request,
//! and from the background task that keeps the cache fresh and closes idle connections.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kafka_protocol::ApiKey;
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::{RequestBody, ResponseBody};
use tokio::sync::Notify;

use super::{Client, Inner};
use crate::backoff::RetrySchedule;
use crate::error::{Error, ErrorKind, Result};
use crate::metadata::{Cluster, TopicSelection};

/// The background task wakes at least this often (or twice per `connections.max.idle.ms`)
/// to close idle connections.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// Never wake more often than this, whatever the backoff settings say.
const MIN_SLEEP: Duration = Duration::from_millis(10);

fn metadata_request(selection: &TopicSelection, version: i16, auto_create: bool) -> RequestBody {
    let topics = match selection {
        TopicSelection::All => None,
        TopicSelection::Topics(names) => Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some(n.as_str().into()),
                    ..Default::default()
                })
                .collect(),
        ),
    };
    let mut req = MetadataRequest {
        topics,
        ..Default::default()
    };
    // Before v4 the field does not exist and brokers always auto-create; from v4 the client
    // asks for it only when built to (producers, consumers with allow.auto.create.topics).
    if version >= 4 {
        req.allow_auto_topic_creation =
            auto_create && matches!(selection, TopicSelection::Topics(_));
    }
    RequestBody::Metadata(req)
}

fn covers(cluster: &Cluster, selection: &TopicSelection) -> bool {
    match selection {
        TopicSelection::All => false,
        TopicSelection::Topics(names) => names.iter().all(|n| cluster.topic(n).is_some()),
    }
}

impl Client {
    pub(super) async fn refresh_metadata_within(
        &self,
        selection: TopicSelection,
        budget: Duration,
    ) -> Result<Arc<Cluster>> {
        self.refresh_metadata_until(selection, Instant::now() + budget)
            .await
    }

    /// Refreshes with retries until `deadline`.
    pub(super) async fn refresh_metadata_until(
        &self,
        selection: TopicSelection,
        deadline: Instant,
    ) -> Result<Arc<Cluster>> {
        self.check_open()?;
        if let TopicSelection::Topics(names) = &selection {
            self.inner
                .metadata
                .lock()
                .add_interest(names.iter().cloned());
        }
        let now = Instant::now();
        let mut schedule = RetrySchedule::new(
            self.inner.retry_backoff,
            now,
            deadline.saturating_duration_since(now),
        );
        loop {
            let e = match self.refresh_once(&selection, deadline).await {
                Ok(c) => return Ok(c),
                Err(e) if !e.is_retriable() => return Err(e),
                Err(e) => e,
            };
            let now = Instant::now();
            match schedule.next_delay(now, self.unit()) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    return Err(Error::new(ErrorKind::RetriesExhausted {
                        attempts: schedule.attempts(),
                        elapsed: now - schedule.started(),
                        last: Box::new(e),
                    })
                    .with_api(ApiKey::Metadata));
                }
            }
        }
    }

    /// Refreshes the periodic selection if the cache says a refresh is due (errors are left
    /// for the request that follows to run into).
    pub(super) async fn refresh_if_due(&self, deadline: Instant) {
        let selection = {
            let cache = self.inner.metadata.lock();
            if !cache.needs_refresh(Instant::now()) {
                return;
            }
            cache.interest()
        };
        if let Err(e) = self.refresh_once(&selection, deadline).await {
            tracing::debug!(error = %e, "metadata refresh failed");
        }
    }

    /// One Metadata request to the least-loaded broker. Refreshes are serialised; a caller
    /// that waited for another's refresh uses its result when it covers the same topics.
    pub(super) async fn refresh_once(
        &self,
        selection: &TopicSelection,
        deadline: Instant,
    ) -> Result<Arc<Cluster>> {
        let generation = self.inner.metadata.lock().generation();
        let _single_flight = self.inner.refresh_lock.lock().await;
        {
            let cache = self.inner.metadata.lock();
            if cache.generation() != generation
                && !cache.is_update_requested()
                && covers(&cache.cluster(), selection)
            {
                return Ok(cache.cluster());
            }
        }
        let (key, addr) = self.least_loaded()?;
        let exchange = async {
            let conn = self.inner.pool.get(key, &addr, deadline).await?;
            let version = conn.api_version(ApiKey::Metadata)?;
            let ticket = self.inner.metadata.lock().begin_refresh();
            let timeout = self
                .inner
                .config
                .request_timeout()
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1));
            let body = metadata_request(selection, version, self.inner.auto_create);
            match conn.send_at(version, &body, Some(timeout)).await? {
                ResponseBody::Metadata(resp) => Ok((resp, ticket)),
                other => Err(Error::new(ErrorKind::Protocol(format!(
                    "Metadata answered with {:?}",
                    other.api_key()
                )))),
            }
        };
        let result = exchange.await;
        let now = Instant::now();
        match result {
            Ok((resp, ticket)) => {
                let cluster = self
                    .inner
                    .metadata
                    .lock()
                    .update(&resp, selection, ticket, now);
                tracing::debug!(
                    brokers = cluster.brokers().count(),
                    topics = cluster.topics().count(),
                    "metadata updated"
                );
                if cluster.brokers().next().is_some() {
                    // The cluster's own addresses are known: bootstrap connections are done.
                    self.inner.pool.close_where(|k| k.node < 0);
                }
                Ok(cluster)
            }
            Err(e) => {
                let unit = self.unit();
                self.inner.metadata.lock().refresh_failed(now, unit);
                Err(e)
            }
        }
    }
}

/// Keeps metadata fresh and closes idle connections until the client is dropped.
pub(super) async fn background(inner: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let wake_at = {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let client = Client { inner };
            let now = Instant::now();
            let deadline = now + client.inner.config.request_timeout();
            client.refresh_if_due(deadline).await;
            client
                .inner
                .pool
                .close_idle(client.inner.config.connections_max_idle());
            let now = Instant::now();
            let next = client.inner.metadata.lock().next_refresh_at(now);
            let housekeeping = HOUSEKEEPING.min(client.inner.config.connections_max_idle() / 2);
            next.min(now + housekeeping).max(now + MIN_SLEEP)
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake_at.into()) => {}
            _ = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_requests_by_version() {
        let RequestBody::Metadata(r) = metadata_request(&TopicSelection::All, 12, true) else {
            unreachable!()
        };
        assert!(r.topics.is_none());
        assert!(!r.allow_auto_topic_creation);
        let RequestBody::Metadata(r) = metadata_request(&TopicSelection::topics(["a"]), 1, false)
        else {
            unreachable!()
        };
        assert_eq!(r.topics.unwrap()[0].name.as_deref(), Some("a"));
        assert!(r.allow_auto_topic_creation, "v1-3 cannot say no");
        let body = metadata_request(&TopicSelection::none(), 1, false);
        body.encoded_size(1).unwrap();
        for allow in [false, true] {
            let RequestBody::Metadata(r) =
                metadata_request(&TopicSelection::topics(["a"]), 12, allow)
            else {
                unreachable!()
            };
            assert_eq!(r.allow_auto_topic_creation, allow);
        }
    }
}
