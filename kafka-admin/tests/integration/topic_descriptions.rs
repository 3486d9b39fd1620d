//! Reading topics: list and describe.

use kafka_admin::{AclOperation, AdminError, AdminOptions};
use kafka_protocol::ErrorCode;

use crate::support::{
    TestCluster, broker_omits_topic_operations, create_topic, eventually, unique,
};

#[tokio::test]
async fn list_topics_lists_created_topics() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let topic = unique("listed");
    create_topic(&admin, &topic, 2).await;
    eventually("the new topic is listed", || async {
        let listed = admin.list_topics(&AdminOptions::new()).await.unwrap();
        listed.iter().any(|t| t.name == topic)
    })
    .await;
    let listed = admin.list_topics(&AdminOptions::new()).await.unwrap();
    let found = listed.iter().find(|t| t.name == topic).expect("listed");
    assert!(!found.is_internal);
    assert!(found.topic_id.is_some());
    assert!(listed.windows(2).all(|w| w[0].name <= w[1].name), "sorted");
    assert!(
        listed.iter().all(|t| !t.is_internal),
        "internal topics only on request"
    );
    let all = admin
        .list_topics(&AdminOptions::new().include_internal(true))
        .await
        .unwrap();
    assert!(all.len() >= listed.len());

    // Failure: a closed client lists nothing.
    admin.close();
    let err = admin.list_topics(&AdminOptions::new()).await.unwrap_err();
    assert!(matches!(err, AdminError::Client(_)), "{err}");
    cluster.stop().await;
}

#[tokio::test]
async fn describe_topics_answers_each_topic() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (topic, missing) = (unique("described"), unique("undescribed"));
    create_topic(&admin, &topic, 3).await;
    let results = admin
        .describe_topics(
            [topic.as_str(), missing.as_str()],
            &AdminOptions::new().include_authorized_operations(true),
        )
        .await;
    let d = results[&topic].as_ref().unwrap();
    assert_eq!(d.name, topic);
    assert!(d.topic_id.is_some());
    assert_eq!(
        d.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    for p in &d.partitions {
        let leader = p.leader.expect("a leader");
        assert!(p.replicas.contains(&leader));
        assert!(p.isr.contains(&leader));
    }
    if broker_omits_topic_operations(admin.client(), &topic).await {
        assert_eq!(d.authorized_operations, None, "nothing to decode");
    } else {
        let ops = d.authorized_operations.as_ref().expect("asked for");
        assert!(ops.contains(&AclOperation::Describe) || ops.contains(&AclOperation::All));
    }
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );

    let plain = admin
        .describe_topics([topic.as_str()], &AdminOptions::new())
        .await;
    assert_eq!(plain[&topic].as_ref().unwrap().authorized_operations, None);
    cluster.stop().await;
}
