//! Writing transaction markers into partitions: used by the transaction
//! coordinator when a transaction ends and by the WriteTxnMarkers API.
//!
//! A marker closes the producer's open transaction in that partition (see
//! [`crate::producer_state`]); in `__consumer_offsets` it also commits or
//! drops the offsets the transaction committed there.

use std::sync::Arc;

use weir_protocol::control::Marker;

use crate::broker::{Broker, now_ms};
use crate::errors::{ErrorCode, append_error_code, storage_error_code};
use crate::group_service::OFFSETS_TOPIC;
use crate::partition::Partition;

/// Append `marker` to `topic`-`partition`. Returns the partition and the
/// offset (exclusive) that must be durable before the marker counts.
pub fn append_marker(
    broker: &Broker,
    topic: &str,
    partition: i32,
    marker: &Marker,
) -> Result<(Arc<Partition>, i64), ErrorCode> {
    let Some(p) = broker.logs.get(topic, partition) else {
        return Err(ErrorCode::UnknownTopicOrPartition);
    };
    let appended = if topic == OFFSETS_TOPIC {
        broker.groups.append_marker(&p, marker, now_ms())
    } else {
        p.append_marker(marker, now_ms())
    };
    match appended {
        Ok(info) => {
            broker.data_appended.notify_waiters();
            Ok((p, info.last_offset + 1))
        }
        Err(e) => {
            let code = append_error_code(&e);
            tracing::warn!(topic, partition, producer_id = marker.producer_id, error = %e, "transaction marker refused");
            Err(code)
        }
    }
}

/// Wait until a marker appended by [`append_marker`] is durable.
pub async fn wait_durable(p: &Partition, end: i64) -> Result<(), ErrorCode> {
    p.wait_durable(end).await.map_err(|e| {
        tracing::error!(topic = %p.topic, partition = p.index, error = %e, "transaction marker not durable");
        storage_error_code(&e)
    })
}
