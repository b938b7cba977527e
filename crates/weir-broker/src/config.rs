//! Broker configuration: Kafka's `server.properties` keys, defaults and
//! validation.
//!
//! Sources, lowest priority first: built-in defaults, the properties file
//! (`--config`), then command-line overrides. Unknown keys are reported as
//! warnings (a typo must not stop a broker); a known key with an invalid
//! value is a startup error naming the key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use weir_metadata::topic_config::TOPIC_CONFIGS;

/// A `NAME://host:port` listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Listener name, e.g. `PLAINTEXT`.
    pub name: String,
    /// Host or IP (empty = all interfaces, as Kafka).
    pub host: String,
    /// Port, 0 = ephemeral.
    pub port: u16,
}

impl Listener {
    /// Parse `NAME://host:port`.
    pub fn parse(s: &str) -> Option<Listener> {
        let (name, rest) = s.trim().split_once("://")?;
        let (host, port) = rest.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Listener {
            name: name.to_string(),
            host: host.to_string(),
            port: port.parse().ok()?,
        })
    }
}

/// A startup configuration error; always names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value failed to parse or validate.
    #[error("invalid value {value:?} for configuration {key}: {reason}")]
    Invalid {
        /// Config key.
        key: String,
        /// Offending value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The properties file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    File {
        /// File path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Validated broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id` (or `broker.id`).
    pub node_id: i32,
    /// `listeners`.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners` (defaults to `listeners`).
    pub advertised_listeners: Vec<Listener>,
    /// `log.dirs` (or `log.dir`).
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions`: default partition count for new topics.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `message.max.bytes`: largest record batch accepted (topic default).
    pub message_max_bytes: usize,
    /// `socket.request.max.bytes`: largest request frame accepted.
    pub socket_request_max_bytes: usize,
    /// `log.flush.scheduler.interval.ms`: how often the flusher checks `flush.ms`.
    pub log_flush_scheduler_interval_ms: u64,
    /// `log.flush.offset.checkpoint.interval.ms`: how often recovery points are checkpointed.
    pub log_flush_offset_checkpoint_interval_ms: u64,
    /// `log.retention.check.interval.ms`: how often retention and the log
    /// cleaner look at every log.
    pub log_retention_check_interval_ms: u64,
    /// `log.cleaner.enable`: compact `cleanup.policy=compact` topics.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.dedupe.buffer.size`: memory for the cleaner's key map.
    pub log_cleaner_dedupe_buffer_size: usize,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`
    /// when it is created (Kafka's default, 50).
    pub offsets_topic_num_partitions: i32,
    /// Group coordinator settings (`group.*`, `offset.metadata.max.bytes`,
    /// `offsets.retention.*`).
    pub group: weir_group::GroupConfig,
    /// Transaction coordinator and producer-id expiry settings.
    pub txn: crate::txn_config::TxnConfig,
    /// `admin.listener`: host:port of the HTTP listener for `/metrics`,
    /// `/health` and `/ready` (`None`: disabled).
    pub admin_listener: Option<String>,
    /// The web console on the admin listener (`admin.console.*`).
    pub admin_console: AdminConsoleConfig,
    /// Every static property as given (file + overrides), used to resolve
    /// topic config defaults through their `log.*` synonyms.
    pub props: BTreeMap<String, String>,
}

/// The web console's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConsoleConfig {
    /// `admin.console.enable` (default true): serve the console at `/`.
    pub enable: bool,
    /// `admin.console.read.only` (default true): refuse the console's
    /// writes (creating and deleting topics).
    pub read_only: bool,
    /// `admin.console.sample.interval.ms` (default 5000, at least 100):
    /// how often rates and lag are sampled for the charts.
    pub sample_interval_ms: u64,
}

/// Keys a Kafka `server.properties` commonly carries that Weir accepts
/// without acting on them (single-node, no separate network/IO pools).
const TOLERATED_KEYS: &[&str] = &[
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "num.network.threads",
    "num.io.threads",
    "num.recovery.threads.per.data.dir",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
];

const BROKER_KEYS: &[&str] = &[
    "node.id",
    "broker.id",
    "listeners",
    "advertised.listeners",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "message.max.bytes",
    "socket.request.max.bytes",
    "log.flush.scheduler.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "log.retention.check.interval.ms",
    "log.cleaner.enable",
    "log.cleaner.dedupe.buffer.size",
    "offsets.topic.num.partitions",
    "admin.listener",
    "admin.console.enable",
    "admin.console.read.only",
    "admin.console.sample.interval.ms",
    "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.max.size",
    "offset.metadata.max.bytes",
    "offsets.retention.minutes",
    "offsets.retention.check.interval.ms",
];

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn parse_int<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, ConfigError> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| invalid(key, v, "expected an integer in range")),
    }
}

fn parse_bool(
    props: &BTreeMap<String, String>,
    key: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(invalid(key, &v, "expected true or false")),
    }
}

fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
    let out: Option<Vec<Listener>> = value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Listener::parse)
        .collect();
    match out {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(invalid(
            key,
            value,
            "expected a comma-separated list of NAME://host:port",
        )),
    }
}

fn is_synonym_key(key: &str) -> bool {
    TOPIC_CONFIGS
        .iter()
        .any(|d| d.synonyms.iter().any(|(k, _)| *k == key))
}

/// Validate a `log.*`-style broker key through the topic config it feeds.
fn validate_synonym(key: &str, value: &str) -> Result<(), ConfigError> {
    weir_metadata::broker_config::validate_broker_synonym(key, value).map_err(|e| match e {
        weir_metadata::topic_config::ConfigError::InvalidValue { reason, .. } => {
            invalid(key, value, reason)
        }
        other => invalid(key, value, other.to_string()),
    })
}

/// Read a Java properties file.
pub fn read_properties_file(
    path: &std::path::Path,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let file = std::fs::File::open(path).map_err(|e| ConfigError::File {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let map =
        java_properties::read(std::io::BufReader::new(file)).map_err(|e| ConfigError::File {
            path: path.into(),
            reason: e.to_string(),
        })?;
    Ok(map.into_iter().collect())
}

impl BrokerConfig {
    /// Validate properties. Returns the config and one warning per unknown key.
    pub fn from_props(
        props: BTreeMap<String, String>,
    ) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        for key in props.keys() {
            let k = key.as_str();
            if !(BROKER_KEYS.contains(&k)
                || TOLERATED_KEYS.contains(&k)
                || crate::txn_config::TXN_KEYS.contains(&k)
                || is_synonym_key(k))
            {
                warnings.push(format!("unknown configuration key {k:?} is ignored"));
            }
        }
        for (k, v) in &props {
            if is_synonym_key(k) {
                validate_synonym(k, v)?;
            }
        }
        let node_id = match (props.get("node.id"), props.get("broker.id")) {
            (Some(_), _) => parse_int(&props, "node.id", 1)?,
            (None, Some(_)) => parse_int(&props, "broker.id", 1)?,
            (None, None) => 1,
        };
        if node_id < 0 {
            return Err(invalid("node.id", &node_id.to_string(), "must be >= 0"));
        }
        let listeners = match props.get("listeners") {
            Some(v) => parse_listeners("listeners", v)?,
            None => vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
            }],
        };
        let advertised_listeners = match props.get("advertised.listeners") {
            Some(v) => parse_listeners("advertised.listeners", v)?,
            None => listeners.clone(),
        };
        let dirs = props
            .get("log.dirs")
            .or_else(|| props.get("log.dir"))
            .cloned()
            .unwrap_or_else(|| "./weir-data".into());
        let log_dirs: Vec<PathBuf> = dirs
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            return Err(invalid("log.dirs", &dirs, "no directory given"));
        }
        let num_partitions: i32 = parse_int(&props, "num.partitions", 1)?;
        if num_partitions < 1 {
            return Err(invalid(
                "num.partitions",
                &num_partitions.to_string(),
                "must be at least 1",
            ));
        }
        let default_replication_factor: i16 = parse_int(&props, "default.replication.factor", 1)?;
        if default_replication_factor < 1 {
            return Err(invalid(
                "default.replication.factor",
                &default_replication_factor.to_string(),
                "must be at least 1",
            ));
        }
        let auto_create_topics = parse_bool(&props, "auto.create.topics.enable", true)?;
        let message_max_bytes: i32 = parse_int(&props, "message.max.bytes", 1_048_588)?;
        if message_max_bytes < 0 {
            return Err(invalid(
                "message.max.bytes",
                &message_max_bytes.to_string(),
                "must be >= 0",
            ));
        }
        let socket_request_max_bytes: i32 =
            parse_int(&props, "socket.request.max.bytes", 104_857_600)?;
        if socket_request_max_bytes < 1 {
            return Err(invalid(
                "socket.request.max.bytes",
                &socket_request_max_bytes.to_string(),
                "must be >= 1",
            ));
        }
        let log_flush_scheduler_interval_ms: i64 =
            parse_int(&props, "log.flush.scheduler.interval.ms", 1000)?;
        let log_flush_offset_checkpoint_interval_ms: i64 =
            parse_int(&props, "log.flush.offset.checkpoint.interval.ms", 60_000)?;
        for (k, v) in [
            (
                "log.flush.scheduler.interval.ms",
                log_flush_scheduler_interval_ms,
            ),
            (
                "log.flush.offset.checkpoint.interval.ms",
                log_flush_offset_checkpoint_interval_ms,
            ),
        ] {
            if v < 1 {
                return Err(invalid(k, &v.to_string(), "must be at least 1"));
            }
        }
        let log_retention_check_interval_ms: i64 =
            parse_int(&props, "log.retention.check.interval.ms", 300_000)?;
        if log_retention_check_interval_ms < 1 {
            return Err(invalid(
                "log.retention.check.interval.ms",
                &log_retention_check_interval_ms.to_string(),
                "must be at least 1",
            ));
        }
        let log_cleaner_enable = parse_bool(&props, "log.cleaner.enable", true)?;
        // Kafka's default is 128 MiB shared by its cleaner threads; one
        // cleaner pass here gets 32 MiB unless configured.
        let log_cleaner_dedupe_buffer_size: i64 =
            parse_int(&props, "log.cleaner.dedupe.buffer.size", 32 << 20)?;
        if log_cleaner_dedupe_buffer_size < 1024 {
            return Err(invalid(
                "log.cleaner.dedupe.buffer.size",
                &log_cleaner_dedupe_buffer_size.to_string(),
                "must be at least 1024",
            ));
        }
        let offsets_topic_num_partitions: i32 =
            parse_int(&props, "offsets.topic.num.partitions", 50)?;
        if offsets_topic_num_partitions < 1 {
            return Err(invalid(
                "offsets.topic.num.partitions",
                &offsets_topic_num_partitions.to_string(),
                "must be at least 1",
            ));
        }
        let group = group_config(&props)?;
        let txn = crate::txn_config::txn_config(&props)?;
        let admin_listener = match props.get("admin.listener").map(|v| v.trim()) {
            None => Some("127.0.0.1:9644".to_string()),
            Some("" | "none") => None,
            Some(v)
                if v.rsplit_once(':')
                    .is_some_and(|(_, port)| port.parse::<u16>().is_ok()) =>
            {
                Some(v.to_string())
            }
            Some(v) => return Err(invalid("admin.listener", v, "expected host:port, or none")),
        };
        let sample_interval_ms: u64 = parse_int(&props, "admin.console.sample.interval.ms", 5000)?;
        if sample_interval_ms < 100 {
            return Err(invalid(
                "admin.console.sample.interval.ms",
                &sample_interval_ms.to_string(),
                "must be at least 100",
            ));
        }
        let admin_console = AdminConsoleConfig {
            enable: parse_bool(&props, "admin.console.enable", true)?,
            read_only: parse_bool(&props, "admin.console.read.only", true)?,
            sample_interval_ms,
        };
        Ok((
            BrokerConfig {
                txn,
                admin_listener,
                admin_console,
                log_retention_check_interval_ms: log_retention_check_interval_ms as u64,
                log_cleaner_enable,
                log_cleaner_dedupe_buffer_size: log_cleaner_dedupe_buffer_size as usize,
                offsets_topic_num_partitions,
                group,
                node_id,
                listeners,
                advertised_listeners,
                log_dirs,
                num_partitions,
                default_replication_factor,
                auto_create_topics,
                message_max_bytes: message_max_bytes as usize,
                socket_request_max_bytes: socket_request_max_bytes as usize,
                log_flush_scheduler_interval_ms: log_flush_scheduler_interval_ms as u64,
                log_flush_offset_checkpoint_interval_ms: log_flush_offset_checkpoint_interval_ms
                    as u64,
                props,
            },
            warnings,
        ))
    }
}

/// The group coordinator's keys, with Kafka's defaults and bounds.
fn group_config(props: &BTreeMap<String, String>) -> Result<weir_group::GroupConfig, ConfigError> {
    let d = weir_group::GroupConfig::default();
    let at_least = |key: &str, v: i64, min: i64| {
        if v < min {
            Err(invalid(
                key,
                &v.to_string(),
                format!("must be at least {min}"),
            ))
        } else {
            Ok(v)
        }
    };
    let min_session: i32 = parse_int(
        props,
        "group.min.session.timeout.ms",
        d.min_session_timeout_ms,
    )?;
    let max_session: i32 = parse_int(
        props,
        "group.max.session.timeout.ms",
        d.max_session_timeout_ms,
    )?;
    if max_session < min_session {
        return Err(invalid(
            "group.max.session.timeout.ms",
            &max_session.to_string(),
            "must not be below group.min.session.timeout.ms",
        ));
    }
    let delay: i32 = parse_int(
        props,
        "group.initial.rebalance.delay.ms",
        d.initial_rebalance_delay_ms,
    )?;
    at_least("group.initial.rebalance.delay.ms", i64::from(delay), 0)?;
    let max_size: i32 = parse_int(props, "group.max.size", i32::MAX)?;
    at_least("group.max.size", i64::from(max_size), 1)?;
    let metadata_max: i32 = parse_int(props, "offset.metadata.max.bytes", 4096)?;
    at_least("offset.metadata.max.bytes", i64::from(metadata_max), 0)?;
    let retention_min: i64 = parse_int(props, "offsets.retention.minutes", 10_080)?;
    at_least("offsets.retention.minutes", retention_min, 1)?;
    let check_ms: i64 = parse_int(
        props,
        "offsets.retention.check.interval.ms",
        d.offsets_retention_check_interval_ms,
    )?;
    at_least("offsets.retention.check.interval.ms", check_ms, 1)?;
    Ok(weir_group::GroupConfig {
        min_session_timeout_ms: min_session,
        max_session_timeout_ms: max_session,
        initial_rebalance_delay_ms: delay,
        max_size: usize::try_from(max_size).unwrap_or(usize::MAX),
        offset_metadata_max_bytes: usize::try_from(metadata_max).unwrap_or(0),
        offsets_retention_ms: retention_min.saturating_mul(60_000),
        offsets_retention_check_interval_ms: check_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_quick_start() {
        let (c, w) = BrokerConfig::from_props(props(&[])).unwrap();
        assert!(w.is_empty());
        assert_eq!(
            c.listeners,
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092
            }]
        );
        assert_eq!(c.log_dirs, vec![PathBuf::from("./weir-data")]);
        assert_eq!(c.num_partitions, 1);
        assert!(c.auto_create_topics);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
    }

    #[test]
    fn invalid_values_name_the_key_and_unknown_keys_warn() {
        let err = BrokerConfig::from_props(props(&[("num.partitions", "abc")])).unwrap_err();
        assert!(err.to_string().contains("num.partitions"), "{err}");
        let err = BrokerConfig::from_props(props(&[("log.retention.hours", "x")])).unwrap_err();
        assert!(err.to_string().contains("log.retention.hours"), "{err}");
        let err = BrokerConfig::from_props(props(&[("log.segment.bytes", "10")])).unwrap_err();
        assert!(err.to_string().contains("log.segment.bytes"), "{err}");
        let err = BrokerConfig::from_props(props(&[("listeners", "nonsense")])).unwrap_err();
        assert!(err.to_string().contains("listeners"), "{err}");
        let (_, w) = BrokerConfig::from_props(props(&[("foo.bar", "1")])).unwrap();
        assert!(w[0].contains("foo.bar"));
    }

    #[test]
    fn broker_id_is_a_synonym_of_node_id() {
        let (c, _) = BrokerConfig::from_props(props(&[("broker.id", "7")])).unwrap();
        assert_eq!(c.node_id, 7);
        let (c, _) =
            BrokerConfig::from_props(props(&[("broker.id", "7"), ("node.id", "3")])).unwrap();
        assert_eq!(c.node_id, 3);
    }
}
