//! A Kafka broker that answers correctly and stores nothing.
//!
//! It serves exactly the requests a producer and a consumer (librdkafka,
//! the Java client, Weir's client) need for a throughput or latency run:
//!
//! | API | answer |
//! |-----|--------|
//! | ApiVersions | the ranges in [`handlers::api_versions::SUPPORTED`], KIP-511 fallback |
//! | Metadata | itself as the only broker; every requested topic exists |
//! | CreateTopics | creates the topic in the in-memory table |
//! | InitProducerId | increasing producer ids, so idempotent producers work |
//! | Produce | batch-level validation (header, CRC-32C, record count), increasing base offsets per partition; no answer for acks=0 |
//! | ListOffsets | earliest 0, latest the partition's log end offset |
//! | Fetch | copies of one pre-built batch with the base offset rewritten, or in echo mode the last batches produced |
//! | FindCoordinator | itself (consumers with a `group.id` look it up even without group commits) |
//!
//! Anything else closes the connection, as Weir does for an API it does not
//! serve.
//!
//! ## Invariants
//!
//! * A topic exists as soon as any request names it (Metadata, Produce,
//!   ListOffsets, Fetch by name), with [`NullBrokerConfig::partitions`]
//!   partitions, unless CreateTopics created it first with its own count.
//! * A partition's log end offset starts at
//!   [`NullBrokerConfig::log_end_offset`] and only grows, by the record count
//!   of each accepted batch; it is the high watermark Fetch and ListOffsets
//!   report. Base offsets handed to producers are therefore increasing and
//!   dense per partition.
//! * Requests on one connection are handled one at a time and answered in
//!   order (Kafka mutes a connection while a request is in flight, too).
//! * Memory is bounded: request frames by [`REQUEST_FRAME_BYTES_MAX`], the
//!   topic table by [`topics::TOPICS_MAX`] and
//!   [`topics::PARTITIONS_PER_TOPIC_MAX`], Fetch responses by
//!   [`handlers::fetch::FETCH_RESPONSE_BYTES_MAX`], the echo tail by
//!   [`topics::ECHO_TAIL_BYTES_MAX`] per partition.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod connection;
pub mod dispatch;
pub mod error_codes;
pub mod fetch_batch;
pub mod handlers;
pub mod topics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use tokio::net::TcpListener;

use crate::null_broker::fetch_batch::{FetchBatch, FetchBatchError};
use crate::null_broker::topics::Topics;

/// Largest request frame accepted (Kafka's `socket.request.max.bytes`
/// default); a larger length prefix closes the connection.
pub const REQUEST_FRAME_BYTES_MAX: usize = 100 * 1024 * 1024;
/// The null broker's node id in Metadata and FindCoordinator.
pub const NODE_ID: i32 = 0;
/// The leader epoch of every partition (it never changes leader).
pub const LEADER_EPOCH: i32 = 0;
/// The cluster id in Metadata.
pub const CLUSTER_ID: &str = "weir-null-broker";

/// What the null broker serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NullBrokerConfig {
    /// Partitions of a topic created implicitly (by naming it) or by
    /// CreateTopics with `num_partitions = -1`.
    pub partitions: i32,
    /// Value size of each record in the pre-built Fetch batch.
    pub record_size_bytes: usize,
    /// Records in the pre-built Fetch batch.
    pub fetch_batch_records: i32,
    /// Log end offset every partition starts with: 0 for produce runs (the
    /// latest offset is then what was produced); the records a consumer
    /// should find for consume runs.
    pub log_end_offset: i64,
    /// Fetch serves the last batches produced to each partition instead of
    /// the pre-built batch (end-to-end latency runs: the consumer must see
    /// the producer's records).
    pub echo: bool,
}

impl Default for NullBrokerConfig {
    fn default() -> Self {
        NullBrokerConfig {
            partitions: 6,
            record_size_bytes: 1024,
            fetch_batch_records: 1000,
            log_end_offset: 0,
            echo: false,
        }
    }
}

/// Why the null broker cannot start with a configuration.
#[derive(thiserror::Error, Debug)]
pub enum StartError {
    /// `partitions` is outside 1..=[`topics::PARTITIONS_PER_TOPIC_MAX`].
    #[error("partitions must be in 1..={max}, not {0}", max = topics::PARTITIONS_PER_TOPIC_MAX)]
    InvalidPartitions(i32),
    /// `log_end_offset` is negative.
    #[error("log end offset must not be negative, not {0}")]
    InvalidLogEndOffset(i64),
    /// The pre-built Fetch batch cannot be built.
    #[error(transparent)]
    FetchBatch(#[from] FetchBatchError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The shared state of a running null broker.
#[derive(Debug)]
pub struct NullBroker {
    /// What it was started with.
    pub config: NullBrokerConfig,
    /// Host and port clients are told to connect to.
    pub advertised: (String, i32),
    /// Topics, partitions and their log end offsets.
    pub topics: Topics,
    /// The batch Fetch serves (outside echo mode).
    pub fetch_batch: FetchBatch,
    /// The next producer id InitProducerId hands out.
    pub next_producer_id: AtomicI64,
}

impl NullBroker {
    /// The state for `config`, advertising `advertised`.
    pub fn new(config: NullBrokerConfig, advertised: SocketAddr) -> Result<NullBroker, StartError> {
        if !(1..=topics::PARTITIONS_PER_TOPIC_MAX).contains(&config.partitions) {
            return Err(StartError::InvalidPartitions(config.partitions));
        }
        if config.log_end_offset < 0 {
            return Err(StartError::InvalidLogEndOffset(config.log_end_offset));
        }
        let fetch_batch = FetchBatch::new(
            config.fetch_batch_records,
            config.record_size_bytes,
            unix_time_ms(),
        )?;
        Ok(NullBroker {
            topics: Topics::new(config.partitions, config.log_end_offset, config.echo),
            advertised: (advertised.ip().to_string(), i32::from(advertised.port())),
            fetch_batch,
            next_producer_id: AtomicI64::new(0),
            config,
        })
    }
}

fn unix_time_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Bind `addr` and build the broker state; clients are told to connect to
/// the address actually bound (port 0 picks a free port).
pub async fn bind(
    addr: &str,
    config: NullBrokerConfig,
) -> Result<(TcpListener, Arc<NullBroker>), StartError> {
    let bind_err = |source| StartError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    let broker = NullBroker::new(config, local)?;
    Ok((listener, Arc::new(broker)))
}

/// Accept connections forever, serving each on its own task.
pub async fn serve(listener: TcpListener, broker: Arc<NullBroker>) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let broker = broker.clone();
        tokio::spawn(async move {
            if let Err(reason) = connection::serve(&broker, stream).await {
                eprintln!("weir null-broker: closing connection from {peer}: {reason}");
            }
        });
    }
}
