//! TxnOffsetCommit: validation, pending offsets and their markers, their
//! interplay with plain commits, deletion and expiry, and replay.

#![expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use bytes::Bytes;
use weir_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use weir_protocol::messages::sync_group_request::SyncGroupRequest;

use super::*;
use crate::record::OffsetValue;
use crate::types::{CommitRequest, GroupConfig, Response};

mod replay;

fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: 0,
        offsets_retention_ms: 1_000,
        offsets_retention_check_interval_ms: 100,
        ..GroupConfig::default()
    }
}

fn exists(topic: &str, p: i32) -> bool {
    topic == "t" && (0..3).contains(&p)
}

fn all(_: &str) -> bool {
    true
}

fn part(p: i32, offset: i64) -> CommitPartition {
    CommitPartition {
        topic: "t".into(),
        partition: p,
        offset,
        leader_epoch: -1,
        metadata: None,
    }
}

/// A v0-v2 style request: no member fields.
fn txn(group: &str, pid: i64, p: i32, offset: i64) -> TxnCommitRequest {
    TxnCommitRequest {
        group_id: group.into(),
        producer_id: pid,
        producer_epoch: 0,
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        partitions: vec![part(p, offset)],
    }
}

fn plain(group: &str, p: i32, offset: i64) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        partitions: vec![part(p, offset)],
    }
}

/// What the driver does with effects: plain records are appended; a
/// transactional batch is appended (unless `refused`) and then applied.
/// Returns the records appended, tagged with their producer.
fn drive(c: &mut GroupCoordinator, fx: Vec<Effect>, refused: bool) -> Vec<Entry> {
    let mut log = Vec::new();
    for e in fx {
        match e {
            Effect::Persist { records, .. } => {
                log.extend(records.into_iter().map(Entry::Plain));
            }
            Effect::PersistTxn {
                producer_id,
                records,
                ..
            } if !refused => {
                for r in records {
                    c.replay_txn(producer_id, r.clone());
                    log.push(Entry::Txn(producer_id, r));
                }
            }
            Effect::PersistTxn { .. } | Effect::Respond(..) => {}
        }
    }
    log
}

/// One entry of a `__consumer_offsets` partition.
#[derive(Debug, Clone)]
enum Entry {
    Plain(GroupRecord),
    Txn(i64, GroupRecord),
    Marker(i64, bool),
}

/// Replay a log (through the on-disk encoding) into a fresh coordinator.
fn replay(log: &[Entry]) -> GroupCoordinator {
    let mut r = GroupCoordinator::new(config(), 1);
    let decode = |rec: &GroupRecord| {
        let (k, v) = rec.encode().unwrap();
        GroupRecord::decode(Some(&k), v.as_ref()).unwrap()
    };
    for e in log {
        match e {
            Entry::Plain(rec) => r.replay(decode(rec)),
            Entry::Txn(pid, rec) => r.replay_txn(*pid, decode(rec)),
            Entry::Marker(pid, commit) => r.replay_marker(*pid, *commit, &all),
        }
    }
    r
}

fn committed(c: &GroupCoordinator, group: &str, p: i32) -> Option<i64> {
    c.fetch_offsets(group)
        .unwrap()
        .get(&("t".to_string(), p))
        .map(|o| o.offset)
}

/// Commit `offset` for partition 0 of "g" in `pid`'s transaction, appended.
fn txn_commit(c: &mut GroupCoordinator, pid: i64, offset: i64, now: i64) -> Vec<Entry> {
    let out = c.txn_commit_offsets(&txn("g", pid, 0, offset), &exists, now);
    assert_eq!(out.result.unwrap(), vec![Ok(())]);
    drive(c, out.effects, false)
}

/// One static member ("i1") joins "g" and syncs: (member id, generation).
fn join_static(c: &mut GroupCoordinator) -> (String, i32) {
    let req = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        group_instance_id: Some("i1".into()),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"m"),
            ..Default::default()
        }],
        ..Default::default()
    };
    c.join(1, 5, &req, "c", "/h", 0);
    let fx = c.tick(0);
    let joined = fx.iter().find_map(|e| match e {
        Effect::Respond(1, Response::Join(o)) => Some(o.clone()),
        _ => None,
    });
    let j = joined.unwrap();
    let sync = SyncGroupRequest {
        group_id: "g".into(),
        generation_id: j.generation_id,
        member_id: j.member_id.clone(),
        ..Default::default()
    };
    c.sync(2, &sync, 0);
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    (j.member_id, j.generation_id)
}

#[test]
fn pending_until_commit_marker_dropped_on_abort() {
    let mut c = GroupCoordinator::new(config(), 1);
    let out = c.txn_commit_offsets(&txn("g", 7, 0, 10), &exists, 1);
    assert_eq!(out.result.unwrap(), vec![Ok(())]);
    assert!(matches!(
        out.effects.as_slice(),
        [Effect::PersistTxn { producer_id: 7, .. }]
    ));
    assert!(
        !c.has_pending_txn_offset("g", "t", 0),
        "nothing changes before the append"
    );
    drive(&mut c, out.effects, false);
    assert_eq!(committed(&c, "g", 0), None);
    assert!(c.has_pending_txn_offset("g", "t", 0));
    assert_eq!(
        c.pending_txn_partitions("g"),
        BTreeSet::from([("t".to_string(), 0)])
    );
    c.complete_txn(7, true, &all);
    assert_eq!(committed(&c, "g", 0), Some(10));
    assert!(!c.has_pending_txn_offset("g", "t", 0));
    txn_commit(&mut c, 7, 20, 3);
    c.complete_txn(7, false, &all);
    assert_eq!(
        committed(&c, "g", 0),
        Some(10),
        "aborted offsets are dropped"
    );
    // Markers of other partitions leave the group alone.
    txn_commit(&mut c, 8, 30, 5);
    c.complete_txn(8, true, &|_| false);
    assert!(c.has_pending_txn_offset("g", "t", 0));
    // So do markers of other producers.
    c.complete_txn(9, true, &all);
    assert!(c.has_pending_txn_offset("g", "t", 0));
}

#[test]
fn refused_append_of_a_fenced_producer_changes_nothing() {
    let mut c = GroupCoordinator::new(config(), 1);
    let out = c.txn_commit_offsets(&txn("g", 7, 0, 10), &exists, 1);
    drive(&mut c, out.effects, true);
    assert!(!c.has_pending_txn_offset("g", "t", 0));
    // The producer's next transaction commits only its own offsets.
    let out = c.txn_commit_offsets(&txn("g", 7, 1, 5), &exists, 2);
    drive(&mut c, out.effects, false);
    c.complete_txn(7, true, &all);
    assert_eq!(committed(&c, "g", 0), None);
    assert_eq!(committed(&c, "g", 1), Some(5));
}

#[test]
fn per_partition_errors() {
    let mut c = GroupCoordinator::new(config(), 1);
    let mut req = txn("g", 7, 0, 1);
    req.partitions = vec![
        part(9, 1),
        CommitPartition {
            metadata: Some("x".repeat(4097)),
            ..part(1, 1)
        },
        part(2, 1),
    ];
    let out = c.txn_commit_offsets(&req, &exists, 1);
    assert_eq!(
        out.result.unwrap(),
        vec![
            Err(GroupError::UnknownTopicOrPartition),
            Err(GroupError::OffsetMetadataTooLarge),
            Ok(())
        ]
    );
    drive(&mut c, out.effects, false);
    assert_eq!(
        c.pending_txn_partitions("g"),
        BTreeSet::from([("t".to_string(), 2)])
    );
    // Nothing accepted: no batch, and the group created for it is gone.
    let out = c.txn_commit_offsets(&txn("h", 7, 9, 1), &exists, 1);
    assert!(out.effects.is_empty());
    assert_eq!(c.group_state("h"), None);
    let out = c.txn_commit_offsets(&txn("", 7, 0, 1), &exists, 1);
    assert_eq!(out.result, Err(GroupError::InvalidGroupId));
}

#[test]
fn member_and_generation_checks_follow_kafka() {
    let mut c = GroupCoordinator::new(config(), 1);
    // A generation for an unknown group: ILLEGAL_GENERATION, no group.
    let mut r = txn("g", 7, 0, 1);
    r.generation_id = 1;
    let out = c.txn_commit_offsets(&r, &exists, 0);
    assert_eq!(out.result, Err(GroupError::IllegalGeneration));
    assert_eq!(c.group_state("g"), None);
    // A member id alone in an empty (unknown) group is accepted, as the
    // generation is unknown.
    r.generation_id = -1;
    r.member_id = "ghost".into();
    assert!(c.txn_commit_offsets(&r, &exists, 0).result.is_ok());

    let (member, generation) = join_static(&mut c);
    let check = |c: &mut GroupCoordinator, member: &str, gen_id: i32, instance: Option<&str>| {
        let mut r = txn("g", 7, 0, 1);
        r.member_id = member.into();
        r.generation_id = gen_id;
        r.group_instance_id = instance.map(String::from);
        c.txn_commit_offsets(&r, &exists, 0).result.map(|_| ())
    };
    assert_eq!(check(&mut c, &member, generation, Some("i1")), Ok(()));
    assert_eq!(check(&mut c, &member, generation, None), Ok(()));
    // v0-v2 requests carry no member fields: accepted in a live group.
    assert_eq!(check(&mut c, "", -1, None), Ok(()));
    assert_eq!(
        check(&mut c, "", generation, None),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        check(&mut c, "ghost", generation, None),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        check(&mut c, &member, generation + 1, None),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        check(&mut c, "old", generation, Some("i1")),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(
        check(&mut c, &member, generation, Some("i2")),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn the_later_of_a_plain_and_a_transactional_commit_wins() {
    let mut c = GroupCoordinator::new(config(), 1);
    let mut log = txn_commit(&mut c, 7, 10, 1);
    // A plain commit written after the transactional one stays.
    let out = c.commit_offsets(8, &plain("g", 0, 20), &exists, 2);
    log.extend(drive(&mut c, out.effects, false));
    c.complete_txn(7, true, &all);
    log.push(Entry::Marker(7, true));
    assert_eq!(committed(&c, "g", 0), Some(20));
    // A transactional commit written after the plain one replaces it.
    log.extend(txn_commit(&mut c, 7, 30, 3));
    c.complete_txn(7, true, &all);
    log.push(Entry::Marker(7, true));
    assert_eq!(committed(&c, "g", 0), Some(30));
    assert_eq!(committed(&replay(&log), "g", 0), Some(30));
    assert_eq!(committed(&replay(&log[..4]), "g", 0), Some(20));
}

#[test]
fn delete_groups_drops_pending_offsets_for_good() {
    let mut c = GroupCoordinator::new(config(), 1);
    let mut log = Vec::new();
    let out = c.commit_offsets(8, &plain("g", 1, 5), &exists, 1);
    log.extend(drive(&mut c, out.effects, false));
    log.extend(txn_commit(&mut c, 7, 10, 2));
    let out = c.delete_group("g");
    assert_eq!(out.result, Ok(()));
    let tombstones: Vec<(String, i32)> = match out.effects.as_slice() {
        [Effect::Persist { records, .. }] => records
            .iter()
            .filter_map(|r| match r {
                GroupRecord::Offset {
                    topic,
                    partition,
                    value: None,
                    ..
                } => Some((topic.clone(), *partition)),
                _ => None,
            })
            .collect(),
        other => panic!("unexpected effects {other:?}"),
    };
    assert_eq!(tombstones, vec![("t".into(), 0), ("t".into(), 1)]);
    log.extend(drive(&mut c, out.effects, false));
    assert!(!c.has_pending_txn_offset("g", "t", 0));
    c.complete_txn(7, true, &all);
    log.push(Entry::Marker(7, true));
    assert_eq!(
        c.group_state("g"),
        None,
        "the marker does not bring it back"
    );
    let r = replay(&log);
    assert_eq!(r.group_state("g"), None);
    assert!(r.pending_txn_partitions("g").is_empty());
}

#[test]
fn offset_delete_drops_the_pending_offset_of_that_partition() {
    let mut c = GroupCoordinator::new(config(), 1);
    let mut log = txn_commit(&mut c, 7, 10, 1);
    let out = c.txn_commit_offsets(&txn("g", 7, 1, 11), &exists, 1);
    log.extend(drive(&mut c, out.effects, false));
    let out = c.delete_offsets("g", &[("t".into(), 0)], &exists);
    assert_eq!(out.result, Ok(vec![Ok(())]));
    assert_eq!(out.effects.len(), 1, "a tombstone for the pending offset");
    log.extend(drive(&mut c, out.effects, false));
    assert_eq!(
        c.pending_txn_partitions("g"),
        BTreeSet::from([("t".to_string(), 1)])
    );
    c.complete_txn(7, true, &all);
    log.push(Entry::Marker(7, true));
    assert_eq!(committed(&c, "g", 0), None);
    assert_eq!(committed(&c, "g", 1), Some(11));
    let r = replay(&log);
    assert_eq!(r.fetch_offsets("g"), c.fetch_offsets("g"));
}

#[test]
fn pending_offsets_keep_their_group_and_partition_from_expiring() {
    let mut c = GroupCoordinator::new(config(), 1);
    let out = c.commit_offsets(8, &plain("g", 0, 5), &exists, 0);
    drive(&mut c, out.effects, false);
    let out = c.commit_offsets(8, &plain("g", 1, 5), &exists, 0);
    drive(&mut c, out.effects, false);
    txn_commit(&mut c, 7, 10, 0);
    c.finish_replay(0);
    let fx = c.tick(5_000);
    drive(&mut c, fx, false);
    assert_eq!(committed(&c, "g", 0), Some(5), "held by the transaction");
    assert_eq!(committed(&c, "g", 1), None, "expired");
    c.complete_txn(7, false, &all);
    let fx = c.tick(10_000);
    drive(&mut c, fx, false);
    assert_eq!(
        c.group_state("g"),
        None,
        "expired once the transaction ended"
    );

    // A group holding only pending offsets is not expired either.
    let mut c = GroupCoordinator::new(config(), 1);
    txn_commit(&mut c, 7, 10, 0);
    c.finish_replay(0);
    let fx = c.tick(5_000);
    drive(&mut c, fx, false);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    c.complete_txn(7, true, &all);
    assert_eq!(committed(&c, "g", 0), Some(10));
}

#[test]
fn an_aborted_transaction_leaves_no_group_behind() {
    let mut c = GroupCoordinator::new(config(), 1);
    let log = txn_commit(&mut c, 7, 10, 0);
    assert_eq!(c.group_state("g"), Some(GroupState::Empty));
    c.complete_txn(7, false, &all);
    assert_eq!(c.group_state("g"), None);
    let mut log = log;
    log.push(Entry::Marker(7, false));
    assert_eq!(replay(&log).group_state("g"), None);
}

#[test]
fn a_marker_completes_only_the_groups_of_its_partition() {
    let mut r = GroupCoordinator::new(config(), 1);
    let value = |offset| OffsetValue {
        offset,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp_ms: 0,
    };
    for (g, o) in [("a", 1), ("b", 2)] {
        r.replay_txn(
            9,
            GroupRecord::Offset {
                group_id: g.into(),
                topic: "t".into(),
                partition: 0,
                value: Some(value(o)),
            },
        );
    }
    // The marker in "a"'s partition; "b"'s is still to come.
    r.replay_marker(9, true, &|g| g == "a");
    assert_eq!(committed(&r, "a", 0), Some(1));
    assert!(r.has_pending_txn_offset("b", "t", 0));
    r.replay_marker(9, false, &|g| g == "b");
    assert_eq!(committed(&r, "b", 0), None);
    assert!(r.pending_txn_partitions("b").is_empty());
}
