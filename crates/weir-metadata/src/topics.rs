//! Topic control: turn CreateTopics / DeleteTopics intents into metadata
//! records, validating them against the current image.
//!
//! Pure functions returning `(records, outcome)`; the caller appends the
//! records to the metadata log and then applies them. This module moves to
//! the quorum controller crate when the multi-node cluster arrives.

use std::collections::BTreeMap;

use weir_types::{NodeId, TopicId};

use crate::image::MetadataImage;
use crate::names::{TopicNameError, validate_topic_name};
use crate::record::MetadataRecord;
use crate::topic_config::{ConfigError, validate_topic_config};

/// Largest partition count one CreateTopics may ask for, a bound on the
/// records one request can generate.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 100_000;

/// A request to create one topic, already defaulted (-1 replaced).
#[derive(Debug, Clone)]
pub struct CreateTopic {
    /// Name.
    pub name: String,
    /// Partition count.
    pub num_partitions: i32,
    /// Replication factor.
    pub replication_factor: i16,
    /// Manual assignment: partition → replicas (empty = automatic).
    pub assignments: BTreeMap<i32, Vec<NodeId>>,
    /// Config overrides.
    pub configs: BTreeMap<String, String>,
}

/// Why a topic could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateTopicError {
    /// Name illegal.
    #[error(transparent)]
    InvalidName(#[from] TopicNameError),
    /// Name taken.
    #[error("topic '{0}' already exists")]
    AlreadyExists(String),
    /// Partition count out of range.
    #[error("number of partitions must be between 1 and {PARTITIONS_PER_TOPIC_MAX}, got {0}")]
    InvalidPartitions(i32),
    /// Replication factor out of range for the live brokers.
    #[error("replication factor: {requested} larger than available brokers: {available}")]
    InvalidReplicationFactor {
        /// Asked for.
        requested: i16,
        /// Brokers alive.
        available: usize,
    },
    /// Manual assignment is inconsistent.
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    /// Bad config.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
}

/// Validate a create request against the image and produce its records.
/// `brokers` are the live broker ids; `topic_id` is a fresh random id.
pub fn create_topic(
    image: &MetadataImage,
    brokers: &[NodeId],
    req: &CreateTopic,
    topic_id: TopicId,
) -> Result<Vec<MetadataRecord>, CreateTopicError> {
    validate_topic_name(&req.name)?;
    if image.topic(&req.name).is_some() {
        return Err(CreateTopicError::AlreadyExists(req.name.clone()));
    }
    for (k, v) in &req.configs {
        validate_topic_config(k, v)?;
    }
    let assignments: Vec<Vec<NodeId>> = if req.assignments.is_empty() {
        if req.num_partitions < 1 || req.num_partitions > PARTITIONS_PER_TOPIC_MAX {
            return Err(CreateTopicError::InvalidPartitions(req.num_partitions));
        }
        let rf = req.replication_factor;
        if rf < 1 || rf as usize > brokers.len() {
            return Err(CreateTopicError::InvalidReplicationFactor {
                requested: rf,
                available: brokers.len(),
            });
        }
        (0..req.num_partitions)
            .map(|p| {
                (0..rf as usize)
                    .map(|r| brokers[(p as usize + r) % brokers.len()])
                    .collect()
            })
            .collect()
    } else {
        let count = req.assignments.len() as i32;
        if count > PARTITIONS_PER_TOPIC_MAX {
            return Err(CreateTopicError::InvalidPartitions(count));
        }
        let mut out = Vec::new();
        for (i, (p, replicas)) in req.assignments.iter().enumerate() {
            if *p != i as i32 {
                return Err(CreateTopicError::InvalidReplicaAssignment(
                    "partitions must be numbered consecutively from 0".into(),
                ));
            }
            if replicas.is_empty() || replicas.iter().any(|r| !brokers.contains(r)) {
                return Err(CreateTopicError::InvalidReplicaAssignment(format!(
                    "partition {p} has replicas {replicas:?}, live brokers are {brokers:?}"
                )));
            }
            let mut dedup = replicas.clone();
            dedup.sort_unstable();
            dedup.dedup();
            if dedup.len() != replicas.len() {
                return Err(CreateTopicError::InvalidReplicaAssignment(format!(
                    "partition {p} lists a replica twice"
                )));
            }
            out.push(replicas.clone());
        }
        out
    };
    let mut records = vec![MetadataRecord::Topic {
        name: req.name.clone(),
        topic_id,
    }];
    for (p, replicas) in assignments.into_iter().enumerate() {
        let leader = replicas.first().copied().unwrap_or(-1);
        records.push(MetadataRecord::Partition {
            topic_id,
            partition: p as i32,
            isr: replicas.clone(),
            replicas,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
        });
    }
    for (k, v) in &req.configs {
        records.push(MetadataRecord::TopicConfig {
            topic: req.name.clone(),
            name: k.clone(),
            value: Some(v.clone()),
        });
    }
    Ok(records)
}

/// Why partitions could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreatePartitionsError {
    /// No such topic.
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    /// The count does not increase, or is out of range.
    #[error(
        "topic currently has {current} partitions, {requested} would not increase it (max {PARTITIONS_PER_TOPIC_MAX})"
    )]
    InvalidPartitions {
        /// Current partition count.
        current: i32,
        /// Requested total.
        requested: i32,
    },
    /// Manual assignment is inconsistent.
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
}

/// Records that grow `name` to `total` partitions (Kafka only increases).
/// `assignments`, when given, has one replica list per new partition.
pub fn create_partitions(
    image: &MetadataImage,
    brokers: &[NodeId],
    name: &str,
    total: i32,
    assignments: Option<&[Vec<NodeId>]>,
) -> Result<Vec<MetadataRecord>, CreatePartitionsError> {
    let topic = image
        .topic(name)
        .ok_or_else(|| CreatePartitionsError::UnknownTopic(name.to_string()))?;
    let current = topic.partitions.len() as i32;
    if total <= current || total > PARTITIONS_PER_TOPIC_MAX {
        return Err(CreatePartitionsError::InvalidPartitions {
            current,
            requested: total,
        });
    }
    let rf = topic
        .partitions
        .values()
        .next()
        .map(|p| p.replicas.len())
        .unwrap_or(1)
        .max(1);
    let new = (total - current) as usize;
    if let Some(a) = assignments {
        if a.len() != new {
            return Err(CreatePartitionsError::InvalidReplicaAssignment(format!(
                "{} assignments for {new} new partitions",
                a.len()
            )));
        }
        if let Some(bad) = a
            .iter()
            .find(|r| r.len() != rf || r.iter().any(|b| !brokers.contains(b)))
        {
            return Err(CreatePartitionsError::InvalidReplicaAssignment(format!(
                "replicas {bad:?}: need {rf} live brokers out of {brokers:?}"
            )));
        }
    } else if rf > brokers.len() {
        return Err(CreatePartitionsError::InvalidReplicaAssignment(format!(
            "replication factor {rf} larger than the {} live brokers",
            brokers.len()
        )));
    }
    let mut records = Vec::with_capacity(new);
    for i in 0..new {
        let p = current + i as i32;
        let replicas: Vec<NodeId> = match assignments.and_then(|a| a.get(i)) {
            Some(r) => r.clone(),
            None => (0..rf)
                .filter_map(|r| brokers.get((p as usize + r) % brokers.len()).copied())
                .collect(),
        };
        records.push(MetadataRecord::Partition {
            topic_id: topic.id,
            partition: p,
            isr: replicas.clone(),
            leader: replicas.first().copied().unwrap_or(-1),
            replicas,
            leader_epoch: 0,
            partition_epoch: 0,
        });
    }
    Ok(records)
}

/// Records that delete a topic, or None if it does not exist.
pub fn delete_topic(image: &MetadataImage, name: &str) -> Option<Vec<MetadataRecord>> {
    image
        .topic(name)
        .map(|t| vec![MetadataRecord::RemoveTopic { topic_id: t.id }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, parts: i32, rf: i16) -> CreateTopic {
        CreateTopic {
            name: name.into(),
            num_partitions: parts,
            replication_factor: rf,
            assignments: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn creates_then_refuses_duplicates() {
        let mut img = MetadataImage::new();
        let recs = create_topic(&img, &[1], &req("t", 3, 1), TopicId([9; 16])).unwrap();
        assert_eq!(recs.len(), 4);
        for r in &recs {
            img.apply(r).unwrap();
        }
        assert_eq!(img.topic("t").unwrap().partitions.len(), 3);
        assert_eq!(
            create_topic(&img, &[1], &req("t", 3, 1), TopicId([8; 16])),
            Err(CreateTopicError::AlreadyExists("t".into()))
        );
    }

    #[test]
    fn partitions_only_increase() {
        let mut img = MetadataImage::new();
        for r in create_topic(&img, &[1], &req("t", 2, 1), TopicId([9; 16])).unwrap() {
            img.apply(&r).unwrap();
        }
        let recs = create_partitions(&img, &[1], "t", 5, None).unwrap();
        assert_eq!(recs.len(), 3);
        for r in &recs {
            img.apply(r).unwrap();
        }
        assert_eq!(img.topic("t").unwrap().partitions.len(), 5);
        assert!(matches!(
            create_partitions(&img, &[1], "t", 5, None),
            Err(CreatePartitionsError::InvalidPartitions {
                current: 5,
                requested: 5
            })
        ));
        assert!(matches!(
            create_partitions(&img, &[1], "nope", 9, None),
            Err(CreatePartitionsError::UnknownTopic(_))
        ));
        assert!(matches!(
            create_partitions(&img, &[1], "t", 6, Some(&[vec![7]])),
            Err(CreatePartitionsError::InvalidReplicaAssignment(_))
        ));
    }

    #[test]
    fn refuses_bad_requests() {
        let img = MetadataImage::new();
        let id = TopicId([1; 16]);
        assert!(matches!(
            create_topic(&img, &[1], &req("t", -5, 1), id),
            Err(CreateTopicError::InvalidPartitions(-5))
        ));
        assert!(matches!(
            create_topic(&img, &[1], &req("t", 1, 3), id),
            Err(CreateTopicError::InvalidReplicationFactor {
                requested: 3,
                available: 1
            })
        ));
        assert!(matches!(
            create_topic(&img, &[1], &req("bad/name", 1, 1), id),
            Err(CreateTopicError::InvalidName(_))
        ));
        let mut r = req("t", 1, 1);
        r.configs.insert("retention.ms".into(), "x".into());
        assert!(matches!(
            create_topic(&img, &[1], &r, id),
            Err(CreateTopicError::InvalidConfig(_))
        ));
    }
}
