//! Timers and recovery: aborting timed-out transactions, expiring idle
//! transactional ids, and rebuilding state from `__transaction_state`.

use crate::record::TxnRecord;
use crate::state::TxnState;
use crate::types::{MarkerJob, NO_EPOCH, NO_PRODUCER, Tick, TxnMetadata};

use super::TxnCoordinator;

impl TxnCoordinator {
    /// Abort timed-out transactions (Ongoing with `start_ms + timeout_ms <
    /// now_ms`), bumping the epoch so their producer is fenced (Kafka's
    /// `abortTimedOutTransactions`), and expire ids idle (Empty or
    /// Complete*, `last_update_ms + id_expiration_ms < now_ms`); at most
    /// `limit` of each per call.
    pub fn tick(&mut self, now_ms: i64, limit: usize) -> Tick {
        let mut tick = Tick::default();
        let expiration = self.config.id_expiration_ms;
        let mut expired_ids = Vec::new();
        for (id, m) in &mut self.txns {
            if m.state == TxnState::Ongoing
                && m.start_ms.saturating_add(i64::from(m.timeout_ms)) < now_ms
                && tick.aborts.len() < limit
            {
                m.bump_epoch(false);
                m.state = TxnState::PrepareAbort;
                m.last_update_ms = now_ms;
                tick.aborts.push((m.job(id, false), m.record(id)));
            } else if m.state.is_idle()
                && m.last_update_ms.saturating_add(expiration) < now_ms
                && expired_ids.len() < limit
            {
                expired_ids.push(id.clone());
            }
        }
        for id in expired_ids {
            self.txns.remove(&id);
            tick.expired.push(TxnRecord {
                transactional_id: id,
                value: None,
            });
        }
        tick
    }

    /// The earliest time an open transaction times out (`i64::MAX`: none).
    pub fn next_deadline(&self) -> i64 {
        self.txns
            .values()
            .filter(|m| m.state == TxnState::Ongoing)
            .map(|m| m.start_ms.saturating_add(i64::from(m.timeout_ms)))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Apply a record read back from `__transaction_state` (a tombstone
    /// removes the id). Records written by Kafka are accepted too: Dead
    /// removes the id, PrepareEpochFence becomes PrepareAbort with the next
    /// epoch, and the start time Kafka keeps in Complete records is cleared.
    pub fn replay(&mut self, r: TxnRecord) {
        let Some(v) = r.value else {
            self.txns.remove(&r.transactional_id);
            return;
        };
        if v.state == TxnState::Dead {
            self.txns.remove(&r.transactional_id);
            return;
        }
        let mut m = TxnMetadata {
            producer_id: v.producer_id,
            last_producer_id: NO_PRODUCER,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: NO_EPOCH,
            timeout_ms: v.timeout_ms,
            state: v.state,
            partitions: v
                .partitions
                .into_iter()
                .flat_map(|(t, ids)| ids.into_iter().map(move |p| (t.clone(), p)))
                .collect(),
            start_ms: v.start_ms,
            last_update_ms: v.last_update_ms,
        };
        if m.state == TxnState::PrepareEpochFence {
            m.bump_epoch(false);
            m.state = TxnState::PrepareAbort;
        }
        if m.state.is_idle() {
            m.partitions.clear();
            m.start_ms = -1;
        }
        debug_assert!(m.is_consistent(), "{}: {m:?}", r.transactional_id);
        self.txns.insert(r.transactional_id, m);
    }

    /// Transactions in PrepareCommit/PrepareAbort: after replay, the ones
    /// whose markers the broker was writing when it stopped. The driver
    /// writes them again and calls [`TxnCoordinator::complete`].
    pub fn unfinished(&self) -> Vec<MarkerJob> {
        self.txns
            .iter()
            .filter_map(|(id, m)| match m.state {
                TxnState::PrepareCommit => Some(m.job(id, true)),
                TxnState::PrepareAbort => Some(m.job(id, false)),
                _ => None,
            })
            .collect()
    }
}
