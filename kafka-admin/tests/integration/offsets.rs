//! Consumer group offsets: alter (commit as an outsider), list, delete.

use kafka_admin::{AdminError, AdminOptions, OffsetAndMetadata, TopicPartition};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

use crate::support::{Member, TestCluster, assert_unsupported, broker_lacks, create_topic, unique};

#[tokio::test]
async fn alter_then_list_group_offsets() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (topic, group) = (unique("o-topic"), unique("offsets"));
    create_topic(&admin, &topic, 3).await;
    let tp = |p| TopicPartition::new(&topic, p);
    let missing = TopicPartition::new(unique("o-missing"), 0);
    let results = admin
        .alter_consumer_group_offsets(
            &group,
            [
                (tp(0), OffsetAndMetadata::new(5).with_metadata("five")),
                (tp(1), OffsetAndMetadata::new(7).with_leader_epoch(0)),
                (missing.clone(), OffsetAndMetadata::new(1)),
            ],
            &AdminOptions::new(),
        )
        .await;
    assert!(results[&tp(0)].is_ok() && results[&tp(1)].is_ok());
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );

    let asked = [tp(0), tp(1), tp(2)];
    let listed = admin
        .list_consumer_group_offsets(&group, Some(&asked), &AdminOptions::new())
        .await
        .unwrap();
    let o0 = listed[&tp(0)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!((o0.offset, o0.metadata.as_str()), (5, "five"));
    let o1 = listed[&tp(1)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!((o1.offset, o1.leader_epoch), (7, Some(0)));
    assert_eq!(*listed[&tp(2)].as_ref().unwrap(), None, "never committed");

    let all = admin
        .list_consumer_group_offsets(&group, None, &AdminOptions::new())
        .await
        .unwrap();
    let mut keys: Vec<_> = all.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, [tp(0), tp(1)]);

    let nobody = admin
        .list_consumer_group_offsets(&unique("o-nobody"), Some(&asked), &AdminOptions::new())
        .await
        .unwrap();
    assert!(
        nobody.values().all(|r| matches!(r, Ok(None))),
        "no group, no offsets"
    );

    // Failure: a closed client reads nothing.
    admin.close();
    let err = admin
        .list_consumer_group_offsets(&group, None, &AdminOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Client(_)), "{err}");
    cluster.stop().await;
}

#[tokio::test]
async fn delete_group_offsets() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (topic, group) = (unique("d-topic"), unique("d-offsets"));
    create_topic(&admin, &topic, 2).await;
    let tp = |p| TopicPartition::new(&topic, p);
    let committed = admin
        .alter_consumer_group_offsets(
            &group,
            [
                (tp(0), OffsetAndMetadata::new(3)),
                (tp(1), OffsetAndMetadata::new(4)),
            ],
            &AdminOptions::new(),
        )
        .await;
    assert!(committed.values().all(Result::is_ok));
    if broker_lacks(&admin, ApiKey::OffsetDelete, "deleting group offsets").await {
        let deleted = admin
            .delete_consumer_group_offsets(&group, [tp(0)], &AdminOptions::new())
            .await;
        assert_unsupported(&deleted[&tp(0)]);
        cluster.stop().await;
        return;
    }

    let missing = TopicPartition::new(unique("d-missing"), 0);
    let deleted = admin
        .delete_consumer_group_offsets(&group, [tp(0), missing.clone()], &AdminOptions::new())
        .await;
    assert!(deleted[&tp(0)].is_ok());
    assert_eq!(
        deleted[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    let listed = admin
        .list_consumer_group_offsets(&group, None, &AdminOptions::new())
        .await
        .unwrap();
    assert!(!listed.contains_key(&tp(0)));
    assert_eq!(listed[&tp(1)].as_ref().unwrap().as_ref().unwrap().offset, 4);

    // Failure: a group that does not exist fails every partition.
    let nobody = unique("d-nobody");
    let deleted = admin
        .delete_consumer_group_offsets(&nobody, [tp(0), tp(1)], &AdminOptions::new())
        .await;
    for p in 0..2 {
        assert_eq!(
            deleted[&tp(p)].as_ref().unwrap_err().code(),
            Some(ErrorCode::GroupIdNotFound)
        );
    }
    cluster.stop().await;
}

#[tokio::test]
async fn active_group_offsets_belong_to_its_members() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (topic, other, group) = (unique("a-topic"), unique("a-other"), unique("a-group"));
    create_topic(&admin, &topic, 1).await;
    create_topic(&admin, &other, 1).await;
    let (t0, o0) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&other, 0),
    );
    let committed = admin
        .alter_consumer_group_offsets(
            &group,
            [
                (t0.clone(), OffsetAndMetadata::new(1)),
                (o0.clone(), OffsetAndMetadata::new(1)),
            ],
            &AdminOptions::new(),
        )
        .await;
    assert!(committed.values().all(Result::is_ok));
    let member = Member::join(admin.client(), &group, &topic, std::slice::from_ref(&t0)).await;

    // Failure: outsiders cannot commit for a group with members.
    let refused = admin
        .alter_consumer_group_offsets(
            &group,
            [(t0.clone(), OffsetAndMetadata::new(2))],
            &AdminOptions::new(),
        )
        .await;
    assert_eq!(
        refused[&t0].as_ref().unwrap_err().code(),
        Some(ErrorCode::UnknownMemberId)
    );
    // The subscribed topic's offsets stay; the other topic's go.
    let deleted = admin
        .delete_consumer_group_offsets(&group, [t0.clone(), o0.clone()], &AdminOptions::new())
        .await;
    assert_eq!(
        deleted[&t0].as_ref().unwrap_err().code(),
        Some(ErrorCode::GroupSubscribedToTopic)
    );
    assert!(deleted[&o0].is_ok());
    member.leave(admin.client()).await;
    cluster.stop().await;
}
