//! `weir consume TOPIC`: print records, like `kafka-console-consumer.sh`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use weir_client::{
    Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, OffsetSpec, TopicPartition,
};

use crate::output::{OutputFormat, bytes_to_json, is_broken_pipe, write_json_line};
use crate::{ConnectArgs, topic_error};

/// Longest single poll; the loop re-checks its exit conditions this often.
const POLL_SLICE: Duration = Duration::from_millis(500);

/// Where `--offset` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// An absolute offset.
    At(i64),
    /// The log-start offset.
    Earliest,
    /// The end of the log.
    Latest,
}

fn parse_offset(s: &str) -> Result<StartOffset, String> {
    match s {
        "earliest" | "beginning" => Ok(StartOffset::Earliest),
        "latest" | "end" => Ok(StartOffset::Latest),
        _ => match s.parse::<i64>() {
            Ok(o) if o >= 0 => Ok(StartOffset::At(o)),
            _ => Err(format!(
                "offset must be a non-negative number, earliest or latest, got {s:?}"
            )),
        },
    }
}

/// `weir consume`.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to consume
    pub topic: String,
    /// Start at the earliest offset instead of the end
    #[arg(long, conflicts_with = "offset")]
    pub from_beginning: bool,
    /// Exit after this many records
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Consume only this partition (default: all partitions)
    #[arg(long, value_name = "P")]
    pub partition: Option<i32>,
    /// Where to start in --partition: an offset, earliest or latest
    #[arg(long, requires = "partition", value_parser = parse_offset, value_name = "O|earliest|latest")]
    pub offset: Option<StartOffset>,
    /// Exit after this many ms without a new record (default: wait forever)
    #[arg(long, value_name = "T")]
    pub timeout_ms: Option<u64>,
    /// Print the key too (plain output): KEY<SEP>VALUE
    #[arg(long)]
    pub print_key: bool,
    /// Separator between key and value with --print-key
    #[arg(long, default_value = "\t", value_name = "SEP")]
    pub key_separator: String,
    /// Connection and output flags
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub(crate) async fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let client = args.connect.connect().await?;
    let meta = client
        .topic(&args.topic, false)
        .await
        .map_err(|e| topic_error("consume from", &args.topic, &e))?;
    let partitions: Vec<TopicPartition> = match args.partition {
        Some(p) if meta.partition(p).is_none() => {
            anyhow::bail!(
                "topic '{}' has no partition {p} (it has {})",
                args.topic,
                meta.partition_count()
            )
        }
        Some(p) => vec![TopicPartition::new(args.topic.clone(), p)],
        None => meta
            .partitions
            .iter()
            .map(|p| TopicPartition::new(args.topic.clone(), p.partition))
            .collect(),
    };
    let start = match (args.offset, args.from_beginning) {
        (Some(StartOffset::At(o)), _) => OffsetSpec::Offset(o),
        (Some(StartOffset::Earliest), _) | (None, true) => OffsetSpec::Earliest,
        (Some(StartOffset::Latest), _) | (None, false) => OffsetSpec::Latest,
    };
    let config = ConsumerConfig {
        // A position that falls out of the log restarts at the beginning,
        // as with --from-beginning; explicit offsets past the end wait there.
        auto_offset_reset: if start == OffsetSpec::Latest {
            OffsetReset::Latest
        } else {
            OffsetReset::Earliest
        },
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(client, config);
    consumer.assign(partitions);
    consumer.seek_all(start);

    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut printed = 0u64;
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    let result = async {
        loop {
            if args.max_messages.is_some_and(|max| printed >= max) {
                break;
            }
            let slice = match timeout {
                Some(t) => {
                    let left = t.saturating_sub(last_record.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    left.min(POLL_SLICE)
                }
                None => POLL_SLICE,
            };
            let records = consumer
                .poll(slice)
                .await
                .map_err(|e| anyhow::anyhow!("consuming '{}' failed: {e}", args.topic))?;
            if records.is_empty() {
                continue;
            }
            last_record = Instant::now();
            for r in &records {
                if args.max_messages.is_some_and(|max| printed >= max) {
                    break;
                }
                write_record(&mut out, r, &args)?;
                printed += 1;
            }
            out.flush()?;
        }
        anyhow::Ok(())
    }
    .await;
    match result {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(is_broken_pipe) =>
        {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    match out.flush() {
        Err(e) if is_broken_pipe(&e) => {}
        other => other?,
    }
    eprintln!("Processed a total of {printed} messages");
    Ok(ExitCode::SUCCESS)
}

fn write_record(
    out: &mut impl Write,
    r: &ConsumerRecord,
    args: &ConsumeArgs,
) -> std::io::Result<()> {
    match args.connect.output {
        OutputFormat::Plain => {
            if args.print_key {
                out.write_all(r.key.as_deref().unwrap_or(b"null"))?;
                out.write_all(args.key_separator.as_bytes())?;
            }
            out.write_all(r.value.as_deref().unwrap_or(b"null"))?;
            out.write_all(b"\n")
        }
        OutputFormat::Json => write_json_line(out, &record_json(r)),
    }
}

/// One record as JSON: key and value as UTF-8 strings, or base64 with a
/// `key_encoding`/`value_encoding` of `"base64"` when they are not UTF-8.
/// Header values follow the same rule (base64 ones are listed in
/// `header_encodings`).
pub(crate) fn record_json(r: &ConsumerRecord) -> serde_json::Value {
    let (key, key_b64) = bytes_to_json(r.key.as_deref());
    let (value, value_b64) = bytes_to_json(r.value.as_deref());
    let mut headers = serde_json::Map::new();
    let mut header_encodings = serde_json::Map::new();
    for h in &r.headers {
        let (v, b64) = bytes_to_json(h.value.as_deref());
        if b64 {
            header_encodings.insert(h.key.clone(), json!("base64"));
        }
        headers.insert(h.key.clone(), v);
    }
    let mut doc = json!({
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp_ms,
        "key": key,
        "value": value,
        "headers": headers,
    });
    if let Some(obj) = doc.as_object_mut() {
        if key_b64 {
            obj.insert("key_encoding".into(), json!("base64"));
        }
        if value_b64 {
            obj.insert("value_encoding".into(), json!("base64"));
        }
        if !header_encodings.is_empty() {
            obj.insert(
                "header_encodings".into(),
                serde_json::Value::Object(header_encodings),
            );
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use weir_client::{RecordHeader, TimestampType};

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("5"), Ok(StartOffset::At(5)));
        assert_eq!(parse_offset("earliest"), Ok(StartOffset::Earliest));
        assert_eq!(parse_offset("latest"), Ok(StartOffset::Latest));
        assert!(parse_offset("-3").is_err());
        assert!(parse_offset("x").is_err());
    }

    #[test]
    fn json_uses_base64_only_for_binary() {
        let r = ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp_ms: 1_700_000_000_000,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(&[0xff, 0x00])),
            headers: vec![
                RecordHeader {
                    key: "a".into(),
                    value: Some(Bytes::from_static(b"1")),
                },
                RecordHeader {
                    key: "n".into(),
                    value: None,
                },
            ],
        };
        let doc = record_json(&r);
        assert_eq!(doc["key"], "k");
        assert_eq!(doc["value"], "/wA=");
        assert_eq!(doc["value_encoding"], "base64");
        assert!(doc.get("key_encoding").is_none());
        assert_eq!(doc["headers"]["a"], "1");
        assert!(doc["headers"]["n"].is_null());
        assert_eq!(doc["offset"], 7);
    }
}
