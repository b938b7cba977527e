//! `weir groups list|describe|reset-offsets|delete`, shaped like
//! `kafka-consumer-groups.sh`.
//!
//! `describe` joins three sources, as Kafka's tool does: DescribeGroups at
//! the coordinator (state, members, assignments), OffsetFetch at the
//! coordinator (committed offsets) and ListOffsets(latest) at each leader
//! (log-end offsets). Lag is log-end minus committed, `-` without a commit.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use weir_client::{
    Client, ClientError, Consumer, ConsumerConfig, GroupAdmin, GroupDescription, OffsetSpec,
    TopicPartition,
};

use crate::ConnectArgs;
use crate::groups_reset::{ResetArgs, run_reset};
use crate::output::OutputFormat;

/// Kafka's `NON_EMPTY_GROUP`.
const NON_EMPTY_GROUP: i16 = 68;
/// Kafka's `GROUP_ID_NOT_FOUND`.
const GROUP_ID_NOT_FOUND: i16 = 69;
/// Kafka's `INVALID_GROUP_ID`.
const INVALID_GROUP_ID: i16 = 24;

/// `weir groups`.
#[derive(clap::Args, Debug)]
pub struct GroupsArgs {
    /// What to do
    #[command(subcommand)]
    pub action: GroupsAction,
}

/// The `weir groups` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum GroupsAction {
    /// List consumer groups
    List {
        /// Only groups in this state (Empty, Stable, PreparingRebalance,
        /// CompletingRebalance, Dead); repeatable or comma-separated
        #[arg(long = "state", value_delimiter = ',', value_name = "STATE")]
        states: Vec<String>,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Describe a group: state, and per partition committed offset,
    /// log-end offset, lag and owner
    Describe {
        /// Group id
        group: String,
        /// Also list the members with their assigned partitions
        #[arg(long)]
        members: bool,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Reset committed offsets of an inactive group (dry run by default)
    ResetOffsets(ResetArgs),
    /// Delete a group that has no active members, with its offsets
    Delete {
        /// Group id
        group: String,
        /// Connection and output flags
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

pub(crate) async fn run(args: GroupsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    match args.action {
        GroupsAction::List { states, connect } => {
            let admin = GroupAdmin::new(connect.connect().await?);
            let groups = admin
                .list_groups(&states)
                .await
                .map_err(|e| anyhow::anyhow!("could not list groups: {e}"))?;
            match connect.output {
                OutputFormat::Plain => {
                    for g in &groups {
                        writeln!(out, "{}", g.group_id)?;
                    }
                }
                OutputFormat::Json => {
                    let doc: Vec<_> = groups
                        .iter()
                        .map(|g| {
                            json!({
                                "group_id": g.group_id,
                                "protocol_type": g.protocol_type,
                                "state": g.state,
                            })
                        })
                        .collect();
                    writeln!(out, "{}", serde_json::Value::Array(doc))?;
                }
            }
        }
        GroupsAction::Describe {
            group,
            members,
            connect,
        } => {
            let client = connect.connect().await?;
            let report = describe(client, &group).await?;
            match connect.output {
                OutputFormat::Plain => write_report(&mut out, &report, members)?,
                OutputFormat::Json => writeln!(out, "{}", report_json(&report))?,
            }
        }
        GroupsAction::ResetOffsets(args) => return run_reset(args).await,
        GroupsAction::Delete { group, connect } => {
            let admin = GroupAdmin::new(connect.connect().await?);
            admin
                .delete_group(&group)
                .await
                .map_err(|e| group_error("delete", &group, &e))?;
            match connect.output {
                OutputFormat::Plain => writeln!(
                    out,
                    "Deletion of requested consumer groups ('{group}') was successful."
                )?,
                OutputFormat::Json => {
                    writeln!(out, "{}", json!({"group": group, "deleted": true}))?
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A user-facing message for an error about group `group`, naming the
/// Kafka error code when there is one.
pub(crate) fn group_error(action: &str, group: &str, e: &ClientError) -> anyhow::Error {
    let ClientError::Kafka {
        code,
        name,
        message,
    } = e
    else {
        return anyhow::anyhow!("could not {action} group '{group}': {e}");
    };
    let detail = message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match *code {
        NON_EMPTY_GROUP => anyhow::anyhow!(
            "group '{group}' is not empty: it has active members; stop them first ({name})"
        ),
        GROUP_ID_NOT_FOUND => anyhow::anyhow!("group '{group}' does not exist ({name})"),
        INVALID_GROUP_ID => anyhow::anyhow!("invalid group id '{group}'{detail} ({name})"),
        _ => anyhow::anyhow!("could not {action} group '{group}'{detail} ({name})"),
    }
}

/// One row of the describe table: a partition the group owns or has
/// committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionRow {
    pub(crate) partition: TopicPartition,
    /// Committed offset, `None` without a commit.
    pub(crate) current_offset: Option<i64>,
    /// Log-end offset (high watermark), `None` if it could not be read.
    pub(crate) log_end_offset: Option<i64>,
    /// Owner: (consumer id, host, client id).
    pub(crate) owner: Option<(String, String, String)>,
}

impl PartitionRow {
    /// Log-end minus committed, when both are known (never negative).
    pub(crate) fn lag(&self) -> Option<i64> {
        match (self.current_offset, self.log_end_offset) {
            (Some(c), Some(e)) if c >= 0 => Some((e - c).max(0)),
            _ => None,
        }
    }
}

/// Everything `describe` prints.
#[derive(Debug)]
pub(crate) struct GroupReport {
    pub(crate) description: GroupDescription,
    pub(crate) rows: Vec<PartitionRow>,
}

/// Gather the description, committed offsets and log-end offsets of `group`.
pub(crate) async fn describe(client: Arc<Client>, group: &str) -> anyhow::Result<GroupReport> {
    let admin = GroupAdmin::new(client.clone());
    let description = admin
        .describe_group(group)
        .await
        .map_err(|e| group_error("describe", group, &e))?;
    let committed = admin
        .fetch_offsets(group, None)
        .await
        .map_err(|e| group_error("fetch the offsets of", group, &e))?;
    let mut owners: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
    for m in &description.members {
        for tp in m.assignment.iter().flatten() {
            owners.insert(
                tp.clone(),
                (
                    m.member_id.clone(),
                    m.client_host.clone(),
                    m.client_id.clone(),
                ),
            );
        }
    }
    let committed: BTreeMap<TopicPartition, i64> = committed
        .into_iter()
        .filter(|c| c.offset >= 0)
        .map(|c| (c.partition, c.offset))
        .collect();
    let partitions: BTreeSet<TopicPartition> =
        owners.keys().chain(committed.keys()).cloned().collect();
    let specs: Vec<(TopicPartition, OffsetSpec)> = partitions
        .iter()
        .map(|tp| (tp.clone(), OffsetSpec::Latest))
        .collect();
    let consumer = Consumer::new(client, ConsumerConfig::default());
    let ends: BTreeMap<TopicPartition, i64> = consumer
        .list_offsets(&specs)
        .await
        .map_err(|e| anyhow::anyhow!("could not read log-end offsets: {e}"))?
        .into_iter()
        .filter_map(|(tp, r)| r.ok().map(|o| (tp, o)))
        .collect();
    let rows = partitions
        .into_iter()
        .map(|tp| PartitionRow {
            current_offset: committed.get(&tp).copied(),
            log_end_offset: ends.get(&tp).copied(),
            owner: owners.get(&tp).cloned(),
            partition: tp,
        })
        .collect();
    Ok(GroupReport { description, rows })
}

fn dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Left-aligned columns separated by two spaces, like Kafka's tool.
pub(crate) fn write_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == last {
                    (*c).to_owned()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn write_report(out: &mut impl Write, r: &GroupReport, members: bool) -> std::io::Result<()> {
    let d = &r.description;
    writeln!(out, "GROUP: {}", d.group_id)?;
    writeln!(out, "STATE: {}", d.state)?;
    writeln!(out, "PROTOCOL-TYPE: {}", d.protocol_type)?;
    writeln!(out, "PROTOCOL: {}", d.protocol)?;
    writeln!(out, "COORDINATOR: {}", d.coordinator)?;
    writeln!(out)?;
    if d.state == "Dead" && d.members.is_empty() && r.rows.is_empty() {
        // As Kafka's tool says of a group the coordinator does not know.
        writeln!(out, "Consumer group '{}' does not exist.", d.group_id)?;
        return Ok(());
    }
    if d.members.is_empty() {
        writeln!(
            out,
            "Consumer group '{}' has no active members.",
            d.group_id
        )?;
        writeln!(out)?;
    }
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let (consumer, host, client) = row
                .owner
                .clone()
                .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
            vec![
                d.group_id.clone(),
                row.partition.topic.clone(),
                row.partition.partition.to_string(),
                dash(row.current_offset),
                dash(row.log_end_offset),
                dash(row.lag()),
                consumer,
                host,
                client,
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &rows,
    )?;
    if members {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = d
            .members
            .iter()
            .map(|m| {
                let assigned = m.assignment.as_deref().unwrap_or(&[]);
                vec![
                    d.group_id.clone(),
                    m.member_id.clone(),
                    m.group_instance_id.clone().unwrap_or_else(|| "-".into()),
                    m.client_host.clone(),
                    m.client_id.clone(),
                    m.assignment
                        .as_ref()
                        .map_or_else(|| "-".into(), |a| a.len().to_string()),
                    format_assignment(assigned),
                ]
            })
            .collect();
        write_table(
            out,
            &[
                "GROUP",
                "CONSUMER-ID",
                "GROUP-INSTANCE-ID",
                "HOST",
                "CLIENT-ID",
                "#PARTITIONS",
                "ASSIGNMENT",
            ],
            &rows,
        )?;
    }
    Ok(())
}

/// Kafka's `--members --verbose` form: `t1(0,1),t2(3)`; `-` for none.
pub(crate) fn format_assignment(partitions: &[TopicPartition]) -> String {
    if partitions.is_empty() {
        return "-".into();
    }
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(t, mut ps)| {
            ps.sort_unstable();
            let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
            format!("{t}({})", ps.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn report_json(r: &GroupReport) -> serde_json::Value {
    let d = &r.description;
    json!({
        "group": d.group_id,
        "state": d.state,
        "protocol_type": d.protocol_type,
        "protocol": d.protocol,
        "coordinator": {
            "id": d.coordinator.node_id,
            "host": d.coordinator.host,
            "port": d.coordinator.port,
        },
        "partitions": r.rows.iter().map(|row| json!({
            "topic": row.partition.topic,
            "partition": row.partition.partition,
            "current_offset": row.current_offset,
            "log_end_offset": row.log_end_offset,
            "lag": row.lag(),
            "consumer_id": row.owner.as_ref().map(|o| &o.0),
            "host": row.owner.as_ref().map(|o| &o.1),
            "client_id": row.owner.as_ref().map(|o| &o.2),
        })).collect::<Vec<_>>(),
        "members": d.members.iter().map(|m| json!({
            "member_id": m.member_id,
            "group_instance_id": m.group_instance_id,
            "client_id": m.client_id,
            "host": m.client_host,
            "assignment": m.assignment.as_ref().map(|a| a.iter().map(|tp| json!({
                "topic": tp.topic,
                "partition": tp.partition,
            })).collect::<Vec<_>>()),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_log_end_minus_committed() {
        let row = |c, e| PartitionRow {
            partition: TopicPartition::new("t", 0),
            current_offset: c,
            log_end_offset: e,
            owner: None,
        };
        assert_eq!(row(Some(3), Some(10)).lag(), Some(7));
        assert_eq!(row(None, Some(10)).lag(), None);
        assert_eq!(row(Some(3), None).lag(), None);
        // A commit past the end (log truncated) shows no negative lag.
        assert_eq!(row(Some(12), Some(10)).lag(), Some(0));
    }

    #[test]
    fn assignments_print_like_kafka() {
        let tps = [
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 0),
            TopicPartition::new("b", 0),
        ];
        assert_eq!(format_assignment(&tps), "a(0),b(0,1)");
        assert_eq!(format_assignment(&[]), "-");
    }

    #[test]
    fn tables_align_columns() {
        let mut buf = Vec::new();
        write_table(
            &mut buf,
            &["A", "BB"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        )
        .unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&buf), "A    BB\nxyz  1\nq    22\n");
    }

    #[test]
    fn group_errors_name_the_code() {
        let e = group_error("delete", "g", &ClientError::kafka(NON_EMPTY_GROUP, None));
        assert_eq!(
            e.to_string(),
            "group 'g' is not empty: it has active members; stop them first (NON_EMPTY_GROUP)"
        );
        let e = group_error("delete", "g", &ClientError::kafka(GROUP_ID_NOT_FOUND, None));
        assert_eq!(
            e.to_string(),
            "group 'g' does not exist (GROUP_ID_NOT_FOUND)"
        );
    }
}
