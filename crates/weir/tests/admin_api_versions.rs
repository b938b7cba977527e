//! Every advertised version of the config and partition admin APIs
//! (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, CreatePartitions)
//! is served by the real binary with version-correct answers.

use weir_protocol::messages::alter_configs_request::{
    AlterConfigsRequest, AlterConfigsResource, AlterableConfig,
};
use weir_protocol::messages::alter_configs_response::AlterConfigsResponse;
use weir_protocol::messages::api_versions_request::ApiVersionsRequest;
use weir_protocol::messages::api_versions_response::ApiVersionsResponse;
use weir_protocol::messages::create_partitions_request::{
    CreatePartitionsRequest, CreatePartitionsTopic,
};
use weir_protocol::messages::create_partitions_response::CreatePartitionsResponse;
use weir_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use weir_protocol::messages::create_topics_response::CreateTopicsResponse;
use weir_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use weir_protocol::messages::describe_configs_response::DescribeConfigsResponse;
use weir_protocol::messages::incremental_alter_configs_request as inc;
use weir_protocol::messages::incremental_alter_configs_response::IncrementalAlterConfigsResponse;
use weir_testkit::{RawConn, TestBroker};

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const TOPIC_RESOURCE: i8 = 2;

fn range(conn: &mut RawConn, key: i16) -> std::ops::RangeInclusive<i16> {
    let resp: ApiVersionsResponse = conn.call(18, 0, &ApiVersionsRequest::default());
    let k = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == key)
        .unwrap_or_else(|| panic!("api {key} not advertised"));
    k.min_version..=k.max_version
}

fn describe(conn: &mut RawConn, v: i16, topic: &str, key: &str) -> (Option<String>, i8, bool) {
    let req = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: TOPIC_RESOURCE,
            resource_name: topic.into(),
            configuration_keys: Some(vec![key.into()]),
            ..Default::default()
        }],
        include_synonyms: true,
        ..Default::default()
    };
    let resp: DescribeConfigsResponse = conn.call(32, v, &req);
    assert_eq!(resp.results[0].error_code, 0, "DescribeConfigs v{v}");
    let c = &resp.results[0].configs;
    assert_eq!(c.len(), 1, "DescribeConfigs v{v} filters by key");
    (c[0].value.clone(), c[0].config_source, c[0].is_default)
}

#[test]
fn config_and_partition_admin_apis_serve_every_version() {
    let broker = TestBroker::start(BIN, &[]);
    let mut conn = broker.connect();
    let created: CreateTopicsResponse = conn.call(
        19,
        7,
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "cfg".into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        },
    );
    assert_eq!(created.topics[0].error_code, 0);

    for v in range(&mut conn, 44) {
        let value = format!("{}", 1000 + i64::from(v));
        let req = inc::IncrementalAlterConfigsRequest {
            resources: vec![inc::AlterConfigsResource {
                resource_type: TOPIC_RESOURCE,
                resource_name: "cfg".into(),
                configs: vec![inc::AlterableConfig {
                    name: "retention.ms".into(),
                    config_operation: 0,
                    value: Some(value.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp: IncrementalAlterConfigsResponse = conn.call(44, v, &req);
        assert_eq!(
            resp.responses[0].error_code, 0,
            "IncrementalAlterConfigs v{v}"
        );
        for dv in range(&mut conn, 32) {
            let (got, source, is_default) = describe(&mut conn, dv, "cfg", "retention.ms");
            assert_eq!(
                got.as_deref(),
                Some(value.as_str()),
                "DescribeConfigs v{dv}"
            );
            if dv >= 1 {
                assert_eq!(source, 1, "DescribeConfigs v{dv}: DYNAMIC_TOPIC_CONFIG");
            } else {
                assert!(!is_default, "DescribeConfigs v0 is_default");
            }
        }
    }

    for v in range(&mut conn, 33) {
        let req = AlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: TOPIC_RESOURCE,
                resource_name: "cfg".into(),
                configs: vec![AlterableConfig {
                    name: "segment.ms".into(),
                    value: Some("60000".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp: AlterConfigsResponse = conn.call(33, v, &req);
        assert_eq!(resp.responses[0].error_code, 0, "AlterConfigs v{v}");
        let (_, source, is_default) = describe(&mut conn, 1, "cfg", "retention.ms");
        assert!(
            source == 5 && !is_default,
            "AlterConfigs v{v} replaced every override"
        );
        // An unknown key is INVALID_CONFIG (40) and changes nothing.
        let bad = AlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: TOPIC_RESOURCE,
                resource_name: "cfg".into(),
                configs: vec![AlterableConfig {
                    name: "no.such.key".into(),
                    value: Some("1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp: AlterConfigsResponse = conn.call(33, v, &bad);
        assert_eq!(
            resp.responses[0].error_code, 40,
            "AlterConfigs v{v} unknown key"
        );
        assert_eq!(
            describe(&mut conn, 1, "cfg", "segment.ms").0.as_deref(),
            Some("60000")
        );
    }

    let mut total = 1;
    for v in range(&mut conn, 37) {
        total += 1;
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "cfg".into(),
                count: total,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        };
        let resp: CreatePartitionsResponse = conn.call(37, v, &req);
        assert_eq!(resp.results[0].error_code, 0, "CreatePartitions v{v}");
        let again: CreatePartitionsResponse = conn.call(37, v, &req);
        assert_eq!(
            again.results[0].error_code, 37,
            "CreatePartitions v{v}: INVALID_PARTITIONS when not increasing"
        );
    }
}

#[test]
fn log_dirs_and_leader_epoch_end_offsets_serve_every_version() {
    use weir_protocol::messages::describe_log_dirs_request::{
        DescribableLogDirTopic, DescribeLogDirsRequest,
    };
    use weir_protocol::messages::describe_log_dirs_response::DescribeLogDirsResponse;
    use weir_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderEpochRequest, OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use weir_protocol::messages::offset_for_leader_epoch_response::OffsetForLeaderEpochResponse;
    use weir_protocol::messages::produce_request::{
        PartitionProduceData, ProduceRequest, TopicProduceData,
    };
    use weir_protocol::messages::produce_response::ProduceResponse;
    use weir_protocol::records::BatchBuilder;

    let broker = TestBroker::start(BIN, &[]);
    let mut conn = broker.connect();
    let mut b = BatchBuilder::new(0);
    for i in 0..10 {
        b.push(None, Some(format!("value-{i}").as_bytes()), &[], 0);
    }
    // Produce auto-creates the topic.
    let produced: ProduceResponse = conn.call(
        0,
        9,
        &ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: "dirs".into(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(b.build()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);

    for v in range(&mut conn, 35) {
        let all: DescribeLogDirsResponse = conn.call(
            35,
            v,
            &DescribeLogDirsRequest {
                topics: None,
                ..Default::default()
            },
        );
        assert_eq!(all.results.len(), 1, "DescribeLogDirs v{v}");
        let dir = &all.results[0];
        let topic = dir
            .topics
            .iter()
            .find(|t| t.name == "dirs")
            .expect("topic listed");
        assert!(
            topic.partitions[0].partition_size > 100,
            "DescribeLogDirs v{v}: size of the written batch"
        );
        if v >= 4 {
            assert!(
                dir.total_bytes > 0 && dir.usable_bytes > 0 && dir.usable_bytes <= dir.total_bytes
            );
        }
        let one: DescribeLogDirsResponse = conn.call(
            35,
            v,
            &DescribeLogDirsRequest {
                topics: Some(vec![DescribableLogDirTopic {
                    topic: "nope".into(),
                    partitions: vec![0],
                    ..Default::default()
                }]),
                ..Default::default()
            },
        );
        assert!(
            one.results[0].topics.is_empty(),
            "DescribeLogDirs v{v} filters topics"
        );
    }

    for v in range(&mut conn, 21) {
        use weir_protocol::messages::delete_records_request::{
            DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
        };
        use weir_protocol::messages::delete_records_response::DeleteRecordsResponse;
        let req = |offset: i64| DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: "dirs".into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        };
        let low = i64::from(v) + 1;
        let resp: DeleteRecordsResponse = conn.call(21, v, &req(low));
        let p = &resp.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.low_watermark),
            (0, low),
            "DeleteRecords v{v}"
        );
        let past: DeleteRecordsResponse = conn.call(21, v, &req(11));
        assert_eq!(
            past.topics[0].partitions[0].error_code, 1,
            "DeleteRecords v{v}: past the high watermark"
        );
    }

    for v in range(&mut conn, 23) {
        let req = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: "dirs".into(),
                partitions: vec![
                    OffsetForLeaderPartition {
                        partition: 0,
                        current_leader_epoch: -1,
                        leader_epoch: 0,
                        ..Default::default()
                    },
                    OffsetForLeaderPartition {
                        partition: 0,
                        current_leader_epoch: -1,
                        leader_epoch: 7,
                        ..Default::default()
                    },
                    OffsetForLeaderPartition {
                        partition: 9,
                        current_leader_epoch: -1,
                        leader_epoch: 0,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp: OffsetForLeaderEpochResponse = conn.call(23, v, &req);
        let p = &resp.topics[0].partitions;
        assert_eq!(
            (p[0].error_code, p[0].end_offset),
            (0, 10),
            "OffsetForLeaderEpoch v{v}: epoch 0 ends at the log end"
        );
        assert_eq!(
            (p[1].error_code, p[1].end_offset),
            (0, -1),
            "OffsetForLeaderEpoch v{v}: unknown later epoch"
        );
        assert_eq!(
            p[2].error_code, 3,
            "OffsetForLeaderEpoch v{v}: unknown partition"
        );
    }
}
