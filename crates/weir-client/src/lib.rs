//! Weir's Kafka client: admin, producer and consumer over the Kafka wire
//! protocol, usable against Weir or any Kafka broker.
//!
//! * [`Connection`]: one TCP connection to one broker; pipelines requests,
//!   matches responses by correlation id, negotiates API versions with
//!   ApiVersions at connect (KIP-511 fallback included).
//! * [`Client`]: bootstrap, cluster metadata, leader lookup, one connection
//!   per broker. Shared by the three below.
//! * [`Admin`]: create, delete, list and describe topics.
//! * [`Producer`]: partitioning (the Java client's murmur2 for keys, see
//!   [`partitioner`]), per-partition batching, acks, bounded retries.
//! * [`Consumer`]: manually assigned partitions, seeks, fetch long-polls.
//! * [`group`]: consumer groups: the coordinator lookup, [`GroupAdmin`]
//!   (list, describe, committed offsets, resets, deletes) and a minimal
//!   classic-protocol [`GroupMember`].
//!
//! Depends only on `weir-types` and `weir-protocol`; never on the broker.

pub mod admin;
pub mod client;
pub mod connection;
pub mod consumer;
pub mod error;
mod frame;
pub mod group;
pub mod partitioner;
pub mod producer;
pub mod record_set;
pub mod versions;

pub use admin::{Admin, ConfigEntry, CreatedTopic, NewTopic, TopicDescription, TopicListing};
pub use client::{Client, ClientConfig, PartitionMetadata, TopicMetadata};
pub use connection::{Connection, ConnectionTimeouts};
pub use consumer::{Consumer, ConsumerConfig, IsolationLevel, OffsetReset, OffsetSpec};
pub use error::{ClientError, error_name};
pub use group::{
    CommittedOffset, Coordinator, GroupAdmin, GroupDescription, GroupListing, GroupMember,
    GroupMemberConfig, GroupMemberDescription,
};
pub use producer::{
    Acks, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
pub use record_set::ConsumerRecord;
pub use weir_protocol::api::ApiKey;
pub use weir_protocol::codec::Uuid;
/// The generated Kafka message types, for sending requests directly on a
/// [`Connection`].
pub use weir_protocol::messages;
pub use weir_protocol::record_batch::TimestampType;
pub use weir_protocol::records::RecordHeader;
pub use weir_types::TopicPartition;
