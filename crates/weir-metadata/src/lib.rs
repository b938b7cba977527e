//! Cluster metadata as a log of records applied to an in-memory image.
//!
//! This follows KRaft's design: every change to topics, partitions and
//! configs is a [`MetadataRecord`]; the current state is the
//! [`MetadataImage`] obtained by replaying the records in order. The broker
//! persists the records in the `__cluster_metadata-0` log (a normal Weir log,
//! see `docs/metadata-log.md`), and a restart replays them through the same
//! [`MetadataImage::apply`] that applied them the first time. The multi-node
//! cluster will replicate this same log through a Raft quorum.
//!
//! Everything here is pure: no I/O, no clock, no randomness (ids are passed
//! in by the caller).

pub mod broker_config;
pub mod config_ops;
pub mod image;
pub mod names;
pub mod record;
pub mod topic_config;
pub mod topics;

pub use image::{MetadataImage, PartitionImage, TopicImage};
pub use record::{MetadataRecord, RecordCodecError};
