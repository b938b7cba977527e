#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]

use proptest::prelude::*;

use super::*;

const T: &str = "tx";

fn coord() -> TxnCoordinator {
    TxnCoordinator::new(TxnConfig {
        max_timeout_ms: 60_000,
        id_expiration_ms: 1_000_000,
    })
}

fn ready(o: InitOutcome) -> (i64, i16) {
    match o {
        InitOutcome::Ready {
            producer_id,
            producer_epoch,
            ..
        } => (producer_id, producer_epoch),
        other => panic!("expected Ready, got {other:?}"),
    }
}

fn tp(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

#[test]
fn happy_path_commit_then_bump() {
    let mut c = coord();
    assert!(c.needs_producer_id(T));
    assert_eq!(
        ready(c.init_producer_id(T, 10_000, None, Some(100), 0).unwrap()),
        (100, 0)
    );
    assert!(!c.needs_producer_id(T));
    let r = c
        .add_partitions(T, 100, 0, &[tp("a", 0), tp("a", 1)], 5)
        .unwrap();
    assert!(r.is_some());
    assert_eq!(c.get(T).unwrap().state, TxnState::Ongoing);
    assert_eq!(c.get(T).unwrap().start_ms, 5);
    // Adding known partitions again writes nothing.
    assert_eq!(c.add_partitions(T, 100, 0, &[tp("a", 0)], 6).unwrap(), None);
    let EndOutcome::WriteMarkers { job, record } = c.end_txn(T, 100, 0, true, 7).unwrap() else {
        panic!("expected markers");
    };
    assert!(job.commit && job.partitions == vec![tp("a", 0), tp("a", 1)]);
    assert_eq!(record.value.unwrap().state, TxnState::PrepareCommit);
    // While markers are written: concurrent.
    assert!(matches!(
        c.add_partitions(T, 100, 0, &[tp("b", 0)], 8),
        Err(TxnError::ConcurrentTransactions(_))
    ));
    assert!(matches!(
        c.init_producer_id(T, 10_000, None, None, 8),
        Err(TxnError::ConcurrentTransactions(_))
    ));
    let done = c.complete(T, 100, 0, 9).unwrap();
    assert_eq!(done.value.unwrap().state, TxnState::CompleteCommit);
    assert!(c.complete(T, 100, 0, 9).is_none(), "stale job");
    // A retried EndTxn succeeds; the opposite one does not.
    assert_eq!(
        c.end_txn(T, 100, 0, true, 10).unwrap(),
        EndOutcome::AlreadyDone
    );
    assert!(matches!(
        c.end_txn(T, 100, 0, false, 10),
        Err(TxnError::InvalidTxnState(_))
    ));
    assert_eq!(
        ready(c.init_producer_id(T, 10_000, None, None, 11).unwrap()),
        (100, 1)
    );
}

#[test]
fn errors_for_bad_producers_and_states() {
    let mut c = coord();
    assert!(matches!(
        c.init_producer_id(T, 0, None, Some(1), 0),
        Err(TxnError::InvalidTransactionTimeout(_))
    ));
    assert!(matches!(
        c.init_producer_id(T, 60_001, None, Some(1), 0),
        Err(TxnError::InvalidTransactionTimeout(_))
    ));
    assert!(matches!(
        c.init_producer_id("", 1000, None, Some(1), 0),
        Err(TxnError::InvalidRequest(_))
    ));
    ready(c.init_producer_id(T, 1000, None, Some(1), 0).unwrap());
    assert!(matches!(
        c.end_txn(T, 1, 0, true, 1),
        Err(TxnError::InvalidTxnState(_))
    ));
    assert!(matches!(
        c.end_txn("other", 1, 0, true, 1),
        Err(TxnError::InvalidProducerIdMapping(_))
    ));
    assert!(matches!(
        c.add_partitions(T, 2, 0, &[tp("a", 0)], 1),
        Err(TxnError::InvalidProducerIdMapping(_))
    ));
    assert!(matches!(
        c.add_partitions(T, 1, 5, &[tp("a", 0)], 1),
        Err(TxnError::ProducerFenced(_))
    ));
    let v = c.verify_partitions(T, 1, 0, &[tp("a", 0)]);
    assert!(matches!(v[0].1, Err(TxnError::InvalidTxnState(_))));
    c.add_partitions(T, 1, 0, &[tp("a", 0)], 1).unwrap();
    let v = c.verify_partitions(T, 1, 0, &[tp("a", 0), tp("a", 1)]);
    assert_eq!(v[0].1, Ok(()));
    assert!(matches!(v[1].1, Err(TxnError::InvalidTxnState(_))));
    assert!(matches!(
        c.verify_partitions(T, 1, 1, &[tp("a", 0)])[0].1,
        Err(TxnError::ProducerFenced(_))
    ));
}

#[test]
fn second_producer_fences_the_first_and_aborts_its_transaction() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    c.add_partitions(T, 7, 0, &[tp("a", 0)], 1).unwrap();
    let InitOutcome::AbortFirst { job, record } =
        c.init_producer_id(T, 1000, None, None, 2).unwrap()
    else {
        panic!("expected the open transaction to be aborted first");
    };
    assert!(!job.commit);
    assert_eq!((job.producer_id, job.producer_epoch), (7, 1));
    assert_eq!(record.value.unwrap().state, TxnState::PrepareAbort);
    // The zombie (epoch 0) is fenced everywhere.
    assert!(matches!(
        c.end_txn(T, 7, 0, true, 3),
        Err(TxnError::ProducerFenced(_))
    ));
    c.complete(T, 7, 1, 3).unwrap();
    assert_eq!(
        ready(c.init_producer_id(T, 1000, None, None, 4).unwrap()),
        (7, 2)
    );
    assert!(matches!(
        c.add_partitions(T, 7, 1, &[tp("a", 0)], 5),
        Err(TxnError::ProducerFenced(_))
    ));
}

#[test]
fn kip_360_expected_ids_and_retries() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    assert_eq!(
        ready(c.init_producer_id(T, 1000, Some((7, 0)), None, 1).unwrap()),
        (7, 1)
    );
    // The same request again (its answer was lost): same answer, no bump.
    let again = c.init_producer_id(T, 1000, Some((7, 0)), None, 2).unwrap();
    assert_eq!(
        again,
        InitOutcome::Ready {
            producer_id: 7,
            producer_epoch: 1,
            record: None
        }
    );
    assert!(matches!(
        c.init_producer_id(T, 1000, Some((7, 5)), None, 3),
        Err(TxnError::ProducerFenced(_))
    ));
}

#[test]
fn exhausted_epoch_switches_producer_id() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    c.txns.get_mut(T).unwrap().producer_epoch = EPOCH_EXHAUSTED;
    assert!(c.needs_producer_id(T));
    assert_eq!(
        ready(c.init_producer_id(T, 1000, None, Some(8), 1).unwrap()),
        (8, 0)
    );
}

#[test]
fn timeouts_abort_with_a_bump_and_idle_ids_expire() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    ready(c.init_producer_id("idle", 1000, None, Some(8), 0).unwrap());
    c.add_partitions(T, 7, 0, &[tp("a", 0)], 100).unwrap();
    assert_eq!(c.next_deadline(), 1100);
    assert!(c.tick(1100, 10).aborts.is_empty());
    let tick = c.tick(1101, 10);
    assert_eq!(tick.aborts.len(), 1);
    let (job, _) = &tick.aborts[0];
    assert_eq!((job.producer_epoch, job.commit), (1, false));
    assert!(matches!(
        c.end_txn(T, 7, 0, true, 1102),
        Err(TxnError::ProducerFenced(_))
    ));
    c.complete(T, 7, 1, 1103).unwrap();
    let tick = c.tick(1_000_001, 10);
    assert_eq!(
        tick.expired,
        vec![TxnRecord {
            transactional_id: "idle".into(),
            value: None
        }]
    );
    assert!(c.get("idle").is_none() && c.get(T).is_some());
}

#[test]
fn describe_and_list() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    ready(c.init_producer_id("b", 1000, None, Some(8), 0).unwrap());
    c.add_partitions(T, 7, 0, &[tp("x", 1), tp("x", 0), tp("y", 2)], 100)
        .unwrap();
    let d = c.describe(T).unwrap();
    assert_eq!(d.state, TxnState::Ongoing);
    assert_eq!(
        d.topics,
        vec![("x".to_string(), vec![0, 1]), ("y".to_string(), vec![2])]
    );
    assert!(matches!(
        c.describe("nope"),
        Err(TxnError::TransactionalIdNotFound(_))
    ));
    let ongoing = c.list(&["Ongoing".to_string()], &[], -1, 200);
    assert_eq!(ongoing.len(), 1);
    assert_eq!(ongoing[0].transactional_id, T);
    assert_eq!(c.list(&[], &[8], -1, 200).len(), 1);
    assert_eq!(c.list(&[], &[], 100, 200).len(), 1, "open for 100 ms");
    assert_eq!(c.list(&[], &[], 101, 200).len(), 0);
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
    let mut replayed = coord();
    for r in log {
        let (k, v) = r.encode().unwrap();
        replayed.replay(TxnRecord::decode(Some(&k), v.as_ref()).unwrap());
    }
    assert_eq!(replayed.unfinished(), vec![job]);
}

/// One operation of the replay property test.
#[derive(Debug, Clone)]
enum Op {
    Init(u8),
    Add(u8, u8),
    End(u8, bool),
    Complete(u8),
    Tick(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::Init),
        (0u8..3, 0u8..4).prop_map(|(i, p)| Op::Add(i, p)),
        (0u8..3, any::<bool>()).prop_map(|(i, c)| Op::End(i, c)),
        (0u8..3).prop_map(Op::Complete),
        (0i64..5000).prop_map(Op::Tick),
    ]
}

/// What the log keeps (last producer ids are memory-only, as in Kafka).
fn persisted(c: &TxnCoordinator) -> Vec<(String, TxnLogValue)> {
    c.txns.iter().map(|(k, m)| (k.clone(), m.value())).collect()
}

proptest! {
    #[test]
    fn replaying_emitted_records_rebuilds_the_state(ops in proptest::collection::vec(op(), 0..60)) {
        let mut c = TxnCoordinator::new(TxnConfig { max_timeout_ms: 60_000, id_expiration_ms: 3000 });
        let mut log: Vec<TxnRecord> = Vec::new();
        let mut next_pid = 1000;
        let mut now = 0;
        for op in ops {
            now += 10;
            match op {
                Op::Init(i) => {
                    let id = format!("t{i}");
                    let fresh = c.needs_producer_id(&id).then(|| { next_pid += 1; next_pid });
                    match c.init_producer_id(&id, 1000, None, fresh, now) {
                        Ok(InitOutcome::Ready { record: Some(r), .. }) => log.push(r),
                        Ok(InitOutcome::AbortFirst { record, .. }) => log.push(record),
                        _ => {}
                    }
                }
                Op::Add(i, p) => {
                    let id = format!("t{i}");
                    if let Some(m) = c.get(&id).cloned()
                        && let Ok(Some(r)) = c.add_partitions(&id, m.producer_id, m.producer_epoch, &[tp("a", i32::from(p))], now)
                    {
                        log.push(r);
                    }
                }
                Op::End(i, commit) => {
                    let id = format!("t{i}");
                    if let Some(m) = c.get(&id).cloned()
                        && let Ok(EndOutcome::WriteMarkers { record, .. }) = c.end_txn(&id, m.producer_id, m.producer_epoch, commit, now)
                    {
                        log.push(record);
                    }
                }
                Op::Complete(i) => {
                    let id = format!("t{i}");
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
        }
        let mut replayed = TxnCoordinator::new(c.config.clone());
        for r in log {
            let (k, v) = r.encode().unwrap();
            replayed.replay(TxnRecord::decode(Some(&k), v.as_ref()).unwrap());
        }
        prop_assert_eq!(persisted(&replayed), persisted(&c));
        prop_assert_eq!(replayed.unfinished(), c.unfinished());
    }
}
