//! One classic group: its members, generation and committed offsets.
//!
//! Invariants:
//! * `leader_id`, when set, names a member in `members`;
//! * `static_members` maps each instance id to the member that holds it,
//!   and every static member is in it;
//! * a member has `awaiting_join` only in PreparingRebalance and
//!   `awaiting_sync` only in CompletingRebalance.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::record::{GroupMetadataValue, MemberMetadata};
use crate::types::RequestId;

/// Kafka's classic group states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (may hold offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Waiting for the leader's assignment.
    CompletingRebalance,
    /// Assigned and running.
    Stable,
    /// Being removed.
    Dead,
}

impl GroupState {
    /// Kafka's name (DescribeGroups, ListGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A parked JoinGroup request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParkedJoin {
    pub(crate) request: RequestId,
    pub(crate) version: i16,
}

/// One member.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    /// (protocol name, metadata) in the member's preference order.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    pub(crate) awaiting_join: Option<ParkedJoin>,
    pub(crate) awaiting_sync: Option<RequestId>,
    pub(crate) heartbeat_deadline_ms: i64,
}

impl Member {
    pub(crate) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub(crate) fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }
}

/// A committed (or pending transactional) offset in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offset {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_timestamp_ms: i64,
    /// Where the record that set it lies in the log, as a coordinator-wide
    /// counter taken when the record is applied (live or replayed). Kafka
    /// compares record offsets to decide whether a transaction's offset,
    /// materialized at its commit marker, is newer than the committed one;
    /// within one group (whose records all live in one partition) the
    /// counter orders records exactly as their log offsets do.
    pub(crate) log_order: u64,
}

impl Offset {
    /// The offset a record's value sets, applied at `log_order`.
    pub(crate) fn from_value(v: crate::record::OffsetValue, log_order: u64) -> Offset {
        Offset {
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata,
            commit_timestamp_ms: v.commit_timestamp_ms,
            log_order,
        }
    }
}

/// A group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) group_id: String,
    pub(crate) state: GroupState,
    pub(crate) state_timestamp_ms: i64,
    pub(crate) generation_id: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader_id: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    pub(crate) static_members: BTreeMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pub(crate) pending_members: BTreeMap<String, i64>,
    /// Members that have not sent SyncGroup in this generation.
    pub(crate) pending_sync: BTreeSet<String>,
    /// When the join phase ends at the latest.
    pub(crate) join_deadline_ms: Option<i64>,
    /// Initial-rebalance delay: (time left to extend by, delay per step).
    pub(crate) initial_delay: Option<(i64, i64)>,
    /// A member joined during the initial delay.
    pub(crate) new_member_added: bool,
    /// When members that have not synced are removed.
    pub(crate) sync_deadline_ms: Option<i64>,
    pub(crate) offsets: BTreeMap<(String, i32), Offset>,
}

impl Group {
    pub(crate) fn new(group_id: &str, now_ms: i64) -> Group {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            state_timestamp_ms: now_ms,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            join_deadline_ms: None,
            initial_delay: None,
            new_member_added: false,
            sync_deadline_ms: None,
            offsets: BTreeMap::new(),
        }
    }

    pub(crate) fn transition(&mut self, to: GroupState, now_ms: i64) {
        self.state = to;
        self.state_timestamp_ms = now_ms;
    }

    pub(crate) fn is(&self, s: GroupState) -> bool {
        self.state == s
    }

    /// Kafka's `supportsProtocols`.
    pub(crate) fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(n, _)| self.all_support(n))
    }

    fn all_support(&self, name: &str) -> bool {
        self.members
            .values()
            .all(|m| m.protocols.iter().any(|(p, _)| p == name))
    }

    /// Protocols every member supports, each member voting for its most
    /// preferred one; most votes wins, ties go to the earlier candidate in
    /// the leader's (or first member's) preference order.
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let first = self
            .leader_id
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| self.all_support(n))
            .collect();
        let mut best: Option<(&String, usize)> = None;
        for c in &candidates {
            let votes = self
                .members
                .values()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .map(|(n, _)| n)
                        .find(|n| candidates.contains(n))
                        == Some(*c)
                })
                .count();
            if best.is_none_or(|(_, v)| votes > v) {
                best = Some((c, votes));
            }
        }
        best.map(|(c, _)| c.clone())
    }

    pub(crate) fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    /// The largest rebalance timeout among members (Kafka's `rebalanceTimeoutMs`).
    pub(crate) fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn add_member(&mut self, m: Member) {
        if self.leader_id.is_none() {
            self.leader_id = Some(m.member_id.clone());
        }
        if let Some(i) = &m.instance_id {
            self.static_members.insert(i.clone(), m.member_id.clone());
        }
        self.members.insert(m.member_id.clone(), m);
    }

    /// Remove a member; returns it (its parked requests must be answered).
    pub(crate) fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let m = self.members.remove(member_id)?;
        if let Some(i) = &m.instance_id
            && self.static_members.get(i).map(String::as_str) == Some(member_id)
        {
            self.static_members.remove(i);
        }
        self.pending_sync.remove(member_id);
        if self.leader_id.as_deref() == Some(member_id) {
            // Prefer a member already waiting to join, as Kafka does.
            self.leader_id = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .or_else(|| self.members.values().next())
                .map(|m| m.member_id.clone());
        }
        Some(m)
    }

    /// The group's metadata record value.
    pub(crate) fn metadata_value(&self) -> GroupMetadataValue {
        let protocol = self.protocol_name.clone();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation_id: self.generation_id,
            protocol: protocol.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp_ms: self.state_timestamp_ms,
            members: self
                .members
                .values()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .map(|p| m.metadata_for(p))
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// Rebuild membership from a metadata record (offsets are kept).
    pub(crate) fn load_metadata(&mut self, v: GroupMetadataValue) {
        self.protocol_type = Some(v.protocol_type).filter(|p| !p.is_empty());
        self.generation_id = v.generation_id;
        self.protocol_name = v.protocol.clone();
        self.state_timestamp_ms = v.current_state_timestamp_ms;
        self.members.clear();
        self.static_members.clear();
        self.pending_members.clear();
        self.pending_sync.clear();
        self.join_deadline_ms = None;
        self.sync_deadline_ms = None;
        self.initial_delay = None;
        self.leader_id = None;
        for m in v.members {
            let protocols = match &v.protocol {
                Some(p) => vec![(p.clone(), m.subscription.clone())],
                None => Vec::new(),
            };
            self.add_member(Member {
                member_id: m.member_id,
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocols,
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                heartbeat_deadline_ms: i64::MAX,
            });
        }
        if let Some(l) = v.leader
            && self.members.contains_key(&l)
        {
            self.leader_id = Some(l);
        }
        self.state = if self.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
    }

    /// Topics the members subscribe to, when the protocol type is
    /// `consumer` and every subscription decodes; `None` if unknown.
    pub(crate) fn subscribed_topics(&self) -> Option<BTreeSet<String>> {
        use weir_protocol::codec::Message;
        use weir_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut out = BTreeSet::new();
        for m in self.members.values() {
            let mut b = m.metadata_for(protocol);
            let version = weir_protocol::codec::read_i16(&mut b).ok()?;
            let version = version.clamp(0, ConsumerProtocolSubscription::MAX_VERSION);
            let sub = ConsumerProtocolSubscription::decode(&mut b, version).ok()?;
            out.extend(sub.topics);
        }
        Some(out)
    }

    /// The earliest time this group needs a tick.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        let members = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.awaiting_sync.is_none())
            .map(|m| m.heartbeat_deadline_ms);
        let pending = self.pending_members.values().copied();
        members
            .chain(pending)
            .chain(self.join_deadline_ms)
            .chain(self.sync_deadline_ms)
            .min()
    }
}
