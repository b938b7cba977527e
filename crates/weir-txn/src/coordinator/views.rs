//! The read side: DescribeTransactions and ListTransactions.

use crate::error::TxnError;
use crate::state::TxnState;
use crate::types::{TxnDescription, TxnListing};

use super::TxnCoordinator;

impl TxnCoordinator {
    /// DescribeTransactions; TRANSACTIONAL_ID_NOT_FOUND for an unknown id.
    pub fn describe(&self, txn_id: &str) -> Result<TxnDescription, TxnError> {
        let m = self
            .txns
            .get(txn_id)
            .ok_or_else(|| TxnError::TransactionalIdNotFound(txn_id.to_string()))?;
        Ok(TxnDescription {
            state: m.state,
            timeout_ms: m.timeout_ms,
            start_ms: m.start_ms,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            topics: m.value().partitions,
        })
    }

    /// ListTransactions: ids in one of `states` (Kafka's names; all if
    /// empty, none match an unknown name), owned by one of `producer_ids`
    /// (all if empty), and, when `duration_ms` >= 0, with a transaction open
    /// (Ongoing or Prepare*) for at least `duration_ms`.
    pub fn list(
        &self,
        states: &[String],
        producer_ids: &[i64],
        duration_ms: i64,
        now_ms: i64,
    ) -> Vec<TxnListing> {
        self.txns
            .iter()
            .filter(|(_, m)| states.is_empty() || states.iter().any(|s| s == m.state.as_str()))
            .filter(|(_, m)| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|(_, m)| {
                duration_ms < 0
                    || ((m.state == TxnState::Ongoing || m.state.is_preparing())
                        && now_ms.saturating_sub(m.start_ms) >= duration_ms)
            })
            .map(|(id, m)| TxnListing {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                state: m.state,
            })
            .collect()
    }
}
