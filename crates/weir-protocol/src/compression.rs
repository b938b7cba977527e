//! The record-batch compression codecs, in the exact framings Kafka clients
//! write and read.
//!
//! ## Formats
//!
//! | codec  | bits | framing                                                                 |
//! |--------|------|-------------------------------------------------------------------------|
//! | gzip   | 1    | RFC 1952 gzip member(s)                                                   |
//! | snappy | 2    | xerial framing, as the Java client writes it (below); raw snappy is also read, as librdkafka may send it |
//! | lz4    | 3    | LZ4 frame format (magic `04 22 4D 18`), 64 KiB independent blocks         |
//! | zstd   | 4    | zstd frame(s)                                                             |
//!
//! Xerial snappy: a 16-byte header — magic `82 'S' 'N' 'A' 'P' 'P' 'Y' 00`,
//! version `i32 BE = 1`, compatible version `i32 BE = 1` — then blocks, each
//! `i32 BE` compressed length followed by one raw snappy block. Weir writes
//! 32 KiB uncompressed blocks, like the Java client's `SnappyOutputStream`.
//!
//! Decompression is bounded: output beyond the caller's limit is an error,
//! never an allocation (a small "bomb" cannot blow up broker memory).

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Read, Write};

use crate::record_batch::Compression;

/// Xerial snappy stream header.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial block written by Weir.
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;
/// Largest decompressed records section accepted from one batch: bounds the
/// memory a small compressed "bomb" can make the broker or a client use.
pub const DECOMPRESSED_BATCH_BYTES_MAX: usize = 128 << 20;
/// zstd level when `compression.zstd.level` is not given (Kafka's default).
pub const ZSTD_LEVEL_DEFAULT: i32 = 3;

/// Compression or decompression failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    /// The compressed bytes are malformed.
    #[error("invalid {codec:?} data: {reason}")]
    Invalid {
        /// Codec.
        codec: Compression,
        /// Why (the library's message).
        reason: String,
    },
    /// Decompressed output would exceed the limit.
    #[error("{codec:?} data decompresses to more than {limit} bytes")]
    TooLarge {
        /// Codec.
        codec: Compression,
        /// The limit.
        limit: usize,
    },
}

fn invalid(codec: Compression, e: impl std::fmt::Display) -> CompressionError {
    CompressionError::Invalid {
        codec,
        reason: e.to_string(),
    }
}

/// Read all of `r`, failing once more than `limit` bytes come out.
fn read_bounded(
    codec: Compression,
    r: impl Read,
    limit: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    r.take(cap)
        .read_to_end(&mut out)
        .map_err(|e| invalid(codec, e))?;
    if out.len() > limit {
        return Err(CompressionError::TooLarge { codec, limit });
    }
    Ok(out)
}

/// Decompress `data` written with `codec`; at most `limit` bytes of output.
pub fn decompress(
    codec: Compression,
    data: &[u8],
    limit: usize,
) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(CompressionError::TooLarge { codec, limit });
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(data), limit),
        Compression::Snappy => snappy_decompress(data, limit),
        Compression::Lz4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data), limit),
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| invalid(codec, e))?;
            read_bounded(codec, decoder, limit)
        }
    }
}

fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let codec = Compression::Snappy;
    if !data.starts_with(&XERIAL_MAGIC) {
        let len = snap::raw::decompress_len(data).map_err(|e| invalid(codec, e))?;
        if len > limit {
            return Err(CompressionError::TooLarge { codec, limit });
        }
        return snap::raw::Decoder::new()
            .decompress_vec(data)
            .map_err(|e| invalid(codec, e));
    }
    let mut rest = data
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| invalid(codec, "truncated xerial header"))?;
    let mut out = Vec::new();
    let mut decoder = snap::raw::Decoder::new();
    while !rest.is_empty() {
        let (len_bytes, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid(codec, "truncated block length"))?;
        let len = u32::from_be_bytes(*len_bytes) as usize;
        let (block, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| invalid(codec, "truncated block"))?;
        let block_len = snap::raw::decompress_len(block).map_err(|e| invalid(codec, e))?;
        if out.len().saturating_add(block_len) > limit {
            return Err(CompressionError::TooLarge { codec, limit });
        }
        let start = out.len();
        out.resize(start + block_len, 0);
        let target = out
            .get_mut(start..)
            .ok_or_else(|| invalid(codec, "block size"))?;
        decoder
            .decompress(block, target)
            .map_err(|e| invalid(codec, e))?;
        rest = tail;
    }
    Ok(out)
}

/// Compress `data` with `codec` (for `compression.type` recompression and
/// for producers).
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(|e| invalid(codec, e))?;
            enc.finish().map_err(|e| invalid(codec, e))
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + data.len() / 2);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK_BYTES) {
                let block = encoder.compress_vec(chunk).map_err(|e| invalid(codec, e))?;
                let len = u32::try_from(block.len()).map_err(|e| invalid(codec, e))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(data).map_err(|e| invalid(codec, e))?;
            enc.finish().map_err(|e| invalid(codec, e))
        }
        Compression::Zstd => {
            zstd::bulk::compress(data, ZSTD_LEVEL_DEFAULT).map_err(|e| invalid(codec, e))
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for codec in ALL {
            let packed = compress(codec, &data).unwrap();
            assert_eq!(
                decompress(codec, &packed, data.len()).unwrap(),
                data,
                "{codec:?}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let data = vec![0u8; 1 << 20];
        for codec in ALL {
            let packed = compress(codec, &data).unwrap();
            assert!(
                matches!(
                    decompress(codec, &packed, 1000),
                    Err(CompressionError::TooLarge { .. })
                ),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(
                decompress(codec, b"\x01\x02\x03garbage", 1 << 20).is_err(),
                "{codec:?}"
            );
            // Empty input: some decoders accept it as an empty stream; either way no panic.
            let _ = decompress(codec, b"", 1 << 20);
        }
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 50, 1, 2]);
        assert!(decompress(Compression::Snappy, &xerial, 1 << 20).is_err());
    }

    #[test]
    fn xerial_golden_header_and_raw_snappy_accepted() {
        let packed = compress(Compression::Snappy, b"hello hello hello").unwrap();
        assert_eq!(
            &packed[..16],
            &[
                0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1
            ]
        );
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"raw block")
            .unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100).unwrap(),
            b"raw block"
        );
    }

    #[test]
    fn lz4_uses_the_frame_format() {
        let packed = compress(Compression::Lz4, b"abc").unwrap();
        assert_eq!(&packed[..4], &[0x04, 0x22, 0x4D, 0x18]);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(codec in 1u8..=4, bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let codec = Compression::from_bits(codec).unwrap();
            let _ = decompress(codec, &bytes, 1 << 16);
        }
    }
}
