//! OffsetCommit (key 8): validated by the group coordinator, appended to
//! the group's `__consumer_offsets` partition and answered once fsynced
//! (like acks=all). v0 commits come from outside any generation;
//! `retention_time_ms` (v2-v4) is ignored as in Kafka 4, retention is
//! `offsets.retention.minutes`.

use std::future::Future;
use std::sync::Arc;

use weir_group::{CommitPartition, CommitRequest};
use weir_protocol::messages::offset_commit_request::OffsetCommitRequest;
use weir_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code, group_result_code};

/// Whether `topic`-`partition` exists.
pub fn partition_exists(broker: &Broker, topic: &str, partition: i32) -> bool {
    broker
        .image()
        .topic(topic)
        .is_some_and(|t| t.partitions.contains_key(&partition))
}

/// Run the commit now; the future yields the answer once it is durable.
pub fn begin(
    broker: &Arc<Broker>,
    version: i16,
    req: OffsetCommitRequest,
) -> impl Future<Output = OffsetCommitResponse> + Send + 'static {
    let commit = CommitRequest {
        group_id: req.group_id.clone(),
        generation_id: if version >= 1 {
            req.generation_id_or_member_epoch
        } else {
            -1
        },
        member_id: req.member_id.clone(),
        group_instance_id: req.group_instance_id.clone(),
        partitions: req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| CommitPartition {
                    topic: t.name.clone(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.clone(),
                })
            })
            .collect(),
    };
    let waiting = broker.groups.is_ready().then(|| {
        let b = broker.clone();
        let exists = move |t: &str, p: i32| partition_exists(&b, t, p);
        broker.groups.call(broker, &commit.group_id, |c, now| {
            c.commit_offsets(version, &commit, &exists, now)
        })
    });
    async move {
        let codes: Vec<i16> = match waiting {
            None => vec![ErrorCode::CoordinatorNotAvailable.code(); commit.partitions.len()],
            Some(w) => match w.wait().await {
                Err(_) => vec![ErrorCode::NotCoordinator.code(); commit.partitions.len()],
                Ok(Err(e)) => vec![group_error_code(&e).code(); commit.partitions.len()],
                Ok(Ok(results)) => results.iter().map(group_result_code).collect(),
            },
        };
        let mut codes = codes.into_iter();
        OffsetCommitResponse {
            topics: req
                .topics
                .iter()
                .map(|t| OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: codes.next().unwrap_or(0),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}
