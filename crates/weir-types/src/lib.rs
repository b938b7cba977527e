//! Small shared vocabulary types: node ids, topic ids, topic-partitions.
//!
//! Kept dependency-free so every crate can use it.

use std::fmt;

/// A broker (node) id, Kafka's `node.id` / `broker.id`.
pub type NodeId = i32;

/// A 128-bit topic id, Kafka's `Uuid`. The all-zero id means "no id".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TopicId(pub [u8; 16]);

impl TopicId {
    /// The zero id (Kafka's `Uuid.ZERO_UUID`), sent by clients that address topics by name.
    pub const ZERO: TopicId = TopicId([0; 16]);

    /// Whether this is the zero id.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Lower-case hex, used in file names and JSON.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parse the form written by [`TopicId::to_hex`].
    pub fn from_hex(s: &str) -> Option<TopicId> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(TopicId(out))
    }
}

impl fmt::Debug for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicId({})", self.to_hex())
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A topic name and partition index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index, from 0.
    pub partition: i32,
}

impl TopicPartition {
    /// Build from parts.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_id_hex_round_trip() {
        let id = TopicId([0xab; 16]);
        assert_eq!(TopicId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(TopicId::from_hex("zz"), None);
        assert!(TopicId::ZERO.is_zero());
    }
}
