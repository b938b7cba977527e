//! EndTxn (key 26): commit or abort the producer's transaction. Answered
//! once the markers are in every partition of the transaction and the
//! coordinator recorded the transaction complete (see
//! [`crate::txn_service`]). v0-v1 answer a fenced producer with
//! INVALID_PRODUCER_EPOCH, v2+ with PRODUCER_FENCED (KIP-588).

use std::sync::Arc;

use weir_protocol::messages::end_txn_request::EndTxnRequest;
use weir_protocol::messages::end_txn_response::EndTxnResponse;

use crate::broker::Broker;
use crate::errors::txn_call_error_code;
use crate::txn_service::TxnService;

/// First EndTxn version that knows PRODUCER_FENCED.
const PRODUCER_FENCED_MIN_VERSION: i16 = 2;

/// Answer EndTxn.
pub async fn handle(broker: &Arc<Broker>, version: i16, req: EndTxnRequest) -> EndTxnResponse {
    let mut resp = EndTxnResponse {
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let result = TxnService::end_txn(
        broker,
        &req.transactional_id,
        req.producer_id,
        req.producer_epoch,
        req.committed,
    )
    .await;
    match result {
        // v5 echoes the producer id and epoch to use next (the epoch is
        // bumped per transaction only with transaction version 2, which
        // this broker does not enable, so they are unchanged).
        Ok(()) => {
            resp.producer_id = req.producer_id;
            resp.producer_epoch = req.producer_epoch;
        }
        Err(e) => {
            tracing::info!(transactional_id = %req.transactional_id, error = %e, "EndTxn refused");
            resp.error_code = txn_call_error_code(&e, version < PRODUCER_FENCED_MIN_VERSION).code();
        }
    }
    resp
}
