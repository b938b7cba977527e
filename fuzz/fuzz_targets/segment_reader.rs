//! Arbitrary bytes as a partition directory's files, opened with
//! `RecoveryMode::TolerateCorruptTail`: opening, reading, timestamp lookups,
//! appending and closing must never panic.
//!
//! Input layout: byte 0 holds flags (bit 0: leave a clean-shutdown marker so
//! the damaged files are trusted; bit 1: a second segment), bytes 1-2 the
//! length of the `.index` bytes and bytes 3-4 of the `.timeindex` bytes
//! (both big-endian u16); the rest is the `.log` file.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weir_protocol::records::BatchBuilder;
use weir_storage::{FileIo, Log, LogConfig, RecoveryMode};

/// Real files without fsync: durability is not under test here, and fsync
/// would cut the executions per second a hundredfold.
#[derive(Debug)]
struct NoSyncIo;

impl FileIo for NoSyncIo {
    fn sync_data(&self, _file: &std::fs::File) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _dir: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (head, tail) = data.split_at(n);
    *data = tail;
    head
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let flags = take(&mut rest, 1).first().copied().unwrap_or(0);
    let len = |b: &[u8]| b.iter().fold(0usize, |acc, &x| acc << 8 | usize::from(x));
    let index_len = len(take(&mut rest, 2));
    let time_len = len(take(&mut rest, 2));
    let index = take(&mut rest, index_len);
    let time_index = take(&mut rest, time_len);
    let log = rest;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path();
    let write = |name: String, bytes: &[u8]| std::fs::write(path.join(name), bytes).expect("write");
    write(format!("{:020}.log", 0), log);
    write(format!("{:020}.index", 0), index);
    write(format!("{:020}.timeindex", 0), time_index);
    if flags & 2 != 0 {
        write(format!("{:020}.log", 1_000), log);
    }
    if flags & 1 != 0 {
        write(".clean_shutdown".to_owned(), b"");
    }
    let config = LogConfig {
        segment_bytes: 1 << 16,
        segment_ms: None,
        index_interval_bytes: 64,
        segment_index_bytes: 1 << 12,
        file_delete_delay_ms: 0,
    };
    let io = std::sync::Arc::new(NoSyncIo);
    let Ok(mut log) = Log::open_with_io(path, config, RecoveryMode::TolerateCorruptTail, 0, io) else {
        return;
    };
    let (start, end) = (log.log_start_offset(), log.log_end_offset());
    assert!(start <= end);
    let mut offset = start;
    for _ in 0..64 {
        if offset >= end {
            break;
        }
        match log.read(offset, 256, i64::MAX) {
            Ok(bytes) if !bytes.is_empty() => {
                let Some(last) = weir_protocol::record_batch::BatchIter::new(&bytes)
                    .filter_map(Result::ok)
                    .last()
                else {
                    break;
                };
                offset = last.1.next_offset().max(offset + 1);
            }
            _ => break,
        }
    }
    for ts in [i64::MIN, -1, 0, 1_000, i64::MAX] {
        let _ = log.offset_for_timestamp(ts);
    }
    let mut b = BatchBuilder::new(0);
    b.push(Some(b"k"), Some(b"v"), &[], 0);
    if let Ok(info) = log.append(BytesMut::from(&b.build()[..]), None, 0) {
        assert_eq!(info.first_offset, end);
        assert_eq!(log.log_end_offset(), end + 1);
    }
    let _ = log.close();
});
