//! ListGroups (key 16). v4+ filter by state (case-insensitive), v5+ by
//! type: every group here is a `classic` group.

use std::sync::Arc;

use weir_protocol::messages::list_groups_request::ListGroupsRequest;
use weir_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};

use crate::broker::Broker;
use crate::errors::ErrorCode;

/// The type of every group Weir coordinates.
const CLASSIC: &str = "classic";

/// Answer a ListGroups request.
pub fn handle(broker: &Arc<Broker>, version: i16, req: ListGroupsRequest) -> ListGroupsResponse {
    if !broker.groups.is_ready() {
        return ListGroupsResponse {
            error_code: ErrorCode::CoordinatorNotAvailable.code(),
            ..Default::default()
        };
    }
    let states = if version >= 4 {
        req.states_filter
    } else {
        Vec::new()
    };
    let types_ok = version < 5
        || req.types_filter.is_empty()
        || req
            .types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case(CLASSIC));
    let groups = if types_ok {
        broker.groups.read(|c| c.list(&states))
    } else {
        Vec::new()
    };
    ListGroupsResponse {
        groups: groups
            .into_iter()
            .map(|g| ListedGroup {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                group_state: g.state,
                group_type: CLASSIC.into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
