//! A fixed-size map from key hash to the latest offset of that key, like
//! Kafka's `SkimpyOffsetMap`.
//!
//! ## Layout
//!
//! One byte buffer of `slots * SLOT_BYTES` bytes, allocated once:
//!
//! | size | field    | notes                                           |
//! |-----:|----------|-------------------------------------------------|
//! |   16 | `hash`   | first 16 bytes of SHA-256(key); all zero = empty |
//! |    8 | `offset` | i64 BE: latest offset seen for the key          |
//!
//! Open addressing with linear probing, filled to at most
//! [`LOAD_FACTOR_PERCENT`] of the slots so probes stay short. Memory is
//! exactly the configured `key_map_bytes` (rounded down to whole slots) no
//! matter how many keys the log holds: when the map is full the cleaner
//! cleans the prefix of the dirty section that it covers.
//!
//! ## Why a 128-bit cryptographic hash
//!
//! The map stores hashes, not keys: two keys with the same hash would make
//! the cleaner drop the older key's latest value. With 128 bits of SHA-256
//! a collision among even 10^12 keys has probability around 10^-15; a
//! 32- or 64-bit checksum (CRC-32C, xxHash) would collide in practice.
//! Kafka uses MD5 for the same reason. The all-zero hash marks an empty slot;
//! a key hashing to it is remapped (first byte set to 1), which costs at
//! most one more improbable collision.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use sha2::{Digest, Sha256};

/// Bytes of hash kept per key.
pub const HASH_BYTES: usize = 16;
/// Bytes per slot: hash and offset.
pub const SLOT_BYTES: usize = HASH_BYTES + 8;
/// Most of the slots that may be used, in percent (Kafka's
/// `log.cleaner.io.buffer.load.factor` is 0.9).
pub const LOAD_FACTOR_PERCENT: usize = 90;

/// A key's hash.
pub type KeyHash = [u8; HASH_BYTES];

/// Hash a record key for the map.
pub fn hash_key(key: &[u8]) -> KeyHash {
    let digest = Sha256::digest(key);
    let mut out = [0u8; HASH_BYTES];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    if out == [0u8; HASH_BYTES] {
        out[0] = 1;
    }
    out
}

/// The map is full: the key was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapFull;

/// Fixed-size key-hash → offset map.
#[derive(Debug)]
pub struct OffsetMap {
    buf: Vec<u8>,
    slots: usize,
    max_entries: usize,
    entries: usize,
    latest_offset: Option<i64>,
}

impl OffsetMap {
    /// A map using at most `bytes` bytes; `None` if that holds no entry.
    pub fn with_bytes(bytes: usize) -> Option<OffsetMap> {
        let slots = bytes / SLOT_BYTES;
        let max_entries = slots.saturating_mul(LOAD_FACTOR_PERCENT) / 100;
        if max_entries == 0 {
            return None;
        }
        Some(OffsetMap {
            buf: vec![0u8; slots * SLOT_BYTES],
            slots,
            max_entries,
            entries: 0,
            latest_offset: None,
        })
    }

    /// Number of distinct keys stored.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Most keys the map takes.
    pub fn capacity(&self) -> usize {
        self.max_entries
    }

    /// The largest offset put so far.
    pub fn latest_offset(&self) -> Option<i64> {
        self.latest_offset
    }

    fn start_slot(&self, hash: &KeyHash) -> usize {
        let mut head = [0u8; 8];
        for (h, b) in head.iter_mut().zip(hash.iter()) {
            *h = *b;
        }
        // slots > 0 (checked in with_bytes).
        (u64::from_be_bytes(head) % self.slots as u64) as usize
    }

    /// The slot holding `hash`, or the empty slot where it would go.
    fn find(&self, hash: &KeyHash) -> (usize, bool) {
        let mut slot = self.start_slot(hash);
        // The map is never full (load factor < 100%), so an empty slot or
        // the hash is found within `slots` probes.
        for _ in 0..self.slots {
            let at = slot * SLOT_BYTES;
            let stored = self.buf.get(at..at + HASH_BYTES).unwrap_or(&[]);
            if stored == hash {
                return (slot, true);
            }
            if stored.iter().all(|b| *b == 0) {
                return (slot, false);
            }
            slot = (slot + 1) % self.slots;
        }
        (slot, false)
    }

    /// Record `offset` as the latest offset of the key with `hash`. Offsets
    /// must be put in increasing order. A new key in a full map is refused.
    pub fn put(&mut self, hash: &KeyHash, offset: i64) -> Result<(), MapFull> {
        debug_assert!(self.latest_offset.is_none_or(|l| l < offset));
        let (slot, found) = self.find(hash);
        if !found && self.entries >= self.max_entries {
            return Err(MapFull);
        }
        let at = slot * SLOT_BYTES;
        if let Some(h) = self.buf.get_mut(at..at + HASH_BYTES) {
            h.copy_from_slice(hash);
        }
        if let Some(o) = self.buf.get_mut(at + HASH_BYTES..at + SLOT_BYTES) {
            o.copy_from_slice(&offset.to_be_bytes());
        }
        if !found {
            self.entries += 1;
        }
        self.latest_offset = Some(offset);
        Ok(())
    }

    /// The latest offset stored for `hash`.
    pub fn get(&self, hash: &KeyHash) -> Option<i64> {
        let (slot, found) = self.find(hash);
        if !found {
            return None;
        }
        let at = slot * SLOT_BYTES + HASH_BYTES;
        let raw: [u8; 8] = self.buf.get(at..at + 8)?.try_into().ok()?;
        Some(i64::from_be_bytes(raw))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_full() {
        let mut map = OffsetMap::with_bytes(10 * SLOT_BYTES).unwrap();
        assert_eq!(map.capacity(), 9);
        for i in 0..9i64 {
            map.put(&hash_key(format!("k{i}").as_bytes()), i).unwrap();
        }
        assert_eq!(map.put(&hash_key(b"new"), 100), Err(MapFull));
        // An existing key still updates in a full map.
        map.put(&hash_key(b"k3"), 101).unwrap();
        assert_eq!(map.get(&hash_key(b"k3")), Some(101));
        assert_eq!(map.get(&hash_key(b"k0")), Some(0));
        assert_eq!(map.get(&hash_key(b"absent")), None);
        assert_eq!(map.len(), 9);
        assert_eq!(map.latest_offset(), Some(101));
        assert!(OffsetMap::with_bytes(SLOT_BYTES).is_none());
    }
}
