//! Request header decoding, version checks and routing to the handlers.
//!
//! The rules for bad requests are Weir's and Kafka's: an ApiVersions
//! request in a version the broker does not know gets UNSUPPORTED_VERSION in
//! a v0 body listing the supported ranges (KIP-511); any other API or
//! version outside [`SUPPORTED`], or a body that does not decode, closes the
//! connection.

use bytes::{Bytes, BytesMut};
use weir_protocol::api::{ApiKey, RequestBody};
use weir_protocol::codec::Message;
use weir_protocol::header::{decode_request_header, encode_response_frame};

use crate::null_broker::NullBroker;
use crate::null_broker::handlers::api_versions::{self, SUPPORTED};
use crate::null_broker::handlers::{
    create_topics, fetch, find_coordinator, init_producer_id, list_offsets, metadata, produce,
};

/// What goes back for one request.
#[derive(Debug)]
pub enum Reply {
    /// A complete response frame (length prefix included).
    Frame(BytesMut),
    /// Nothing (Produce with acks=0).
    NoResponse,
    /// Close the connection, with the reason.
    Close(String),
}

/// Encode `body` as the response to request `correlation_id`.
pub fn respond<M: Message>(correlation_id: i32, api: ApiKey, version: i16, body: &M) -> Reply {
    match encode_response_frame(correlation_id, api.as_i16(), version, body) {
        Ok(buf) => Reply::Frame(buf),
        Err(e) => Reply::Close(format!("{api} v{version} response encoding failed: {e}")),
    }
}

fn is_supported(api: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|(k, lo, hi)| *k == api && (*lo..=*hi).contains(&version))
}

/// Decode one request frame (after its length prefix) and answer it.
pub async fn handle(broker: &NullBroker, mut frame: Bytes) -> Reply {
    let header = match decode_request_header(&mut frame) {
        Ok(h) => h,
        Err(e) => return Reply::Close(format!("invalid request header: {e}")),
    };
    let version = header.request_api_version;
    let cid = header.correlation_id;
    let Ok(api) = ApiKey::try_from(header.request_api_key) else {
        return Reply::Close(format!("unknown API key {}", header.request_api_key));
    };
    if !is_supported(api, version) {
        if api == ApiKey::ApiVersions {
            return api_versions::unsupported_version_reply(cid);
        }
        return Reply::Close(format!("{api} v{version} is not served"));
    }
    let body = match RequestBody::decode(api.as_i16(), version, &mut frame) {
        Ok(b) => b,
        Err(e) => return Reply::Close(format!("malformed {api} v{version} request: {e}")),
    };
    match body {
        RequestBody::ApiVersions(_) => respond(cid, api, version, &api_versions::handle()),
        RequestBody::Metadata(r) => {
            respond(cid, api, version, &metadata::handle(broker, version, r))
        }
        RequestBody::CreateTopics(r) => {
            respond(cid, api, version, &create_topics::handle(broker, r))
        }
        RequestBody::InitProducerId(r) => {
            respond(cid, api, version, &init_producer_id::handle(broker, r))
        }
        RequestBody::FindCoordinator(r) => respond(
            cid,
            api,
            version,
            &find_coordinator::handle(broker, version, r),
        ),
        RequestBody::Produce(r) => match produce::handle(broker, r) {
            Some(resp) => respond(cid, api, version, &resp),
            None => Reply::NoResponse,
        },
        RequestBody::ListOffsets(r) => respond(cid, api, version, &list_offsets::handle(broker, r)),
        RequestBody::Fetch(r) => {
            respond(cid, api, version, &fetch::handle(broker, version, r).await)
        }
        other => Reply::Close(format!("{} is not served", other.api_key())),
    }
}
