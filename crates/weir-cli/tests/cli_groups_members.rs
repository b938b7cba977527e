//! Two Rust [`GroupMember`]s in one group against the real broker: a join
//! rebalances the group, the coordinator fences stale generations and
//! unknown members, rejects commits it must not store, and `weir groups
//! describe` follows every step.
//!
//! Each test returns early, printing a note, while the broker does not
//! advertise the group APIs.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Broker, unique_topic};
use weir_client::group::{ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID};
use weir_client::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use weir_client::messages::{HeartbeatRequest, HeartbeatResponse, OffsetCommitRequest};
use weir_client::messages::{OffsetCommitResponse, offset_commit_response};
use weir_client::{
    Admin, ApiKey, Client, ClientConfig, Connection, ConnectionTimeouts, GroupAdmin, GroupMember,
    GroupMemberConfig, NewTopic, TopicPartition,
};

const OVERRIDES: &[&str] = &["group.initial.rebalance.delay.ms=0"];
/// Kafka's `UNKNOWN_TOPIC_OR_PARTITION`.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// Kafka's `OFFSET_METADATA_TOO_LARGE`.
const OFFSET_METADATA_TOO_LARGE: i16 = 12;

async fn serves_groups(broker: &Broker) -> bool {
    let conn = Connection::connect(&broker.addr, "probe", ConnectionTimeouts::default())
        .await
        .unwrap();
    let missing: Vec<&str> = [
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::DescribeGroups,
    ]
    .into_iter()
    .filter(|api| conn.broker_versions().negotiate(*api).is_none())
    .map(ApiKey::name)
    .collect();
    if !missing.is_empty() {
        eprintln!(
            "note: skipping, the broker does not serve {missing:?} (group coordinator not served)"
        );
    }
    missing.is_empty()
}

async fn setup(broker: &Broker, partitions: i32) -> (Arc<Client>, String) {
    let client = Arc::new(
        Client::connect(ClientConfig::new(&broker.addr).client_id("members-test"))
            .await
            .unwrap(),
    );
    let topic = unique_topic("members");
    let mut t = NewTopic::new(&topic);
    t.partitions = Some(partitions);
    Admin::new(client.clone())
        .create_topic(&t, false)
        .await
        .unwrap();
    (client, topic)
}

fn config(group: &str, topic: &str) -> GroupMemberConfig {
    let mut c = GroupMemberConfig::new(group, vec![topic.to_owned()]);
    // Long enough that a member idle while the test runs CLI commands on
    // a loaded machine is not expired.
    c.session_timeout = Duration::from_secs(20);
    c.rebalance_timeout = Duration::from_secs(20);
    c
}

/// Heartbeat `m` until the coordinator answers REBALANCE_IN_PROGRESS, then
/// rejoin (bounded by 20 s).
async fn follow_rebalance(m: &mut GroupMember) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match m.heartbeat().await {
            Ok(()) => {}
            Err(e) if e.kafka_code() == Some(REBALANCE_IN_PROGRESS) => break,
            Err(e) => panic!("heartbeat: {e}"),
        }
        assert!(Instant::now() < deadline, "no rebalance was announced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    m.rejoin().await.unwrap();
}

fn partition_errors(resp: &OffsetCommitResponse) -> Vec<(String, i32, i16)> {
    resp.topics
        .iter()
        .flat_map(|t: &offset_commit_response::OffsetCommitResponseTopic| {
            t.partitions
                .iter()
                .map(|p| (t.name.clone(), p.partition_index, p.error_code))
        })
        .collect()
}

fn commit_request(
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    partition: i32,
    metadata: &str,
) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.to_owned(),
        generation_id_or_member_epoch: generation,
        member_id: member.to_owned(),
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: topic.to_owned(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: partition,
                committed_offset: 1,
                committed_leader_epoch: -1,
                commit_timestamp: -1,
                committed_metadata: Some(metadata.to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn join_rebalances_and_stale_generations_are_fenced() {
    let broker = Broker::start_with(OVERRIDES);
    if !serves_groups(&broker).await {
        return;
    }
    let (client, topic) = setup(&broker, 4).await;
    let group = format!("g-{topic}");
    let mut m1 = GroupMember::join(client.clone(), config(&group, &topic))
        .await
        .unwrap();
    let first_generation = m1.generation_id();
    assert_eq!(m1.assignment().len(), 4);

    // A second member: the coordinator holds its join until m1 rejoins.
    let client2 = Arc::new(
        Client::connect(ClientConfig::new(&broker.addr).client_id("members-test-2"))
            .await
            .unwrap(),
    );
    let cfg2 = config(&group, &topic);
    let joining = tokio::spawn(async move { GroupMember::join(client2, cfg2).await });
    follow_rebalance(&mut m1).await;
    let mut m2 = joining.await.unwrap().unwrap();
    assert_eq!(m1.generation_id(), m2.generation_id());
    assert!(m1.generation_id() > first_generation);
    let mut all: Vec<TopicPartition> = m1
        .assignment()
        .iter()
        .chain(m2.assignment())
        .cloned()
        .collect();
    all.sort();
    let expected: Vec<TopicPartition> = (0..4).map(|p| TopicPartition::new(&topic, p)).collect();
    assert_eq!(all, expected, "each partition owned exactly once");
    assert_eq!(m1.assignment().len(), 2);

    let out = broker
        .weir(&["groups", "describe", &group, "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(out["state"], "Stable", "{out}");
    assert_eq!(out["members"].as_array().unwrap().len(), 2, "{out}");

    // Commits: current generation ok; stale generation, unknown member,
    // unknown topic and oversized metadata are refused with Kafka's codes.
    let (_, conn) = weir_client::group::coordinator_connection(&client, &group)
        .await
        .unwrap();
    let owned = m1.assignment()[0].clone();
    let cases = [
        (
            m1.generation_id(),
            m1.member_id().to_owned(),
            owned.topic.clone(),
            owned.partition,
            String::new(),
            0,
        ),
        (
            first_generation,
            m1.member_id().to_owned(),
            owned.topic.clone(),
            owned.partition,
            String::new(),
            ILLEGAL_GENERATION,
        ),
        (
            m1.generation_id(),
            "nobody".to_owned(),
            owned.topic.clone(),
            owned.partition,
            String::new(),
            UNKNOWN_MEMBER_ID,
        ),
        (
            m1.generation_id(),
            m1.member_id().to_owned(),
            "no-such-topic".to_owned(),
            0,
            String::new(),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        (
            m1.generation_id(),
            m1.member_id().to_owned(),
            owned.topic.clone(),
            99,
            String::new(),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        (
            m1.generation_id(),
            m1.member_id().to_owned(),
            owned.topic.clone(),
            owned.partition,
            "m".repeat(5000),
            OFFSET_METADATA_TOO_LARGE,
        ),
    ];
    for (generation, member, t, p, metadata, want) in cases {
        let req = commit_request(&group, generation, &member, &t, p, &metadata);
        let (_, resp): (i16, OffsetCommitResponse) = conn.send(&req).await.unwrap();
        let errors = partition_errors(&resp);
        assert_eq!(
            errors,
            vec![(t.clone(), p, want)],
            "commit generation {generation} member {member} {t}-{p} metadata {} bytes",
            metadata.len()
        );
    }
    // Heartbeats with a stale generation or an unknown member are fenced too.
    for (generation, member, want) in [
        (
            first_generation,
            m1.member_id().to_owned(),
            ILLEGAL_GENERATION,
        ),
        (m1.generation_id(), "nobody".to_owned(), UNKNOWN_MEMBER_ID),
    ] {
        let req = HeartbeatRequest {
            group_id: group.clone(),
            generation_id: generation,
            member_id: member.clone(),
            ..Default::default()
        };
        let (_, resp): (i16, HeartbeatResponse) = conn.send(&req).await.unwrap();
        assert_eq!(resp.error_code, want, "heartbeat {generation} {member}");
    }
    // The accepted commit is there, the refused ones are not.
    let committed = GroupAdmin::new(client.clone())
        .fetch_offsets(&group, None)
        .await
        .unwrap();
    assert_eq!(committed.len(), 1, "{committed:?}");
    assert_eq!(committed[0].partition, owned);
    assert_eq!(committed[0].offset, 1);

    // m2 leaves: m1 gets everything back after one rebalance.
    m2.heartbeat().await.unwrap();
    m2.leave().await.unwrap();
    follow_rebalance(&mut m1).await;
    assert_eq!(m1.assignment(), &expected[..]);
    let out = broker
        .weir(&["groups", "describe", &group, "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(out["members"].as_array().unwrap().len(), 1, "{out}");
    m1.leave().await.unwrap();
}

#[tokio::test]
async fn member_that_stops_heartbeating_is_removed_after_its_session_timeout() {
    let broker = Broker::start_with(OVERRIDES);
    if !serves_groups(&broker).await {
        return;
    }
    let (client, topic) = setup(&broker, 2).await;
    let group = format!("g-{topic}");
    let mut cfg = config(&group, &topic);
    cfg.session_timeout = Duration::from_secs(6);
    let m = GroupMember::join(client.clone(), cfg).await.unwrap();
    let admin = GroupAdmin::new(client.clone());
    assert_eq!(admin.describe_group(&group).await.unwrap().members.len(), 1);
    // No heartbeats from now on: the coordinator expires the member after
    // 6 s and the group becomes Empty.
    let started = Instant::now();
    loop {
        let d = admin.describe_group(&group).await.unwrap();
        if d.members.is_empty() {
            assert_eq!(d.state, "Empty", "{d:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "member still in the group after 30 s: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "member removed after only {:?}",
        started.elapsed()
    );
    drop(m);
}
