//! Weir's transaction coordinator: the pure state machine behind
//! InitProducerId (with a `transactional.id`), AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, DescribeTransactions and ListTransactions, and
//! the codec of its `__transaction_state` records.
//!
//! No I/O here: every operation returns the record to append (the full
//! state of the transactional id, as Kafka writes it) and, when a
//! transaction ends, a [`MarkerJob`] the driver (`weir-broker`'s
//! `txn_service`) carries out before calling [`TxnCoordinator::complete`].
//! Replaying the records rebuilds the same state (see the replay property
//! test), which is how the coordinator recovers after a restart.

pub mod coordinator;
pub mod record;
pub mod state;

pub use coordinator::{
    EndOutcome, InitOutcome, MarkerJob, Tick, TxnConfig, TxnCoordinator, TxnDescription, TxnError,
    TxnListing, TxnMetadata,
};
pub use record::{RecordError, TxnLogValue, TxnRecord};
pub use state::TxnState;
