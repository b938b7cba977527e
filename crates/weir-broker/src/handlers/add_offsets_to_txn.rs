//! AddOffsetsToTxn (key 25): add the group's `__consumer_offsets`
//! partition to the transaction, so the offsets the producer then commits
//! with TxnOffsetCommit are committed or dropped with it.

use std::sync::Arc;

use weir_protocol::messages::add_offsets_to_txn_request::AddOffsetsToTxnRequest;
use weir_protocol::messages::add_offsets_to_txn_response::AddOffsetsToTxnResponse;

use crate::broker::Broker;
use crate::errors::{ErrorCode, txn_call_error_code};
use crate::group_service::{OFFSETS_TOPIC, partition_for};
use crate::txn_service::TxnService;

/// First AddOffsetsToTxn version that knows PRODUCER_FENCED.
const PRODUCER_FENCED_MIN_VERSION: i16 = 2;

/// Answer AddOffsetsToTxn.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let mut resp = AddOffsetsToTxnResponse::default();
    if !broker.groups.is_ready() {
        resp.error_code = ErrorCode::CoordinatorLoadInProgress.code();
        return resp;
    }
    if req.group_id.is_empty() {
        resp.error_code = ErrorCode::InvalidGroupId.code();
        return resp;
    }
    let count = broker
        .image()
        .topic(OFFSETS_TOPIC)
        .map_or(0, |t| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX));
    let partition = (
        OFFSETS_TOPIC.to_string(),
        partition_for(&req.group_id, count),
    );
    let result = TxnService::add_partitions(
        broker,
        &req.transactional_id,
        req.producer_id,
        req.producer_epoch,
        &[partition],
    )
    .await;
    if let Err(e) = result {
        tracing::info!(transactional_id = %req.transactional_id, error = %e, "AddOffsetsToTxn refused");
        resp.error_code = txn_call_error_code(&e, version < PRODUCER_FENCED_MIN_VERSION).code();
    }
    resp
}
