//! Group administration, as `kafka-consumer-groups.sh` does it: list,
//! describe, committed offsets, offset resets and deletes.
//!
//! Offsets are committed on the admin path: generation -1 and an empty
//! member id, which a classic coordinator accepts only while the group has
//! no members (Empty or Dead state); it answers UNKNOWN_MEMBER_ID otherwise.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_protocol::api::ApiKey;
use weir_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use weir_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use weir_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};
use weir_types::TopicPartition;

use super::protocol::{CONSUMER_PROTOCOL_TYPE, decode_assignment};
use super::{Coordinator, with_coordinator};
use crate::client::Client;
use crate::error::{ClientError, check_code};

/// OffsetFetch v8 is the first with the batched `groups` form.
const OFFSET_FETCH_GROUPS_VERSION: i16 = 8;

/// A group in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer` for consumer groups, empty for groups that
    /// only commit offsets).
    pub protocol_type: String,
    /// State (`Empty`, `Stable`, ...), empty when the broker does not report
    /// it (ListGroups v0-v3).
    pub state: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberDescription {
    /// Member id the coordinator gave it.
    pub member_id: String,
    /// Static member id (`group.instance.id`), if any.
    pub group_instance_id: Option<String>,
    /// Client id of its connection.
    pub client_id: String,
    /// Host it connected from (Kafka prints it as `/127.0.0.1`).
    pub client_host: String,
    /// Its assigned partitions, sorted; `None` when the assignment is not a
    /// consumer-protocol assignment this client can read.
    pub assignment: Option<Vec<TopicPartition>>,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `PreparingRebalance`, `CompletingRebalance`,
    /// `Stable` or `Dead` (a group the coordinator does not know).
    pub state: String,
    /// Protocol type (`consumer`).
    pub protocol_type: String,
    /// The chosen protocol: for consumer groups, the assignor name.
    pub protocol: String,
    /// Members, sorted by member id.
    pub members: Vec<GroupMemberDescription>,
    /// The coordinator that answered.
    pub coordinator: Coordinator,
}

impl GroupDescription {
    /// Whether the group has no active members (offsets may be reset and
    /// the group deleted).
    pub fn is_inactive(&self) -> bool {
        matches!(self.state.as_str(), "Empty" | "Dead") && self.members.is_empty()
    }
}

/// A group's committed offset of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The partition.
    pub partition: TopicPartition,
    /// Committed offset, -1 for none.
    pub offset: i64,
    /// Leader epoch committed with it, -1 for none.
    pub leader_epoch: i32,
    /// Metadata string committed with it.
    pub metadata: Option<String>,
}

/// Consumer group administration over a [`Client`].
#[derive(Debug, Clone)]
pub struct GroupAdmin {
    client: Arc<Client>,
}

impl GroupAdmin {
    /// A group admin sharing `client`'s connections.
    pub fn new(client: Arc<Client>) -> GroupAdmin {
        GroupAdmin { client }
    }

    /// The coordinator of `group`.
    pub async fn find_coordinator(&self, group: &str) -> Result<Coordinator, ClientError> {
        super::find_coordinator(&self.client, group).await
    }

    /// Every group of every broker, sorted by id; with `states`, only groups
    /// in one of those states (filtered by the broker with ListGroups v4+,
    /// and here again for older brokers).
    pub async fn list_groups(&self, states: &[String]) -> Result<Vec<GroupListing>, ClientError> {
        let snapshot = self.client.metadata(Some(&[]), false).await?;
        let req = ListGroupsRequest {
            states_filter: states.to_vec(),
            ..Default::default()
        };
        let mut out: BTreeMap<String, GroupListing> = BTreeMap::new();
        for broker in &snapshot.brokers {
            let conn = self.client.broker_connection(broker.node_id).await?;
            let (_, resp): (i16, ListGroupsResponse) = conn.send(&req).await?;
            check_code(resp.error_code, None)?;
            for g in resp.groups {
                out.insert(
                    g.group_id.clone(),
                    GroupListing {
                        group_id: g.group_id,
                        protocol_type: g.protocol_type,
                        state: g.group_state,
                    },
                );
            }
        }
        Ok(out
            .into_values()
            .filter(|g| {
                states.is_empty()
                    || g.state.is_empty()
                    || states.iter().any(|s| s.eq_ignore_ascii_case(&g.state))
            })
            .collect())
    }

    /// Describe `group` (state, protocol, members and their assignments).
    /// A group the coordinator does not know is reported in state `Dead`.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        with_coordinator(&self.client, group, |coordinator, conn| async move {
            let req = DescribeGroupsRequest {
                groups: vec![group.to_owned()],
                include_authorized_operations: false,
                ..Default::default()
            };
            let (_, resp): (i16, DescribeGroupsResponse) = conn.send(&req).await?;
            let g = resp
                .groups
                .into_iter()
                .find(|g| g.group_id == group)
                .ok_or(ClientError::UnexpectedResponse(
                    "group missing from DescribeGroups response",
                ))?;
            check_code(g.error_code, None)?;
            let consumer = g.protocol_type == CONSUMER_PROTOCOL_TYPE;
            let mut members: Vec<GroupMemberDescription> = g
                .members
                .into_iter()
                .map(|m| GroupMemberDescription {
                    assignment: consumer
                        .then(|| decode_assignment(&m.member_assignment).ok())
                        .flatten(),
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                })
                .collect();
            members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
            Ok(GroupDescription {
                group_id: g.group_id,
                state: g.group_state,
                protocol_type: g.protocol_type,
                protocol: g.protocol_data,
                members,
                coordinator,
            })
        })
        .await
    }

    /// The committed offsets of `group`: of `partitions`, or of every
    /// partition it has committed when `None`. Sorted by partition.
    pub async fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<Vec<CommittedOffset>, ClientError> {
        let by_topic = partitions.map(|ps| {
            let mut m: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for tp in ps {
                m.entry(tp.topic.clone()).or_default().push(tp.partition);
            }
            m
        });
        with_coordinator(&self.client, group, |_, conn| {
            let by_topic = by_topic.clone();
            async move {
                let version = conn.version(ApiKey::OffsetFetch)?;
                // v0-v7 name one group, v8+ a batch of groups; each version
                // encodes only its own fields, so both are set.
                let req = OffsetFetchRequest {
                    group_id: group.to_owned(),
                    topics: by_topic.as_ref().map(|m| {
                        m.iter()
                            .map(|(name, ps)| OffsetFetchRequestTopic {
                                name: name.clone(),
                                partition_indexes: ps.clone(),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    groups: vec![OffsetFetchRequestGroup {
                        group_id: group.to_owned(),
                        member_id: None,
                        member_epoch: -1,
                        topics: by_topic.as_ref().map(|m| {
                            m.iter()
                                .map(|(name, ps)| OffsetFetchRequestTopics {
                                    name: name.clone(),
                                    partition_indexes: ps.clone(),
                                    ..Default::default()
                                })
                                .collect()
                        }),
                        ..Default::default()
                    }],
                    require_stable: false,
                    ..Default::default()
                };
                let resp: OffsetFetchResponse =
                    conn.send_version(version, &req, Default::default()).await?;
                offsets_from_response(resp, version, group)
            }
        })
        .await
    }

    /// Commit `offsets` for `group` on the admin path (generation -1, no
    /// member id), as `kafka-consumer-groups.sh --reset-offsets --execute`
    /// does. One result per partition.
    pub async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<Vec<(TopicPartition, Result<(), ClientError>)>, ClientError> {
        let req = OffsetCommitRequest {
            group_id: group.to_owned(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: commit_topics(offsets),
            ..Default::default()
        };
        let resp: OffsetCommitResponse = with_coordinator(&self.client, group, |_, conn| {
            let req = &req;
            async move {
                let (_, resp): (i16, OffsetCommitResponse) = conn.send(req).await?;
                // A coordinator error is reported per partition; retry those
                // at the (new) coordinator.
                if let Some(code) = resp
                    .topics
                    .iter()
                    .flat_map(|t| t.partitions.iter())
                    .map(|p| p.error_code)
                    .find(|c| matches!(*c, 14..=16))
                {
                    return Err(ClientError::kafka(code, None));
                }
                Ok(resp)
            }
        })
        .await?;
        Ok(commit_results(&resp, offsets))
    }

    /// Delete `group` (its committed offsets included). Fails with
    /// NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when the
    /// coordinator does not know it.
    pub async fn delete_group(&self, group: &str) -> Result<(), ClientError> {
        with_coordinator(&self.client, group, |_, conn| async move {
            let req = DeleteGroupsRequest {
                groups_names: vec![group.to_owned()],
                ..Default::default()
            };
            let (_, resp): (i16, DeleteGroupsResponse) = conn.send(&req).await?;
            let r = resp
                .results
                .into_iter()
                .find(|r| r.group_id == group)
                .ok_or(ClientError::UnexpectedResponse(
                    "group missing from DeleteGroups response",
                ))?;
            check_code(r.error_code, None)
        })
        .await
    }
}

/// OffsetCommit topics for `offsets`, grouped by topic.
pub(crate) fn commit_topics(offsets: &[(TopicPartition, i64)]) -> Vec<OffsetCommitRequestTopic> {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, offset) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: tp.partition,
            committed_offset: *offset,
            committed_leader_epoch: -1,
            commit_timestamp: -1,
            committed_metadata: Some(String::new()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name == tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(OffsetCommitRequestTopic {
                name: tp.topic.clone(),
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    topics
}

/// One result per committed partition, in the order of `offsets`.
pub(crate) fn commit_results(
    resp: &OffsetCommitResponse,
    offsets: &[(TopicPartition, i64)],
) -> Vec<(TopicPartition, Result<(), ClientError>)> {
    offsets
        .iter()
        .map(|(tp, _)| {
            let found = resp
                .topics
                .iter()
                .filter(|t| t.name == tp.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == tp.partition);
            let result = match found {
                None => Err(ClientError::UnexpectedResponse(
                    "partition missing from OffsetCommit response",
                )),
                Some(p) => check_code(p.error_code, None),
            };
            (tp.clone(), result)
        })
        .collect()
}

/// The offsets of `group` in an OffsetFetch response of `version`.
fn offsets_from_response(
    resp: OffsetFetchResponse,
    version: i16,
    group: &str,
) -> Result<Vec<CommittedOffset>, ClientError> {
    let mut out = Vec::new();
    if version >= OFFSET_FETCH_GROUPS_VERSION {
        let g = resp
            .groups
            .into_iter()
            .find(|g| g.group_id == group)
            .ok_or(ClientError::UnexpectedResponse(
                "group missing from OffsetFetch response",
            ))?;
        check_code(g.error_code, None)?;
        for t in g.topics {
            for p in t.partitions {
                check_code(p.error_code, None)?;
                out.push(CommittedOffset {
                    partition: TopicPartition::new(t.name.clone(), p.partition_index),
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.metadata,
                });
            }
        }
    } else {
        check_code(resp.error_code, None)?;
        for t in resp.topics {
            for p in t.partitions {
                check_code(p.error_code, None)?;
                out.push(CommittedOffset {
                    partition: TopicPartition::new(t.name.clone(), p.partition_index),
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.metadata,
                });
            }
        }
    }
    out.sort_by(|a, b| a.partition.cmp(&b.partition));
    Ok(out)
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;
    use weir_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };

    #[test]
    fn offsets_are_read_from_the_single_and_the_batched_form() {
        let single = OffsetFetchResponse {
            topics: vec![OffsetFetchResponseTopic {
                name: "t".into(),
                partitions: vec![
                    OffsetFetchResponsePartition {
                        partition_index: 1,
                        committed_offset: 7,
                        committed_leader_epoch: 2,
                        metadata: Some("m".into()),
                        ..Default::default()
                    },
                    OffsetFetchResponsePartition {
                        partition_index: 0,
                        committed_offset: -1,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let got = offsets_from_response(single, 7, "g").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].partition, TopicPartition::new("t", 0));
        assert_eq!(got[0].offset, -1);
        assert_eq!(got[1].offset, 7);
        assert_eq!(got[1].leader_epoch, 2);
        assert_eq!(got[1].metadata.as_deref(), Some("m"));

        let batched = OffsetFetchResponse {
            groups: vec![OffsetFetchResponseGroup {
                group_id: "g".into(),
                topics: vec![OffsetFetchResponseTopics {
                    name: "t".into(),
                    partitions: vec![OffsetFetchResponsePartitions {
                        partition_index: 3,
                        committed_offset: 9,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let got = offsets_from_response(batched.clone(), 8, "g").unwrap();
        assert_eq!(got[0].partition, TopicPartition::new("t", 3));
        assert_eq!(got[0].offset, 9);
        assert!(offsets_from_response(batched, 8, "other").is_err());

        let failed = OffsetFetchResponse {
            error_code: 16,
            ..Default::default()
        };
        let e = offsets_from_response(failed, 7, "g").unwrap_err();
        assert!(super::super::is_coordinator_error(&e), "{e}");
    }

    #[test]
    fn only_empty_or_dead_groups_without_members_are_inactive() {
        let d = |state: &str, members: usize| GroupDescription {
            group_id: "g".into(),
            state: state.into(),
            protocol_type: "consumer".into(),
            protocol: String::new(),
            members: (0..members)
                .map(|i| GroupMemberDescription {
                    member_id: format!("m{i}"),
                    group_instance_id: None,
                    client_id: String::new(),
                    client_host: String::new(),
                    assignment: None,
                })
                .collect(),
            coordinator: Coordinator {
                node_id: 1,
                host: "h".into(),
                port: 1,
            },
        };
        assert!(d("Empty", 0).is_inactive());
        assert!(d("Dead", 0).is_inactive());
        assert!(!d("Stable", 1).is_inactive());
        assert!(!d("PreparingRebalance", 0).is_inactive());
        assert!(!d("CompletingRebalance", 2).is_inactive());
    }
}
