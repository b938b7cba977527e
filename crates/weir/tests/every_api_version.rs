//! Every version of every API the broker advertises is served by the real
//! binary: the request is answered (not closed), the response decodes in that
//! version, and the answer is right for that version (Produce v0-v2 refused
//! per partition, ListOffsets v0 in the old-style array, Fetch v13+ by topic
//! id, ...). Old versions matter: Debian's kcat, kafka-python 2.0 and sarama
//! still send them.

use bytes::Bytes;
use weir_protocol::messages::api_versions_request::ApiVersionsRequest;
use weir_protocol::messages::api_versions_response::ApiVersionsResponse;
use weir_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use weir_protocol::messages::create_topics_response::CreateTopicsResponse;
use weir_protocol::messages::delete_topics_request::{DeleteTopicState, DeleteTopicsRequest};
use weir_protocol::messages::delete_topics_response::DeleteTopicsResponse;
use weir_protocol::messages::describe_cluster_request::DescribeClusterRequest;
use weir_protocol::messages::describe_cluster_response::DescribeClusterResponse;
use weir_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use weir_protocol::messages::fetch_response::FetchResponse;
use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use weir_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use weir_protocol::messages::list_offsets_response::ListOffsetsResponse;
use weir_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use weir_protocol::messages::metadata_response::MetadataResponse;
use weir_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use weir_protocol::messages::produce_response::ProduceResponse;
use weir_protocol::records::BatchBuilder;
use weir_testkit::{RawConn, TestBroker};

const BIN: &str = env!("CARGO_BIN_EXE_weir");

fn advertised(conn: &mut RawConn) -> Vec<(i16, i16, i16)> {
    let resp: ApiVersionsResponse = conn.call(18, 0, &ApiVersionsRequest::default());
    assert_eq!(resp.error_code, 0);
    resp.api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect()
}

fn range(adv: &[(i16, i16, i16)], key: i16) -> std::ops::RangeInclusive<i16> {
    let (_, lo, hi) = *adv
        .iter()
        .find(|(k, _, _)| *k == key)
        .unwrap_or_else(|| panic!("api {key} not advertised"));
    lo..=hi
}

fn create(conn: &mut RawConn, version: i16, name: &str) -> CreateTopicsResponse {
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    conn.call(19, version, &req)
}

fn batch(value: &str) -> Bytes {
    let mut b = BatchBuilder::new(1_700_000_000_000);
    b.push(Some(b"k"), Some(value.as_bytes()), &[], 1_700_000_000_000);
    b.build()
}

#[test]
fn every_advertised_version_is_served() {
    let broker = TestBroker::start(BIN, &[]);
    let mut conn = broker.connect();
    let adv = advertised(&mut conn);
    assert_eq!(
        *range(&adv, 0).start(),
        0,
        "Produce must be advertised from v0 (KAFKA-18659)"
    );
    assert!(
        adv.iter().all(
            |(k, _, _)| [0, 1, 2, 3, 18, 19, 20, 21, 22, 23, 32, 33, 35, 37, 44, 60].contains(k)
                // Group APIs: swept in consumer_group_apis.rs.
                || [8, 9, 10, 11, 12, 13, 14, 15, 16, 42, 47].contains(k)
                // Transaction APIs: swept in transactions_api.rs.
                || [24, 25, 26, 27, 28, 65, 66].contains(k)
        ),
        "{adv:?}"
    );

    for v in range(&adv, 18) {
        let resp: ApiVersionsResponse = conn.call(18, v, &ApiVersionsRequest::default());
        assert_eq!(resp.error_code, 0, "ApiVersions v{v}");
        assert_eq!(resp.api_keys.len(), adv.len(), "ApiVersions v{v}");
    }

    for v in range(&adv, 19) {
        let resp = create(&mut conn, v, &format!("created-v{v}"));
        assert_eq!(
            resp.topics[0].error_code, 0,
            "CreateTopics v{v}: {:?}",
            resp.topics[0].error_message
        );
        if v >= 5 {
            assert_eq!(resp.topics[0].num_partitions, 1, "CreateTopics v{v}");
            assert!(
                resp.topics[0]
                    .configs
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c.name == "retention.ms"))
            );
        }
        let again = create(&mut conn, v, &format!("created-v{v}"));
        assert_eq!(
            again.topics[0].error_code, 36,
            "CreateTopics v{v} duplicate"
        );
    }

    for v in range(&adv, 3) {
        let topics = vec![MetadataRequestTopic {
            name: Some("created-v1".into()),
            ..Default::default()
        }];
        let resp: MetadataResponse = conn.call(
            3,
            v,
            &MetadataRequest {
                topics: Some(topics),
                ..Default::default()
            },
        );
        assert_eq!(resp.brokers.len(), 1, "Metadata v{v}");
        assert_eq!(resp.topics.len(), 1, "Metadata v{v}");
        assert_eq!(resp.topics[0].error_code, 0, "Metadata v{v}");
        assert_eq!(resp.topics[0].partitions.len(), 1, "Metadata v{v}");
        if v >= 1 {
            assert_eq!(resp.controller_id, resp.brokers[0].node_id, "Metadata v{v}");
        }
        if v >= 10 {
            assert!(
                resp.topics[0].topic_id.0 != [0; 16],
                "Metadata v{v} topic id"
            );
        }
    }
    let all: MetadataResponse = conn.call(
        3,
        12,
        &MetadataRequest {
            topics: None,
            ..Default::default()
        },
    );
    let topic_id = all
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some("created-v1"))
        .expect("topic")
        .topic_id;

    // Produce: v0-v2 (message format v0/v1) are refused per partition, v3+ append.
    let mut expected_offset = 0;
    for v in range(&adv, 0) {
        let data = PartitionProduceData {
            index: 0,
            records: Some(batch(&format!("v{v}"))),
            ..Default::default()
        };
        let req = ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: "created-v1".into(),
                partition_data: vec![data],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp: ProduceResponse = conn.call(0, v, &req);
        let p = &resp.responses[0].partition_responses[0];
        if v < 3 {
            assert_eq!(p.error_code, 35, "Produce v{v}");
        } else {
            assert_eq!(p.error_code, 0, "Produce v{v}: {:?}", p.error_message);
            assert_eq!(p.base_offset, expected_offset, "Produce v{v}");
            expected_offset += 1;
        }
    }

    for v in range(&adv, 1) {
        let part = FetchPartition {
            partition: 0,
            fetch_offset: 0,
            partition_max_bytes: 1 << 20,
            ..Default::default()
        };
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: 100,
            min_bytes: 1,
            topics: vec![FetchTopic {
                topic: "created-v1".into(),
                topic_id,
                partitions: vec![part],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp: FetchResponse = conn.call(1, v, &req);
        assert_eq!(resp.error_code, 0, "Fetch v{v}");
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "Fetch v{v}");
        assert_eq!(p.high_watermark, expected_offset, "Fetch v{v}");
        let records = p.records.clone().unwrap_or_default();
        let headers = weir_protocol::record_batch::validate_record_set(&records)
            .expect("served batches are valid");
        assert_eq!(
            headers.len() as i64,
            expected_offset,
            "Fetch v{v} returns every batch"
        );
    }

    for v in range(&adv, 2) {
        for (ts, want) in [(-2i64, 0i64), (-1, expected_offset)] {
            let part = ListOffsetsPartition {
                partition_index: 0,
                timestamp: ts,
                ..Default::default()
            };
            let req = ListOffsetsRequest {
                replica_id: -1,
                topics: vec![ListOffsetsTopic {
                    name: "created-v1".into(),
                    partitions: vec![part],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let resp: ListOffsetsResponse = conn.call(2, v, &req);
            let p = &resp.topics[0].partitions[0];
            assert_eq!(p.error_code, 0, "ListOffsets v{v}");
            if v == 0 {
                assert_eq!(p.old_style_offsets, vec![want], "ListOffsets v0 ts {ts}");
            } else {
                assert_eq!(p.offset, want, "ListOffsets v{v} ts {ts}");
            }
        }
    }

    for v in range(&adv, 60) {
        let resp: DescribeClusterResponse = conn.call(60, v, &DescribeClusterRequest::default());
        assert_eq!(resp.error_code, 0, "DescribeCluster v{v}");
        assert_eq!(resp.brokers.len(), 1);
        assert_eq!(resp.controller_id, resp.brokers[0].broker_id);
    }

    let mut ids = Vec::new();
    for v in range(&adv, 22) {
        let req = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            ..Default::default()
        };
        let resp: InitProducerIdResponse = conn.call(22, v, &req);
        assert_eq!(resp.error_code, 0, "InitProducerId v{v}");
        assert!(
            resp.producer_id >= 0 && !ids.contains(&resp.producer_id),
            "InitProducerId v{v}"
        );
        ids.push(resp.producer_id);
    }

    for v in range(&adv, 20) {
        let name = format!("created-v{}", v.min(7));
        let req = if v >= 6 {
            DeleteTopicsRequest {
                topics: vec![DeleteTopicState {
                    name: Some(name.clone()),
                    ..Default::default()
                }],
                timeout_ms: 10_000,
                ..Default::default()
            }
        } else {
            DeleteTopicsRequest {
                topic_names: vec![name.clone()],
                timeout_ms: 10_000,
                ..Default::default()
            }
        };
        let resp: DeleteTopicsResponse = conn.call(20, v, &req);
        assert_eq!(resp.responses[0].error_code, 0, "DeleteTopics v{v} {name}");
        let again: DeleteTopicsResponse = conn.call(20, v, &req);
        assert_eq!(
            again.responses[0].error_code, 3,
            "DeleteTopics v{v} missing"
        );
    }
}

#[test]
fn producer_ids_are_never_reused_across_restarts() {
    let mut broker = TestBroker::start(BIN, &[]);
    let req = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        ..Default::default()
    };
    let first: InitProducerIdResponse = broker.connect().call(22, 4, &req);
    broker.kill_and_restart();
    let second: InitProducerIdResponse = broker.connect().call(22, 4, &req);
    assert_eq!(first.error_code, 0);
    assert_eq!(second.error_code, 0);
    assert!(
        second.producer_id > first.producer_id,
        "{} then {}",
        first.producer_id,
        second.producer_id
    );
}
