//! SyncGroup (key 14): followers wait for the leader's assignment; the
//! answer goes out once the new generation's metadata is durable.
//! Assignments are opaque bytes, delivered as the leader sent them.

use std::future::Future;
use std::sync::Arc;

use weir_group::{Response, SyncOutcome};
use weir_protocol::messages::sync_group_request::SyncGroupRequest;
use weir_protocol::messages::sync_group_response::SyncGroupResponse;

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_code};

fn response(o: SyncOutcome) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: group_code(o.error),
        protocol_type: o.protocol_type,
        protocol_name: o.protocol_name,
        assignment: o.assignment,
        ..Default::default()
    }
}

fn failed(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.code(),
        ..Default::default()
    }
}

/// Run the sync now; the future yields the answer.
pub fn begin(
    broker: &Arc<Broker>,
    _version: i16,
    req: SyncGroupRequest,
) -> impl Future<Output = SyncGroupResponse> + Send + 'static {
    let parked = broker.groups.is_ready().then(|| {
        broker
            .groups
            .park(broker, &req.group_id, |c, id, now| c.sync(id, &req, now))
    });
    async move {
        let Some(parked) = parked else {
            return failed(ErrorCode::CoordinatorNotAvailable);
        };
        match parked.wait().await {
            Some(Response::Sync(o)) => response(o),
            _ => failed(ErrorCode::UnknownServerError),
        }
    }
}
