//! Saving every partition's producer state when the broker closes, so the next start reads
//! a snapshot instead of replaying whole logs.

use crate::state::BrokerState;

impl BrokerState {
    /// Writes each partition's producer-state snapshot as of its log end. A failure only
    /// costs a longer replay at the next start, so it is logged, not returned.
    pub(crate) fn save_producer_state(&self) {
        for topic in self.topics() {
            for (i, p) in topic.partitions.iter().enumerate() {
                // The log lock keeps appends out while the snapshot is taken at its end.
                let Some(log) = p.log() else { continue };
                let producers = p.producers();
                if let Err(e) = producers.save(log.log_end_offset()) {
                    tracing::warn!(topic = %topic.name, partition = i, error = %e,
                        "cannot save producer state; the next start replays the log");
                }
            }
        }
    }
}
