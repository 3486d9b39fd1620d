//! Applying a Produce answer: each batch's decision (complete, retry, split, re-route,
//! fail) under the state lock, the completions after it.

use std::time::Instant;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::produce_response::ProduceResponse;

use kafka_protocol::records::BatchOptions;

use super::{Done, InFlight, LeaderHint, Sender, State, finish_failed};
use crate::batch::ProducerBatch;
use crate::delivery::BatchAck;
use crate::response::{self, Decision, PartitionAnswer};

impl Sender {
    /// Applies the answer to one request.
    pub(super) fn apply(&mut self, request: InFlight) {
        let InFlight {
            batches,
            sent_at,
            result,
            ..
        } = request;
        let now = Instant::now();
        let result = result.expect("applied once answered");
        if result.is_ok() {
            self.shared
                .metrics
                .response(now.saturating_duration_since(sent_at));
        }
        let client = self.shared.client.clone();
        let config = &self.shared.config;
        let mut done: Done = Vec::new();
        let mut freed = false;
        let mut stale = Vec::new();
        {
            let mut guard = self.shared.lock_state();
            let st = &mut *guard;
            for b in &batches {
                st.acc.on_answered(b, &mut st.idem);
            }
            for batch in batches {
                let decision = {
                    let cx = response::Context {
                        now,
                        retries: config.retries,
                        delivery_timeout: config.delivery_timeout,
                        idempotence: &st.idem,
                    };
                    match &result {
                        Ok(None) => Decision::Success(BatchAck {
                            base_offset: -1,
                            log_append_time: -1,
                        }),
                        Ok(Some(resp)) => match find_answer(resp, &batch) {
                            Some((answer, leader)) => {
                                if let Some((leader, epoch)) = leader {
                                    client.update_leader(
                                        &batch.topic,
                                        batch.partition,
                                        leader,
                                        epoch,
                                    );
                                }
                                response::on_answer(&batch, answer, &cx)
                            }
                            None => response::on_request_error(
                                &batch,
                                &kafka_client::Error::new(kafka_client::ErrorKind::Protocol(
                                    format!("no answer for {}-{}", batch.topic, batch.partition),
                                )),
                                &cx,
                            ),
                        },
                        Err(e) => response::on_request_error(&batch, e, &cx),
                    }
                };
                self.apply_decision(st, batch, decision, now, &mut done, &mut freed, &mut stale);
            }
        }
        for code in stale {
            client.report_error(code);
        }
        self.complete(done, freed);
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_decision(
        &self,
        st: &mut State,
        mut batch: ProducerBatch,
        decision: Decision,
        now: Instant,
        done: &mut Done,
        freed: &mut bool,
        stale: &mut Vec<ErrorCode>,
    ) {
        match decision {
            Decision::Success(ack) => {
                if let (Some(stamp), Some(last)) = (batch.stamp, batch.last_sequence()) {
                    st.idem
                        .on_success(&batch.topic, batch.partition, stamp, last);
                }
                *freed |= st.acc.release(&mut batch);
                done.push((batch, Ok(ack)));
            }
            Decision::Retry {
                stale_metadata,
                rewrite,
                error,
            } => {
                tracing::debug!(topic = %batch.topic, partition = batch.partition, attempts = batch.attempts, error = %error, "retrying batch");
                self.shared.metrics.retry(batch.records);
                if stale_metadata {
                    // A lost connection says nothing in Kafka's codes about metadata, but the
                    // broker may be gone with its leaderships (Java refreshes on disconnect
                    // too): report it as such.
                    stale.push(match error.code() {
                        Some(c) if kafka_client::metadata::is_stale_metadata_error(c) => c,
                        _ => ErrorCode::BrokerNotAvailable,
                    });
                }
                if rewrite {
                    st.idem.request_rewrite(&batch.topic, batch.partition);
                }
                batch.last_error = Some(error);
                let unit = st.jitter.unit();
                st.acc.reenqueue(batch, unit, now);
            }
            Decision::Split => {
                self.shared.metrics.split();
                let options = BatchOptions {
                    compression: self.shared.config.compression,
                    compression_level: self.shared.config.compression_level(),
                    ..Default::default()
                };
                let old = batch.stamp;
                let (topic, partition) = (batch.topic.clone(), batch.partition);
                // batch.size as Java does, but at most half the batch, so that every split
                // makes progress even when batch.size exceeds the broker's limit.
                let limit = self
                    .shared
                    .config
                    .batch_size
                    .min(batch.uncompressed / 2)
                    .max(1);
                match batch.split(options, limit, now) {
                    Ok(parts) => {
                        tracing::debug!(%topic, partition, parts = parts.len(), "split a batch the broker found too large");
                        if let Some(old) = old {
                            let bases: Vec<i32> = parts
                                .iter()
                                .filter_map(|p| p.stamp.map(|s| s.base_sequence))
                                .collect();
                            st.idem
                                .on_split(&topic, partition, old.base_sequence, &bases);
                        }
                        st.acc.reenqueue_parts(parts);
                    }
                    Err(e) => {
                        // Splitting only fails on a batch we cannot read back: a bug. The
                        // records are lost, as after any fatal error.
                        tracing::error!(%topic, partition, error = %e, "cannot split a batch");
                    }
                }
            }
            Decision::Fail { error, reset_id } => {
                if reset_id {
                    st.idem.reset_producer_id();
                }
                *freed |= finish_failed(st, &mut batch);
                done.push((batch, Err(error)));
            }
        }
    }
}

/// The answer for a batch's partition in a Produce response, with the new leader when the
/// broker named one (KIP-951).
fn find_answer<'r>(
    resp: &'r ProduceResponse,
    batch: &ProducerBatch,
) -> Option<(PartitionAnswer<'r>, LeaderHint)> {
    let t = resp
        .responses
        .iter()
        .find(|t| t.name.as_str() == &*batch.topic)?;
    let p = t
        .partition_responses
        .iter()
        .find(|p| p.index == batch.partition)?;
    let leader = (p.current_leader.leader_id >= 0 && p.current_leader.leader_epoch >= 0)
        .then_some((p.current_leader.leader_id, p.current_leader.leader_epoch));
    Some((
        PartitionAnswer {
            code: ErrorCode::from_code(p.error_code),
            base_offset: p.base_offset,
            log_append_time: p.log_append_time_ms,
            message: p.error_message.as_deref(),
        },
        leader,
    ))
}
