//! The coordinator: every group, the join/sync protocol and timers.
//!
//! Mirrors Kafka's `GroupMetadataManager` for classic groups; the offset
//! APIs live in `offsets.rs`, heartbeats, leaves and timers in
//! `membership.rs`.

use std::collections::BTreeMap;

use bytes::Bytes;
use weir_protocol::messages::join_group_request::JoinGroupRequest;
use weir_protocol::messages::sync_group_request::SyncGroupRequest;

use crate::group::{Group, GroupState, Member, ParkedJoin};
use crate::record::GroupRecord;
use crate::types::{
    Effect, GroupConfig, GroupError, JoinMember, JoinOutcome, RequestId, Response, SyncOutcome,
};

/// Longest group id accepted (it must fit a classic string on disk).
pub const GROUP_ID_MAX_BYTES: usize = i16::MAX as usize;

/// All groups this node coordinates.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    pub(crate) config: GroupConfig,
    pub(crate) groups: BTreeMap<String, Group>,
    id_seed: u64,
    id_counter: u64,
    pub(crate) next_expiry_check_ms: i64,
    /// Offsets committed inside open transactions, by producer id, then
    /// group (see `txn_offsets`).
    pub(crate) pending_txn: crate::txn_offsets::PendingTxnOffsets,
    /// The next [`crate::group::Offset::log_order`].
    pub(crate) next_log_order: u64,
}

/// splitmix64: member ids only need to be unique, not secret.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn valid_group_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= GROUP_ID_MAX_BYTES
}

pub(crate) fn respond_join(fx: &mut Vec<Effect>, request: RequestId, out: JoinOutcome) {
    fx.push(Effect::Respond(request, Response::Join(out)));
}

pub(crate) fn respond_sync(fx: &mut Vec<Effect>, request: RequestId, out: SyncOutcome) {
    fx.push(Effect::Respond(request, Response::Sync(out)));
}

pub(crate) fn persist_group(group: &Group, fx: &mut Vec<Effect>) {
    fx.push(Effect::Persist {
        group_id: group.group_id.clone(),
        records: vec![GroupRecord::Group {
            group_id: group.group_id.clone(),
            value: Some(group.metadata_value()),
        }],
    });
}

/// Answer whatever a removed member had parked.
pub(crate) fn release_member(m: &Member, error: GroupError, fx: &mut Vec<Effect>) {
    if let Some(p) = m.awaiting_join {
        respond_join(fx, p.request, JoinOutcome::failed(error, &m.member_id));
    }
    if let Some(r) = m.awaiting_sync {
        respond_sync(fx, r, SyncOutcome::failed(error));
    }
}

/// Kafka's `acceptJoiningMember`.
fn accept_joining(group: &Group, member_id: &str, max: usize) -> bool {
    match group.state {
        GroupState::Empty | GroupState::Dead => true,
        GroupState::PreparingRebalance => {
            group
                .members
                .get(member_id)
                .is_some_and(|m| m.awaiting_join.is_some())
                || group
                    .members
                    .values()
                    .filter(|m| m.awaiting_join.is_some())
                    .count()
                    < max
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            group.members.contains_key(member_id) || group.members.len() < max
        }
    }
}

/// The JoinGroup answer for `member_id` in the current generation.
fn current_join_outcome(group: &Group, member_id: &str, with_members: bool) -> JoinOutcome {
    let protocol = group.protocol_name.clone().unwrap_or_default();
    let members = if with_members {
        group
            .members
            .values()
            .map(|m| JoinMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(&protocol),
            })
            .collect()
    } else {
        Vec::new()
    };
    JoinOutcome {
        error: None,
        generation_id: group.generation_id,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol_name.clone(),
        leader: group.leader_id.clone().unwrap_or_default(),
        member_id: member_id.to_string(),
        members,
        skip_assignment: false,
    }
}

/// Start a rebalance (Kafka's `prepareRebalance`).
pub(crate) fn prepare_rebalance(
    group: &mut Group,
    cfg: &GroupConfig,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    if group.is(GroupState::CompletingRebalance) {
        // Kafka's resetAndPropagateAssignmentWithError.
        for m in group.members.values_mut() {
            if let Some(r) = m.awaiting_sync.take() {
                respond_sync(fx, r, SyncOutcome::failed(GroupError::RebalanceInProgress));
            }
            m.assignment = Bytes::new();
        }
    }
    group.pending_sync.clear();
    group.sync_deadline_ms = None;
    let rebalance_timeout = group.rebalance_timeout_ms();
    if group.is(GroupState::Empty) {
        let delay = i64::from(cfg.initial_rebalance_delay_ms)
            .min(rebalance_timeout)
            .max(0);
        group.initial_delay = Some(((rebalance_timeout - delay).max(0), delay));
        group.new_member_added = false;
        group.join_deadline_ms = Some(now_ms.saturating_add(delay));
    } else {
        group.initial_delay = None;
        group.join_deadline_ms = Some(now_ms.saturating_add(rebalance_timeout));
    }
    group.transition(GroupState::PreparingRebalance, now_ms);
}

/// Rebalance if not already rebalancing; complete the join if everyone is in.
pub(crate) fn maybe_prepare_rebalance(
    group: &mut Group,
    cfg: &GroupConfig,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    if matches!(
        group.state,
        GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
    ) {
        prepare_rebalance(group, cfg, now_ms, fx);
    }
    try_complete_join(group, now_ms, fx);
}

/// Complete the join phase if every member rejoined (outside the initial delay).
pub(crate) fn try_complete_join(group: &mut Group, now_ms: i64, fx: &mut Vec<Effect>) {
    if group.is(GroupState::PreparingRebalance)
        && group.initial_delay.is_none()
        && group.all_members_joined()
    {
        complete_join(group, now_ms, fx);
    }
}

/// Kafka's `completeClassicGroupJoin`.
pub(crate) fn complete_join(group: &mut Group, now_ms: i64, fx: &mut Vec<Effect>) {
    let not_joined: Vec<String> = group
        .members
        .values()
        .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
        .map(|m| m.member_id.clone())
        .collect();
    for id in not_joined {
        if let Some(m) = group.remove_member(&id) {
            release_member(&m, GroupError::UnknownMemberId, fx);
        }
    }
    group.join_deadline_ms = None;
    group.initial_delay = None;
    group.new_member_added = false;
    if group.is(GroupState::Dead) {
        return;
    }
    if group
        .leader_id
        .as_ref()
        .and_then(|l| group.members.get(l))
        .is_none_or(|m| m.awaiting_join.is_none())
        && let Some(m) = group.members.values().find(|m| m.awaiting_join.is_some())
    {
        group.leader_id = Some(m.member_id.clone());
    }
    group.generation_id = group.generation_id.wrapping_add(1);
    if group.members.is_empty() {
        group.protocol_name = None;
        group.leader_id = None;
        group.transition(GroupState::Empty, now_ms);
        persist_group(group, fx);
        return;
    }
    group.protocol_name = group.select_protocol();
    group.transition(GroupState::CompletingRebalance, now_ms);
    group.pending_sync = group.members.keys().cloned().collect();
    let leader = group.leader_id.clone().unwrap_or_default();
    let ids: Vec<String> = group.members.keys().cloned().collect();
    for id in ids {
        let out = current_join_outcome(group, &id, id == leader);
        if let Some(m) = group.members.get_mut(&id) {
            m.heartbeat_deadline_ms = now_ms.saturating_add(i64::from(m.session_timeout_ms));
            if let Some(p) = m.awaiting_join.take() {
                respond_join(fx, p.request, out);
            }
        }
    }
    group.sync_deadline_ms = Some(now_ms.saturating_add(group.rebalance_timeout_ms()));
}

/// The fields of a JoinGroup request the coordinator uses.
struct JoinArgs {
    parked: ParkedJoin,
    protocols: Vec<(String, Bytes)>,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
}

impl GroupCoordinator {
    /// A coordinator with no groups. `id_seed` makes member ids unique
    /// across restarts (the driver passes random bits).
    pub fn new(config: GroupConfig, id_seed: u64) -> Self {
        GroupCoordinator {
            config,
            groups: BTreeMap::new(),
            id_seed,
            id_counter: 0,
            next_expiry_check_ms: 0,
            pending_txn: BTreeMap::new(),
            next_log_order: 0,
        }
    }

    /// The log order of the offset record being applied now.
    pub(crate) fn take_log_order(&mut self) -> u64 {
        self.next_log_order = self.next_log_order.wrapping_add(1);
        self.next_log_order
    }

    /// The configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// A fresh member id: `prefix-` and 32 hex digits, as Kafka's
    /// `clientId-UUID` form.
    fn new_member_id(&mut self, prefix: &str) -> String {
        self.id_counter = self.id_counter.wrapping_add(1);
        let a = mix(self.id_seed ^ self.id_counter);
        let b = mix(a ^ self.id_counter.rotate_left(32));
        let prefix: String = prefix.chars().take(1024).collect();
        format!("{prefix}-{a:016x}{b:016x}")
    }

    /// The state of a group, if it exists.
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.get(group_id).map(|g| g.state)
    }

    /// The generation of a group, if it exists.
    pub fn generation(&self, group_id: &str) -> Option<i32> {
        self.groups.get(group_id).map(|g| g.generation_id)
    }

    /// JoinGroup. The answer for `request` comes as an [`Effect::Respond`],
    /// now or from a later call.
    pub fn join(
        &mut self,
        request: RequestId,
        version: i16,
        req: &JoinGroupRequest,
        client_id: &str,
        client_host: &str,
        now_ms: i64,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        let fail = |e: GroupError, fx: &mut Vec<Effect>| {
            respond_join(fx, request, JoinOutcome::failed(e, &req.member_id));
        };
        if !valid_group_id(&req.group_id) {
            fail(GroupError::InvalidGroupId, &mut fx);
            return fx;
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            fail(GroupError::InvalidSessionTimeout, &mut fx);
            return fx;
        }
        let unknown = req.member_id.is_empty();
        let new_id = if unknown {
            let prefix = req.group_instance_id.as_deref().unwrap_or(client_id);
            Some(self.new_member_id(prefix))
        } else {
            None
        };
        if !self.groups.contains_key(&req.group_id) {
            if !unknown {
                fail(GroupError::UnknownMemberId, &mut fx);
                return fx;
            }
            self.groups
                .insert(req.group_id.clone(), Group::new(&req.group_id, now_ms));
        }
        let cfg = self.config.clone();
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return fx;
        };
        let args = JoinArgs {
            parked: ParkedJoin { request, version },
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.clone(), p.metadata.clone()))
                .collect(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: if req.rebalance_timeout_ms > 0 {
                req.rebalance_timeout_ms
            } else {
                req.session_timeout_ms
            },
        };
        if group.is(GroupState::Dead) {
            fail(GroupError::CoordinatorNotAvailable, &mut fx);
        } else if !group.supports_protocols(&req.protocol_type, &args.protocols) {
            fail(GroupError::InconsistentGroupProtocol, &mut fx);
        } else if !accept_joining(group, &req.member_id, cfg.max_size) {
            fail(GroupError::GroupMaxSizeReached, &mut fx);
        } else if let Some(member_id) = new_id {
            let member = Member {
                member_id: member_id.clone(),
                instance_id: req.group_instance_id.clone(),
                client_id: client_id.to_string(),
                client_host: client_host.to_string(),
                session_timeout_ms: args.session_timeout_ms,
                rebalance_timeout_ms: args.rebalance_timeout_ms,
                protocols: args.protocols.clone(),
                assignment: Bytes::new(),
                awaiting_join: None,
                awaiting_sync: None,
                heartbeat_deadline_ms: now_ms.saturating_add(i64::from(args.session_timeout_ms)),
            };
            match &req.group_instance_id {
                Some(instance) if group.static_members.contains_key(instance) => {
                    join_replacing_static(group, &cfg, member, args, now_ms, &mut fx);
                }
                Some(_) => add_member_then_rebalance(
                    group,
                    &cfg,
                    member,
                    &req.protocol_type,
                    args,
                    now_ms,
                    &mut fx,
                ),
                None if version >= 4 => {
                    group.pending_members.insert(
                        member_id.clone(),
                        now_ms.saturating_add(i64::from(args.session_timeout_ms)),
                    );
                    respond_join(
                        &mut fx,
                        request,
                        JoinOutcome::failed(GroupError::MemberIdRequired, &member_id),
                    );
                }
                None => add_member_then_rebalance(
                    group,
                    &cfg,
                    member,
                    &req.protocol_type,
                    args,
                    now_ms,
                    &mut fx,
                ),
            }
        } else {
            join_existing(
                group,
                &cfg,
                req,
                client_id,
                client_host,
                args,
                now_ms,
                &mut fx,
            );
        }
        self.forget_if_unused(&req.group_id);
        fx
    }

    /// Drop a group that never held anything (a failed first join).
    pub(crate) fn forget_if_unused(&mut self, group_id: &str) {
        if self.groups.get(group_id).is_some_and(|g| {
            g.is(GroupState::Empty)
                && g.members.is_empty()
                && g.pending_members.is_empty()
                && g.offsets.is_empty()
                && g.generation_id == 0
                && !self
                    .pending_txn
                    .values()
                    .any(|groups| groups.contains_key(group_id))
        }) {
            self.groups.remove(group_id);
        }
    }

    /// SyncGroup. The answer for `request` comes as an [`Effect::Respond`].
    pub fn sync(&mut self, request: RequestId, req: &SyncGroupRequest, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        let fail = |e: GroupError, fx: &mut Vec<Effect>| {
            respond_sync(fx, request, SyncOutcome::failed(e));
        };
        if !valid_group_id(&req.group_id) {
            fail(GroupError::InvalidGroupId, &mut fx);
            return fx;
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            fail(GroupError::UnknownMemberId, &mut fx);
            return fx;
        };
        if let Err(e) = validate_member(group, &req.member_id, req.group_instance_id.as_deref()) {
            fail(e, &mut fx);
            return fx;
        }
        if req.generation_id != group.generation_id {
            fail(GroupError::IllegalGeneration, &mut fx);
            return fx;
        }
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|p| Some(p) != group.protocol_type.as_ref())
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|p| Some(p) != group.protocol_name.as_ref())
        {
            fail(GroupError::InconsistentGroupProtocol, &mut fx);
            return fx;
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => fail(GroupError::UnknownMemberId, &mut fx),
            GroupState::PreparingRebalance => fail(GroupError::RebalanceInProgress, &mut fx),
            GroupState::Stable => {
                group.pending_sync.remove(&req.member_id);
                let out = stable_sync_outcome(group, &req.member_id);
                if let Some(m) = group.members.get_mut(&req.member_id) {
                    m.heartbeat_deadline_ms =
                        now_ms.saturating_add(i64::from(m.session_timeout_ms));
                }
                respond_sync(&mut fx, request, out);
            }
            GroupState::CompletingRebalance => {
                group.pending_sync.remove(&req.member_id);
                if let Some(m) = group.members.get_mut(&req.member_id)
                    && let Some(old) = m.awaiting_sync.replace(request)
                {
                    respond_sync(
                        &mut fx,
                        old,
                        SyncOutcome::failed(GroupError::RebalanceInProgress),
                    );
                }
                if group.leader_id.as_deref() == Some(req.member_id.as_str()) {
                    let mut given: BTreeMap<&str, &Bytes> = BTreeMap::new();
                    for a in &req.assignments {
                        given.insert(a.member_id.as_str(), &a.assignment);
                    }
                    for m in group.members.values_mut() {
                        m.assignment = given
                            .get(m.member_id.as_str())
                            .map(|b| (*b).clone())
                            .unwrap_or_default();
                    }
                    group.sync_deadline_ms = None;
                    group.transition(GroupState::Stable, now_ms);
                    persist_group(group, &mut fx);
                    let ids: Vec<String> = group.members.keys().cloned().collect();
                    for id in ids {
                        let out = stable_sync_outcome(group, &id);
                        if let Some(m) = group.members.get_mut(&id) {
                            m.heartbeat_deadline_ms =
                                now_ms.saturating_add(i64::from(m.session_timeout_ms));
                            if let Some(r) = m.awaiting_sync.take() {
                                respond_sync(&mut fx, r, out);
                            }
                        }
                    }
                }
            }
        }
        fx
    }
}

fn stable_sync_outcome(group: &Group, member_id: &str) -> SyncOutcome {
    SyncOutcome {
        error: None,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol_name.clone(),
        assignment: group
            .members
            .get(member_id)
            .map(|m| m.assignment.clone())
            .unwrap_or_default(),
    }
}

/// Kafka's `validateSyncGroup`/`validateMember`: dead group, fenced static
/// instance, unknown member.
pub(crate) fn validate_member(
    group: &Group,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<(), GroupError> {
    if group.is(GroupState::Dead) {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    if let Some(i) = instance_id {
        match group.static_members.get(i) {
            Some(holder) if holder != member_id => return Err(GroupError::FencedInstanceId),
            Some(_) => {}
            None => return Err(GroupError::UnknownMemberId),
        }
    }
    if !group.members.contains_key(member_id) {
        return Err(GroupError::UnknownMemberId);
    }
    Ok(())
}

fn add_member_then_rebalance(
    group: &mut Group,
    cfg: &GroupConfig,
    mut member: Member,
    protocol_type: &str,
    args: JoinArgs,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    member.awaiting_join = Some(args.parked);
    if group.members.is_empty() {
        group.protocol_type = Some(protocol_type.to_string());
    }
    group.add_member(member);
    if group.is(GroupState::PreparingRebalance) && group.initial_delay.is_some() {
        group.new_member_added = true;
    }
    maybe_prepare_rebalance(group, cfg, now_ms, fx);
}

fn update_member_then_rebalance(
    group: &mut Group,
    cfg: &GroupConfig,
    member_id: &str,
    args: JoinArgs,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    if let Some(m) = group.members.get_mut(member_id) {
        if let Some(old) = m.awaiting_join.replace(args.parked) {
            respond_join(
                fx,
                old.request,
                JoinOutcome::failed(GroupError::RebalanceInProgress, member_id),
            );
        }
        m.protocols = args.protocols;
        m.session_timeout_ms = args.session_timeout_ms;
        m.rebalance_timeout_ms = args.rebalance_timeout_ms;
    }
    maybe_prepare_rebalance(group, cfg, now_ms, fx);
}

#[expect(clippy::too_many_arguments, reason = "one JoinGroup request")]
fn join_existing(
    group: &mut Group,
    cfg: &GroupConfig,
    req: &JoinGroupRequest,
    client_id: &str,
    client_host: &str,
    args: JoinArgs,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    let member_id = req.member_id.as_str();
    if group.pending_members.remove(member_id).is_some() {
        let member = Member {
            member_id: member_id.to_string(),
            instance_id: req.group_instance_id.clone(),
            client_id: client_id.to_string(),
            client_host: client_host.to_string(),
            session_timeout_ms: args.session_timeout_ms,
            rebalance_timeout_ms: args.rebalance_timeout_ms,
            protocols: args.protocols.clone(),
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            heartbeat_deadline_ms: now_ms.saturating_add(i64::from(args.session_timeout_ms)),
        };
        add_member_then_rebalance(group, cfg, member, &req.protocol_type, args, now_ms, fx);
        return;
    }
    let request = args.parked.request;
    if let Err(e) = validate_member(group, member_id, req.group_instance_id.as_deref()) {
        respond_join(fx, request, JoinOutcome::failed(e, member_id));
        return;
    }
    let (same, is_leader) = match group.members.get(member_id) {
        Some(m) => (
            m.same_protocols(&args.protocols),
            group.leader_id.as_deref() == Some(member_id),
        ),
        None => (false, false),
    };
    match group.state {
        GroupState::PreparingRebalance => {
            update_member_then_rebalance(group, cfg, member_id, args, now_ms, fx);
        }
        GroupState::CompletingRebalance if same => {
            // The member lost the JoinGroup answer: send it again.
            respond_join(
                fx,
                request,
                current_join_outcome(group, member_id, is_leader),
            );
        }
        GroupState::Stable if same && !is_leader => {
            respond_join(fx, request, current_join_outcome(group, member_id, false));
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            update_member_then_rebalance(group, cfg, member_id, args, now_ms, fx);
        }
        GroupState::Empty | GroupState::Dead => {
            respond_join(
                fx,
                request,
                JoinOutcome::failed(GroupError::UnknownMemberId, member_id),
            );
        }
    }
}

/// A static member rejoins with an unknown member id (KIP-345): the new id
/// replaces the old one, which is fenced. In a stable group whose selected
/// protocol is unchanged the member keeps its assignment without a
/// rebalance.
fn join_replacing_static(
    group: &mut Group,
    cfg: &GroupConfig,
    member: Member,
    args: JoinArgs,
    now_ms: i64,
    fx: &mut Vec<Effect>,
) {
    let Some(instance) = member.instance_id.clone() else {
        return;
    };
    let Some(old_id) = group.static_members.get(&instance).cloned() else {
        return;
    };
    let Some(mut old) = group.members.remove(&old_id) else {
        return;
    };
    release_member(&old, GroupError::FencedInstanceId, fx);
    old.awaiting_join = None;
    old.awaiting_sync = None;
    let new_id = member.member_id.clone();
    let protocol = group.protocol_name.clone();
    let unchanged = protocol.as_ref().is_some_and(|p| {
        args.protocols
            .iter()
            .any(|(n, m)| n == p && *m == old.metadata_for(p))
    });
    old.member_id = new_id.clone();
    old.client_id = member.client_id;
    old.client_host = member.client_host;
    old.heartbeat_deadline_ms = now_ms.saturating_add(i64::from(args.session_timeout_ms));
    group.static_members.insert(instance, new_id.clone());
    if group.pending_sync.remove(&old_id) {
        group.pending_sync.insert(new_id.clone());
    }
    let was_leader = group.leader_id.as_deref() == Some(old_id.as_str());
    if was_leader {
        group.leader_id = Some(new_id.clone());
    }
    group.members.insert(new_id.clone(), old);
    if group.is(GroupState::Stable) && unchanged {
        if let Some(m) = group.members.get_mut(&new_id) {
            m.protocols = args.protocols;
            m.session_timeout_ms = args.session_timeout_ms;
            m.rebalance_timeout_ms = args.rebalance_timeout_ms;
        }
        persist_group(group, fx);
        let skip = was_leader && args.parked.version >= 9;
        let mut out = current_join_outcome(group, &new_id, skip);
        out.skip_assignment = skip;
        respond_join(fx, args.parked.request, out);
    } else {
        update_member_then_rebalance(group, cfg, &new_id, args, now_ms, fx);
    }
}
