//! Primitive readers and writers of the Kafka wire protocol, and the
//! [`Message`] trait every generated type implements.
//!
//! Readers take `&mut Bytes` and advance it; writers append to `&mut BytesMut`.
//! Every reader checks `remaining()` before it touches the buffer or
//! allocates, so no input can panic or make the decoder allocate more than a
//! small multiple of the input's size.
//!
//! ## Format
//!
//! All fixed-width integers are big-endian (network order).
//!
//! | type | bytes | encoding |
//! |------|-------|----------|
//! | `bool` | 1 | 0 is false, anything else is true (Kafka reads it the same way) |
//! | `int8`/`int16`/`int32`/`int64` | 1/2/4/8 | two's complement, big-endian |
//! | `uint16`/`uint32` | 2/4 | unsigned, big-endian |
//! | `float64` | 8 | IEEE 754 binary64, big-endian |
//! | `uuid` | 16 | the 128 bits, most significant first; all zero is "no id" |
//! | unsigned varint | 1-5 | 7 bits per byte, least significant group first, high bit set on every byte but the last (protobuf's base-128) |
//! | varint / varlong | 1-5 / 1-10 | zigzag (`(n << 1) ^ (n >> 31)`), then as unsigned varint |
//!
//! Strings, byte arrays and arrays come in two forms. The *classic* form is
//! used by non-flexible versions; the *compact* form (KIP-482) by flexible
//! versions:
//!
//! | value | classic | compact |
//! |-------|---------|---------|
//! | string | `int16` length, then UTF-8 bytes; -1 is null | unsigned varint length+1, then bytes; 0 is null |
//! | bytes / records | `int32` length, then bytes; -1 is null | unsigned varint length+1; 0 is null |
//! | array | `int32` count, then the elements; -1 is null | unsigned varint count+1; 0 is null |
//! | nullable struct | `int8` -1 for null, 1 followed by the struct | same |
//!
//! Any negative classic length is read as null, as Kafka does; a null for a
//! field that is not nullable in that version is an error.
//!
//! Every struct in a flexible version ends with a *tagged field* section: an
//! unsigned varint count, then for each field its tag (unsigned varint), its
//! size (unsigned varint) and that many bytes holding the value in compact
//! form. Tags are written in ascending order. Weir writes a known tagged field
//! only when its value differs from the spec's default (some clients, e.g.
//! librdkafka 2.0.2, mis-parse others) and keeps unknown tags as raw bytes so
//! they are written back unchanged.
//!
//! ## Bounds
//!
//! A length or count is compared with the bytes that remain *before* any
//! allocation: a string or byte array needs its length in bytes, an array of
//! `n` elements needs at least `n` times the smallest encoding of one element.
//! A count that fails this is [`DecodeError::LengthTooLarge`]. Even a count
//! that passes reserves at most [`MAX_PREALLOCATED_ELEMENTS`] up front; the
//! vector grows past that only as elements actually decode. Strings, byte
//! arrays and record sets are sliced from the input (`Bytes::split_to`), so
//! the memory a decoded message holds is bounded by a small multiple of the
//! frame's size.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

/// A Kafka request, response, header or data type, generated from its JSON spec.
pub trait Message: Sized {
    /// Kafka API key (-1 for headers and data types).
    const API_KEY: i16;
    /// Lowest valid version.
    const MIN_VERSION: i16;
    /// Highest valid version.
    const MAX_VERSION: i16;
    /// Lowest flexible version, or `i16::MAX` if never flexible.
    const FLEXIBLE_MIN: i16;
    /// Decodes the message body in `version`, advancing `buf` past it.
    /// Bytes after the body are left in `buf` (Kafka ignores them).
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
    /// Appends the message body in `version` to `buf`.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;
    /// The exact number of bytes [`Message::encode`] writes in `version`.
    fn encoded_len(&self, version: i16) -> usize;
    /// Calls `visit` with every error code the message carries on the wire
    /// in `version`, zeros included: each `int16` field named `ErrorCode` or
    /// ending in it, at the top level and in nested structs, in field order.
    /// Fields that `version` does not encode are skipped, so a code a handler
    /// set in a field the client never sees is not reported. Messages without
    /// error codes keep this default, which does nothing.
    fn for_each_error_code(&self, version: i16, visit: &mut impl FnMut(i16)) {
        let _ = (version, visit);
    }
}

/// A Kafka UUID (topic ids, directory ids, incarnation ids).
///
/// Displayed, as Kafka does, in URL-safe base64 without padding (22 characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, Kafka's "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// The UUID as a 128-bit number.
    pub fn as_u128(self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// The UUID of a 128-bit number.
    pub fn from_u128(n: u128) -> Self {
        Uuid(n.to_be_bytes())
    }
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // 128 bits = 21 groups of 6 bits + 2 bits; read as a number and emit
        // 6-bit groups from the top, the last group padded with zero bits.
        let n = self.as_u128();
        let mut out = [0u8; 22];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = 128i32 - 6 * (i as i32 + 1);
            let group = if shift >= 0 {
                (n >> shift) & 0x3f
            } else {
                (n << (-shift)) & 0x3f
            };
            *c = BASE64URL.get(group as usize).copied().unwrap_or(b'A');
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| std::fmt::Error)?)
    }
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl std::str::FromStr for Uuid {
    type Err = DecodeError;

    /// Parses Kafka's 22-character base64url form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 22 {
            return Err(DecodeError::InvalidValue(
                "uuid must be 22 base64url characters",
            ));
        }
        let mut n: u128 = 0;
        for (i, c) in s.bytes().enumerate() {
            let v = BASE64URL
                .iter()
                .position(|&b| b == c)
                .ok_or(DecodeError::InvalidValue(
                    "uuid has a non-base64url character",
                ))? as u128;
            if i < 21 {
                n = (n << 6) | v;
            } else {
                if v & 0x0f != 0 {
                    return Err(DecodeError::InvalidValue("uuid has trailing bits set"));
                }
                n = (n << 2) | (v >> 4);
            }
        }
        Ok(Uuid::from_u128(n))
    }
}

// ---------------------------------------------------------------------------
// Bounds checks

fn need(buf: &Bytes, needed: usize) -> Result<(), DecodeError> {
    if buf.remaining() < needed {
        return Err(DecodeError::UnexpectedEof {
            needed,
            remaining: buf.remaining(),
        });
    }
    Ok(())
}

fn need_len(buf: &Bytes, length: u64) -> Result<usize, DecodeError> {
    match usize::try_from(length) {
        Ok(n) if n <= buf.remaining() => Ok(n),
        _ => Err(DecodeError::LengthTooLarge {
            length,
            remaining: buf.remaining(),
        }),
    }
}

// ---------------------------------------------------------------------------
// Fixed-width values

macro_rules! fixed {
    ($read:ident, $write:ident, $t:ty, $get:ident, $put:ident, $n:expr) => {
        #[doc = concat!("Reads a big-endian `", stringify!($t), "`.")]
        #[inline]
        pub fn $read(buf: &mut Bytes) -> Result<$t, DecodeError> {
            need(buf, $n)?;
            Ok(buf.$get())
        }
        #[doc = concat!("Writes a big-endian `", stringify!($t), "`.")]
        #[inline]
        pub fn $write(buf: &mut BytesMut, v: $t) {
            buf.$put(v);
        }
    };
}

fixed!(read_i8, write_i8, i8, get_i8, put_i8, 1);
fixed!(read_i16, write_i16, i16, get_i16, put_i16, 2);
fixed!(read_i32, write_i32, i32, get_i32, put_i32, 4);
fixed!(read_i64, write_i64, i64, get_i64, put_i64, 8);
fixed!(read_u16, write_u16, u16, get_u16, put_u16, 2);
fixed!(read_u32, write_u32, u32, get_u32, put_u32, 4);
fixed!(read_f64, write_f64, f64, get_f64, put_f64, 8);

/// Reads a boolean (any non-zero byte is true).
#[inline]
pub fn read_bool(buf: &mut Bytes) -> Result<bool, DecodeError> {
    Ok(read_i8(buf)? != 0)
}

/// Writes a boolean as 0 or 1.
#[inline]
pub fn write_bool(buf: &mut BytesMut, v: bool) {
    buf.put_u8(u8::from(v));
}

/// Reads a 16-byte UUID.
#[inline]
pub fn read_uuid(buf: &mut Bytes) -> Result<Uuid, DecodeError> {
    need(buf, 16)?;
    let mut b = [0u8; 16];
    buf.copy_to_slice(&mut b);
    Ok(Uuid(b))
}

/// Writes a 16-byte UUID.
#[inline]
pub fn write_uuid(buf: &mut BytesMut, v: Uuid) {
    buf.put_slice(&v.0);
}

// ---------------------------------------------------------------------------
// Varints

/// Reads an unsigned varint of at most 5 bytes that fits a `u32`.
pub fn read_unsigned_varint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        need(buf, 1)?;
        let b = buf.get_u8();
        if i == 4 && b > 0x0f {
            return Err(DecodeError::InvalidValue(
                "unsigned varint overflows 32 bits",
            ));
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::InvalidValue(
        "unsigned varint overflows 32 bits",
    ))
}

/// Reads an unsigned varint of at most 10 bytes that fits a `u64`.
pub fn read_unsigned_varlong(buf: &mut Bytes) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        need(buf, 1)?;
        let b = buf.get_u8();
        if i == 9 && b > 0x01 {
            return Err(DecodeError::InvalidValue(
                "unsigned varlong overflows 64 bits",
            ));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::InvalidValue(
        "unsigned varlong overflows 64 bits",
    ))
}

/// Writes an unsigned varint.
pub fn write_unsigned_varint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes an unsigned varlong.
pub fn write_unsigned_varlong(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Bytes an unsigned varint takes.
pub fn unsigned_varint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Bytes an unsigned varlong takes.
pub fn unsigned_varlong_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a zigzag-encoded `i32` varint.
pub fn read_varint(buf: &mut Bytes) -> Result<i32, DecodeError> {
    let v = read_unsigned_varint(buf)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Writes a zigzag-encoded `i32` varint.
pub fn write_varint(buf: &mut BytesMut, v: i32) {
    write_unsigned_varint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Bytes a zigzag-encoded `i32` varint takes.
pub fn varint_len(v: i32) -> usize {
    unsigned_varint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Reads a zigzag-encoded `i64` varlong.
pub fn read_varlong(buf: &mut Bytes) -> Result<i64, DecodeError> {
    let v = read_unsigned_varlong(buf)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Writes a zigzag-encoded `i64` varlong.
pub fn write_varlong(buf: &mut BytesMut, v: i64) {
    write_unsigned_varlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Bytes a zigzag-encoded `i64` varlong takes.
pub fn varlong_len(v: i64) -> usize {
    unsigned_varlong_len(((v << 1) ^ (v >> 63)) as u64)
}

// ---------------------------------------------------------------------------
// Lengths

/// Reads a string/bytes/array length in either form; negative is null.
fn read_raw_length(buf: &mut Bytes, compact: bool, classic_i16: bool) -> Result<i64, DecodeError> {
    if compact {
        Ok(i64::from(read_unsigned_varint(buf)?) - 1)
    } else if classic_i16 {
        Ok(i64::from(read_i16(buf)?))
    } else {
        Ok(i64::from(read_i32(buf)?))
    }
}

fn non_null(len: i64) -> Result<u64, DecodeError> {
    u64::try_from(len).map_err(|_| DecodeError::NegativeLength(len))
}

fn nullable(len: i64) -> Option<u64> {
    u64::try_from(len).ok()
}

fn write_length(
    buf: &mut BytesMut,
    len: usize,
    compact: bool,
    max: usize,
) -> Result<(), EncodeError> {
    if len > max {
        return Err(EncodeError::TooLarge { length: len });
    }
    if compact {
        let n = u32::try_from(len + 1).map_err(|_| EncodeError::TooLarge { length: len })?;
        write_unsigned_varint(buf, n);
    } else if max == i16::MAX as usize {
        write_i16(buf, len as i16);
    } else {
        write_i32(buf, len as i32);
    }
    Ok(())
}

fn write_null_length(buf: &mut BytesMut, compact: bool, classic_i16: bool) {
    if compact {
        write_unsigned_varint(buf, 0);
    } else if classic_i16 {
        write_i16(buf, -1);
    } else {
        write_i32(buf, -1);
    }
}

fn length_size(len: usize, compact: bool, classic: usize) -> usize {
    if compact {
        unsigned_varint_len(u32::try_from(len + 1).unwrap_or(u32::MAX))
    } else {
        classic
    }
}

// ---------------------------------------------------------------------------
// Strings

fn read_string_body(buf: &mut Bytes, len: u64) -> Result<String, DecodeError> {
    let n = need_len(buf, len)?;
    let raw = buf.split_to(n);
    String::from_utf8(raw.to_vec()).map_err(|_| DecodeError::InvalidUtf8)
}

/// Reads a non-nullable string (`int16` length, or compact).
pub fn read_string(buf: &mut Bytes, compact: bool) -> Result<String, DecodeError> {
    let len = non_null(read_raw_length(buf, compact, true)?)?;
    read_string_body(buf, len)
}

/// Reads a nullable string.
pub fn read_nullable_string(buf: &mut Bytes, compact: bool) -> Result<Option<String>, DecodeError> {
    match nullable(read_raw_length(buf, compact, true)?) {
        None => Ok(None),
        Some(len) => read_string_body(buf, len).map(Some),
    }
}

/// Writes a non-nullable string.
pub fn write_string(buf: &mut BytesMut, v: &str, compact: bool) -> Result<(), EncodeError> {
    write_length(buf, v.len(), compact, i16::MAX as usize)?;
    buf.put_slice(v.as_bytes());
    Ok(())
}

/// Writes a nullable string.
pub fn write_nullable_string(
    buf: &mut BytesMut,
    v: Option<&str>,
    compact: bool,
) -> Result<(), EncodeError> {
    match v {
        None => {
            write_null_length(buf, compact, true);
            Ok(())
        }
        Some(s) => write_string(buf, s, compact),
    }
}

/// Encoded size of a string.
pub fn string_size(v: &str, compact: bool) -> usize {
    length_size(v.len(), compact, 2) + v.len()
}

/// Encoded size of a nullable string.
pub fn nullable_string_size(v: Option<&str>, compact: bool) -> usize {
    v.map_or(length_size(0, compact, 2), |s| string_size(s, compact))
}

// ---------------------------------------------------------------------------
// Bytes (and records, which are nullable bytes on the wire)

fn read_bytes_body(buf: &mut Bytes, len: u64) -> Result<Bytes, DecodeError> {
    let n = need_len(buf, len)?;
    Ok(buf.split_to(n))
}

/// Reads a non-nullable byte array as a zero-copy slice of `buf`.
pub fn read_bytes(buf: &mut Bytes, compact: bool) -> Result<Bytes, DecodeError> {
    let len = non_null(read_raw_length(buf, compact, false)?)?;
    read_bytes_body(buf, len)
}

/// Reads a nullable byte array as a zero-copy slice of `buf`.
pub fn read_nullable_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>, DecodeError> {
    match nullable(read_raw_length(buf, compact, false)?) {
        None => Ok(None),
        Some(len) => read_bytes_body(buf, len).map(Some),
    }
}

/// Writes a non-nullable byte array.
pub fn write_bytes(buf: &mut BytesMut, v: &[u8], compact: bool) -> Result<(), EncodeError> {
    write_length(buf, v.len(), compact, i32::MAX as usize)?;
    buf.put_slice(v);
    Ok(())
}

/// Writes a nullable byte array.
pub fn write_nullable_bytes(
    buf: &mut BytesMut,
    v: Option<&Bytes>,
    compact: bool,
) -> Result<(), EncodeError> {
    match v {
        None => {
            write_null_length(buf, compact, false);
            Ok(())
        }
        Some(b) => write_bytes(buf, b, compact),
    }
}

/// Encoded size of a byte array.
pub fn bytes_size(v: &[u8], compact: bool) -> usize {
    length_size(v.len(), compact, 4) + v.len()
}

/// Encoded size of a nullable byte array.
pub fn nullable_bytes_size(v: Option<&Bytes>, compact: bool) -> usize {
    v.map_or(length_size(0, compact, 4), |b| bytes_size(b, compact))
}

// ---------------------------------------------------------------------------
// Arrays

/// Most array elements reserved before any of them has decoded.
pub const MAX_PREALLOCATED_ELEMENTS: usize = 1024;

fn read_array_body<T>(
    buf: &mut Bytes,
    count: u64,
    min_element_size: usize,
    mut read: impl FnMut(&mut Bytes) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    // Every element takes at least `min_element_size` (>= 1) bytes, so a
    // count the remaining bytes cannot hold is rejected before allocating.
    let needed = count.saturating_mul(min_element_size.max(1) as u64);
    need_len(buf, needed).map_err(|_| DecodeError::LengthTooLarge {
        length: count,
        remaining: buf.remaining(),
    })?;
    let n = usize::try_from(count).map_err(|_| DecodeError::LengthTooLarge {
        length: count,
        remaining: buf.remaining(),
    })?;
    // A count that passed the check above can still be a lie about what
    // follows; grow past this many elements only as they actually decode.
    let mut out = Vec::with_capacity(n.min(MAX_PREALLOCATED_ELEMENTS));
    for _ in 0..n {
        out.push(read(buf)?);
    }
    Ok(out)
}

/// Reads a non-nullable array whose elements each take at least
/// `min_element_size` bytes.
pub fn read_array<T>(
    buf: &mut Bytes,
    compact: bool,
    min_element_size: usize,
    read: impl FnMut(&mut Bytes) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let count = non_null(read_raw_length(buf, compact, false)?)?;
    read_array_body(buf, count, min_element_size, read)
}

/// Reads a nullable array.
pub fn read_nullable_array<T>(
    buf: &mut Bytes,
    compact: bool,
    min_element_size: usize,
    read: impl FnMut(&mut Bytes) -> Result<T, DecodeError>,
) -> Result<Option<Vec<T>>, DecodeError> {
    match nullable(read_raw_length(buf, compact, false)?) {
        None => Ok(None),
        Some(count) => read_array_body(buf, count, min_element_size, read).map(Some),
    }
}

/// Writes an array's count.
pub fn write_array_len(buf: &mut BytesMut, len: usize, compact: bool) -> Result<(), EncodeError> {
    write_length(buf, len, compact, i32::MAX as usize)
}

/// Writes a null array.
pub fn write_null_array(buf: &mut BytesMut, compact: bool) {
    write_null_length(buf, compact, false);
}

/// Encoded size of an array's count.
pub fn array_len_size(len: usize, compact: bool) -> usize {
    length_size(len, compact, 4)
}

// ---------------------------------------------------------------------------
// Nullable structs

/// Reads the one-byte marker before a nullable struct: `false` for null.
pub fn read_struct_marker(buf: &mut Bytes) -> Result<bool, DecodeError> {
    Ok(read_i8(buf)? >= 0)
}

/// Reads a nullable struct: the marker, then the struct if present.
pub fn read_nullable_struct<T>(
    buf: &mut Bytes,
    read: impl FnOnce(&mut Bytes) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    if read_struct_marker(buf)? {
        read(buf).map(Some)
    } else {
        Ok(None)
    }
}

/// Fails with [`EncodeError::NullNotAllowed`] for `None` in a version where
/// the field is not nullable.
#[inline]
pub fn check_null<T>(
    v: Option<T>,
    nullable: bool,
    field: &'static str,
) -> Result<Option<T>, EncodeError> {
    if v.is_none() && !nullable {
        return Err(EncodeError::NullNotAllowed { field });
    }
    Ok(v)
}

/// Turns a null read in a version where the field is not nullable into an error.
#[inline]
pub fn require_non_null<T>(v: Option<T>, nullable: bool) -> Result<Option<T>, DecodeError> {
    if v.is_none() && !nullable {
        return Err(DecodeError::NegativeLength(-1));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------
// Tagged fields

/// Reads one tagged field's size and returns its bytes (zero-copy).
pub fn read_tagged_data(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let size = read_unsigned_varint(buf)?;
    let n = need_len(buf, u64::from(size))?;
    Ok(buf.split_to(n))
}

/// Writes a count of tagged fields.
pub fn write_tagged_count(buf: &mut BytesMut, n: usize) -> Result<(), EncodeError> {
    let n = u32::try_from(n).map_err(|_| EncodeError::TooLarge { length: n })?;
    write_unsigned_varint(buf, n);
    Ok(())
}

/// Writes a known tagged field's tag and size; the caller writes the value.
pub fn write_tag_header(buf: &mut BytesMut, tag: u32, size: usize) -> Result<(), EncodeError> {
    let s = u32::try_from(size).map_err(|_| EncodeError::TooLarge { length: size })?;
    write_unsigned_varint(buf, tag);
    write_unsigned_varint(buf, s);
    Ok(())
}

/// Size of a tagged field's tag and size prefix plus its `size` value bytes.
pub fn tagged_field_size(tag: u32, size: usize) -> usize {
    unsigned_varint_len(tag) + unsigned_varint_len(u32::try_from(size).unwrap_or(u32::MAX)) + size
}

/// Writes the unknown tagged fields whose tag is below `below` (all of them
/// for `None`), keeping the merged output in ascending tag order.
pub fn write_unknown_tagged<'a, I>(
    buf: &mut BytesMut,
    unknown: &mut std::iter::Peekable<I>,
    below: Option<u32>,
) -> Result<(), EncodeError>
where
    I: Iterator<Item = &'a (u32, Bytes)>,
{
    while let Some((tag, data)) = unknown.next_if(|(t, _)| below.is_none_or(|b| *t < b)) {
        write_tag_header(buf, *tag, data.len())?;
        buf.put_slice(data);
    }
    Ok(())
}

/// Encoded size of unknown tagged fields.
pub fn unknown_tagged_size(unknown: &[(u32, Bytes)]) -> usize {
    unknown
        .iter()
        .map(|(t, d)| tagged_field_size(*t, d.len()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_varint_round_trip_and_len() {
        for v in [
            0u32,
            1,
            127,
            128,
            300,
            16383,
            16384,
            0x0fff_ffff,
            0x1000_0000,
            u32::MAX,
        ] {
            let mut b = BytesMut::new();
            write_unsigned_varint(&mut b, v);
            assert_eq!(b.len(), unsigned_varint_len(v));
            let mut r = b.freeze();
            assert_eq!(read_unsigned_varint(&mut r), Ok(v));
        }
    }

    #[test]
    fn varint_zigzag() {
        for v in [0i32, -1, 1, -64, 63, 64, i32::MIN, i32::MAX] {
            let mut b = BytesMut::new();
            write_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v));
            assert_eq!(read_varint(&mut b.freeze()), Ok(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, 1 << 40] {
            let mut b = BytesMut::new();
            write_varlong(&mut b, v);
            assert_eq!(b.len(), varlong_len(v));
            assert_eq!(read_varlong(&mut b.freeze()), Ok(v));
        }
        let mut one = BytesMut::new();
        write_varint(&mut one, -1);
        assert_eq!(&one[..], &[1]);
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(read_unsigned_varint(&mut b).is_err());
        let mut b = Bytes::from_static(&[0x80]);
        assert!(matches!(
            read_unsigned_varint(&mut b),
            Err(DecodeError::UnexpectedEof { .. })
        ));
    }

    #[test]
    fn uuid_display_matches_kafka() {
        // Kafka: new Uuid(0x0123456789abcdefL, 0xfedcba9876543210L).toString()
        let u = Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(u.to_string(), "ASNFZ4mrze_-3LqYdlQyEA");
        assert_eq!("ASNFZ4mrze_-3LqYdlQyEA".parse::<Uuid>(), Ok(u));
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn hostile_lengths() {
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            read_array(&mut b, false, 1, read_i8),
            Err(DecodeError::LengthTooLarge { .. })
        ));
        let mut b = Bytes::from_static(&[0x7f, 0xff, b'a']);
        assert!(matches!(
            read_string(&mut b, false),
            Err(DecodeError::LengthTooLarge { .. })
        ));
        let mut b = Bytes::from_static(&[0xff, 0xff]);
        assert_eq!(
            read_string(&mut b, false),
            Err(DecodeError::NegativeLength(-1))
        );
    }
}
