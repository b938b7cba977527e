//! ListOffsets (key 2): earliest is 0, latest the log end offset (produced
//! records, plus the configured starting offset for consume runs).
//!
//! Timestamp lookups answer for the pre-built Fetch batch, whose records all
//! carry the start-up time: the first offset, or none for a later time.

use weir_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsRequest};
use weir_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};

use crate::null_broker::error_codes::{ErrorCode, topic_error_code};
use crate::null_broker::topics::Partition;
use crate::null_broker::{LEADER_EPOCH, NullBroker};

/// Special timestamps (Kafka's `ListOffsetsRequest`).
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

fn lookup(broker: &NullBroker, partition: &Partition, timestamp: i64) -> (i64, i64) {
    let end = partition.log_end_offset();
    let batch_time = broker.fetch_batch.timestamp_ms();
    match timestamp {
        LATEST => (end, -1),
        EARLIEST | EARLIEST_LOCAL => (0, -1),
        // Nothing is tiered.
        LATEST_TIERED => (-1, -1),
        MAX_TIMESTAMP if end > 0 => (end - 1, batch_time),
        ts if ts >= 0 && ts <= batch_time && end > 0 => (0, batch_time),
        _ => (-1, -1),
    }
}

fn answer(
    broker: &NullBroker,
    topic: &str,
    p: &ListOffsetsPartition,
) -> ListOffsetsPartitionResponse {
    let mut r = ListOffsetsPartitionResponse {
        partition_index: p.partition_index,
        ..Default::default()
    };
    let topic = match broker.topics.get_or_create(topic) {
        Ok(t) => t,
        Err(e) => {
            r.error_code = topic_error_code(&e).code();
            return r;
        }
    };
    let Some(partition) = topic.partition(p.partition_index) else {
        r.error_code = ErrorCode::UnknownTopicOrPartition.code();
        return r;
    };
    if p.current_leader_epoch > LEADER_EPOCH {
        r.error_code = ErrorCode::UnknownLeaderEpoch.code();
        return r;
    }
    let (offset, timestamp) = lookup(broker, partition, p.timestamp);
    r.offset = offset;
    r.timestamp = timestamp;
    r.leader_epoch = if offset >= 0 { LEADER_EPOCH } else { -1 };
    r
}

/// Answer ListOffsets (v1+: one offset per partition).
pub fn handle(broker: &NullBroker, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| answer(broker, &t.name, p))
                .collect(),
            ..Default::default()
        })
        .collect();
    ListOffsetsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}
