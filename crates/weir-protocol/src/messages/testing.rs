//! Support for tests that cover every generated type: a small deterministic
//! random source, the [`Arbitrary`] trait the generator implements for every
//! struct, and [`round_trip`]. Compiled only with the `test-util` feature.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};

use crate::codec::{Message, Uuid};
use crate::error::DecodeError;

/// A seeded splitmix64 generator: the same seed gives the same values.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Mostly small values, sometimes the extremes.
    fn edgy(&mut self) -> u64 {
        match self.below(4) {
            0 => 0,
            1 => u64::MAX,
            2 => self.below(300),
            _ => self.next_u64(),
        }
    }

    /// A random bool.
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// A random i8.
    pub fn i8(&mut self) -> i8 {
        self.edgy() as i8
    }

    /// A random i16.
    pub fn i16(&mut self) -> i16 {
        self.edgy() as i16
    }

    /// A random i32.
    pub fn i32(&mut self) -> i32 {
        self.edgy() as i32
    }

    /// A random i64.
    pub fn i64(&mut self) -> i64 {
        self.edgy() as i64
    }

    /// A random u16.
    pub fn u16(&mut self) -> u16 {
        self.edgy() as u16
    }

    /// A random u32.
    pub fn u32(&mut self) -> u32 {
        self.edgy() as u32
    }

    /// A random finite f64 (NaN would not compare equal to itself).
    pub fn f64(&mut self) -> f64 {
        f64::from(self.i32()) / 8.0
    }

    /// A random UUID.
    pub fn uuid(&mut self) -> Uuid {
        if self.below(4) == 0 {
            return Uuid::ZERO;
        }
        Uuid::from_u128((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64()))
    }

    /// A short random string, sometimes with multi-byte characters.
    pub fn string(&mut self) -> String {
        const CHARS: &[char] = &['a', 'z', '0', '-', '_', '.', ' ', 'é', '日', '🦀'];
        let n = self.below(8) as usize;
        (0..n)
            .map(|_| {
                CHARS
                    .get(self.below(CHARS.len() as u64) as usize)
                    .copied()
                    .unwrap_or('a')
            })
            .collect()
    }

    /// Short random bytes.
    pub fn bytes(&mut self) -> Bytes {
        let n = self.below(12) as usize;
        (0..n)
            .map(|_| self.next_u64() as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    /// An array length: 0, 1 or 2 (kept small so nested arrays stay small).
    pub fn array_len(&mut self) -> usize {
        self.below(3) as usize
    }

    /// Whether a nullable value should be null this time.
    pub fn null(&mut self) -> bool {
        self.below(3) == 0
    }

    /// Zero to two unknown tagged fields, with tags above every known tag, sorted.
    pub fn unknown_tagged_fields(&mut self) -> Vec<(u32, Bytes)> {
        let mut out = Vec::new();
        let mut tag = 20;
        for _ in 0..self.below(3) {
            tag += 1 + self.below(200) as u32;
            out.push((tag, self.bytes()));
        }
        out
    }
}

/// Random values of a generated struct that are valid in a given version:
/// only fields present in that version are set, null only where nullable.
pub trait Arbitrary: Sized {
    /// A random value valid in `version`.
    fn arbitrary(rng: &mut Rng, version: i16) -> Self;
}

/// One generated top-level type, for tests that iterate over all of them.
#[derive(Debug, Clone, Copy)]
pub struct MessageCase {
    /// The spec name, e.g. `MetadataRequest`.
    pub name: &'static str,
    /// The API key, -1 for headers and data types.
    pub api_key: i16,
    /// Lowest valid version.
    pub min_version: i16,
    /// Highest valid version.
    pub max_version: i16,
    /// [`round_trip`] for this type.
    pub round_trip: fn(u64, i16) -> Result<(), String>,
    /// [`arbitrary_bytes`] for this type.
    pub arbitrary_bytes: fn(u64, i16) -> Bytes,
    /// [`decode`] for this type.
    pub decode: fn(&mut Bytes, i16) -> Result<(), DecodeError>,
}

/// The encoding of a random value valid in `version` (empty if it cannot be encoded).
pub fn arbitrary_bytes<T: Message + Arbitrary>(seed: u64, version: i16) -> Bytes {
    let value = T::arbitrary(&mut Rng::new(seed), version);
    let mut buf = BytesMut::new();
    match value.encode(&mut buf, version) {
        Ok(()) => buf.freeze(),
        Err(_) => Bytes::new(),
    }
}

/// Decodes `buf` as `T` in `version`, discarding the value.
pub fn decode<T: Message>(buf: &mut Bytes, version: i16) -> Result<(), DecodeError> {
    T::decode(buf, version).map(drop)
}

/// Generates a value for `version` from `seed`, encodes it, checks that
/// `encoded_len` matches the bytes written, decodes it and compares.
pub fn round_trip<T: Message + Arbitrary + PartialEq + Debug>(
    seed: u64,
    version: i16,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let value = T::arbitrary(&mut rng, version);
    let mut buf = BytesMut::new();
    value
        .encode(&mut buf, version)
        .map_err(|e| format!("encode v{version} failed: {e}\nvalue: {value:?}"))?;
    let len = value.encoded_len(version);
    if len != buf.len() {
        return Err(format!(
            "encoded_len v{version} is {len} but {} bytes were written\nvalue: {value:?}",
            buf.len()
        ));
    }
    let mut bytes = buf.freeze();
    let decoded = T::decode(&mut bytes, version)
        .map_err(|e| format!("decode v{version} failed: {e}\nvalue: {value:?}"))?;
    if !bytes.is_empty() {
        return Err(format!(
            "decode v{version} left {} bytes\nvalue: {value:?}",
            bytes.len()
        ));
    }
    if decoded != value {
        return Err(format!(
            "v{version} round trip differs\nwrote: {value:?}\nread:  {decoded:?}"
        ));
    }
    Ok(())
}
