//! OffsetDelete (key 47): remove committed offsets of partitions no active
//! member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

use std::future::Future;
use std::sync::Arc;

use weir_protocol::messages::offset_delete_request::OffsetDeleteRequest;
use weir_protocol::messages::offset_delete_response::{
    OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code, group_result_code};
use crate::handlers::offset_commit::partition_exists;

/// Run the deletion now; the future yields the answer once durable.
pub fn begin(
    broker: &Arc<Broker>,
    _version: i16,
    req: OffsetDeleteRequest,
) -> impl Future<Output = OffsetDeleteResponse> + Send + 'static {
    let parts: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.clone(), p.partition_index))
        })
        .collect();
    let waiting = broker.groups.is_ready().then(|| {
        let b = broker.clone();
        let exists = move |t: &str, p: i32| partition_exists(&b, t, p);
        broker.groups.call(broker, &req.group_id, |c, _now| {
            c.delete_offsets(&req.group_id, &parts, &exists)
        })
    });
    async move {
        let top = |code: ErrorCode| OffsetDeleteResponse {
            error_code: code.code(),
            ..Default::default()
        };
        let results = match waiting {
            None => return top(ErrorCode::CoordinatorNotAvailable),
            Some(w) => match w.wait().await {
                Err(_) => return top(ErrorCode::NotCoordinator),
                Ok(Err(e)) => return top(group_error_code(&e)),
                Ok(Ok(r)) => r,
            },
        };
        let mut codes = results.iter().map(group_result_code);
        OffsetDeleteResponse {
            topics: req
                .topics
                .iter()
                .map(|t| OffsetDeleteResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetDeleteResponsePartition {
                            partition_index: p.partition_index,
                            error_code: codes.next().unwrap_or(0),
                        })
                        .collect(),
                })
                .collect(),
            ..Default::default()
        }
    }
}
