//! Wait-for hooks on group state, for tests: wait until a group is Stable (at some
//! generation, with some members) instead of polling DescribeGroups. They watch a channel
//! the coordinator bumps on every state or generation change, so a wait wakes exactly when
//! something changed.

use std::time::Duration;

use super::{GroupState, GroupStatus, GroupWaitTimeout};
use crate::state::BrokerState;

impl BrokerState {
    /// A group's state, generation and members; `None` if it does not exist.
    pub fn group_status(&self, group: &str) -> Option<GroupStatus> {
        self.groups().status(group)
    }

    /// Waits until the group is in `state` (for [`GroupState::Dead`]: until it does not
    /// exist), for at most `timeout`.
    pub async fn wait_for_group_state(
        &self,
        group: &str,
        state: GroupState,
        timeout: Duration,
    ) -> Result<GroupStatus, GroupWaitTimeout> {
        self.groups().wait_for_state(group, state, timeout).await
    }

    /// Waits until `pred` holds for the group's status (`None` while it does not exist), for
    /// at most `timeout`; `what` describes the condition in the timeout error.
    ///
    /// ```no_run
    /// # async fn demo(state: &kafka_broker::BrokerState) {
    /// use std::time::Duration;
    /// use kafka_broker::GroupState;
    /// let stable_with_two = state
    ///     .wait_for_group("g", "Stable with 2 members", Duration::from_secs(10), |s| {
    ///         s.is_some_and(|s| s.state == GroupState::Stable && s.members.len() == 2)
    ///     })
    ///     .await;
    /// # }
    /// ```
    pub async fn wait_for_group(
        &self,
        group: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(Option<&GroupStatus>) -> bool,
    ) -> Result<Option<GroupStatus>, GroupWaitTimeout> {
        self.groups().wait_for(group, what, timeout, pred).await
    }
}
