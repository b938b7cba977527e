//! Fetch (key 1): copies of the pre-built batch (or, in echo mode, the last
//! batches produced), with Kafka's limits and long-poll.
//!
//! * Limits: `partition_max_bytes` per partition and `max_bytes` in total,
//!   both capped at [`FETCH_RESPONSE_BYTES_MAX`]; the first partition with
//!   data gets at least one batch even when it is larger (KIP-74).
//! * Long-poll: while fewer than `min_bytes` are available the request waits
//!   for a Produce, up to `max_wait_ms` (at most [`MAX_WAIT_CAP`]).
//! * No incremental fetch sessions (KIP-227): every response carries session
//!   id 0, which tells clients to send full requests; a request naming a
//!   session gets FETCH_SESSION_ID_NOT_FOUND so the client starts over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_protocol::codec::Uuid;
use weir_protocol::messages::fetch_request::{FetchPartition, FetchRequest};
use weir_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};

use crate::null_broker::error_codes::{ErrorCode, topic_error_code};
use crate::null_broker::topics::{Partition, Topic};
use crate::null_broker::{LEADER_EPOCH, NullBroker};

/// Most record bytes in one response, whatever the client asks.
pub const FETCH_RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Longest long-poll honoured, whatever the client asks.
pub const MAX_WAIT_CAP: Duration = Duration::from_secs(30);
/// Fetch v7 introduced sessions.
const SESSIONS_VERSION: i16 = 7;
/// Fetch v13 names topics by id.
const TOPIC_IDS_VERSION: i16 = 13;
/// `isolation_level` read_committed.
const READ_COMMITTED: i8 = 1;

const _: () = assert!(
    crate::null_broker::fetch_batch::FETCH_BATCH_BYTES_MAX <= FETCH_RESPONSE_BYTES_MAX,
    "one pre-built batch must fit a response"
);

fn partition_data(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted_transactions: None,
        preferred_read_replica: -1,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}

/// What one pass over the requested partitions found.
struct Pass {
    topics: Vec<FetchableTopicResponse>,
    /// Record bytes gathered.
    total_bytes: usize,
    /// Some partition answered with an error (answer at once).
    any_error: bool,
}

/// Budget shared by the partitions of one pass.
struct Budget {
    remaining_bytes: usize,
    gathered_bytes: usize,
    first_done: bool,
}

fn read_partition(
    broker: &NullBroker,
    partition: &Partition,
    p: &FetchPartition,
    committed: bool,
    budget: &mut Budget,
) -> PartitionData {
    if p.current_leader_epoch > LEADER_EPOCH {
        return partition_data(p.partition, ErrorCode::UnknownLeaderEpoch);
    }
    let end = partition.log_end_offset();
    if p.fetch_offset < 0 || p.fetch_offset > end {
        let mut pd = partition_data(p.partition, ErrorCode::OffsetOutOfRange);
        pd.high_watermark = end;
        pd.last_stable_offset = end;
        pd.log_start_offset = 0;
        return pd;
    }
    let mut pd = partition_data(p.partition, ErrorCode::None);
    pd.high_watermark = end;
    pd.last_stable_offset = end;
    pd.log_start_offset = 0;
    if committed {
        pd.aborted_transactions = Some(Vec::new());
    }
    let limit = usize::try_from(p.partition_max_bytes)
        .unwrap_or(0)
        .min(budget.remaining_bytes);
    let first = !budget.first_done;
    let records = match partition.echo_read(p.fetch_offset, limit, first) {
        Some(echoed) => echoed,
        None => {
            let copies = broker
                .fetch_batch
                .copies_for(p.fetch_offset, end, limit, first);
            broker.fetch_batch.copies(p.fetch_offset, copies)
        }
    };
    if !records.is_empty() {
        budget.first_done = true;
        budget.remaining_bytes = budget.remaining_bytes.saturating_sub(records.len());
        budget.gathered_bytes += records.len();
    }
    pd.records = Some(records);
    pd
}

fn resolve(
    broker: &NullBroker,
    version: i16,
    topic: &str,
    id: &Uuid,
) -> Result<Arc<Topic>, ErrorCode> {
    if version >= TOPIC_IDS_VERSION {
        broker.topics.by_id(id).ok_or(ErrorCode::UnknownTopicId)
    } else {
        broker
            .topics
            .get_or_create(topic)
            .map_err(|e| topic_error_code(&e))
    }
}

fn read_once(broker: &NullBroker, version: i16, req: &FetchRequest) -> Pass {
    let mut budget = Budget {
        remaining_bytes: usize::try_from(req.max_bytes)
            .unwrap_or(0)
            .min(FETCH_RESPONSE_BYTES_MAX),
        gathered_bytes: 0,
        first_done: false,
    };
    let committed = req.isolation_level == READ_COMMITTED;
    let mut any_error = false;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let topic = resolve(broker, version, &t.topic, &t.topic_id);
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let pd = match &topic {
                    Err(code) => partition_data(p.partition, *code),
                    Ok(topic) => match topic.partition(p.partition) {
                        None => partition_data(p.partition, ErrorCode::UnknownTopicOrPartition),
                        Some(partition) => {
                            read_partition(broker, partition, p, committed, &mut budget)
                        }
                    },
                };
                any_error |= pd.error_code != ErrorCode::None.code();
                pd
            })
            .collect();
        topics.push(FetchableTopicResponse {
            topic: topic
                .as_ref()
                .map_or_else(|_| t.topic.clone(), |x| x.name.clone()),
            topic_id: t.topic_id,
            partitions,
            ..Default::default()
        });
    }
    Pass {
        topics,
        total_bytes: budget.gathered_bytes,
        any_error,
    }
}

/// Answer Fetch, long-polling while fewer than `min_bytes` are available.
pub async fn handle(broker: &NullBroker, version: i16, req: FetchRequest) -> FetchResponse {
    let mut resp = FetchResponse {
        session_id: 0,
        ..Default::default()
    };
    if version >= SESSIONS_VERSION && req.session_id != 0 {
        resp.error_code = ErrorCode::FetchSessionIdNotFound.code();
        return resp;
    }
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    loop {
        // Registered before reading, so a Produce between the read and the
        // wait still wakes this request.
        let appended = broker.topics.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let pass = read_once(broker, version, &req);
        let now = Instant::now();
        if pass.total_bytes >= min_bytes || pass.any_error || now >= deadline {
            resp.responses = pass.topics;
            return resp;
        }
        if tokio::time::timeout(deadline - now, appended)
            .await
            .is_err()
        {
            resp.responses = read_once(broker, version, &req).topics;
            return resp;
        }
    }
}
