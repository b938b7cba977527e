//! `weir configs describe|alter`, `weir topics alter --partitions` and
//! `weir records delete` against the real broker.

mod common;

use common::{Broker, unique_topic};

#[test]
fn configs_alter_describe_and_errors() {
    let broker = Broker::start();
    let topic = unique_topic("cfg");
    broker
        .weir(&["topics", "create", "--topic", &topic])
        .run()
        .ok();
    let alter = |args: &[&str]| {
        let mut all = vec![
            "configs",
            "alter",
            "--entity-type",
            "topics",
            "--entity-name",
            topic.as_str(),
        ];
        all.extend_from_slice(args);
        broker.weir(&all).run()
    };
    alter(&["--add-config", "retention.ms=1000,cleanup.policy=compact"]).ok();
    let d = broker
        .weir(&[
            "configs",
            "describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
            "--output",
            "json",
        ])
        .run()
        .ok()
        .json();
    let configs = d["configs"].as_array().expect("configs");
    let get = |name: &str| configs.iter().find(|c| c["name"] == name).cloned();
    assert_eq!(get("retention.ms").expect("set")["value"], "1000");
    assert_eq!(
        get("retention.ms").expect("set")["source"],
        "DYNAMIC_TOPIC_CONFIG"
    );
    assert_eq!(get("cleanup.policy").expect("set")["value"], "compact");

    alter(&["--delete-config", "cleanup.policy"]).ok();
    let out = broker
        .weir(&[
            "configs",
            "describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
        ])
        .run()
        .ok();
    assert!(
        out.stdout
            .contains("retention.ms=1000 (DYNAMIC_TOPIC_CONFIG)"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .starts_with(&format!("Configs for topic '{topic}':")),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("cleanup.policy"),
        "deleted override: {out:?}"
    );
    let all = broker
        .weir(&[
            "configs",
            "describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
            "--all",
        ])
        .run()
        .ok();
    assert!(
        all.stdout
            .contains("cleanup.policy=delete (DEFAULT_CONFIG)"),
        "{all:?}"
    );

    let bad = alter(&["--add-config", "retention.ms=soon"]).failed();
    assert!(
        bad.stderr.contains("INVALID_CONFIG") && bad.stderr.contains("retention.ms"),
        "{bad:?}"
    );
    let unknown = alter(&["--add-config", "no.such.config=1"]).failed();
    assert!(unknown.stderr.contains("INVALID_CONFIG"), "{unknown:?}");
}

#[test]
fn topics_alter_partitions_and_records_delete() {
    let broker = Broker::start();
    let topic = unique_topic("grow");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "2"])
        .run()
        .ok();
    broker
        .weir(&["topics", "alter", "--topic", &topic, "--partitions", "5"])
        .run()
        .ok();
    let d = broker
        .weir(&["topics", "describe", "--topic", &topic, "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(d[0]["partition_count"], 5, "{d}");
    let fewer = broker
        .weir(&["topics", "alter", "--topic", &topic, "--partitions", "3"])
        .run()
        .failed();
    assert!(fewer.stderr.contains("INVALID_PARTITIONS"), "{fewer:?}");

    let lines: String = (0..20).map(|i| format!("v{i}\n")).collect();
    broker
        .weir(&["produce", &topic, "--partition", "0"])
        .stdin(lines)
        .run()
        .ok();
    let out = broker
        .weir(&[
            "records",
            "delete",
            "--topic",
            &topic,
            "--partition",
            "0",
            "--before",
            "15",
        ])
        .run()
        .ok();
    assert!(out.stdout.contains("low watermark is now 15"), "{out:?}");
    let rest = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "0",
            "--offset",
            "earliest",
            "--max-messages",
            "5",
        ])
        .run()
        .ok();
    assert_eq!(
        rest.stdout,
        (15..20).map(|i| format!("v{i}\n")).collect::<String>()
    );
    let past = broker
        .weir(&[
            "records",
            "delete",
            "--topic",
            &topic,
            "--partition",
            "0",
            "--before",
            "99",
        ])
        .run()
        .failed();
    assert!(past.stderr.contains("OFFSET_OUT_OF_RANGE"), "{past:?}");
}
