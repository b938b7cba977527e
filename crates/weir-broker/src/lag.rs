//! Consumer-group lag as operators read it (Kafka's
//! `kafka-consumer-groups.sh --describe`): for each committed offset of a
//! partition this broker hosts, the high watermark minus the committed
//! offset, never below zero. `/metrics` and the console both use it.

use crate::broker::Broker;

/// One group partition's lag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// Group id.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset.
    pub committed: i64,
    /// High watermark.
    pub end: i64,
    /// `end - committed`, at least 0.
    pub lag: i64,
}

/// Lag of every committed offset of `groups` (all groups if `None`), by
/// group, topic and partition. Empty while the coordinator loads.
pub fn group_lags(broker: &Broker, groups: Option<&[String]>) -> Vec<PartitionLag> {
    if !broker.groups.is_ready() {
        return Vec::new();
    }
    let committed = broker.groups.read(|c| {
        let ids: Vec<String> = match groups {
            Some(g) => g.to_vec(),
            None => c.list(&[]).into_iter().map(|g| g.group_id).collect(),
        };
        ids.into_iter()
            .filter_map(|g| Some((c.fetch_offsets(&g).ok()?, g)))
            .collect::<Vec<_>>()
    });
    let mut out = Vec::new();
    for (offsets, group) in committed {
        for ((topic, partition), c) in offsets {
            let Some(p) = broker.logs.get(&topic, partition) else {
                continue;
            };
            let Ok((_, end)) = p.offsets() else { continue };
            out.push(PartitionLag {
                group: group.clone(),
                topic,
                partition,
                committed: c.offset,
                end,
                lag: (end - c.offset).max(0),
            });
        }
    }
    out
}
