//! Property: replaying what was appended (refused batches are not)
//! rebuilds the committed and the pending offsets of every group, whatever
//! mix of transactional and plain commits, markers, deletions and expiry
//! came before.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Txn(usize, i64, i32, i64, bool),
    Plain(usize, i32, i64),
    Marker(i64, bool),
    DeleteGroup(usize),
    DeleteOffset(usize, i32),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..2usize;
    let pid = 1..3i64;
    let p = 0..3i32;
    prop_oneof![
        (
            g.clone(),
            pid.clone(),
            p.clone(),
            0..100i64,
            prop::bool::weighted(0.2)
        )
            .prop_map(|(g, pid, p, o, refused)| Op::Txn(g, pid, p, o, refused)),
        (g.clone(), p.clone(), 0..100i64).prop_map(|(g, p, o)| Op::Plain(g, p, o)),
        (pid, any::<bool>()).prop_map(|(pid, c)| Op::Marker(pid, c)),
        g.clone().prop_map(Op::DeleteGroup),
        (g, p).prop_map(|(g, p)| Op::DeleteOffset(g, p)),
        (0..1_500i64).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Replaying what was appended (refused batches are not) rebuilds the
    /// committed and the pending offsets of every group.
    #[test]
    fn replay_rebuilds_committed_and_pending_offsets(ops in proptest::collection::vec(op(), 1..60)) {
        let mut c = GroupCoordinator::new(config(), 1);
        c.finish_replay(0);
        let mut now = 0;
        let mut log = Vec::new();
        let name = |g: usize| format!("g{g}");
        for op in &ops {
            match op {
                Op::Txn(g, pid, p, o, refused) => {
                    let out = c.txn_commit_offsets(&txn(&name(*g), *pid, *p, *o), &exists, now);
                    log.extend(drive(&mut c, out.effects, *refused));
                }
                Op::Plain(g, p, o) => {
                    let out = c.commit_offsets(8, &plain(&name(*g), *p, *o), &exists, now);
                    log.extend(drive(&mut c, out.effects, false));
                }
                Op::Marker(pid, commit) => {
                    c.complete_txn(*pid, *commit, &all);
                    log.push(Entry::Marker(*pid, *commit));
                }
                Op::DeleteGroup(g) => {
                    let out = c.delete_group(&name(*g));
                    log.extend(drive(&mut c, out.effects, false));
                }
                Op::DeleteOffset(g, p) => {
                    let out = c.delete_offsets(&name(*g), &[("t".into(), *p)], &exists);
                    log.extend(drive(&mut c, out.effects, false));
                }
                Op::Advance(dt) => {
                    now += dt;
                    let fx = c.tick(now);
                    log.extend(drive(&mut c, fx, false));
                }
            }
        }
        let r = replay(&log);
        for g in 0..2 {
            let id = name(g);
            prop_assert_eq!(r.fetch_offsets(&id), c.fetch_offsets(&id), "offsets of {}", id);
            prop_assert_eq!(
                r.pending_txn_partitions(&id),
                c.pending_txn_partitions(&id),
                "pending offsets of {}", id
            );
            if !c.pending_txn_partitions(&id).is_empty() {
                prop_assert!(c.group_state(&id).is_some(), "{} has pending offsets", id);
            }
        }
    }
}
