//! Coordinator lookup: FindCoordinator, batched (v4+, many keys per request) or one key per
//! request (v0-3), with the answers cached until an error invalidates them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode, KStr, VersionRange};

use super::Client;
use crate::backoff::RetrySchedule;
use crate::error::{Error, ErrorKind, Result};
use crate::metadata::{BrokerInfo, CoordinatorType};

/// One key's answer.
type Answer = (String, Result<BrokerInfo>);

fn answer(
    code: i16,
    message: Option<&KStr>,
    node: i32,
    host: &KStr,
    port: i32,
) -> Result<BrokerInfo> {
    let code = ErrorCode::from_code(code);
    if code != ErrorCode::None {
        return Err(
            Error::broker(code, message.map(|m| m.to_string())).with_api(ApiKey::FindCoordinator)
        );
    }
    let port = u16::try_from(port).map_err(|_| {
        Error::new(ErrorKind::Protocol(format!(
            "coordinator port {port} out of range"
        )))
    })?;
    Ok(BrokerInfo::new(node, host.as_str(), port, None))
}

impl Client {
    /// Finds the coordinators of several keys of one kind (one batched request on brokers
    /// with FindCoordinator v4+), caching the answers. Keys that keep failing retriably until
    /// `default.api.timeout.ms` map to their last error.
    pub async fn find_coordinators(
        &self,
        kind: CoordinatorType,
        keys: &[&str],
    ) -> Result<HashMap<String, Result<BrokerInfo>>> {
        let deadline = Instant::now() + self.inner.config.default_api_timeout();
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        self.find_coordinators_until(kind, keys, deadline).await
    }

    pub(super) async fn coordinator_until(
        &self,
        kind: CoordinatorType,
        key: &str,
        deadline: Instant,
    ) -> Result<BrokerInfo> {
        if let Some(b) = self.inner.coordinators.lock().get(kind, key).cloned() {
            return Ok(b);
        }
        let mut found = self
            .find_coordinators_until(kind, vec![key.to_owned()], deadline)
            .await?;
        found.remove(key).unwrap_or_else(|| {
            Err(Error::new(ErrorKind::Protocol(format!(
                "FindCoordinator gave no answer for {key}"
            ))))
        })
    }

    async fn find_coordinators_until(
        &self,
        kind: CoordinatorType,
        mut pending: Vec<String>,
        deadline: Instant,
    ) -> Result<HashMap<String, Result<BrokerInfo>>> {
        self.check_open()?;
        let now = Instant::now();
        let mut schedule = RetrySchedule::new(
            self.inner.retry_backoff,
            now,
            deadline.saturating_duration_since(now),
        );
        let mut out = HashMap::new();
        loop {
            let mut last = None;
            match self.find_once(kind, &pending, deadline).await {
                Ok(answers) => {
                    let mut retry = Vec::new();
                    for (key, result) in answers {
                        match result {
                            Ok(b) => {
                                self.inner.coordinators.lock().insert(kind, &key, b.clone());
                                out.insert(key, Ok(b));
                            }
                            // COORDINATOR_NOT_AVAILABLE while a coordinator is elected, or
                            // COORDINATOR_LOAD_IN_PROGRESS: ask again shortly.
                            Err(e) if e.is_retriable() => {
                                retry.push(key);
                                last = Some(e);
                            }
                            Err(e) => {
                                out.insert(key, Err(e));
                            }
                        }
                    }
                    pending = retry;
                }
                Err(e) if e.is_retriable() => {
                    self.inner.metadata.lock().request_update();
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
            let Some(last) = last.filter(|_| !pending.is_empty()) else {
                return Ok(out);
            };
            let now = Instant::now();
            match schedule.next_delay(now, self.unit()) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    let exhausted = Error::new(ErrorKind::RetriesExhausted {
                        attempts: schedule.attempts(),
                        elapsed: now - schedule.started(),
                        last: Box::new(last),
                    })
                    .with_api(ApiKey::FindCoordinator);
                    if out.is_empty() && pending.len() == 1 {
                        return Err(exhausted);
                    }
                    for key in pending {
                        out.insert(key, Err(exhausted.clone()));
                    }
                    return Ok(out);
                }
            }
        }
    }

    /// One round: a batched request, or one request per key on brokers before v4.
    async fn find_once(
        &self,
        kind: CoordinatorType,
        keys: &[String],
        deadline: Instant,
    ) -> Result<Vec<Answer>> {
        let (pool_key, addr) = self.least_loaded()?;
        let conn = self.inner.pool.get(pool_key, &addr, deadline).await?;
        let version = conn.api_version(ApiKey::FindCoordinator)?;
        let timeout = self
            .inner
            .config
            .request_timeout()
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        if version == 0 && kind != CoordinatorType::Group {
            // v0 has no key type: it can only find group coordinators.
            return Err(Error::new(ErrorKind::UnsupportedVersion {
                api: ApiKey::FindCoordinator,
                broker_range: conn.broker_versions().get(ApiKey::FindCoordinator),
                client_range: VersionRange {
                    min: 1,
                    max: ApiKey::FindCoordinator.versions().max,
                },
            }));
        }
        let key_type = if version >= 1 { kind.key_type() } else { 0 };
        if version >= 4 {
            let body = RequestBody::FindCoordinator(FindCoordinatorRequest {
                key_type,
                coordinator_keys: keys.iter().map(|k| KStr::from(k.as_str())).collect(),
                ..Default::default()
            });
            let ResponseBody::FindCoordinator(resp) =
                conn.send_at(version, &body, Some(timeout)).await?
            else {
                return Err(Error::new(ErrorKind::Protocol(
                    "FindCoordinator answered with another API".into(),
                )));
            };
            return Ok(resp
                .coordinators
                .iter()
                .map(|c| {
                    (
                        c.key.to_string(),
                        answer(
                            c.error_code,
                            c.error_message.as_ref(),
                            c.node_id,
                            &c.host,
                            c.port,
                        ),
                    )
                })
                .collect());
        }
        let mut answers = Vec::with_capacity(keys.len());
        for key in keys {
            let body = RequestBody::FindCoordinator(FindCoordinatorRequest {
                key: KStr::from(key.as_str()),
                key_type,
                ..Default::default()
            });
            let ResponseBody::FindCoordinator(r) =
                conn.send_at(version, &body, Some(timeout)).await?
            else {
                return Err(Error::new(ErrorKind::Protocol(
                    "FindCoordinator answered with another API".into(),
                )));
            };
            answers.push((
                key.clone(),
                answer(
                    r.error_code,
                    r.error_message.as_ref(),
                    r.node_id,
                    &r.host,
                    r.port,
                ),
            ));
        }
        Ok(answers)
    }
}
