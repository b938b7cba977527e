//! The time index (`.timeindex`) entry.
//!
//! ## Format of `.timeindex`
//!
//! A flat array of 12-byte entries, no header, not preallocated (see
//! [`crate::index`]):
//!
//! | size | field             | notes                                              |
//! |-----:|-------------------|----------------------------------------------------|
//! |    8 | `timestamp`       | i64 BE: largest batch max timestamp so far (ms)    |
//! |    4 | `relative_offset` | u32 BE: last offset of the first batch that reached it, − segment base |
//!
//! Entries are added at the same moments as offset-index entries, and only
//! when the segment's max timestamp grew since the last entry, so timestamps
//! are strictly increasing. When a segment stops being active (roll or clean
//! close) a final entry records its max timestamp if it grew, so the last
//! entry of a closed segment is the segment's max timestamp.
//!
//! Why "the first batch that reached it": every record before that batch has
//! a smaller timestamp, so a search for timestamp `t` may start at the batch
//! found through the entry with the largest timestamp `<= t` and scan
//! forward without missing an earlier record with timestamp `>= t`.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::index::Entry;

/// One `.timeindex` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    /// Max timestamp so far in the segment.
    pub(crate) timestamp: i64,
    /// Relative last offset of the first batch with that timestamp.
    pub(crate) relative_offset: u32,
}

impl Entry for TimeEntry {
    const LEN: usize = 12;
    type Key = i64;
    fn key(&self) -> i64 {
        self.timestamp
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let timestamp = i64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?);
        let relative_offset = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
        Some(TimeEntry {
            timestamp,
            relative_offset,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
}
