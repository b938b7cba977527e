//! Heartbeat (key 12).

use std::sync::Arc;

use weir_group::Outcome;
use weir_protocol::messages::heartbeat_request::HeartbeatRequest;
use weir_protocol::messages::heartbeat_response::HeartbeatResponse;

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_result_code};

/// Answer a Heartbeat request.
pub fn handle(broker: &Arc<Broker>, _version: i16, req: HeartbeatRequest) -> HeartbeatResponse {
    let error_code = if broker.groups.is_ready() {
        // A heartbeat writes nothing, so there is nothing to wait for.
        let w = broker.groups.call(broker, &req.group_id, |c, now| Outcome {
            result: c.heartbeat(&req, now),
            effects: Vec::new(),
        });
        group_result_code(&w.into_result())
    } else {
        ErrorCode::CoordinatorNotAvailable.code()
    };
    HeartbeatResponse {
        error_code,
        ..Default::default()
    }
}
