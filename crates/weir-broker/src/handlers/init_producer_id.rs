//! InitProducerId (key 22): idempotent and transactional producers are not
//! served yet, so the API is not advertised; a client that sends it anyway
//! gets a clean error instead of a closed connection.

use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use crate::errors::ErrorCode;

/// Answer InitProducerId with UNSUPPORTED_VERSION.
pub fn handle(_version: i16, req: InitProducerIdRequest) -> InitProducerIdResponse {
    tracing::warn!(
        transactional_id = ?req.transactional_id,
        "InitProducerId refused: idempotent and transactional producers are not supported yet"
    );
    InitProducerIdResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    }
}
