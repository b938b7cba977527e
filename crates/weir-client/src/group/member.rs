//! A minimal member of a classic consumer group: join, sync, heartbeat,
//! commit, leave. It does not fetch; pair it with a [`crate::Consumer`]
//! assigned [`GroupMember::assignment`] to consume.
//!
//! ## Invariants
//!
//! * `member_id` is empty only before the first JoinGroup answer; a
//!   MEMBER_ID_REQUIRED answer (JoinGroup v4+) carries the id to rejoin with.
//! * `generation_id` and `assignment` change together, after a SyncGroup
//!   that succeeded; a heartbeat or commit answering REBALANCE_IN_PROGRESS,
//!   ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID is returned to the caller, who
//!   calls [`GroupMember::rejoin`] (the member never rejoins on its own, so
//!   tests see every rebalance).
//! * When this member is elected leader it assigns with
//!   [`super::protocol::assign_round_robin`] over the partition counts it
//!   reads from Metadata.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use weir_protocol::api::ApiKey;
use weir_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use weir_protocol::messages::leave_group_request::MemberIdentity;
use weir_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use weir_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, OffsetCommitRequest, OffsetCommitResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use weir_types::TopicPartition;

use super::admin::{commit_results, commit_topics};
use super::protocol::{
    CONSUMER_PROTOCOL_TYPE, ROUND_ROBIN, assign_round_robin, decode_assignment,
    decode_subscription, encode_assignment, encode_subscription,
};
use super::{MEMBER_ID_REQUIRED, coordinator_connection};
use crate::client::Client;
use crate::connection::Connection;
use crate::error::{ClientError, check_code};

/// JoinGroup rounds one [`GroupMember::rejoin`] may take (a MEMBER_ID_REQUIRED
/// round trip, then rebalances racing with other members).
const JOIN_ATTEMPTS_MAX: u32 = 10;

/// How a member joins its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberConfig {
    /// `group.id`.
    pub group_id: String,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// `session.timeout.ms`: how long the coordinator waits for a
    /// heartbeat before it removes the member.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms` (the rebalance timeout): how long the
    /// coordinator waits for members to rejoin during a rebalance.
    pub rebalance_timeout: Duration,
    /// `group.instance.id` for static membership.
    pub group_instance_id: Option<String>,
}

impl GroupMemberConfig {
    /// Kafka's defaults (45 s session, 5 min rebalance timeout), dynamic
    /// membership.
    pub fn new(group_id: impl Into<String>, topics: Vec<String>) -> GroupMemberConfig {
        GroupMemberConfig {
            group_id: group_id.into(),
            topics,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            group_instance_id: None,
        }
    }
}

/// A member of a classic consumer group.
#[derive(Debug)]
pub struct GroupMember {
    client: Arc<Client>,
    config: GroupMemberConfig,
    conn: Option<Arc<Connection>>,
    member_id: String,
    generation_id: i32,
    leader_id: String,
    assignment: Vec<TopicPartition>,
}

impl GroupMember {
    /// Join the group and wait for the first assignment.
    pub async fn join(
        client: Arc<Client>,
        config: GroupMemberConfig,
    ) -> Result<GroupMember, ClientError> {
        let mut m = GroupMember {
            client,
            config,
            conn: None,
            member_id: String::new(),
            generation_id: -1,
            leader_id: String::new(),
            assignment: Vec::new(),
        };
        m.rejoin().await?;
        Ok(m)
    }

    /// The member id the coordinator gave this member.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation of the current assignment.
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Whether this member was elected leader of the current generation.
    pub fn is_leader(&self) -> bool {
        !self.member_id.is_empty() && self.member_id == self.leader_id
    }

    /// The partitions assigned to this member, sorted.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    async fn connection(&mut self) -> Result<Arc<Connection>, ClientError> {
        if let Some(c) = self.conn.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (_, conn) = coordinator_connection(&self.client, &self.config.group_id).await?;
        self.conn = Some(conn.clone());
        Ok(conn)
    }

    /// JoinGroup then SyncGroup until a generation is complete; updates the
    /// generation and assignment.
    pub async fn rejoin(&mut self) -> Result<(), ClientError> {
        let mut last = None;
        for _ in 0..JOIN_ATTEMPTS_MAX {
            match self.join_once().await {
                Ok(()) => return Ok(()),
                Err(e) if e.kafka_code() == Some(MEMBER_ID_REQUIRED) => {}
                Err(e) if e.kafka_code() == Some(super::REBALANCE_IN_PROGRESS) => {
                    last = Some(e);
                }
                Err(e) if e.kafka_code() == Some(super::UNKNOWN_MEMBER_ID) => {
                    self.member_id.clear();
                    last = Some(e);
                }
                Err(e) if super::is_coordinator_error(&e) => {
                    self.conn = None;
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(ClientError::UnexpectedResponse(
            "group join did not complete",
        )))
    }

    async fn join_once(&mut self) -> Result<(), ClientError> {
        let conn = self.connection().await?;
        let metadata = encode_subscription(&self.config.topics, &self.assignment)?;
        let req = JoinGroupRequest {
            group_id: self.config.group_id.clone(),
            session_timeout_ms: millis_i32(self.config.session_timeout),
            rebalance_timeout_ms: millis_i32(self.config.rebalance_timeout),
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
            protocols: vec![JoinGroupRequestProtocol {
                name: ROUND_ROBIN.to_owned(),
                metadata,
                ..Default::default()
            }],
            reason: None,
            ..Default::default()
        };
        let version = conn.version(ApiKey::JoinGroup)?;
        // The coordinator holds JoinGroup until every member has rejoined,
        // up to the rebalance timeout.
        let resp: JoinGroupResponse = conn
            .send_version(version, &req, self.config.rebalance_timeout)
            .await?;
        if resp.error_code == MEMBER_ID_REQUIRED && !resp.member_id.is_empty() {
            self.member_id = resp.member_id.clone();
        }
        check_code(resp.error_code, None)?;
        self.member_id = resp.member_id.clone();
        self.leader_id = resp.leader.clone();
        let generation_id = resp.generation_id;
        let assignments = if self.is_leader() && !resp.skip_assignment {
            self.assign(&resp).await?
        } else {
            Vec::new()
        };
        let sync = SyncGroupRequest {
            group_id: self.config.group_id.clone(),
            generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_owned()),
            protocol_name: resp.protocol_name.clone(),
            assignments,
            ..Default::default()
        };
        let version = conn.version(ApiKey::SyncGroup)?;
        let synced: SyncGroupResponse = conn
            .send_version(version, &sync, self.config.rebalance_timeout)
            .await?;
        check_code(synced.error_code, None)?;
        self.assignment = decode_assignment(&synced.assignment)?;
        self.generation_id = generation_id;
        Ok(())
    }

    /// The leader's assignment of every member's subscription.
    async fn assign(
        &self,
        resp: &JoinGroupResponse,
    ) -> Result<Vec<SyncGroupRequestAssignment>, ClientError> {
        let mut members = Vec::with_capacity(resp.members.len());
        let mut counts: BTreeMap<String, i32> = BTreeMap::new();
        for m in &resp.members {
            let topics = decode_subscription(&m.metadata)?;
            for t in &topics {
                if !counts.contains_key(t) {
                    self.client.invalidate_topic(t);
                    // A topic that does not exist gets no partitions.
                    if let Ok(meta) = self.client.topic(t, false).await {
                        counts.insert(t.clone(), meta.partition_count());
                    }
                }
            }
            members.push((m.member_id.clone(), topics));
        }
        let plan = assign_round_robin(&members, &counts);
        plan.into_iter()
            .map(|(member_id, partitions)| {
                Ok(SyncGroupRequestAssignment {
                    member_id,
                    assignment: encode_assignment(&partitions)?,
                    ..Default::default()
                })
            })
            .collect()
    }

    /// One heartbeat. REBALANCE_IN_PROGRESS (and the fencing errors) come
    /// back as errors: call [`GroupMember::rejoin`] then.
    pub async fn heartbeat(&mut self) -> Result<(), ClientError> {
        let conn = self.connection().await?;
        let req = HeartbeatRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            ..Default::default()
        };
        let (_, resp): (i16, HeartbeatResponse) = conn.send(&req).await?;
        check_code(resp.error_code, None)
    }

    /// Commit `offsets` in the current generation. One result per partition.
    pub async fn commit(
        &mut self,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<Vec<(TopicPartition, Result<(), ClientError>)>, ClientError> {
        let conn = self.connection().await?;
        let req = OffsetCommitRequest {
            group_id: self.config.group_id.clone(),
            generation_id_or_member_epoch: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            retention_time_ms: -1,
            topics: commit_topics(offsets),
            ..Default::default()
        };
        let (_, resp): (i16, OffsetCommitResponse) = conn.send(&req).await?;
        Ok(commit_results(&resp, offsets))
    }

    /// Leave the group (LeaveGroup), so it rebalances at once instead of
    /// after the session timeout.
    pub async fn leave(mut self) -> Result<(), ClientError> {
        let conn = self.connection().await?;
        // v0-v2 name one member, v3+ a batch; both are set.
        let req = LeaveGroupRequest {
            group_id: self.config.group_id.clone(),
            member_id: self.member_id.clone(),
            members: vec![MemberIdentity {
                member_id: self.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
                reason: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        let (_, resp): (i16, LeaveGroupResponse) = conn.send(&req).await?;
        check_code(resp.error_code, None)?;
        for m in &resp.members {
            check_code(m.error_code, None)?;
        }
        Ok(())
    }
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
