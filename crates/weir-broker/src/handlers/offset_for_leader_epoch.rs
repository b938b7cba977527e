//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, which
//! consumers use to detect log truncation (KIP-320). A single node has led
//! every partition since epoch 0, so the current epoch ends at the log end
//! and any later epoch is unknown (-1, -1), as Kafka's epoch cache answers.

use weir_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderEpochRequest;
use weir_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, storage_error_code};

/// Answer OffsetForLeaderEpoch.
pub fn handle(
    broker: &Broker,
    _version: i16,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    let Some(part) = broker.logs.get(&t.topic, p.partition) else {
                        r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        return r;
                    };
                    if p.current_leader_epoch >= 0 && p.current_leader_epoch != part.leader_epoch {
                        r.error_code = if p.current_leader_epoch > part.leader_epoch {
                            ErrorCode::UnknownLeaderEpoch.code()
                        } else {
                            ErrorCode::FencedLeaderEpoch.code()
                        };
                        return r;
                    }
                    match part.offsets() {
                        Err(e) => r.error_code = storage_error_code(&e).code(),
                        Ok((_, end))
                            if p.leader_epoch >= 0 && p.leader_epoch <= part.leader_epoch =>
                        {
                            r.leader_epoch = part.leader_epoch;
                            r.end_offset = end;
                        }
                        Ok(_) => {}
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: t.topic,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}
