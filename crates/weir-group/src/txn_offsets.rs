//! Offsets committed inside transactions (TxnOffsetCommit), as Kafka's
//! `GroupMetadata.pendingTransactionalOffsetCommits`.
//!
//! A transactional commit is validated like a member's OffsetCommit, then
//! held as *pending* for its producer: it is appended to
//! `__consumer_offsets` as a transactional batch of that producer
//! ([`Effect::PersistTxn`]) but not visible to OffsetFetch until the
//! transaction's marker is written to that partition; a commit marker
//! makes the offsets committed ([`GroupCoordinator::complete_txn`]), an
//! abort marker drops them. OffsetFetch with `require_stable` answers
//! UNSTABLE_OFFSET_COMMIT for partitions with pending offsets
//! ([`GroupCoordinator::has_pending_txn_offset`]). Replay follows the same
//! path: transactional batches go to [`GroupCoordinator::replay_txn`],
//! markers to [`GroupCoordinator::replay_marker`].

use std::collections::BTreeMap;

use crate::coordinator::{GroupCoordinator, valid_group_id};
use crate::group::{Group, GroupState, Offset};
use crate::offsets::CommitResult;
use crate::record::GroupRecord;
use crate::types::{CommitPartition, Effect, GroupError, Outcome};

/// Pending offsets: producer id → group → (topic, partition) → offset.
pub(crate) type PendingTxnOffsets =
    BTreeMap<i64, BTreeMap<String, BTreeMap<(String, i32), Offset>>>;

/// The group part of a TxnOffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnCommitRequest {
    /// Group id.
    pub group_id: String,
    /// Producer id of the transaction.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// Generation (-1: unknown, e.g. v0-v2 requests).
    pub generation_id: i32,
    /// Member id ("" if unknown).
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Partitions.
    pub partitions: Vec<CommitPartition>,
}

/// Kafka's `doTxnCommitOffsets` checks.
fn validate(group: &Group, req: &TxnCommitRequest) -> Result<(), GroupError> {
    if group.is(GroupState::Dead) {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    if !req.member_id.is_empty() || req.group_instance_id.is_some() {
        crate::coordinator::validate_member(
            group,
            &req.member_id,
            req.group_instance_id.as_deref(),
        )?;
    }
    if req.generation_id >= 0 && req.generation_id != group.generation_id {
        return Err(GroupError::IllegalGeneration);
    }
    Ok(())
}

impl GroupCoordinator {
    /// TxnOffsetCommit: validate and hold the offsets as pending for the
    /// producer. The answer must wait until the effects are durable.
    pub fn txn_commit_offsets(
        &mut self,
        req: &TxnCommitRequest,
        partition_exists: &dyn Fn(&str, i32) -> bool,
        now_ms: i64,
    ) -> Outcome<CommitResult> {
        let none = |e| Outcome {
            result: Err(e),
            effects: Vec::new(),
        };
        if !valid_group_id(&req.group_id) {
            return none(GroupError::InvalidGroupId);
        }
        // Kafka creates an unknown group (it may only hold offsets).
        let group = self
            .groups
            .entry(req.group_id.clone())
            .or_insert_with(|| Group::new(&req.group_id, now_ms));
        if let Err(e) = validate(group, req) {
            self.forget_if_unused(&req.group_id);
            return none(e);
        }
        let max_metadata = self.config.offset_metadata_max_bytes;
        let (results, records, pending) = crate::offsets::accept_partitions(
            &req.group_id,
            &req.partitions,
            max_metadata,
            partition_exists,
            now_ms,
        );
        if !pending.is_empty() {
            self.pending_txn
                .entry(req.producer_id)
                .or_default()
                .entry(req.group_id.clone())
                .or_default()
                .extend(pending);
        }
        let mut effects = Vec::new();
        if !records.is_empty() {
            effects.push(Effect::PersistTxn {
                group_id: req.group_id.clone(),
                producer_id: req.producer_id,
                producer_epoch: req.producer_epoch,
                records,
            });
        }
        self.forget_if_unused(&req.group_id);
        Outcome {
            result: Ok(results),
            effects,
        }
    }

    /// The producer's transaction ended in a `__consumer_offsets`
    /// partition: commit (or drop) its pending offsets of the groups in
    /// that partition (`in_partition` says whether a group lives there).
    pub fn complete_txn(
        &mut self,
        producer_id: i64,
        commit: bool,
        in_partition: &dyn Fn(&str) -> bool,
        now_ms: i64,
    ) {
        let Some(groups) = self.pending_txn.get_mut(&producer_id) else {
            return;
        };
        let done: Vec<String> = groups.keys().filter(|g| in_partition(g)).cloned().collect();
        let mut finished = Vec::new();
        for group_id in done {
            if let Some(offsets) = groups.remove(&group_id) {
                finished.push((group_id, offsets));
            }
        }
        if groups.is_empty() {
            self.pending_txn.remove(&producer_id);
        }
        for (group_id, offsets) in finished {
            if commit {
                let g = self
                    .groups
                    .entry(group_id.clone())
                    .or_insert_with(|| Group::new(&group_id, now_ms));
                g.offsets.extend(offsets);
            }
            self.forget_if_unused(&group_id);
        }
    }

    /// Whether an open transaction holds an offset for this partition.
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        let key = (topic.to_string(), partition);
        self.pending_txn
            .values()
            .any(|groups| groups.get(group_id).is_some_and(|o| o.contains_key(&key)))
    }

    /// Replay a record read from a transactional batch of `producer_id`.
    pub fn replay_txn(&mut self, producer_id: i64, record: GroupRecord) {
        if let GroupRecord::Offset {
            group_id,
            topic,
            partition,
            value: Some(v),
        } = record
        {
            self.pending_txn
                .entry(producer_id)
                .or_default()
                .entry(group_id)
                .or_default()
                .insert(
                    (topic, partition),
                    Offset {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_timestamp_ms: v.commit_timestamp_ms,
                    },
                );
        }
    }

    /// Replay a marker of `producer_id` (every group replayed from this
    /// partition is in it).
    pub fn replay_marker(
        &mut self,
        producer_id: i64,
        commit: bool,
        in_partition: &dyn Fn(&str) -> bool,
    ) {
        self.complete_txn(producer_id, commit, in_partition, 0);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;
    use crate::record::OffsetValue;
    use crate::types::GroupConfig;

    fn req(group: &str, pid: i64, offset: i64) -> TxnCommitRequest {
        TxnCommitRequest {
            group_id: group.into(),
            producer_id: pid,
            producer_epoch: 0,
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            partitions: vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset,
                leader_epoch: -1,
                metadata: None,
            }],
        }
    }

    fn committed(c: &GroupCoordinator, group: &str) -> Option<i64> {
        c.fetch_offsets(group)
            .unwrap()
            .get(&("t".to_string(), 0))
            .map(|o| o.offset)
    }

    #[test]
    fn pending_until_commit_marker_dropped_on_abort() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        let all = |_: &str| true;
        let out = c.txn_commit_offsets(&req("g", 7, 10), &|_, _| true, 1);
        assert_eq!(out.result.unwrap(), vec![Ok(())]);
        assert!(matches!(
            out.effects.as_slice(),
            [Effect::PersistTxn { producer_id: 7, .. }]
        ));
        assert_eq!(committed(&c, "g"), None);
        assert!(c.has_pending_txn_offset("g", "t", 0));
        c.complete_txn(7, true, &all, 2);
        assert_eq!(committed(&c, "g"), Some(10));
        assert!(!c.has_pending_txn_offset("g", "t", 0));
        c.txn_commit_offsets(&req("g", 7, 20), &|_, _| true, 3);
        c.complete_txn(7, false, &all, 4);
        assert_eq!(committed(&c, "g"), Some(10), "aborted offsets are dropped");
        // Markers of other partitions leave the group alone.
        c.txn_commit_offsets(&req("g", 8, 30), &|_, _| true, 5);
        c.complete_txn(8, true, &|_| false, 6);
        assert!(c.has_pending_txn_offset("g", "t", 0));
    }

    #[test]
    fn member_checks_and_replay() {
        let mut c = GroupCoordinator::new(GroupConfig::default(), 1);
        let mut bad = req("g", 7, 10);
        bad.member_id = "ghost".into();
        bad.generation_id = 3;
        assert!(c.txn_commit_offsets(&bad, &|_, _| true, 1).result.is_err());
        let unknown = c.txn_commit_offsets(&req("g", 7, 1), &|_, _| false, 1);
        assert_eq!(
            unknown.result.unwrap(),
            vec![Err(GroupError::UnknownTopicOrPartition)]
        );
        let mut r = GroupCoordinator::new(GroupConfig::default(), 1);
        r.replay_txn(
            9,
            GroupRecord::Offset {
                group_id: "g".into(),
                topic: "t".into(),
                partition: 0,
                value: Some(OffsetValue {
                    offset: 42,
                    leader_epoch: -1,
                    metadata: String::new(),
                    commit_timestamp_ms: 0,
                }),
            },
        );
        assert!(r.has_pending_txn_offset("g", "t", 0));
        r.replay_marker(9, true, &|_| true);
        assert_eq!(committed(&r, "g"), Some(42));
    }
}
