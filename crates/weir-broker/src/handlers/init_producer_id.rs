//! InitProducerId (key 22) for idempotent producers: hands out a fresh
//! producer id with epoch 0 (Kafka does the same for a producer without a
//! `transactional.id`, whatever id and epoch it sends in v3+). Ids come from
//! blocks recorded in the metadata log, so no id is ever handed out twice,
//! across restarts too. Transactional ids need the transaction coordinator,
//! which is not served yet: they get UNSUPPORTED_VERSION.

use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use crate::broker::Broker;
use crate::errors::ErrorCode;

/// Answer InitProducerId.
pub async fn handle(
    broker: &Broker,
    _version: i16,
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
        tracing::warn!(
            transactional_id = txn,
            "InitProducerId refused: transactions are not supported yet"
        );
        resp.error_code = ErrorCode::UnsupportedVersion.code();
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
