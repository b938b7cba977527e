//! InitProducerId (key 22).
//!
//! * Without a `transactional.id` (idempotent producers): a fresh producer
//!   id with epoch 0 (Kafka does the same whatever id and epoch v3+ sends).
//! * With one: the transaction coordinator bumps the id's epoch, fencing
//!   older producers with the same id and aborting their open transaction
//!   (see [`crate::txn_service`]). v3+ may name the producer id and epoch
//!   it had (KIP-360). v0-v3 answer a fenced producer with
//!   INVALID_PRODUCER_EPOCH, v4+ with PRODUCER_FENCED (KIP-588).
//!
//! Ids come from blocks recorded in the metadata log, so no id is ever
//! handed out twice, across restarts too.

use std::sync::Arc;

use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use crate::broker::Broker;
use crate::errors::{ErrorCode, txn_call_error_code};
use crate::txn_service::TxnService;

/// First InitProducerId version that knows PRODUCER_FENCED.
const PRODUCER_FENCED_MIN_VERSION: i16 = 4;
/// First version carrying the producer's current id and epoch.
const KIP_360_MIN_VERSION: i16 = 3;

/// Answer InitProducerId.
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse {
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if req.transactional_id.as_deref() == Some("") {
        // Kafka's TransactionCoordinator: an empty transactional id is invalid.
        resp.error_code = ErrorCode::InvalidRequest.code();
        return resp;
    }
    if let Some(txn) = req.transactional_id.as_deref() {
        let expected = (version >= KIP_360_MIN_VERSION && req.producer_id >= 0)
            .then_some((req.producer_id, req.producer_epoch));
        match TxnService::init_producer_id(broker, txn, req.transaction_timeout_ms, expected).await
        {
            Ok((id, epoch)) => {
                resp.producer_id = id;
                resp.producer_epoch = epoch;
            }
            Err(e) => {
                tracing::info!(transactional_id = txn, error = %e, "InitProducerId refused");
                resp.error_code =
                    txn_call_error_code(&e, version < PRODUCER_FENCED_MIN_VERSION).code();
            }
        }
        return resp;
    }
    match broker.next_producer_id().await {
        Ok(id) => {
            resp.producer_id = id;
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!(error = %e, "allocating a producer id failed");
            resp.error_code = ErrorCode::UnknownServerError.code();
        }
    }
    resp
}
