//! Keyed records land where the Java client's default partitioner puts
//! them (murmur2), and records with the same key share a partition.

mod common;

use std::collections::BTreeMap;

use common::{Broker, unique_topic};
use weir_client::partitioner::partition_for_key;

#[test]
fn same_key_same_partition_matching_murmur2() {
    let broker = Broker::start();
    let topic = unique_topic("keyed");
    let partitions = 6;
    broker
        .weir(&[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            &partitions.to_string(),
        ])
        .run()
        .ok();
    let keys: Vec<String> = (0..40).map(|i| format!("user-{}", i % 13)).collect();
    let input: String = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k},{i}\n"))
        .collect();
    let out = broker
        .weir(&[
            "produce",
            &topic,
            "--key-separator",
            ",",
            "--output",
            "json",
        ])
        .stdin(input)
        .run()
        .ok();
    let acks = out.json_lines();
    assert_eq!(acks.len(), keys.len());
    let mut seen: BTreeMap<&str, i64> = BTreeMap::new();
    for (ack, key) in acks.iter().zip(&keys) {
        let p = ack["partition"].as_i64().unwrap();
        assert_eq!(
            p,
            i64::from(partition_for_key(key.as_bytes(), partitions)),
            "{key}"
        );
        assert_eq!(*seen.entry(key).or_insert(p), p, "{key} moved partitions");
    }
    // The 13 keys spread over more than one partition.
    let used: std::collections::BTreeSet<i64> = seen.values().copied().collect();
    assert!(used.len() > 1, "{seen:?}");

    // Known placement from the Java client: murmur2("21") = -973932308,
    // toPositive = 1173551340, % 6 = 0.
    let out = broker
        .weir(&[
            "produce",
            &topic,
            "--key-separator",
            ",",
            "--output",
            "json",
        ])
        .stdin("21,x\n")
        .run()
        .ok();
    assert_eq!(out.json_lines()[0]["partition"], 1_173_551_340 % 6);
}

#[test]
fn keyless_records_spread_over_partitions() {
    let broker = Broker::start();
    let topic = unique_topic("keyless");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "3"])
        .run()
        .ok();
    // Batches of ~1 KiB records with a small batch size: the sticky
    // partitioner moves on after each batch.
    let line = "v".repeat(1000);
    let input: String = (0..30).map(|_| format!("{line}\n")).collect();
    let out = broker
        .weir(&[
            "produce",
            &topic,
            "--batch-size",
            "4096",
            "--output",
            "json",
        ])
        .stdin(input)
        .run()
        .ok();
    let used: std::collections::BTreeSet<i64> = out
        .json_lines()
        .iter()
        .map(|a| a["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(used.len(), 3, "{used:?}");
}
