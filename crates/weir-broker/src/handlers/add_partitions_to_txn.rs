//! AddPartitionsToTxn (key 24): add partitions to the producer's open
//! transaction (starting it if none is open).
//!
//! * v0-v3: one transaction, from the producer; the answer lists each
//!   partition's error. v0-v1 answer a fenced producer with
//!   INVALID_PRODUCER_EPOCH, v2+ with PRODUCER_FENCED (KIP-588).
//! * v4+: the batched form brokers send (KIP-890), several transactions,
//!   each optionally `verify_only` (only check that the partitions already
//!   are in the open transaction).
//!
//! As in Kafka, if any partition does not exist it gets
//! UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED, and
//! nothing is added.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic,
};
use weir_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResponse, AddPartitionsToTxnResult,
    AddPartitionsToTxnTopicResult,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, txn_call_error_code, txn_error_code};
use crate::txn_service::TxnService;

/// First version that knows PRODUCER_FENCED.
const PRODUCER_FENCED_MIN_VERSION: i16 = 2;
/// First version of the batched (broker) form.
const BATCHED_MIN_VERSION: i16 = 4;

fn flatten(topics: &[AddPartitionsToTxnTopic]) -> Vec<(String, i32)> {
    topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), *p)))
        .collect()
}

fn results(codes: Vec<((String, i32), i16)>) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut by_topic: BTreeMap<String, Vec<AddPartitionsToTxnPartitionResult>> = BTreeMap::new();
    for ((topic, partition), code) in codes {
        by_topic
            .entry(topic)
            .or_default()
            .push(AddPartitionsToTxnPartitionResult {
                partition_index: partition,
                partition_error_code: code,
                ..Default::default()
            });
    }
    by_topic
        .into_iter()
        .map(
            |(name, results_by_partition)| AddPartitionsToTxnTopicResult {
                name,
                results_by_partition,
                ..Default::default()
            },
        )
        .collect()
}

/// Add (or, `verify_only`, check) one transaction's partitions.
async fn one(
    broker: &Arc<Broker>,
    version: i16,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    partitions: Vec<(String, i32)>,
) -> Vec<((String, i32), i16)> {
    let fenced_as_epoch = version < PRODUCER_FENCED_MIN_VERSION;
    if verify_only {
        return broker
            .txns
            .verify_partitions(txn_id, producer_id, epoch, &partitions)
            .into_iter()
            .map(|(tp, r)| {
                (
                    tp,
                    r.map_or_else(|e| txn_error_code(&e, false).code(), |()| 0),
                )
            })
            .collect();
    }
    let image = broker.image();
    let unknown: Vec<bool> = partitions
        .iter()
        .map(|(t, p)| {
            image
                .topic(t)
                .is_none_or(|topic| !topic.partitions.contains_key(p))
        })
        .collect();
    if unknown.iter().any(|u| *u) {
        return partitions
            .into_iter()
            .zip(unknown)
            .map(|(tp, u)| {
                let code = if u {
                    ErrorCode::UnknownTopicOrPartition
                } else {
                    ErrorCode::OperationNotAttempted
                };
                (tp, code.code())
            })
            .collect();
    }
    let code =
        match TxnService::add_partitions(broker, txn_id, producer_id, epoch, &partitions).await {
            Ok(()) => 0,
            Err(e) => {
                tracing::info!(transactional_id = txn_id, error = %e, "AddPartitionsToTxn refused");
                txn_call_error_code(&e, fenced_as_epoch).code()
            }
        };
    partitions.into_iter().map(|tp| (tp, code)).collect()
}

/// Answer AddPartitionsToTxn.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let mut resp = AddPartitionsToTxnResponse::default();
    if version < BATCHED_MIN_VERSION {
        let codes = one(
            broker,
            version,
            &req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            false,
            flatten(&req.v3_and_below_topics),
        )
        .await;
        resp.results_by_topic_v3_and_below = results(codes);
        return resp;
    }
    for t in &req.transactions {
        let codes = one(
            broker,
            version,
            &t.transactional_id,
            t.producer_id,
            t.producer_epoch,
            t.verify_only,
            flatten(&t.topics),
        )
        .await;
        resp.results_by_transaction.push(AddPartitionsToTxnResult {
            transactional_id: t.transactional_id.clone(),
            topic_results: results(codes),
            ..Default::default()
        });
    }
    resp
}
