//! `weir produce TOPIC`: one record per line of stdin, like
//! `kafka-console-producer.sh`.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use weir_client::{
    Acks, ClientError, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, RecordHeader,
    RecordMetadata,
};

use crate::output::{OutputFormat, write_json_line};
use crate::{ConnectArgs, parse_key_value, topic_error};

/// Deliveries awaited at most this far behind the line being read, which
/// bounds the memory held for results.
const DELIVERIES_PENDING_MAX: usize = 10_000;

/// `weir produce`.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// Topic to produce to
    pub topic: String,
    /// Split each line at the first SEP into key and value
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Send every record to this partition (default: by key, or spread)
    #[arg(long)]
    pub partition: Option<i32>,
    /// Acknowledgements to wait for: -1 (all), 0 (none) or 1 (leader)
    #[arg(long, default_value = "-1", allow_hyphen_values = true, value_parser = parse_acks)]
    pub acks: Acks,
    /// Header added to every record (repeatable)
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub headers: Vec<(String, String)>,
    /// How long a batch waits for more records, in ms
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Batch size in bytes
    #[arg(long, default_value_t = 16 * 1024)]
    pub batch_size: usize,
    /// Connection and output flags
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub(crate) fn parse_acks(s: &str) -> Result<Acks, String> {
    match s {
        "all" => Ok(Acks::All),
        _ => s
            .parse::<i16>()
            .ok()
            .and_then(Acks::from_i16)
            .ok_or_else(|| format!("acks must be -1, 0, 1 or all, got {s:?}")),
    }
}

/// One line split into key and value.
fn split_line(line: &[u8], separator: Option<&[u8]>) -> Option<(Option<Bytes>, Bytes)> {
    let Some(sep) = separator else {
        return Some((None, Bytes::copy_from_slice(line)));
    };
    let at = line.windows(sep.len()).position(|w| w == sep)?;
    let key = line.get(..at)?;
    let value = line.get(at + sep.len()..)?;
    Some((
        Some(Bytes::copy_from_slice(key)),
        Bytes::copy_from_slice(value),
    ))
}

struct Results<W: Write> {
    out: W,
    output: OutputFormat,
    failed: u64,
}

impl<W: Write> Results<W> {
    fn record(
        &mut self,
        line_no: u64,
        result: Result<RecordMetadata, ClientError>,
        topic: &str,
    ) -> std::io::Result<()> {
        match result {
            Ok(md) => {
                if self.output == OutputFormat::Json {
                    let doc = json!({
                        "topic": md.topic,
                        "partition": md.partition,
                        "offset": md.offset,
                        "timestamp": md.timestamp_ms,
                    });
                    write_json_line(&mut self.out, &doc)?;
                }
            }
            Err(e) => {
                self.failed += 1;
                eprintln!(
                    "Error: line {line_no}: {}",
                    topic_error("produce to", topic, &e)
                );
            }
        }
        Ok(())
    }
}

pub(crate) async fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    if args.key_separator.as_deref() == Some("") {
        anyhow::bail!("--key-separator must not be empty");
    }
    let client = args.connect.connect().await?;
    // Fail early, with a clear message, on a topic that does not exist
    // (unless the broker auto-creates it) or a partition out of range.
    let meta = client
        .topic(&args.topic, true)
        .await
        .map_err(|e| topic_error("produce to", &args.topic, &e))?;
    if let Some(p) = args.partition
        && meta.partition(p).is_none()
    {
        anyhow::bail!(
            "topic '{}' has no partition {p} (it has {})",
            args.topic,
            meta.partition_count()
        );
    }
    let config = ProducerConfig {
        acks: args.acks,
        linger: Duration::from_millis(args.linger_ms),
        batch_size_bytes: args.batch_size.max(1),
        ..ProducerConfig::default()
    };
    let producer = Producer::new(client, config);
    let headers: Vec<RecordHeader> = args
        .headers
        .iter()
        .map(|(k, v)| RecordHeader {
            key: k.clone(),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
        })
        .collect();
    let separator = args.key_separator.as_deref().map(str::as_bytes);

    let mut results = Results {
        out: std::io::BufWriter::new(std::io::stdout()),
        output: args.connect.output,
        failed: 0,
    };
    let mut pending: VecDeque<(u64, DeliveryFuture)> = VecDeque::new();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut fatal = None;
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let Some((key, value)) = split_line(&line, separator) else {
            fatal = Some(anyhow::anyhow!(
                "line {line_no} has no key separator {:?}",
                args.key_separator.as_deref().unwrap_or_default()
            ));
            break;
        };
        let record = ProducerRecord {
            topic: args.topic.clone(),
            partition: args.partition,
            key,
            value: Some(value),
            headers: headers.clone(),
            timestamp_ms: None,
        };
        match producer.enqueue(record).await {
            Ok(delivery) => pending.push_back((line_no, delivery)),
            Err(e) => {
                fatal = Some(topic_error("produce to", &args.topic, &e));
                break;
            }
        }
        // Report finished deliveries as they come, in input order.
        while pending.len() > DELIVERIES_PENDING_MAX {
            if let Some((n, d)) = pending.pop_front() {
                results.record(n, d.await, &args.topic)?;
            }
        }
    }
    producer.flush().await;
    while let Some((n, d)) = pending.pop_front() {
        results.record(n, d.await, &args.topic)?;
    }
    producer.close().await;
    results.out.flush()?;
    if let Some(e) = fatal {
        return Err(e);
    }
    if results.failed > 0 {
        eprintln!(
            "Error: {} of {line_no} records were not delivered",
            results.failed
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_first_separator() {
        assert_eq!(
            split_line(b"k:v:w", Some(b":")),
            Some((Some(Bytes::from_static(b"k")), Bytes::from_static(b"v:w")))
        );
        assert_eq!(
            split_line(b"k::v", Some(b"::")),
            Some((Some(Bytes::from_static(b"k")), Bytes::from_static(b"v")))
        );
        assert_eq!(
            split_line(b":v", Some(b":")),
            Some((Some(Bytes::new()), Bytes::from_static(b"v")))
        );
        assert_eq!(split_line(b"novalue", Some(b":")), None);
        assert_eq!(
            split_line(b"a:b", None),
            Some((None, Bytes::from_static(b"a:b")))
        );
    }

    #[test]
    fn acks_parse() {
        assert_eq!(parse_acks("-1"), Ok(Acks::All));
        assert_eq!(parse_acks("all"), Ok(Acks::All));
        assert_eq!(parse_acks("0"), Ok(Acks::None));
        assert_eq!(parse_acks("1"), Ok(Acks::Leader));
        assert!(parse_acks("2").is_err());
    }
}
