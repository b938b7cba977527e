//! TxnOffsetCommit (key 28): offsets committed inside a transaction
//! (`send_offsets_to_transaction`). They are appended to the group's
//! `__consumer_offsets` partition as a transactional batch of the producer
//! and become visible only when the transaction commits (see
//! `weir-group`'s `txn_offsets`). Answered once durable.
//!
//! Checks, as Kafka: the producer must be the transaction's current one
//! and the group's offsets partition must be in its open transaction
//! (AddOffsetsToTxn first; KIP-890 verification), else PRODUCER_FENCED
//! (v0-v2, which predate it: INVALID_PRODUCER_EPOCH) or INVALID_TXN_STATE;
//! v3+ member and generation checks give UNKNOWN_MEMBER_ID,
//! ILLEGAL_GENERATION, FENCED_INSTANCE_ID.

use std::future::Future;
use std::sync::Arc;

use weir_group::{CommitPartition, TxnCommitRequest};
use weir_protocol::messages::txn_offset_commit_request::TxnOffsetCommitRequest;
use weir_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code, txn_error_code};
use crate::group_service::{OFFSETS_TOPIC, PersistError, partition_for};
use crate::handlers::offset_commit::partition_exists;

/// First version with member id, generation and instance id.
const MEMBER_FIELDS_MIN_VERSION: i16 = 3;
/// First version that knows PRODUCER_FENCED.
const PRODUCER_FENCED_MIN_VERSION: i16 = 3;

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
fn verify(broker: &Broker, version: i16, req: &TxnOffsetCommitRequest) -> Result<(), ErrorCode> {
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
        Some(Err(e)) => Err(txn_error_code(&e, version < PRODUCER_FENCED_MIN_VERSION)),
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
    } else if let Err(code) = verify(broker, version, &req) {
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
        if let Some(resp) = early {
            return resp;
        }
        let Some(waiting) = waiting else {
            return all(&req, ErrorCode::UnknownServerError);
        };
        match waiting.wait().await {
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
            Err(PersistError::Append(e)) => all(&req, crate::errors::append_error_code(&e)),
            Err(e) => {
                tracing::error!(group = %req.group_id, error = %e, "transactional offset commit not written");
                all(&req, ErrorCode::CoordinatorNotAvailable)
            }
        }
    }
}
