//! Metadata (key 3): the null broker as the only broker and controller,
//! leading every partition; every requested topic exists.

use weir_protocol::codec::Uuid;
use weir_protocol::messages::metadata_request::MetadataRequest;
use weir_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};

use crate::null_broker::error_codes::{ErrorCode, topic_error_code};
use crate::null_broker::topics::Topic;
use crate::null_broker::{CLUSTER_ID, LEADER_EPOCH, NODE_ID, NullBroker};

/// `*AuthorizedOperations` when not computed.
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

fn topic_entry(topic: &Topic) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(topic.name.clone()),
        topic_id: topic.id,
        is_internal: false,
        partitions: (0..topic.partition_count())
            .map(|index| MetadataResponsePartition {
                error_code: ErrorCode::None.code(),
                partition_index: index,
                leader_id: NODE_ID,
                leader_epoch: LEADER_EPOCH,
                replica_nodes: vec![NODE_ID],
                isr_nodes: vec![NODE_ID],
                offline_replicas: Vec::new(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

fn error_entry(name: Option<String>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        topic_id: id,
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

/// Answer Metadata.
pub fn handle(broker: &NullBroker, version: i16, req: MetadataRequest) -> MetadataResponse {
    // v0: an empty list means all topics; v1+: null means all, empty none.
    let wanted = match req.topics {
        Some(t) if t.is_empty() && version == 0 => None,
        other => other,
    };
    let topics = match wanted {
        None => broker.topics.all().iter().map(|t| topic_entry(t)).collect(),
        Some(list) => list
            .into_iter()
            .map(|t| match t.name {
                Some(name) => match broker.topics.get_or_create(&name) {
                    Ok(topic) => topic_entry(&topic),
                    Err(e) => error_entry(Some(name), Uuid::ZERO, topic_error_code(&e)),
                },
                // v10+: by id, which only names topics that exist.
                None => match broker.topics.by_id(&t.topic_id) {
                    Some(topic) => topic_entry(&topic),
                    None => error_entry(None, t.topic_id, ErrorCode::UnknownTopicId),
                },
            })
            .collect(),
    };
    let (host, port) = broker.advertised.clone();
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataResponseBroker {
            node_id: NODE_ID,
            host,
            port,
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(CLUSTER_ID.to_owned()),
        controller_id: NODE_ID,
        topics,
        cluster_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}
