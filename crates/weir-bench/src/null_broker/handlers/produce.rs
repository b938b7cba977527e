//! Produce (key 0): validate each partition's record set at batch level and
//! hand out offsets; store nothing.
//!
//! The checks are the ones a broker makes on its hot path before it appends
//! (and all Weir's ceiling may assume of one): every batch whole, magic 2,
//! length within the set, CRC-32C correct, `recordsCount >= 1` and equal to
//! `lastOffsetDelta + 1`. Records are not decoded, compressed batches not
//! decompressed: their CRC covers the compressed bytes.

use weir_protocol::messages::produce_request::ProduceRequest;
use weir_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use weir_protocol::record_batch::{BatchError, BatchIter};

use crate::null_broker::NullBroker;
use crate::null_broker::error_codes::{ErrorCode, batch_error_code, topic_error_code};

/// acks=0: no response at all.
const ACKS_NONE: i16 = 0;

/// The batch-level checks; returns the number of records in the set.
pub fn check_record_set(record_set: &[u8]) -> Result<i64, BatchError> {
    if record_set.is_empty() {
        return Err(BatchError::EmptyRecordSet);
    }
    let mut records = 0i64;
    for item in BatchIter::verified(record_set) {
        let (_, header) = item?;
        if header.records_count < 1
            || i64::from(header.last_offset_delta) != i64::from(header.records_count) - 1
        {
            return Err(BatchError::InvalidRecordCount {
                records_count: header.records_count,
                last_offset_delta: header.last_offset_delta,
            });
        }
        records += i64::from(header.records_count);
    }
    Ok(records)
}

fn partition_error(index: i32, code: ErrorCode) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.code(),
        base_offset: -1,
        ..Default::default()
    }
}

/// Answer Produce; `None` for acks=0, which gets no response.
pub fn handle(broker: &NullBroker, req: ProduceRequest) -> Option<ProduceResponse> {
    let acks_valid = matches!(req.acks, -1..=1);
    let mut appended = false;
    let responses = req
        .topic_data
        .into_iter()
        .map(|t| {
            let topic = broker.topics.get_or_create(&t.name);
            let partition_responses = t
                .partition_data
                .into_iter()
                .map(|p| {
                    if !acks_valid {
                        return partition_error(p.index, ErrorCode::InvalidRequiredAcks);
                    }
                    let topic = match &topic {
                        Ok(topic) => topic,
                        Err(e) => return partition_error(p.index, topic_error_code(e)),
                    };
                    let Some(partition) = topic.partition(p.index) else {
                        return partition_error(p.index, ErrorCode::UnknownTopicOrPartition);
                    };
                    let record_set = p.records.unwrap_or_default();
                    match check_record_set(&record_set) {
                        Ok(records) => {
                            appended = true;
                            PartitionProduceResponse {
                                index: p.index,
                                error_code: ErrorCode::None.code(),
                                base_offset: partition.append(&record_set, records),
                                log_append_time_ms: -1,
                                log_start_offset: 0,
                                ..Default::default()
                            }
                        }
                        Err(e) => partition_error(p.index, batch_error_code(&e)),
                    }
                })
                .collect();
            TopicProduceResponse {
                name: t.name,
                partition_responses,
                ..Default::default()
            }
        })
        .collect();
    if appended {
        broker.topics.appended.notify_waiters();
    }
    (req.acks != ACKS_NONE).then(|| ProduceResponse {
        responses,
        throttle_time_ms: 0,
        ..Default::default()
    })
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]
mod tests {
    use weir_protocol::records::BatchBuilder;

    use super::*;

    fn batch(records: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(0);
        for _ in 0..records {
            b.push(None, Some(b"value"), &[], 0);
        }
        b.build().to_vec()
    }

    #[test]
    fn counts_records_of_every_batch() {
        let mut set = batch(3);
        set.extend_from_slice(&batch(4));
        assert_eq!(check_record_set(&set).unwrap(), 7);
    }

    #[test]
    fn refuses_what_a_broker_refuses() {
        assert_eq!(check_record_set(&[]), Err(BatchError::EmptyRecordSet));
        let mut corrupt = batch(2);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        assert!(matches!(
            check_record_set(&corrupt),
            Err(BatchError::CorruptCrc { .. })
        ));
        let whole = batch(2);
        assert!(matches!(
            check_record_set(&whole[..whole.len() - 1]),
            Err(BatchError::Truncated { .. })
        ));
        let mut old_magic = batch(1);
        old_magic[16] = 1;
        assert_eq!(
            check_record_set(&old_magic),
            Err(BatchError::InvalidMagic(1))
        );
    }
}
