//! DeleteRecords (key 21, KIP-107): advance a partition's log-start offset;
//! segments wholly below it are deleted, and consumers below it get
//! OFFSET_OUT_OF_RANGE and follow `auto.offset.reset`. Offset -1 means the
//! high watermark; an offset past it is OFFSET_OUT_OF_RANGE.

use weir_protocol::messages::delete_records_request::DeleteRecordsRequest;
use weir_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, storage_error_code};

/// Answer DeleteRecords.
pub async fn handle(
    broker: &Broker,
    _version: i16,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let mut r = DeleteRecordsPartitionResult {
                partition_index: p.partition_index,
                low_watermark: -1,
                ..Default::default()
            };
            match broker.logs.get(&t.name, p.partition_index) {
                None => r.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                Some(part) => {
                    let offset = p.offset;
                    match tokio::task::spawn_blocking(move || part.delete_records_before(offset))
                        .await
                    {
                        Ok(Ok(low)) => r.low_watermark = low,
                        Ok(Err(e)) => r.error_code = storage_error_code(&e).code(),
                        Err(_) => r.error_code = ErrorCode::UnknownServerError.code(),
                    }
                }
            }
            partitions.push(r);
        }
        topics.push(DeleteRecordsTopicResult {
            name: t.name,
            partitions,
            ..Default::default()
        });
    }
    DeleteRecordsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}
