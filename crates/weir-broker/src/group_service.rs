//! The group coordinator's driver: owns the pure [`GroupCoordinator`],
//! appends its records to `__consumer_offsets`, answers parked
//! JoinGroup/SyncGroup requests once those records are durable, and fires
//! its timers.
//!
//! Ordering: the coordinator mutex is held while a call runs *and* while its
//! records are appended (page-cache writes), so the log holds records in
//! the order the state changed and replay rebuilds the same state. The
//! fsync wait and the answers happen after the mutex is released.
//!
//! A failed append (the partition went offline after a failed fsync) is
//! logged; direct answers (OffsetCommit, DeleteGroups, ...) report it, and
//! parked answers are sent anyway because the in-memory state already moved
//! on; the broker cannot serve that partition again until restarted.
//!
//! Transactional offsets (TxnOffsetCommit, [`Effect::PersistTxn`]) are the
//! exception: the append may be refused for a stale producer epoch, which is
//! a normal answer, so the coordinator only takes them (as pending offsets,
//! through `replay_txn`) once the batch is in the log. A transaction's
//! marker in `__consumer_offsets` then commits or drops them
//! ([`GroupService::append_marker`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{Notify, oneshot};
use weir_group::{
    Effect, GroupConfig, GroupCoordinator, GroupRecord, Outcome, RequestId, Response,
};
use weir_metadata::topics::CreateTopic;
use weir_protocol::control::Marker;
use weir_protocol::record_batch::BatchHeader;
use weir_protocol::records::BatchBuilder;
use weir_storage::AppendInfo;

use crate::broker::{Broker, TopicOpError, now_ms};
use crate::partition::{AppendError, Partition};
use crate::replay::Item;

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// The timer task wakes at least this often even without deadlines.
const TIMER_MAX_SLEEP_MS: i64 = 5_000;

/// Kafka's `Utils.abs(groupId.hashCode()) % partitions`, with Java's
/// `String.hashCode` over UTF-16 code units, so a group lands on the same
/// partition as in Kafka.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group_id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// Why a group write failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// `__consumer_offsets` is not open.
    #[error("__consumer_offsets partition {0} is not available")]
    Unavailable(i32),
    /// The append or fsync failed.
    #[error(transparent)]
    Storage(#[from] weir_storage::StorageError),
    /// A record could not be encoded.
    #[error(transparent)]
    Record(#[from] weir_group::RecordError),
    /// A transactional batch was refused (stale producer epoch).
    #[error(transparent)]
    Append(#[from] crate::partition::AppendError),
}

/// Why the coordinator could not start.
#[derive(Debug, thiserror::Error)]
pub enum GroupStartError {
    /// Creating `__consumer_offsets` failed.
    #[error("creating __consumer_offsets: {0}")]
    CreateTopic(#[from] TopicOpError),
    /// Reading it back failed.
    #[error("replaying __consumer_offsets: {0}")]
    Storage(#[from] weir_storage::StorageError),
}

struct Inner {
    coordinator: GroupCoordinator,
    next_request: RequestId,
    parked: HashMap<RequestId, oneshot::Sender<Response>>,
}

/// The coordinator and its driver state.
pub struct GroupService {
    inner: Mutex<Inner>,
    timer: Notify,
    partitions: AtomicI32,
}

/// A direct call's result, available once its records are durable.
pub struct Waiting<T> {
    result: T,
    pending: Pending,
}

impl<T> Waiting<T> {
    /// The result of a call that wrote nothing (a heartbeat).
    pub fn into_result(self) -> T {
        debug_assert!(self.pending.durable.is_empty() && self.pending.answers.is_empty());
        self.result
    }

    /// Wait for durability; the result, or why the write failed.
    pub async fn wait(self) -> Result<T, PersistError> {
        match finish(self.pending).await {
            Some(e) => Err(e),
            None => Ok(self.result),
        }
    }
}

/// A parked request's answer, to come.
pub struct Parked {
    pending: Pending,
    rx: oneshot::Receiver<Response>,
}

impl Parked {
    /// Wait for the answer (`None` only if the coordinator dropped it).
    pub async fn wait(self) -> Option<Response> {
        if let Some(e) = finish(self.pending).await {
            tracing::error!(error = %e, "group metadata write failed");
        }
        self.rx.await.ok()
    }
}

/// What one call left to do after the mutex is released.
struct Pending {
    durable: Vec<(Arc<Partition>, i64)>,
    answers: Vec<(oneshot::Sender<Response>, Response)>,
    failed: Option<PersistError>,
}

impl GroupService {
    /// A coordinator with no groups; [`GroupService::start`] loads them.
    pub fn new(config: GroupConfig, id_seed: u64) -> Self {
        GroupService {
            inner: Mutex::new(Inner {
                coordinator: GroupCoordinator::new(config, id_seed),
                next_request: 1,
                parked: HashMap::new(),
            }),
            timer: Notify::new(),
            partitions: AtomicI32::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The coordinator is only mutated through whole calls; a panic in
        // one leaves it as the last call left it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the coordinator has loaded and serves groups.
    pub fn is_ready(&self) -> bool {
        self.partitions.load(Ordering::Acquire) > 0
    }

    /// Create `__consumer_offsets` if missing, replay it, start the timers.
    pub async fn start(broker: &Arc<Broker>) -> Result<(), GroupStartError> {
        if broker.image().topic(OFFSETS_TOPIC).is_none() {
            let configs = BTreeMap::from([
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("segment.bytes".to_string(), "104857600".to_string()),
            ]);
            let req = CreateTopic {
                name: OFFSETS_TOPIC.to_string(),
                num_partitions: broker.config.offsets_topic_num_partitions,
                replication_factor: 1,
                assignments: BTreeMap::new(),
                configs,
            };
            if let Some(Err(e)) = broker.create_topics(vec![req], false).await.pop() {
                return Err(e.into());
            }
        }
        let count = broker
            .image()
            .topic(OFFSETS_TOPIC)
            .map(|t| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX))
            .unwrap_or(0);
        let service = &broker.groups;
        let mut loaded = 0usize;
        {
            let mut inner = service.lock();
            for index in 0..count {
                let Some(p) = broker.logs.get(OFFSETS_TOPIC, index) else {
                    continue;
                };
                loaded += replay_partition(&p, count, &mut inner.coordinator)?;
            }
            inner.coordinator.finish_replay(now_ms());
        }
        service.partitions.store(count, Ordering::Release);
        tracing::info!(
            partitions = count,
            records = loaded,
            "group coordinator loaded"
        );
        tokio::spawn(timer_loop(broker.clone()));
        Ok(())
    }

    /// Run a direct call now (in request order); the returned [`Waiting`]
    /// yields its result once its records are durable.
    pub fn call<T>(
        &self,
        broker: &Broker,
        group_id: &str,
        op: impl FnOnce(&mut GroupCoordinator, i64) -> Outcome<T>,
    ) -> Waiting<T> {
        let waiting = {
            let mut inner = self.lock();
            let before = snapshot(&inner.coordinator, group_id);
            let out = op(&mut inner.coordinator, now_ms());
            log_change(group_id, &before, &snapshot(&inner.coordinator, group_id));
            Waiting {
                result: out.result,
                pending: self.apply(broker, &mut inner, out.effects),
            }
        };
        self.timer.notify_one();
        waiting
    }

    /// Run a call whose answer may come later (JoinGroup, SyncGroup) now,
    /// in request order; the returned [`Parked`] yields the answer.
    pub fn park(
        &self,
        broker: &Broker,
        group_id: &str,
        op: impl FnOnce(&mut GroupCoordinator, RequestId, i64) -> Vec<Effect>,
    ) -> Parked {
        let (tx, rx) = oneshot::channel();
        let pending = {
            let mut inner = self.lock();
            let id = inner.next_request;
            inner.next_request = inner.next_request.wrapping_add(1);
            inner.parked.insert(id, tx);
            let before = snapshot(&inner.coordinator, group_id);
            let effects = op(&mut inner.coordinator, id, now_ms());
            log_change(group_id, &before, &snapshot(&inner.coordinator, group_id));
            self.apply(broker, &mut inner, effects)
        };
        self.timer.notify_one();
        Parked { pending, rx }
    }

    /// A read-only look at the coordinator.
    pub fn read<T>(&self, f: impl FnOnce(&GroupCoordinator) -> T) -> T {
        f(&self.lock().coordinator)
    }

    fn apply(&self, broker: &Broker, inner: &mut Inner, effects: Vec<Effect>) -> Pending {
        let mut pending = Pending {
            durable: Vec::new(),
            answers: Vec::new(),
            failed: None,
        };
        for e in effects {
            match e {
                Effect::PersistTxn {
                    group_id,
                    producer_id,
                    producer_epoch,
                    records,
                } => {
                    match self.append(
                        broker,
                        &group_id,
                        Some((producer_id, producer_epoch)),
                        &records,
                    ) {
                        Ok(d) => {
                            // In the log: now the offsets are pending, in
                            // log order as the mutex is still held.
                            for r in records {
                                inner.coordinator.replay_txn(producer_id, r);
                            }
                            pending.durable.push(d);
                        }
                        Err(err) => {
                            tracing::info!(group = %group_id, producer_id, error = %err, "transactional offset commit refused");
                            pending.failed = Some(err);
                        }
                    }
                }
                Effect::Persist { group_id, records } => {
                    match self.append(broker, &group_id, None, &records) {
                        Ok(d) => pending.durable.push(d),
                        Err(err) => {
                            tracing::error!(group = %group_id, error = %err, "appending group records failed");
                            pending.failed = Some(err);
                        }
                    }
                }
                Effect::Respond(id, response) => {
                    if let Some(tx) = inner.parked.remove(&id) {
                        pending.answers.push((tx, response));
                    }
                }
            }
        }
        pending
    }

    /// Append `records` to the group's partition as one batch; with
    /// `producer` (id, epoch) as a transactional batch of that producer
    /// (TxnOffsetCommit), checked against its epoch.
    fn append(
        &self,
        broker: &Broker,
        group_id: &str,
        producer: Option<(i64, i16)>,
        records: &[GroupRecord],
    ) -> Result<(Arc<Partition>, i64), PersistError> {
        let index = partition_for(group_id, self.partitions.load(Ordering::Acquire));
        let partition = broker
            .logs
            .get(OFFSETS_TOPIC, index)
            .ok_or(PersistError::Unavailable(index))?;
        let now = now_ms();
        let mut batch = BatchBuilder::new(now);
        if let Some((id, epoch)) = producer {
            batch.producer(id, epoch, -1).transactional(true);
        }
        for r in records {
            let (key, value) = r.encode()?;
            batch.push(Some(&key), value.as_deref(), &[], now);
        }
        let bytes = batch.build();
        let info = match producer {
            None => partition.append(BytesMut::from(&bytes[..]), None, now)?,
            Some(_) => {
                let header = BatchHeader::parse(&bytes).map_err(|e| {
                    PersistError::Storage(weir_storage::StorageError::InvalidBatch(e))
                })?;
                partition.append_coordinator_batch(BytesMut::from(&bytes[..]), &header, now)?
            }
        };
        broker.data_appended.notify_waiters();
        Ok((partition, info.last_offset + 1))
    }
}

impl GroupService {
    /// Append a transaction marker to `__consumer_offsets` partition `p`
    /// and commit or drop the producer's pending offsets there, both under
    /// the coordinator mutex. TxnOffsetCommit batches are appended under it
    /// too, so none can land between the marker and its completion: the
    /// marker ends exactly the offsets before it in the log, as replay will
    /// see it.
    pub fn append_marker(
        &self,
        p: &Partition,
        marker: &Marker,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let count = self.partitions.load(Ordering::Acquire);
        let mut inner = self.lock();
        let info = p.append_marker(marker, now_ms)?;
        inner
            .coordinator
            .complete_txn(marker.producer_id, marker.commit, &|g| {
                partition_for(g, count) == p.index
            });
        Ok(info)
    }

    /// Whether an open transaction holds an offset of this group partition.
    /// To answer together with the committed offsets, read both in one
    /// [`GroupService::read`] (`pending_txn_partitions`), as OffsetFetch does.
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        self.lock()
            .coordinator
            .has_pending_txn_offset(group_id, topic, partition)
    }
}

/// Wait for durability, then send the parked answers.
async fn finish(pending: Pending) -> Option<PersistError> {
    let mut failed = pending.failed;
    for (p, end) in pending.durable {
        if let Err(e) = p.wait_durable(end).await {
            tracing::error!(error = %e, "fsync of __consumer_offsets failed");
            failed = Some(e.into());
        }
    }
    for (tx, response) in pending.answers {
        let _ = tx.send(response);
    }
    failed
}

/// What the membership log lines compare: (state, generation, member ids).
type Snapshot = Option<(String, i32, Vec<String>)>;

fn snapshot(c: &GroupCoordinator, group_id: &str) -> Snapshot {
    let d = c.describe(group_id).ok()?;
    Some((
        d.state,
        c.generation(group_id).unwrap_or(-1),
        d.members.into_iter().map(|m| m.member_id).collect(),
    ))
}

/// Log a group's state, generation or membership change, as Kafka's
/// coordinator does at INFO.
fn log_change(group_id: &str, before: &Snapshot, after: &Snapshot) {
    if before == after {
        return;
    }
    let Some((state, generation, members)) = after else {
        tracing::info!(group = group_id, "group removed");
        return;
    };
    let old: &[String] = before.as_ref().map_or(&[], |b| &b.2);
    let joined: Vec<&String> = members.iter().filter(|m| !old.contains(m)).collect();
    let left: Vec<&String> = old.iter().filter(|m| !members.contains(m)).collect();
    tracing::info!(
        group = group_id,
        state = %state,
        generation,
        members = members.len(),
        ?joined,
        ?left,
        "group changed"
    );
}

/// Feed every record of one partition (of `partitions`) to the
/// coordinator; returns the count. Records of transactional batches become
/// pending offsets of their producer; a marker commits or drops those of
/// the groups of this partition only (the same producer may hold offsets
/// of groups of partitions replayed before, whose marker is still to come).
/// A transaction with no marker yet stays open: its coordinator writes the
/// marker later.
fn replay_partition(
    p: &Partition,
    partitions: i32,
    coordinator: &mut GroupCoordinator,
) -> Result<usize, weir_storage::StorageError> {
    let mut count = 0;
    let here = |g: &str| partition_for(g, partitions) == p.index;
    crate::replay::replay_partition(p, |item| match item {
        Item::Marker(m) => coordinator.replay_marker(m.producer_id, m.commit, &here),
        Item::Record(h, r) => match GroupRecord::decode(r.key.as_ref(), r.value.as_ref()) {
            Ok(rec) => {
                if h.is_transactional() {
                    coordinator.replay_txn(h.producer_id, rec);
                } else {
                    coordinator.replay(rec);
                }
                count += 1;
            }
            Err(e) => {
                tracing::warn!(partition = p.index, offset = r.offset, error = %e, "skipping unreadable record in __consumer_offsets");
            }
        },
    })?;
    Ok(count)
}

/// Fire `tick` at the coordinator's deadlines.
async fn timer_loop(broker: Arc<Broker>) {
    let service = &broker.groups;
    loop {
        let deadline = service.read(|c| c.next_deadline());
        let wait_ms = (deadline - now_ms()).clamp(0, TIMER_MAX_SLEEP_MS);
        if wait_ms > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
                _ = service.timer.notified() => continue,
            }
        }
        let pending = {
            let mut inner = service.lock();
            let now = now_ms();
            if inner.coordinator.next_deadline() > now {
                continue;
            }
            let ids: Vec<String> = inner
                .coordinator
                .list(&[])
                .into_iter()
                .map(|g| g.group_id)
                .collect();
            let before: Vec<Snapshot> = ids
                .iter()
                .map(|g| snapshot(&inner.coordinator, g))
                .collect();
            let effects = inner.coordinator.tick(now);
            for (g, b) in ids.iter().zip(&before) {
                log_change(g, b, &snapshot(&inner.coordinator, g));
            }
            service.apply(&broker, &mut inner, effects)
        };
        tokio::spawn(finish(pending));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_match_kafka() {
        // Java: "test-group".hashCode() == 627841412 → % 50 == 12;
        // "analytics".hashCode() == -1693017210 → abs % 50 == 10.
        assert_eq!(partition_for("test-group", 50), 12);
        assert_eq!(partition_for("analytics", 50), 10);
        assert_eq!(partition_for("", 50), 0);
        for g in ["a", "analytics", "ünïcode", "notifications"] {
            assert!((0..50).contains(&partition_for(g, 50)));
        }
    }
}
