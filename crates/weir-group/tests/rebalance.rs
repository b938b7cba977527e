//! The classic rebalance protocol, step by step, without I/O.

mod common;

use bytes::Bytes;
use common::*;
use weir_group::{GroupError, GroupState, LeavingMember};

#[test]
fn three_members_rebalance_leader_gets_metadata_followers_get_assignments() {
    let mut c = coordinator();
    let (m1, g1) = join_alone(&mut c, 0);
    assert_eq!(c.group_state(G), Some(GroupState::Stable));
    // Two more members join (v3); the group rebalances and waits for m1.
    let fx = c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 1);
    assert!(join_out(&fx, 10).is_none());
    assert_eq!(c.group_state(G), Some(GroupState::PreparingRebalance));
    let fx = c.join(11, 3, &join_req("", None, b"m3"), "c3", "/h", 2);
    assert!(join_out(&fx, 11).is_none());
    // Heartbeat during the rebalance tells m1 to rejoin.
    assert_eq!(
        c.heartbeat(&hb(&m1, g1), 3),
        Err(GroupError::RebalanceInProgress)
    );
    let fx = c.join(12, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 4);
    let leader = join_out(&fx, 12).expect("leader answered");
    let f2 = join_out(&fx, 10).expect("m2 answered");
    let f3 = join_out(&fx, 11).expect("m3 answered");
    assert_eq!(leader.generation_id, g1 + 1);
    assert_eq!(leader.leader, m1);
    assert_eq!(leader.protocol_name.as_deref(), Some("range"));
    assert_eq!(leader.members.len(), 3, "leader sees every member");
    assert!(
        leader
            .members
            .iter()
            .any(|m| m.metadata == Bytes::from_static(b"m3"))
    );
    assert!(f2.members.is_empty() && f3.members.is_empty());
    assert_eq!(c.group_state(G), Some(GroupState::CompletingRebalance));
    // Followers sync first and wait; the leader's sync answers everyone.
    let gen2 = leader.generation_id;
    let fx = c.sync(20, &sync_req(&f2.member_id, gen2, &[]), 5);
    assert!(sync_out(&fx, 20).is_none());
    let fx = c.sync(
        21,
        &sync_req(
            &m1,
            gen2,
            &[(&m1, b"A"), (&f2.member_id, b"B"), (&f3.member_id, b"C")],
        ),
        6,
    );
    assert_eq!(
        sync_out(&fx, 21).unwrap().assignment,
        Bytes::from_static(b"A")
    );
    assert_eq!(
        sync_out(&fx, 20).unwrap().assignment,
        Bytes::from_static(b"B")
    );
    assert!(
        !persisted(&fx).is_empty(),
        "the new generation is persisted"
    );
    // m3 syncs late: answered at once from the stable group.
    let fx = c.sync(22, &sync_req(&f3.member_id, gen2, &[]), 7);
    assert_eq!(
        sync_out(&fx, 22).unwrap().assignment,
        Bytes::from_static(b"C")
    );
    assert_eq!(c.group_state(G), Some(GroupState::Stable));
    assert_eq!(c.heartbeat(&hb(&f3.member_id, gen2), 8), Ok(()));
    // Stale generation.
    assert_eq!(
        c.heartbeat(&hb(&f3.member_id, g1), 8),
        Err(GroupError::IllegalGeneration)
    );
    let fx = c.sync(23, &sync_req(&f3.member_id, g1, &[]), 8);
    assert_eq!(
        sync_out(&fx, 23).unwrap().error,
        Some(GroupError::IllegalGeneration)
    );
    assert_eq!(
        c.heartbeat(&hb("nobody", gen2), 8),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn member_id_required_only_from_v4() {
    let mut c = coordinator();
    let fx = c.join(1, 4, &join_req("", None, b"m"), "c", "/h", 0);
    let first = join_out(&fx, 1).unwrap();
    assert_eq!(first.error, Some(GroupError::MemberIdRequired));
    assert!(first.member_id.starts_with("c-"));
    let fx = c.join(2, 4, &join_req(&first.member_id, None, b"m"), "c", "/h", 1);
    assert!(join_out(&fx, 2).is_none());
    let fx = c.tick(1);
    let j = join_out(&fx, 2).unwrap();
    assert_eq!((j.error, j.member_id.clone()), (None, first.member_id));
    // v3 and below never get MEMBER_ID_REQUIRED.
    let mut c = coordinator();
    let fx = c.join(1, 3, &join_req("", None, b"m"), "c", "/h", 0);
    assert!(join_out(&fx, 1).is_none());
    assert_eq!(join_out(&c.tick(0), 1).unwrap().error, None);
}

#[test]
fn expired_member_is_removed_and_the_group_rebalances() {
    let mut c = coordinator();
    let (m1, g1) = join_alone(&mut c, 0);
    let fx = c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 100);
    assert!(join_out(&fx, 10).is_none());
    let fx = c.join(11, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 200);
    let j2 = join_out(&fx, 10).unwrap();
    let fx = c.sync(
        12,
        &sync_req(&m1, g1 + 1, &[(&m1, b"A"), (&j2.member_id, b"B")]),
        300,
    );
    assert!(sync_out(&fx, 12).is_some());
    assert!(join_out(&fx, 11).is_none());
    // m2 keeps heartbeating, m1 goes silent: after its session timeout
    // (10 s) it is removed and the group rebalances around m2.
    assert_eq!(c.heartbeat(&hb(&j2.member_id, g1 + 1), 9_000), Ok(()));
    assert!(c.next_deadline() <= 10_300);
    c.tick(10_300);
    assert_eq!(c.group_state(G), Some(GroupState::PreparingRebalance));
    let fx = c.join(
        13,
        3,
        &join_req(&j2.member_id, None, b"m2"),
        "c2",
        "/h",
        10_400,
    );
    let j = join_out(&fx, 13).unwrap();
    assert_eq!(j.leader, j2.member_id);
    assert_eq!(j.members.len(), 1);
    assert_eq!(j.generation_id, g1 + 2);
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() {
    let mut c = coordinator();
    let (m1, _) = join_alone(&mut c, 0);
    let fx = c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 100);
    assert!(join_out(&fx, 10).is_none());
    // m1 heartbeats but never rejoins; the join phase ends after the
    // rebalance timeout (30 s) without it.
    let _ = c.heartbeat(&hb(&m1, 1), 5_000);
    let fx = c.tick(30_100);
    let j = join_out(&fx, 10).unwrap();
    assert_eq!(j.members.len(), 1);
    assert_eq!(
        c.heartbeat(&hb(&m1, 1), 30_200),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn static_member_rejoin_keeps_assignment_and_fences_old_id() {
    let mut c = coordinator();
    let fx = c.join(1, 5, &join_req("", Some("i1"), b"m1"), "c1", "/h", 0);
    assert!(
        join_out(&fx, 1).is_none(),
        "static members skip MEMBER_ID_REQUIRED"
    );
    let j = join_out(&c.tick(0), 1).unwrap();
    let old = j.member_id.clone();
    assert!(old.starts_with("i1-"));
    let mut s = sync_req(&old, j.generation_id, &[(&old, b"A")]);
    s.group_instance_id = Some("i1".into());
    assert!(sync_out(&c.sync(2, &s, 1), 2).is_some());
    // Restarted instance: unknown member id, same instance id.
    let fx = c.join(3, 5, &join_req("", Some("i1"), b"m1"), "c1", "/h", 2);
    let j2 = join_out(&fx, 3).expect("answered without a rebalance");
    assert_eq!(j2.error, None);
    assert_ne!(j2.member_id, old);
    assert_eq!(j2.generation_id, j.generation_id);
    assert_eq!(c.group_state(G), Some(GroupState::Stable));
    assert!(!persisted(&fx).is_empty());
    let mut s = sync_req(&j2.member_id, j2.generation_id, &[]);
    s.group_instance_id = Some("i1".into());
    assert_eq!(
        sync_out(&c.sync(4, &s, 3), 4).unwrap().assignment,
        Bytes::from_static(b"A")
    );
    // The old member id is fenced.
    let mut h = hb(&old, j.generation_id);
    h.group_instance_id = Some("i1".into());
    assert_eq!(c.heartbeat(&h, 4), Err(GroupError::FencedInstanceId));
}

#[test]
fn leave_group_batch_removes_several_members() {
    let mut c = coordinator();
    let (m1, g1) = join_alone(&mut c, 0);
    let fx = c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 1);
    assert!(join_out(&fx, 10).is_none());
    let fx = c.join(11, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 2);
    let m2 = join_out(&fx, 10).unwrap().member_id;
    let fx = c.sync(12, &sync_req(&m1, g1 + 1, &[]), 3);
    assert!(sync_out(&fx, 12).is_some());
    let out = c.leave(
        G,
        &[
            LeavingMember {
                member_id: m1.clone(),
                group_instance_id: None,
            },
            LeavingMember {
                member_id: m2.clone(),
                group_instance_id: None,
            },
            LeavingMember {
                member_id: "ghost".into(),
                group_instance_id: None,
            },
        ],
        4,
    );
    assert_eq!(
        out.result,
        Ok(vec![Ok(()), Ok(()), Err(GroupError::UnknownMemberId)])
    );
    assert_eq!(c.group_state(G), Some(GroupState::Empty));
    assert_eq!(c.generation(G), Some(g1 + 2));
    assert!(
        !persisted(&out.effects).is_empty(),
        "the empty group is persisted"
    );
}

#[test]
fn errors_for_bad_joins() {
    let mut c = coordinator();
    let mut r = join_req("", None, b"m");
    r.session_timeout_ms = 100;
    assert_eq!(
        join_out(&c.join(1, 5, &r, "c", "/h", 0), 1).unwrap().error,
        Some(GroupError::InvalidSessionTimeout)
    );
    let mut r = join_req("", None, b"m");
    r.group_id = String::new();
    assert_eq!(
        join_out(&c.join(2, 5, &r, "c", "/h", 0), 2).unwrap().error,
        Some(GroupError::InvalidGroupId)
    );
    let r = join_req("someone", None, b"m");
    assert_eq!(
        join_out(&c.join(3, 5, &r, "c", "/h", 0), 3).unwrap().error,
        Some(GroupError::UnknownMemberId)
    );
    assert!(c.list(&[]).is_empty(), "failed joins leave no group behind");
    let _ = join_alone(&mut c, 0);
    let mut r = join_req("", None, b"m");
    r.protocol_type = "connect".into();
    assert_eq!(
        join_out(&c.join(4, 3, &r, "c", "/h", 1), 4).unwrap().error,
        Some(GroupError::InconsistentGroupProtocol)
    );
    let mut c = weir_group::GroupCoordinator::new(
        weir_group::GroupConfig {
            max_size: 1,
            ..config()
        },
        1,
    );
    let _ = join_alone(&mut c, 0);
    assert_eq!(
        join_out(&c.join(5, 3, &join_req("", None, b"m"), "c", "/h", 1), 5)
            .unwrap()
            .error,
        Some(GroupError::GroupMaxSizeReached)
    );
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let mut c = weir_group::GroupCoordinator::new(
        weir_group::GroupConfig {
            initial_rebalance_delay_ms: 3_000,
            ..config()
        },
        1,
    );
    assert!(join_out(&c.join(1, 3, &join_req("", None, b"a"), "c", "/h", 0), 1).is_none());
    assert_eq!(c.next_deadline(), 0.max(c.next_deadline()));
    assert!(
        join_out(
            &c.join(2, 3, &join_req("", None, b"b"), "c", "/h", 1_000),
            2
        )
        .is_none()
    );
    // First delay expires with a new member: extended once more.
    assert!(join_out(&c.tick(3_000), 1).is_none());
    let fx = c.tick(6_000);
    let a = join_out(&fx, 1).unwrap();
    assert_eq!(a.members.len(), 2);
    assert!(join_out(&fx, 2).is_some());
}
