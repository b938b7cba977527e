//! Metadata (key 3): brokers, controller, topics and partition leaders;
//! auto-creates requested topics when allowed.

use weir_metadata::TopicImage;
use weir_metadata::names::{is_internal_topic, validate_topic_name};
use weir_protocol::codec::Uuid;
use weir_protocol::messages::metadata_request::MetadataRequest;
use weir_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};

use crate::broker::Broker;
use crate::errors::ErrorCode;

/// `TopicAuthorizedOperations` when not requested or not computed.
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// Build the response topic for an existing topic.
pub fn topic_entry(topic: &TopicImage) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: 0,
        name: Some(topic.name.clone()),
        topic_id: Uuid(topic.id.0),
        is_internal: is_internal_topic(&topic.name),
        partitions: topic
            .partitions
            .iter()
            .map(|(idx, p)| MetadataResponsePartition {
                error_code: 0,
                partition_index: *idx,
                leader_id: p.leader,
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: Vec::new(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

fn error_topic(name: Option<String>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        topic_id: id,
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

/// Answer a Metadata request.
pub async fn handle(broker: &Broker, version: i16, req: MetadataRequest) -> MetadataResponse {
    let (host, port) = broker.advertised();
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let wanted = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    // Before v4 there is no flag and auto-creation is always allowed.
    let allow_auto_create = version < 4 || req.allow_auto_topic_creation;
    let topics = match wanted {
        None => broker.image().topics().map(topic_entry).collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for t in list {
                let name = match t.name {
                    Some(n) => n,
                    None => {
                        // v10+: lookup by id.
                        let id = weir_types::TopicId(t.topic_id.0);
                        match broker.image().topic_by_id(&id) {
                            Some(topic) => out.push(topic_entry(topic)),
                            None => {
                                out.push(error_topic(None, t.topic_id, ErrorCode::UnknownTopicId))
                            }
                        }
                        continue;
                    }
                };
                if validate_topic_name(&name).is_err() {
                    out.push(error_topic(
                        Some(name),
                        Uuid::ZERO,
                        ErrorCode::InvalidTopicException,
                    ));
                    continue;
                }
                if broker.image().topic(&name).is_none()
                    && allow_auto_create
                    && let Err(e) = broker.auto_create(&name).await
                {
                    tracing::warn!(topic = %name, error = %e, "auto-create failed");
                }
                match broker.image().topic(&name) {
                    Some(topic) => out.push(topic_entry(topic)),
                    None => out.push(error_topic(
                        Some(name),
                        Uuid::ZERO,
                        ErrorCode::UnknownTopicOrPartition,
                    )),
                }
            }
            out
        }
    };
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataResponseBroker {
            node_id: broker.node_id(),
            host,
            port,
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(broker.cluster_id.clone()),
        controller_id: broker.node_id(),
        topics,
        cluster_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}
