//! `Message::for_each_error_code`: the generated visitor reports every
//! error-code field the version puts on the wire (top-level, nested, tagged)
//! and skips those it does not, so the broker's error counter matches what
//! clients are told.

use weir_protocol::codec::Message;
use weir_protocol::messages::api_versions_request::ApiVersionsRequest;
use weir_protocol::messages::create_topics_response::{CreatableTopicResult, CreateTopicsResponse};
use weir_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use weir_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use weir_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};

fn codes<M: Message>(m: &M, version: i16) -> Vec<i16> {
    let mut out = Vec::new();
    m.for_each_error_code(version, &mut |c| out.push(c));
    out
}

fn fetch_partition(error_code: i16) -> PartitionData {
    PartitionData {
        error_code,
        ..Default::default()
    }
}

#[test]
fn nested_partition_codes_in_field_order_zeros_included() {
    let part = |error_code| PartitionProduceResponse {
        error_code,
        ..Default::default()
    };
    let resp = ProduceResponse {
        responses: vec![
            TopicProduceResponse {
                partition_responses: vec![part(0), part(3)],
                ..Default::default()
            },
            TopicProduceResponse {
                partition_responses: vec![part(87)],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    assert_eq!(codes(&resp, 9), [0, 3, 87]);
}

#[test]
fn fetch_top_level_code_only_from_v7() {
    let resp = FetchResponse {
        error_code: 70,
        responses: vec![FetchableTopicResponse {
            partitions: vec![fetch_partition(1), fetch_partition(0)],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(codes(&resp, 4), [1, 0]);
    assert_eq!(codes(&resp, 7), [70, 1, 0]);
}

#[test]
fn offset_fetch_walks_the_layout_of_each_version() {
    let resp = OffsetFetchResponse {
        error_code: 15,
        topics: vec![OffsetFetchResponseTopic {
            partitions: vec![OffsetFetchResponsePartition {
                error_code: 3,
                ..Default::default()
            }],
            ..Default::default()
        }],
        groups: vec![OffsetFetchResponseGroup {
            error_code: 16,
            topics: vec![OffsetFetchResponseTopics {
                partitions: vec![OffsetFetchResponsePartitions {
                    error_code: 14,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // v0-1: partitions only; v2-7: partitions and the top-level code; v8+: groups.
    assert_eq!(codes(&resp, 1), [3]);
    assert_eq!(codes(&resp, 7), [3, 15]);
    assert_eq!(codes(&resp, 8), [14, 16]);
}

#[test]
fn tagged_error_code_counts_in_its_tagged_versions() {
    let resp = CreateTopicsResponse {
        topics: vec![CreatableTopicResult {
            error_code: 17,
            topic_config_error_code: 29,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(codes(&resp, 4), [17]);
    assert_eq!(codes(&resp, 5), [17, 29]);
}

#[test]
fn messages_without_error_codes_visit_nothing() {
    assert!(codes(&ApiVersionsRequest::default(), 3).is_empty());
}
