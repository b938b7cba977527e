//! `weir groups reset-offsets`: plan new committed offsets for a group and,
//! with `--execute`, commit them.
//!
//! As with `kafka-consumer-groups.sh --reset-offsets`: the default is a dry
//! run that only prints the plan; every target is clamped to the partition's
//! `[log-start, log-end]` range; `--execute` commits on the admin path
//! (generation -1, no member id) and is refused while the group has active
//! members, because their next commit would overwrite the reset. A dry run
//! of an active group prints the plan with a warning on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use weir_client::{Consumer, ConsumerConfig, GroupAdmin, OffsetSpec, TopicPartition};

use crate::ConnectArgs;
use crate::groups::{group_error, write_table};
use crate::output::OutputFormat;
use crate::topic_error;

/// `weir groups reset-offsets`.
#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])
))]
pub struct ResetArgs {
    /// Group id
    pub group: String,
    /// Topic, or topic with partitions (`orders:0,2`); repeatable
    #[arg(long = "topic", required = true, value_name = "TOPIC[:P,...]", value_parser = parse_topic_spec)]
    pub topics: Vec<(String, Option<Vec<i32>>)>,
    /// Reset to the log-start offset
    #[arg(long)]
    pub to_earliest: bool,
    /// Reset to the log-end offset
    #[arg(long)]
    pub to_latest: bool,
    /// Reset to this offset (clamped to the partition's range)
    #[arg(long, value_name = "OFFSET", allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// Reset to the first offset at or after this time:
    /// YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM|-HH:MM] (UTC without a zone)
    #[arg(long, value_name = "ISO8601", value_parser = parse_datetime_ms)]
    pub to_datetime: Option<i64>,
    /// Move the committed offset by N (negative: back)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// Only print the plan (the default)
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Commit the plan
    #[arg(long)]
    pub execute: bool,
    /// Connection and output flags
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlannedReset {
    partition: TopicPartition,
    current_offset: Option<i64>,
    new_offset: i64,
}

/// Parse `topic` or `topic:0,1,2`.
pub(crate) fn parse_topic_spec(s: &str) -> Result<(String, Option<Vec<i32>>), String> {
    let (topic, parts) = match s.rsplit_once(':') {
        None => (s, None),
        Some((t, p)) => (t, Some(p)),
    };
    if topic.is_empty() {
        return Err(format!("expected TOPIC or TOPIC:P,P..., got {s:?}"));
    }
    let partitions = match parts {
        None => None,
        Some(p) => Some(
            p.split(',')
                .map(|x| {
                    x.trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| format!("invalid partition {x:?} in {s:?}"))
                })
                .collect::<Result<Vec<i32>, String>>()?,
        ),
    };
    Ok((topic.to_owned(), partitions))
}

/// Parse an ISO-8601 date-time into milliseconds since the epoch.
pub(crate) fn parse_datetime_ms(s: &str) -> Result<i64, String> {
    let bad = || format!("expected YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM], got {s:?}");
    let (date, rest) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let mut d = date.split('-');
    let year: i64 = d.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let month: u32 = d.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let day: u32 = d.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    // Split off the zone: `Z`, or a sign after the time part.
    let (time, offset_minutes) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, zone) = rest.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let digits: String = zone.chars().skip(1).filter(|c| *c != ':').collect();
        if digits.len() != 4 {
            return Err(bad());
        }
        let hh: i64 = digits
            .get(..2)
            .and_then(|x| x.parse().ok())
            .ok_or_else(bad)?;
        let mm: i64 = digits
            .get(2..)
            .and_then(|x| x.parse().ok())
            .ok_or_else(bad)?;
        (t, sign * (hh * 60 + mm))
    } else {
        (rest, 0)
    };
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut t = hms.split(':');
    let hour: i64 = t.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let minute: i64 = t.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let second: i64 = match t.next() {
        Some(x) => x.parse().map_err(|_| bad())?,
        None => 0,
    };
    if t.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let millis: i64 = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()) => {
            let padded: String = f.chars().chain("000".chars()).take(3).collect();
            padded.parse().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) async fn run_reset(args: ResetArgs) -> anyhow::Result<ExitCode> {
    let client = args.connect.connect().await?;
    let admin = GroupAdmin::new(client.clone());
    let group = args.group.as_str();
    let description = admin
        .describe_group(group)
        .await
        .map_err(|e| group_error("describe", group, &e))?;
    if !description.is_inactive() {
        let why = format!(
            "assignments can only be reset if the group '{group}' is inactive, but the current state is {} ({} active members)",
            description.state,
            description.members.len()
        );
        if args.execute {
            anyhow::bail!("{why}");
        }
        eprintln!("Warning: {why}; --execute would be refused.");
    }

    let mut partitions: Vec<TopicPartition> = Vec::new();
    for (topic, wanted) in &args.topics {
        client.invalidate_topic(topic);
        let meta = client
            .topic(topic, false)
            .await
            .map_err(|e| topic_error("read", topic, &e))?;
        match wanted {
            None => partitions.extend(
                meta.partitions
                    .iter()
                    .map(|p| TopicPartition::new(topic.clone(), p.partition)),
            ),
            Some(ps) => {
                for p in ps {
                    if meta.partition(*p).is_none() {
                        anyhow::bail!("topic '{topic}' has no partition {p}");
                    }
                    partitions.push(TopicPartition::new(topic.clone(), *p));
                }
            }
        }
    }
    partitions.sort();
    partitions.dedup();

    let committed: BTreeMap<TopicPartition, i64> = admin
        .fetch_offsets(group, Some(&partitions))
        .await
        .map_err(|e| group_error("fetch the offsets of", group, &e))?
        .into_iter()
        .filter(|c| c.offset >= 0)
        .map(|c| (c.partition, c.offset))
        .collect();
    let consumer = Consumer::new(client, ConsumerConfig::default());
    let lookup = |spec: OffsetSpec| {
        let specs: Vec<(TopicPartition, OffsetSpec)> =
            partitions.iter().map(|tp| (tp.clone(), spec)).collect();
        let consumer = &consumer;
        async move {
            let mut out = BTreeMap::new();
            for (tp, r) in consumer.list_offsets(&specs).await? {
                out.insert(tp, r?);
            }
            Ok::<_, weir_client::ClientError>(out)
        }
    };
    let read_err = |e| anyhow::anyhow!("could not read partition offsets: {e}");
    let starts = lookup(OffsetSpec::Earliest).await.map_err(read_err)?;
    let ends = lookup(OffsetSpec::Latest).await.map_err(read_err)?;
    let by_time = match args.to_datetime {
        Some(ms) => Some(lookup(OffsetSpec::Timestamp(ms)).await.map_err(read_err)?),
        None => None,
    };

    let mut plan = Vec::with_capacity(partitions.len());
    for tp in &partitions {
        let start = starts.get(tp).copied().unwrap_or(0);
        let end = ends.get(tp).copied().unwrap_or(start);
        let current = committed.get(tp).copied();
        let target = if args.to_earliest {
            start
        } else if args.to_latest {
            end
        } else if let Some(o) = args.to_offset {
            o
        } else if let Some(by_time) = &by_time {
            // No record at or after the time: the end of the log.
            match by_time.get(tp).copied() {
                Some(o) if o >= 0 => o,
                _ => end,
            }
        } else if let Some(n) = args.shift_by {
            let Some(c) = current else {
                anyhow::bail!(
                    "cannot shift the offset of {tp}: group '{group}' has no committed offset for it"
                );
            };
            c.saturating_add(n)
        } else {
            anyhow::bail!("no reset target given");
        };
        plan.push(PlannedReset {
            partition: tp.clone(),
            current_offset: current,
            new_offset: target.clamp(start, end.max(start)),
        });
    }

    if args.execute {
        let offsets: Vec<(TopicPartition, i64)> = plan
            .iter()
            .map(|p| (p.partition.clone(), p.new_offset))
            .collect();
        let results = admin
            .commit_offsets(group, &offsets)
            .await
            .map_err(|e| group_error("commit the offsets of", group, &e))?;
        for (tp, r) in results {
            if let Err(e) = r {
                // UNKNOWN_MEMBER_ID: a member joined since the state check.
                if e.kafka_code() == Some(25) {
                    anyhow::bail!(
                        "could not reset {tp}: group '{group}' has active members again ({e})"
                    );
                }
                anyhow::bail!("could not commit the new offset of {tp} for group '{group}': {e}");
            }
        }
    }

    let mut out = std::io::stdout();
    match args.connect.output {
        OutputFormat::Plain => {
            let rows: Vec<Vec<String>> = plan
                .iter()
                .map(|p| {
                    vec![
                        group.to_owned(),
                        p.partition.topic.clone(),
                        p.partition.partition.to_string(),
                        p.new_offset.to_string(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
                &rows,
            )?;
        }
        OutputFormat::Json => {
            let doc = json!({
                "group": group,
                "executed": args.execute,
                "partitions": plan.iter().map(|p| json!({
                    "topic": p.partition.topic,
                    "partition": p.partition.partition,
                    "current_offset": p.current_offset,
                    "new_offset": p.new_offset,
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{doc}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs_parse() {
        assert_eq!(parse_topic_spec("orders"), Ok(("orders".into(), None)));
        assert_eq!(
            parse_topic_spec("orders:0,2"),
            Ok(("orders".into(), Some(vec![0, 2])))
        );
        assert!(parse_topic_spec("orders:x").is_err());
        assert!(parse_topic_spec("orders:-1").is_err());
        assert!(parse_topic_spec(":1").is_err());
    }

    #[test]
    fn datetimes_parse_to_epoch_millis() {
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_datetime_ms("2023-11-14T22:13:20.000Z"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_datetime_ms("2023-11-14T22:13:20.5"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(
            parse_datetime_ms("2023-11-15T00:13:20+02:00"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_datetime_ms("2023-11-14T20:13:20-0200"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_datetime_ms("2024-02-29T00:00"), Ok(1_709_164_800_000));
        for bad in [
            "",
            "2024-13-01T00:00:00",
            "2024-01-01",
            "2024-01-01T25:00:00",
            "x",
        ] {
            assert!(parse_datetime_ms(bad).is_err(), "{bad}");
        }
    }
}
