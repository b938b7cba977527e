//! `weir topics create|list|describe|delete` against the real broker, in
//! plain and JSON output, with the exit codes and error messages users see.

mod common;

use common::{Broker, unique_topic};

#[test]
fn create_list_describe_delete_plain() {
    let broker = Broker::start();
    let topic = unique_topic("orders");

    let out = broker
        .weir(&[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "3",
            "--replication-factor",
            "1",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, format!("Created topic {topic}.\n"));

    let out = broker.weir(&["topics", "list"]).run().ok();
    assert!(out.stdout.lines().any(|l| l == topic), "{out:?}");

    let out = broker
        .weir(&["topics", "describe", "--topic", &topic])
        .run()
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(
        lines[0].starts_with(&format!("Topic: {topic}\tTopicId: ")),
        "{out:?}"
    );
    assert!(
        lines[0].contains("\tPartitionCount: 3\tReplicationFactor: 1"),
        "{out:?}"
    );
    for (i, line) in lines[1..].iter().enumerate() {
        assert_eq!(
            *line,
            format!("\tTopic: {topic}\tPartition: {i}\tLeader: 1\tReplicas: 1\tIsr: 1"),
            "{out:?}"
        );
    }

    let out = broker
        .weir(&["topics", "delete", "--topic", &topic])
        .run()
        .ok();
    assert_eq!(out.stdout, format!("Deleted topic {topic}.\n"));
    let out = broker.weir(&["topics", "list"]).run().ok();
    assert!(!out.stdout.lines().any(|l| l == topic), "{out:?}");
}

#[test]
fn create_list_describe_delete_json() {
    let broker = Broker::start();
    let topic = unique_topic("events");

    let out = broker
        .weir(&[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "2",
            "--config",
            "retention.ms=604800000",
            "--output",
            "json",
        ])
        .run()
        .ok();
    let created = out.json();
    assert_eq!(created["topic"], topic.as_str());
    assert_eq!(created["created"], true);
    assert_eq!(created["partitions"], 2);
    let topic_id = created["topic_id"].as_str().unwrap().to_owned();
    assert_eq!(topic_id.len(), 22, "Kafka's base64 topic id: {created}");

    let list = broker
        .weir(&["topics", "list", "--output", "json"])
        .run()
        .ok()
        .json();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == topic.as_str())
        .unwrap_or_else(|| panic!("{topic} not listed: {list}"))
        .clone();
    assert_eq!(entry["partitions"], 2);
    assert_eq!(entry["topic_id"], topic_id.as_str());
    assert_eq!(entry["internal"], false);

    let described = broker
        .weir(&["topics", "describe", "--topic", &topic, "--output", "json"])
        .run()
        .ok()
        .json();
    let d = &described[0];
    assert_eq!(d["name"], topic.as_str());
    assert_eq!(d["topic_id"], topic_id.as_str());
    assert_eq!(d["partition_count"], 2);
    assert_eq!(d["replication_factor"], 1);
    let partitions = d["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 2);
    for (i, p) in partitions.iter().enumerate() {
        assert_eq!(p["partition"], i);
        assert_eq!(p["leader"], 1);
        assert_eq!(p["replicas"], serde_json::json!([1]));
        assert_eq!(p["isr"], serde_json::json!([1]));
    }
    // Configs appear only when the broker serves DescribeConfigs.
    if !d["configs"].is_null() {
        assert_eq!(d["configs"]["retention.ms"], "604800000", "{d}");
    }

    let deleted = broker
        .weir(&["topics", "delete", "--topic", &topic, "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(
        deleted,
        serde_json::json!({"topic": topic, "deleted": true})
    );
}

#[test]
fn duplicate_create_fails_unless_if_not_exists() {
    let broker = Broker::start();
    let topic = unique_topic("dup");
    broker
        .weir(&["topics", "create", "--topic", &topic])
        .run()
        .ok();

    let out = broker
        .weir(&["topics", "create", "--topic", &topic])
        .run()
        .failed();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(&format!(
            "Error: topic '{topic}' already exists (TOPIC_ALREADY_EXISTS)"
        )),
        "{out:?}"
    );

    let out = broker
        .weir(&["topics", "create", "--topic", &topic, "--if-not-exists"])
        .run()
        .ok();
    assert_eq!(out.stdout, "");
}

#[test]
fn invalid_names_and_partition_counts_are_refused() {
    let broker = Broker::start();
    let out = broker
        .weir(&["topics", "create", "--topic", "bad name!"])
        .run()
        .failed();
    assert!(
        out.stderr.contains("Error: invalid topic name 'bad name!'"),
        "{out:?}"
    );
    assert!(out.stderr.contains("(INVALID_TOPIC_EXCEPTION)"), "{out:?}");

    let long = "x".repeat(250);
    let out = broker
        .weir(&["topics", "create", "--topic", &long])
        .run()
        .failed();
    assert!(out.stderr.contains("(INVALID_TOPIC_EXCEPTION)"), "{out:?}");

    let topic = unique_topic("zero");
    let out = broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "0"])
        .run()
        .failed();
    assert!(out.stderr.contains("(INVALID_PARTITIONS)"), "{out:?}");

    // Negative counts reach the broker, which refuses them.
    let out = broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "-5"])
        .run()
        .failed();
    assert!(out.stderr.contains("(INVALID_PARTITIONS)"), "{out:?}");

    let out = broker.weir(&["topics", "list"]).run().ok();
    assert!(!out.stdout.contains(&topic), "{out:?}");
}

#[test]
fn validate_only_creates_nothing() {
    let broker = Broker::start();
    let topic = unique_topic("dry");
    let out = broker
        .weir(&[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "4",
            "--validate-only",
        ])
        .run()
        .ok();
    assert!(out.stdout.contains("valid"), "{out:?}");
    let out = broker.weir(&["topics", "list"]).run().ok();
    assert!(!out.stdout.lines().any(|l| l == topic), "{out:?}");
    // And it can still be created for real.
    broker
        .weir(&["topics", "create", "--topic", &topic])
        .run()
        .ok();
}

#[test]
fn deleting_or_describing_a_missing_topic() {
    let broker = Broker::start();
    let topic = unique_topic("missing");
    let out = broker
        .weir(&["topics", "delete", "--topic", &topic])
        .run()
        .failed();
    assert!(
        out.stderr.contains(&format!(
            "Error: topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        )),
        "{out:?}"
    );
    broker
        .weir(&["topics", "delete", "--topic", &topic, "--if-exists"])
        .run()
        .ok();

    let out = broker
        .weir(&["topics", "describe", "--topic", &topic])
        .run()
        .failed();
    assert!(
        out.stderr.contains("(UNKNOWN_TOPIC_OR_PARTITION)"),
        "{out:?}"
    );
}

#[test]
fn unreachable_broker_is_a_clear_error() {
    let broker = Broker::start();
    let out = broker
        .weir(&["topics", "list", "--bootstrap-server", "127.0.0.1:1"])
        .run()
        .failed();
    assert!(
        out.stderr
            .contains("Error: no broker reachable at 127.0.0.1:1"),
        "{out:?}"
    );
}
