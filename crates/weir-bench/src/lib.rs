//! The two ceilings Weir's benchmarks are graded against, measured in the
//! same run as Weir on the same machine (see `docs/benchmarks.md`):
//!
//! * [`null_broker`]: a Kafka server built from `weir-protocol`'s generated
//!   codec that answers Produce, Fetch and the requests clients need around
//!   them correctly, but stores nothing. Produce validates each batch at
//!   batch level and hands out offsets; Fetch serves one pre-built batch
//!   again and again. What a client achieves against it is the cost of the
//!   client and the protocol alone: no broker can do better with that client.
//! * [`raw_ceiling`]: loopback TCP plus a plain file append (or a file read
//!   sent over loopback) with the same byte volume, no protocol at all: the
//!   hardware ceiling.
//!
//! Bench-only: this crate depends on `weir-protocol`, never on the broker or
//! storage, so a ceiling cannot share (and hide) a cost of Weir's own code.

pub mod null_broker;
pub mod raw_ceiling;
