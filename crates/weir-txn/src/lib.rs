//! Weir's transaction coordinator: the pure state machine behind
//! InitProducerId (with a `transactional.id`), AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, DescribeTransactions and ListTransactions, and
//! the codec of its `__transaction_state` records (Kafka's own schema, see
//! [`record`]).
//!
//! No I/O, no tokio, explicit time (`now_ms` on every call). The driver
//! (`weir-broker`'s `txn_service`) owns one [`TxnCoordinator`] and:
//!
//! 1. on start, feeds every record of its `__transaction_state` partitions
//!    to [`TxnCoordinator::replay`], then re-writes the markers of every
//!    [`TxnCoordinator::unfinished`] job;
//! 2. for InitProducerId, allocates a producer id first when
//!    [`TxnCoordinator::needs_producer_id`] says so, and on
//!    [`InitOutcome::AbortFirst`] carries out the abort and calls again;
//! 3. persists every returned [`TxnRecord`] (the full state of that id, as
//!    Kafka writes it) before answering;
//! 4. carries out every [`MarkerJob`] (a commit or abort marker with the
//!    job's producer id and epoch in each partition, durable), then calls
//!    [`TxnCoordinator::complete`] and persists its record;
//! 5. calls [`TxnCoordinator::tick`] at [`TxnCoordinator::next_deadline`]
//!    and periodically for id expiry.
//!
//! The states and their transitions are tabulated in [`coordinator`].
//! Errors are [`TxnError`]s; only the broker turns them into Kafka codes.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod coordinator;
pub mod error;
pub mod record;
pub mod state;
pub mod types;

pub use coordinator::{EPOCH_EXHAUSTED, NAME_MAX_BYTES, TxnCoordinator};
pub use error::TxnError;
pub use record::{RecordError, TxnLogValue, TxnRecord};
pub use state::TxnState;
pub use types::{
    EndOutcome, InitOutcome, MarkerJob, NO_EPOCH, NO_PRODUCER, Tick, TxnConfig, TxnDescription,
    TxnListing, TxnMetadata,
};
