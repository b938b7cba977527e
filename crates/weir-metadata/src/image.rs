//! The in-memory metadata image: the result of replaying every record.
//!
//! Invariants (checked by [`MetadataImage::apply`]): topic names and ids are
//! unique; every partition belongs to an existing topic; partition indexes of
//! a topic are `0..n` once creation finished. A record that would break an
//! invariant is refused with a [`ReplayError`] and leaves the image unchanged.

use std::collections::{BTreeMap, HashMap};

use weir_types::{NodeId, TopicId};

use crate::record::MetadataRecord;

/// One partition's assignment and leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    /// Replica node ids.
    pub replicas: Vec<NodeId>,
    /// In-sync replicas.
    pub isr: Vec<NodeId>,
    /// Leader node, -1 if none.
    pub leader: NodeId,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Partition epoch.
    pub partition_epoch: i32,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    /// Name.
    pub name: String,
    /// Id.
    pub id: TopicId,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionImage>,
    /// Dynamic config overrides.
    pub configs: BTreeMap<String, String>,
}

/// Why a record could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Topic name already present.
    #[error("topic {0} already exists")]
    DuplicateTopic(String),
    /// Record refers to a topic that does not exist.
    #[error("unknown topic {0}")]
    UnknownTopic(String),
}

/// All cluster metadata, as of `last_offset` in the metadata log.
#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    topics: BTreeMap<String, TopicImage>,
    names_by_id: HashMap<TopicId, String>,
    next_producer_id: i64,
    /// Dynamic broker configs: `None` = cluster default, `Some(id)` = one broker.
    broker_configs: BTreeMap<Option<i32>, BTreeMap<String, String>>,
}

impl MetadataImage {
    /// An empty image.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dynamic broker configs of `broker` (`None`: the cluster default).
    pub fn broker_configs(&self, broker: Option<i32>) -> BTreeMap<String, String> {
        self.broker_configs
            .get(&broker)
            .cloned()
            .unwrap_or_default()
    }

    /// Topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    /// Topic by id.
    pub fn topic_by_id(&self, id: &TopicId) -> Option<&TopicImage> {
        self.names_by_id.get(id).and_then(|n| self.topics.get(n))
    }

    /// All topics, by name.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values()
    }

    /// First producer id not yet handed out.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    /// Number of topics.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Apply one record. On error the image is unchanged.
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<(), ReplayError> {
        match record {
            MetadataRecord::Topic { name, topic_id } => {
                if self.topics.contains_key(name) || self.names_by_id.contains_key(topic_id) {
                    return Err(ReplayError::DuplicateTopic(name.clone()));
                }
                self.names_by_id.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: BTreeMap::new(),
                        configs: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => {
                let name = self
                    .names_by_id
                    .get(topic_id)
                    .ok_or_else(|| ReplayError::UnknownTopic(topic_id.to_hex()))?;
                let topic = self
                    .topics
                    .get_mut(name)
                    .ok_or_else(|| ReplayError::UnknownTopic(name.clone()))?;
                topic.partitions.insert(
                    *partition,
                    PartitionImage {
                        replicas: replicas.clone(),
                        isr: isr.clone(),
                        leader: *leader,
                        leader_epoch: *leader_epoch,
                        partition_epoch: *partition_epoch,
                    },
                );
            }
            MetadataRecord::TopicConfig { topic, name, value } => {
                let t = self
                    .topics
                    .get_mut(topic)
                    .ok_or_else(|| ReplayError::UnknownTopic(topic.clone()))?;
                match value {
                    Some(v) => t.configs.insert(name.clone(), v.clone()),
                    None => t.configs.remove(name),
                };
            }
            MetadataRecord::BrokerConfig {
                broker,
                name,
                value,
            } => {
                let configs = self.broker_configs.entry(*broker).or_default();
                match value {
                    Some(v) => configs.insert(name.clone(), v.clone()),
                    None => configs.remove(name),
                };
            }
            MetadataRecord::ProducerIds { next_producer_id } => {
                // Ids only move forward, whatever order blocks arrive in.
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let name = self
                    .names_by_id
                    .remove(topic_id)
                    .ok_or_else(|| ReplayError::UnknownTopic(topic_id.to_hex()))?;
                self.topics.remove(&name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_builds_and_removes_topics() {
        let id = TopicId([1; 16]);
        let mut img = MetadataImage::new();
        img.apply(&MetadataRecord::Topic {
            name: "a".into(),
            topic_id: id,
        })
        .unwrap();
        img.apply(&MetadataRecord::Partition {
            topic_id: id,
            partition: 0,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        })
        .unwrap();
        img.apply(&MetadataRecord::TopicConfig {
            topic: "a".into(),
            name: "retention.ms".into(),
            value: Some("5".into()),
        })
        .unwrap();
        assert_eq!(img.topic("a").unwrap().partitions.len(), 1);
        assert_eq!(
            img.topic_by_id(&id)
                .unwrap()
                .configs
                .get("retention.ms")
                .unwrap(),
            "5"
        );
        assert_eq!(
            img.apply(&MetadataRecord::Topic {
                name: "a".into(),
                topic_id: TopicId([2; 16])
            }),
            Err(ReplayError::DuplicateTopic("a".into()))
        );
        img.apply(&MetadataRecord::RemoveTopic { topic_id: id })
            .unwrap();
        assert!(img.topic("a").is_none());
        assert!(
            img.apply(&MetadataRecord::RemoveTopic { topic_id: id })
                .is_err()
        );
    }
}
