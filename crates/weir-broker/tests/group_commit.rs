//! acks=all durability: one fdatasync covers every producer waiting at that
//! moment (group commit), a failed fsync takes the partition offline for
//! good, and `flush.messages` (Kafka's `log.flush.interval.messages`) forces
//! a sync once that many messages are unflushed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use weir_broker::partition::{AppendOutcome, Partition};
use weir_metadata::topic_config::EffectiveTopicConfig;
use weir_protocol::record_batch::BatchHeader;
use weir_protocol::records::BatchBuilder;
use weir_storage::{FileIo, Log, LogConfig, RecoveryMode};
use weir_types::TopicId;

/// Counts fsyncs, makes each take a little while (so producers queue up
/// behind it, as they do behind a real disk), and can be told to fail.
#[derive(Debug, Default)]
struct SlowSyncIo {
    syncs: AtomicUsize,
    fail: AtomicBool,
}

impl FileIo for SlowSyncIo {
    fn sync_data(&self, file: &File) -> io::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.syncs.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        file.sync_data()
    }
}

fn partition(
    dir: &std::path::Path,
    io: Arc<SlowSyncIo>,
    overrides: &[(&str, &str)],
) -> Arc<Partition> {
    let log = Log::open_with_io(
        dir,
        LogConfig::default(),
        RecoveryMode::TolerateCorruptTail,
        0,
        io,
    )
    .unwrap();
    let topic: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cfg = EffectiveTopicConfig::resolve(&topic, &BTreeMap::new());
    Arc::new(Partition::new("t".into(), 0, TopicId([1; 16]), 0, log, cfg))
}

fn append_one(p: &Partition, i: usize) -> i64 {
    let mut b = BatchBuilder::new(1_700_000_000_000);
    b.push(
        None,
        Some(format!("v{i}").as_bytes()),
        &[],
        1_700_000_000_000,
    );
    let bytes = b.build();
    let header = BatchHeader::parse(&bytes).unwrap();
    match p
        .append_batch(BytesMut::from(&bytes[..]), &header, None, 0)
        .unwrap()
    {
        AppendOutcome::Appended(info) => info.last_offset + 1,
        AppendOutcome::Duplicate(_) => panic!("not an idempotent batch"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_acks_all_producers_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(SlowSyncIo::default());
    let p = partition(dir.path(), io.clone(), &[]);
    let base = io.syncs.load(Ordering::SeqCst);
    const PRODUCERS: usize = 64;
    let mut tasks = Vec::new();
    for i in 0..PRODUCERS {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let end = append_one(&p, i);
            p.wait_durable(end).await.unwrap();
            end
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let syncs = io.syncs.load(Ordering::SeqCst) - base;
    assert!(syncs >= 1, "acks=all must fsync");
    assert!(
        syncs < PRODUCERS / 4,
        "{syncs} fsyncs for {PRODUCERS} producers: no group commit"
    );
    // Everything acknowledged is covered by a completed sync.
    let before = io.syncs.load(Ordering::SeqCst);
    p.wait_durable(PRODUCERS as i64).await.unwrap();
    assert_eq!(
        io.syncs.load(Ordering::SeqCst),
        before,
        "already durable: no further fsync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_fsync_takes_the_partition_offline() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(SlowSyncIo::default());
    let p = partition(dir.path(), io.clone(), &[]);
    let end = append_one(&p, 0);
    io.fail.store(true, Ordering::SeqCst);
    assert!(p.wait_durable(end).await.is_err());
    io.fail.store(false, Ordering::SeqCst);
    // Sticky: no more writes, and no pretending the data is durable.
    let mut b = BatchBuilder::new(0);
    b.push(None, Some(b"x"), &[], 0);
    let bytes = b.build();
    let header = BatchHeader::parse(&bytes).unwrap();
    assert!(
        p.append_batch(BytesMut::from(&bytes[..]), &header, None, 0)
            .is_err()
    );
    assert!(p.wait_durable(end).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_messages_forces_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(SlowSyncIo::default());
    let p = partition(dir.path(), io.clone(), &[("flush.messages", "10")]);
    // Opening a new log syncs its files; count only what follows.
    let base = io.syncs.load(Ordering::SeqCst);
    for i in 0..9 {
        append_one(&p, i);
    }
    p.maybe_flush(0).await.unwrap();
    assert_eq!(
        io.syncs.load(Ordering::SeqCst) - base,
        0,
        "9 unflushed < flush.messages=10"
    );
    append_one(&p, 9);
    p.maybe_flush(0).await.unwrap();
    assert_eq!(
        io.syncs.load(Ordering::SeqCst) - base,
        1,
        "10 unflushed = flush.messages"
    );
    // With the default (Long.MAX_VALUE) nothing is forced.
    let dir2 = tempfile::tempdir().unwrap();
    let io2 = Arc::new(SlowSyncIo::default());
    let q = partition(dir2.path(), io2.clone(), &[]);
    let base = io2.syncs.load(Ordering::SeqCst);
    for i in 0..100 {
        append_one(&q, i);
    }
    q.maybe_flush(1000).await.unwrap();
    assert_eq!(io2.syncs.load(Ordering::SeqCst) - base, 0);
}
