//! Consumer groups: list (with a state filter), describe (members with decoded subscription
//! and assignment) and delete, for a group that only stores offsets and for one with an
//! active member.

use kafka_admin::{
    AclOperation, AdminError, AdminOptions, GroupState, OffsetAndMetadata, TopicPartition,
};
use kafka_protocol::ErrorCode;

use crate::support::{Member, TestCluster, create_topic, unique};

#[tokio::test]
async fn simple_group_is_listed_described_and_deleted() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (topic, group, missing) = (unique("g-topic"), unique("simple"), unique("nobody"));
    create_topic(&admin, &topic, 1).await;
    // Committing offsets as an outsider creates an Empty group with no protocol.
    let committed = admin
        .alter_consumer_group_offsets(
            &group,
            [(TopicPartition::new(&topic, 0), OffsetAndMetadata::new(0))],
            &AdminOptions::new(),
        )
        .await;
    assert!(committed.values().all(Result::is_ok), "{committed:?}");

    let listed = admin
        .list_consumer_groups(&[], &AdminOptions::new())
        .await
        .unwrap();
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .expect("listed");
    assert!(g.is_simple());
    assert_eq!(g.state, Some(GroupState::Empty));
    let empty_only = admin
        .list_consumer_groups(&[GroupState::Empty], &AdminOptions::new())
        .await
        .unwrap();
    assert!(empty_only.groups.iter().any(|g| g.group_id == group));
    let stable_only = admin
        .list_consumer_groups(&[GroupState::Stable], &AdminOptions::new())
        .await
        .unwrap();
    assert!(!stable_only.groups.iter().any(|g| g.group_id == group));

    let described = admin
        .describe_consumer_groups(
            [group.as_str(), missing.as_str()],
            &AdminOptions::new().include_authorized_operations(true),
        )
        .await;
    let d = described[&group].as_ref().unwrap();
    assert_eq!(d.state, GroupState::Empty);
    assert!(d.is_simple() && d.members.is_empty());
    assert!(d.coordinator.is_some());
    let ops = d.authorized_operations.as_ref().expect("asked for");
    assert!(ops.contains(&AclOperation::Describe) || ops.contains(&AclOperation::All));
    assert_eq!(
        described[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::GroupIdNotFound)
    );

    let deleted = admin
        .delete_consumer_groups([group.as_str(), missing.as_str()], &AdminOptions::new())
        .await;
    assert!(deleted[&group].is_ok());
    assert_eq!(
        deleted[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::GroupIdNotFound)
    );
    let listed = admin
        .list_consumer_groups(&[], &AdminOptions::new())
        .await
        .unwrap();
    assert!(!listed.groups.iter().any(|g| g.group_id == group));

    // Failure: a closed client lists nothing.
    admin.close();
    let err = admin
        .list_consumer_groups(&[], &AdminOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Client(_)), "{err}");
    cluster.stop().await;
}

#[tokio::test]
async fn active_group_shows_its_member_and_refuses_outsiders() {
    let cluster = TestCluster::start().await;
    let admin = cluster.admin().await;
    let (topic, group) = (unique("g-active"), unique("active"));
    create_topic(&admin, &topic, 3).await;
    let assigned: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(&topic, p)).collect();
    let member = Member::join(admin.client(), &group, &topic, &assigned).await;

    let described = admin
        .describe_consumer_groups([group.as_str()], &AdminOptions::new())
        .await;
    let d = described[&group].as_ref().unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.partition_assignor, "range");
    assert_eq!(d.members.len(), 1);
    let m = &d.members[0];
    assert_eq!(m.member_id, member.member_id);
    assert_eq!(m.client_id, "kafka-admin-tests");
    let subscription = m.subscription.as_ref().expect("decoded subscription");
    assert_eq!(subscription.topics, std::slice::from_ref(&topic));
    let mut got = m
        .assignment
        .as_ref()
        .expect("decoded assignment")
        .partitions
        .clone();
    got.sort();
    assert_eq!(got, assigned);

    let stable = admin
        .list_consumer_groups(&[GroupState::Stable], &AdminOptions::new())
        .await
        .unwrap();
    let g = stable
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .expect("listed");
    assert!(!g.is_simple());

    // Failure: a group with members cannot be deleted.
    let deleted = admin
        .delete_consumer_groups([group.as_str()], &AdminOptions::new())
        .await;
    assert_eq!(
        deleted[&group].as_ref().unwrap_err().code(),
        Some(ErrorCode::NonEmptyGroup)
    );

    member.leave(admin.client()).await;
    let described = admin
        .describe_consumer_groups([group.as_str()], &AdminOptions::new())
        .await;
    assert_eq!(described[&group].as_ref().unwrap().state, GroupState::Empty);
    let deleted = admin
        .delete_consumer_groups([group.as_str()], &AdminOptions::new())
        .await;
    assert!(deleted[&group].is_ok());
    cluster.stop().await;
}
