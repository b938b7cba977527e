//! CreateTopics (key 19): adds topics to the in-memory table with the
//! partition count asked for, as Kafka would answer a one-broker cluster.

use weir_protocol::messages::create_topics_request::CreateTopicsRequest;
use weir_protocol::messages::create_topics_response::{CreatableTopicResult, CreateTopicsResponse};

use crate::null_broker::NullBroker;
use crate::null_broker::error_codes::{ErrorCode, topic_error_code};

/// Answer CreateTopics.
pub fn handle(broker: &NullBroker, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let mut result = CreatableTopicResult {
                name: t.name.clone(),
                error_message: None,
                configs: Some(Vec::new()),
                ..Default::default()
            };
            // An explicit assignment fixes the count; the factor must be 1
            // (one broker), as Kafka checks against the live brokers.
            let partitions = if t.assignments.is_empty() {
                t.num_partitions
            } else {
                i32::try_from(t.assignments.len()).unwrap_or(i32::MAX)
            };
            if !matches!(t.replication_factor, -1 | 1)
                || t.assignments.iter().any(|a| a.broker_ids.len() != 1)
            {
                result.error_code = ErrorCode::InvalidReplicationFactor.code();
                result.error_message = Some("the null broker is a one-broker cluster".into());
                return result;
            }
            let created = if req.validate_only {
                broker
                    .topics
                    .check_create(&t.name, partitions)
                    .map(|()| None)
            } else {
                broker.topics.create(&t.name, partitions).map(Some)
            };
            match created {
                Ok(topic) => {
                    result.num_partitions = match &topic {
                        Some(topic) => topic.partition_count(),
                        None if partitions == -1 => broker.config.partitions,
                        None => partitions,
                    };
                    result.replication_factor = 1;
                    result.topic_id = topic.map(|t| t.id).unwrap_or_default();
                }
                Err(e) => {
                    result.error_code = topic_error_code(&e).code();
                    result.error_message = Some(e.to_string());
                }
            }
            result
        })
        .collect();
    CreateTopicsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}
