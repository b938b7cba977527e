//! Recovery: replaying the records the coordinator emitted (or Kafka
//! wrote) rebuilds its state, and finds the transactions whose markers
//! were being written.

#![expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::record::TxnLogValue;

const T: &str = "tx";

fn coord() -> TxnCoordinator {
    TxnCoordinator::new(TxnConfig {
        max_timeout_ms: 60_000,
        id_expiration_ms: 1_000_000,
    })
}

fn tp(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

/// Replay `log` into a fresh coordinator, through the byte codec.
fn replayed(config: TxnConfig, log: Vec<TxnRecord>) -> TxnCoordinator {
    let mut c = TxnCoordinator::new(config);
    for r in log {
        let (k, v) = r.encode().unwrap();
        c.replay(TxnRecord::decode(Some(&k), v.as_ref()).unwrap());
    }
    c
}

/// The state a log can rebuild: everything but the KIP-360 `last_producer_*`
/// fields, which value v0 does not hold.
fn persisted(c: &TxnCoordinator) -> BTreeMap<String, TxnMetadata> {
    c.txns
        .iter()
        .map(|(k, m)| {
            let mut m = m.clone();
            m.last_producer_id = NO_PRODUCER;
            m.last_producer_epoch = NO_EPOCH;
            (k.clone(), m)
        })
        .collect()
}

#[test]
fn replay_finds_unfinished_transactions() {
    let mut c = coord();
    let mut log = Vec::new();
    let InitOutcome::Ready {
        record: Some(r), ..
    } = c.init_producer_id(T, 1000, None, Some(7), 0).unwrap()
    else {
        panic!()
    };
    log.push(r);
    log.push(
        c.add_partitions(T, 7, 0, &[tp("a", 0)], 1)
            .unwrap()
            .unwrap(),
    );
    let EndOutcome::WriteMarkers { record, job } = c.end_txn(T, 7, 0, false, 2).unwrap() else {
        panic!()
    };
    log.push(record);
    let r = replayed(c.config.clone(), log);
    assert_eq!(r.unfinished(), vec![job.clone()]);
    assert_eq!(persisted(&r), persisted(&c));
    // The driver re-writes the markers and completes, as on first run.
    let mut r = r;
    let done = r
        .complete(T, job.producer_id, job.producer_epoch, 3)
        .unwrap();
    assert_eq!(done.value.unwrap().state, TxnState::CompleteAbort);
    assert!(r.unfinished().is_empty());
}

fn kafka_value(
    state: TxnState,
    epoch: i16,
    parts: Vec<(String, Vec<i32>)>,
    start_ms: i64,
) -> TxnLogValue {
    TxnLogValue {
        producer_id: 7,
        producer_epoch: epoch,
        timeout_ms: 1000,
        state,
        partitions: parts,
        last_update_ms: 50,
        start_ms,
    }
}

#[test]
fn kafka_written_states_are_replayed_as_weir_holds_them() {
    let mut c = coord();
    let rec = |id: &str, v: Option<TxnLogValue>| TxnRecord {
        transactional_id: id.to_string(),
        value: v,
    };
    // A fence Kafka was carrying out: abort with the next epoch.
    c.replay(rec(
        "fence",
        Some(kafka_value(
            TxnState::PrepareEpochFence,
            3,
            vec![("a".into(), vec![1, 2])],
            10,
        )),
    ));
    // Kafka keeps the last transaction's start time in Complete records.
    c.replay(rec(
        "done",
        Some(kafka_value(TxnState::CompleteCommit, 1, vec![], 10)),
    ));
    // Dead and tombstones remove the id.
    c.replay(rec(
        "dead",
        Some(kafka_value(TxnState::Empty, 0, vec![], -1)),
    ));
    c.replay(rec(
        "dead",
        Some(kafka_value(TxnState::Dead, 0, vec![], -1)),
    ));
    c.replay(rec(
        "gone",
        Some(kafka_value(TxnState::Empty, 0, vec![], -1)),
    ));
    c.replay(rec("gone", None));
    assert_eq!(c.len(), 2);
    assert_eq!(
        c.unfinished(),
        vec![MarkerJob {
            transactional_id: "fence".into(),
            producer_id: 7,
            producer_epoch: 4,
            commit: false,
            partitions: vec![tp("a", 1), tp("a", 2)],
        }]
    );
    let done = c.get("done").unwrap();
    assert_eq!((done.start_ms, done.state), (-1, TxnState::CompleteCommit));
    // The fenced epoch 3 is refused; the job's epoch completes it.
    assert!(matches!(
        c.end_txn("fence", 7, 3, false, 60),
        Err(TxnError::ProducerFenced(_))
    ));
    assert!(c.complete("fence", 7, 4, 60).is_some());
}

/// One operation of the replay property test.
#[derive(Debug, Clone)]
enum Op {
    Init(u8),
    /// InitProducerId with KIP-360 `expected`: 0 current, 1 previous, 2 stale.
    InitExpected(u8, u8),
    Add(u8, u8),
    End(u8, bool),
    Complete(u8),
    Tick(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::Init),
        (0u8..3, 0u8..3).prop_map(|(i, k)| Op::InitExpected(i, k)),
        (0u8..3, 0u8..4).prop_map(|(i, p)| Op::Add(i, p)),
        (0u8..3, any::<bool>()).prop_map(|(i, c)| Op::End(i, c)),
        (0u8..3).prop_map(Op::Complete),
        (0i64..5000).prop_map(Op::Tick),
    ]
}

/// Run `ops`, returning the coordinator and every record it emitted.
fn run(ops: Vec<Op>) -> (TxnCoordinator, Vec<TxnRecord>) {
    let mut c = TxnCoordinator::new(TxnConfig {
        max_timeout_ms: 60_000,
        id_expiration_ms: 3000,
    });
    let mut log: Vec<TxnRecord> = Vec::new();
    let mut next_pid = 1000;
    let mut now = 0;
    for op in ops {
        now += 10;
        let id = |i: u8| format!("t{i}");
        match op {
            Op::Init(i) | Op::InitExpected(i, _) => {
                let id = id(i);
                let expected = match (op, c.get(&id)) {
                    (Op::InitExpected(_, 0), Some(m)) => Some((m.producer_id, m.producer_epoch)),
                    (Op::InitExpected(_, 1), Some(m)) => {
                        Some((m.last_producer_id, m.last_producer_epoch))
                    }
                    (Op::InitExpected(_, _), Some(m)) => {
                        Some((m.producer_id, m.producer_epoch - 1))
                    }
                    _ => None,
                };
                let fresh = c.needs_producer_id(&id).then(|| {
                    next_pid += 1;
                    next_pid
                });
                match c.init_producer_id(&id, 1000, expected, fresh, now) {
                    Ok(InitOutcome::Ready {
                        record: Some(r), ..
                    }) => log.push(r),
                    Ok(InitOutcome::AbortFirst { record, .. }) => log.push(record),
                    _ => {}
                }
            }
            Op::Add(i, p) => {
                let id = id(i);
                if let Some(m) = c.get(&id).cloned()
                    && let Ok(Some(r)) = c.add_partitions(
                        &id,
                        m.producer_id,
                        m.producer_epoch,
                        &[tp("a", i32::from(p))],
                        now,
                    )
                {
                    log.push(r);
                }
            }
            Op::End(i, commit) => {
                let id = id(i);
                if let Some(m) = c.get(&id).cloned()
                    && let Ok(EndOutcome::WriteMarkers { record, .. }) =
                        c.end_txn(&id, m.producer_id, m.producer_epoch, commit, now)
                {
                    log.push(record);
                }
            }
            Op::Complete(i) => {
                let id = id(i);
                if let Some(m) = c.get(&id).cloned()
                    && let Some(r) = c.complete(&id, m.producer_id, m.producer_epoch, now)
                {
                    log.push(r);
                }
            }
            Op::Tick(dt) => {
                now += dt;
                let t = c.tick(now, usize::MAX);
                log.extend(t.aborts.into_iter().map(|(_, r)| r));
                log.extend(t.expired);
            }
        }
        assert!(c.txns.values().all(TxnMetadata::is_consistent));
    }
    (c, log)
}

proptest! {
    #[test]
    fn replaying_emitted_records_rebuilds_the_state(ops in proptest::collection::vec(op(), 0..80)) {
        let (c, log) = run(ops);
        let r = replayed(c.config.clone(), log);
        prop_assert_eq!(persisted(&r), persisted(&c));
        prop_assert_eq!(r.unfinished(), c.unfinished());
        prop_assert_eq!(r.next_deadline(), c.next_deadline());
    }
}
