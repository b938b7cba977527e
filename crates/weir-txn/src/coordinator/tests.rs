#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]

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
fn zombie_cannot_claim_a_newer_epoch_by_retrying_init() {
    // Regression: every bump used to remember the previous epoch, so a
    // fenced instance "retrying" its InitProducerId got the new instance's
    // epoch. Only a bump asked for with KIP-360 `expected` is retriable.
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    // Instance A recovers with KIP-360: epoch 1, retriable.
    assert_eq!(
        ready(c.init_producer_id(T, 1000, Some((7, 0)), None, 1).unwrap()),
        (7, 1)
    );
    // Instance B starts (no expected): epoch 2; A is now a zombie.
    assert_eq!(
        ready(c.init_producer_id(T, 1000, None, None, 2).unwrap()),
        (7, 2)
    );
    assert!(matches!(
        c.init_producer_id(T, 1000, Some((7, 1)), None, 3),
        Err(TxnError::ProducerFenced(_))
    ));
    assert!(matches!(
        c.init_producer_id(T, 1000, Some((7, 0)), None, 3),
        Err(TxnError::ProducerFenced(_))
    ));
    assert_eq!(c.get(T).unwrap().producer_epoch, 2);
}

#[test]
fn fenced_producer_cannot_retry_its_way_back() {
    // After a fence (a second InitProducerId while Ongoing, or a timeout)
    // the old epoch is not a retry of anything: PRODUCER_FENCED, as Kafka.
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    ready(c.init_producer_id(T, 1000, Some((7, 0)), None, 1).unwrap());
    c.add_partitions(T, 7, 1, &[tp("a", 0)], 10).unwrap();
    let tick = c.tick(2000, 10);
    assert_eq!(tick.aborts.len(), 1);
    c.complete(T, 7, 2, 2001).unwrap();
    assert!(matches!(
        c.init_producer_id(T, 1000, Some((7, 1)), None, 2002),
        Err(TxnError::ProducerFenced(_))
    ));
    // The fenced epoch 2 was never handed out: a new instance gets 3.
    assert_eq!(
        ready(c.init_producer_id(T, 1000, None, None, 2003).unwrap()),
        (7, 3)
    );
}

#[test]
fn kip_360_retry_after_producer_id_rotation() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    c.txns.get_mut(T).unwrap().producer_epoch = EPOCH_EXHAUSTED;
    assert!(c.needs_producer_id(T));
    assert_eq!(
        ready(
            c.init_producer_id(T, 1000, Some((7, EPOCH_EXHAUSTED)), Some(8), 1)
                .unwrap()
        ),
        (8, 0)
    );
    let m = c.get(T).unwrap();
    assert_eq!(
        (m.last_producer_id, m.last_producer_epoch),
        (7, EPOCH_EXHAUSTED)
    );
    // The response was lost; the retry names the old id and epoch.
    assert_eq!(
        c.init_producer_id(T, 1000, Some((7, EPOCH_EXHAUSTED)), None, 2)
            .unwrap(),
        InitOutcome::Ready {
            producer_id: 8,
            producer_epoch: 0,
            record: None
        }
    );
    // Without a fresh id the driver gets a retriable error, state unchanged.
    let mut d = coord();
    ready(d.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    d.txns.get_mut(T).unwrap().producer_epoch = EPOCH_EXHAUSTED;
    let before = d.clone();
    assert!(matches!(
        d.init_producer_id(T, 1000, None, None, 1),
        Err(TxnError::ConcurrentTransactions(_))
    ));
    assert_eq!(d, before);
}

#[test]
fn ongoing_transaction_without_partitions_ends_with_an_empty_job() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(7), 0).unwrap());
    c.add_partitions(T, 7, 0, &[], 5).unwrap().unwrap();
    let EndOutcome::WriteMarkers { job, .. } = c.end_txn(T, 7, 0, true, 6).unwrap() else {
        panic!("expected markers");
    };
    assert!(job.partitions.is_empty() && job.commit);
    // The opposite end while preparing is not a retry.
    assert!(matches!(
        c.end_txn(T, 7, 0, false, 7),
        Err(TxnError::InvalidTxnState(_))
    ));
    assert!(matches!(
        c.end_txn(T, 7, 0, true, 7),
        Err(TxnError::ConcurrentTransactions(_))
    ));
    // A stale job (other epoch) completes nothing.
    assert!(c.complete(T, 7, 1, 8).is_none());
    assert!(c.complete(T, 8, 0, 8).is_none());
    let done = c.complete(T, 7, 0, 8).unwrap().value.unwrap();
    assert_eq!((done.state, done.start_ms), (TxnState::CompleteCommit, -1));
    // A new transaction after a completed one starts afresh.
    c.add_partitions(T, 7, 0, &[tp("b", 1)], 20)
        .unwrap()
        .unwrap();
    let m = c.get(T).unwrap();
    assert_eq!((m.start_ms, m.partitions.len()), (20, 1));
}

#[test]
fn names_too_long_for_a_record_are_refused() {
    let mut c = coord();
    let long = "x".repeat(NAME_MAX_BYTES + 1);
    assert!(matches!(
        c.init_producer_id(&long, 1000, None, Some(1), 0),
        Err(TxnError::InvalidRequest(_))
    ));
    ready(c.init_producer_id(T, 1000, None, Some(1), 0).unwrap());
    assert!(matches!(
        c.add_partitions(T, 1, 0, &[(long, 0)], 1),
        Err(TxnError::InvalidRequest(_))
    ));
    assert_eq!(c.get(T).unwrap().state, TxnState::Empty);
}

#[test]
fn dead_ids_refuse_new_partitions() {
    let mut c = coord();
    ready(c.init_producer_id(T, 1000, None, Some(1), 0).unwrap());
    c.txns.get_mut(T).unwrap().state = TxnState::Dead;
    assert!(matches!(
        c.add_partitions(T, 1, 0, &[tp("a", 0)], 1),
        Err(TxnError::InvalidTxnState(_))
    ));
}

#[test]
fn list_duration_filter_counts_only_open_transactions() {
    let mut c = coord();
    ready(c.init_producer_id(T, 50_000, None, Some(7), 0).unwrap());
    c.add_partitions(T, 7, 0, &[tp("a", 0)], 100).unwrap();
    c.end_txn(T, 7, 0, true, 150).unwrap();
    let prepare = c.list(&[], &[], 1000, 1100);
    assert_eq!(prepare.len(), 1);
    assert_eq!(prepare[0].state, TxnState::PrepareCommit);
    c.complete(T, 7, 0, 1200).unwrap();
    assert!(c.list(&[], &[], 0, 5000).is_empty());
    assert_eq!(c.list(&[], &[], -1, 5000).len(), 1);
    assert!(
        c.list(&["NoSuchState".to_string()], &[], -1, 5000)
            .is_empty()
    );
    assert_eq!(c.describe(T).unwrap().topics, vec![]);
}
