//! OffsetFetch (key 9). v0-v7 ask for one group; v8+ for several
//! (`groups`). A partition without a committed offset answers offset -1,
//! no error, as Kafka does; `topics` null (v2+) asks for every committed
//! offset. With `require_stable` (v7+), a partition whose offset is held by
//! an open transaction (TxnOffsetCommit not yet committed or aborted)
//! answers UNSTABLE_OFFSET_COMMIT, and the client retries (Kafka's
//! behaviour; librdkafka asks for it under read_committed).

use std::sync::Arc;

use weir_group::{GroupError, OffsetMap};
use weir_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use weir_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};

use crate::broker::Broker;
use crate::errors::{ErrorCode, group_error_code};

/// (topic, [(partition, offset, leader epoch, metadata)]) for one group.
type Rows = Vec<(String, Vec<(i32, i64, i32, String)>)>;

fn rows(offsets: &OffsetMap, wanted: Option<Vec<(String, Vec<i32>)>>) -> Rows {
    match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(t, parts)| {
                let ps = parts
                    .into_iter()
                    .map(|p| match offsets.get(&(t.clone(), p)) {
                        Some(c) => (p, c.offset, c.leader_epoch, c.metadata.clone()),
                        None => (p, -1, -1, String::new()),
                    })
                    .collect();
                (t, ps)
            })
            .collect(),
        None => {
            let mut out: Rows = Vec::new();
            for ((t, p), c) in offsets {
                let row = (*p, c.offset, c.leader_epoch, c.metadata.clone());
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

/// UNSTABLE_OFFSET_COMMIT if `require_stable` and a transaction holds the
/// partition's offset, else 0.
fn unstable(broker: &Broker, require_stable: bool, group: &str, topic: &str, p: i32) -> i16 {
    if require_stable && broker.groups.has_pending_txn_offset(group, topic, p) {
        ErrorCode::UnstableOffsetCommit.code()
    } else {
        0
    }
}

fn fetch(broker: &Broker, group_id: &str) -> Result<OffsetMap, ErrorCode> {
    if !broker.groups.is_ready() {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    broker
        .groups
        .read(|c| c.fetch_offsets(group_id))
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
                match fetch(broker, &g.group_id) {
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
                                name: name.clone(),
                                partitions: ps
                                    .into_iter()
                                    .map(|(p, o, e, m)| OffsetFetchResponsePartitions {
                                        partition_index: p,
                                        committed_offset: o,
                                        committed_leader_epoch: e,
                                        metadata: Some(m),
                                        error_code: unstable(
                                            broker,
                                            req.require_stable,
                                            &g.group_id,
                                            &name,
                                            p,
                                        ),
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
    let (offsets, error) = match fetch(broker, &req.group_id) {
        Ok(o) => (o, ErrorCode::None),
        Err(code) => (OffsetMap::new(), code),
    };
    let stable = version >= REQUIRE_STABLE_MIN_VERSION && req.require_stable;
    // v0-v1 have no top-level error: it goes on every partition.
    let part_error = if version < 2 { error.code() } else { 0 };
    OffsetFetchResponse {
        error_code: error.code(),
        topics: rows(&offsets, wanted)
            .into_iter()
            .map(|(name, ps)| OffsetFetchResponseTopic {
                name: name.clone(),
                partitions: ps
                    .into_iter()
                    .map(|(p, o, e, m)| OffsetFetchResponsePartition {
                        partition_index: p,
                        committed_offset: o,
                        committed_leader_epoch: e,
                        metadata: Some(m),
                        error_code: match part_error {
                            0 => unstable(broker, stable, &req.group_id, &name, p),
                            code => code,
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
