//! The consumer, for manually assigned partitions (no groups yet).
//!
//! Each assigned partition has a *position*: the offset of the next record
//! to return. A position is unknown until a seek resolves it: an explicit
//! offset is taken as is; earliest, latest and by-timestamp are looked up
//! with ListOffsets at the partition's leader. Partitions without a
//! position or seek use `auto_offset_reset`, as the Java client does.
//!
//! [`Consumer::poll`] sends one Fetch per leader broker (all at once) for
//! every partition with a position, waits up to `max_wait` for `min_bytes`,
//! decodes the batches (see [`crate::record_set`]) and advances positions.
//! On OFFSET_OUT_OF_RANGE the position is reset with `auto_offset_reset`;
//! on errors that mean stale metadata the topic is looked up again.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use weir_protocol::api::ApiKey;
use weir_protocol::codec::Uuid;
use weir_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use weir_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use weir_protocol::messages::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
};
use weir_types::TopicPartition;

use crate::client::Client;
use crate::error::{ClientError, OFFSET_OUT_OF_RANGE, check_code};
use crate::record_set::{ConsumerRecord, decode_record_set};

/// ListOffsets' timestamp for the log-start offset.
const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets' timestamp for the log-end offset (high watermark).
const LATEST_TIMESTAMP: i64 = -1;
/// Fetch v13 is the first that names topics by id.
const FETCH_TOPIC_IDS_VERSION: i16 = 13;

/// Where to start reading a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log-start offset.
    Earliest,
    /// The high watermark: only records produced from now on.
    Latest,
    /// This offset.
    Offset(i64),
    /// The first offset whose timestamp is at or after this time (ms);
    /// the end of the log if there is none.
    Timestamp(i64),
}

/// What to do when a partition has no position, or its position is out of
/// range (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// Start at the log-start offset.
    Earliest,
    /// Start at the end.
    Latest,
    /// Fail the poll with OFFSET_OUT_OF_RANGE.
    None,
}

/// Which records a fetch may return (`isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Everything up to the high watermark.
    ReadUncommitted,
    /// Up to the last stable offset (aborted records are still returned:
    /// transactions are not implemented yet).
    ReadCommitted,
}

/// Consumer settings, named after the Java client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `fetch.max.wait.ms`.
    pub max_wait: Duration,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes` (kept below the connection's response frame bound).
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub partition_max_bytes: i32,
    /// `isolation.level`.
    pub isolation_level: IsolationLevel,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `retry.backoff.ms`: pause after a round that only found errors.
    pub retry_backoff: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            isolation_level: IsolationLevel::ReadUncommitted,
            auto_offset_reset: OffsetReset::Latest,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

const _: () = assert!(
    50 * 1024 * 1024 < crate::connection::RESPONSE_FRAME_MAX_BYTES,
    "default fetch.max.bytes must fit a response frame"
);

#[derive(Debug, Clone, Default)]
struct PartitionState {
    position: Option<i64>,
    seek: Option<OffsetSpec>,
    high_watermark: Option<i64>,
}

/// A consumer of manually assigned partitions.
#[derive(Debug)]
pub struct Consumer {
    client: Arc<Client>,
    config: ConsumerConfig,
    partitions: BTreeMap<TopicPartition, PartitionState>,
}

impl Consumer {
    /// A consumer over `client` with nothing assigned.
    pub fn new(client: Arc<Client>, config: ConsumerConfig) -> Consumer {
        Consumer {
            client,
            config,
            partitions: BTreeMap::new(),
        }
    }

    /// Replace the assignment. Partitions that stay keep their position.
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let mut next = BTreeMap::new();
        for tp in partitions {
            let state = self.partitions.remove(&tp).unwrap_or_default();
            next.insert(tp, state);
        }
        self.partitions = next;
    }

    /// Assign every partition of `topic` (which must exist); returns them.
    pub async fn assign_topic(&mut self, topic: &str) -> Result<Vec<TopicPartition>, ClientError> {
        let meta = self.client.topic(topic, false).await?;
        let tps: Vec<TopicPartition> = meta
            .partitions
            .iter()
            .map(|p| TopicPartition::new(topic, p.partition))
            .collect();
        let mut all: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        all.extend(tps.iter().cloned());
        self.assign(all);
        Ok(tps)
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.partitions.keys().cloned().collect()
    }

    /// Set where `tp` is read from next; resolved on the next poll.
    pub fn seek(&mut self, tp: &TopicPartition, spec: OffsetSpec) -> Result<(), ClientError> {
        let state = self
            .partitions
            .get_mut(tp)
            .ok_or_else(|| ClientError::NotAssigned {
                topic: tp.topic.clone(),
                partition: tp.partition,
            })?;
        match spec {
            OffsetSpec::Offset(o) if o >= 0 => {
                state.position = Some(o);
                state.seek = None;
            }
            // A negative offset means "not set": fall back to the reset policy.
            OffsetSpec::Offset(_) => {
                state.position = None;
                state.seek = None;
            }
            other => {
                state.position = None;
                state.seek = Some(other);
            }
        }
        Ok(())
    }

    /// Seek every assigned partition.
    pub fn seek_all(&mut self, spec: OffsetSpec) {
        let tps = self.assignment();
        for tp in &tps {
            // Every tp is assigned, so this cannot fail.
            let _ = self.seek(tp, spec);
        }
    }

    /// The offset of the next record `poll` returns for `tp`, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|s| s.position)
    }

    /// The high watermark of `tp` seen in the last fetch.
    pub fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|s| s.high_watermark)
    }

    /// Look up offsets with ListOffsets (any partitions, assigned or not).
    /// `OffsetSpec::Offset(o)` answers `o` without asking.
    pub async fn list_offsets(
        &self,
        specs: &[(TopicPartition, OffsetSpec)],
    ) -> Result<Vec<(TopicPartition, Result<i64, ClientError>)>, ClientError> {
        let mut out: Vec<(TopicPartition, Result<i64, ClientError>)> = Vec::new();
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        for (tp, spec) in specs {
            let timestamp = match *spec {
                OffsetSpec::Offset(o) => {
                    out.push((tp.clone(), Ok(o)));
                    continue;
                }
                OffsetSpec::Earliest => EARLIEST_TIMESTAMP,
                OffsetSpec::Latest => LATEST_TIMESTAMP,
                OffsetSpec::Timestamp(t) => t,
            };
            match self.client.leader(&tp.topic, tp.partition, false).await {
                Ok(leader) => by_leader
                    .entry(leader)
                    .or_default()
                    .push((tp.clone(), timestamp)),
                Err(e) => out.push((tp.clone(), Err(e))),
            }
        }
        for (leader, wanted) in by_leader {
            match self.list_offsets_at(leader, &wanted).await {
                Ok(results) => out.extend(results),
                Err(e) => out.extend(wanted.into_iter().map(|(tp, _)| (tp, Err(e.clone())))),
            }
        }
        Ok(out)
    }

    async fn list_offsets_at(
        &self,
        leader: i32,
        wanted: &[(TopicPartition, i64)],
    ) -> Result<Vec<(TopicPartition, Result<i64, ClientError>)>, ClientError> {
        let conn = self.client.broker_connection(leader).await?;
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (tp, timestamp) in wanted {
            let p = ListOffsetsPartition {
                partition_index: tp.partition,
                current_leader_epoch: -1,
                timestamp: *timestamp,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.name == tp.topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(ListOffsetsTopic {
                    name: tp.topic.clone(),
                    partitions: vec![p],
                    ..Default::default()
                }),
            }
        }
        let req = ListOffsetsRequest {
            replica_id: -1,
            isolation_level: self.isolation_level(),
            topics,
            timeout_ms: i32::try_from(self.client.config().timeouts.request.as_millis())
                .unwrap_or(i32::MAX),
            ..Default::default()
        };
        let (_, resp): (i16, ListOffsetsResponse) = conn.send(&req).await?;
        Ok(wanted
            .iter()
            .map(|(tp, _)| {
                let found = resp
                    .topics
                    .iter()
                    .filter(|t| t.name == tp.topic)
                    .flat_map(|t| t.partitions.iter())
                    .find(|p| p.partition_index == tp.partition);
                let result = match found {
                    None => Err(ClientError::UnexpectedResponse(
                        "partition missing from ListOffsets response",
                    )),
                    Some(p) => check_code(p.error_code, None).map(|()| p.offset),
                };
                (tp.clone(), result)
            })
            .collect())
    }

    fn isolation_level(&self) -> i8 {
        match self.config.isolation_level {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }

    /// Resolve pending seeks and missing positions. Returns whether a
    /// retriable error left some unresolved.
    async fn resolve_positions(&mut self) -> Result<bool, ClientError> {
        let mut specs = Vec::new();
        for (tp, state) in &self.partitions {
            if state.position.is_some() {
                continue;
            }
            let spec = match (state.seek, self.config.auto_offset_reset) {
                (Some(spec), _) => spec,
                (None, OffsetReset::Earliest) => OffsetSpec::Earliest,
                (None, OffsetReset::Latest) => OffsetSpec::Latest,
                (None, OffsetReset::None) => {
                    return Err(ClientError::kafka(
                        OFFSET_OUT_OF_RANGE,
                        Some(format!(
                            "no position for {tp} and auto offset reset is none"
                        )),
                    ));
                }
            };
            specs.push((tp.clone(), spec));
        }
        if specs.is_empty() {
            return Ok(false);
        }
        let mut retry = false;
        for (tp, result) in self.list_offsets(&specs).await? {
            let Some(state) = self.partitions.get_mut(&tp) else {
                continue;
            };
            match result {
                // No record at or after the timestamp: read from the end.
                Ok(-1) if matches!(state.seek, Some(OffsetSpec::Timestamp(_))) => {
                    state.seek = Some(OffsetSpec::Latest);
                    retry = true;
                }
                Ok(offset) if offset >= 0 => {
                    state.position = Some(offset);
                    state.seek = None;
                }
                Ok(_) => retry = true,
                Err(e) if e.is_retriable() => {
                    if e.needs_metadata_refresh() {
                        self.client.invalidate_topic(&tp.topic);
                    }
                    retry = true;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(retry)
    }

    /// Wait up to `timeout` for records and return those fetched (possibly
    /// none). Returns as soon as one fetch round returns records.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut backoff = self.resolve_positions().await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (records, fetch_backoff) = self
                .fetch_round(self.config.max_wait.min(remaining))
                .await?;
            if !records.is_empty() {
                return Ok(records);
            }
            backoff |= fetch_backoff;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(records);
            }
            if backoff {
                tokio::time::sleep(self.config.retry_backoff.min(remaining)).await;
            }
        }
    }

    /// One Fetch per leader for every partition with a position. Returns
    /// the records and whether a retriable error was seen.
    async fn fetch_round(
        &mut self,
        max_wait: Duration,
    ) -> Result<(Vec<ConsumerRecord>, bool), ClientError> {
        let mut backoff = false;
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        let fetchable: Vec<(TopicPartition, i64)> = self
            .partitions
            .iter()
            .filter_map(|(tp, s)| s.position.map(|p| (tp.clone(), p)))
            .collect();
        if fetchable.is_empty() {
            tokio::time::sleep(max_wait).await;
            return Ok((Vec::new(), false));
        }
        for (tp, position) in fetchable {
            match self.client.leader(&tp.topic, tp.partition, false).await {
                Ok(leader) => by_leader.entry(leader).or_default().push((tp, position)),
                Err(e) if e.is_retriable() => backoff = true,
                Err(e) => return Err(e),
            }
        }
        let mut tasks = JoinSet::new();
        for (leader, wanted) in by_leader {
            let client = self.client.clone();
            let config = self.config.clone();
            let isolation_level = self.isolation_level();
            tasks.spawn(async move {
                let result =
                    fetch_from(&client, &config, isolation_level, leader, &wanted, max_wait).await;
                (wanted, result)
            });
        }
        let mut records = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((wanted, result)) = joined else {
                continue;
            };
            let resp = match result {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    backoff = true;
                    for (tp, _) in &wanted {
                        self.client.invalidate_topic(&tp.topic);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            backoff |= self.apply_fetch(resp, &mut records)?;
        }
        Ok((records, backoff))
    }

    /// Apply one Fetch response: decode records and move positions.
    fn apply_fetch(
        &mut self,
        resp: FetchedResponse,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<bool, ClientError> {
        check_code(resp.response.error_code, None)?;
        let mut backoff = false;
        for t in resp.response.responses {
            let topic = if resp.version >= FETCH_TOPIC_IDS_VERSION {
                match resp.names.iter().find(|(id, _)| *id == t.topic_id) {
                    Some((_, name)) => name.clone(),
                    None => continue,
                }
            } else {
                t.topic
            };
            for p in t.partitions {
                let tp = TopicPartition::new(topic.clone(), p.partition_index);
                let Some(state) = self.partitions.get_mut(&tp) else {
                    continue;
                };
                let Some(position) = state.position else {
                    continue;
                };
                match p.error_code {
                    0 => {}
                    OFFSET_OUT_OF_RANGE => {
                        tracing::info!(%tp, position, "offset out of range; resetting");
                        state.position = None;
                        state.seek = None;
                        continue;
                    }
                    code => {
                        let e = ClientError::kafka(code, None);
                        if !e.is_retriable() {
                            return Err(e);
                        }
                        if e.needs_metadata_refresh() {
                            self.client.invalidate_topic(&tp.topic);
                        }
                        backoff = true;
                        continue;
                    }
                }
                state.high_watermark = Some(p.high_watermark);
                let Some(set) = p.records else { continue };
                let decoded = decode_record_set(&tp.topic, tp.partition, &set, position)?;
                state.position = Some(decoded.next_offset);
                out.extend(decoded.records);
            }
        }
        Ok(backoff)
    }
}

struct FetchedResponse {
    version: i16,
    response: FetchResponse,
    /// Topic ids sent in the request (v13+), to name the response's topics.
    names: Vec<(Uuid, String)>,
}

async fn fetch_from(
    client: &Client,
    config: &ConsumerConfig,
    isolation_level: i8,
    leader: i32,
    wanted: &[(TopicPartition, i64)],
    max_wait: Duration,
) -> Result<FetchedResponse, ClientError> {
    let conn = client.broker_connection(leader).await?;
    let version = conn.version(ApiKey::Fetch)?;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, position) in wanted {
        let topic_id = if version >= FETCH_TOPIC_IDS_VERSION {
            client.topic(&tp.topic, false).await?.topic_id
        } else {
            Uuid::ZERO
        };
        let p = FetchPartition {
            partition: tp.partition,
            current_leader_epoch: -1,
            fetch_offset: *position,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: config.partition_max_bytes,
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.topic == tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(FetchTopic {
                topic: tp.topic.clone(),
                topic_id,
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    let max_wait_ms = i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX);
    let names = topics
        .iter()
        .map(|t| (t.topic_id, t.topic.clone()))
        .collect();
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: config.min_bytes,
        max_bytes: config.max_bytes,
        isolation_level,
        // No fetch session: a full fetch every time (epoch -1).
        session_id: 0,
        session_epoch: -1,
        topics,
        ..Default::default()
    };
    let response = conn.send_version(version, &req, max_wait).await?;
    Ok(FetchedResponse {
        version,
        response,
        names,
    })
}
