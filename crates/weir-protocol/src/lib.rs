//! The Kafka wire protocol as Weir speaks it.
//!
//! * [`codec`]: primitive readers and writers (fixed ints, varints, compact
//!   strings/arrays, tagged fields). Every read is bounded by the bytes that
//!   remain in the frame, so a hostile length can never cause a large
//!   allocation.
//! * [`messages`]: request and response types **generated** from Kafka's JSON
//!   message specs by `cargo xtask codegen` (see `xtask/`); do not edit by hand.
//! * [`api`]: the API key table, header versions.
//! * [`record_batch`] and [`records`]: the record batch v2 format (the bytes
//!   that are stored on disk and served by Fetch as received).
//!
//! This crate does no I/O and has no async runtime.

pub mod api;
pub mod codec;
pub mod compression;
pub mod consumer_protocol;
pub mod control;
pub mod error;
pub mod header;
pub mod messages;
pub mod record_batch;
pub mod records;
