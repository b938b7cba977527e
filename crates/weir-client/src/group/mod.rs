//! Consumer groups from the client side: finding a group's coordinator,
//! the admin operations of `kafka-consumer-groups.sh` ([`GroupAdmin`]), the
//! consumer protocol's subscription and assignment formats ([`protocol`]),
//! and a minimal classic-protocol member ([`GroupMember`]).
//!
//! Every group request goes to the group's *coordinator*, the broker that
//! leads the `__consumer_offsets` partition of the group. It is found with
//! FindCoordinator (key type 0, "group"); while the broker is still loading
//! or creating `__consumer_offsets` it answers COORDINATOR_NOT_AVAILABLE or
//! COORDINATOR_LOAD_IN_PROGRESS, so the lookup is retried for a bounded time
//! ([`COORDINATOR_WAIT`]). A NOT_COORDINATOR answer to a later request means
//! the coordinator moved: the caller looks it up again.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use weir_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};

use crate::client::Client;
use crate::connection::Connection;
use crate::error::{ClientError, check_code};

pub mod admin;
pub mod member;
pub mod protocol;

pub use admin::{
    CommittedOffset, GroupAdmin, GroupDescription, GroupListing, GroupMemberDescription,
};
pub use member::{GroupMember, GroupMemberConfig};

/// Kafka's `COORDINATOR_LOAD_IN_PROGRESS`.
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
/// Kafka's `COORDINATOR_NOT_AVAILABLE`.
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
/// Kafka's `NOT_COORDINATOR`.
pub const NOT_COORDINATOR: i16 = 16;
/// Kafka's `ILLEGAL_GENERATION`.
pub const ILLEGAL_GENERATION: i16 = 22;
/// Kafka's `UNKNOWN_MEMBER_ID`.
pub const UNKNOWN_MEMBER_ID: i16 = 25;
/// Kafka's `REBALANCE_IN_PROGRESS`.
pub const REBALANCE_IN_PROGRESS: i16 = 27;
/// Kafka's `NON_EMPTY_GROUP`.
pub const NON_EMPTY_GROUP: i16 = 68;
/// Kafka's `GROUP_ID_NOT_FOUND`.
pub const GROUP_ID_NOT_FOUND: i16 = 69;
/// Kafka's `MEMBER_ID_REQUIRED`.
pub const MEMBER_ID_REQUIRED: i16 = 79;

/// How long a coordinator lookup keeps retrying while the broker answers
/// that the coordinator is not available yet.
pub const COORDINATOR_WAIT: Duration = Duration::from_secs(15);
/// Pause between two coordinator lookups.
const COORDINATOR_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// FindCoordinator's key type for groups.
const KEY_TYPE_GROUP: i8 = 0;

/// The broker that coordinates a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    /// Broker id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

impl std::fmt::Display for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{} (id: {})", self.host, self.port, self.node_id)
        } else {
            write!(f, "{}:{} (id: {})", self.host, self.port, self.node_id)
        }
    }
}

/// Whether `e` says the coordinator is not (yet, or no longer) reachable
/// where the client looked, so a fresh lookup may help.
pub fn is_coordinator_error(e: &ClientError) -> bool {
    matches!(
        e.kafka_code(),
        Some(COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR)
    ) || matches!(
        e,
        ClientError::Io { .. } | ClientError::ConnectionClosed { .. }
    )
}

/// Ask any broker once for the coordinator of `group`.
async fn find_coordinator_once(client: &Client, group: &str) -> Result<Coordinator, ClientError> {
    let conn = client.any_connection().await?;
    // v0-v3 carry one `key`, v4+ the batched `coordinator_keys`; each
    // version encodes only its own field, so both are set.
    let req = FindCoordinatorRequest {
        key: group.to_owned(),
        key_type: KEY_TYPE_GROUP,
        coordinator_keys: vec![group.to_owned()],
        ..Default::default()
    };
    let (_, resp): (i16, FindCoordinatorResponse) = conn.send(&req).await?;
    if resp.coordinators.is_empty() {
        check_code(resp.error_code, resp.error_message.as_deref())?;
        return Ok(Coordinator {
            node_id: resp.node_id,
            host: resp.host,
            port: resp.port,
        });
    }
    let c = resp
        .coordinators
        .into_iter()
        .find(|c| c.key == group)
        .ok_or(ClientError::UnexpectedResponse(
            "group missing from FindCoordinator response",
        ))?;
    check_code(c.error_code, c.error_message.as_deref())?;
    Ok(Coordinator {
        node_id: c.node_id,
        host: c.host,
        port: c.port,
    })
}

/// The coordinator of `group`, retrying for up to [`COORDINATOR_WAIT`]
/// while the broker says it is not available yet.
pub async fn find_coordinator(client: &Client, group: &str) -> Result<Coordinator, ClientError> {
    let deadline = Instant::now() + COORDINATOR_WAIT;
    loop {
        match find_coordinator_once(client, group).await {
            Ok(c) if c.node_id >= 0 => return Ok(c),
            Ok(_) => {
                if Instant::now() >= deadline {
                    return Err(ClientError::kafka(COORDINATOR_NOT_AVAILABLE, None));
                }
            }
            Err(e) if is_coordinator_error(&e) && Instant::now() < deadline => {
                tracing::debug!(group, error = %e, "coordinator not available yet");
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(COORDINATOR_RETRY_BACKOFF).await;
    }
}

/// A connection to the coordinator of `group`, with the coordinator.
pub async fn coordinator_connection(
    client: &Client,
    group: &str,
) -> Result<(Coordinator, Arc<Connection>), ClientError> {
    let coordinator = find_coordinator(client, group).await?;
    let conn = client.broker_connection(coordinator.node_id).await?;
    Ok((coordinator, conn))
}

/// Run `op` against the coordinator of `group`, looking the coordinator up
/// again (for up to [`COORDINATOR_WAIT`]) when the answer says it moved or
/// is still loading.
pub(crate) async fn with_coordinator<T, F, Fut>(
    client: &Client,
    group: &str,
    mut op: F,
) -> Result<T, ClientError>
where
    F: FnMut(Coordinator, Arc<Connection>) -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let deadline = Instant::now() + COORDINATOR_WAIT;
    loop {
        let (coordinator, conn) = coordinator_connection(client, group).await?;
        match op(coordinator, conn).await {
            Err(e) if is_coordinator_error(&e) && Instant::now() < deadline => {
                tracing::debug!(group, error = %e, "retrying at the coordinator");
                tokio::time::sleep(COORDINATOR_RETRY_BACKOFF).await;
            }
            other => return other,
        }
    }
}
