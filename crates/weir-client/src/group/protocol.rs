//! The "consumer" protocol type's embedded formats, and a round-robin
//! assignor.
//!
//! ## Format
//!
//! JoinGroup carries each member's *subscription* and SyncGroup each
//! member's *assignment* as opaque bytes; for `protocol_type = "consumer"`
//! they are Kafka's `ConsumerProtocolSubscription` and
//! `ConsumerProtocolAssignment`, each prefixed with its version as a
//! big-endian i16:
//!
//! ```text
//! version: i16 | body (never flexible; arrays with i32 counts)
//! ```
//!
//! A reader must accept versions newer than it knows: newer versions only
//! append fields, so the body is read with the highest known version and
//! the rest is ignored (as Kafka's `ConsumerProtocol` does). An empty
//! assignment (a member that has none, or a group between generations)
//! decodes as no partitions.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use weir_protocol::codec::{Message, read_i16};
use weir_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use weir_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use weir_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use weir_types::TopicPartition;

use crate::error::ClientError;

/// The protocol type of consumer groups.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// The assignor name [`assign_round_robin`] implements (Kafka's
/// `RoundRobinAssignor` produces the same layout).
pub const ROUND_ROBIN: &str = "roundrobin";
/// Subscription version written (v1 adds owned partitions).
const SUBSCRIPTION_VERSION: i16 = 1;
/// Assignment version written.
const ASSIGNMENT_VERSION: i16 = 0;

/// Encode a subscription to `topics`, listing the partitions the member owns.
pub fn encode_subscription(
    topics: &[String],
    owned: &[TopicPartition],
) -> Result<Bytes, ClientError> {
    let sub = ConsumerProtocolSubscription {
        topics: topics.to_vec(),
        user_data: None,
        owned_partitions: group_by_topic(owned)
            .into_iter()
            .map(|(topic, partitions)| OwnedTopic { topic, partitions })
            .collect(),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    buf.put_i16(SUBSCRIPTION_VERSION);
    sub.encode(&mut buf, SUBSCRIPTION_VERSION)?;
    Ok(buf.freeze())
}

/// Decode a subscription; returns the subscribed topics.
pub fn decode_subscription(bytes: &Bytes) -> Result<Vec<String>, ClientError> {
    let mut buf = bytes.clone();
    let version = read_i16(&mut buf)?;
    let version = version.clamp(
        ConsumerProtocolSubscription::MIN_VERSION,
        ConsumerProtocolSubscription::MAX_VERSION,
    );
    Ok(ConsumerProtocolSubscription::decode(&mut buf, version)?.topics)
}

/// Encode an assignment of `partitions`.
pub fn encode_assignment(partitions: &[TopicPartition]) -> Result<Bytes, ClientError> {
    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: group_by_topic(partitions)
            .into_iter()
            .map(|(topic, partitions)| AssignedTopic { topic, partitions })
            .collect(),
        user_data: None,
    };
    let mut buf = BytesMut::new();
    buf.put_i16(ASSIGNMENT_VERSION);
    assignment.encode(&mut buf, ASSIGNMENT_VERSION)?;
    Ok(buf.freeze())
}

/// Decode an assignment into its partitions, sorted. Empty bytes are no
/// partitions.
pub fn decode_assignment(bytes: &Bytes) -> Result<Vec<TopicPartition>, ClientError> {
    let mut out: Vec<TopicPartition> =
        weir_protocol::consumer_protocol::assigned_partitions(bytes)?
            .into_iter()
            .flat_map(|(topic, partitions)| {
                partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect();
    out.sort();
    Ok(out)
}

/// Round-robin assignment: every partition, sorted by topic and index, dealt
/// in turn to the members (sorted by id) subscribed to its topic.
///
/// `members` are `(member_id, subscribed topics)`; `partitions` are the
/// partition counts of the topics. Every member appears in the result, with
/// an empty list if it gets nothing.
pub fn assign_round_robin(
    members: &[(String, Vec<String>)],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut out: BTreeMap<String, Vec<TopicPartition>> = members
        .iter()
        .map(|(id, _)| (id.clone(), Vec::new()))
        .collect();
    let mut sorted: Vec<&(String, Vec<String>)> = members.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut next = 0usize;
    for (topic, count) in partitions {
        for partition in 0..*count {
            // The next member in turn that subscribes to this topic.
            for step in 0..sorted.len() {
                let i = (next + step) % sorted.len();
                let Some((id, topics)) = sorted.get(i).map(|m| (&m.0, &m.1)) else {
                    continue;
                };
                if topics.contains(topic) {
                    if let Some(list) = out.get_mut(id) {
                        list.push(TopicPartition::new(topic.clone(), partition));
                    }
                    next = i + 1;
                    break;
                }
            }
        }
    }
    out
}

fn group_by_topic(partitions: &[TopicPartition]) -> BTreeMap<String, Vec<i32>> {
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic
            .entry(tp.topic.clone())
            .or_default()
            .push(tp.partition);
    }
    for list in by_topic.values_mut() {
        list.sort_unstable();
    }
    by_topic
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn assignment_round_trips_and_matches_kafka_bytes() {
        let bytes = encode_assignment(&[tp("b", 1), tp("a", 0), tp("b", 0)]).unwrap();
        // version 0, 2 topics, "a" [0], "b" [0, 1], null user data
        let expected: &[u8] = &[
            0, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, b'b', 0, 0, 0, 2, 0, 0, 0,
            0, 0, 0, 0, 1, 255, 255, 255, 255,
        ];
        assert_eq!(&bytes[..], expected);
        assert_eq!(
            decode_assignment(&bytes).unwrap(),
            vec![tp("a", 0), tp("b", 0), tp("b", 1)]
        );
        assert_eq!(decode_assignment(&Bytes::new()).unwrap(), vec![]);
    }

    #[test]
    fn newer_assignment_versions_are_read() {
        // A v3 assignment from a newer client: same body as v0-v3.
        let mut buf = BytesMut::new();
        buf.put_i16(7);
        ConsumerProtocolAssignment {
            assigned_partitions: vec![AssignedTopic {
                topic: "t".into(),
                partitions: vec![2],
            }],
            user_data: None,
        }
        .encode(&mut buf, 3)
        .unwrap();
        assert_eq!(decode_assignment(&buf.freeze()).unwrap(), vec![tp("t", 2)]);
    }

    #[test]
    fn truncated_assignment_is_an_error() {
        let bytes = encode_assignment(&[tp("a", 0)]).unwrap();
        for cut in 1..bytes.len() - 4 {
            assert!(decode_assignment(&bytes.slice(..cut)).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn subscription_round_trips() {
        let bytes = encode_subscription(&["x".into(), "y".into()], &[tp("x", 1)]).unwrap();
        assert_eq!(decode_subscription(&bytes).unwrap(), vec!["x", "y"]);
    }

    #[test]
    fn round_robin_deals_partitions_in_turn() {
        let members = vec![
            ("m2".to_owned(), vec!["t".to_owned()]),
            ("m1".to_owned(), vec!["t".to_owned(), "u".to_owned()]),
        ];
        let counts = BTreeMap::from([("t".to_owned(), 3), ("u".to_owned(), 2)]);
        let a = assign_round_robin(&members, &counts);
        assert_eq!(
            a["m1"],
            vec![tp("t", 0), tp("t", 2), tp("u", 0), tp("u", 1)]
        );
        assert_eq!(a["m2"], vec![tp("t", 1)]);
        let none = assign_round_robin(&[("m".into(), vec!["z".into()])], &counts);
        assert_eq!(none["m"], vec![]);
    }
}
