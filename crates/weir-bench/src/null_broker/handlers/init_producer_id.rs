//! InitProducerId (key 22): hand out producer ids so idempotent producers
//! work. There is no transaction coordinator and no sequence checking: the
//! null broker accepts every batch in order, as a broker does for a
//! producer that makes no mistakes.

use std::sync::atomic::Ordering;

use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use crate::null_broker::NullBroker;
use crate::null_broker::error_codes::ErrorCode;

/// Answer InitProducerId.
pub fn handle(broker: &NullBroker, req: InitProducerIdRequest) -> InitProducerIdResponse {
    if req.transactional_id.is_some() {
        // No transactions here; a fatal error beats a retry loop.
        return InitProducerIdResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
    }
    // KIP-360 (v3+): an idempotent producer may ask to bump its own epoch.
    if req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        return InitProducerIdResponse {
            error_code: ErrorCode::None.code(),
            producer_id: req.producer_id,
            producer_epoch: req.producer_epoch + 1,
            ..Default::default()
        };
    }
    InitProducerIdResponse {
        error_code: ErrorCode::None.code(),
        producer_id: broker.next_producer_id.fetch_add(1, Ordering::Relaxed),
        producer_epoch: 0,
        ..Default::default()
    }
}
