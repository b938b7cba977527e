//! Metadata records and their encoding.
//!
//! ## Format
//! Each record is the value of one Kafka record in the metadata log
//! (`__cluster_metadata-0`, record batch v2, key null). The value is a
//! UTF-8 JSON object with a `"type"` tag and a format version `"v"`:
//!
//! ```json
//! {"v":1,"type":"Topic","name":"orders","topic_id":"00112233445566778899aabbccddeeff"}
//! {"v":1,"type":"Partition","topic_id":"…","partition":0,"replicas":[1],"isr":[1],"leader":1,"leader_epoch":0,"partition_epoch":0}
//! {"v":1,"type":"TopicConfig","topic":"orders","name":"retention.ms","value":"604800000"}
//! {"v":1,"type":"RemoveTopic","topic_id":"…"}
//! {"v":1,"type":"ProducerIds","next_producer_id":2000}
//! {"v":1,"type":"BrokerConfig","broker":null,"name":"log.retention.ms","value":"3600000"}
//! ```
//!
//! `BrokerConfig` is a dynamic broker config: `broker` null is the
//! cluster-wide default (`kafka-configs --entity-default`), a node id is
//! that broker's own; `value` null removes it.
//!
//! JSON is used because metadata changes are rare and small, and because a
//! human can read the log with any consumer (`weir consume __cluster_metadata`).
//! Readers must reject a `"v"` they do not know rather than guess.

use serde::{Deserialize, Serialize};
use weir_types::{NodeId, TopicId};

/// The only record format version written today.
pub const RECORD_FORMAT_VERSION: u32 = 1;

/// One change to cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// A topic was created.
    Topic {
        /// Topic name.
        name: String,
        /// Topic id, hex.
        #[serde(with = "hex_id")]
        topic_id: TopicId,
    },
    /// A partition was created (or its assignment changed).
    Partition {
        /// Owning topic.
        #[serde(with = "hex_id")]
        topic_id: TopicId,
        /// Partition index.
        partition: i32,
        /// Replica node ids, preferred leader first.
        replicas: Vec<NodeId>,
        /// In-sync replicas.
        isr: Vec<NodeId>,
        /// Current leader, -1 if none.
        leader: NodeId,
        /// Leader epoch, bumped on every leader change.
        leader_epoch: i32,
        /// Partition epoch, bumped on every change of this record.
        partition_epoch: i32,
    },
    /// A dynamic topic config was set (`value` present) or removed (`None`).
    TopicConfig {
        /// Topic name.
        topic: String,
        /// Config key, e.g. `retention.ms`.
        name: String,
        /// New value, or `None` to delete the override.
        value: Option<String>,
    },
    /// A dynamic broker config was set (`value` present) or removed.
    BrokerConfig {
        /// Broker id, or `None` for the cluster-wide default.
        broker: Option<i32>,
        /// Config key, e.g. `log.retention.ms`.
        name: String,
        /// New value, or `None` to delete it.
        value: Option<String>,
    },
    /// A block of producer ids was handed out: every id below
    /// `next_producer_id` is taken (KRaft's `ProducerIdsRecord`).
    ProducerIds {
        /// First id not yet handed out.
        next_producer_id: i64,
    },
    /// A topic and all its partitions were deleted.
    RemoveTopic {
        /// The deleted topic's id.
        #[serde(with = "hex_id")]
        topic_id: TopicId,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    #[serde(flatten)]
    record: MetadataRecord,
}

/// Errors decoding a stored metadata record.
#[derive(Debug, thiserror::Error)]
pub enum RecordCodecError {
    /// The bytes are not a valid record.
    #[error("invalid metadata record: {0}")]
    Invalid(#[from] serde_json::Error),
    /// Written by a newer Weir.
    #[error("unknown metadata record format version {0}")]
    UnknownVersion(u32),
}

impl MetadataRecord {
    /// Encode as stored (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let env = Envelope {
            v: RECORD_FORMAT_VERSION,
            record: self.clone(),
        };
        // Serializing a plain enum of strings and integers cannot fail.
        serde_json::to_vec(&env).unwrap_or_default()
    }

    /// Decode a stored record.
    pub fn decode(bytes: &[u8]) -> Result<MetadataRecord, RecordCodecError> {
        let env: Envelope = serde_json::from_slice(bytes)?;
        if env.v != RECORD_FORMAT_VERSION {
            return Err(RecordCodecError::UnknownVersion(env.v));
        }
        Ok(env.record)
    }
}

mod hex_id {
    use serde::{Deserialize, Deserializer, Serializer};
    use weir_types::TopicId;

    pub(super) fn serialize<S: Serializer>(id: &TopicId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_hex())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TopicId, D::Error> {
        let s = String::deserialize(d)?;
        TopicId::from_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid topic id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_topic_record() {
        let rec = MetadataRecord::Topic {
            name: "orders".into(),
            topic_id: TopicId([0x11; 16]),
        };
        let bytes = rec.encode();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"v":1,"type":"Topic","name":"orders","topic_id":"11111111111111111111111111111111"}"#
        );
        assert_eq!(MetadataRecord::decode(&bytes).unwrap(), rec);
    }

    #[test]
    fn rejects_unknown_version_and_garbage() {
        let bad = br#"{"v":9,"type":"RemoveTopic","topic_id":"11111111111111111111111111111111"}"#;
        assert!(matches!(
            MetadataRecord::decode(bad),
            Err(RecordCodecError::UnknownVersion(9))
        ));
        assert!(MetadataRecord::decode(b"\xff\x00").is_err());
    }

    #[test]
    fn round_trips_every_variant() {
        let id = TopicId([7; 16]);
        for rec in [
            MetadataRecord::Partition {
                topic_id: id,
                partition: 3,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            },
            MetadataRecord::TopicConfig {
                topic: "t".into(),
                name: "retention.ms".into(),
                value: None,
            },
            MetadataRecord::RemoveTopic { topic_id: id },
            MetadataRecord::ProducerIds {
                next_producer_id: 1000,
            },
        ] {
            assert_eq!(MetadataRecord::decode(&rec.encode()).unwrap(), rec);
        }
    }
}
