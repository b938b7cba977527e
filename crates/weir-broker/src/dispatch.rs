//! Request header decoding, version checks and routing to the handlers.
//!
//! Kafka's rules for bad requests, which Weir follows:
//! * an ApiVersions request with a version the broker does not know gets
//!   UNSUPPORTED_VERSION in a v0 body listing the supported ranges (KIP-511),
//!   so the client can retry with a version both sides know;
//! * any other unknown API key or version, or a body that does not decode,
//!   closes the connection (Kafka's `InvalidRequestException` path).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use weir_protocol::api::RequestBody;
use weir_protocol::codec::Message;
use weir_protocol::header::{decode_request_header, encode_response_frame};

use crate::broker::Broker;
use crate::handlers::{
    add_offsets_to_txn, add_partitions_to_txn, end_txn, transactions, txn_offset_commit,
    write_txn_markers,
};
use crate::handlers::{
    alter_configs, create_partitions, delete_records, describe_configs, describe_log_dirs,
    offset_for_leader_epoch,
};
use crate::handlers::{
    api_versions, create_topics, delete_groups, delete_topics, describe_cluster, describe_groups,
    fetch, find_coordinator, heartbeat, init_producer_id, join_group, leave_group, list_groups,
    list_offsets, metadata, offset_commit, offset_delete, offset_fetch, produce, sync_group,
};
use crate::request_metrics::count_response_errors;

/// What the writer sends back for one request.
pub enum Reply {
    /// A complete response frame (length prefix included).
    Frame(BytesMut),
    /// Nothing (Produce with acks=0).
    NoResponse,
    /// Close the connection, with the reason to log.
    Close(String),
}

/// A boxed response future.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'static>>;

/// The result of a request's in-order part.
pub enum Pending {
    /// The reply is known.
    Ready(Reply),
    /// The reply needs waiting (fsync, long-poll); runs in its own task.
    Wait(ReplyFuture),
}

/// Encode `body` as the response to request `cid`, counting the error
/// codes it carries (`weir_request_errors_total`). Every response the broker
/// sends passes here, so this is the one place errors of all APIs are counted.
pub fn respond<M: Message>(cid: i32, api_key: i16, version: i16, body: &M) -> Reply {
    count_response_errors(api_key, version, body);
    match encode_response_frame(cid, api_key, version, body) {
        Ok(buf) => Reply::Frame(buf),
        Err(e) => {
            tracing::error!(api_key, version, error = %e, "response encoding failed");
            Reply::Close(format!("response encoding failed: {e}"))
        }
    }
}

/// Reply once `fut` yields the response body.
fn wait_for<M: Message + 'static>(
    cid: i32,
    key: i16,
    ver: i16,
    fut: impl Future<Output = M> + Send + 'static,
) -> Pending {
    Pending::Wait(Box::pin(async move { respond(cid, key, ver, &fut.await) }))
}

/// Decode one request frame and run its in-order part. `peer` is the
/// client's address (group members' `client.host`).
pub async fn begin(broker: &Arc<Broker>, mut frame: Bytes, peer: std::net::SocketAddr) -> Pending {
    let header = match decode_request_header(&mut frame) {
        Ok(h) => h,
        Err(e) => return Pending::Ready(Reply::Close(format!("invalid request header: {e}"))),
    };
    let key = header.request_api_key;
    let ver = header.request_api_version;
    let cid = header.correlation_id;
    if key == api_versions::API_VERSIONS_KEY && !api_versions::is_supported(key, ver) {
        tracing::debug!(
            version = ver,
            "ApiVersions with unknown version: answering with the v0 fallback"
        );
        return Pending::Ready(api_versions::unsupported_version_reply(cid));
    }
    if !api_versions::is_supported(key, ver) {
        return Pending::Ready(Reply::Close(format!(
            "unsupported API key {key} version {ver}"
        )));
    }
    let body = match RequestBody::decode(key, ver, &mut frame) {
        Ok(b) => b,
        Err(e) => {
            return Pending::Ready(Reply::Close(format!(
                "malformed request (key {key} v{ver}): {e}"
            )));
        }
    };
    let client_id = header.client_id.unwrap_or_default();
    match body {
        RequestBody::ApiVersions(r) => {
            Pending::Ready(respond(cid, key, ver, &api_versions::handle(ver, &r)))
        }
        RequestBody::Metadata(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &metadata::handle(broker, ver, r).await,
        )),
        RequestBody::Produce(r) => produce::begin(broker, cid, ver, r).await,
        RequestBody::Fetch(r) => {
            let b = broker.clone();
            Pending::Wait(Box::pin(async move {
                respond(cid, key, ver, &fetch::handle(&b, ver, r).await)
            }))
        }
        RequestBody::ListOffsets(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &list_offsets::handle(broker, ver, r),
        )),
        RequestBody::CreateTopics(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &create_topics::handle(broker, ver, r, &client_id).await,
        )),
        RequestBody::DeleteTopics(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &delete_topics::handle(broker, ver, r).await,
        )),
        RequestBody::DescribeCluster(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &describe_cluster::handle(broker, ver, r),
        )),
        RequestBody::InitProducerId(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &init_producer_id::handle(broker, ver, r).await,
        )),
        RequestBody::FindCoordinator(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &find_coordinator::handle(broker, ver, r),
        )),
        RequestBody::JoinGroup(r) => {
            // Kafka's client host: InetAddress.toString, "/1.2.3.4".
            let host = format!("/{}", peer.ip());
            wait_for(
                cid,
                key,
                ver,
                join_group::begin(broker, ver, r, &client_id, &host),
            )
        }
        RequestBody::SyncGroup(r) => wait_for(cid, key, ver, sync_group::begin(broker, ver, r)),
        RequestBody::Heartbeat(r) => {
            Pending::Ready(respond(cid, key, ver, &heartbeat::handle(broker, ver, r)))
        }
        RequestBody::LeaveGroup(r) => wait_for(cid, key, ver, leave_group::begin(broker, ver, r)),
        RequestBody::OffsetCommit(r) => {
            wait_for(cid, key, ver, offset_commit::begin(broker, ver, r))
        }
        RequestBody::OffsetFetch(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &offset_fetch::handle(broker, ver, r),
        )),
        RequestBody::ListGroups(r) => {
            Pending::Ready(respond(cid, key, ver, &list_groups::handle(broker, ver, r)))
        }
        RequestBody::DescribeGroups(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &describe_groups::handle(broker, ver, r),
        )),
        RequestBody::DeleteGroups(r) => {
            wait_for(cid, key, ver, delete_groups::begin(broker, ver, r))
        }
        RequestBody::OffsetDelete(r) => {
            wait_for(cid, key, ver, offset_delete::begin(broker, ver, r))
        }
        RequestBody::CreatePartitions(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &create_partitions::handle(broker, ver, r).await,
        )),
        RequestBody::DeleteRecords(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &delete_records::handle(broker, ver, r).await,
        )),
        RequestBody::DescribeLogDirs(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &describe_log_dirs::handle(broker, ver, r),
        )),
        RequestBody::OffsetForLeaderEpoch(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &offset_for_leader_epoch::handle(broker, ver, r),
        )),
        RequestBody::DescribeConfigs(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &describe_configs::handle(broker, ver, r),
        )),
        RequestBody::AlterConfigs(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &alter_configs::handle_alter(broker, ver, r).await,
        )),
        RequestBody::IncrementalAlterConfigs(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &alter_configs::handle_incremental(broker, ver, r).await,
        )),
        RequestBody::AddPartitionsToTxn(r) => {
            let b = broker.clone();
            wait_for(cid, key, ver, async move {
                add_partitions_to_txn::handle(&b, ver, r).await
            })
        }
        RequestBody::AddOffsetsToTxn(r) => {
            let b = broker.clone();
            wait_for(cid, key, ver, async move {
                add_offsets_to_txn::handle(&b, ver, r).await
            })
        }
        RequestBody::EndTxn(r) => {
            let b = broker.clone();
            wait_for(
                cid,
                key,
                ver,
                async move { end_txn::handle(&b, ver, r).await },
            )
        }
        RequestBody::WriteTxnMarkers(r) => {
            wait_for(cid, key, ver, write_txn_markers::begin(broker, ver, r))
        }
        RequestBody::TxnOffsetCommit(r) => {
            wait_for(cid, key, ver, txn_offset_commit::begin(broker, ver, r))
        }
        RequestBody::DescribeTransactions(r) => Pending::Ready(respond(
            cid,
            key,
            ver,
            &transactions::describe(broker, ver, r),
        )),
        RequestBody::ListTransactions(r) => {
            Pending::Ready(respond(cid, key, ver, &transactions::list(broker, ver, r)))
        }
        other => Pending::Ready(Reply::Close(format!(
            "API {:?} is not served",
            other.api_key()
        ))),
    }
}
