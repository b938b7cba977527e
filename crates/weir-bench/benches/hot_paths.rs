//! Micro-benchmarks of the broker's hot paths, each on realistic inputs:
//!
//! * `validate_batch`: what Produce checks per batch (header, lengths,
//!   CRC-32C over the batch), 16 records of 1 KiB;
//! * `assign_offsets`: rewriting a batch's base offset in place;
//! * `log_append`: a whole append (validation, offset assignment, one
//!   write into the page cache, index upkeep) into a temporary log;
//! * `index_lookup`: reading 1 MiB at a random offset of a log with many
//!   index entries (offset index floor plus the read);
//! * `fetch_response`: encoding a Fetch response frame of 6 partitions
//!   with 1 MiB of records each.
//!
//! Run with `cargo bench -p weir-bench --bench hot_paths`. These are for
//! comparing before and after a change on one machine, not for gating.

#![allow(missing_docs, reason = "benchmark binary")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmarks fail loudly"
)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_protocol::header::encode_response_frame;
use weir_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use weir_protocol::record_batch::{set_base_offset, validate_record_set};
use weir_protocol::records::BatchBuilder;
use weir_storage::{Log, LogConfig, RecoveryMode};

const NOW: i64 = 1_700_000_000_000;

/// A batch of `n` records with `size`-byte values.
fn batch(n: usize, size: usize) -> Bytes {
    let value = vec![b'v'; size];
    let mut b = BatchBuilder::new(NOW);
    for i in 0..n {
        let key = format!("key-{i}");
        b.push(Some(key.as_bytes()), Some(&value), &[], NOW + i as i64);
    }
    b.build()
}

fn validate(c: &mut Criterion) {
    let b = batch(16, 1024);
    let mut g = c.benchmark_group("produce");
    g.throughput(Throughput::Bytes(b.len() as u64));
    g.bench_function("validate_batch", |x| {
        x.iter(|| validate_record_set(black_box(&b)).unwrap())
    });
    let mut owned = BytesMut::from(&b[..]);
    let mut next = 0i64;
    g.bench_function("assign_offsets", |x| {
        x.iter(|| {
            next += 16;
            set_base_offset(black_box(&mut owned[..]), next);
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), RecoveryMode::Strict, NOW).unwrap();
    g.bench_function("log_append", |x| {
        x.iter_batched(
            || BytesMut::from(&b[..]),
            |set| log.append(set, None, NOW).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(dir.path(), LogConfig::default(), RecoveryMode::Strict, NOW).unwrap();
    let b = batch(4, 1024);
    // 64 MiB over one segment: ~16,000 batches, an index entry every 4 KiB.
    for _ in 0..16_000 {
        log.append(BytesMut::from(&b[..]), None, NOW).unwrap();
    }
    let end = log.log_end_offset();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut g = c.benchmark_group("fetch");
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("index_lookup_and_read_1mib", |x| {
        x.iter(|| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let offset = (rng % (end as u64 - 1024)) as i64;
            log.read(black_box(offset), 1 << 20, end).unwrap()
        })
    });
    let records = Bytes::from(vec![7u8; 1 << 20]);
    let response = FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "bench".into(),
            partitions: (0..6)
                .map(|i| PartitionData {
                    partition_index: i,
                    high_watermark: 1_000_000,
                    last_stable_offset: 1_000_000,
                    records: Some(records.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    g.throughput(Throughput::Bytes(6 << 20));
    g.bench_function("fetch_response_6x1mib_v12", |x| {
        x.iter(|| encode_response_frame(1, 1, 12, black_box(&response)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, validate, lookup);
criterion_main!(benches);
