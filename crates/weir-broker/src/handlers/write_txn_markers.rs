//! WriteTxnMarkers (key 27): write commit/abort markers into partitions
//! this broker leads. Transaction coordinators send it (Kafka's
//! inter-broker path) and so do admin tools that abort hanging
//! transactions (`kafka-transactions.sh abort`). Each partition is
//! answered once its marker is durable. A marker for a producer the
//! partition never saw is accepted (its transaction wrote nothing there);
//! an older producer epoch gets INVALID_PRODUCER_EPOCH and an older
//! coordinator epoch TRANSACTION_COORDINATOR_FENCED, as in Kafka.

use std::future::Future;
use std::sync::Arc;

use weir_protocol::control::Marker;
use weir_protocol::messages::write_txn_markers_request::WriteTxnMarkersRequest;
use weir_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    WriteTxnMarkersResponse,
};

use crate::broker::Broker;
use crate::txn_markers::{append_marker, wait_durable};

/// Append every marker now (in request order); the future answers once
/// they are durable.
pub fn begin(
    broker: &Arc<Broker>,
    _version: i16,
    req: WriteTxnMarkersRequest,
) -> impl Future<Output = WriteTxnMarkersResponse> + Send + 'static {
    let mut waits = Vec::new();
    let mut markers = Vec::with_capacity(req.markers.len());
    for (mi, m) in req.markers.iter().enumerate() {
        let marker = Marker {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit: m.transaction_result,
            coordinator_epoch: m.coordinator_epoch,
        };
        let mut topics = Vec::with_capacity(m.topics.len());
        for (ti, t) in m.topics.iter().enumerate() {
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for (pi, &index) in t.partition_indexes.iter().enumerate() {
                let code = match append_marker(broker, &t.name, index, &marker) {
                    Ok((p, end)) => {
                        waits.push((mi, ti, pi, p, end));
                        0
                    }
                    Err(code) => code.code(),
                };
                partitions.push(WritableTxnMarkerPartitionResult {
                    partition_index: index,
                    error_code: code,
                    ..Default::default()
                });
            }
            topics.push(WritableTxnMarkerTopicResult {
                name: t.name.clone(),
                partitions,
                ..Default::default()
            });
        }
        markers.push(WritableTxnMarkerResult {
            producer_id: m.producer_id,
            topics,
            ..Default::default()
        });
    }
    async move {
        let mut resp = WriteTxnMarkersResponse {
            markers,
            ..Default::default()
        };
        for (mi, ti, pi, p, end) in waits {
            if let Err(code) = wait_durable(&p, end).await
                && let Some(r) = resp
                    .markers
                    .get_mut(mi)
                    .and_then(|m| m.topics.get_mut(ti))
                    .and_then(|t| t.partitions.get_mut(pi))
            {
                r.error_code = code.code();
            }
        }
        resp
    }
}
