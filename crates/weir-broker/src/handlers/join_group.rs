//! JoinGroup (key 11): parked until the join phase completes. v0 has no
//! rebalance timeout: the session timeout serves, as in Kafka.

use std::future::Future;
use std::sync::Arc;

use weir_group::{JoinOutcome, Response};
use weir_protocol::messages::join_group_request::JoinGroupRequest;
use weir_protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_code};

fn response(version: i16, o: JoinOutcome) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: group_code(o.error),
        generation_id: o.generation_id,
        protocol_type: o.protocol_type,
        // Not nullable before v7.
        protocol_name: if version < 7 {
            Some(o.protocol_name.unwrap_or_default())
        } else {
            o.protocol_name
        },
        leader: o.leader,
        skip_assignment: o.skip_assignment,
        member_id: o.member_id,
        members: o
            .members
            .into_iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                metadata: m.metadata,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn failed(version: i16, code: ErrorCode, member_id: &str) -> JoinGroupResponse {
    let mut r = response(
        version,
        JoinOutcome::failed(weir_group::GroupError::UnknownMemberId, member_id),
    );
    r.error_code = code.code();
    r
}

/// Run the join now; the future yields the answer.
pub fn begin(
    broker: &Arc<Broker>,
    version: i16,
    mut req: JoinGroupRequest,
    client_id: &str,
    client_host: &str,
) -> impl Future<Output = JoinGroupResponse> + Send + 'static {
    if version == 0 {
        req.rebalance_timeout_ms = req.session_timeout_ms;
    }
    let parked = broker.groups.is_ready().then(|| {
        broker.groups.park(broker, &req.group_id, |c, id, now| {
            c.join(id, version, &req, client_id, client_host, now)
        })
    });
    let member_id = req.member_id;
    async move {
        let Some(parked) = parked else {
            return failed(version, ErrorCode::CoordinatorNotAvailable, &member_id);
        };
        match parked.wait().await {
            Some(Response::Join(o)) => response(version, o),
            _ => failed(version, ErrorCode::UnknownServerError, &member_id),
        }
    }
}
