//! The Rust client (`weir-client`) against the real broker: version
//! negotiation, pipelining, typed admin errors, producer offsets and
//! ordering, consumer seeks, mid-batch fetches and long-polls.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Broker, unique_topic};
use weir_client::ApiKey;
use weir_client::{
    Admin, Client, ClientConfig, ClientError, Connection, ConnectionTimeouts, Consumer,
    ConsumerConfig, ConsumerRecord, NewTopic, OffsetSpec, Producer, ProducerConfig, ProducerRecord,
    TopicPartition,
};

async fn client(broker: &Broker) -> Arc<Client> {
    Arc::new(
        Client::connect(ClientConfig::new(&broker.addr).client_id("client-tests"))
            .await
            .unwrap(),
    )
}

async fn create(admin: &Admin, topic: &str, partitions: i32) {
    let mut t = NewTopic::new(topic);
    t.partitions = Some(partitions);
    admin.create_topic(&t, false).await.unwrap();
}

/// Poll until `n` records arrived (bounded by 20 s).
async fn poll_n(consumer: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records arrived",
            out.len()
        );
        out.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
    }
    out
}

#[tokio::test]
async fn negotiates_versions_and_pipelines_requests() {
    let broker = Broker::start();
    let conn = Arc::new(
        Connection::connect(&broker.addr, "t", ConnectionTimeouts::default())
            .await
            .unwrap(),
    );
    for api in [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::CreateTopics,
    ] {
        let v = conn.version(api).unwrap_or_else(|e| panic!("{api:?}: {e}"));
        let (lo, hi) = conn.broker_versions().range(api).unwrap();
        assert!(
            (lo..=hi).contains(&v),
            "{api:?} v{v} outside the broker's {lo}..={hi}"
        );
    }
    // 50 Metadata requests in flight on one connection at once.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let conn = conn.clone();
        tasks.spawn(async move {
            let req = weir_client::messages::MetadataRequest {
                topics: None,
                ..Default::default()
            };
            let (_, resp): (i16, weir_client::messages::MetadataResponse) = conn.send(&req).await?;
            Ok::<_, ClientError>(resp.brokers.len())
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap().unwrap(), 1);
    }
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn admin_errors_are_typed() {
    let broker = Broker::start();
    let admin = Admin::new(client(&broker).await);
    let topic = unique_topic("typed");
    create(&admin, &topic, 1).await;
    let err = admin
        .create_topic(&NewTopic::new(&topic), false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Kafka {
                code: 36,
                name: "TOPIC_ALREADY_EXISTS",
                ..
            }
        ),
        "{err:?}"
    );
    let err = admin
        .delete_topic(&unique_topic("missing"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Kafka {
                code: 3,
                name: "UNKNOWN_TOPIC_OR_PARTITION",
                ..
            }
        ),
        "{err:?}"
    );
    let err = admin
        .create_topic(&NewTopic::new("a/b"), false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Kafka {
                code: 17,
                name: "INVALID_TOPIC_EXCEPTION",
                ..
            }
        ),
        "{err:?}"
    );

    let description = admin.describe_topic(&topic).await.unwrap();
    assert_eq!(description.partitions.len(), 1);
    assert_eq!(description.partitions[0].leader_id, 1);
    assert_ne!(description.topic_id, weir_client::Uuid::ZERO);
    let cluster = admin.describe_cluster().await.unwrap();
    assert_eq!(cluster.brokers.len(), 1);
}

#[tokio::test]
async fn producer_offsets_are_in_order_and_consumer_seeks() {
    let broker = Broker::start();
    let client = client(&broker).await;
    let admin = Admin::new(client.clone());
    let topic = unique_topic("ordered");
    create(&admin, &topic, 2).await;

    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            batch_size_bytes: 512,
            ..Default::default()
        },
    );
    let mut deliveries = Vec::new();
    for i in 0..100 {
        let record = ProducerRecord::new(&topic, format!("v{i}"))
            .partition(0)
            .header("i", i.to_string());
        deliveries.push(producer.enqueue(record).await.unwrap());
    }
    for (i, d) in deliveries.into_iter().enumerate() {
        let md = d.await.unwrap();
        assert_eq!((md.partition, md.offset), (0, i as i64));
    }
    // A keyed record goes where murmur2 says: pick a key for partition 1.
    let key = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| weir_client::partitioner::partition_for_key(k.as_bytes(), 2) == 1)
        .unwrap();
    let md = producer
        .send(ProducerRecord::new(&topic, "p1").key(key))
        .await
        .unwrap();
    assert_eq!((md.partition, md.offset), (1, 0));
    producer.close().await;

    let tp = TopicPartition::new(&topic, 0);
    let mut consumer = Consumer::new(client.clone(), ConsumerConfig::default());
    consumer.assign([tp.clone()]);
    consumer.seek(&tp, OffsetSpec::Offset(37)).unwrap();
    let records = poll_n(&mut consumer, 63).await;
    let values: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(
        values,
        (37..100).map(|i| format!("v{i}")).collect::<Vec<_>>()
    );
    assert_eq!(records[0].headers[0].key, "i");
    assert_eq!(consumer.position(&tp), Some(100));
    assert_eq!(consumer.high_watermark(&tp), Some(100));

    consumer.seek(&tp, OffsetSpec::Earliest).unwrap();
    assert_eq!(poll_n(&mut consumer, 1).await[0].offset, 0);
    let ends = consumer
        .list_offsets(&[(tp.clone(), OffsetSpec::Latest)])
        .await
        .unwrap();
    assert_eq!(ends[0].1.as_ref().ok(), Some(&100));
}

#[tokio::test]
async fn small_fetch_limits_still_make_progress_mid_batch() {
    let broker = Broker::start();
    let client = client(&broker).await;
    let topic = unique_topic("small-fetch");
    create(&Admin::new(client.clone()), &topic, 1).await;
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            linger: Duration::from_millis(50),
            ..Default::default()
        },
    );
    let mut deliveries = Vec::new();
    for i in 0..300 {
        deliveries.push(
            producer
                .enqueue(ProducerRecord::new(&topic, format!("record-{i:04}")))
                .await
                .unwrap(),
        );
    }
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close().await;

    let tp = TopicPartition::new(&topic, 0);
    let config = ConsumerConfig {
        partition_max_bytes: 300,
        max_bytes: 300,
        ..Default::default()
    };
    let mut consumer = Consumer::new(client, config);
    consumer.assign([tp.clone()]);
    consumer.seek(&tp, OffsetSpec::Offset(123)).unwrap();
    let records = poll_n(&mut consumer, 177).await;
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (123..300).collect::<Vec<_>>());
}

#[tokio::test]
async fn long_poll_returns_when_records_arrive() {
    let broker = Broker::start();
    let client = client(&broker).await;
    let topic = unique_topic("long-poll");
    create(&Admin::new(client.clone()), &topic, 1).await;
    let tp = TopicPartition::new(&topic, 0);
    let mut consumer = Consumer::new(
        client.clone(),
        ConsumerConfig {
            max_wait: Duration::from_secs(5),
            ..Default::default()
        },
    );
    consumer.assign([tp.clone()]);
    consumer.seek(&tp, OffsetSpec::Latest).unwrap();
    assert!(
        consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .is_empty()
    );

    let producer = Producer::new(client, ProducerConfig::default());
    let topic2 = topic.clone();
    let send = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer.send(ProducerRecord::new(topic2, "wake up")).await
    });
    let started = Instant::now();
    let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_deref(), Some(&b"wake up"[..]));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "long-poll took {:?}",
        started.elapsed()
    );
    send.await.unwrap().unwrap();
}

#[tokio::test]
async fn seek_by_timestamp_finds_the_first_later_record() {
    let broker = Broker::start();
    let client = client(&broker).await;
    let topic = unique_topic("by-time");
    create(&Admin::new(client.clone()), &topic, 1).await;
    let producer = Producer::new(client.clone(), ProducerConfig::default());
    for (i, ts) in [1_000_000_i64, 2_000_000, 3_000_000]
        .into_iter()
        .enumerate()
    {
        let mut r = ProducerRecord::new(&topic, format!("t{i}"));
        r.timestamp_ms = Some(ts);
        producer.send(r).await.unwrap();
    }
    let tp = TopicPartition::new(&topic, 0);
    let mut consumer = Consumer::new(client, ConsumerConfig::default());
    consumer.assign([tp.clone()]);
    consumer
        .seek(&tp, OffsetSpec::Timestamp(1_500_000))
        .unwrap();
    let records = poll_n(&mut consumer, 2).await;
    assert_eq!(records[0].offset, 1);
    assert_eq!(records[0].timestamp_ms, 2_000_000);
}
