//! The producing side of `produce` and `e2e`: paced sender threads and the
//! collectors that time each acknowledgement.
//!
//! ## Record values
//!
//! `produce` sends one fixed, pseudo-random value of `--record-size` bytes
//! (shared, so a record costs no copy). `e2e` values start with a stamp:
//!
//! ```text
//! bytes 0..8    u64 big-endian: ns from the run's monotonic epoch to the
//!               record's intended send time (fixed rate) or enqueue time
//! bytes 8..16   u64 big-endian: the run id, so records of other runs on
//!               the same topic are told apart and ignored
//! bytes 16..    the fixed filler
//! ```
//!
//! Sender and receiver share one process, so a monotonic clock is exact
//! and no clock sync is assumed.

use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use weir_client::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};

use super::latency::Latencies;
use super::pace::{Pace, sleep_until};
use super::progress::Shared;
use super::{BenchFlags, Mode};

/// Bytes of the e2e stamp at the start of a value.
pub(crate) const STAMP_BYTES: usize = 16;
/// Records handed from a sender thread to its collector and not yet
/// picked up. The producer's `buffer.memory` bounds the records awaiting
/// acknowledgement; this only bounds the hand-over.
const HANDOVER_RECORDS_MAX: usize = 65_536;

/// One enqueued record, on its way to the collector.
struct InFlight {
    /// Intended send time (fixed rate) or enqueue time (max rate).
    start: Instant,
    bytes: u64,
    delivery: DeliveryFuture,
}

/// What the producers did.
#[derive(Debug)]
pub(crate) struct Sent {
    /// Acknowledgement latencies (empty in e2e mode).
    pub(crate) latencies: Latencies,
    pub(crate) acked: u64,
    pub(crate) acked_bytes: u64,
    /// When the last acknowledgement arrived.
    pub(crate) last_ack: Option<Instant>,
}

/// Producers connected and ready, their metadata and leader connections
/// warmed so the first record does not pay for them.
pub(crate) struct Producers {
    producers: Vec<Arc<Producer>>,
    partitions: i32,
}

impl Producers {
    pub(crate) async fn connect(
        flags: &BenchFlags,
        mode: Mode,
        partitions: i32,
    ) -> anyhow::Result<Producers> {
        let config = ProducerConfig {
            acks: flags.acks,
            linger: flags.linger(mode),
            batch_size_bytes: flags.batch_size.max(1),
            request_timeout: flags.timeout(),
            ..ProducerConfig::default()
        };
        let mut producers = Vec::with_capacity(flags.producers);
        for _ in 0..flags.producers {
            let client = flags.connect().await?;
            super::warm(&client, &flags.topic, partitions).await?;
            producers.push(Arc::new(Producer::new(client, config.clone())));
        }
        Ok(Producers {
            producers,
            partitions,
        })
    }
}

/// The fixed filler: pseudo-random bytes (xorshift, fixed seed), so a codec
/// would see realistic data rather than zeros.
pub(crate) fn filler(len: usize) -> Bytes {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(b'a' + (x % 26) as u8);
    }
    Bytes::from(v)
}

/// An e2e value: the stamp, then the filler.
fn stamped(filler: &Bytes, start_ns: u64, run_id: u64) -> Bytes {
    let mut v = BytesMut::with_capacity(filler.len().max(STAMP_BYTES));
    v.put_u64(start_ns);
    v.put_u64(run_id);
    v.extend_from_slice(filler.get(STAMP_BYTES..).unwrap_or_default());
    v.freeze()
}

/// The stamp of an e2e value: (ns from the epoch, run id).
pub(crate) fn read_stamp(value: &[u8]) -> Option<(u64, u64)> {
    let start = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let run = u64::from_be_bytes(value.get(8..STAMP_BYTES)?.try_into().ok()?);
    Some((start, run))
}

/// How the producers feed the shared counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendMode {
    /// Acknowledgements are the run's progress; time each one.
    Produce,
    /// Stamp values with this run id; consumers report progress.
    E2e { run_id: u64 },
}

/// Send every producer's share from `t0`, paced by the flags, and collect
/// the acknowledgements. Ends when all are acknowledged, or with the first
/// delivery error.
pub(crate) async fn run(
    producers: Producers,
    flags: &BenchFlags,
    mode: SendMode,
    shared: Arc<Shared>,
    t0: Instant,
) -> anyhow::Result<Sent> {
    let n = producers.producers.len();
    let filler = filler(flags.record_size);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut threads = Vec::with_capacity(n);
    let mut collectors = tokio::task::JoinSet::new();
    for (k, producer) in producers.producers.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(HANDOVER_RECORDS_MAX);
        let sender = SenderThread {
            k,
            senders: n,
            pace: Pace::new(
                t0,
                k,
                n,
                flags.num_records,
                flags.rate(),
                flags.run_duration(),
            ),
            topic: flags.topic.clone(),
            partitions: producers.partitions,
            filler: filler.clone(),
            mode,
            producer,
            tx,
            shared: shared.clone(),
            stop: stop_rx.clone(),
            handle: Handle::current(),
        };
        threads.push(tokio::task::spawn_blocking(move || sender.run()));
        collectors.spawn(collect(rx, mode, shared.clone(), flags.topic.clone()));
    }
    // Tell the sender threads to stop however this future ends (error or
    // the watchdog dropping it).
    let _stop_on_drop = StopOnDrop(stop_tx);
    let mut sent = Sent {
        latencies: Latencies::new(),
        acked: 0,
        acked_bytes: 0,
        last_ack: None,
    };
    while let Some(joined) = collectors.join_next().await {
        let part = joined.map_err(|e| anyhow::anyhow!("collector failed: {e}"))??;
        sent.latencies.merge(&part.latencies);
        sent.acked += part.acked;
        sent.acked_bytes += part.acked_bytes;
        sent.last_ack = sent.last_ack.max(part.last_ack);
    }
    for t in threads {
        t.await
            .map_err(|e| anyhow::anyhow!("sender thread failed: {e}"))??;
    }
    Ok(sent)
}

struct StopOnDrop(watch::Sender<bool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// One producer's pacing loop, on a blocking thread.
struct SenderThread {
    k: usize,
    senders: usize,
    pace: Pace,
    topic: String,
    partitions: i32,
    filler: Bytes,
    mode: SendMode,
    producer: Arc<Producer>,
    tx: mpsc::Sender<InFlight>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    handle: Handle,
}

impl SenderThread {
    fn run(mut self) -> anyhow::Result<()> {
        let partitions = u64::try_from(self.partitions.max(1)).unwrap_or(1);
        let mut j: u64 = 0;
        loop {
            let intended = self.pace.intended(j);
            match intended {
                Some(at) => {
                    if !self.pace.sends(j, at) || !sleep_until(at, &self.shared.stop) {
                        break;
                    }
                }
                None => {
                    if self.shared.stopped() || !self.pace.sends(j, Instant::now()) {
                        break;
                    }
                }
            }
            let start = intended.unwrap_or_else(Instant::now);
            let value = match self.mode {
                SendMode::Produce => self.filler.clone(),
                SendMode::E2e { run_id } => {
                    stamped(&self.filler, self.shared.since_epoch_ns(start), run_id)
                }
            };
            let bytes = value.len() as u64;
            // Round-robin over partitions across all senders.
            let global = j * self.senders as u64 + self.k as u64;
            let record = ProducerRecord {
                topic: self.topic.clone(),
                partition: Some(i32::try_from(global % partitions).unwrap_or(0)),
                key: None,
                value: Some(value),
                headers: Vec::new(),
                timestamp_ms: None,
            };
            let producer = &self.producer;
            let stop = &mut self.stop;
            // `enqueue` waits while the producer's buffer is full; a stop
            // (stall, error) must not wait for that.
            let enqueued = self.handle.block_on(async {
                tokio::select! {
                    biased;
                    r = producer.enqueue(record) => Some(r),
                    _ = stop.wait_for(|s| *s) => None,
                }
            });
            let delivery = match enqueued {
                None => break,
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    // The other producers need not finish their shares.
                    self.shared.request_stop();
                    anyhow::bail!("producing to '{}' failed: {e}", self.topic)
                }
            };
            self.shared.expect_one();
            if self
                .tx
                .blocking_send(InFlight {
                    start,
                    bytes,
                    delivery,
                })
                .is_err()
            {
                break;
            }
            j += 1;
        }
        Ok(())
    }
}

/// Await one producer's deliveries as they complete, in any order.
async fn collect(
    mut rx: mpsc::Receiver<InFlight>,
    mode: SendMode,
    shared: Arc<Shared>,
    topic: String,
) -> anyhow::Result<Sent> {
    let mut sent = Sent {
        latencies: Latencies::new(),
        acked: 0,
        acked_bytes: 0,
        last_ack: None,
    };
    let mut inflight = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            // Acknowledgements first, so each is timed as soon as it lands.
            biased;
            Some((start, bytes, result, acked_at)) = inflight.next(), if !inflight.is_empty() => {
                if let Err(e) = result {
                    shared.request_stop();
                    anyhow::bail!("a record to '{topic}' was not delivered: {e}");
                }
                sent.acked += 1;
                sent.acked_bytes += bytes;
                sent.last_ack = Some(acked_at);
                if mode == SendMode::Produce {
                    sent.latencies.record(acked_at.saturating_duration_since(start));
                    shared.finished(1, bytes);
                }
            }
            msg = rx.recv(), if open => match msg {
                Some(InFlight { start, bytes, delivery }) => {
                    inflight.push(delivery.map(move |r| (start, bytes, r, Instant::now())));
                }
                None => open = false,
            },
            else => break,
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_keep_the_size() {
        let f = filler(100);
        assert_eq!(f.len(), 100);
        assert_eq!(filler(100), f, "the filler is the same every run");
        let v = stamped(&f, 123_456_789, 42);
        assert_eq!(v.len(), 100);
        assert_eq!(read_stamp(&v), Some((123_456_789, 42)));
        assert_eq!(v.get(STAMP_BYTES..), f.get(STAMP_BYTES..));
        assert_eq!(stamped(&filler(16), 1, 2).len(), 16);
        assert_eq!(read_stamp(b"short"), None);
    }
}
