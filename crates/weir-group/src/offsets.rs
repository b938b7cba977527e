//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete,
//! DeleteGroups and retention (Kafka's `OffsetMetadataManager`).

use std::collections::{BTreeMap, BTreeSet};

use crate::coordinator::{GroupCoordinator, valid_group_id};
use crate::group::{Group, GroupState};
use crate::record::{GroupRecord, OffsetValue};
use crate::txn_offsets::{drop_pending, pending_keys};
use crate::types::{CommitPartition, CommitRequest, Committed, Effect, GroupError, Outcome};

/// [`accept_partitions`]' result: per-partition results and the records.
pub(crate) type Accepted = (Vec<Result<(), GroupError>>, Vec<GroupRecord>);

/// Check each partition of a commit (metadata size, existence): the
/// per-partition results in request order and the offset records to
/// persist, which are also the change to apply (OffsetCommit applies them
/// at once; TxnOffsetCommit once appended, as pending offsets).
pub(crate) fn accept_partitions(
    group_id: &str,
    partitions: &[CommitPartition],
    max_metadata: usize,
    partition_exists: &dyn Fn(&str, i32) -> bool,
    now_ms: i64,
) -> Accepted {
    let mut results = Vec::with_capacity(partitions.len());
    let mut records = Vec::new();
    for p in partitions {
        let metadata = p.metadata.clone().unwrap_or_default();
        if metadata.len() > max_metadata {
            results.push(Err(GroupError::OffsetMetadataTooLarge));
            continue;
        }
        if !partition_exists(&p.topic, p.partition) {
            results.push(Err(GroupError::UnknownTopicOrPartition));
            continue;
        }
        records.push(GroupRecord::Offset {
            group_id: group_id.to_string(),
            topic: p.topic.clone(),
            partition: p.partition,
            value: Some(OffsetValue {
                offset: p.offset,
                leader_epoch: p.leader_epoch,
                metadata,
                commit_timestamp_ms: now_ms,
            }),
        });
        results.push(Ok(()));
    }
    (results, records)
}

/// Per-partition commit results in request order, or a group-level error.
pub type CommitResult = Result<Vec<Result<(), GroupError>>, GroupError>;

/// Committed offsets of one group: `(topic, partition) → offset`.
pub type OffsetMap = BTreeMap<(String, i32), Committed>;

impl GroupCoordinator {
    /// OffsetCommit. `partition_exists` says whether a topic-partition
    /// exists in the cluster. The answer must wait until the effects'
    /// records are durable.
    pub fn commit_offsets(
        &mut self,
        version: i16,
        req: &CommitRequest,
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
                // Kafka: a member commit to an unknown group.
                return none(if version >= 9 {
                    GroupError::GroupIdNotFound
                } else {
                    GroupError::IllegalGeneration
                });
            }
            self.groups
                .insert(req.group_id.clone(), Group::new(&req.group_id, now_ms));
        }
        let max_metadata = self.config.offset_metadata_max_bytes;
        let Some(group) = self.groups.get(&req.group_id) else {
            return none(GroupError::CoordinatorNotAvailable);
        };
        if let Err(e) = validate_commit(group, req) {
            return none(e);
        }
        let (results, records) = accept_partitions(
            &req.group_id,
            &req.partitions,
            max_metadata,
            partition_exists,
            now_ms,
        );
        // The records are the change: apply them as replay will.
        for r in &records {
            self.replay(r.clone());
        }
        let mut effects = Vec::new();
        if !records.is_empty() {
            effects.push(Effect::Persist {
                group_id: req.group_id.clone(),
                records,
            });
        }
        self.forget_if_unused(&req.group_id);
        Outcome {
            result: Ok(results),
            effects,
        }
    }

    /// OffsetFetch for one group: the requested partitions (`None`: every
    /// committed one). A partition without a commit is absent from the map.
    pub fn fetch_offsets(&self, group_id: &str) -> Result<OffsetMap, GroupError> {
        if !valid_group_id(group_id) {
            return Err(GroupError::InvalidGroupId);
        }
        let Some(g) = self.groups.get(group_id) else {
            return Ok(OffsetMap::new());
        };
        if g.is(GroupState::Dead) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        Ok(g.offsets
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    Committed {
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: o.metadata.clone(),
                        commit_timestamp_ms: o.commit_timestamp_ms,
                    },
                )
            })
            .collect())
    }

    /// DeleteGroups for one group: only an empty group can go; its offsets
    /// and metadata get tombstones. Offsets open transactions hold for it
    /// are dropped, with a tombstone for each partition that has no
    /// committed offset, so replay drops them too (Kafka's
    /// `deleteAllOffsets`); their commit marker then finds nothing.
    pub fn delete_group(&mut self, group_id: &str) -> Outcome<Result<(), GroupError>> {
        let mut effects = Vec::new();
        let result = (|| {
            if !valid_group_id(group_id) {
                return Err(GroupError::InvalidGroupId);
            }
            let g = self
                .groups
                .get(group_id)
                .ok_or(GroupError::GroupIdNotFound)?;
            match g.state {
                GroupState::Dead => return Err(GroupError::GroupIdNotFound),
                GroupState::Empty => {}
                _ => return Err(GroupError::NonEmptyGroup),
            }
            let mut keys: BTreeSet<(String, i32)> = g.offsets.keys().cloned().collect();
            keys.extend(pending_keys(&self.pending_txn, group_id));
            let mut records: Vec<GroupRecord> = keys
                .into_iter()
                .map(|(t, p)| GroupRecord::Offset {
                    group_id: group_id.to_string(),
                    topic: t,
                    partition: p,
                    value: None,
                })
                .collect();
            records.push(GroupRecord::Group {
                group_id: group_id.to_string(),
                value: None,
            });
            effects.push(Effect::Persist {
                group_id: group_id.to_string(),
                records,
            });
            self.groups.remove(group_id);
            self.drop_pending_txn(group_id, None);
            Ok(())
        })();
        Outcome { result, effects }
    }

    /// OffsetDelete: per-partition results in request order, or a group
    /// error. Refused per partition for topics an active consumer group
    /// subscribes to, and for the whole request if a non-consumer group
    /// has members. A partition's tombstone also drops the offsets open
    /// transactions hold for it (Kafka writes one if either exists).
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
        partition_exists: &dyn Fn(&str, i32) -> bool,
    ) -> Outcome<CommitResult> {
        let mut effects = Vec::new();
        if !valid_group_id(group_id) {
            return Outcome {
                result: Err(GroupError::InvalidGroupId),
                effects,
            };
        }
        let pending = pending_keys(&self.pending_txn, group_id);
        let Some(g) = self.groups.get_mut(group_id) else {
            return Outcome {
                result: Err(GroupError::GroupIdNotFound),
                effects,
            };
        };
        let subscribed = match g.state {
            GroupState::Dead => {
                return Outcome {
                    result: Err(GroupError::GroupIdNotFound),
                    effects,
                };
            }
            GroupState::Empty => None,
            _ => match g.subscribed_topics() {
                Some(t) => Some(t),
                None if g.protocol_type.as_deref() == Some("consumer") => Some(Default::default()),
                None => {
                    return Outcome {
                        result: Err(GroupError::NonEmptyGroup),
                        effects,
                    };
                }
            },
        };
        let mut results = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        for (topic, partition) in partitions {
            if subscribed.as_ref().is_some_and(|s| s.contains(topic)) {
                results.push(Err(GroupError::GroupSubscribedToTopic));
                continue;
            }
            if !partition_exists(topic, *partition) {
                results.push(Err(GroupError::UnknownTopicOrPartition));
                continue;
            }
            let key = (topic.clone(), *partition);
            if g.offsets.remove(&key).is_some() || pending.contains(&key) {
                drop_pending(&mut self.pending_txn, group_id, Some(&key));
                records.push(GroupRecord::Offset {
                    group_id: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                    value: None,
                });
            }
            results.push(Ok(()));
        }
        if !records.is_empty() {
            effects.push(Effect::Persist {
                group_id: group_id.to_string(),
                records,
            });
        }
        Outcome {
            result: Ok(results),
            effects,
        }
    }

    /// Kafka's offset expiration: in an empty group every offset expires
    /// `offsets.retention.minutes` after the group became empty; in an
    /// active consumer group, offsets of topics no member subscribes to
    /// expire that long after their commit. A group left with no offsets
    /// and no members is deleted. As in Kafka, an offset an open
    /// transaction also holds does not expire yet, and a group with such
    /// offsets is kept.
    pub(crate) fn expire_offsets(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        let retention = self.config.offsets_retention_ms;
        let mut gone = Vec::new();
        for g in self.groups.values_mut() {
            let pending = pending_keys(&self.pending_txn, &g.group_id);
            let subscribed = if g.is(GroupState::Empty) {
                None
            } else {
                match g.subscribed_topics() {
                    Some(s) => Some(s),
                    None => continue,
                }
            };
            let state_ts = g.state_timestamp_ms;
            let expired: Vec<(String, i32)> = g
                .offsets
                .iter()
                .filter(|(k, _)| !pending.contains(*k))
                .filter(|((t, _), o)| match &subscribed {
                    None => {
                        state_ts
                            .max(o.commit_timestamp_ms)
                            .saturating_add(retention)
                            <= now_ms
                    }
                    Some(s) => {
                        !s.contains(t) && o.commit_timestamp_ms.saturating_add(retention) <= now_ms
                    }
                })
                .map(|(k, _)| k.clone())
                .collect();
            let mut records: Vec<GroupRecord> = Vec::new();
            for k in expired {
                g.offsets.remove(&k);
                records.push(GroupRecord::Offset {
                    group_id: g.group_id.clone(),
                    topic: k.0,
                    partition: k.1,
                    value: None,
                });
            }
            if g.is(GroupState::Empty)
                && g.offsets.is_empty()
                && g.pending_members.is_empty()
                && pending.is_empty()
            {
                records.push(GroupRecord::Group {
                    group_id: g.group_id.clone(),
                    value: None,
                });
                gone.push(g.group_id.clone());
            }
            if !records.is_empty() {
                fx.push(Effect::Persist {
                    group_id: g.group_id.clone(),
                    records,
                });
            }
        }
        for id in gone {
            self.groups.remove(&id);
        }
    }
}

/// Kafka's `ClassicGroup.validateOffsetCommit`.
fn validate_commit(group: &Group, req: &CommitRequest) -> Result<(), GroupError> {
    if group.is(GroupState::Dead) {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    if req.generation_id < 0 && group.is(GroupState::Empty) {
        // A commit from outside the group (admin tools, manual assignment).
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
    } else {
        return Err(GroupError::UnknownMemberId);
    }
    if group.is(GroupState::CompletingRebalance) {
        return Err(GroupError::RebalanceInProgress);
    }
    Ok(())
}
