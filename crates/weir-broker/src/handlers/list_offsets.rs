//! ListOffsets (key 2): earliest, latest, max-timestamp and by-timestamp
//! lookups (the last through the time index). With read_committed
//! isolation (v2+) "latest" is the last stable offset.

use weir_protocol::messages::list_offsets_request::ListOffsetsRequest;
use weir_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, storage_error_code};

/// Special timestamps (Kafka's `ListOffsetsRequest`).
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
/// `isolation_level` read_committed: "latest" is the last stable offset.
const READ_COMMITTED: i8 = 1;

/// Answer ListOffsets.
pub fn handle(broker: &Broker, version: i16, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        error_code: 0,
                        timestamp: -1,
                        offset: -1,
                        leader_epoch: -1,
                        ..Default::default()
                    };
                    let Some(partition) = broker.logs.get(&t.name, p.partition_index) else {
                        r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        return r;
                    };
                    if p.current_leader_epoch >= 0
                        && p.current_leader_epoch != partition.leader_epoch
                    {
                        r.error_code = if p.current_leader_epoch > partition.leader_epoch {
                            ErrorCode::UnknownLeaderEpoch.code()
                        } else {
                            ErrorCode::FencedLeaderEpoch.code()
                        };
                        return r;
                    }
                    let (start, end) = match partition.offsets() {
                        Ok(o) => o,
                        Err(e) => {
                            r.error_code = storage_error_code(&e).code();
                            return r;
                        }
                    };
                    let latest = if req.isolation_level == READ_COMMITTED {
                        partition.last_stable_offset().unwrap_or(end)
                    } else {
                        end
                    };
                    let found: Result<Option<(i64, i64)>, _> = match p.timestamp {
                        LATEST => Ok(Some((latest, -1))),
                        EARLIEST | EARLIEST_LOCAL => Ok(Some((start, -1))),
                        // No tiered storage: nothing is tiered.
                        LATEST_TIERED => Ok(Some((-1, -1))),
                        MAX_TIMESTAMP => partition.max_timestamp(),
                        ts => partition.offset_for_timestamp(ts),
                    };
                    match found {
                        Ok(Some((offset, ts))) => {
                            r.offset = offset;
                            r.timestamp = ts;
                            if offset >= 0 {
                                r.leader_epoch = partition.leader_epoch;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => r.error_code = storage_error_code(&e).code(),
                    }
                    if version == 0 {
                        r.old_style_offsets = if r.offset >= 0 {
                            vec![r.offset]
                        } else {
                            Vec::new()
                        };
                    }
                    r
                })
                .collect();
            ListOffsetsTopicResponse {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ListOffsetsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}
