//! [`AdminClient`]: the handle every admin operation hangs off, and the plumbing they share
//! (deadlines, sending with a budget, version look-ups).
//!
//! The operations themselves live one family per file (`topics`, `configs`, `groups`, ...),
//! each adding an `impl AdminClient` block.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_client::backoff::{ExponentialBackoff, Jitter, RetrySchedule};
use kafka_client::config::ClientConfig;
use kafka_client::connection::VersionCaps;
use kafka_client::{Client, ErrorKind, SendOptions, Target};
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, VersionRange};
use parking_lot::Mutex;

use crate::{AdminError, AdminOptions};

/// A Kafka admin client: topics, partitions, configs, consumer groups and their offsets,
/// partition offsets and records.
///
/// Cheap to clone (an `Arc` inside) and safe to share between tasks. Every operation routes
/// each request to the broker that must answer it (the controller for topic changes, each
/// partition's leader for offsets and records, the group coordinator for group operations),
/// retries retriable errors within its timeout ([`AdminOptions::timeout`], by default
/// `default.api.timeout.ms`), and answers per item, so one failing topic, partition or group
/// does not hide the others.
///
/// ```no_run
/// use kafka_admin::{AdminClient, AdminOptions, NewTopic};
/// use kafka_client::config::ClientConfig;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = ClientConfig::new().set("bootstrap.servers", "localhost:9092")?;
/// let admin = AdminClient::connect(config).await?;
///
/// let results = admin
///     .create_topics([NewTopic::new("events", 6, 1)], &AdminOptions::new())
///     .await;
/// match &results["events"] {
///     Ok(created) => println!("created with id {:?}", created.topic_id),
///     Err(e) => println!("not created: {e} (code {:?})", e.code()),
/// }
/// for topic in admin.list_topics(&AdminOptions::new()).await? {
///     println!("{}", topic.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AdminClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// `retry.backoff.ms` .. `retry.backoff.max.ms`, between rounds of per-item retries.
    backoff: ExponentialBackoff,
    /// Guards the jitter source; held only to draw a number.
    jitter: Mutex<Jitter>,
}

impl fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminClient")
            .field("client", &self.inner.client)
            .finish_non_exhaustive()
    }
}

/// The API versions the admin client sends: the codec's, except ListOffsets v0, whose answer
/// is a list of old-style offsets instead of one offset and its timestamp.
pub fn admin_version_caps() -> VersionCaps {
    VersionCaps::codec().cap(
        ApiKey::ListOffsets,
        VersionRange {
            min: 1,
            max: i16::MAX,
        },
    )
}

impl AdminClient {
    /// Connects (bootstrapping from `bootstrap.servers` within `default.api.timeout.ms`).
    pub async fn connect(config: ClientConfig) -> Result<Self, AdminError> {
        let client = Client::builder(config)
            .version_caps(admin_version_caps())
            .connect()
            .await?;
        Ok(Self::from_client(client))
    }

    /// An admin client on an existing client core (sharing its connections and metadata).
    pub fn from_client(client: Client) -> Self {
        let config = client.config();
        let backoff = ExponentialBackoff::new(config.retry_backoff(), config.retry_backoff_max());
        Self {
            inner: Arc::new(Inner {
                client,
                backoff,
                jitter: Mutex::new(Jitter::new()),
            }),
        }
    }

    /// The client core underneath.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Closes every connection; later calls fail with a "client closed" error.
    pub fn close(&self) {
        self.inner.client.close();
    }

    /// When a call with `options` must be done by.
    pub(crate) fn deadline(&self, options: &AdminOptions) -> Instant {
        let budget = options
            .timeout
            .unwrap_or_else(|| self.inner.client.config().default_api_timeout());
        Instant::now() + budget
    }

    /// A retry schedule for the rounds of a call ending at `deadline`.
    pub(crate) fn schedule(&self, deadline: Instant) -> RetrySchedule {
        let now = Instant::now();
        RetrySchedule::new(
            self.inner.backoff,
            now,
            deadline.saturating_duration_since(now),
        )
    }

    /// A random number in `[0, 1)` for backoff jitter.
    pub(crate) fn jitter(&self) -> f64 {
        self.inner.jitter.lock().unit()
    }

    /// Sends a request built for the negotiated version to `target`, within what is left
    /// until `deadline`. With `retry` the client core retries connection failures and
    /// coordinator moves itself; without it one attempt is made, for requests routed by
    /// metadata the caller looked up (a partition's leader), which must look it up again
    /// rather than insist on the same broker.
    pub(crate) async fn send<'b, F>(
        &self,
        target: Target,
        api: ApiKey,
        deadline: Instant,
        retry: bool,
        build: F,
    ) -> Result<ResponseBody, AdminError>
    where
        F: FnMut(i16) -> Cow<'b, RequestBody>,
    {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut options = SendOptions::new().timeout(remaining.max(Duration::from_millis(1)));
        if !retry {
            options = options.no_retry();
        }
        Ok(self
            .inner
            .client
            .send_with(target, api, &options, build)
            .await?)
    }

    /// The version of `api` the client will use with `target` (connecting if needed, by
    /// `deadline`).
    pub(crate) async fn version(
        &self,
        target: &Target,
        api: ApiKey,
        deadline: Instant,
    ) -> Result<i16, AdminError> {
        within(deadline, async {
            Ok(self.inner.client.api_version_for(target, api).await?)
        })
        .await
    }
}

/// Runs a client-core call that has no budget of its own (it uses `default.api.timeout.ms`)
/// within the admin call's deadline; running out is a request timeout.
pub(crate) async fn within<T>(
    deadline: Instant,
    call: impl Future<Output = Result<T, AdminError>>,
) -> Result<T, AdminError> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, call).await {
        Ok(result) => result,
        Err(_) => Err(AdminError::Client(kafka_client::Error::new(
            ErrorKind::RequestTimeout { timeout: left },
        ))),
    }
}

/// What is left until `deadline`, in the milliseconds requests carry as their `timeout_ms`.
pub(crate) fn remaining_ms(deadline: Instant) -> i32 {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .as_millis();
    i32::try_from(left).unwrap_or(i32::MAX).max(1)
}

/// Takes the expected variant out of a `ResponseBody`, or says what came instead.
macro_rules! expect_response {
    ($resp:expr, $variant:ident) => {
        match $resp {
            kafka_protocol::messages::ResponseBody::$variant(r) => Ok(r),
            other => Err($crate::AdminError::Protocol(format!(
                concat!(stringify!($variant), " was answered with {:?}"),
                other.api_key()
            ))),
        }
    };
}
pub(crate) use expect_response;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConfigResource, NewPartitions, NewTopic, OffsetSpec, TopicPartition};

    /// Never run: it compiles only if every operation's future is `Send`, so admin calls can
    /// be spawned on a multi-threaded runtime.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn every_operation_is_send(admin: &AdminClient, o: &AdminOptions) {
        fn send<T: Send>(_: T) {}
        let tp = || TopicPartition::new("t", 0);
        send(admin.create_topics([NewTopic::with_defaults("t")], o));
        send(admin.delete_topics(["t"], o));
        send(admin.delete_topics_by_id([kafka_protocol::Uuid::ZERO], o));
        send(admin.create_partitions([("t", NewPartitions::increase_to(2))], o));
        send(admin.list_topics(o));
        send(admin.describe_topics(["t"], o));
        send(admin.describe_cluster(o));
        send(admin.describe_configs([ConfigResource::topic("t")], o));
        send(admin.incremental_alter_configs([(ConfigResource::topic("t"), vec![])], o));
        send(admin.list_consumer_groups(&[], o));
        send(admin.describe_consumer_groups(["g"], o));
        send(admin.delete_consumer_groups(["g"], o));
        send(admin.list_consumer_group_offsets("g", None, o));
        send(admin.alter_consumer_group_offsets("g", [], o));
        send(admin.delete_consumer_group_offsets("g", [tp()], o));
        send(admin.list_offsets([(tp(), OffsetSpec::Latest)], o));
        send(admin.delete_records([(tp(), 0)], o));
    }
}
