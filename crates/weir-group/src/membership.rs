//! Heartbeats, leaves, timers, replay and the read-only views
//! (DescribeGroups, ListGroups).

use weir_protocol::messages::heartbeat_request::HeartbeatRequest;

use crate::coordinator::{
    GroupCoordinator, complete_join, maybe_prepare_rebalance, prepare_rebalance, release_member,
    try_complete_join, valid_group_id, validate_member,
};
use crate::group::{Group, GroupState, Offset};
use crate::record::GroupRecord;
use crate::types::{
    Effect, GroupDescription, GroupError, GroupListing, MemberDescription, Outcome,
};

/// One member named in a LeaveGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    /// Member id ("" to name a static member by instance id only).
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
}

/// Per-member LeaveGroup results, in request order, or a group-level error.
pub type LeaveResult = Result<Vec<Result<(), GroupError>>, GroupError>;

impl GroupCoordinator {
    /// Heartbeat.
    pub fn heartbeat(&mut self, req: &HeartbeatRequest, now_ms: i64) -> Result<(), GroupError> {
        if !valid_group_id(&req.group_id) {
            return Err(GroupError::InvalidGroupId);
        }
        let group = self
            .groups
            .get_mut(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        validate_member(group, &req.member_id, req.group_instance_id.as_deref())?;
        if req.generation_id != group.generation_id {
            return Err(GroupError::IllegalGeneration);
        }
        let state = group.state;
        if let Some(m) = group.members.get_mut(&req.member_id) {
            m.heartbeat_deadline_ms = now_ms.saturating_add(i64::from(m.session_timeout_ms));
        }
        match state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
        }
    }

    /// LeaveGroup for one or more members (v3+ batches them).
    pub fn leave(
        &mut self,
        group_id: &str,
        members: &[LeavingMember],
        now_ms: i64,
    ) -> Outcome<LeaveResult> {
        let mut effects = Vec::new();
        if !valid_group_id(group_id) {
            return Outcome {
                result: Err(GroupError::InvalidGroupId),
                effects,
            };
        }
        let cfg = self.config.clone();
        let Some(group) = self.groups.get_mut(group_id) else {
            return Outcome {
                result: Ok(vec![Err(GroupError::UnknownMemberId); members.len()]),
                effects,
            };
        };
        if group.is(GroupState::Dead) {
            return Outcome {
                result: Err(GroupError::CoordinatorNotAvailable),
                effects,
            };
        }
        let mut results = Vec::with_capacity(members.len());
        let mut removed_any = false;
        for lm in members {
            let r = leave_one(group, lm, &mut effects);
            removed_any |= r == Ok(true);
            results.push(r.map(|_| ()));
        }
        if removed_any {
            after_removal(group, &cfg, now_ms, &mut effects);
        } else {
            try_complete_join(group, now_ms, &mut effects);
        }
        Outcome {
            result: Ok(results),
            effects,
        }
    }

    /// Fire every timer due at `now_ms`: session expiry, pending-member
    /// expiry, join and sync timeouts, offset retention.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        let cfg = self.config.clone();
        for group in self.groups.values_mut() {
            if group.next_deadline().is_none_or(|d| d > now_ms) {
                continue;
            }
            let before = group.pending_members.len();
            group
                .pending_members
                .retain(|_, deadline| *deadline > now_ms);
            if group.pending_members.len() != before {
                // Kafka's removePendingMemberAndUpdateClassicGroup: no
                // rebalance, but a join phase waiting for it may complete.
                try_complete_join(group, now_ms, &mut fx);
            }
            let mut removed = false;
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    m.awaiting_join.is_none()
                        && m.awaiting_sync.is_none()
                        && m.heartbeat_deadline_ms <= now_ms
                })
                .map(|m| m.member_id.clone())
                .collect();
            for id in &expired {
                if let Some(m) = group.remove_member(id) {
                    release_member(&m, GroupError::UnknownMemberId, &mut fx);
                    removed = true;
                }
            }
            if removed {
                after_removal(group, &cfg, now_ms, &mut fx);
            }
            if group.is(GroupState::PreparingRebalance)
                && group.join_deadline_ms.is_some_and(|d| d <= now_ms)
            {
                match group.initial_delay {
                    Some((remaining, delay)) if group.new_member_added && remaining > 0 => {
                        let step = delay.min(remaining);
                        group.initial_delay = Some((remaining - step, delay));
                        group.new_member_added = false;
                        group.join_deadline_ms = Some(now_ms.saturating_add(step.max(0)));
                    }
                    _ => complete_join(group, now_ms, &mut fx),
                }
            }
            if group.is(GroupState::CompletingRebalance)
                && group.sync_deadline_ms.is_some_and(|d| d <= now_ms)
            {
                let late: Vec<String> = group.pending_sync.iter().cloned().collect();
                for id in late {
                    if let Some(m) = group.remove_member(&id) {
                        release_member(&m, GroupError::UnknownMemberId, &mut fx);
                    }
                }
                prepare_rebalance(group, &cfg, now_ms, &mut fx);
                try_complete_join(group, now_ms, &mut fx);
            }
        }
        if now_ms >= self.next_expiry_check_ms {
            self.next_expiry_check_ms =
                now_ms.saturating_add(self.config.offsets_retention_check_interval_ms);
            self.expire_offsets(now_ms, &mut fx);
        }
        fx
    }

    /// When [`GroupCoordinator::tick`] must run next.
    pub fn next_deadline(&self) -> i64 {
        self.groups
            .values()
            .filter_map(Group::next_deadline)
            .chain(std::iter::once(self.next_expiry_check_ms))
            .min()
            .unwrap_or(self.next_expiry_check_ms)
    }

    /// Apply one record of `__consumer_offsets` (start-up replay). The same
    /// records the handlers emit rebuild the same state.
    pub fn replay(&mut self, record: GroupRecord) {
        match record {
            GroupRecord::Offset {
                group_id,
                topic,
                partition,
                value,
            } => match value {
                Some(v) => {
                    let log_order = self.take_log_order();
                    let g = self
                        .groups
                        .entry(group_id.clone())
                        .or_insert_with(|| Group::new(&group_id, v.commit_timestamp_ms));
                    g.offsets
                        .insert((topic, partition), Offset::from_value(v, log_order));
                }
                None => {
                    // A tombstone also drops the offsets open transactions
                    // hold for this partition (Kafka's
                    // `OffsetMetadataManager.replay`): DeleteGroups and
                    // OffsetDelete write one for them.
                    let key = (topic, partition);
                    if let Some(g) = self.groups.get_mut(&group_id) {
                        g.offsets.remove(&key);
                    }
                    self.drop_pending_txn(&group_id, Some(&key));
                }
            },
            GroupRecord::Group { group_id, value } => match value {
                Some(v) => {
                    let state_ts = v.current_state_timestamp_ms;
                    self.groups
                        .entry(group_id.clone())
                        .or_insert_with(|| Group::new(&group_id, state_ts))
                        .load_metadata(v);
                }
                None => {
                    self.groups.remove(&group_id);
                }
            },
        }
    }

    /// After replay: start the session timers of the loaded members, which
    /// keep their generation if they heartbeat in time.
    pub fn finish_replay(&mut self, now_ms: i64) {
        for g in self.groups.values_mut() {
            for m in g.members.values_mut() {
                m.heartbeat_deadline_ms = now_ms.saturating_add(i64::from(m.session_timeout_ms));
            }
        }
        self.next_expiry_check_ms = now_ms;
    }

    /// DescribeGroups for one group (`Dead` with no members if unknown).
    pub fn describe(&self, group_id: &str) -> Result<GroupDescription, GroupError> {
        if !valid_group_id(group_id) {
            return Err(GroupError::InvalidGroupId);
        }
        let Some(g) = self.groups.get(group_id) else {
            return Ok(GroupDescription {
                group_id: group_id.to_string(),
                state: GroupState::Dead.name().to_string(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            });
        };
        let stable = g.is(GroupState::Stable);
        let protocol = g.protocol_name.clone().unwrap_or_default();
        Ok(GroupDescription {
            group_id: group_id.to_string(),
            state: g.state.name().to_string(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Default::default()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Default::default()
                    },
                })
                .collect(),
        })
    }

    /// ListGroups: every group whose state matches `states` (case-insensitive;
    /// empty matches all).
    pub fn list(&self, states: &[String]) -> Vec<GroupListing> {
        self.groups
            .values()
            .filter(|g| !g.is(GroupState::Dead))
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .map(|g| GroupListing {
                group_id: g.group_id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name().to_string(),
            })
            .collect()
    }
}

fn leave_one(
    group: &mut Group,
    lm: &LeavingMember,
    fx: &mut Vec<Effect>,
) -> Result<bool, GroupError> {
    let member_id = if lm.member_id.is_empty() {
        // An admin removing a static member by instance id only.
        let Some(i) = &lm.group_instance_id else {
            return Err(GroupError::UnknownMemberId);
        };
        group
            .static_members
            .get(i)
            .cloned()
            .ok_or(GroupError::UnknownMemberId)?
    } else {
        if let Some(i) = &lm.group_instance_id
            && let Some(holder) = group.static_members.get(i)
            && *holder != lm.member_id
        {
            return Err(GroupError::FencedInstanceId);
        }
        lm.member_id.clone()
    };
    if group.pending_members.remove(&member_id).is_some() {
        // A pending member never joined: no rebalance (Kafka's
        // removePendingMemberAndUpdateClassicGroup).
        return Ok(false);
    }
    let m = group
        .remove_member(&member_id)
        .ok_or(GroupError::UnknownMemberId)?;
    release_member(&m, GroupError::UnknownMemberId, fx);
    Ok(true)
}

/// Kafka's `removeMemberAndUpdateClassicGroup`, after one or more removals.
fn after_removal(
    group: &mut Group,
    cfg: &crate::types::GroupConfig,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    match group.state {
        GroupState::Stable | GroupState::CompletingRebalance => {
            maybe_prepare_rebalance(group, cfg, now_ms, fx);
        }
        GroupState::PreparingRebalance => try_complete_join(group, now_ms, fx),
        GroupState::Empty | GroupState::Dead => {}
    }
}
