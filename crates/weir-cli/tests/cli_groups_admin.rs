//! `weir groups list|describe|reset-offsets|delete` against the real broker,
//! on a group made with the Rust client's [`GroupMember`]: plain and JSON
//! output, lag, resets refused while the group has members, dry runs,
//! clamping, and deletes.
//!
//! Each test returns early, printing a note, while the broker does not
//! advertise the group APIs.

mod common;

use std::sync::Arc;

use common::{Broker, unique_topic};
use serde_json::json;
use weir_client::{
    Admin, ApiKey, Client, ClientConfig, Connection, ConnectionTimeouts, GroupMember,
    GroupMemberConfig, NewTopic, Producer, ProducerConfig, ProducerRecord, TopicPartition,
};

const OVERRIDES: &[&str] = &["group.initial.rebalance.delay.ms=0"];
const RECORDS_PER_PARTITION: i64 = 10;

/// Whether the broker advertises every API `weir groups` and the member use.
async fn serves_groups(broker: &Broker) -> bool {
    let conn = Connection::connect(&broker.addr, "probe", ConnectionTimeouts::default())
        .await
        .unwrap();
    let missing: Vec<&str> = [
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ListGroups,
        ApiKey::DescribeGroups,
        ApiKey::DeleteGroups,
    ]
    .into_iter()
    .filter(|api| conn.broker_versions().negotiate(*api).is_none())
    .map(ApiKey::name)
    .collect();
    if !missing.is_empty() {
        eprintln!(
            "note: skipping, the broker does not serve {missing:?} (group coordinator not served)"
        );
    }
    missing.is_empty()
}

async fn client(broker: &Broker) -> Arc<Client> {
    Arc::new(
        Client::connect(ClientConfig::new(&broker.addr).client_id("cli-groups-test"))
            .await
            .unwrap(),
    )
}

/// A topic with `partitions` partitions and RECORDS_PER_PARTITION records in each.
async fn topic_with_records(client: &Arc<Client>, partitions: i32) -> String {
    let topic = unique_topic("groups");
    let mut t = NewTopic::new(&topic);
    t.partitions = Some(partitions);
    Admin::new(client.clone())
        .create_topic(&t, false)
        .await
        .unwrap();
    let producer = Producer::new(client.clone(), ProducerConfig::default());
    for p in 0..partitions {
        for i in 0..RECORDS_PER_PARTITION {
            producer
                .send(ProducerRecord::new(&topic, format!("v{i}")).partition(p))
                .await
                .unwrap();
        }
    }
    topic
}

fn committed_by_partition(doc: &serde_json::Value) -> Vec<(i64, serde_json::Value)> {
    doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["current_offset"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn describe_shows_members_assignments_and_lag() {
    let broker = Broker::start_with(OVERRIDES);
    if !serves_groups(&broker).await {
        return;
    }
    let client = client(&broker).await;
    let topic = topic_with_records(&client, 3).await;
    let group = format!("g-{topic}");
    let mut member = GroupMember::join(
        client.clone(),
        GroupMemberConfig::new(&group, vec![topic.clone()]),
    )
    .await
    .unwrap();
    assert!(member.is_leader());
    let all: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(&topic, p)).collect();
    assert_eq!(member.assignment(), &all[..]);
    let results = member
        .commit(&[
            (TopicPartition::new(&topic, 0), 4),
            (TopicPartition::new(&topic, 1), RECORDS_PER_PARTITION),
        ])
        .await
        .unwrap();
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");

    let out = broker.weir(&["groups", "list"]).run().ok();
    assert!(out.stdout.lines().any(|l| l == group), "{out:?}");
    let listed = broker
        .weir(&["groups", "list", "--output", "json"])
        .run()
        .ok()
        .json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group_id"] == group.as_str())
        .unwrap_or_else(|| panic!("{group} not listed: {listed}"))
        .clone();
    assert_eq!(entry["protocol_type"], "consumer");
    assert_eq!(entry["state"], "Stable");
    let out = broker
        .weir(&["groups", "list", "--state", "Empty"])
        .run()
        .ok();
    assert!(!out.stdout.lines().any(|l| l == group), "{out:?}");

    let doc = broker
        .weir(&["groups", "describe", &group, "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(doc["group"], group.as_str());
    assert_eq!(doc["state"], "Stable");
    assert_eq!(doc["protocol_type"], "consumer");
    assert_eq!(doc["protocol"], "roundrobin");
    let members = doc["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{doc}");
    assert_eq!(members[0]["member_id"], member.member_id());
    assert_eq!(members[0]["client_id"], "cli-groups-test");
    assert_eq!(members[0]["assignment"].as_array().unwrap().len(), 3);
    let rows = doc["partitions"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{doc}");
    let expect = [(0, Some(4)), (1, Some(RECORDS_PER_PARTITION)), (2, None)];
    for (row, (p, committed)) in rows.iter().zip(expect) {
        assert_eq!(row["topic"], topic.as_str());
        assert_eq!(row["partition"], p);
        assert_eq!(row["log_end_offset"], RECORDS_PER_PARTITION, "{row}");
        assert_eq!(row["current_offset"], json!(committed), "{row}");
        assert_eq!(
            row["lag"],
            json!(committed.map(|c| RECORDS_PER_PARTITION - c)),
            "{row}"
        );
        assert_eq!(row["consumer_id"], member.member_id());
        assert_eq!(row["client_id"], "cli-groups-test");
    }

    let out = broker
        .weir(&["groups", "describe", &group, "--members"])
        .run()
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.contains(&"STATE: Stable"), "{out:?}");
    assert!(lines.contains(&"PROTOCOL: roundrobin"), "{out:?}");
    let header = lines
        .iter()
        .find(|l| l.starts_with("GROUP ") && l.contains("TOPIC"))
        .unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        ]
    );
    let row2: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|c| c.len() == 9 && c[0] == group && c[1] == topic && c[2] == "2")
        .unwrap_or_else(|| panic!("no row for partition 2: {out:?}"));
    assert_eq!(&row2[3..6], ["-", "10", "-"], "{out:?}");
    assert!(
        out.stdout.contains(&format!("{topic}(0,1,2)")),
        "members table lists the assignment: {out:?}"
    );
    member.leave().await.unwrap();
    let doc = broker
        .weir(&["groups", "describe", &group, "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(doc["state"], "Empty", "{doc}");
    assert_eq!(doc["members"], json!([]));
}

#[tokio::test]
async fn reset_offsets_is_refused_while_active_then_plans_and_executes() {
    let broker = Broker::start_with(OVERRIDES);
    if !serves_groups(&broker).await {
        return;
    }
    let client = client(&broker).await;
    let topic = topic_with_records(&client, 2).await;
    let group = format!("g-{topic}");
    let mut member = GroupMember::join(
        client.clone(),
        GroupMemberConfig::new(&group, vec![topic.clone()]),
    )
    .await
    .unwrap();
    member
        .commit(&[
            (TopicPartition::new(&topic, 0), 6),
            (TopicPartition::new(&topic, 1), 6),
        ])
        .await
        .unwrap();
    let reset = |args: &[&str]| {
        let mut all = vec!["groups", "reset-offsets", group.as_str(), "--topic"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--output", "json"]);
        broker.weir(&all).run()
    };

    // Active members: --execute is refused, the offsets stay.
    let out = reset(&[&topic, "--to-earliest", "--execute"]).failed();
    assert!(
        out.stderr.contains("inactive") && out.stderr.contains("Stable"),
        "{out:?}"
    );
    // A dry run still shows the plan, with a warning.
    let plan = reset(&[&topic, "--to-earliest"]).ok();
    assert!(
        plan.stderr.contains("--execute would be refused"),
        "{plan:?}"
    );
    assert_eq!(plan.json()["executed"], false);
    let out = broker.weir(&["groups", "delete", &group]).run().failed();
    assert!(out.stderr.contains("NON_EMPTY_GROUP"), "{out:?}");

    member.leave().await.unwrap();
    let describe = || {
        broker
            .weir(&["groups", "describe", &group, "--output", "json"])
            .run()
            .ok()
            .json()
    };
    let six = vec![(0, json!(6)), (1, json!(6))];
    assert_eq!(committed_by_partition(&describe()), six);

    // Dry run (the default): the plan, nothing committed.
    let plan = reset(&[&topic, "--to-earliest"]).ok().json();
    assert_eq!(plan["executed"], false);
    let news: Vec<i64> = plan["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["new_offset"].as_i64().unwrap())
        .collect();
    assert_eq!(news, [0, 0]);
    assert_eq!(committed_by_partition(&describe()), six);
    let out = broker
        .weir(&[
            "groups",
            "reset-offsets",
            &group,
            "--topic",
            &topic,
            "--to-latest",
        ])
        .run()
        .ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);

    // Execute, clamped to [log-start, log-end].
    for (args, expect) in [
        (vec!["--to-offset", "3", "--execute"], [3, 3]),
        (vec!["--shift-by", "-5", "--execute"], [0, 0]),
        (vec!["--shift-by", "4", "--execute"], [4, 4]),
        (vec!["--to-offset", "1000", "--execute"], [10, 10]),
        (
            vec!["--to-datetime", "1970-01-01T00:00:00Z", "--execute"],
            [0, 0],
        ),
        (
            vec!["--to-datetime", "2999-01-01T00:00:00Z", "--execute"],
            [10, 10],
        ),
        (vec!["--to-earliest", "--execute"], [0, 0]),
        (vec!["--to-latest", "--execute"], [10, 10]),
    ] {
        let mut a = vec![topic.as_str()];
        a.extend(args.iter().copied());
        let plan = reset(&a).ok().json();
        assert_eq!(plan["executed"], true, "{args:?}: {plan}");
        assert_eq!(
            committed_by_partition(&describe()),
            vec![(0, json!(expect[0])), (1, json!(expect[1]))],
            "{args:?}"
        );
    }
    // Only the named partitions.
    let one = format!("{topic}:1");
    reset(&[&one, "--to-offset", "2", "--execute"]).ok();
    assert_eq!(
        committed_by_partition(&describe()),
        vec![(0, json!(10)), (1, json!(2))]
    );
    let missing = format!("{topic}:7");
    let out = reset(&[&missing, "--to-offset", "2", "--execute"]).failed();
    assert!(out.stderr.contains("no partition 7"), "{out:?}");

    // Delete, then it is gone.
    let out = broker.weir(&["groups", "delete", &group]).run().ok();
    assert_eq!(
        out.stdout,
        format!("Deletion of requested consumer groups ('{group}') was successful.\n")
    );
    let out = broker.weir(&["groups", "list"]).run().ok();
    assert!(!out.stdout.lines().any(|l| l == group), "{out:?}");
    let out = broker.weir(&["groups", "delete", &group]).run().failed();
    assert!(out.stderr.contains("GROUP_ID_NOT_FOUND"), "{out:?}");
    let doc = describe();
    assert_eq!(
        doc["partitions"],
        json!([]),
        "offsets deleted with the group: {doc}"
    );
}
