//! LeaveGroup (key 13). v0-2 name one member in `member_id` and report its
//! result as the top-level error; v3+ batch members (KIP-345) and report
//! per member.

use std::future::Future;
use std::sync::Arc;

use weir_group::LeavingMember;
use weir_protocol::messages::leave_group_request::LeaveGroupRequest;
use weir_protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code, group_result_code};

/// Run the leave now; the future yields the answer once it is durable.
pub fn begin(
    broker: &Arc<Broker>,
    version: i16,
    req: LeaveGroupRequest,
) -> impl Future<Output = LeaveGroupResponse> + Send + 'static {
    let members: Vec<LeavingMember> = if version >= 3 {
        req.members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: req.member_id.clone(),
            group_instance_id: None,
        }]
    };
    let waiting = broker.groups.is_ready().then(|| {
        broker.groups.call(broker, &req.group_id, |c, now| {
            c.leave(&req.group_id, &members, now)
        })
    });
    async move {
        let top = |code: ErrorCode| LeaveGroupResponse {
            error_code: code.code(),
            ..Default::default()
        };
        let Some(waiting) = waiting else {
            return top(ErrorCode::CoordinatorNotAvailable);
        };
        match waiting.wait().await {
            Err(_) => top(ErrorCode::NotCoordinator),
            Ok(Err(e)) => top(group_error_code(&e)),
            Ok(Ok(results)) if version < 3 => LeaveGroupResponse {
                error_code: results.first().map_or(0, group_result_code),
                ..Default::default()
            },
            Ok(Ok(results)) => LeaveGroupResponse {
                members: members
                    .into_iter()
                    .zip(results)
                    .map(|(m, r)| MemberResponse {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        error_code: group_result_code(&r),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        }
    }
}
