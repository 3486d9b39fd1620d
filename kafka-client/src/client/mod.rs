//! [`Client`]: connections, metadata, coordinators and retries tied together, the piece every
//! producer, consumer and admin client is built on.
//!
//! A `Client` is cheap to clone (an `Arc` inside) and safe to share between tasks. It
//! bootstraps from `bootstrap.servers`, keeps metadata fresh in a background task (every
//! `metadata.max.age.ms`, and soon after an error shows it stale), opens connections on
//! demand, and sends requests to a [`Target`] with retries of retriable errors within an
//! overall timeout. The background task stops when the last clone is dropped.

mod coordinator;
mod pool;
mod refresh;
mod response_errors;
mod send;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::backoff::{ExponentialBackoff, Jitter};
use crate::config::{ClientConfig, split_host_port};
use crate::connection::{BrokerAddress, Connection, ConnectionSettings, VersionCaps};
use crate::error::{Error, ErrorKind, Result};
use crate::metadata::{
    BrokerInfo, Cluster, CoordinatorCache, CoordinatorType, MetadataCache, TopicSelection,
};
use pool::{Lane, Pool};

pub use target::Target;

/// Options for one call of [`Client::send_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// The overall budget including retries (default `default.api.timeout.ms`).
    pub timeout: Option<Duration>,
    /// The timeout of each attempt (default `request.timeout.ms`).
    pub request_timeout: Option<Duration>,
    /// Send once, never retry (for requests that must not be repeated blindly).
    pub no_retry: bool,
}

impl SendOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the overall budget.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the per-attempt timeout (e.g. a fetch's max wait plus `request.timeout.ms`).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Disables retries.
    pub fn no_retry(mut self) -> Self {
        self.no_retry = true;
        self
    }
}

/// Builds a [`Client`] with options beyond the configuration.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    config: ClientConfig,
    caps: VersionCaps,
    auto_create: bool,
}

impl ClientBuilder {
    /// Limits the API versions this client sends (producer, consumer and admin crates cap
    /// APIs to the versions they implement).
    pub fn version_caps(mut self, caps: VersionCaps) -> Self {
        self.caps = caps;
        self
    }

    /// Whether this client's Metadata requests for named topics let the broker create them
    /// when missing (if the broker's `auto.create.topics.enable` allows). Off by default, as
    /// for Java's admin client; producers turn it on (as Java's producer does) and consumers
    /// follow `allow.auto.create.topics`.
    pub fn allow_auto_topic_creation(mut self, allow: bool) -> Self {
        self.auto_create = allow;
        self
    }

    /// Validates the configuration, loads TLS files, fetches the cluster's brokers from
    /// `bootstrap.servers` (trying each, retrying within `default.api.timeout.ms`) and starts
    /// the background metadata refresh.
    pub async fn connect(self) -> Result<Client> {
        Client::start(self.config, self.caps, self.auto_create).await
    }
}

/// A Kafka client core. Clone it freely.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: ClientConfig,
    pool: Pool,
    bootstrap: Vec<BrokerAddress>,
    /// Metadata requests for named topics ask the broker to create missing ones.
    auto_create: bool,
    retry_backoff: ExponentialBackoff,
    /// Guards the metadata cache; held only for quick reads and updates, never across an
    /// await.
    metadata: Mutex<MetadataCache>,
    /// The metadata cache's version counter, read without its lock.
    metadata_version: Arc<AtomicU64>,
    /// Guards the coordinator cache; never held across an await.
    coordinators: Mutex<CoordinatorCache>,
    /// Held while a Metadata request is in flight, so concurrent refreshes share it.
    refresh_lock: tokio::sync::Mutex<()>,
    /// Wakes the background task when an update is requested (shared with the task, which
    /// must not keep `Inner` alive while it sleeps).
    wake: Arc<Notify>,
    /// Guards the jitter source for retry backoff.
    jitter: Mutex<Jitter>,
    /// Guards the background task's handle (aborted on close).
    background: Mutex<Option<AbortHandle>>,
    closed: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.background.lock().take() {
            task.abort();
        }
        self.pool.close_all();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.inner.config.client_id())
            .field("bootstrap", &self.inner.config.bootstrap_servers())
            .field("pool", &self.inner.pool)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects with the codec's full version range (see [`Client::builder`] to cap it).
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        Self::start(config, VersionCaps::codec(), false).await
    }

    /// A builder, for options beyond the configuration.
    pub fn builder(config: ClientConfig) -> ClientBuilder {
        ClientBuilder {
            config,
            caps: VersionCaps::codec(),
            auto_create: false,
        }
    }

    async fn start(config: ClientConfig, caps: VersionCaps, auto_create: bool) -> Result<Client> {
        let settings = ConnectionSettings::new(&config, caps)?;
        let bootstrap = config
            .bootstrap_servers()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let (host, port) = split_host_port(s)?;
                // Bootstrap addresses get ids -1, -2, ... until the metadata names them.
                Some(BrokerAddress::new(-(i as i32) - 1, host, port))
            })
            .collect();
        let retry_backoff =
            ExponentialBackoff::new(config.retry_backoff(), config.retry_backoff_max());
        let pool = Pool::new(
            settings,
            ExponentialBackoff::new(config.reconnect_backoff(), config.reconnect_backoff_max()),
            ExponentialBackoff::new(
                config.connection_setup_timeout(),
                config.connection_setup_timeout_max(),
            ),
        );
        let metadata = MetadataCache::new(config.metadata_max_age(), retry_backoff);
        let client = Client {
            inner: Arc::new(Inner {
                metadata_version: metadata.version(),
                metadata: Mutex::new(metadata),
                config,
                pool,
                bootstrap,
                auto_create,
                retry_backoff,
                coordinators: Mutex::new(CoordinatorCache::new()),
                refresh_lock: tokio::sync::Mutex::new(()),
                wake: Arc::new(Notify::new()),
                jitter: Mutex::new(Jitter::new()),
                background: Mutex::new(None),
                closed: AtomicBool::new(false),
            }),
        };
        let timeout = client.inner.config.default_api_timeout();
        client
            .refresh_metadata_within(TopicSelection::none(), timeout)
            .await
            .map_err(|e| {
                let tried = client.inner.config.bootstrap_servers().join(", ");
                tracing::warn!(error = %e, %tried, "bootstrap failed");
                e
            })?;
        let task = tokio::spawn(refresh::background(
            Arc::downgrade(&client.inner),
            client.inner.wake.clone(),
        ));
        *client.inner.background.lock() = Some(task.abort_handle());
        Ok(client)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The current metadata snapshot (no I/O).
    pub fn metadata(&self) -> Arc<Cluster> {
        self.inner.metadata.lock().cluster()
    }

    /// A number that moves whenever [`metadata`](Self::metadata) would return a different
    /// snapshot (no lock): what was derived from a snapshot taken after reading a version
    /// stays valid while the version reads the same.
    pub fn metadata_version(&self) -> u64 {
        self.inner.metadata_version.load(Ordering::Acquire)
    }

    /// Fetches metadata for `topics` now (sharing a refresh already in flight when it covers
    /// them), retrying within `default.api.timeout.ms`. Named topics are kept fresh by the
    /// background refresh from then on.
    pub async fn refresh_metadata(&self, topics: TopicSelection) -> Result<Arc<Cluster>> {
        self.refresh_metadata_within(topics, self.inner.config.default_api_timeout())
            .await
    }

    /// Stops keeping `topics` fresh and forgets them.
    pub fn forget_topics(&self, topics: &[&str]) {
        self.inner.metadata.lock().remove_interest(topics);
    }

    /// The leader of a partition and its epoch, fetching metadata for the topic when the cache
    /// does not know it.
    pub async fn leader_for(&self, topic: &str, partition: i32) -> Result<(BrokerInfo, i32)> {
        if let Some((b, epoch)) = self.metadata().leader_for(topic, partition) {
            return Ok((b.clone(), epoch));
        }
        let cluster = self
            .refresh_metadata(TopicSelection::topics([topic]))
            .await?;
        leader_in(&cluster, topic, partition)
    }

    /// The coordinator for `key` (cached; FindCoordinator when not).
    pub async fn coordinator(&self, key: &str, kind: CoordinatorType) -> Result<BrokerInfo> {
        let deadline = Instant::now() + self.inner.config.default_api_timeout();
        self.coordinator_until(kind, key, deadline).await
    }

    /// Forgets a cached coordinator (after an error the client did not see itself).
    pub fn invalidate_coordinator(&self, key: &str, kind: CoordinatorType) {
        self.inner.coordinators.lock().invalidate(kind, key);
    }

    /// Reports an error a response carried for a topic or partition; stale-metadata errors
    /// schedule a refresh. Returns whether one was scheduled.
    pub fn report_error(&self, code: ErrorCode) -> bool {
        let stale = self.inner.metadata.lock().handle_error(code);
        if stale {
            self.inner.wake.notify_one();
        }
        stale
    }

    /// Applies a leader hint from a response (KIP-951); ignored unless its epoch is newer.
    pub fn update_leader(&self, topic: &str, partition: i32, leader: i32, epoch: i32) -> bool {
        self.inner
            .metadata
            .lock()
            .update_leader(topic, partition, leader, epoch)
    }

    /// The version of `api` to use with the least-loaded broker.
    pub async fn api_version(&self, api: ApiKey) -> Result<i16> {
        self.api_version_for(&Target::Any, api).await
    }

    /// The version of `api` to use with `target`.
    pub async fn api_version_for(&self, target: &Target, api: ApiKey) -> Result<i16> {
        self.connection(target).await?.api_version(api)
    }

    /// A connection to `target` (opening it if needed), for callers that manage requests
    /// themselves.
    ///
    /// A retriable failure (a broker that is down, say) is retried within
    /// `default.api.timeout.ms`: for `Target::Any` the next attempt picks another broker, since
    /// the failed one is then backing off.
    pub async fn connection(&self, target: &Target) -> Result<Connection> {
        let deadline = Instant::now() + self.inner.config.default_api_timeout();
        let mut pause = self.inner.config.retry_backoff();
        loop {
            let (key, addr) = self.resolve(target, deadline).await?;
            match self.inner.pool.get(key, &addr, deadline).await {
                Err(e) if e.is_retriable() && Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.inner.config.retry_backoff_max());
                }
                other => return other,
            }
        }
    }

    /// Sends `body` to `target` at the negotiated version, retrying retriable errors within
    /// `default.api.timeout.ms`.
    pub async fn send(&self, target: Target, body: &RequestBody) -> Result<ResponseBody> {
        self.send_with(target, body.api_key(), &SendOptions::default(), |_| {
            std::borrow::Cow::Borrowed(body)
        })
        .await
    }

    /// Sends a request built for the negotiated version: `build` is called with the version
    /// chosen for the broker each attempt goes to, so version-dependent fields can be set.
    pub async fn send_with<'b, F>(
        &self,
        target: Target,
        api: ApiKey,
        options: &SendOptions,
        build: F,
    ) -> Result<ResponseBody>
    where
        F: FnMut(i16) -> std::borrow::Cow<'b, RequestBody>,
    {
        self.request_loop(target, api, options, build).await
    }

    /// Sends a request the broker does not answer (Produce with `acks=0`); resolves once it
    /// is written. Connecting is retried; the write itself is not.
    pub async fn send_no_response(&self, target: Target, body: &RequestBody) -> Result<()> {
        let deadline = Instant::now() + self.inner.config.default_api_timeout();
        let (key, addr) = self.resolve(&target, deadline).await?;
        let conn = self.inner.pool.get(key, &addr, deadline).await?;
        let version = conn.api_version(body.api_key())?;
        conn.send_no_response(version, body).await
    }

    /// Closes every connection and stops the background task; later calls fail with
    /// [`ErrorKind::Closed`].
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Some(task) = self.inner.background.lock().take() {
            task.abort();
        }
        self.inner.pool.close_all();
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Closed));
        }
        Ok(())
    }

    fn unit(&self) -> f64 {
        self.inner.jitter.lock().unit()
    }

    fn lane_for(target: &Target) -> Lane {
        match target {
            Target::Coordinator { .. } => Lane::Coordinator,
            _ => Lane::Default,
        }
    }
}

/// Looks up a partition's leader, with the error that explains why there is none.
fn leader_in(cluster: &Cluster, topic: &str, partition: i32) -> Result<(BrokerInfo, i32)> {
    let not_found = || {
        Error::broker(ErrorCode::UnknownTopicOrPartition, None)
            .with_partition(topic, Some(partition))
    };
    let t = cluster.topic(topic).ok_or_else(not_found)?;
    if let Some(code) = t.error {
        return Err(Error::broker(code, None).with_partition(topic, None));
    }
    let p = t.partition(partition).ok_or_else(not_found)?;
    match p.leader.and_then(|id| cluster.broker(id)) {
        Some(b) => Ok((b.clone(), p.leader_epoch)),
        None => {
            Err(Error::new(ErrorKind::LeaderNotAvailable).with_partition(topic, Some(partition)))
        }
    }
}
