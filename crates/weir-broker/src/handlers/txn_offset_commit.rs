//! TxnOffsetCommit (key 28): offsets committed inside a transaction
//! (`send_offsets_to_transaction`). They are appended to the group's
//! `__consumer_offsets` partition as a transactional batch of the producer
//! and become visible only when the transaction commits (see
//! `weir-group`'s `txn_offsets`). Answered once durable.
//!
//! Checks, as Kafka: the producer must be the transaction's current one
//! and the group's offsets partition must be in its open transaction
//! (AddOffsetsToTxn first; KIP-890 verification), else INVALID_TXN_STATE,
//! or INVALID_PRODUCER_EPOCH for a fenced producer at every version: Kafka's
//! `AddPartitionsToTxnManager` turns the coordinator's PRODUCER_FENCED into
//! it ("producers expect to handle INVALID_PRODUCER_EPOCH"), and the
//! append of the batch itself refuses a stale epoch with it. v3+ member and
//! generation checks give UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
//! FENCED_INSTANCE_ID (v0-v2 carry no member fields and skip them).
//!
//! Write failures map as Kafka's `GroupMetadataManager` maps them: storage
//! errors to NOT_COORDINATOR, a missing offsets partition to
//! COORDINATOR_NOT_AVAILABLE. v0-v1 get COORDINATOR_NOT_AVAILABLE for
//! COORDINATOR_LOAD_IN_PROGRESS, which those clients do not retry
//! (`KafkaApis.handleTxnOffsetCommitRequest`, KAFKA-7296).

use std::future::Future;
use std::sync::Arc;

use weir_group::{CommitPartition, TxnCommitRequest};
use weir_protocol::messages::txn_offset_commit_request::TxnOffsetCommitRequest;
use weir_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, append_error_code, group_error_code, txn_error_code};
use crate::group_service::{OFFSETS_TOPIC, PersistError, partition_for};
use crate::handlers::offset_commit::partition_exists;
use crate::partition::AppendError;

/// First version with member id, generation and instance id.
const MEMBER_FIELDS_MIN_VERSION: i16 = 3;
/// First version whose clients retry COORDINATOR_LOAD_IN_PROGRESS.
const LOAD_IN_PROGRESS_MIN_VERSION: i16 = 2;

/// The code a failed write of the offsets answers.
fn persist_error_code(e: &PersistError) -> ErrorCode {
    match e {
        // The producer's epoch is stale (INVALID_PRODUCER_EPOCH), or its
        // transaction state refuses the batch.
        PersistError::Append(a @ AppendError::Sequence(_) | a @ AppendError::Marker(_)) => {
            append_error_code(a)
        }
        PersistError::Append(AppendError::Storage(_)) | PersistError::Storage(_) => {
            ErrorCode::NotCoordinator
        }
        PersistError::Unavailable(_) => ErrorCode::CoordinatorNotAvailable,
        // Records were validated before: encoding them cannot fail.
        PersistError::Record(_) => ErrorCode::UnknownServerError,
    }
}

fn all(req: &TxnOffsetCommitRequest, code: ErrorCode) -> TxnOffsetCommitResponse {
    TxnOffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| TxnOffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The transaction must hold the group's offsets partition.
fn verify(broker: &Broker, req: &TxnOffsetCommitRequest) -> Result<(), ErrorCode> {
    if !broker.txns.is_ready() {
        return Err(ErrorCode::CoordinatorLoadInProgress);
    }
    let count = broker.config.offsets_topic_num_partitions.max(1);
    let count = broker.image().topic(OFFSETS_TOPIC).map_or(count, |t| {
        i32::try_from(t.partitions.len()).unwrap_or(count)
    });
    let tp = [(
        OFFSETS_TOPIC.to_string(),
        partition_for(&req.group_id, count),
    )];
    let verdict = broker.txns.verify_partitions(
        &req.transactional_id,
        req.producer_id,
        req.producer_epoch,
        &tp,
    );
    match verdict.into_iter().next().map(|(_, r)| r) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(txn_error_code(&e, true)),
        None => Err(ErrorCode::InvalidTxnState),
    }
}

/// Run the commit now; the future yields the answer once it is durable.
pub fn begin(
    broker: &Arc<Broker>,
    version: i16,
    req: TxnOffsetCommitRequest,
) -> impl Future<Output = TxnOffsetCommitResponse> + Send + 'static {
    let early = if !broker.groups.is_ready() {
        Some(all(&req, ErrorCode::CoordinatorLoadInProgress))
    } else if req.group_id.is_empty() {
        // Checked before verification, as Kafka's GroupCoordinatorService.
        Some(all(&req, ErrorCode::InvalidGroupId))
    } else if let Err(code) = verify(broker, &req) {
        tracing::info!(transactional_id = %req.transactional_id, group = %req.group_id, ?code, "TxnOffsetCommit refused");
        Some(all(&req, code))
    } else {
        None
    };
    let member = version >= MEMBER_FIELDS_MIN_VERSION;
    let commit = TxnCommitRequest {
        group_id: req.group_id.clone(),
        producer_id: req.producer_id,
        producer_epoch: req.producer_epoch,
        generation_id: if member { req.generation_id } else { -1 },
        member_id: if member {
            req.member_id.clone()
        } else {
            String::new()
        },
        group_instance_id: if member {
            req.group_instance_id.clone()
        } else {
            None
        },
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
    let waiting = early.is_none().then(|| {
        let b = broker.clone();
        let exists = move |t: &str, p: i32| partition_exists(&b, t, p);
        broker.groups.call(broker, &commit.group_id, |c, now| {
            c.txn_commit_offsets(&commit, &exists, now)
        })
    });
    async move {
        let mut resp = match (early, waiting) {
            (Some(resp), _) => resp,
            (None, None) => all(&req, ErrorCode::UnknownServerError),
            (None, Some(waiting)) => match waiting.wait().await {
                Ok(Err(e)) => all(&req, group_error_code(&e)),
                Ok(Ok(results)) => {
                    let mut resp = all(&req, ErrorCode::None);
                    let mut results = results.into_iter();
                    for t in &mut resp.topics {
                        for p in &mut t.partitions {
                            if let Some(Err(e)) = results.next() {
                                p.error_code = group_error_code(&e).code();
                            }
                        }
                    }
                    resp
                }
                Err(e) => {
                    tracing::info!(group = %req.group_id, producer_id = req.producer_id, error = %e, "transactional offset commit not written");
                    all(&req, persist_error_code(&e))
                }
            },
        };
        if version < LOAD_IN_PROGRESS_MIN_VERSION {
            for p in resp.topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
                if p.error_code == ErrorCode::CoordinatorLoadInProgress.code() {
                    p.error_code = ErrorCode::CoordinatorNotAvailable.code();
                }
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer_state::SequenceError;

    #[test]
    fn write_failures_map_as_kafka() {
        let fenced =
            PersistError::Append(AppendError::Sequence(SequenceError::InvalidProducerEpoch {
                producer_id: 1,
                epoch: 0,
                current: 1,
            }));
        let cases = [
            (fenced, ErrorCode::InvalidProducerEpoch),
            (
                PersistError::Append(AppendError::Storage(weir_storage::StorageError::LogOffline)),
                ErrorCode::NotCoordinator,
            ),
            (
                PersistError::Storage(weir_storage::StorageError::LogOffline),
                ErrorCode::NotCoordinator,
            ),
            (
                PersistError::Unavailable(3),
                ErrorCode::CoordinatorNotAvailable,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(persist_error_code(&e), want, "{e:?}");
        }
    }
}
