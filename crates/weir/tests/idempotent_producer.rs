//! Idempotent producer against the real binary: a retried batch is answered
//! with its original offset and stored once; sequence gaps and stale epochs
//! get Kafka's error codes and store nothing; producer state survives a
//! kill -9 (rebuilt from the log) so a retry after the restart is still
//! recognised.

use bytes::Bytes;
use weir_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use weir_protocol::messages::create_topics_response::CreateTopicsResponse;
use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use weir_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use weir_protocol::messages::list_offsets_response::ListOffsetsResponse;
use weir_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use weir_protocol::messages::produce_response::{PartitionProduceResponse, ProduceResponse};
use weir_protocol::records::BatchBuilder;
use weir_testkit::{RawConn, TestBroker};

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const TOPIC: &str = "idem";

fn batch(pid: i64, epoch: i16, seq: i32, count: usize) -> Bytes {
    let mut b = BatchBuilder::new(1_700_000_000_000);
    b.producer(pid, epoch, seq);
    for i in 0..count {
        b.push(
            None,
            Some(format!("r{}", seq as usize + i).as_bytes()),
            &[],
            1_700_000_000_000,
        );
    }
    b.build()
}

fn produce(conn: &mut RawConn, records: Bytes) -> PartitionProduceResponse {
    let req = ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: TOPIC.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp: ProduceResponse = conn.call(0, 9, &req);
    resp.responses[0].partition_responses[0].clone()
}

fn log_end(conn: &mut RawConn) -> i64 {
    let req = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: TOPIC.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp: ListOffsetsResponse = conn.call(2, 7, &req);
    resp.topics[0].partitions[0].offset
}

#[test]
fn retries_are_deduplicated_and_gaps_refused() {
    let mut broker = TestBroker::start(BIN, &[]);
    let mut conn = broker.connect();
    let created: CreateTopicsResponse = conn.call(
        19,
        7,
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: TOPIC.into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        },
    );
    assert_eq!(created.topics[0].error_code, 0);
    let init: InitProducerIdResponse = conn.call(
        22,
        4,
        &InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            ..Default::default()
        },
    );
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id;

    let first = produce(&mut conn, batch(pid, 0, 0, 3));
    assert_eq!((first.error_code, first.base_offset), (0, 0));
    let second = produce(&mut conn, batch(pid, 0, 3, 2));
    assert_eq!((second.error_code, second.base_offset), (0, 3));
    // The retry of the first batch: same offsets, nothing appended.
    let retry = produce(&mut conn, batch(pid, 0, 0, 3));
    assert_eq!((retry.error_code, retry.base_offset), (0, 0));
    assert_eq!(log_end(&mut conn), 5);
    // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER (45), nothing appended.
    assert_eq!(produce(&mut conn, batch(pid, 0, 9, 1)).error_code, 45);
    // An unknown producer must start at sequence 0.
    assert_eq!(
        produce(&mut conn, batch(pid + 1000, 0, 4, 1)).error_code,
        45
    );
    assert_eq!(log_end(&mut conn), 5);

    // Producer state is rebuilt after kill -9: the retry is still a duplicate.
    broker.kill_and_restart();
    let mut conn = broker.connect();
    let retry = produce(&mut conn, batch(pid, 0, 3, 2));
    assert_eq!((retry.error_code, retry.base_offset), (0, 3));
    let next = produce(&mut conn, batch(pid, 0, 5, 1));
    assert_eq!((next.error_code, next.base_offset), (0, 5));
    // A bumped epoch restarts at 0; the old epoch is then fenced (INVALID_PRODUCER_EPOCH, 47).
    assert_eq!(produce(&mut conn, batch(pid, 1, 0, 1)).error_code, 0);
    assert_eq!(produce(&mut conn, batch(pid, 0, 6, 1)).error_code, 47);
    assert_eq!(log_end(&mut conn), 7);
}

fn now_batch(pid: i64, seq: i32, count: usize) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut b = BatchBuilder::new(now);
    b.producer(pid, 0, seq);
    for i in 0..count {
        b.push(None, Some(format!("e{i}").as_bytes()), &[], now);
    }
    b.build()
}

#[test]
fn idle_producer_state_expires() {
    // producer.id.expiration.ms: an idle producer's sequence state is
    // dropped; its next batch must start a new sequence at 0.
    let broker = TestBroker::start(
        BIN,
        &[
            "producer.id.expiration.ms=2000",
            "producer.id.expiration.check.interval.ms=100",
        ],
    );
    let mut conn = broker.connect();
    let created: CreateTopicsResponse = conn.call(
        19,
        7,
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: TOPIC.into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        },
    );
    assert_eq!(created.topics[0].error_code, 0);
    let init: InitProducerIdResponse = conn.call(
        22,
        4,
        &InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            ..Default::default()
        },
    );
    let pid = init.producer_id;
    assert_eq!(produce(&mut conn, now_batch(pid, 0, 3)).error_code, 0);
    assert_eq!(produce(&mut conn, now_batch(pid, 3, 3)).error_code, 0);
    // While it is remembered, a gap is refused and a retry is a duplicate.
    assert_eq!(produce(&mut conn, now_batch(pid, 9, 1)).error_code, 45);
    let retry = produce(&mut conn, now_batch(pid, 3, 3));
    assert_eq!((retry.error_code, retry.base_offset), (0, 3));
    std::thread::sleep(std::time::Duration::from_millis(3000));
    // Expired: continuing the old sequence is out of order, a new one at 0 is accepted.
    assert_eq!(produce(&mut conn, now_batch(pid, 6, 1)).error_code, 45);
    let fresh = produce(&mut conn, now_batch(pid, 0, 1));
    assert_eq!((fresh.error_code, fresh.base_offset), (0, 6));
    assert_eq!(log_end(&mut conn), 7);
}
