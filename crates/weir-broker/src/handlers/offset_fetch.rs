//! OffsetFetch (key 9). v0-v7 ask for one group; v8+ for several
//! (`groups`). A partition without a committed offset answers offset -1,
//! no error, as Kafka does; `topics` null (v2+) asks for every committed
//! offset. With `require_stable` (v7+), a partition whose offset is held by
//! an open transaction (TxnOffsetCommit not yet committed or aborted)
//! answers UNSTABLE_OFFSET_COMMIT with offset -1, and the client retries
//! (Kafka's `OffsetMetadataManager.fetchOffsets`; librdkafka asks for it
//! under read_committed). The offsets and the pending set are read under one
//! lock, so a marker landing in between cannot make a stale offset look
//! stable.

use std::collections::BTreeSet;
use std::sync::Arc;

use weir_group::{GroupError, OffsetMap};
use weir_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use weir_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code};

/// One partition's answer: (partition, offset, leader epoch, metadata,
/// error code).
type Row = (i32, i64, i32, String, i16);
/// (topic, rows) for one group.
type Rows = Vec<(String, Vec<Row>)>;

/// One group's committed offsets and, if the request requires stable
/// offsets, the partitions open transactions hold offsets for.
struct GroupOffsets {
    committed: OffsetMap,
    unstable: BTreeSet<(String, i32)>,
}

impl GroupOffsets {
    fn row(&self, topic: &str, p: i32) -> Row {
        let key = (topic.to_string(), p);
        if self.unstable.contains(&key) {
            return (
                p,
                -1,
                -1,
                String::new(),
                ErrorCode::UnstableOffsetCommit.code(),
            );
        }
        match self.committed.get(&key) {
            Some(c) => (p, c.offset, c.leader_epoch, c.metadata.clone(), 0),
            None => (p, -1, -1, String::new(), 0),
        }
    }
}

fn rows(offsets: &GroupOffsets, wanted: Option<Vec<(String, Vec<i32>)>>) -> Rows {
    match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(t, parts)| {
                let ps = parts.into_iter().map(|p| offsets.row(&t, p)).collect();
                (t, ps)
            })
            .collect(),
        None => {
            let mut out: Rows = Vec::new();
            for (t, p) in offsets.committed.keys() {
                let row = offsets.row(t, *p);
                match out.last_mut() {
                    Some((last, ps)) if last == t => ps.push(row),
                    _ => out.push((t.clone(), vec![row])),
                }
            }
            out
        }
    }
}

/// First version carrying `require_stable`.
const REQUIRE_STABLE_MIN_VERSION: i16 = 7;

fn fetch(broker: &Broker, group_id: &str, require_stable: bool) -> Result<GroupOffsets, ErrorCode> {
    if !broker.groups.is_ready() {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    broker
        .groups
        .read(|c| {
            Ok(GroupOffsets {
                committed: c.fetch_offsets(group_id)?,
                unstable: if require_stable {
                    c.pending_txn_partitions(group_id)
                } else {
                    BTreeSet::new()
                },
            })
        })
        .map_err(|e: GroupError| group_error_code(&e))
}

/// Answer an OffsetFetch request.
pub fn handle(broker: &Arc<Broker>, version: i16, req: OffsetFetchRequest) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                match fetch(broker, &g.group_id, req.require_stable) {
                    Err(code) => OffsetFetchResponseGroup {
                        group_id: g.group_id,
                        error_code: code.code(),
                        ..Default::default()
                    },
                    Ok(offsets) => OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        topics: rows(&offsets, wanted)
                            .into_iter()
                            .map(|(name, ps)| OffsetFetchResponseTopics {
                                name,
                                partitions: ps
                                    .into_iter()
                                    .map(|(p, o, e, m, code)| OffsetFetchResponsePartitions {
                                        partition_index: p,
                                        committed_offset: o,
                                        committed_leader_epoch: e,
                                        metadata: Some(m),
                                        error_code: code,
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let wanted = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect::<Vec<_>>()
    });
    let stable = version >= REQUIRE_STABLE_MIN_VERSION && req.require_stable;
    let (offsets, error) = match fetch(broker, &req.group_id, stable) {
        Ok(o) => (o, ErrorCode::None),
        Err(code) => (
            GroupOffsets {
                committed: OffsetMap::new(),
                unstable: BTreeSet::new(),
            },
            code,
        ),
    };
    // v0-v1 have no top-level error: it goes on every partition.
    let part_error = if version < 2 { error.code() } else { 0 };
    OffsetFetchResponse {
        error_code: error.code(),
        topics: rows(&offsets, wanted)
            .into_iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name,
                partitions: ps
                    .into_iter()
                    .map(|(p, o, e, m, code)| OffsetFetchResponsePartition {
                        partition_index: p,
                        committed_offset: o,
                        committed_leader_epoch: e,
                        metadata: Some(m),
                        error_code: if part_error != 0 { part_error } else { code },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_group::Committed;

    #[test]
    fn unstable_partitions_answer_no_offset() {
        let committed = |offset| Committed {
            offset,
            leader_epoch: 2,
            metadata: "m".into(),
            commit_timestamp_ms: 0,
        };
        let offsets = GroupOffsets {
            committed: OffsetMap::from([
                (("t".to_string(), 0), committed(5)),
                (("t".to_string(), 1), committed(6)),
            ]),
            unstable: BTreeSet::from([("t".to_string(), 1), ("t".to_string(), 2)]),
        };
        let unstable = ErrorCode::UnstableOffsetCommit.code();
        let want = vec![(
            "t".to_string(),
            vec![
                (0, 5, 2, "m".to_string(), 0),
                (1, -1, -1, String::new(), unstable),
                (2, -1, -1, String::new(), unstable),
                (3, -1, -1, String::new(), 0),
            ],
        )];
        assert_eq!(
            rows(&offsets, Some(vec![("t".into(), vec![0, 1, 2, 3])])),
            want
        );
        // All partitions: those with a committed offset.
        assert_eq!(
            rows(&offsets, None),
            vec![(
                "t".to_string(),
                vec![
                    (0, 5, 2, "m".to_string(), 0),
                    (1, -1, -1, String::new(), unstable)
                ]
            )]
        );
    }
}
