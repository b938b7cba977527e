//! FindCoordinator (key 10): this node coordinates every group and every
//! transactional id (single node: it leads every `__consumer_offsets` and
//! `__transaction_state` partition). The first lookup of a transactional id
//! creates `__transaction_state` (as Kafka does) and answers
//! COORDINATOR_NOT_AVAILABLE until it is loaded; clients retry. Other key
//! types are INVALID_REQUEST. v4+ batches keys in `coordinator_keys`.

use std::sync::Arc;

use weir_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use weir_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};

use crate::broker::Broker;
use crate::errors::ErrorCode;
use crate::txn_service::TxnService;

const GROUP_KEY_TYPE: i8 = 0;
const TRANSACTION_KEY_TYPE: i8 = 1;

fn lookup(broker: &Arc<Broker>, key: &str, key_type: i8) -> Coordinator {
    let (host, port) = broker.advertised();
    let error = match key_type {
        GROUP_KEY_TYPE if broker.groups.is_ready() => None,
        TRANSACTION_KEY_TYPE if key.is_empty() => Some(ErrorCode::InvalidRequest),
        TRANSACTION_KEY_TYPE if TxnService::ensure_started(broker, true) => None,
        GROUP_KEY_TYPE | TRANSACTION_KEY_TYPE => Some(ErrorCode::CoordinatorNotAvailable),
        _ => Some(ErrorCode::InvalidRequest),
    };
    match error {
        None => Coordinator {
            key: key.to_string(),
            node_id: broker.node_id(),
            host,
            port,
            ..Default::default()
        },
        Some(code) => Coordinator {
            key: key.to_string(),
            node_id: -1,
            host: String::new(),
            port: -1,
            error_code: code.code(),
            error_message: Some(match code {
                ErrorCode::InvalidRequest if key_type == TRANSACTION_KEY_TYPE => {
                    "empty transactional id".into()
                }
                ErrorCode::InvalidRequest => format!("unknown key type {key_type}"),
                _ if key_type == TRANSACTION_KEY_TYPE => {
                    "the transaction coordinator is loading".into()
                }
                _ => "the group coordinator is loading".into(),
            }),
            ..Default::default()
        },
    }
}

/// Answer a FindCoordinator request.
pub fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let key_type = if version >= 1 {
        req.key_type
    } else {
        GROUP_KEY_TYPE
    };
    if version >= 4 {
        return FindCoordinatorResponse {
            coordinators: req
                .coordinator_keys
                .iter()
                .map(|k| lookup(broker, k, key_type))
                .collect(),
            ..Default::default()
        };
    }
    let c = lookup(broker, &req.key, key_type);
    FindCoordinatorResponse {
        error_code: c.error_code,
        error_message: c.error_message,
        node_id: c.node_id,
        host: c.host,
        port: c.port,
        ..Default::default()
    }
}
