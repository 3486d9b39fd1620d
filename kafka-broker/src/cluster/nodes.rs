//! The brokers as the controller sees them: each one's state, address and liveness (which
//! run of it is current), the controller id Metadata reports, group coordinator routing,
//! the metadata-change channel and the signal that closes a broker's connections.

use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::ClusterController;
use crate::group::routing::{self, KeyType};
use crate::state::BrokerState;

/// Whether a broker is up, and which run of it this is (a restart starts a new one, so the
/// previous run's tasks know to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeLife {
    pub alive: bool,
    pub incarnation: u64,
}

/// One broker as the controller sees it.
#[derive(Debug)]
pub(super) struct NodeSlot {
    pub(super) id: i32,
    /// Its state (weak: the state holds the controller). Empty for a lone broker, which the
    /// controller only reaches through the requests it handles.
    pub(super) state: RwLock<Weak<BrokerState>>,
    /// Where clients reach it.
    pub(super) endpoint: Mutex<(String, i32)>,
    pub(super) life: watch::Sender<NodeLife>,
    /// Bumped to make the broker close every client connection.
    pub(super) drop_connections: watch::Sender<u64>,
}

impl ClusterController {
    pub(super) fn slot(&self, id: i32) -> Option<&NodeSlot> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Records a broker's state and address.
    pub(crate) fn register_node(&self, id: i32, state: &Arc<BrokerState>, host: &str, port: i32) {
        if let Some(slot) = self.slot(id) {
            *slot.state.write() = Arc::downgrade(state);
            *slot.endpoint.lock() = (host.to_string(), port);
        }
    }

    /// Forgets every broker's state (the cluster is shutting down).
    pub(crate) fn unregister_all(&self) {
        for slot in &self.nodes {
            *slot.state.write() = Weak::new();
        }
    }

    /// A broker's state, if it is registered.
    pub(crate) fn node_state(&self, id: i32) -> Option<Arc<BrokerState>> {
        self.slot(id).and_then(|s| s.state.read().upgrade())
    }

    /// Every node id.
    pub(crate) fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// Whether a broker is up.
    pub(crate) fn is_alive(&self, id: i32) -> bool {
        self.slot(id).is_some_and(|s| s.life.borrow().alive)
    }

    /// A broker's liveness channel.
    pub(crate) fn life(&self, id: i32) -> Option<watch::Receiver<NodeLife>> {
        self.slot(id).map(|s| s.life.subscribe())
    }

    /// The live brokers, by id.
    pub(crate) fn live_nodes(&self) -> Vec<i32> {
        self.nodes
            .iter()
            .filter(|n| n.life.borrow().alive)
            .map(|n| n.id)
            .collect()
    }

    /// The live brokers with their addresses.
    pub(crate) fn live_brokers(&self) -> Vec<(i32, String, i32)> {
        self.nodes
            .iter()
            .filter(|n| n.life.borrow().alive)
            .map(|n| {
                let (host, port) = n.endpoint.lock().clone();
                (n.id, host, port)
            })
            .collect()
    }

    /// The controller id Metadata reports: broker 0 while alive, else the lowest live id.
    pub(crate) fn controller_id(&self) -> i32 {
        self.live_nodes()
            .into_iter()
            .min()
            .or_else(|| self.nodes.first().map(|n| n.id))
            .unwrap_or(-1)
    }

    /// The broker that coordinates `key`: spread by the key's hash over the live brokers.
    pub(crate) fn coordinator_for(&self, key: &str, key_type: KeyType) -> Option<i32> {
        routing::coordinator_for(key, key_type, &self.live_nodes())
    }

    /// The channel bumped on every metadata change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(super) fn bump(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Closes every client connection of broker `id`.
    pub(crate) fn drop_connections(&self, id: i32) -> bool {
        match self.slot(id) {
            Some(slot) => {
                slot.drop_connections
                    .send_modify(|v| *v = v.wrapping_add(1));
                true
            }
            None => false,
        }
    }

    /// The channel that tells broker `id` to close its connections.
    pub(crate) fn drop_signal(&self, id: i32) -> Option<watch::Receiver<u64>> {
        self.slot(id).map(|s| s.drop_connections.subscribe())
    }

    /// Marks every broker stopped without electing anyone (the cluster is shutting down):
    /// follower tasks end.
    pub(crate) fn halt(&self) {
        for slot in &self.nodes {
            slot.life.send_modify(|l| {
                l.alive = false;
                l.incarnation += 1;
            });
        }
    }
}
