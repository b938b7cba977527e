//! FindCoordinator (key 10): the null broker coordinates every group and
//! transactional id. Consumers with a `group.id` look their coordinator up
//! even when they only `assign()` and never commit; answering lets them do
//! so without an error loop. No group API is served behind it.

use weir_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use weir_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};

use crate::null_broker::{NODE_ID, NullBroker};

/// FindCoordinator v4 is the first to look up several keys at once.
const BATCHED_KEYS_VERSION: i16 = 4;

/// Answer FindCoordinator.
pub fn handle(
    broker: &NullBroker,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = broker.advertised.clone();
    if version >= BATCHED_KEYS_VERSION {
        return FindCoordinatorResponse {
            coordinators: req
                .coordinator_keys
                .into_iter()
                .map(|key| Coordinator {
                    key,
                    node_id: NODE_ID,
                    host: host.clone(),
                    port,
                    error_code: 0,
                    error_message: None,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    FindCoordinatorResponse {
        error_code: 0,
        error_message: None,
        node_id: NODE_ID,
        host,
        port,
        ..Default::default()
    }
}
