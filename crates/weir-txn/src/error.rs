//! Why the coordinator refused an operation.
//!
//! One variant per Kafka error the transaction APIs answer; the broker maps
//! them to codes in one place (`weir-broker/src/errors.rs`). Each carries a
//! human message for the response's `error_message` and the logs.

/// Why an operation was refused; the broker maps each to a Kafka code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// INVALID_PRODUCER_ID_MAPPING (49): the transactional id is unknown or
    /// belongs to another producer id.
    #[error("invalid producer id mapping: {0}")]
    InvalidProducerIdMapping(String),
    /// PRODUCER_FENCED (90); INVALID_PRODUCER_EPOCH (47) for request
    /// versions older than KIP-588. The epoch is not the current one.
    #[error("producer fenced: {0}")]
    ProducerFenced(String),
    /// CONCURRENT_TRANSACTIONS (51, retriable): markers of the id's last
    /// transaction are still being written. Also answered when the driver
    /// calls `init_producer_id` without the fresh producer id it needs
    /// (see `TxnCoordinator::needs_producer_id`); the client retries.
    #[error("concurrent transactions: {0}")]
    ConcurrentTransactions(String),
    /// INVALID_TXN_STATE (48): the operation makes no sense in the id's
    /// state (EndTxn without a transaction, commit after abort, ...).
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// INVALID_TRANSACTION_TIMEOUT (50): outside 1..=`transaction.max.timeout.ms`.
    #[error("invalid transaction timeout: {0}")]
    InvalidTransactionTimeout(String),
    /// TRANSACTIONAL_ID_NOT_FOUND (105): DescribeTransactions of an unknown id.
    #[error("transactional id not found: {0}")]
    TransactionalIdNotFound(String),
    /// INVALID_REQUEST (42): an empty transactional id, or a name too long
    /// for a `__transaction_state` record.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}
