//! Reading an internal topic partition back at start-up: the coordinators
//! (`__consumer_offsets`, `__transaction_state`) rebuild their state by
//! walking every batch from the log start. Unreadable batches, markers and
//! records are logged and skipped (a coordinator must start even if one
//! record is damaged). The console's record browser walks a partition the
//! same way from a chosen offset.

use weir_protocol::control::{Marker, decode_marker};
use weir_protocol::record_batch::{BatchHeader, BatchIter};
use weir_protocol::records::{Record, decode_batch_records};
use weir_storage::StorageError;

use crate::partition::Partition;

/// Bytes read per step.
const CHUNK_BYTES: usize = 1 << 20;

/// What one batch of the log holds.
pub enum Item<'a> {
    /// A transaction marker.
    Marker(Marker),
    /// A record of a data batch, with that batch's header.
    Record(&'a BatchHeader, Record),
}

/// Call `f` with every marker and record of `p`, in offset order.
pub fn replay_partition(p: &Partition, mut f: impl FnMut(Item<'_>)) -> Result<(), StorageError> {
    let (start, _) = p.offsets()?;
    walk(p, start, |item| {
        f(item);
        true
    })
}

/// Call `f` with the markers and records of `p` from the batch holding
/// `from` (so records of that batch before `from` come too) up to the high
/// watermark, in offset order, while `f` returns true.
pub fn walk(
    p: &Partition,
    from: i64,
    mut f: impl FnMut(Item<'_>) -> bool,
) -> Result<(), StorageError> {
    let (_, end) = p.offsets()?;
    let mut offset = from;
    while offset < end {
        let chunk = p.read(offset, CHUNK_BYTES)?;
        let mut advanced = false;
        for item in BatchIter::new(&chunk) {
            let Ok((pos, h)) = item else { break };
            advanced = true;
            offset = h.last_offset() + 1;
            let Some(bytes) = chunk.get(pos..pos + h.total_len()) else {
                break;
            };
            let batch = chunk.slice_ref(bytes);
            if h.is_control() {
                match decode_marker(&batch) {
                    Ok(m) => {
                        if !f(Item::Marker(m)) {
                            return Ok(());
                        }
                    }
                    Err(e) => {
                        tracing::warn!(topic = %p.topic, partition = p.index, offset = h.base_offset, error = %e, "skipping unreadable marker");
                    }
                }
                continue;
            }
            match decode_batch_records(&batch) {
                Ok((_, records)) => {
                    for r in records {
                        if !f(Item::Record(&h, r)) {
                            return Ok(());
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, offset = h.base_offset, error = %e, "skipping unreadable batch");
                }
            }
        }
        if !advanced {
            break;
        }
    }
    Ok(())
}
