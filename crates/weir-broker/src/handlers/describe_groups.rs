//! DescribeGroups (key 15). An unknown group is described as `Dead` with
//! no error (v0-v5, as Kafka). Authorized operations are not computed
//! (no ACLs): the field keeps Kafka's "not requested" value.

use std::sync::Arc;

use weir_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use weir_protocol::messages::describe_groups_response::{
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code};

/// Kafka's value for "authorized operations not requested".
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

/// Answer a DescribeGroups request.
pub fn handle(
    broker: &Arc<Broker>,
    _version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let ready = broker.groups.is_ready();
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let failed = |code: ErrorCode, id: String| DescribedGroup {
                error_code: code.code(),
                group_id: id,
                authorized_operations: OPERATIONS_NOT_REQUESTED,
                ..Default::default()
            };
            if !ready {
                return failed(ErrorCode::CoordinatorNotAvailable, id);
            }
            match broker.groups.read(|c| c.describe(&id)) {
                Err(e) => failed(group_error_code(&e), id),
                Ok(d) => DescribedGroup {
                    group_id: d.group_id,
                    group_state: d.state,
                    protocol_type: d.protocol_type,
                    protocol_data: d.protocol,
                    members: d
                        .members
                        .into_iter()
                        .map(|m| DescribedGroupMember {
                            member_id: m.member_id,
                            group_instance_id: m.group_instance_id,
                            client_id: m.client_id,
                            client_host: m.client_host,
                            member_metadata: m.metadata,
                            member_assignment: m.assignment,
                            ..Default::default()
                        })
                        .collect(),
                    authorized_operations: OPERATIONS_NOT_REQUESTED,
                    ..Default::default()
                },
            }
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}
