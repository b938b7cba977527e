//! `weir consume --partition P --offset O|earliest|latest`, and
//! `--timeout-ms` ending a consumer that has read everything.

mod common;

use common::{Broker, unique_topic};

#[test]
fn consume_one_partition_from_an_offset() {
    let broker = Broker::start();
    let topic = unique_topic("offsets");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "2"])
        .run()
        .ok();
    let input: String = (0..10).map(|i| format!("m{i}\n")).collect();
    let out = broker
        .weir(&["produce", &topic, "--partition", "1", "--output", "json"])
        .stdin(input)
        .run()
        .ok();
    let offsets: Vec<i64> = out
        .json_lines()
        .iter()
        .map(|a| a["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());

    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "1",
            "--offset",
            "4",
            "--max-messages",
            "6",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "m4\nm5\nm6\nm7\nm8\nm9\n");

    // A single record from the middle of a batch.
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "1",
            "--offset",
            "7",
            "--max-messages",
            "1",
            "--output",
            "json",
        ])
        .run()
        .ok();
    let r = &out.json_lines()[0];
    assert_eq!(
        (
            r["partition"].as_i64(),
            r["offset"].as_i64(),
            r["value"].as_str()
        ),
        (Some(1), Some(7), Some("m7"))
    );

    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "1",
            "--offset",
            "earliest",
            "--timeout-ms",
            "1500",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout.lines().count(), 10, "{out:?}");

    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "1",
            "--offset",
            "latest",
            "--timeout-ms",
            "1000",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "");

    // Partition 0 got nothing.
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "0",
            "--from-beginning",
            "--timeout-ms",
            "1000",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "");
}

#[test]
fn offset_past_the_end_waits_for_new_records() {
    let broker = Broker::start();
    let topic = unique_topic("tail");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "1"])
        .run()
        .ok();
    broker.weir(&["produce", &topic]).stdin("a\nb\n").run().ok();
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "0",
            "--offset",
            "2",
            "--timeout-ms",
            "1000",
        ])
        .run()
        .ok();
    assert_eq!(out.stdout, "");
}

#[test]
fn bad_partition_or_topic_is_an_error() {
    let broker = Broker::start();
    let topic = unique_topic("bad");
    broker
        .weir(&["topics", "create", "--topic", &topic, "--partitions", "2"])
        .run()
        .ok();
    let out = broker
        .weir(&[
            "consume",
            &topic,
            "--partition",
            "5",
            "--offset",
            "0",
            "--timeout-ms",
            "500",
        ])
        .run()
        .failed();
    assert!(
        out.stderr
            .contains(&format!("Error: topic '{topic}' has no partition 5")),
        "{out:?}"
    );

    let missing = unique_topic("never-created");
    let out = broker
        .weir(&[
            "consume",
            &missing,
            "--from-beginning",
            "--timeout-ms",
            "500",
        ])
        .run()
        .failed();
    assert!(
        out.stderr.contains(&format!(
            "Error: topic '{missing}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        )),
        "{out:?}"
    );

    let out = broker
        .weir(&["consume", &topic, "--offset", "3"])
        .run()
        .failed();
    assert!(
        out.stderr.contains("--partition"),
        "--offset requires --partition: {out:?}"
    );
}
