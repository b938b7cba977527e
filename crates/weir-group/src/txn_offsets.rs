//! Offsets committed inside transactions (TxnOffsetCommit), as Kafka's
//! `pendingTransactionalOffsets` (`OffsetMetadataManager`; the classic
//! `GroupMetadata.pendingTransactionalOffsetCommits`).
//!
//! A transactional commit is validated like a member's OffsetCommit
//! ([`GroupCoordinator::txn_commit_offsets`]) and its records are appended
//! to `__consumer_offsets` as a transactional batch of the producer
//! ([`Effect::PersistTxn`]). They are not visible to OffsetFetch until the
//! transaction's marker is written to that partition: a commit marker
//! makes them committed, an abort marker drops them
//! ([`GroupCoordinator::complete_txn`]). OffsetFetch with `require_stable`
//! answers UNSTABLE_OFFSET_COMMIT for partitions with pending offsets
//! ([`GroupCoordinator::pending_txn_partitions`]).
//!
//! ## Invariants
//!
//! | change to `pending_txn[producer][group][partition]` | made by |
//! |---|---|
//! | set | [`GroupCoordinator::replay_txn`] only: live, by the driver once the batch is appended (a refused batch, e.g. a fenced producer's, changes nothing); at start-up, for each record of a transactional batch |
//! | moved into the group's committed offsets, unless that partition's committed offset was written later (`log_order`, Kafka's record-offset check) | a commit marker of the producer in the group's partition |
//! | dropped | an abort marker of the producer there; an offset tombstone of that partition (OffsetDelete, DeleteGroups), for every producer; DeleteGroups, for the whole group |
//!
//! Pending offsets never expire. While a group has some, it is neither
//! forgotten nor expired, and the committed offsets of those partitions do
//! not expire (Kafka's `cleanupExpiredOffsets`). A group with pending
//! offsets exists: the commit and its replay create it.

use std::collections::{BTreeMap, BTreeSet};

use crate::coordinator::{GroupCoordinator, valid_group_id};
use crate::group::{Group, GroupState, Offset};
use crate::offsets::CommitResult;
use crate::record::GroupRecord;
use crate::types::{CommitPartition, Effect, GroupError, Outcome};

#[cfg(test)]
mod tests;

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

/// The partitions of `group_id` some open transaction holds an offset for.
pub(crate) fn pending_keys(pending: &PendingTxnOffsets, group_id: &str) -> BTreeSet<(String, i32)> {
    pending
        .values()
        .filter_map(|groups| groups.get(group_id))
        .flat_map(|offsets| offsets.keys().cloned())
        .collect()
}

/// Drop what open transactions hold for `group_id`: one partition
/// (`key`), or everything.
pub(crate) fn drop_pending(
    pending: &mut PendingTxnOffsets,
    group_id: &str,
    key: Option<&(String, i32)>,
) {
    pending.retain(|_, groups| {
        if let Some(offsets) = groups.get_mut(group_id) {
            match key {
                Some(k) => {
                    offsets.remove(k);
                }
                None => offsets.clear(),
            }
            if offsets.is_empty() {
                groups.remove(group_id);
            }
        }
        !groups.is_empty()
    });
}

/// Kafka's `validateOffsetCommit` with `isTransactional`: as OffsetCommit,
/// except that a request naming no member is accepted in any state (v0-v2
/// carry no member fields) and a rebalance does not refuse it.
fn validate(group: &Group, req: &TxnCommitRequest) -> Result<(), GroupError> {
    if group.is(GroupState::Dead) {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    if req.generation_id < 0 && group.is(GroupState::Empty) {
        return Ok(());
    }
    if req.generation_id >= 0 || !req.member_id.is_empty() || req.group_instance_id.is_some() {
        crate::coordinator::validate_member(
            group,
            &req.member_id,
            req.group_instance_id.as_deref(),
        )?;
        if req.generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
    }
    Ok(())
}

impl GroupCoordinator {
    /// TxnOffsetCommit: validate and emit the offsets as an
    /// [`Effect::PersistTxn`]. Nothing changes until the driver has
    /// appended that batch and fed its records to
    /// [`GroupCoordinator::replay_txn`] (the append checks the producer
    /// epoch and may refuse it); the answer must wait until it is durable.
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
        if !self.groups.contains_key(&req.group_id) {
            if req.generation_id >= 0 {
                // Kafka's `validateTransactionalOffsetCommit`.
                return none(GroupError::IllegalGeneration);
            }
            // A "simple" group that may only ever hold offsets.
            self.groups
                .insert(req.group_id.clone(), Group::new(&req.group_id, now_ms));
        }
        let validated = match self.groups.get(&req.group_id) {
            Some(group) => validate(group, req),
            None => Err(GroupError::CoordinatorNotAvailable),
        };
        if let Err(e) = validated {
            self.forget_if_unused(&req.group_id);
            return none(e);
        }
        let (results, records) = crate::offsets::accept_partitions(
            &req.group_id,
            &req.partitions,
            self.config.offset_metadata_max_bytes,
            partition_exists,
            now_ms,
        );
        let mut effects = Vec::new();
        if records.is_empty() {
            self.forget_if_unused(&req.group_id);
        } else {
            effects.push(Effect::PersistTxn {
                group_id: req.group_id.clone(),
                producer_id: req.producer_id,
                producer_epoch: req.producer_epoch,
                records,
            });
        }
        Outcome {
            result: Ok(results),
            effects,
        }
    }

    /// The producer's transaction ended with a marker in a
    /// `__consumer_offsets` partition: commit (or drop) its pending offsets
    /// of the groups living there (`in_partition` says whether a group
    /// does). A committed offset replaces the group's only if written
    /// after it, as Kafka's `replayEndTransactionMarker` keeps the most
    /// recent of a transactional and a plain commit.
    pub fn complete_txn(
        &mut self,
        producer_id: i64,
        commit: bool,
        in_partition: &dyn Fn(&str) -> bool,
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
                let created_ms = offsets
                    .values()
                    .map(|o| o.commit_timestamp_ms)
                    .min()
                    .unwrap_or_default();
                // The group normally exists (the commit created it); this
                // also covers logs written before pending offsets kept it.
                let g = self
                    .groups
                    .entry(group_id.clone())
                    .or_insert_with(|| Group::new(&group_id, created_ms));
                for (key, offset) in offsets {
                    if g.offsets
                        .get(&key)
                        .is_none_or(|c| offset.log_order > c.log_order)
                    {
                        g.offsets.insert(key, offset);
                    }
                }
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

    /// The partitions of a group some open transaction holds an offset for
    /// (OffsetFetch with `require_stable` answers UNSTABLE_OFFSET_COMMIT
    /// for them).
    pub fn pending_txn_partitions(&self, group_id: &str) -> BTreeSet<(String, i32)> {
        pending_keys(&self.pending_txn, group_id)
    }

    /// Apply a record of a transactional batch of `producer_id`: at
    /// start-up, and live once the driver appended an
    /// [`Effect::PersistTxn`]. An offset becomes pending (creating its
    /// group); anything else applies as [`GroupCoordinator::replay`] does,
    /// as Kafka ignores the producer of tombstones and group records.
    pub fn replay_txn(&mut self, producer_id: i64, record: GroupRecord) {
        let (group_id, topic, partition, v) = match record {
            GroupRecord::Offset {
                group_id,
                topic,
                partition,
                value: Some(v),
            } => (group_id, topic, partition, v),
            other => return self.replay(other),
        };
        let log_order = self.take_log_order();
        self.groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id, v.commit_timestamp_ms));
        self.pending_txn
            .entry(producer_id)
            .or_default()
            .entry(group_id)
            .or_default()
            .insert((topic, partition), Offset::from_value(v, log_order));
    }

    /// Replay a marker of `producer_id` read from a `__consumer_offsets`
    /// partition (`in_partition`: whether a group lives in it).
    pub fn replay_marker(
        &mut self,
        producer_id: i64,
        commit: bool,
        in_partition: &dyn Fn(&str) -> bool,
    ) {
        self.complete_txn(producer_id, commit, in_partition);
    }

    /// Drop what open transactions hold for a group (`key`: one partition).
    pub(crate) fn drop_pending_txn(&mut self, group_id: &str, key: Option<&(String, i32)>) {
        drop_pending(&mut self.pending_txn, group_id, key);
    }
}
