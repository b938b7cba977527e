//! Produce (key 0): validate each partition's record batch, append it, and
//! answer according to `acks`.
//!
//! * acks=0: append, no response at all (Kafka sends none).
//! * acks=1: answer after the append reached the page cache.
//! * acks=-1: refused with NOT_ENOUGH_REPLICAS while the in-sync replicas
//!   are fewer than the topic's `min.insync.replicas`; else answer after
//!   the batch is fsynced (group commit, see
//!   [`crate::partition`]); on one node the ISR is just this broker.
//!
//! The appends run in the connection's in-order phase so pipelined requests
//! append in the order they were sent; only the fsync wait is deferred.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use weir_metadata::names::validate_topic_name;
use weir_protocol::messages::produce_request::ProduceRequest;
use weir_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use weir_protocol::record_batch::{Compression, validate_record_set};
use weir_protocol::records::recompress_batch;

use crate::broker::{Broker, now_ms};
use crate::dispatch::{Pending, Reply, respond};
use crate::errors::{ErrorCode, append_error_code, batch_error_code, storage_error_code};
use crate::partition::{AppendOutcome, Partition};
use crate::request_metrics::count_response_errors;

const PRODUCE_KEY: i16 = 0;
/// Produce versions below 7 cannot carry zstd (KIP-110).
const ZSTD_MIN_PRODUCE_VERSION: i16 = 7;

/// The codec a topic's `compression.type` stores batches with; `None` keeps
/// the producer's.
fn target_codec(compression_type: &str) -> Option<Compression> {
    match compression_type {
        "uncompressed" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}
/// INVALID_RECORD: Produce v3+ must carry exactly one v2 batch per partition.
const INVALID_RECORD: i16 = 87;

fn part(index: i32, code: i16, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code,
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        error_message: message,
        ..Default::default()
    }
}

/// KIP-890 verification: a transactional batch is accepted only if its
/// producer id and epoch are the transaction's current ones and the
/// partition was added to the open transaction, so a zombie or a confused
/// client cannot open a transaction here that no marker would ever close.
fn verify_in_transaction(
    broker: &Broker,
    txn_id: &str,
    header: &weir_protocol::record_batch::BatchHeader,
    topic: &str,
    partition: i32,
) -> Result<(), ErrorCode> {
    if !broker.txns.is_ready() {
        // Not loaded yet (only right after start-up): the partition's own
        // epoch checks still apply.
        return Ok(());
    }
    let tp = [(topic.to_string(), partition)];
    let verdict =
        broker
            .txns
            .verify_partitions(txn_id, header.producer_id, header.producer_epoch, &tp);
    match verdict.into_iter().next().map(|(_, r)| r) {
        Some(Ok(())) => Ok(()),
        Some(Err(weir_txn::TxnError::ProducerFenced(_))) => Err(ErrorCode::InvalidProducerEpoch),
        _ => Err(ErrorCode::InvalidTxnState),
    }
}

/// Run the in-order part of a Produce request.
pub async fn begin(broker: &Arc<Broker>, cid: i32, version: i16, req: ProduceRequest) -> Pending {
    let acks = req.acks;
    let now = now_ms();
    let mut responses = Vec::with_capacity(req.topic_data.len());
    // (topic index, partition index in response, partition, offset to make durable)
    let mut durable: Vec<(usize, usize, Arc<Partition>, i64)> = Vec::new();
    let mut appended = false;
    for topic in req.topic_data {
        let name = topic.name;
        let mut parts = Vec::with_capacity(topic.partition_data.len());
        let topic_known = if validate_topic_name(&name).is_err() {
            None
        } else if broker.image().topic(&name).is_some() {
            Some(true)
        } else {
            Some(broker.auto_create(&name).await.unwrap_or(false))
        };
        for pd in topic.partition_data {
            let fail = |code: ErrorCode, msg: Option<String>| part(pd.index, code.code(), msg);
            if !matches!(acks, -1..=1) {
                parts.push(fail(ErrorCode::InvalidRequiredAcks, None));
                continue;
            }
            if version < 3 {
                // Message formats v0/v1 are gone (Kafka 4); v0-v2 stay advertised, see api_versions.
                parts.push(fail(
                    ErrorCode::UnsupportedVersion,
                    Some("produce v0-v2 are not supported".into()),
                ));
                continue;
            }
            match topic_known {
                None => {
                    parts.push(fail(ErrorCode::InvalidTopicException, None));
                    continue;
                }
                Some(false) => {
                    parts.push(fail(ErrorCode::UnknownTopicOrPartition, None));
                    continue;
                }
                Some(true) => {}
            }
            let Some(partition) = broker.logs.get(&name, pd.index) else {
                parts.push(fail(ErrorCode::UnknownTopicOrPartition, None));
                continue;
            };
            let records = pd.records.unwrap_or_default();
            let headers = match validate_record_set(&records) {
                Ok(h) => h,
                Err(e) => {
                    let code = batch_error_code(&e);
                    tracing::warn!(topic = %name, partition = pd.index, error = %e, "rejected produce batch");
                    parts.push(fail(code, Some(e.to_string())));
                    continue;
                }
            };
            if headers.len() != 1 {
                parts.push(part(
                    pd.index,
                    INVALID_RECORD,
                    Some(format!(
                        "produce v3+ needs exactly one record batch, got {}",
                        headers.len()
                    )),
                ));
                continue;
            }
            let cfg = partition.config();
            if let Some(h) = headers
                .iter()
                .find(|h| h.total_len() > cfg.max_message_bytes)
            {
                let msg = format!(
                    "batch of {} bytes exceeds max.message.bytes {}",
                    h.total_len(),
                    cfg.max_message_bytes
                );
                tracing::warn!(topic = %name, partition = pd.index, "{msg}");
                parts.push(fail(ErrorCode::MessageTooLarge, Some(msg)));
                continue;
            }
            let Some(header) = headers.first() else {
                continue;
            };
            if header.is_control() {
                // Kafka: only transaction coordinators write control records.
                parts.push(part(
                    pd.index,
                    INVALID_RECORD,
                    Some("clients may not write control records".into()),
                ));
                continue;
            }
            if header.is_transactional() && !header.has_producer_id() {
                parts.push(part(
                    pd.index,
                    INVALID_RECORD,
                    Some("a transactional batch needs a producer id".into()),
                ));
                continue;
            }
            if header.is_transactional()
                && let Some(txn_id) = req.transactional_id.as_deref()
                && let Err(code) = verify_in_transaction(broker, txn_id, header, &name, pd.index)
            {
                tracing::info!(topic = %name, partition = pd.index, transactional_id = txn_id, ?code, "transactional batch refused");
                parts.push(fail(code, None));
                continue;
            }
            if header.compression() == Compression::Zstd && version < ZSTD_MIN_PRODUCE_VERSION {
                parts.push(fail(
                    ErrorCode::UnsupportedCompressionType,
                    Some("zstd needs produce v7+".into()),
                ));
                continue;
            }
            let records = match target_codec(&cfg.compression_type) {
                Some(codec) if codec != header.compression() => {
                    match recompress_batch(&records, codec) {
                        Ok(b) => b,
                        Err(e) => {
                            parts.push(fail(batch_error_code(&e), Some(e.to_string())));
                            continue;
                        }
                    }
                }
                _ => records,
            };
            if acks == -1 && cfg.min_insync_replicas > 1 {
                let isr = broker
                    .image()
                    .topic(&name)
                    .and_then(|t| t.partitions.get(&pd.index).map(|p| p.isr.len()))
                    .unwrap_or(0);
                if isr < cfg.min_insync_replicas as usize {
                    // Kafka's `Partition.appendRecordsToLeader`: refused
                    // before anything is written.
                    let msg = format!(
                        "{isr} in-sync replicas, below min.insync.replicas {}",
                        cfg.min_insync_replicas
                    );
                    tracing::warn!(topic = %name, partition = pd.index, "{msg}");
                    parts.push(fail(ErrorCode::NotEnoughReplicas, Some(msg)));
                    continue;
                }
            }
            let log_append_time = cfg.log_append_time.then_some(now);
            match partition.append_batch(BytesMut::from(&records[..]), header, log_append_time, now)
            {
                Ok(AppendOutcome::Duplicate(meta)) => {
                    // A retried batch: answer with where it was written the first time.
                    let mut r = part(pd.index, 0, None);
                    r.base_offset = meta.first_offset;
                    r.log_start_offset = partition.offsets().map(|(start, _)| start).unwrap_or(-1);
                    if acks == -1 {
                        durable.push((
                            responses.len(),
                            parts.len(),
                            partition.clone(),
                            meta.last_offset + 1,
                        ));
                    }
                    parts.push(r);
                }
                Ok(AppendOutcome::Appended(info)) => {
                    appended = true;
                    let counters = partition.counters();
                    counters.records_in.increment(
                        u64::try_from(info.last_offset - info.first_offset + 1).unwrap_or(0),
                    );
                    counters.bytes_in.increment(records.len() as u64);
                    let mut r = part(pd.index, 0, None);
                    r.base_offset = info.first_offset;
                    r.log_append_time_ms = info.log_append_time_ms.unwrap_or(-1);
                    r.log_start_offset = partition.offsets().map(|(start, _)| start).unwrap_or(-1);
                    if acks == -1 {
                        durable.push((
                            responses.len(),
                            parts.len(),
                            partition.clone(),
                            info.last_offset + 1,
                        ));
                    }
                    parts.push(r);
                }
                Err(e) => {
                    let code = append_error_code(&e);
                    if code == ErrorCode::KafkaStorageError {
                        tracing::error!(topic = %name, partition = pd.index, error = %e, "append failed");
                    } else {
                        tracing::info!(topic = %name, partition = pd.index, error = %e, "produce batch refused");
                    }
                    parts.push(fail(code, Some(e.to_string())));
                }
            }
        }
        responses.push(TopicProduceResponse {
            name,
            partition_responses: parts,
            ..Default::default()
        });
    }
    if appended {
        broker.data_appended.notify_waiters();
    }
    let mut resp = ProduceResponse {
        responses,
        throttle_time_ms: 0,
        ..Default::default()
    };
    if acks == 0 {
        // Nothing goes back, so `respond` never sees these errors: count them here.
        count_response_errors(PRODUCE_KEY, version, &resp);
        return Pending::Ready(Reply::NoResponse);
    }
    if durable.is_empty() {
        return Pending::Ready(respond(cid, PRODUCE_KEY, version, &resp));
    }
    let timeout = Duration::from_millis(req.timeout_ms.max(0) as u64);
    Pending::Wait(Box::pin(async move {
        for (t, p, partition, offset) in durable {
            let outcome = tokio::time::timeout(timeout, partition.wait_durable(offset)).await;
            let code = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => storage_error_code(&e),
                Err(_) => ErrorCode::RequestTimedOut,
            };
            if let Some(r) = resp
                .responses
                .get_mut(t)
                .and_then(|t| t.partition_responses.get_mut(p))
            {
                r.error_code = code.code();
            }
        }
        respond(cid, PRODUCE_KEY, version, &resp)
    }))
}
