//! The null broker's topic table: names, ids, partition counts and each
//! partition's log end offset. No record is stored, except, in echo mode, a
//! bounded tail of the last batches produced to each partition.
//!
//! ## Invariants
//!
//! * A topic never changes its id or partition count once in the table.
//! * Ids are handed out in creation order (`1, 2, ...` in the low 64 bits),
//!   never zero (Kafka's "no id").
//! * A partition's log end offset only grows; in echo mode it grows under
//!   the tail's lock, so the tail holds batches in offset order with the
//!   base offsets they were given.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use weir_protocol::codec::Uuid;
use weir_protocol::record_batch::{BatchIter, set_base_offset};

/// Most topics the table holds.
pub const TOPICS_MAX: usize = 10_000;
/// Most partitions of one topic (the partitions-scaling run goes to 10,000).
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 100_000;
/// Bytes of produced batches kept per partition in echo mode; the oldest
/// are dropped first (the newest is always kept).
pub const ECHO_TAIL_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Kafka's longest topic name.
const TOPIC_NAME_BYTES_MAX: usize = 249;

/// Why a topic could not be found or created.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    /// The name breaks Kafka's rules.
    #[error("invalid topic name: {0}")]
    InvalidName(&'static str),
    /// CreateTopics for a topic in the table.
    #[error("topic already exists")]
    AlreadyExists,
    /// A partition count outside 1..=[`PARTITIONS_PER_TOPIC_MAX`].
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    /// [`TOPICS_MAX`] topics exist already.
    #[error("the null broker holds at most {TOPICS_MAX} topics")]
    TableFull,
}

/// Kafka's topic name rules (`org.apache.kafka.common.internals.Topic`).
fn validate_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::InvalidName("empty"));
    }
    if name == "." || name == ".." {
        return Err(TopicError::InvalidName("'.' and '..' are not allowed"));
    }
    if name.len() > TOPIC_NAME_BYTES_MAX {
        return Err(TopicError::InvalidName("longer than 249 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(TopicError::InvalidName(
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

/// Batches produced to a partition, newest last (echo mode).
#[derive(Debug, Default)]
struct EchoTail {
    /// `(base offset, next offset, record set with base offsets assigned)`.
    sets: VecDeque<(i64, i64, Bytes)>,
    bytes: usize,
}

/// One partition.
#[derive(Debug)]
pub struct Partition {
    log_end_offset: AtomicI64,
    echo: Option<Mutex<EchoTail>>,
}

impl Partition {
    fn new(log_end_offset: i64, echo: bool) -> Partition {
        Partition {
            log_end_offset: AtomicI64::new(log_end_offset),
            echo: echo.then(|| Mutex::new(EchoTail::default())),
        }
    }

    /// The offset the next record gets; also the high watermark.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset.load(Ordering::Acquire)
    }

    /// Take `records` offsets for a validated record set and return the
    /// first. In echo mode the set is kept, with its batches' base offsets
    /// set to the ones assigned.
    pub fn append(&self, record_set: &[u8], records: i64) -> i64 {
        let Some(echo) = &self.echo else {
            return self.log_end_offset.fetch_add(records, Ordering::AcqRel);
        };
        let mut tail = lock(echo);
        let base = self.log_end_offset.load(Ordering::Acquire);
        let mut copy = BytesMut::from(record_set);
        let mut next = base;
        let positions: Vec<(usize, i64)> = BatchIter::new(record_set)
            .map_while(Result::ok)
            .map(|(pos, h)| (pos, i64::from(h.records_count)))
            .collect();
        for (pos, count) in positions {
            if let Some(batch) = copy.get_mut(pos..) {
                set_base_offset(batch, next);
            }
            next += count;
        }
        debug_assert_eq!(next, base + records, "records counted at validation");
        tail.bytes += copy.len();
        tail.sets.push_back((base, base + records, copy.freeze()));
        while tail.bytes > ECHO_TAIL_BYTES_MAX && tail.sets.len() > 1 {
            if let Some((_, _, dropped)) = tail.sets.pop_front() {
                tail.bytes -= dropped.len();
            }
        }
        self.log_end_offset.store(base + records, Ordering::Release);
        base
    }

    /// Echo mode: the kept record sets that hold offsets at or after
    /// `fetch_offset`, within `limit_bytes` (the first set always, when
    /// `first_in_response`). Records below `fetch_offset` in the first set
    /// are the client's to skip, as with any broker. `None` outside echo
    /// mode.
    pub fn echo_read(
        &self,
        fetch_offset: i64,
        limit_bytes: usize,
        first_in_response: bool,
    ) -> Option<Bytes> {
        let echo = self.echo.as_ref()?;
        let tail = lock(echo);
        // Sets are in offset order: skip the ones wholly below the offset
        // by binary search (a consumer at the log end re-polls constantly).
        let first = tail
            .sets
            .partition_point(|(_, next, _)| *next <= fetch_offset);
        let mut out = BytesMut::new();
        for (_, next, set) in tail.sets.range(first..) {
            debug_assert!(*next > fetch_offset);
            let fits = out.len() + set.len() <= limit_bytes;
            if !(fits || (first_in_response && out.is_empty())) {
                break;
            }
            out.extend_from_slice(set);
        }
        Some(out.freeze())
    }
}

/// Mutexes here guard plain data that every update leaves consistent, so a
/// poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A topic.
#[derive(Debug)]
pub struct Topic {
    /// Name.
    pub name: String,
    /// Topic id (Metadata v10+, Fetch v13+).
    pub id: Uuid,
    /// Partitions, by index.
    pub partitions: Vec<Partition>,
}

impl Topic {
    /// Partition `index`, if the topic has it.
    pub fn partition(&self, index: i32) -> Option<&Partition> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }
}

#[derive(Debug, Default)]
struct Table {
    by_name: BTreeMap<String, Arc<Topic>>,
    by_id: BTreeMap<Uuid, Arc<Topic>>,
}

/// All topics.
#[derive(Debug)]
pub struct Topics {
    default_partitions: i32,
    initial_log_end_offset: i64,
    echo: bool,
    table: RwLock<Table>,
    /// Woken after every Produce that appended something; Fetch long-polls
    /// wait on it.
    pub appended: Notify,
}

impl Topics {
    /// An empty table; implicit topics get `default_partitions` partitions,
    /// every partition starts at `initial_log_end_offset`.
    pub fn new(default_partitions: i32, initial_log_end_offset: i64, echo: bool) -> Topics {
        Topics {
            default_partitions,
            initial_log_end_offset,
            echo,
            table: RwLock::new(Table::default()),
            appended: Notify::new(),
        }
    }

    /// The topic named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        read(&self.table).by_name.get(name).cloned()
    }

    /// The topic with id `id`.
    pub fn by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        read(&self.table).by_id.get(id).cloned()
    }

    /// Every topic, by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        read(&self.table).by_name.values().cloned().collect()
    }

    /// The topic named `name`, created with the default partition count if
    /// it does not exist ("any requested topic exists").
    pub fn get_or_create(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        match self.create(name, self.default_partitions) {
            Err(TopicError::AlreadyExists) => self.get(name).ok_or(TopicError::AlreadyExists),
            other => other,
        }
    }

    /// Create `name` with `partitions` partitions (-1: the default).
    pub fn create(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, TopicError> {
        let partitions = if partitions == -1 {
            self.default_partitions
        } else {
            partitions
        };
        self.check_create(name, partitions)?;
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        if table.by_name.contains_key(name) {
            return Err(TopicError::AlreadyExists);
        }
        if table.by_name.len() >= TOPICS_MAX {
            return Err(TopicError::TableFull);
        }
        let serial = u128::try_from(table.by_name.len()).unwrap_or(u128::MAX) + 1;
        let topic = Arc::new(Topic {
            name: name.to_owned(),
            id: Uuid::from_u128(serial),
            partitions: (0..partitions)
                .map(|_| Partition::new(self.initial_log_end_offset, self.echo))
                .collect(),
        });
        table.by_name.insert(name.to_owned(), topic.clone());
        table.by_id.insert(topic.id, topic.clone());
        Ok(topic)
    }

    /// What [`Topics::create`] would refuse, without creating (CreateTopics
    /// with `validate_only`). -1 partitions means the default.
    pub fn check_create(&self, name: &str, partitions: i32) -> Result<(), TopicError> {
        validate_name(name)?;
        let partitions = if partitions == -1 {
            self.default_partitions
        } else {
            partitions
        };
        if !(1..=PARTITIONS_PER_TOPIC_MAX).contains(&partitions) {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        if self.get(name).is_some() {
            return Err(TopicError::AlreadyExists);
        }
        Ok(())
    }
}

fn read(table: &RwLock<Table>) -> std::sync::RwLockReadGuard<'_, Table> {
    table.read().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use weir_protocol::record_batch::BatchHeader;
    use weir_protocol::records::BatchBuilder;

    use super::*;

    fn batch(records: usize) -> Bytes {
        let mut b = BatchBuilder::new(0);
        for _ in 0..records {
            b.push(None, Some(b"v"), &[], 0);
        }
        b.build()
    }

    #[test]
    fn offsets_grow_by_record_count() {
        let topics = Topics::new(3, 0, false);
        let t = topics.get_or_create("a").unwrap();
        assert_eq!(t.partition_count(), 3);
        let p = t.partition(1).unwrap();
        assert_eq!(p.append(&batch(4), 4), 0);
        assert_eq!(p.append(&batch(2), 2), 4);
        assert_eq!(p.log_end_offset(), 6);
        assert_eq!(t.partition(0).unwrap().log_end_offset(), 0);
        assert!(t.partition(3).is_none());
        assert!(t.partition(-1).is_none());
    }

    #[test]
    fn create_and_lookup() {
        let topics = Topics::new(6, 1_000, false);
        let a = topics.create("a", 2).unwrap();
        assert_eq!(a.partition_count(), 2);
        assert_eq!(a.partition(0).unwrap().log_end_offset(), 1_000);
        assert_eq!(
            topics.create("a", 2).unwrap_err(),
            TopicError::AlreadyExists
        );
        assert_eq!(topics.get_or_create("a").unwrap().partition_count(), 2);
        let b = topics.get_or_create("b").unwrap();
        assert_eq!(b.partition_count(), 6);
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, Uuid::ZERO);
        assert_eq!(topics.by_id(&b.id).unwrap().name, "b");
        assert_eq!(
            topics
                .all()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(matches!(
            topics.create("bad name", 1),
            Err(TopicError::InvalidName(_))
        ));
        assert_eq!(
            topics.create("c", 0).unwrap_err(),
            TopicError::InvalidPartitions(0)
        );
    }

    #[test]
    fn echo_keeps_batches_with_assigned_offsets() {
        let topics = Topics::new(1, 10, true);
        let p = topics.get_or_create("e").unwrap();
        let p = p.partition(0).unwrap();
        let mut two = batch(2).to_vec();
        two.extend_from_slice(&batch(3));
        assert_eq!(p.append(&two, 5), 10);
        assert_eq!(p.append(&batch(1), 1), 15);
        let all = p.echo_read(0, usize::MAX, true).unwrap();
        let bases: Vec<i64> = BatchIter::verified(&all)
            .map(|r| r.unwrap().1.base_offset)
            .collect();
        assert_eq!(bases, vec![10, 12, 15]);
        // From offset 15 only the last set.
        let last = p.echo_read(15, usize::MAX, true).unwrap();
        assert_eq!(BatchHeader::parse(&last).unwrap().base_offset, 15);
        // Nothing at the log end; the first set even over the limit.
        assert!(p.echo_read(16, usize::MAX, true).unwrap().is_empty());
        assert!(!p.echo_read(0, 1, true).unwrap().is_empty());
        assert!(p.echo_read(0, 1, false).unwrap().is_empty());
    }
}
