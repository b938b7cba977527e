//! `weir produce` lines with keys, then `weir consume --from-beginning`
//! gives them back identical and, per partition, in order.

mod common;

use std::collections::BTreeMap;

use common::{Broker, unique_topic};
use weir_client::partitioner::partition_for_key;

const RECORDS: usize = 60;
const PARTITIONS: i32 = 3;

fn lines() -> Vec<(String, String)> {
    (0..RECORDS)
        .map(|i| {
            (
                format!("key-{}", i % 7),
                format!("value {i} with spaces, : and = signs"),
            )
        })
        .collect()
}

#[test]
fn keyed_lines_come_back_identical_and_in_order() {
    let broker = Broker::start();
    let topic = unique_topic("round-trip");
    broker
        .weir(&[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            &PARTITIONS.to_string(),
        ])
        .run()
        .ok();
    let input: String = lines().iter().map(|(k, v)| format!("{k}|{v}\n")).collect();
    let produced = broker
        .weir(&[
            "produce",
            &topic,
            "--key-separator",
            "|",
            "--output",
            "json",
        ])
        .stdin(input)
        .run()
        .ok();
    let acks = produced.json_lines();
    assert_eq!(acks.len(), RECORDS, "{produced:?}");

    // Per partition, the produced offsets are 0, 1, 2, ... in input order.
    let mut next: BTreeMap<i64, i64> = BTreeMap::new();
    for (ack, (key, _)) in acks.iter().zip(lines()) {
        let p = ack["partition"].as_i64().unwrap();
        assert_eq!(
            p,
            i64::from(partition_for_key(key.as_bytes(), PARTITIONS)),
            "{ack}"
        );
        let expected = next.entry(p).or_insert(0);
        assert_eq!(ack["offset"].as_i64().unwrap(), *expected, "{ack}");
        *expected += 1;
        assert_eq!(ack["topic"], topic.as_str());
    }

    let consumed = broker
        .weir(&[
            "consume",
            &topic,
            "--from-beginning",
            "--max-messages",
            &RECORDS.to_string(),
            "--timeout-ms",
            "20000",
            "--output",
            "json",
        ])
        .run()
        .ok();
    let records = consumed.json_lines();
    assert_eq!(records.len(), RECORDS, "{consumed:?}");

    let mut expected: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    for (k, v) in lines() {
        let p = i64::from(partition_for_key(k.as_bytes(), PARTITIONS));
        expected.entry(p).or_default().push((k, v));
    }
    let mut got: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    for r in &records {
        let p = r["partition"].as_i64().unwrap();
        let list = got.entry(p).or_default();
        assert_eq!(r["offset"].as_i64().unwrap(), list.len() as i64, "{r}");
        assert_eq!(r["topic"], topic.as_str());
        assert!(r["timestamp"].as_i64().unwrap() > 0, "{r}");
        assert!(r.get("value_encoding").is_none(), "{r}");
        list.push((
            r["key"].as_str().unwrap().to_owned(),
            r["value"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(got, expected);
}

#[test]
fn plain_output_prints_values_or_key_and_value() {
    let broker = Broker::start();
    let topic = unique_topic("plain");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "1"])
        .run()
        .ok();
    let out = broker
        .weir(&["produce", &topic, "--key-separator", ":"])
        .stdin("a:1\nb:2\n:3\nc:\n")
        .run()
        .ok();
    assert_eq!(out.stdout, "", "plain produce prints nothing on success");

    let out = broker
        .weir(&["consume", &topic, "--from-beginning", "--max-messages", "4"])
        .run()
        .ok();
    assert_eq!(out.stdout, "1\n2\n3\n\n");
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--from-beginning",
            "--max-messages",
            "4",
            "--print-key",
            "--key-separator",
            "=",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "a=1\nb=2\n=3\nc=\n");
}

#[test]
fn headers_nulls_and_binary_values_in_json() {
    let broker = Broker::start();
    let topic = unique_topic("binary");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "1"])
        .run()
        .ok();
    let mut input = b"plain line\n".to_vec();
    input.extend_from_slice(&[0xff, 0xfe, b'x', b'\n']);
    input.extend_from_slice(b"last line without newline");
    broker
        .weir(&[
            "produce",
            &topic,
            "--header",
            "source=test",
            "--header",
            "n=1",
        ])
        .stdin(input)
        .run()
        .ok();
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--from-beginning",
            "--max-messages",
            "3",
            "--output",
            "json",
        ])
        .run()
        .ok();
    let records = out.json_lines();
    assert_eq!(records.len(), 3, "{out:?}");
    assert_eq!(records[0]["value"], "plain line");
    assert!(records[0]["key"].is_null());
    assert_eq!(
        records[0]["headers"],
        serde_json::json!({"source": "test", "n": "1"})
    );
    assert_eq!(records[1]["value"], "//54");
    assert_eq!(records[1]["value_encoding"], "base64");
    assert_eq!(records[2]["value"], "last line without newline");
    assert_eq!(records[2]["offset"], 2);
}

#[test]
fn failed_delivery_exits_non_zero() {
    let broker = Broker::start();
    let topic = unique_topic("fail");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "1"])
        .run()
        .ok();
    let out = broker
        .weir(&["produce", &topic, "--partition", "3"])
        .stdin("x\n")
        .run()
        .failed();
    assert!(out.stderr.contains("has no partition 3"), "{out:?}");

    let out = broker
        .weir(&["produce", &topic, "--key-separator", ":"])
        .stdin("k:v\nno separator here\n")
        .run()
        .failed();
    assert!(
        out.stderr.contains("line 2 has no key separator"),
        "{out:?}"
    );
    // The line before the bad one was delivered.
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--from-beginning",
            "--timeout-ms",
            "1500",
            "--print-key",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "k\tv\n");
}

#[test]
fn acks_zero_and_one_deliver() {
    let broker = Broker::start();
    let topic = unique_topic("acks");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "1"])
        .run()
        .ok();
    let out = broker
        .weir(&["produce", &topic, "--acks", "1", "--output", "json"])
        .stdin("one\n")
        .run()
        .ok();
    assert_eq!(out.json_lines()[0]["offset"], 0);
    let out = broker
        .weir(&["produce", &topic, "--acks", "0", "--output", "json"])
        .stdin("zero\n")
        .run()
        .ok();
    assert_eq!(out.json_lines()[0]["offset"], -1, "acks=0 has no offset");
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "10000",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "one\nzero\n");
}
