//! Committed offsets: commit, fetch, errors, retention, deletion, and
//! state rebuilt from the persisted records.

mod common;

use common::*;
use weir_group::{
    CommitPartition, CommitRequest, Effect, GroupConfig, GroupCoordinator, GroupError, GroupState,
    LeavingMember,
};

fn exists(topic: &str, p: i32) -> bool {
    topic == "t" && (0..3).contains(&p)
}

fn commit(
    group: &str,
    generation: i32,
    member: &str,
    parts: &[(&str, i32, i64, &str)],
) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        partitions: parts
            .iter()
            .map(|(t, p, o, m)| CommitPartition {
                topic: (*t).into(),
                partition: *p,
                offset: *o,
                leader_epoch: 3,
                metadata: Some((*m).into()),
            })
            .collect(),
    }
}

#[test]
fn commit_and_fetch_with_per_partition_errors() {
    let mut c = coordinator();
    let (m1, gen1) = join_alone(&mut c, 0);
    let big = "x".repeat(4097);
    let out = c.commit_offsets(
        8,
        &commit(
            G,
            gen1,
            &m1,
            &[
                ("t", 0, 5, "meta"),
                ("t", 9, 1, ""),
                ("nope", 0, 1, ""),
                ("t", 1, 7, &big),
            ],
        ),
        &exists,
        10,
    );
    assert_eq!(
        out.result,
        Ok(vec![
            Ok(()),
            Err(GroupError::UnknownTopicOrPartition),
            Err(GroupError::UnknownTopicOrPartition),
            Err(GroupError::OffsetMetadataTooLarge)
        ])
    );
    assert_eq!(persisted(&out.effects).len(), 1);
    let got = c.fetch_offsets(G).unwrap();
    let o = &got[&("t".to_string(), 0)];
    assert_eq!(
        (
            o.offset,
            o.leader_epoch,
            o.metadata.as_str(),
            o.commit_timestamp_ms
        ),
        (5, 3, "meta", 10)
    );
    assert_eq!(got.len(), 1);
    // Stale generation and unknown member: nothing changes.
    let out = c.commit_offsets(
        8,
        &commit(G, gen1 - 1, &m1, &[("t", 0, 99, "")]),
        &exists,
        11,
    );
    assert_eq!(out.result, Err(GroupError::IllegalGeneration));
    let out = c.commit_offsets(
        8,
        &commit(G, gen1, "ghost", &[("t", 0, 99, "")]),
        &exists,
        11,
    );
    assert_eq!(out.result, Err(GroupError::UnknownMemberId));
    // A commit from outside an active group.
    let out = c.commit_offsets(8, &commit(G, -1, "", &[("t", 0, 99, "")]), &exists, 11);
    assert_eq!(out.result, Err(GroupError::UnknownMemberId));
    assert_eq!(c.fetch_offsets(G).unwrap()[&("t".to_string(), 0)].offset, 5);
    // Member commit to an unknown group: v9 GROUP_ID_NOT_FOUND, older ILLEGAL_GENERATION.
    assert_eq!(
        c.commit_offsets(9, &commit("other", 1, "m", &[]), &exists, 1)
            .result,
        Err(GroupError::GroupIdNotFound)
    );
    assert_eq!(
        c.commit_offsets(8, &commit("other", 1, "m", &[]), &exists, 1)
            .result,
        Err(GroupError::IllegalGeneration)
    );
    // Admin commit creates a simple group.
    assert!(
        c.commit_offsets(8, &commit("simple", -1, "", &[("t", 2, 4, "")]), &exists, 1)
            .result
            .is_ok()
    );
    assert_eq!(c.group_state("simple"), Some(GroupState::Empty));
    assert_eq!(c.fetch_offsets("unknown").unwrap().len(), 0);
}

#[test]
fn offsets_of_an_empty_group_expire_after_retention() {
    let cfg = GroupConfig {
        offsets_retention_ms: 1_000,
        offsets_retention_check_interval_ms: 100,
        ..config()
    };
    let mut c = GroupCoordinator::new(cfg, 7);
    assert!(
        c.commit_offsets(8, &commit("s", -1, "", &[("t", 0, 1, "")]), &exists, 0)
            .result
            .is_ok()
    );
    c.tick(500);
    assert_eq!(c.fetch_offsets("s").unwrap().len(), 1);
    let fx = c.tick(1_100);
    assert_eq!(c.fetch_offsets("s").unwrap().len(), 0);
    assert_eq!(c.group_state("s"), None, "group without offsets is deleted");
    let recs = persisted(&fx);
    assert_eq!(recs.len(), 2, "offset and group tombstones: {recs:?}");
}

#[test]
fn delete_groups_and_offset_delete() {
    let mut c = coordinator();
    let (m1, gen1) = join_alone(&mut c, 0);
    assert!(
        c.commit_offsets(
            8,
            &commit(G, gen1, &m1, &[("t", 0, 1, ""), ("t", 1, 2, "")]),
            &exists,
            0
        )
        .result
        .is_ok()
    );
    assert_eq!(c.delete_group(G).result, Err(GroupError::NonEmptyGroup));
    assert_eq!(
        c.delete_group("nope").result,
        Err(GroupError::GroupIdNotFound)
    );
    // The member's subscription is opaque bytes (not a consumer
    // subscription), so the topic is not known to be subscribed.
    let out = c.delete_offsets(G, &[("t".into(), 0)], &exists);
    assert_eq!(out.result, Ok(vec![Ok(())]));
    let out = c.leave(
        G,
        &[LeavingMember {
            member_id: m1,
            group_instance_id: None,
        }],
        1,
    );
    assert!(out.result.is_ok());
    let out = c.delete_group(G);
    assert_eq!(out.result, Ok(()));
    assert_eq!(persisted(&out.effects).len(), 2);
    assert_eq!(c.group_state(G), None);
}

#[test]
fn replaying_persisted_records_rebuilds_the_same_state() {
    let mut c = coordinator();
    let mut log = Vec::new();
    let mut keep = |fx: &[Effect]| log.extend(persisted(fx));
    let (m1, gen1) = join_alone(&mut c, 0);
    keep(&c.tick(0));
    let fx = c.join(10, 3, &join_req("", None, b"m2"), "c2", "/h", 1);
    keep(&fx);
    let fx = c.join(11, 3, &join_req(&m1, None, b"m1"), "c1", "/h", 2);
    keep(&fx);
    let m2 = join_out(&fx, 10).unwrap().member_id;
    let fx = c.sync(12, &sync_req(&m1, gen1 + 1, &[(&m1, b"A"), (&m2, b"B")]), 3);
    keep(&fx);
    keep(
        &c.commit_offsets(
            8,
            &commit(G, gen1 + 1, &m2, &[("t", 0, 11, "x"), ("t", 1, 12, "")]),
            &exists,
            4,
        )
        .effects,
    );
    keep(
        &c.commit_offsets(8, &commit("s", -1, "", &[("t", 2, 4, "")]), &exists, 5)
            .effects,
    );
    keep(&c.delete_offsets("s", &[("t".into(), 2)], &exists).effects);
    keep(
        &c.commit_offsets(8, &commit("gone", -1, "", &[("t", 2, 4, "")]), &exists, 5)
            .effects,
    );
    keep(&c.delete_group("gone").effects);

    let mut r = coordinator();
    for rec in &log {
        // Through the on-disk encoding, as the broker does.
        let (k, v) = rec.encode().unwrap();
        r.replay(weir_group::GroupRecord::decode(Some(&k), v.as_ref()).unwrap());
    }
    r.finish_replay(6);
    assert_eq!(r.list(&[]), c.list(&[]));
    for g in [G, "s", "gone"] {
        assert_eq!(r.fetch_offsets(g), c.fetch_offsets(g), "{g}");
        assert_eq!(r.describe(g), c.describe(g), "{g}");
    }
    // Loaded members keep their generation if they heartbeat in time.
    assert_eq!(r.heartbeat(&hb(&m2, gen1 + 1), 7), Ok(()));
}
