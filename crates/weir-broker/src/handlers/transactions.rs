//! DescribeTransactions (key 65) and ListTransactions (key 66): read-only
//! views of the transaction coordinator's state, as `kafka-transactions.sh
//! describe|list` shows them.
//!
//! ListTransactions answers unknown state names in `unknown_state_filters`
//! (and filters by the known ones); v1 adds `duration_filter`, listing only
//! transactions open longer than that many milliseconds.

use std::sync::Arc;

use weir_protocol::messages::describe_transactions_request::DescribeTransactionsRequest;
use weir_protocol::messages::describe_transactions_response::{
    DescribeTransactionsResponse, TopicData, TransactionState,
};
use weir_protocol::messages::list_transactions_request::ListTransactionsRequest;
use weir_protocol::messages::list_transactions_response::{
    ListTransactionsResponse, TransactionState as ListedState,
};
use weir_txn::TxnState;

use crate::broker::{Broker, now_ms};
use crate::errors::{ErrorCode, txn_error_code};
use crate::txn_service::TxnService;

/// Answer DescribeTransactions.
pub fn describe(
    broker: &Arc<Broker>,
    _version: i16,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let ready = TxnService::ensure_started(broker, false);
    let transaction_states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let mut s = TransactionState {
                transactional_id: id.clone(),
                transaction_state: String::new(),
                transaction_timeout_ms: 0,
                transaction_start_time_ms: -1,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            };
            if !ready {
                s.error_code = ErrorCode::CoordinatorLoadInProgress.code();
                return s;
            }
            match broker.txns.read(|c| c.describe(&id)) {
                Ok(d) => {
                    s.transaction_state = d.state.as_str().to_string();
                    s.transaction_timeout_ms = d.timeout_ms;
                    s.transaction_start_time_ms = d.start_ms;
                    s.producer_id = d.producer_id;
                    s.producer_epoch = d.producer_epoch;
                    s.topics = d
                        .topics
                        .into_iter()
                        .map(|(topic, partitions)| TopicData {
                            topic,
                            partitions,
                            ..Default::default()
                        })
                        .collect();
                }
                Err(e) => s.error_code = txn_error_code(&e, false).code(),
            }
            s
        })
        .collect();
    DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    }
}

/// Answer ListTransactions.
pub fn list(
    broker: &Arc<Broker>,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let mut resp = ListTransactionsResponse::default();
    if !TxnService::ensure_started(broker, false) {
        // No transaction was ever started on this cluster: nothing to list
        // (Kafka answers the same before any coordinator loaded).
        if broker
            .image()
            .topic(crate::txn_service::TXN_TOPIC)
            .is_some()
        {
            resp.error_code = ErrorCode::CoordinatorLoadInProgress.code();
        }
        return resp;
    }
    let (known, unknown): (Vec<String>, Vec<String>) = req
        .state_filters
        .into_iter()
        .partition(|s| TxnState::from_name(s).is_some());
    resp.unknown_state_filters = unknown;
    if !resp.unknown_state_filters.is_empty() && known.is_empty() {
        return resp;
    }
    let duration = if version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    resp.transaction_states = broker
        .txns
        .read(|c| c.list(&known, &req.producer_id_filters, duration, now_ms()))
        .into_iter()
        .map(|l| ListedState {
            transactional_id: l.transactional_id,
            producer_id: l.producer_id,
            transaction_state: l.state.as_str().to_string(),
            ..Default::default()
        })
        .collect();
    resp
}
