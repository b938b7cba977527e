//! DeleteTopics (key 20): by name (v0-v5) or by name or id (v6+).

use weir_metadata::names::is_internal_topic;
use weir_protocol::codec::Uuid;
use weir_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use weir_protocol::messages::delete_topics_response::{DeletableTopicResult, DeleteTopicsResponse};
use weir_types::TopicId;

use crate::broker::Broker;
use crate::errors::ErrorCode;

/// Answer DeleteTopics.
pub async fn handle(
    broker: &Broker,
    version: i16,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::ZERO))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let resolved = match &name {
            Some(n) => broker
                .image()
                .topic(n)
                .map(|t| (t.name.clone(), Uuid(t.id.0))),
            None => broker
                .image()
                .topic_by_id(&TopicId(id.0))
                .map(|t| (t.name.clone(), Uuid(t.id.0))),
        };
        let mut r = DeletableTopicResult {
            name: name.clone(),
            topic_id: id,
            ..Default::default()
        };
        let Some((topic, topic_id)) = resolved else {
            r.error_code = if name.is_none() {
                ErrorCode::UnknownTopicId.code()
            } else {
                ErrorCode::UnknownTopicOrPartition.code()
            };
            responses.push(r);
            continue;
        };
        r.name = Some(topic.clone());
        r.topic_id = topic_id;
        if is_internal_topic(&topic) {
            r.error_code = ErrorCode::InvalidTopicException.code();
            r.error_message = Some("internal topics cannot be deleted".into());
            responses.push(r);
            continue;
        }
        match broker.delete_topic(&topic).await {
            Ok(true) => {}
            Ok(false) => r.error_code = ErrorCode::UnknownTopicOrPartition.code(),
            Err(e) => {
                r.error_code = ErrorCode::UnknownServerError.code();
                r.error_message = Some(e.to_string());
            }
        }
        responses.push(r);
    }
    DeleteTopicsResponse {
        throttle_time_ms: 0,
        responses,
        ..Default::default()
    }
}
