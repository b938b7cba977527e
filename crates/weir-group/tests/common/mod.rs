//! Helpers shared by the state-machine tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use bytes::Bytes;
use weir_group::{
    Effect, GroupConfig, GroupCoordinator, JoinOutcome, RequestId, Response, SyncOutcome,
};
use weir_protocol::messages::heartbeat_request::HeartbeatRequest;
use weir_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use weir_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};

pub const G: &str = "g";

pub fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    }
}

pub fn coordinator() -> GroupCoordinator {
    GroupCoordinator::new(config(), 42)
}

pub fn join_req(member_id: &str, instance: Option<&str>, meta: &'static [u8]) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: G.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        member_id: member_id.into(),
        group_instance_id: instance.map(String::from),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(meta),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn join_out(fx: &[Effect], req: RequestId) -> Option<JoinOutcome> {
    fx.iter().find_map(|e| match e {
        Effect::Respond(r, Response::Join(o)) if *r == req => Some(o.clone()),
        _ => None,
    })
}

pub fn sync_out(fx: &[Effect], req: RequestId) -> Option<SyncOutcome> {
    fx.iter().find_map(|e| match e {
        Effect::Respond(r, Response::Sync(o)) if *r == req => Some(o.clone()),
        _ => None,
    })
}

pub fn persisted(fx: &[Effect]) -> Vec<weir_group::GroupRecord> {
    fx.iter()
        .flat_map(|e| match e {
            Effect::Persist { records, .. } => records.clone(),
            _ => Vec::new(),
        })
        .collect()
}

pub fn sync_req(
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &'static [u8])],
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: G.into(),
        generation_id: generation,
        member_id: member_id.into(),
        assignments: assignments
            .iter()
            .map(|(m, a)| SyncGroupRequestAssignment {
                member_id: (*m).into(),
                assignment: Bytes::from_static(a),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub fn hb(member_id: &str, generation: i32) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: G.into(),
        generation_id: generation,
        member_id: member_id.into(),
        ..Default::default()
    }
}

/// One member joins (v3, no MEMBER_ID_REQUIRED) and syncs; returns its id
/// and generation. Tick at `now` completes the (zero) initial delay.
pub fn join_alone(c: &mut GroupCoordinator, now: i64) -> (String, i32) {
    let fx = c.join(1, 3, &join_req("", None, b"m1"), "c1", "/h", now);
    assert!(
        join_out(&fx, 1).is_none(),
        "join waits for the initial delay"
    );
    let fx = c.tick(now);
    let j = join_out(&fx, 1).expect("join answered");
    assert_eq!(j.error, None);
    let fx = c.sync(
        2,
        &sync_req(&j.member_id, j.generation_id, &[(&j.member_id, b"a1")]),
        now,
    );
    assert_eq!(
        sync_out(&fx, 2).expect("sync").assignment,
        Bytes::from_static(b"a1")
    );
    (j.member_id, j.generation_id)
}
