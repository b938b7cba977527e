//! The `weir-null-broker` binary against Weir's own client: produced batches
//! get increasing base offsets, Fetch serves the pre-built batch at the
//! offset asked for (records with increasing offsets), a corrupt batch is
//! refused with CORRUPT_MESSAGE, and echo mode hands back what was produced.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use weir_client::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use weir_client::messages::produce_response::ProduceResponse;
use weir_client::{
    Acks, Client, ClientConfig, Consumer, ConsumerConfig, OffsetSpec, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use weir_protocol::records::BatchBuilder;

const START_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// The running binary, killed on drop.
struct NullBroker {
    child: Child,
    addr: String,
}

impl NullBroker {
    fn start(args: &[&str]) -> NullBroker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir-null-broker"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix("weir null-broker listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        NullBroker { child, addr }
    }
}

impl Drop for NullBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client(addr: &str) -> Arc<Client> {
    Arc::new(Client::connect(ClientConfig::new(addr)).await.unwrap())
}

async fn consume_from(
    client: Arc<Client>,
    tp: &TopicPartition,
    offset: i64,
    want: usize,
) -> Vec<weir_client::ConsumerRecord> {
    let mut consumer = Consumer::new(client, ConsumerConfig::default());
    consumer.assign([tp.clone()]);
    consumer.seek(tp, OffsetSpec::Offset(offset)).unwrap();
    let mut got = Vec::new();
    while got.len() < want {
        let records = consumer.poll(POLL_TIMEOUT).await.unwrap();
        assert!(
            !records.is_empty(),
            "no records after {} of {want}",
            got.len()
        );
        got.extend(records);
    }
    got
}

#[tokio::test]
async fn produce_gets_offsets_and_fetch_serves_increasing_offsets() {
    let broker = NullBroker::start(&[
        "--partitions",
        "2",
        "--record-size",
        "100",
        "--fetch-batch-records",
        "10",
    ]);
    let client = client(&broker.addr).await;
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            acks: Acks::Leader,
            linger: Duration::ZERO,
            ..Default::default()
        },
    );
    let mut offsets = Vec::new();
    for i in 0..5 {
        let meta = producer
            .send(ProducerRecord::new("bench", format!("v{i}")).partition(1))
            .await
            .unwrap();
        offsets.push(meta.offset);
    }
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
    producer.close().await;

    // The topic exists with the configured partition count.
    let topic = client.topic("bench", false).await.unwrap();
    assert_eq!(topic.partition_count(), 2);

    // Partition 1 has 5 records: one copy of the 10-record batch from offset 2.
    let tp = TopicPartition::new("bench", 1);
    let records = consume_from(client.clone(), &tp, 2, 1).await;
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (2..12).collect::<Vec<_>>());
    assert!(
        records
            .iter()
            .all(|r| r.value.as_ref().unwrap().len() == 100)
    );
    let consumer = Consumer::new(client.clone(), ConsumerConfig::default());
    for (spec, want) in [(OffsetSpec::Latest, 5), (OffsetSpec::Earliest, 0)] {
        let found = consumer.list_offsets(&[(tp.clone(), spec)]).await.unwrap();
        assert_eq!(found[0].1.as_ref().copied().unwrap(), want, "{spec:?}");
    }
}

#[tokio::test]
async fn consume_run_reads_dense_offsets_up_to_the_log_end() {
    let broker = NullBroker::start(&[
        "--record-size",
        "64",
        "--fetch-batch-records",
        "50",
        "--log-end-offset",
        "1000",
    ]);
    let client = client(&broker.addr).await;
    let tp = TopicPartition::new("t", 0);
    let records = consume_from(client, &tp, 0, 1000).await;
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..1000).collect::<Vec<_>>());
}

#[tokio::test]
async fn corrupt_batch_is_refused() {
    let broker = NullBroker::start(&[]);
    let client = client(&broker.addr).await;
    client.topic("c", true).await.unwrap();
    let conn = client.any_connection().await.unwrap();
    let mut batch = BatchBuilder::new(0);
    batch.push(None, Some(b"x"), &[], 0);
    let mut bytes = batch.build().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let req = ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "c".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Bytes::from(bytes)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (_, resp): (i16, ProduceResponse) = conn.send(&req).await.unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 2);
}

#[tokio::test]
async fn echo_mode_serves_what_was_produced() {
    let broker = NullBroker::start(&["--echo", "--partitions", "1"]);
    let client = client(&broker.addr).await;
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::ZERO,
            ..Default::default()
        },
    );
    for i in 0..3 {
        producer
            .send(ProducerRecord::new("echo", format!("value-{i}")).partition(0))
            .await
            .unwrap();
    }
    producer.close().await;
    let records = consume_from(client, &TopicPartition::new("echo", 0), 0, 3).await;
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().unwrap())
        .collect();
    assert_eq!(values, [&b"value-0"[..], &b"value-1"[..], &b"value-2"[..]]);
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}
