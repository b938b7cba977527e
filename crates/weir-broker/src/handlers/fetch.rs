//! Fetch (key 1): serve stored batches as they are on disk, with Kafka's
//! long-poll (`max_wait_ms` / `min_bytes`) and size limits (`max_bytes`,
//! `partition_max_bytes`, and KIP-74: the first batch of the first non-empty
//! partition is returned even if it is larger than the limits).
//!
//! `isolation_level` read_committed (1) reads only below the last stable
//! offset and lists the aborted transactions overlapping the returned
//! batches, so the client drops their records (Kafka's txn index lookup).
//!
//! Incremental fetch sessions (KIP-227) are not kept: every response carries
//! session id 0, which tells clients to send full requests; a request naming
//! a session gets FETCH_SESSION_ID_NOT_FOUND so the client starts over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_protocol::messages::fetch_request::FetchRequest;
use weir_protocol::messages::fetch_response::{
    AbortedTransaction, FetchResponse, FetchableTopicResponse, PartitionData,
};
use weir_types::TopicId;

use crate::broker::Broker;
use crate::errors::{ErrorCode, storage_error_code};
use crate::partition::Partition;

/// Longest long-poll honoured, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);
/// `isolation_level` value for read_committed.
const READ_COMMITTED: i8 = 1;

fn empty_partition(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        preferred_read_replica: -1,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}

/// What one pass over the requested partitions found.
struct Pass {
    topics: Vec<FetchableTopicResponse>,
    /// Record bytes gathered.
    total: usize,
    /// Some partition answered with an error.
    any_error: bool,
    /// The partitions that returned records, with those records (shared,
    /// not copied), for the throughput counters.
    served: Vec<(Arc<Partition>, Bytes)>,
}

/// One pass over the requested partitions.
fn read_once(broker: &Broker, version: i16, req: &FetchRequest) -> Pass {
    let image = broker.image();
    let mut remaining = if version >= 3 {
        req.max_bytes.max(0) as usize
    } else {
        usize::MAX
    };
    let mut total = 0usize;
    let mut any_error = false;
    let mut first_non_empty_done = false;
    let mut served = Vec::new();
    let mut out = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = if version >= 13 {
            image
                .topic_by_id(&TopicId(t.topic_id.0))
                .map(|x| x.name.clone())
        } else {
            Some(t.topic.clone())
        };
        let mut parts = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let Some(name) = &name else {
                any_error = true;
                parts.push(empty_partition(p.partition, ErrorCode::UnknownTopicId));
                continue;
            };
            let Some(partition) = broker.logs.get(name, p.partition) else {
                any_error = true;
                parts.push(empty_partition(
                    p.partition,
                    ErrorCode::UnknownTopicOrPartition,
                ));
                continue;
            };
            if p.current_leader_epoch >= 0 && p.current_leader_epoch != partition.leader_epoch {
                any_error = true;
                let code = if p.current_leader_epoch > partition.leader_epoch {
                    ErrorCode::UnknownLeaderEpoch
                } else {
                    ErrorCode::FencedLeaderEpoch
                };
                parts.push(empty_partition(p.partition, code));
                continue;
            }
            let (log_start, hw) = match partition.offsets() {
                Ok(o) => o,
                Err(e) => {
                    any_error = true;
                    parts.push(empty_partition(p.partition, storage_error_code(&e)));
                    continue;
                }
            };
            let mut pd = empty_partition(p.partition, ErrorCode::None);
            pd.high_watermark = hw;
            pd.last_stable_offset = partition.last_stable_offset().unwrap_or(hw);
            pd.log_start_offset = log_start;
            let committed = req.isolation_level == READ_COMMITTED;
            if committed {
                pd.aborted_transactions = Some(Vec::new());
            }
            if p.fetch_offset < log_start || p.fetch_offset > hw {
                any_error = true;
                pd.error_code = ErrorCode::OffsetOutOfRange.code();
                parts.push(pd);
                continue;
            }
            let limit = (p.partition_max_bytes.max(0) as usize).min(remaining);
            if p.fetch_offset < hw && (limit > 0 || !first_non_empty_done) {
                let read = if committed {
                    partition
                        .read_committed(p.fetch_offset, limit.max(1))
                        .map(|(bytes, aborted)| (bytes, Some(aborted)))
                } else {
                    partition
                        .read(p.fetch_offset, limit.max(1))
                        .map(|bytes| (bytes, None))
                };
                match read {
                    Ok((bytes, aborted)) => {
                        if let Some(aborted) = aborted.filter(|_| !bytes.is_empty()) {
                            pd.aborted_transactions = Some(
                                aborted
                                    .into_iter()
                                    .map(|a| AbortedTransaction {
                                        producer_id: a.producer_id,
                                        first_offset: a.first_offset,
                                        ..Default::default()
                                    })
                                    .collect(),
                            );
                        }
                        // Only the first non-empty partition may exceed the limits (KIP-74).
                        if !bytes.is_empty() && (!first_non_empty_done || bytes.len() <= limit) {
                            first_non_empty_done = true;
                            remaining = remaining.saturating_sub(bytes.len());
                            total += bytes.len();
                            served.push((partition.clone(), bytes.clone()));
                            pd.records = Some(bytes);
                        }
                    }
                    Err(e) => {
                        any_error = true;
                        pd.error_code = storage_error_code(&e).code();
                    }
                }
            }
            parts.push(pd);
        }
        out.push(FetchableTopicResponse {
            topic: t.topic.clone(),
            topic_id: t.topic_id,
            partitions: parts,
            ..Default::default()
        });
    }
    Pass {
        topics: out,
        total,
        any_error,
        served,
    }
}

/// Count what a consumer fetch returns (records and bytes per topic; errors
/// are counted where the response is encoded, with every other API's).
fn count(req: &FetchRequest, served: &[(Arc<Partition>, Bytes)]) {
    if req.replica_id >= 0 {
        return;
    }
    for (partition, bytes) in served {
        let records: i64 = weir_protocol::record_batch::BatchIter::new(bytes)
            .filter_map(Result::ok)
            .filter(|(_, h)| !h.is_control())
            .map(|(_, h)| i64::from(h.last_offset_delta) + 1)
            .sum();
        let counters = partition.counters();
        counters
            .records_out
            .increment(u64::try_from(records).unwrap_or(0));
        counters.bytes_out.increment(bytes.len() as u64);
    }
}

/// Answer a Fetch request, long-polling while fewer than `min_bytes` are
/// available and `max_wait_ms` has not passed.
pub async fn handle(broker: &Arc<Broker>, version: i16, req: FetchRequest) -> FetchResponse {
    let mut resp = FetchResponse {
        session_id: 0,
        ..Default::default()
    };
    if version >= 7 && req.session_id != 0 {
        resp.error_code = ErrorCode::FetchSessionIdNotFound.code();
        return resp;
    }
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let min_bytes = req.min_bytes.max(0) as usize;
    loop {
        let notified = broker.data_appended.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let pass = read_once(broker, version, &req);
        let now = Instant::now();
        if pass.total >= min_bytes || pass.any_error || now >= deadline {
            count(&req, &pass.served);
            resp.responses = pass.topics;
            return resp;
        }
        if tokio::time::timeout(deadline - now, notified)
            .await
            .is_err()
        {
            // Timed out: answer with what there is (re-read: data may have
            // arrived between the read and the wait).
            let pass = read_once(broker, version, &req);
            count(&req, &pass.served);
            resp.responses = pass.topics;
            return resp;
        }
    }
}
