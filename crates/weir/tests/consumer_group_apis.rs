//! The group coordinator through the real binary: every advertised version
//! of every group API, a join/sync/heartbeat/commit/fetch round trip,
//! committed offsets and group membership surviving kill -9, and Kafka's
//! error codes for bad input without harm to other groups.

use bytes::Bytes;
use weir_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use weir_protocol::messages::create_topics_response::CreateTopicsResponse;
use weir_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use weir_protocol::messages::delete_groups_response::DeleteGroupsResponse;
use weir_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use weir_protocol::messages::describe_groups_response::DescribeGroupsResponse;
use weir_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use weir_protocol::messages::find_coordinator_response::FindCoordinatorResponse;
use weir_protocol::messages::heartbeat_request::HeartbeatRequest;
use weir_protocol::messages::heartbeat_response::HeartbeatResponse;
use weir_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use weir_protocol::messages::join_group_response::JoinGroupResponse;
use weir_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use weir_protocol::messages::leave_group_response::LeaveGroupResponse;
use weir_protocol::messages::list_groups_request::ListGroupsRequest;
use weir_protocol::messages::list_groups_response::ListGroupsResponse;
use weir_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use weir_protocol::messages::metadata_response::MetadataResponse;
use weir_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use weir_protocol::messages::offset_commit_response::OffsetCommitResponse;
use weir_protocol::messages::offset_delete_request::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use weir_protocol::messages::offset_delete_response::OffsetDeleteResponse;
use weir_protocol::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use weir_protocol::messages::offset_fetch_response::OffsetFetchResponse;
use weir_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use weir_protocol::messages::sync_group_response::SyncGroupResponse;
use weir_testkit::{RawConn, TestBroker};

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const FAST: &[&str] = &[
    "group.initial.rebalance.delay.ms=0",
    "offsets.topic.num.partitions=5",
];

fn create_topic(conn: &mut RawConn, name: &str, partitions: i32) {
    let resp: CreateTopicsResponse = conn.call(
        19,
        7,
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        },
    );
    assert_eq!(resp.topics[0].error_code, 0);
}

fn join(conn: &mut RawConn, v: i16, group: &str, member: &str) -> JoinGroupResponse {
    conn.call(
        11,
        v,
        &JoinGroupRequest {
            group_id: group.into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: member.into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(b"sub"),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
}

/// Join as the only member: (member id, generation).
fn join_alone(conn: &mut RawConn, v: i16, group: &str) -> (String, i32) {
    let mut r = join(conn, v, group, "");
    if v >= 4 {
        assert_eq!(r.error_code, 79, "JoinGroup v{v} asks for a member id");
        r = join(conn, v, group, &r.member_id);
    }
    assert_eq!(r.error_code, 0, "JoinGroup v{v}");
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    (r.member_id, r.generation_id)
}

fn sync(
    conn: &mut RawConn,
    v: i16,
    group: &str,
    member: &str,
    generation: i32,
    assignment: &'static [u8],
) -> SyncGroupResponse {
    conn.call(
        14,
        v,
        &SyncGroupRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            protocol_type: (v >= 5).then(|| "consumer".into()),
            protocol_name: (v >= 5).then(|| "range".into()),
            assignments: vec![SyncGroupRequestAssignment {
                member_id: member.into(),
                assignment: Bytes::from_static(assignment),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
}

fn heartbeat(conn: &mut RawConn, v: i16, group: &str, member: &str, generation: i32) -> i16 {
    let r: HeartbeatResponse = conn.call(
        12,
        v,
        &HeartbeatRequest {
            group_id: group.into(),
            generation_id: generation,
            member_id: member.into(),
            ..Default::default()
        },
    );
    r.error_code
}

fn commit(
    conn: &mut RawConn,
    v: i16,
    group: &str,
    member: &str,
    generation: i32,
    parts: &[(&str, i32, i64, &str)],
) -> Vec<i16> {
    let topics = parts
        .iter()
        .map(|(t, p, o, m)| OffsetCommitRequestTopic {
            name: (*t).into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: *p,
                committed_offset: *o,
                committed_leader_epoch: 4,
                committed_metadata: Some((*m).into()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let r: OffsetCommitResponse = conn.call(
        8,
        v,
        &OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: generation,
            member_id: member.into(),
            retention_time_ms: -1,
            topics,
            ..Default::default()
        },
    );
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// (offset, metadata) committed for `topic`-`partition`, via OffsetFetch `v`.
fn fetch(conn: &mut RawConn, v: i16, group: &str, topic: &str, partition: i32) -> (i64, String) {
    if v >= 8 {
        let r: OffsetFetchResponse = conn.call(
            9,
            v,
            &OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: group.into(),
                    member_epoch: -1,
                    topics: Some(vec![OffsetFetchRequestTopics {
                        name: topic.into(),
                        partition_indexes: vec![partition],
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        let g = &r.groups[0];
        assert_eq!(g.error_code, 0);
        let p = &g.topics[0].partitions[0];
        return (p.committed_offset, p.metadata.clone().unwrap_or_default());
    }
    let r: OffsetFetchResponse = conn.call(
        9,
        v,
        &OffsetFetchRequest {
            group_id: group.into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.into(),
                partition_indexes: vec![partition],
                ..Default::default()
            }]),
            ..Default::default()
        },
    );
    assert_eq!(r.error_code, 0);
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    (p.committed_offset, p.metadata.clone().unwrap_or_default())
}

#[test]
fn every_advertised_group_api_version_is_served() {
    let broker = TestBroker::start(BIN, FAST);
    let mut conn = broker.connect();
    create_topic(&mut conn, "t", 3);

    for v in 0..=6 {
        let req = FindCoordinatorRequest {
            key: "g".into(),
            coordinator_keys: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let r: FindCoordinatorResponse = conn.call(10, v, &req);
        if v >= 4 {
            assert_eq!(r.coordinators.len(), 2, "FindCoordinator v{v}");
            assert!(
                r.coordinators
                    .iter()
                    .all(|c| c.error_code == 0 && c.node_id == 1)
            );
        } else {
            assert_eq!((r.error_code, r.node_id), (0, 1), "FindCoordinator v{v}");
        }
        if v >= 1 {
            let txn = FindCoordinatorRequest { key_type: 1, ..req };
            let r: FindCoordinatorResponse = conn.call(10, v, &txn);
            let code = r
                .coordinators
                .first()
                .map_or(r.error_code, |c| c.error_code);
            // The first lookup creates __transaction_state: COORDINATOR_NOT_AVAILABLE
            // until it is loaded, then this node.
            assert!(
                [0, 15].contains(&code),
                "transaction coordinator v{v}: {code}"
            );
        }
    }
    let mut loaded = false;
    for _ in 0..300 {
        let txn = FindCoordinatorRequest {
            key: "a-transactional-id".into(),
            key_type: 1,
            ..Default::default()
        };
        let r: FindCoordinatorResponse = conn.call(10, 3, &txn);
        if r.error_code == 0 {
            assert_eq!(r.node_id, 1);
            loaded = true;
            break;
        }
        assert_eq!(r.error_code, 15);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(loaded, "the transaction coordinator never loaded");

    for v in 0..=9 {
        join_alone(&mut conn, v, &format!("join-v{v}"));
    }
    for v in 0..=5 {
        let g = format!("sync-v{v}");
        let (m, generation) = join_alone(&mut conn, 5, &g);
        let r = sync(&mut conn, v, &g, &m, generation, b"assigned");
        assert_eq!(r.error_code, 0, "SyncGroup v{v}");
        assert_eq!(&r.assignment[..], b"assigned");
    }
    let (m, generation) = join_alone(&mut conn, 5, "hb");
    assert_eq!(sync(&mut conn, 5, "hb", &m, generation, b"").error_code, 0);
    for v in 0..=4 {
        assert_eq!(
            heartbeat(&mut conn, v, "hb", &m, generation),
            0,
            "Heartbeat v{v}"
        );
        assert_eq!(
            heartbeat(&mut conn, v, "hb", &m, generation + 7),
            22,
            "stale generation v{v}"
        );
        assert_eq!(
            heartbeat(&mut conn, v, "hb", "nobody", generation),
            25,
            "unknown member v{v}"
        );
    }
    for v in 0..=5 {
        let g = format!("leave-v{v}");
        let (m, _) = join_alone(&mut conn, 5, &g);
        let req = if v >= 3 {
            LeaveGroupRequest {
                group_id: g.clone(),
                members: vec![
                    MemberIdentity {
                        member_id: m.clone(),
                        ..Default::default()
                    },
                    MemberIdentity {
                        member_id: "ghost".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }
        } else {
            LeaveGroupRequest {
                group_id: g.clone(),
                member_id: m.clone(),
                ..Default::default()
            }
        };
        let r: LeaveGroupResponse = conn.call(13, v, &req);
        assert_eq!(r.error_code, 0, "LeaveGroup v{v}");
        if v >= 3 {
            let codes: Vec<i16> = r.members.iter().map(|m| m.error_code).collect();
            assert_eq!(codes, vec![0, 25], "LeaveGroup v{v}");
        }
    }
    for v in 0..=9 {
        let g = format!("commit-v{v}");
        let codes = commit(
            &mut conn,
            v,
            &g,
            "",
            -1,
            &[("t", 1, 100 + i64::from(v), "meta")],
        );
        assert_eq!(codes, vec![0], "OffsetCommit v{v}");
    }
    for v in 0..=9 {
        let (offset, meta) = fetch(&mut conn, v, "commit-v3", "t", 1);
        assert_eq!((offset, meta.as_str()), (103, "meta"), "OffsetFetch v{v}");
        assert_eq!(
            fetch(&mut conn, v, "commit-v3", "t", 2).0,
            -1,
            "no commit v{v}"
        );
    }
    for v in 0..=5 {
        let r: ListGroupsResponse = conn.call(
            16,
            v,
            &ListGroupsRequest {
                states_filter: vec!["empty".into()],
                types_filter: vec!["classic".into()],
                ..Default::default()
            },
        );
        assert_eq!(r.error_code, 0, "ListGroups v{v}");
        let ids: Vec<&str> = r.groups.iter().map(|g| g.group_id.as_str()).collect();
        assert!(ids.contains(&"commit-v3"), "ListGroups v{v}: {ids:?}");
        // From v4 the state filter leaves the stable group out.
        assert_eq!(ids.contains(&"hb"), v < 4, "ListGroups v{v}: {ids:?}");
    }
    for v in 0..=5 {
        let r: DescribeGroupsResponse = conn.call(
            15,
            v,
            &DescribeGroupsRequest {
                groups: vec!["sync-v1".into(), "missing".into()],
                ..Default::default()
            },
        );
        let g = &r.groups[0];
        assert_eq!(
            (g.error_code, g.group_state.as_str()),
            (0, "Stable"),
            "DescribeGroups v{v}"
        );
        assert_eq!(g.protocol_data, "range");
        assert_eq!(&g.members[0].member_assignment[..], b"assigned");
        assert_eq!(&g.members[0].member_metadata[..], b"sub");
        assert!(g.members[0].client_host.starts_with("/127.0.0.1"));
        assert_eq!(r.groups[1].group_state, "Dead");
    }
    for v in 0..=2 {
        let g = format!("commit-v{v}");
        let req = DeleteGroupsRequest {
            groups_names: vec![g.clone(), "hb".into()],
            ..Default::default()
        };
        let r: DeleteGroupsResponse = conn.call(42, v, &req);
        let codes: Vec<i16> = r.results.iter().map(|x| x.error_code).collect();
        assert_eq!(codes, vec![0, 68], "DeleteGroups v{v}");
        let r: DeleteGroupsResponse = conn.call(42, v, &req);
        assert_eq!(r.results[0].error_code, 69, "DeleteGroups v{v} again");
    }
    let r: OffsetDeleteResponse = conn.call(
        47,
        0,
        &OffsetDeleteRequest {
            group_id: "commit-v4".into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetDeleteRequestPartition {
                    partition_index: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(fetch(&mut conn, 8, "commit-v4", "t", 1).0, -1);
}

#[test]
fn offsets_and_membership_survive_kill_9() {
    let mut broker = TestBroker::start(BIN, FAST);
    let mut conn = broker.connect();
    create_topic(&mut conn, "orders", 2);
    let (m, generation) = join_alone(&mut conn, 9, "app");
    assert_eq!(
        sync(&mut conn, 5, "app", &m, generation, b"orders-0-1").error_code,
        0
    );
    assert_eq!(heartbeat(&mut conn, 4, "app", &m, generation), 0);
    assert_eq!(
        commit(
            &mut conn,
            9,
            "app",
            &m,
            generation,
            &[("orders", 0, 42, "x"), ("orders", 1, 7, "")]
        ),
        vec![0, 0]
    );
    assert_eq!(fetch(&mut conn, 9, "app", "orders", 0), (42, "x".into()));

    broker.kill_and_restart();
    let mut conn = broker.connect();
    assert_eq!(fetch(&mut conn, 9, "app", "orders", 0), (42, "x".into()));
    assert_eq!(fetch(&mut conn, 7, "app", "orders", 1), (7, String::new()));
    // The member and its generation were loaded too.
    assert_eq!(heartbeat(&mut conn, 4, "app", &m, generation), 0);
    assert_eq!(
        commit(
            &mut conn,
            9,
            "app",
            &m,
            generation,
            &[("orders", 0, 43, "")]
        ),
        vec![0]
    );
    // __consumer_offsets is an internal topic.
    let md: MetadataResponse = conn.call(
        3,
        12,
        &MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some("__consumer_offsets".into()),
                ..Default::default()
            }]),
            ..Default::default()
        },
    );
    assert_eq!(md.topics[0].error_code, 0);
    assert!(md.topics[0].is_internal);
    assert_eq!(
        md.topics[0].partitions.len(),
        5,
        "offsets.topic.num.partitions"
    );
}

#[test]
fn bad_input_gets_kafka_codes_and_leaves_other_groups_alone() {
    let broker = TestBroker::start(BIN, FAST);
    let mut conn = broker.connect();
    create_topic(&mut conn, "t", 2);
    assert_eq!(
        commit(&mut conn, 8, "bystander", "", -1, &[("t", 0, 5, "keep")]),
        vec![0]
    );

    let (m, generation) = join_alone(&mut conn, 9, "g");
    // Malformed assignment bytes are opaque to the coordinator: delivered
    // as sent, and the group keeps working.
    let r = sync(&mut conn, 5, "g", &m, generation, b"\xff\xff\x00garbage");
    assert_eq!(
        (r.error_code, &r.assignment[..]),
        (0, &b"\xff\xff\x00garbage"[..])
    );
    assert_eq!(
        sync(&mut conn, 5, "g", &m, generation - 1, b"").error_code,
        22
    );
    assert_eq!(
        sync(&mut conn, 5, "g", "ghost", generation, b"").error_code,
        25
    );
    let big = "m".repeat(4097);
    let codes = commit(
        &mut conn,
        8,
        "g",
        &m,
        generation,
        &[
            ("t", 0, 1, ""),
            ("t", 9, 1, ""),
            ("nope", 0, 1, ""),
            ("t", 1, 1, &big),
        ],
    );
    assert_eq!(codes, vec![0, 3, 3, 12]);
    assert_eq!(
        commit(&mut conn, 8, "g", &m, generation + 1, &[("t", 0, 2, "")]),
        vec![22]
    );
    assert_eq!(
        commit(&mut conn, 8, "g", "ghost", generation, &[("t", 0, 2, "")]),
        vec![25]
    );
    assert_eq!(
        commit(&mut conn, 9, "no-such-group", "m", 3, &[("t", 0, 2, "")]),
        vec![69]
    );
    let mut r = join(&mut conn, 9, "g", "");
    r = join(&mut conn, 9, "", &r.member_id);
    assert_eq!(r.error_code, 24, "empty group id");
    let bad: JoinGroupResponse = conn.call(
        11,
        9,
        &JoinGroupRequest {
            group_id: "h".into(),
            session_timeout_ms: 10,
            protocol_type: "consumer".into(),
            ..Default::default()
        },
    );
    assert_eq!(
        bad.error_code, 26,
        "session timeout below group.min.session.timeout.ms"
    );

    assert_eq!(fetch(&mut conn, 8, "g", "t", 0).0, 1);
    assert_eq!(fetch(&mut conn, 8, "bystander", "t", 0), (5, "keep".into()));
}
