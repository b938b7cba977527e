//! The transaction APIs against the real binary, request by request:
//! FindCoordinator for transactional ids, InitProducerId fencing,
//! AddPartitionsToTxn, transactional Produce, EndTxn, WriteTxnMarkers,
//! DescribeTransactions and ListTransactions, with Kafka's error codes for
//! bad input (stale epochs, wrong producer ids, EndTxn without a
//! transaction, markers with old epochs, unknown partitions) and a check
//! that none of it corrupts state: after every refusal the log is
//! unchanged, a good transaction still commits, and the state survives a
//! kill -9.

use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic,
};
use weir_protocol::messages::add_partitions_to_txn_response::AddPartitionsToTxnResponse;
use weir_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use weir_protocol::messages::create_topics_response::CreateTopicsResponse;
use weir_protocol::messages::describe_transactions_request::DescribeTransactionsRequest;
use weir_protocol::messages::describe_transactions_response::DescribeTransactionsResponse;
use weir_protocol::messages::end_txn_request::EndTxnRequest;
use weir_protocol::messages::end_txn_response::EndTxnResponse;
use weir_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use weir_protocol::messages::fetch_response::FetchResponse;
use weir_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use weir_protocol::messages::find_coordinator_response::FindCoordinatorResponse;
use weir_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use weir_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use weir_protocol::messages::list_transactions_request::ListTransactionsRequest;
use weir_protocol::messages::list_transactions_response::ListTransactionsResponse;
use weir_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use weir_protocol::messages::produce_response::ProduceResponse;
use weir_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic, WriteTxnMarkersRequest,
};
use weir_protocol::messages::write_txn_markers_response::WriteTxnMarkersResponse;
use weir_protocol::records::BatchBuilder;
use weir_testkit::{RawConn, TestBroker};

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const TOPIC: &str = "txn-api";
const TXN: &str = "api-txn";

fn create_topic(conn: &mut RawConn) {
    let created: CreateTopicsResponse = conn.call(
        19,
        7,
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: TOPIC.into(),
                num_partitions: 2,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        },
    );
    assert_eq!(created.topics[0].error_code, 0);
}

/// FindCoordinator for the transactional id until the coordinator loaded.
fn find_txn_coordinator(conn: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r: FindCoordinatorResponse = conn.call(
            10,
            3,
            &FindCoordinatorRequest {
                key: TXN.into(),
                key_type: 1,
                ..Default::default()
            },
        );
        if r.error_code == 0 {
            assert!(r.node_id >= 0 && r.port > 0);
            return;
        }
        assert_eq!(r.error_code, 15, "COORDINATOR_NOT_AVAILABLE while loading");
        assert!(
            Instant::now() < deadline,
            "transaction coordinator never loaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn init(conn: &mut RawConn, version: i16, timeout_ms: i32) -> InitProducerIdResponse {
    conn.call(
        22,
        version,
        &InitProducerIdRequest {
            transactional_id: Some(TXN.into()),
            transaction_timeout_ms: timeout_ms,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        },
    )
}

fn add_partitions(
    conn: &mut RawConn,
    version: i16,
    pid: i64,
    epoch: i16,
    topics: &[(&str, &[i32])],
) -> Vec<(String, i32, i16)> {
    let r: AddPartitionsToTxnResponse = conn.call(
        24,
        version,
        &AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: TXN.into(),
            v3_and_below_producer_id: pid,
            v3_and_below_producer_epoch: epoch,
            v3_and_below_topics: topics
                .iter()
                .map(|(t, ps)| AddPartitionsToTxnTopic {
                    name: (*t).into(),
                    partitions: ps.to_vec(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    );
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| (t.name.clone(), p.partition_index, p.partition_error_code))
        })
        .collect()
}

fn end_txn(conn: &mut RawConn, version: i16, txn: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let r: EndTxnResponse = conn.call(
        26,
        version,
        &EndTxnRequest {
            transactional_id: txn.into(),
            producer_id: pid,
            producer_epoch: epoch,
            committed: commit,
            ..Default::default()
        },
    );
    r.error_code
}

fn batch(pid: i64, epoch: i16, seq: i32, values: &[&str], transactional: bool) -> Bytes {
    let mut b = BatchBuilder::new(1_700_000_000_000);
    b.producer(pid, epoch, seq).transactional(transactional);
    for v in values {
        b.push(None, Some(v.as_bytes()), &[], 1_700_000_000_000);
    }
    b.build()
}

fn produce(conn: &mut RawConn, partition: i32, records: Bytes) -> (i16, i64) {
    let r: ProduceResponse = conn.call(
        0,
        9,
        &ProduceRequest {
            transactional_id: Some(TXN.into()),
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: TOPIC.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(records),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// (high watermark, last stable offset, aborted producer ids) of partition
/// 0 read with `isolation`.
fn fetch(conn: &mut RawConn, isolation: i8) -> (i64, i64, Vec<i64>, usize) {
    let r: FetchResponse = conn.call(
        1,
        11,
        &FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: 1 << 20,
            isolation_level: isolation,
            topics: vec![FetchTopic {
                topic: TOPIC.into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: 0,
                    partition_max_bytes: 1 << 20,
                    current_leader_epoch: -1,
                    log_start_offset: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let aborted = p
        .aborted_transactions
        .as_ref()
        .map(|a| a.iter().map(|t| t.producer_id).collect())
        .unwrap_or_default();
    let bytes = p.records.as_ref().map_or(0, |b| b.len());
    (p.high_watermark, p.last_stable_offset, aborted, bytes)
}

fn marker(conn: &mut RawConn, pid: i64, epoch: i16, commit: bool, partitions: &[i32]) -> Vec<i16> {
    let r: WriteTxnMarkersResponse = conn.call(
        27,
        1,
        &WriteTxnMarkersRequest {
            markers: vec![WritableTxnMarker {
                producer_id: pid,
                producer_epoch: epoch,
                transaction_result: commit,
                coordinator_epoch: 0,
                topics: vec![WritableTxnMarkerTopic {
                    name: TOPIC.into(),
                    partition_indexes: partitions.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    r.markers[0].topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect()
}

fn describe(conn: &mut RawConn, id: &str) -> (i16, String, Vec<(String, Vec<i32>)>) {
    let r: DescribeTransactionsResponse = conn.call(
        65,
        0,
        &DescribeTransactionsRequest {
            transactional_ids: vec![id.into()],
            ..Default::default()
        },
    );
    let s = &r.transaction_states[0];
    (
        s.error_code,
        s.transaction_state.clone(),
        s.topics
            .iter()
            .map(|t| (t.topic.clone(), t.partitions.clone()))
            .collect(),
    )
}

#[test]
fn transaction_apis_and_their_errors() {
    let mut broker = TestBroker::start(BIN, &["transaction.state.log.num.partitions=3"]);
    let mut conn = broker.connect();
    create_topic(&mut conn);
    find_txn_coordinator(&mut conn);

    // Timeouts out of range: INVALID_TRANSACTION_TIMEOUT (50).
    assert_eq!(init(&mut conn, 4, 0).error_code, 50);
    assert_eq!(init(&mut conn, 4, 900_001).error_code, 50);
    let first = init(&mut conn, 4, 60_000);
    assert_eq!(first.error_code, 0);
    let (pid, epoch) = (first.producer_id, first.producer_epoch);

    // EndTxn without a transaction: INVALID_TXN_STATE (48); unknown id or
    // wrong producer id: INVALID_PRODUCER_ID_MAPPING (49).
    assert_eq!(end_txn(&mut conn, 3, TXN, pid, epoch, true), 48);
    assert_eq!(end_txn(&mut conn, 3, "no-such-txn", pid, epoch, true), 49);
    assert_eq!(end_txn(&mut conn, 3, TXN, pid + 1, epoch, true), 49);

    // Unknown partition: UNKNOWN_TOPIC_OR_PARTITION (3), the rest not attempted (55).
    let r = add_partitions(&mut conn, 3, pid, epoch, &[(TOPIC, &[0, 7])]);
    assert_eq!(r, vec![(TOPIC.into(), 0, 55), (TOPIC.into(), 7, 3)]);
    assert_eq!(describe(&mut conn, TXN).1, "Empty");

    // A transaction on partition 0: aborted, its range reported.
    let r = add_partitions(&mut conn, 3, pid, epoch, &[(TOPIC, &[0])]);
    assert_eq!(r, vec![(TOPIC.into(), 0, 0)]);
    assert_eq!(
        produce(&mut conn, 0, batch(pid, epoch, 0, &["a", "b"], true)),
        (0, 0)
    );
    // A plain batch from a producer in a transaction: INVALID_TXN_STATE.
    assert_eq!(
        produce(&mut conn, 0, batch(pid, epoch, 2, &["x"], false)).0,
        48
    );
    // A sequence gap: OUT_OF_ORDER_SEQUENCE_NUMBER (45).
    assert_eq!(
        produce(&mut conn, 0, batch(pid, epoch, 5, &["x"], true)).0,
        45
    );
    let (hw, lso, _, _) = fetch(&mut conn, 1);
    assert_eq!(
        (hw, lso),
        (2, 0),
        "the open transaction holds the last stable offset"
    );
    let (code, state, topics) = describe(&mut conn, TXN);
    assert_eq!((code, state.as_str()), (0, "Ongoing"));
    assert_eq!(topics, vec![(TOPIC.to_string(), vec![0])]);
    let listed: ListTransactionsResponse = conn.call(
        66,
        1,
        &ListTransactionsRequest {
            state_filters: vec!["Ongoing".into(), "Bogus".into()],
            producer_id_filters: vec![],
            duration_filter: -1,
            ..Default::default()
        },
    );
    assert_eq!(listed.unknown_state_filters, vec!["Bogus".to_string()]);
    assert!(
        listed
            .transaction_states
            .iter()
            .any(|t| t.transactional_id == TXN && t.producer_id == pid)
    );

    assert_eq!(end_txn(&mut conn, 3, TXN, pid, epoch, false), 0);
    // Retrying the same EndTxn is fine; the opposite outcome is not.
    assert_eq!(end_txn(&mut conn, 3, TXN, pid, epoch, false), 0);
    assert_eq!(end_txn(&mut conn, 3, TXN, pid, epoch, true), 48);
    let (hw, lso, aborted, _) = fetch(&mut conn, 1);
    assert_eq!((hw, lso), (3, 3), "two records and the abort marker");
    assert_eq!(aborted, vec![pid]);
    let (_, _, aborted, _) = fetch(&mut conn, 0);
    assert!(aborted.is_empty(), "read_uncommitted gets no aborted list");

    // A second InitProducerId bumps the epoch: the old epoch is fenced,
    // PRODUCER_FENCED (90) from AddPartitionsToTxn v2+, INVALID_PRODUCER_EPOCH (47) before.
    let second = init(&mut conn, 4, 60_000);
    assert_eq!((second.error_code, second.producer_id), (0, pid));
    assert_eq!(second.producer_epoch, epoch + 1);
    assert_eq!(
        add_partitions(&mut conn, 3, pid, epoch, &[(TOPIC, &[1])]),
        vec![(TOPIC.into(), 1, 90)]
    );
    assert_eq!(
        add_partitions(&mut conn, 1, pid, epoch, &[(TOPIC, &[1])]),
        vec![(TOPIC.into(), 1, 47)]
    );
    assert_eq!(end_txn(&mut conn, 3, TXN, pid, epoch, true), 90);
    assert_eq!(end_txn(&mut conn, 1, TXN, pid, epoch, true), 47);
    // The stale epoch cannot write either.
    assert_eq!(
        produce(&mut conn, 0, batch(pid, epoch, 0, &["z"], true)).0,
        47
    );

    // WriteTxnMarkers: an older producer epoch gets INVALID_PRODUCER_EPOCH,
    // an unknown partition UNKNOWN_TOPIC_OR_PARTITION, a producer never
    // seen in the partition is accepted (its transaction wrote nothing there).
    assert_eq!(marker(&mut conn, pid, epoch - 1, true, &[0]), vec![47]);
    assert_eq!(marker(&mut conn, pid, epoch, true, &[9]), vec![3]);
    assert_eq!(marker(&mut conn, 999_999, 0, false, &[1]), vec![0]);
    let (hw, lso, _, _) = fetch(&mut conn, 1);
    assert_eq!((hw, lso), (3, 3), "refused requests changed nothing");

    // A good transaction with the new epoch commits.
    let e2 = second.producer_epoch;
    assert_eq!(
        add_partitions(&mut conn, 3, pid, e2, &[(TOPIC, &[0])]),
        vec![(TOPIC.into(), 0, 0)]
    );
    assert_eq!(
        produce(&mut conn, 0, batch(pid, e2, 0, &["c", "d"], true)),
        (0, 3)
    );
    assert_eq!(end_txn(&mut conn, 3, TXN, pid, e2, true), 0);
    let (hw, lso, aborted, bytes) = fetch(&mut conn, 1);
    assert_eq!((hw, lso, aborted), (6, 6, vec![pid]));
    assert!(bytes > 0);

    // Everything survives kill -9.
    broker.kill_and_restart();
    let mut conn = broker.connect();
    find_txn_coordinator(&mut conn);
    assert_eq!(describe(&mut conn, TXN).1, "CompleteCommit");
    let (hw, lso, aborted, _) = fetch(&mut conn, 1);
    assert_eq!((hw, lso, aborted), (6, 6, vec![pid]));
    let third = init(&mut conn, 4, 60_000);
    assert_eq!((third.producer_id, third.producer_epoch), (pid, e2 + 1));
    let unknown = describe(&mut conn, "never-used");
    assert_eq!(unknown.0, 105, "TRANSACTIONAL_ID_NOT_FOUND");
}

#[test]
fn every_version_of_the_transaction_apis_answers() {
    use weir_protocol::messages::add_offsets_to_txn_request::AddOffsetsToTxnRequest;
    use weir_protocol::messages::add_offsets_to_txn_response::AddOffsetsToTxnResponse;
    use weir_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTransaction;
    use weir_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequest, TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use weir_protocol::messages::txn_offset_commit_response::TxnOffsetCommitResponse;

    let broker = TestBroker::start(BIN, &["transaction.state.log.num.partitions=2"]);
    let mut conn = broker.connect();
    create_topic(&mut conn);
    find_txn_coordinator(&mut conn);
    for v in 0..=5 {
        let r = init(&mut conn, v, 30_000);
        assert_eq!(r.error_code, 0, "InitProducerId v{v}");
        assert_eq!(r.producer_epoch, v, "each InitProducerId bumps the epoch");
    }
    let (pid, epoch) = (init(&mut conn, 5, 30_000).producer_id, 6);
    for v in 0..=3 {
        // The unknown transactional id: INVALID_PRODUCER_ID_MAPPING per partition.
        let r: AddPartitionsToTxnResponse = conn.call(
            24,
            v,
            &AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: "unknown".into(),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                    name: TOPIC.into(),
                    partitions: vec![0],
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        assert_eq!(
            r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code, 49,
            "AddPartitionsToTxn v{v}"
        );
    }
    for v in 4..=5 {
        // The batched broker form, verify only: not in the transaction.
        let r: AddPartitionsToTxnResponse = conn.call(
            24,
            v,
            &AddPartitionsToTxnRequest {
                transactions: vec![AddPartitionsToTxnTransaction {
                    transactional_id: TXN.into(),
                    producer_id: pid,
                    producer_epoch: epoch,
                    verify_only: true,
                    topics: vec![AddPartitionsToTxnTopic {
                        name: TOPIC.into(),
                        partitions: vec![1],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        let t = &r.results_by_transaction[0];
        assert_eq!(t.transactional_id, TXN);
        assert_eq!(
            t.topic_results[0].results_by_partition[0].partition_error_code, 48,
            "AddPartitionsToTxn v{v}"
        );
    }
    for v in 0..=4 {
        let r: AddOffsetsToTxnResponse = conn.call(
            25,
            v,
            &AddOffsetsToTxnRequest {
                transactional_id: "unknown".into(),
                producer_id: pid,
                producer_epoch: epoch,
                group_id: "g".into(),
                ..Default::default()
            },
        );
        assert_eq!(r.error_code, 49, "AddOffsetsToTxn v{v}");
    }
    for v in 0..=4 {
        let r: TxnOffsetCommitResponse = conn.call(
            28,
            v,
            &TxnOffsetCommitRequest {
                transactional_id: TXN.into(),
                group_id: "g".into(),
                producer_id: pid,
                producer_epoch: epoch,
                generation_id: -1,
                topics: vec![TxnOffsetCommitRequestTopic {
                    name: TOPIC.into(),
                    partitions: vec![TxnOffsetCommitRequestPartition {
                        partition_index: 0,
                        committed_offset: 1,
                        committed_leader_epoch: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        // AddOffsetsToTxn was not called: the group is not in the transaction.
        assert_eq!(
            r.topics[0].partitions[0].error_code, 48,
            "TxnOffsetCommit v{v}"
        );
    }
    for v in 0..=5 {
        assert_eq!(
            end_txn(&mut conn, v, TXN, pid, epoch, true),
            48,
            "EndTxn v{v}"
        );
    }
    for v in 0..=1 {
        let r: WriteTxnMarkersResponse = conn.call(
            27,
            v,
            &WriteTxnMarkersRequest {
                markers: vec![WritableTxnMarker {
                    producer_id: 123,
                    producer_epoch: 0,
                    transaction_result: false,
                    coordinator_epoch: 0,
                    topics: vec![WritableTxnMarkerTopic {
                        name: "no-such-topic".into(),
                        partition_indexes: vec![0],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        assert_eq!(
            r.markers[0].topics[0].partitions[0].error_code, 3,
            "WriteTxnMarkers v{v}"
        );
    }
    let d: DescribeTransactionsResponse = conn.call(
        65,
        0,
        &DescribeTransactionsRequest {
            transactional_ids: vec![TXN.into()],
            ..Default::default()
        },
    );
    assert_eq!(d.transaction_states[0].transaction_state, "Empty");
    assert_eq!(d.transaction_states[0].producer_epoch, epoch);
    for v in 0..=1 {
        let l: ListTransactionsResponse = conn.call(
            66,
            v,
            &ListTransactionsRequest {
                duration_filter: -1,
                ..Default::default()
            },
        );
        assert_eq!(l.error_code, 0, "ListTransactions v{v}");
        assert!(
            l.transaction_states
                .iter()
                .any(|t| t.transactional_id == TXN),
            "ListTransactions v{v}"
        );
    }
}

#[test]
fn idle_transactional_ids_expire() {
    let broker = TestBroker::start(
        BIN,
        &[
            "transaction.state.log.num.partitions=2",
            "transactional.id.expiration.ms=1500",
            "transaction.abort.timed.out.transaction.cleanup.interval.ms=100",
            "transaction.remove.expired.transaction.cleanup.interval.ms=100",
        ],
    );
    let mut conn = broker.connect();
    create_topic(&mut conn);
    find_txn_coordinator(&mut conn);
    let first = init(&mut conn, 4, 60_000);
    assert_eq!(first.error_code, 0);
    assert_eq!(describe(&mut conn, TXN).0, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while describe(&mut conn, TXN).0 == 0 {
        assert!(Instant::now() < deadline, "transactional id never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(describe(&mut conn, TXN).0, 105);
    // The id starts over with a new producer id.
    let again = init(&mut conn, 4, 60_000);
    assert_eq!(again.error_code, 0);
    assert_ne!(again.producer_id, first.producer_id);
    assert_eq!(again.producer_epoch, 0);
}
