//! `describe_cluster`: the cluster id, its brokers and its controller.
//!
//! DescribeCluster (KIP-700) where the broker serves it, since it is the API meant for this
//! and the only one that still reports the cluster's authorized operations (Metadata dropped
//! them in v11); Metadata otherwise.

use std::borrow::Cow;
use std::collections::BTreeSet;

use kafka_client::metadata::BrokerInfo;
use kafka_client::{ErrorKind, Target};
use kafka_protocol::messages::RequestBody;
use kafka_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use kafka_protocol::{ApiKey, KStr};

use crate::acl::{AclOperation, decode_operations};
use crate::client::expect_response;
use crate::{AdminClient, AdminError, AdminOptions};

/// The cluster as a broker describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The controller the broker names (in KRaft mode, a broker that forwards controller
    /// requests), if any.
    pub controller: Option<BrokerInfo>,
    /// Every broker, by node id.
    pub brokers: Vec<BrokerInfo>,
    /// What the caller may do with the cluster, when asked for
    /// ([`AdminOptions::include_authorized_operations`]) and the broker says.
    pub authorized_operations: Option<BTreeSet<AclOperation>>,
}

/// A broker from the wire's id, host, port and rack; `None` for a port out of range.
fn broker(id: i32, host: &KStr, port: i32, rack: Option<&KStr>) -> Option<BrokerInfo> {
    let port = u16::try_from(port).ok()?;
    Some(BrokerInfo::new(
        id,
        host.as_str(),
        port,
        rack.map(|r| r.to_string()),
    ))
}

fn finish(
    cluster_id: Option<String>,
    controller_id: i32,
    mut brokers: Vec<BrokerInfo>,
    authorized_operations: Option<BTreeSet<AclOperation>>,
) -> ClusterDescription {
    brokers.sort_by_key(|b| b.id);
    let controller = brokers.iter().find(|b| b.id == controller_id).cloned();
    ClusterDescription {
        cluster_id,
        controller,
        brokers,
        authorized_operations,
    }
}

impl AdminClient {
    /// Describes the cluster: its id, brokers and controller.
    pub async fn describe_cluster(
        &self,
        options: &AdminOptions,
    ) -> Result<ClusterDescription, AdminError> {
        let deadline = self.deadline(options);
        let ops = options.include_authorized_operations;
        match self
            .version(&Target::Any, ApiKey::DescribeCluster, deadline)
            .await
        {
            Ok(_) => {}
            Err(AdminError::Client(e))
                if matches!(e.kind(), ErrorKind::UnsupportedVersion { .. }) =>
            {
                return self.describe_cluster_by_metadata(ops, deadline).await;
            }
            Err(e) => return Err(e),
        }
        let body = RequestBody::DescribeCluster(DescribeClusterRequest {
            include_cluster_authorized_operations: ops,
            ..Default::default()
        });
        let resp = self
            .send(Target::Any, ApiKey::DescribeCluster, deadline, true, |_| {
                Cow::Borrowed(&body)
            })
            .await?;
        let resp = expect_response!(resp, DescribeCluster)?;
        if resp.error_code != 0 {
            return Err(AdminError::from_response(
                resp.error_code,
                resp.error_message.as_ref(),
            ));
        }
        let brokers = resp
            .brokers
            .iter()
            .filter_map(|b| broker(b.broker_id, &b.host, b.port, b.rack.as_ref()))
            .collect();
        Ok(finish(
            Some(resp.cluster_id.to_string()).filter(|id| !id.is_empty()),
            resp.controller_id,
            brokers,
            decode_operations(resp.cluster_authorized_operations).filter(|_| ops),
        ))
    }

    async fn describe_cluster_by_metadata(
        &self,
        ops: bool,
        deadline: std::time::Instant,
    ) -> Result<ClusterDescription, AdminError> {
        let (resp, version) = self.fetch_metadata(Some(&[]), ops, deadline).await?;
        let brokers = resp
            .brokers
            .iter()
            .filter_map(|b| broker(b.node_id, &b.host, b.port, b.rack.as_ref()))
            .collect();
        let operations = if ops && (8..=10).contains(&version) {
            decode_operations(resp.cluster_authorized_operations)
        } else {
            None
        };
        Ok(finish(
            resp.cluster_id.map(|id| id.to_string()),
            resp.controller_id,
            brokers,
            operations,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_is_looked_up_among_brokers() {
        let b = |id| BrokerInfo::new(id, "h", 9092, None);
        let d = finish(Some("c".into()), 2, vec![b(3), b(2)], None);
        assert_eq!(d.brokers.iter().map(|b| b.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(d.controller, Some(b(2)));
        assert_eq!(finish(None, -1, vec![b(1)], None).controller, None);
        assert!(broker(1, &"h".into(), 70_000, None).is_none());
    }
}
