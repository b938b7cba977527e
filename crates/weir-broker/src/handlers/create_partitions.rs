//! CreatePartitions (key 37): grow a topic's partition count (never shrink).
//! New partitions get logs at once; keyed records then spread over them by
//! the clients' default partitioners, as with Kafka.

use weir_metadata::topics::CreatePartitionsError;
use weir_protocol::messages::create_partitions_request::CreatePartitionsRequest;
use weir_protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};

use crate::broker::{Broker, PartitionsOpError};
use crate::errors::ErrorCode;

/// Answer CreatePartitions.
pub async fn handle(
    broker: &Broker,
    _version: i16,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    let mut seen = std::collections::HashSet::new();
    for t in req.topics {
        let (code, message) = if !seen.insert(t.name.clone()) {
            (
                ErrorCode::InvalidRequest,
                Some("topic listed twice".to_string()),
            )
        } else {
            let assignments: Option<Vec<Vec<i32>>> = t
                .assignments
                .map(|a| a.into_iter().map(|x| x.broker_ids).collect());
            match broker
                .create_partitions(&t.name, t.count, assignments.as_deref(), req.validate_only)
                .await
            {
                Ok(()) => (ErrorCode::None, None),
                Err(e) => {
                    let code = match &e {
                        PartitionsOpError::Rejected(CreatePartitionsError::UnknownTopic(_)) => {
                            ErrorCode::UnknownTopicOrPartition
                        }
                        PartitionsOpError::Rejected(CreatePartitionsError::InvalidPartitions {
                            ..
                        }) => ErrorCode::InvalidPartitions,
                        PartitionsOpError::Rejected(
                            CreatePartitionsError::InvalidReplicaAssignment(_),
                        ) => ErrorCode::InvalidReplicaAssignment,
                        PartitionsOpError::MetadataLog(_) => ErrorCode::UnknownServerError,
                    };
                    (code, Some(e.to_string()))
                }
            }
        };
        results.push(CreatePartitionsTopicResult {
            name: t.name,
            error_code: code.code(),
            error_message: message,
            ..Default::default()
        });
    }
    CreatePartitionsResponse {
        throttle_time_ms: 0,
        results,
        ..Default::default()
    }
}
