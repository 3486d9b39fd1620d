//! Describing the cluster.

use kafka_admin::{AdminError, AdminOptions};

use crate::support::TestCluster;

#[tokio::test]
async fn describe_cluster_names_brokers_and_controller() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let d = admin.describe_cluster(&AdminOptions::new()).await.unwrap();
    assert!(d.cluster_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(!d.brokers.is_empty());
    let controller = d.controller.as_ref().expect("a controller");
    assert!(d.brokers.contains(controller));
    assert!(d.brokers.iter().all(|b| b.port > 0 && !b.host.is_empty()));
    assert_eq!(d.authorized_operations, None, "not asked for");

    let with_ops = admin
        .describe_cluster(&AdminOptions::new().include_authorized_operations(true))
        .await
        .unwrap();
    assert!(with_ops.authorized_operations.is_some());

    // Failure: a closed client describes nothing.
    admin.close();
    let err = admin
        .describe_cluster(&AdminOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Client(_)), "{err}");
    cluster.stop().await;
}
