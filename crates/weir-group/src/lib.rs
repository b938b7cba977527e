//! Consumer groups: Kafka's classic group coordinator and committed offsets,
//! as a pure state machine (no I/O, no tokio, explicit time).
//!
//! The driver (in `weir-broker`) owns one [`GroupCoordinator`], calls its
//! handlers with the current wall-clock time, executes the returned
//! [`Effect`]s (append [`GroupRecord`]s to `__consumer_offsets`, answer
//! parked requests once those records are durable) and calls
//! [`GroupCoordinator::tick`] at [`GroupCoordinator::next_deadline`]. On start
//! it feeds every record of `__consumer_offsets` to
//! [`GroupCoordinator::replay`], then calls
//! [`GroupCoordinator::finish_replay`].
//!
//! Errors are [`GroupError`]s; only the broker turns them into Kafka codes.
//!
//! ## Group states (Kafka's `ClassicGroupState`)
//!
//! | from | to | when |
//! |---|---|---|
//! | Empty | PreparingRebalance | a member joins |
//! | PreparingRebalance | CompletingRebalance | every member rejoined, or the rebalance timeout / initial delay expired, and members remain |
//! | PreparingRebalance | Empty | the join phase completes with no members |
//! | CompletingRebalance | Stable | the leader's SyncGroup carries the assignment |
//! | CompletingRebalance, Stable | PreparingRebalance | a member joins, changes its protocols, leaves or expires |
//! | any | Dead | the group is deleted (it is then removed) |
//!
//! Every parked JoinGroup/SyncGroup request is answered exactly once:
//! when the phase completes, when its member is removed, or when it is
//! superseded by a newer request of the same member.

mod coordinator;
mod group;
mod membership;
mod offsets;
pub mod record;
mod txn_offsets;
mod types;

pub use coordinator::{GROUP_ID_MAX_BYTES, GroupCoordinator};
pub use group::GroupState;
pub use membership::{LeaveResult, LeavingMember};
pub use offsets::{CommitResult, OffsetMap};
pub use record::{GroupMetadataValue, GroupRecord, MemberMetadata, OffsetValue, RecordError};
pub use txn_offsets::TxnCommitRequest;
pub use types::*;
