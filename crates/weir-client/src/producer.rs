//! The producer: partitioning, batching per partition, delivery, retries.
//!
//! [`Producer::enqueue`] picks the partition (see [`crate::partitioner`]),
//! appends the record to its partition's open batch and returns a
//! [`DeliveryFuture`]. A sender task ships batches when they are full, when
//! they have waited `linger`, or on [`Producer::flush`]: one Produce request
//! per leader broker, with one record batch (format v2, uncompressed) per
//! partition.
//!
//! ## Invariants
//!
//! * At most one batch per partition is in flight, and the sender sends one
//!   round at a time; a failed batch goes back to the *front* of its queue.
//!   So records of one partition are appended in the order they were
//!   enqueued, retries included (no idempotence is needed for that, only
//!   to avoid duplicates when a lost response hid a successful append).
//! * Memory is bounded: every queued record holds permits for its size from
//!   a semaphore of `buffer_memory_bytes`; `enqueue` waits for room.
//! * Retries are bounded by `retries` per batch; errors that are not
//!   retriable fail the batch's records at once.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use weir_protocol::api::ApiKey;
use weir_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use weir_protocol::messages::{ProduceRequest, ProduceResponse};
use weir_protocol::records::{BatchBuilder, RecordHeader};

use crate::client::Client;
use crate::error::{ClientError, UNKNOWN_TOPIC_OR_PARTITION};
use crate::partitioner::{StickyPartitioner, partition_for_key};

/// Bytes a record may take besides its key, value and headers (length,
/// attributes, timestamp and offset deltas, and the length fields, at their
/// largest varint sizes).
const RECORD_OVERHEAD_BYTES_MAX: usize = 36;
/// Bytes a header may take besides its key and value.
const HEADER_OVERHEAD_BYTES_MAX: usize = 10;
/// Kafka's `LEADER_NOT_AVAILABLE`.
const LEADER_NOT_AVAILABLE: i16 = 5;
/// Batch header plus Produce request framing for one partition, rounded up.
const BATCH_OVERHEAD_BYTES: usize = 128;

/// What the broker must do before it acknowledges a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// acks=0: no response at all; offsets are unknown (-1).
    None,
    /// acks=1: the leader appended it.
    Leader,
    /// acks=-1 (all): every in-sync replica has it (on one node: fsynced).
    All,
}

impl Acks {
    /// The wire value.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// From the wire value (`-1`, `0` or `1`).
    pub fn from_i16(v: i16) -> Option<Acks> {
        match v {
            0 => Some(Acks::None),
            1 => Some(Acks::Leader),
            -1 => Some(Acks::All),
            _ => None,
        }
    }
}

/// Producer settings, named after the Java client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `acks` (default all).
    pub acks: Acks,
    /// `linger.ms`: how long a batch waits for more records (default 5 ms).
    pub linger: Duration,
    /// `batch.size`: a batch is sent once it holds this many bytes.
    pub batch_size_bytes: usize,
    /// `max.request.size`: the largest record, and the most bytes of
    /// batches sent in one round.
    pub max_request_size_bytes: usize,
    /// `buffer.memory`: bytes of records waiting to be sent.
    pub buffer_memory_bytes: usize,
    /// `retries`: how often a batch is retried on a retriable error.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `request.timeout.ms`: how long the broker may take (sent as the
    /// Produce timeout).
    pub request_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size_bytes: 16 * 1024,
            max_request_size_bytes: 1024 * 1024,
            buffer_memory_bytes: 32 * 1024 * 1024,
            retries: 5,
            retry_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A record to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Topic.
    pub topic: String,
    /// Partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`None` for null).
    pub key: Option<Bytes>,
    /// Value (`None` for null, a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<RecordHeader>,
    /// Create time in ms since the epoch; `None` for now.
    pub timestamp_ms: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value and nothing else.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> ProducerRecord {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// Set the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> ProducerRecord {
        self.key = Some(key.into());
        self
    }

    /// Set the partition.
    pub fn partition(mut self, partition: i32) -> ProducerRecord {
        self.partition = Some(partition);
        self
    }

    /// Add a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> ProducerRecord {
        self.headers.push(RecordHeader {
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Upper bound of the record's encoded size in a batch.
    pub fn size_bytes_max(&self) -> usize {
        RECORD_OVERHEAD_BYTES_MAX
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .iter()
                .map(|h| {
                    HEADER_OVERHEAD_BYTES_MAX + h.key.len() + h.value.as_ref().map_or(0, Bytes::len)
                })
                .sum::<usize>()
    }
}

/// Where a record was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset; -1 with acks=0.
    pub offset: i64,
    /// The record's create time, or the broker's append time for topics
    /// with `message.timestamp.type=LogAppendTime`.
    pub timestamp_ms: i64,
}

/// Resolves when the record is acknowledged or has failed for good.
#[derive(Debug)]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<RecordMetadata, ClientError>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ClientError::ProducerClosed)))
    }
}

struct PendingRecord {
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<RecordHeader>,
    timestamp_ms: i64,
    tx: oneshot::Sender<Result<RecordMetadata, ClientError>>,
    _memory: OwnedSemaphorePermit,
}

struct Batch {
    records: Vec<PendingRecord>,
    size_bytes: usize,
    created: Instant,
    attempts: u32,
    not_before: Option<Instant>,
}

type PartitionKey = (String, i32);

#[derive(Default)]
struct Accumulator {
    /// Per partition, batches in send order; the last one is open for
    /// appends while it has never been sent.
    queues: BTreeMap<PartitionKey, VecDeque<Batch>>,
    sticky: StickyPartitioner,
    flushing: usize,
    closing: bool,
}

struct Inner {
    client: Arc<Client>,
    config: ProducerConfig,
    acc: Mutex<Accumulator>,
    wake: Notify,
    memory: Arc<Semaphore>,
    /// Records enqueued and not yet resolved.
    outstanding: watch::Sender<usize>,
}

/// An asynchronous producer. Cheap to share behind an `Arc`.
pub struct Producer {
    inner: Arc<Inner>,
    sender: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// A producer over `client`; starts its sender task on the current
    /// tokio runtime.
    pub fn new(client: Arc<Client>, config: ProducerConfig) -> Producer {
        let inner = Arc::new(Inner {
            client,
            memory: Arc::new(Semaphore::new(config.buffer_memory_bytes)),
            config,
            acc: Mutex::new(Accumulator::default()),
            wake: Notify::new(),
            outstanding: watch::channel(0).0,
        });
        let sender = tokio::spawn(run_sender(inner.clone()));
        Producer {
            inner,
            sender: Some(sender),
        }
    }

    /// Queue a record for sending; the returned future resolves when the
    /// broker acknowledged it (or it failed). Waits while the buffer is full.
    pub async fn enqueue(&self, record: ProducerRecord) -> Result<DeliveryFuture, ClientError> {
        let inner = &self.inner;
        let size = record.size_bytes_max();
        let max = inner
            .config
            .max_request_size_bytes
            .min(inner.config.buffer_memory_bytes)
            .saturating_sub(BATCH_OVERHEAD_BYTES);
        if size > max {
            return Err(ClientError::RecordTooLarge {
                size_bytes: size,
                max_bytes: max,
            });
        }
        if inner.lock().closing {
            return Err(ClientError::ProducerClosed);
        }
        let permits = u32::try_from(size).map_err(|_| ClientError::RecordTooLarge {
            size_bytes: size,
            max_bytes: max,
        })?;
        let memory = inner
            .memory
            .clone()
            .acquire_many_owned(permits)
            .await
            .map_err(|_| ClientError::ProducerClosed)?;
        let partitions = self.partition_count(&record.topic).await?;
        let (tx, rx) = oneshot::channel();
        let pending = PendingRecord {
            key: record.key.clone(),
            value: record.value,
            headers: record.headers,
            timestamp_ms: record.timestamp_ms.unwrap_or_else(now_ms),
            tx,
            _memory: memory,
        };
        let batch_size = inner.config.batch_size_bytes;
        let mut wake = false;
        {
            let mut acc = inner.lock();
            if acc.closing {
                return Err(ClientError::ProducerClosed);
            }
            let partition = match (record.partition, &record.key) {
                (Some(p), _) => {
                    if !(0..partitions).contains(&p) {
                        return Err(ClientError::NoSuchPartition {
                            topic: record.topic,
                            partition: p,
                        });
                    }
                    p
                }
                (None, Some(key)) => partition_for_key(key, partitions),
                (None, None) => acc
                    .sticky
                    .partition(&record.topic, partitions, size, batch_size),
            };
            let queue = acc
                .queues
                .entry((record.topic.clone(), partition))
                .or_default();
            let open = queue
                .back_mut()
                .filter(|b| b.attempts == 0 && b.size_bytes + size <= batch_size);
            let batch = match open {
                Some(b) => b,
                None => {
                    wake = true;
                    queue.push_back(Batch {
                        records: Vec::new(),
                        size_bytes: 0,
                        created: Instant::now(),
                        attempts: 0,
                        not_before: None,
                    });
                    queue.back_mut().ok_or(ClientError::ProducerClosed)?
                }
            };
            batch.records.push(pending);
            batch.size_bytes += size;
            if batch.size_bytes >= batch_size {
                wake = true;
                acc.sticky.batch_closed(&record.topic, partition);
            }
            inner.outstanding.send_modify(|n| *n += 1);
        }
        if wake {
            inner.wake.notify_one();
        }
        Ok(DeliveryFuture { rx })
    }

    /// The partition count of `topic`, waiting (a bounded number of
    /// retries) while its leaders are being elected, e.g. right after the
    /// broker auto-created it. A topic that does not exist fails at once.
    async fn partition_count(&self, topic: &str) -> Result<i32, ClientError> {
        let inner = &self.inner;
        let mut attempts = 0;
        loop {
            let error = match inner.client.topic(topic, true).await {
                Ok(meta) if meta.partition_count() > 0 => return Ok(meta.partition_count()),
                Ok(_) => {
                    inner.client.invalidate_topic(topic);
                    ClientError::kafka(
                        LEADER_NOT_AVAILABLE,
                        Some("topic has no partitions yet".into()),
                    )
                }
                Err(e) => e,
            };
            let retry =
                error.is_retriable() && error.kafka_code() != Some(UNKNOWN_TOPIC_OR_PARTITION);
            if !retry || attempts >= inner.config.retries {
                return Err(error);
            }
            attempts += 1;
            tokio::time::sleep(inner.config.retry_backoff).await;
        }
    }

    /// Send one record and wait until it is acknowledged.
    pub async fn send(&self, record: ProducerRecord) -> Result<RecordMetadata, ClientError> {
        self.enqueue(record).await?.await
    }

    /// Send every queued record now (ignoring linger) and wait until all
    /// records enqueued so far are resolved.
    pub async fn flush(&self) {
        self.inner.lock().flushing += 1;
        self.inner.wake.notify_one();
        let mut rx = self.inner.outstanding.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
        self.inner.lock().flushing -= 1;
    }

    /// Flush, then stop the sender task.
    pub async fn close(mut self) {
        self.flush().await;
        self.inner.lock().closing = true;
        self.inner.wake.notify_one();
        if let Some(sender) = self.sender.take() {
            let _ = sender.await;
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // The sender task delivers what is queued, then exits.
        self.inner.lock().closing = true;
        self.inner.wake.notify_one();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Accumulator> {
        // Updates are plain pushes and pops; a poisoned lock is still
        // consistent.
        self.acc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the batches that are ready, up to `max_request_size_bytes` in
    /// total (at least one). Returns them, the next time something becomes
    /// ready, and whether the producer is closed and empty.
    fn take_ready(&self, now: Instant) -> (Vec<(PartitionKey, Batch)>, Option<Instant>, bool) {
        let mut acc = self.lock();
        let linger = self.config.linger;
        let urgent = acc.closing || acc.flushing > 0;
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        let mut round_bytes = 0usize;
        let mut closed = Vec::new();
        for (key, queue) in acc.queues.iter_mut() {
            let Some(front) = queue.front() else { continue };
            let due = match front.not_before {
                Some(t) => t,
                None if urgent
                    || queue.len() > 1
                    || front.size_bytes >= self.config.batch_size_bytes =>
                {
                    now
                }
                None => front.created + linger,
            };
            if due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                continue;
            }
            if !ready.is_empty()
                && round_bytes + front.size_bytes > self.config.max_request_size_bytes
            {
                next = Some(now);
                continue;
            }
            if let Some(batch) = queue.pop_front() {
                round_bytes += batch.size_bytes;
                closed.push(key.clone());
                ready.push((key.clone(), batch));
            }
        }
        acc.queues.retain(|_, q| !q.is_empty());
        for (topic, partition) in &closed {
            acc.sticky.batch_closed(topic, *partition);
        }
        let done = acc.closing && acc.queues.is_empty() && ready.is_empty();
        (ready, next, done)
    }

    /// A batch failed with `error`: retry it if allowed, else fail its records.
    fn failed(&self, key: PartitionKey, mut batch: Batch, error: ClientError) {
        if error.needs_metadata_refresh() {
            self.client.invalidate_topic(&key.0);
        }
        if error.is_retriable() && batch.attempts < self.config.retries {
            tracing::debug!(topic = %key.0, partition = key.1, %error, attempt = batch.attempts + 1, "retrying batch");
            batch.attempts += 1;
            batch.not_before = Some(Instant::now() + self.config.retry_backoff);
            self.lock().queues.entry(key).or_default().push_front(batch);
            return;
        }
        let n = batch.records.len();
        for r in batch.records {
            let _ = r.tx.send(Err(error.clone()));
        }
        self.outstanding.send_modify(|c| *c -= n);
    }

    fn delivered(
        &self,
        key: &PartitionKey,
        batch: Batch,
        base_offset: i64,
        log_append_time_ms: i64,
    ) {
        let n = batch.records.len();
        for (i, r) in batch.records.into_iter().enumerate() {
            let offset = if base_offset < 0 {
                -1
            } else {
                base_offset + i as i64
            };
            let timestamp_ms = if log_append_time_ms >= 0 {
                log_append_time_ms
            } else {
                r.timestamp_ms
            };
            let _ = r.tx.send(Ok(RecordMetadata {
                topic: key.0.clone(),
                partition: key.1,
                offset,
                timestamp_ms,
            }));
        }
        self.outstanding.send_modify(|c| *c -= n);
    }

    /// Send one round of ready batches: one request per leader, all leaders
    /// at once, and wait for every answer.
    async fn send_round(self: &Arc<Self>, ready: Vec<(PartitionKey, Batch)>) {
        let mut by_leader: BTreeMap<i32, Vec<(PartitionKey, Batch)>> = BTreeMap::new();
        for (key, batch) in ready {
            match self.client.leader(&key.0, key.1, true).await {
                Ok(leader) => by_leader.entry(leader).or_default().push((key, batch)),
                Err(e) => self.failed(key, batch, e),
            }
        }
        let mut tasks = JoinSet::new();
        for (leader, batches) in by_leader {
            let this = self.clone();
            tasks.spawn(async move {
                let outcome = this.produce_to(leader, &batches).await;
                (batches, outcome)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((batches, outcome)) = joined else {
                // A panicked task dropped its batches; their futures resolve
                // with ProducerClosed.
                continue;
            };
            match outcome {
                Err(e) => {
                    for (key, batch) in batches {
                        self.failed(key, batch, e.clone());
                    }
                }
                Ok(None) => {
                    for (key, batch) in batches {
                        self.delivered(&key, batch, -1, -1);
                    }
                }
                Ok(Some(resp)) => self.apply_response(batches, &resp),
            }
        }
    }

    /// One Produce request to `leader`. `Ok(None)` for acks=0.
    async fn produce_to(
        &self,
        leader: i32,
        batches: &[(PartitionKey, Batch)],
    ) -> Result<Option<ProduceResponse>, ClientError> {
        let conn = self.client.broker_connection(leader).await?;
        let version = conn.version(ApiKey::Produce)?;
        let mut topic_data: Vec<TopicProduceData> = Vec::new();
        for ((topic, partition), batch) in batches {
            let data = PartitionProduceData {
                index: *partition,
                records: Some(build_batch(batch)),
                ..Default::default()
            };
            match topic_data.iter_mut().find(|t| &t.name == topic) {
                Some(t) => t.partition_data.push(data),
                None => topic_data.push(TopicProduceData {
                    name: topic.clone(),
                    partition_data: vec![data],
                    ..Default::default()
                }),
            }
        }
        let req = ProduceRequest {
            transactional_id: None,
            acks: self.config.acks.as_i16(),
            timeout_ms: i32::try_from(self.config.request_timeout.as_millis()).unwrap_or(i32::MAX),
            topic_data,
            ..Default::default()
        };
        if self.config.acks == Acks::None {
            conn.send_oneway(version, &req).await?;
            return Ok(None);
        }
        let resp = conn
            .send_version(version, &req, self.config.request_timeout)
            .await?;
        Ok(Some(resp))
    }

    fn apply_response(&self, batches: Vec<(PartitionKey, Batch)>, resp: &ProduceResponse) {
        for (key, batch) in batches {
            let found = resp
                .responses
                .iter()
                .filter(|t| t.name == key.0)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == key.1);
            match found {
                None => self.failed(
                    key,
                    batch,
                    ClientError::UnexpectedResponse("partition missing from Produce response"),
                ),
                Some(p) if p.error_code != 0 => {
                    let e = ClientError::kafka(p.error_code, p.error_message.clone());
                    self.failed(key, batch, e);
                }
                Some(p) => self.delivered(&key, batch, p.base_offset, p.log_append_time_ms),
            }
        }
    }
}

fn build_batch(batch: &Batch) -> Bytes {
    let base_timestamp = batch.records.first().map_or(0, |r| r.timestamp_ms);
    let mut b = BatchBuilder::new(base_timestamp);
    for r in &batch.records {
        b.push(
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
            r.timestamp_ms,
        );
    }
    b.build()
}

async fn run_sender(inner: Arc<Inner>) {
    loop {
        let (ready, next, done) = inner.take_ready(Instant::now());
        if done {
            break;
        }
        if ready.is_empty() {
            match next {
                Some(at) => {
                    tokio::select! {
                        () = inner.wake.notified() => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => inner.wake.notified().await,
            }
            continue;
        }
        inner.send_round(ready).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;
    use weir_protocol::records::decode_batch_records;

    #[test]
    fn acks_round_trip() {
        for a in [Acks::None, Acks::Leader, Acks::All] {
            assert_eq!(Acks::from_i16(a.as_i16()), Some(a));
        }
        assert_eq!(Acks::from_i16(2), None);
    }

    #[tokio::test]
    async fn batch_round_trips_records() {
        let sem = Arc::new(Semaphore::new(10));
        let mut records = Vec::new();
        let mut rxs = Vec::new();
        for i in 0..3i64 {
            let (tx, rx) = oneshot::channel();
            rxs.push(rx);
            records.push(PendingRecord {
                key: (i != 1).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("v{i}"))),
                headers: vec![RecordHeader {
                    key: "h".into(),
                    value: Some(Bytes::from_static(b"x")),
                }],
                timestamp_ms: 1_700_000_000_000 + i,
                tx,
                _memory: sem.clone().acquire_owned().await.unwrap(),
            });
        }
        let batch = Batch {
            records,
            size_bytes: 0,
            created: Instant::now(),
            attempts: 0,
            not_before: None,
        };
        let (header, decoded) = decode_batch_records(&build_batch(&batch)).unwrap();
        assert_eq!(header.records_count, 3);
        assert_eq!(decoded.len(), 3);
        for (i, r) in decoded.iter().enumerate() {
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.timestamp, 1_700_000_000_000 + i as i64);
            assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()));
            assert_eq!(r.headers.len(), 1);
        }
        assert_eq!(decoded[1].key, None);
    }

    #[test]
    fn size_bound_counts_everything() {
        let r = ProducerRecord::new("t", "value")
            .key("key")
            .header("h", "vv");
        assert_eq!(
            r.size_bytes_max(),
            RECORD_OVERHEAD_BYTES_MAX + 3 + 5 + HEADER_OVERHEAD_BYTES_MAX + 1 + 2
        );
    }
}
