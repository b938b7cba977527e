//! DeleteGroups (key 42): only empty groups; their offsets and metadata
//! get tombstones, answered once durable.

use std::future::Future;
use std::sync::Arc;

use weir_group::Outcome;
use weir_protocol::messages::delete_groups_request::DeleteGroupsRequest;
use weir_protocol::messages::delete_groups_response::{DeletableGroupResult, DeleteGroupsResponse};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_result_code};

/// Run the deletions now; the future yields the answer once durable.
pub fn begin(
    broker: &Arc<Broker>,
    _version: i16,
    req: DeleteGroupsRequest,
) -> impl Future<Output = DeleteGroupsResponse> + Send + 'static {
    let names = req.groups_names;
    let waiting = broker.groups.is_ready().then(|| {
        broker.groups.call(broker, "", |c, _now| {
            let mut effects = Vec::new();
            let result: Vec<i16> = names
                .iter()
                .map(|g| {
                    let out = c.delete_group(g);
                    effects.extend(out.effects);
                    group_result_code(&out.result)
                })
                .collect();
            Outcome { result, effects }
        })
    });
    async move {
        let codes = match waiting {
            None => vec![ErrorCode::CoordinatorNotAvailable.code(); names.len()],
            Some(w) => match w.wait().await {
                Ok(codes) => codes,
                Err(_) => vec![ErrorCode::NotCoordinator.code(); names.len()],
            },
        };
        DeleteGroupsResponse {
            results: names
                .into_iter()
                .zip(codes)
                .map(|(group_id, error_code)| DeletableGroupResult {
                    group_id,
                    error_code,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}
