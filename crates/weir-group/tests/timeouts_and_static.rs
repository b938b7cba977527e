//! Sync timeouts, leaving by instance id, pending members and heartbeats
//! in each state.

mod common;

use common::*;
use weir_group::{GroupError, GroupState, LeavingMember};

#[test]
fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let mut c = coordinator();
    let (m1, g1) = join_alone(&mut c, 0);
    assert!(
        join_out(
            &c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 1),
            10
        )
        .is_none()
    );
    let fx = c.join(11, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 2);
    let m2 = join_out(&fx, 10).unwrap().member_id;
    assert_eq!(c.group_state(G), Some(GroupState::CompletingRebalance));
    // Heartbeats are fine while the leader computes the assignment.
    assert_eq!(c.heartbeat(&hb(&m2, g1 + 1), 3), Ok(()));
    // m2 syncs and waits; the leader never syncs.
    assert!(sync_out(&c.sync(12, &sync_req(&m2, g1 + 1, &[]), 4), 12).is_none());
    let fx = c.tick(2 + 30_000);
    // The leader is removed; m2's parked sync is told to rejoin.
    assert_eq!(
        sync_out(&fx, 12).unwrap().error,
        Some(GroupError::RebalanceInProgress)
    );
    assert_eq!(c.group_state(G), Some(GroupState::PreparingRebalance));
    let j = join_out(
        &c.join(13, 3, &join_req(&m2, None, b"m2"), "c2", "/h", 30_010),
        13,
    )
    .unwrap();
    assert_eq!((j.leader, j.members.len()), (m2, 1));
}

#[test]
fn admin_removes_a_static_member_by_instance_id() {
    let mut c = coordinator();
    let fx = c.join(1, 5, &join_req("", Some("i1"), b"m"), "c", "/h", 0);
    assert!(join_out(&fx, 1).is_none());
    let j = join_out(&c.tick(0), 1).unwrap();
    let out = c.leave(
        G,
        &[
            LeavingMember {
                member_id: String::new(),
                group_instance_id: Some("i1".into()),
            },
            LeavingMember {
                member_id: String::new(),
                group_instance_id: Some("i9".into()),
            },
            LeavingMember {
                member_id: "other".into(),
                group_instance_id: Some("i1".into()),
            },
        ],
        1,
    );
    assert_eq!(
        out.result,
        Ok(vec![
            Ok(()),
            Err(GroupError::UnknownMemberId),
            Err(GroupError::UnknownMemberId)
        ])
    );
    assert_eq!(
        c.heartbeat(&hb(&j.member_id, j.generation_id), 2),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn pending_member_that_never_rejoins_expires() {
    let mut c = coordinator();
    let (m1, g1) = join_alone(&mut c, 0);
    let fx = c.join(10, 5, &join_req("", None, b"m2"), "c2", "/h", 1);
    assert_eq!(
        join_out(&fx, 10).unwrap().error,
        Some(GroupError::MemberIdRequired)
    );
    // Only a pending member: no rebalance yet.
    assert_eq!(c.group_state(G), Some(GroupState::Stable));
    assert_eq!(c.heartbeat(&hb(&m1, g1), 5_000), Ok(()));
    c.tick(10_001);
    assert_eq!(c.group_state(G), Some(GroupState::Stable));
    assert_eq!(c.heartbeat(&hb(&m1, g1), 10_002), Ok(()));
}

#[test]
fn rejoin_with_same_metadata_in_stable_group_keeps_generation() {
    let mut c = coordinator();
    let (m1, g1) = join_alone(&mut c, 0);
    assert!(
        join_out(
            &c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 1),
            10
        )
        .is_none()
    );
    let fx = c.join(11, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 2);
    let m2 = join_out(&fx, 10).unwrap().member_id;
    c.sync(12, &sync_req(&m1, g1 + 1, &[]), 3);
    // A follower resending JoinGroup with unchanged metadata gets the
    // current generation without a rebalance; the leader would trigger one.
    let j = join_out(
        &c.join(13, 3, &join_req(&m2, None, b"m2"), "c2", "/h", 4),
        13,
    )
    .unwrap();
    assert_eq!(j.generation_id, g1 + 1);
    assert_eq!(c.group_state(G), Some(GroupState::Stable));
    assert!(
        join_out(
            &c.join(14, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 5),
            14
        )
        .is_none()
    );
    assert_eq!(c.group_state(G), Some(GroupState::PreparingRebalance));
}
