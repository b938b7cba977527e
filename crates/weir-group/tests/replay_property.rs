//! Property: after any sequence of group operations, replaying the records
//! the coordinator asked to persist (through their on-disk encoding)
//! rebuilds exactly the committed offsets of every group, and the
//! generation and members of every group that is Stable or Empty.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use weir_group::{
    CommitPartition, CommitRequest, Effect, GroupCoordinator, GroupRecord, GroupState,
    LeavingMember, Response,
};

#[derive(Debug, Clone)]
enum Op {
    Join(usize, usize),
    Sync(usize, usize),
    Heartbeat(usize, usize),
    Leave(usize, usize),
    Commit(usize, Option<usize>, i32, i64),
    DeleteGroup(usize),
    DeleteOffset(usize, i32),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..2usize;
    let m = 0..3usize;
    prop_oneof![
        (g.clone(), m.clone()).prop_map(|(g, m)| Op::Join(g, m)),
        (g.clone(), m.clone()).prop_map(|(g, m)| Op::Sync(g, m)),
        (g.clone(), m.clone()).prop_map(|(g, m)| Op::Heartbeat(g, m)),
        (g.clone(), m.clone()).prop_map(|(g, m)| Op::Leave(g, m)),
        (g.clone(), proptest::option::of(m), 0..3i32, 0..100i64)
            .prop_map(|(g, m, p, o)| Op::Commit(g, m, p, o)),
        g.clone().prop_map(Op::DeleteGroup),
        (g, 0..3i32).prop_map(|(g, p)| Op::DeleteOffset(g, p)),
        (0..20_000i64).prop_map(Op::Advance),
    ]
}

fn group(g: usize) -> String {
    format!("g{g}")
}

struct Model {
    c: GroupCoordinator,
    now: i64,
    next_req: u64,
    /// (group, member index) → (member id, generation)
    ids: HashMap<(usize, usize), (String, i32)>,
    /// request → (group, member index)
    asked: HashMap<u64, (usize, usize)>,
    log: Vec<GroupRecord>,
}

impl Model {
    fn effects(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Persist { records, .. } => self.log.extend(records),
                Effect::Respond(r, Response::Join(o)) => {
                    if let Some(k) = self.asked.get(&r)
                        && (o.error.is_none() || !o.member_id.is_empty())
                    {
                        self.ids.insert(*k, (o.member_id.clone(), o.generation_id));
                    }
                }
                Effect::Respond(..) | Effect::PersistTxn { .. } => {}
            }
        }
    }

    fn step(&mut self, op: &Op) {
        let exists = |t: &str, p: i32| t == "t" && (0..3).contains(&p);
        self.next_req += 1;
        let req = self.next_req;
        match op {
            Op::Join(g, m) => {
                let id = self
                    .ids
                    .get(&(*g, *m))
                    .map(|x| x.0.clone())
                    .unwrap_or_default();
                let mut r = join_req(&id, None, b"meta");
                r.group_id = group(*g);
                self.asked.insert(req, (*g, *m));
                let fx = self.c.join(req, 5, &r, "c", "/h", self.now);
                self.effects(fx);
            }
            Op::Sync(g, m) => {
                let Some((id, generation)) = self.ids.get(&(*g, *m)).cloned() else {
                    return;
                };
                let mut r = sync_req(&id, generation, &[(&id, b"a")]);
                r.group_id = group(*g);
                let fx = self.c.sync(req, &r, self.now);
                self.effects(fx);
            }
            Op::Heartbeat(g, m) => {
                let Some((id, generation)) = self.ids.get(&(*g, *m)).cloned() else {
                    return;
                };
                let mut r = hb(&id, generation);
                r.group_id = group(*g);
                let _ = self.c.heartbeat(&r, self.now);
            }
            Op::Leave(g, m) => {
                let Some((id, _)) = self.ids.get(&(*g, *m)).cloned() else {
                    return;
                };
                let out = self.c.leave(
                    &group(*g),
                    &[LeavingMember {
                        member_id: id,
                        group_instance_id: None,
                    }],
                    self.now,
                );
                self.effects(out.effects);
            }
            Op::Commit(g, m, p, o) => {
                let (member_id, generation_id) =
                    match m.and_then(|m| self.ids.get(&(*g, m)).cloned()) {
                        Some(x) => x,
                        None => (String::new(), -1),
                    };
                let req = CommitRequest {
                    group_id: group(*g),
                    generation_id,
                    member_id,
                    group_instance_id: None,
                    partitions: vec![CommitPartition {
                        topic: "t".into(),
                        partition: *p,
                        offset: *o,
                        leader_epoch: -1,
                        metadata: None,
                    }],
                };
                let out = self.c.commit_offsets(8, &req, &exists, self.now);
                self.effects(out.effects);
            }
            Op::DeleteGroup(g) => {
                let out = self.c.delete_group(&group(*g));
                self.effects(out.effects);
            }
            Op::DeleteOffset(g, p) => {
                let out = self
                    .c
                    .delete_offsets(&group(*g), &[("t".into(), *p)], &exists);
                self.effects(out.effects);
            }
            Op::Advance(dt) => {
                self.now += dt;
                let fx = self.c.tick(self.now);
                self.effects(fx);
            }
        }
        // Drive due timers, as the broker's timer task does.
        if self.c.next_deadline() <= self.now {
            let fx = self.c.tick(self.now);
            self.effects(fx);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn replay_rebuilds_offsets_and_settled_groups(ops in proptest::collection::vec(op(), 1..60)) {
        let mut m = Model {
            c: coordinator(),
            now: 0,
            next_req: 0,
            ids: HashMap::new(),
            asked: HashMap::new(),
            log: Vec::new(),
        };
        for op in &ops {
            m.step(op);
        }
        let mut r = coordinator();
        for rec in &m.log {
            let (k, v) = rec.encode().unwrap();
            r.replay(GroupRecord::decode(Some(&k), v.as_ref()).unwrap());
        }
        for g in 0..2 {
            let id = group(g);
            let live = m.c.fetch_offsets(&id).unwrap();
            prop_assert_eq!(r.fetch_offsets(&id).unwrap(), live, "offsets of {}", id);
            // A group that never completed a generation (only a pending
            // member, as after MEMBER_ID_REQUIRED) is not persisted.
            let settled = match m.c.group_state(&id) {
                Some(GroupState::Stable) => true,
                Some(GroupState::Empty) => m.c.generation(&id) != Some(0),
                _ => false,
            };
            if settled {
                let (a, b) = (m.c.describe(&id).unwrap(), r.describe(&id).unwrap());
                prop_assert_eq!(&a.members, &b.members, "members of {}", id);
                prop_assert_eq!(m.c.generation(&id), r.generation(&id), "generation of {}", id);
            }
        }
    }
}
