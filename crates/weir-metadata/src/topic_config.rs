//! Topic-level configs: Kafka's names, types, defaults, validation and the
//! broker-level synonyms that supply their defaults.
//!
//! Resolution order for an effective value, as in Kafka: the topic's dynamic
//! override, then the broker's static config under the synonym key(s) in
//! order (e.g. `log.retention.ms`, then `log.retention.minutes`, then
//! `log.retention.hours`), then the built-in default.

use std::collections::BTreeMap;

/// The type of a config value, as Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// 64-bit integer.
    Long,
    /// 32-bit integer.
    Int,
    /// `true` / `false`.
    Boolean,
    /// Floating point.
    Double,
    /// Free string or enum.
    String,
    /// Comma-separated list.
    List,
}

impl ConfigType {
    /// Kafka's DescribeConfigs `config_type` code (KIP-569).
    pub fn describe_code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
        }
    }
}

/// Extra validation beyond the type.
#[derive(Debug, Clone, Copy)]
pub enum Validator {
    /// Any value of the type.
    Any,
    /// Integer at least this.
    AtLeast(i64),
    /// Double in this closed range.
    DoubleBetween(f64, f64),
    /// One of these strings (case-sensitive, as Kafka).
    OneOf(&'static [&'static str]),
    /// Non-empty list whose every item is one of these.
    ListOf(&'static [&'static str]),
}

/// One topic config definition.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    /// Topic config key.
    pub name: &'static str,
    /// Value type.
    pub ty: ConfigType,
    /// Built-in default, as a string.
    pub default: &'static str,
    /// Broker config keys that supply the default, in priority order, with
    /// the multiplier that turns their unit into this key's unit.
    pub synonyms: &'static [(&'static str, i64)],
    /// Extra validation.
    pub validator: Validator,
}

const LONG_MAX: &str = "9223372036854775807";
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// Every topic config Weir accepts.
pub static TOPIC_CONFIGS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        ConfigType::List,
        "delete",
        &[("log.cleanup.policy", 1)],
        Validator::ListOf(&["delete", "compact"]),
    ),
    def(
        "compression.type",
        ConfigType::String,
        "producer",
        &[("compression.type", 1)],
        Validator::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
    ),
    def(
        "compression.gzip.level",
        ConfigType::Int,
        "-1",
        &[("compression.gzip.level", 1)],
        Validator::AtLeast(-1),
    ),
    def(
        "compression.lz4.level",
        ConfigType::Int,
        "9",
        &[("compression.lz4.level", 1)],
        Validator::AtLeast(1),
    ),
    def(
        "compression.zstd.level",
        ConfigType::Int,
        "3",
        &[("compression.zstd.level", 1)],
        Validator::AtLeast(-131072),
    ),
    def(
        "delete.retention.ms",
        ConfigType::Long,
        "86400000",
        &[("log.cleaner.delete.retention.ms", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "file.delete.delay.ms",
        ConfigType::Long,
        "60000",
        &[("log.segment.delete.delay.ms", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "flush.messages",
        ConfigType::Long,
        LONG_MAX,
        &[("log.flush.interval.messages", 1)],
        Validator::AtLeast(1),
    ),
    def(
        "flush.ms",
        ConfigType::Long,
        LONG_MAX,
        &[("log.flush.interval.ms", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "follower.replication.throttled.replicas",
        ConfigType::List,
        "",
        &[],
        Validator::Any,
    ),
    def(
        "index.interval.bytes",
        ConfigType::Int,
        "4096",
        &[("log.index.interval.bytes", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "leader.replication.throttled.replicas",
        ConfigType::List,
        "",
        &[],
        Validator::Any,
    ),
    def(
        "local.retention.bytes",
        ConfigType::Long,
        "-2",
        &[("log.local.retention.bytes", 1)],
        Validator::AtLeast(-2),
    ),
    def(
        "local.retention.ms",
        ConfigType::Long,
        "-2",
        &[("log.local.retention.ms", 1)],
        Validator::AtLeast(-2),
    ),
    def(
        "max.compaction.lag.ms",
        ConfigType::Long,
        LONG_MAX,
        &[("log.cleaner.max.compaction.lag.ms", 1)],
        Validator::AtLeast(1),
    ),
    def(
        "max.message.bytes",
        ConfigType::Int,
        "1048588",
        &[("message.max.bytes", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "message.timestamp.after.max.ms",
        ConfigType::Long,
        LONG_MAX,
        &[("log.message.timestamp.after.max.ms", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "message.timestamp.before.max.ms",
        ConfigType::Long,
        LONG_MAX,
        &[("log.message.timestamp.before.max.ms", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "message.timestamp.type",
        ConfigType::String,
        "CreateTime",
        &[("log.message.timestamp.type", 1)],
        Validator::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    def(
        "min.cleanable.dirty.ratio",
        ConfigType::Double,
        "0.5",
        &[("log.cleaner.min.cleanable.ratio", 1)],
        Validator::DoubleBetween(0.0, 1.0),
    ),
    def(
        "min.compaction.lag.ms",
        ConfigType::Long,
        "0",
        &[("log.cleaner.min.compaction.lag.ms", 1)],
        Validator::AtLeast(0),
    ),
    def(
        "min.insync.replicas",
        ConfigType::Int,
        "1",
        &[("min.insync.replicas", 1)],
        Validator::AtLeast(1),
    ),
    def(
        "preallocate",
        ConfigType::Boolean,
        "false",
        &[("log.preallocate", 1)],
        Validator::Any,
    ),
    def(
        "remote.storage.enable",
        ConfigType::Boolean,
        "false",
        &[],
        Validator::Any,
    ),
    def(
        "retention.bytes",
        ConfigType::Long,
        "-1",
        &[("log.retention.bytes", 1)],
        Validator::Any,
    ),
    def(
        "retention.ms",
        ConfigType::Long,
        "604800000",
        &[
            ("log.retention.ms", 1),
            ("log.retention.minutes", MINUTE_MS),
            ("log.retention.hours", HOUR_MS),
        ],
        Validator::AtLeast(-1),
    ),
    def(
        "segment.bytes",
        ConfigType::Int,
        "1073741824",
        &[("log.segment.bytes", 1)],
        Validator::AtLeast(1_048_576),
    ),
    def(
        "segment.index.bytes",
        ConfigType::Int,
        "10485760",
        &[("log.index.size.max.bytes", 1)],
        Validator::AtLeast(4),
    ),
    def(
        "segment.jitter.ms",
        ConfigType::Long,
        "0",
        &[
            ("log.roll.jitter.ms", 1),
            ("log.roll.jitter.hours", HOUR_MS),
        ],
        Validator::AtLeast(0),
    ),
    def(
        "segment.ms",
        ConfigType::Long,
        "604800000",
        &[("log.roll.ms", 1), ("log.roll.hours", HOUR_MS)],
        Validator::AtLeast(1),
    ),
    def(
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        "false",
        &[("unclean.leader.election.enable", 1)],
        Validator::Any,
    ),
];

const fn def(
    name: &'static str,
    ty: ConfigType,
    default: &'static str,
    synonyms: &'static [(&'static str, i64)],
    validator: Validator,
) -> ConfigDef {
    ConfigDef {
        name,
        ty,
        default,
        synonyms,
        validator,
    }
}

/// Look up a topic config definition.
pub fn topic_config_def(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Why a config value was refused (Kafka answers INVALID_CONFIG with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not a topic config Kafka knows.
    #[error("unknown topic config name: {0}")]
    UnknownKey(String),
    /// Wrong type or out of range.
    #[error("invalid value {value:?} for configuration {key}: {reason}")]
    InvalidValue {
        /// Config key.
        key: String,
        /// Offending value.
        value: String,
        /// Why.
        reason: String,
    },
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl ConfigDef {
    /// Check a value against type and validator.
    pub fn validate(&self, value: &str) -> Result<(), ConfigError> {
        let v = value.trim();
        match self.ty {
            ConfigType::Long | ConfigType::Int => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| invalid(self.name, value, "not a number"))?;
                if self.ty == ConfigType::Int && i32::try_from(n).is_err() {
                    return Err(invalid(
                        self.name,
                        value,
                        "out of range for a 32-bit integer",
                    ));
                }
                if let Validator::AtLeast(min) = self.validator
                    && n < min
                {
                    return Err(invalid(
                        self.name,
                        value,
                        format!("value must be at least {min}"),
                    ));
                }
            }
            ConfigType::Double => {
                let n: f64 = v
                    .parse()
                    .map_err(|_| invalid(self.name, value, "not a number"))?;
                if let Validator::DoubleBetween(lo, hi) = self.validator
                    && !(lo..=hi).contains(&n)
                {
                    return Err(invalid(
                        self.name,
                        value,
                        format!("value must be between {lo} and {hi}"),
                    ));
                }
            }
            ConfigType::Boolean => {
                if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                    return Err(invalid(self.name, value, "expected true or false"));
                }
            }
            ConfigType::String => {
                if let Validator::OneOf(allowed) = self.validator
                    && !allowed.contains(&v)
                {
                    return Err(invalid(
                        self.name,
                        value,
                        format!("string must be one of: {}", allowed.join(", ")),
                    ));
                }
            }
            ConfigType::List => {
                if let Validator::ListOf(allowed) = self.validator {
                    let items: Vec<&str> = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect();
                    if items.is_empty() {
                        return Err(invalid(self.name, value, "empty list"));
                    }
                    if let Some(bad) = items.iter().find(|i| !allowed.contains(i)) {
                        return Err(invalid(
                            self.name,
                            value,
                            format!("{bad:?} is not one of: {}", allowed.join(", ")),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Validate one `key=value` topic config.
pub fn validate_topic_config(key: &str, value: &str) -> Result<(), ConfigError> {
    topic_config_def(key)
        .ok_or_else(|| ConfigError::UnknownKey(key.to_string()))?
        .validate(value)
}

/// Where an effective value came from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// A dynamic override on the topic (code 1).
    DynamicTopic,
    /// The broker's static config file (code 4).
    StaticBroker,
    /// The built-in default (code 5).
    Default,
}

impl ConfigSource {
    /// Kafka's wire code.
    pub fn code(self) -> i8 {
        match self {
            ConfigSource::DynamicTopic => 1,
            ConfigSource::StaticBroker => 4,
            ConfigSource::Default => 5,
        }
    }
}

/// Resolve the effective value of `def` for a topic.
pub fn resolve(
    def: &ConfigDef,
    topic_overrides: &BTreeMap<String, String>,
    broker: &BTreeMap<String, String>,
) -> (String, ConfigSource) {
    if let Some(v) = topic_overrides.get(def.name) {
        return (v.clone(), ConfigSource::DynamicTopic);
    }
    for (key, mult) in def.synonyms {
        if let Some(v) = broker.get(*key) {
            if *mult == 1 {
                return (v.trim().to_string(), ConfigSource::StaticBroker);
            }
            if let Ok(n) = v.trim().parse::<i64>() {
                return (
                    n.saturating_mul(*mult).to_string(),
                    ConfigSource::StaticBroker,
                );
            }
        }
    }
    (def.default.to_string(), ConfigSource::Default)
}

/// The typed effective configs the log layer and produce path need.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveTopicConfig {
    /// `segment.bytes`.
    pub segment_bytes: u64,
    /// `segment.ms`.
    pub segment_ms: u64,
    /// `segment.index.bytes`.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`.
    pub index_interval_bytes: u32,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: usize,
    /// `message.timestamp.type` is LogAppendTime.
    pub log_append_time: bool,
    /// `retention.ms` (-1 = forever).
    pub retention_ms: i64,
    /// `retention.bytes` (-1 = unlimited).
    pub retention_bytes: i64,
    /// `flush.messages`.
    pub flush_messages: i64,
    /// `flush.ms`.
    pub flush_ms: i64,
    /// `file.delete.delay.ms`.
    pub file_delete_delay_ms: u64,
    /// `compression.type`: `producer` keeps what the producer sent;
    /// otherwise the codec batches are stored with.
    pub compression_type: String,
    /// `cleanup.policy` contains `delete`.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.insync.replicas`: the fewest in-sync replicas an `acks=all`
    /// write needs.
    pub min_insync_replicas: i32,
}

impl EffectiveTopicConfig {
    /// Resolve every field. Values were validated when they were set, so a
    /// parse failure here falls back to the default rather than failing.
    pub fn resolve(
        topic_overrides: &BTreeMap<String, String>,
        broker: &BTreeMap<String, String>,
    ) -> Self {
        let get = |name: &str| -> i64 {
            let Some(def) = topic_config_def(name) else {
                return 0;
            };
            let (v, _) = resolve(def, topic_overrides, broker);
            v.trim()
                .parse()
                .unwrap_or_else(|_| def.default.parse().unwrap_or(0))
        };
        let policy: Vec<String> = topic_config_def("cleanup.policy")
            .map(|d| resolve(d, topic_overrides, broker).0)
            .unwrap_or_else(|| "delete".into())
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let ts_def = topic_config_def("message.timestamp.type");
        let log_append_time = ts_def
            .map(|d| resolve(d, topic_overrides, broker).0 == "LogAppendTime")
            .unwrap_or(false);
        EffectiveTopicConfig {
            segment_bytes: get("segment.bytes").max(1) as u64,
            segment_ms: get("segment.ms").max(1) as u64,
            segment_index_bytes: get("segment.index.bytes").max(4) as u64,
            index_interval_bytes: get("index.interval.bytes").clamp(0, i64::from(u32::MAX)) as u32,
            max_message_bytes: get("max.message.bytes").max(0) as usize,
            log_append_time,
            retention_ms: get("retention.ms"),
            retention_bytes: get("retention.bytes"),
            flush_messages: get("flush.messages"),
            flush_ms: get("flush.ms"),
            file_delete_delay_ms: get("file.delete.delay.ms").max(0) as u64,
            compression_type: topic_config_def("compression.type")
                .map(|d| resolve(d, topic_overrides, broker).0)
                .unwrap_or_else(|| "producer".to_string()),
            cleanup_delete: policy.iter().any(|p| p == "delete"),
            cleanup_compact: policy.iter().any(|p| p == "compact"),
            delete_retention_ms: get("delete.retention.ms"),
            min_compaction_lag_ms: get("min.compaction.lag.ms"),
            max_compaction_lag_ms: get("max.compaction.lag.ms"),
            min_cleanable_dirty_ratio: topic_config_def("min.cleanable.dirty.ratio")
                .and_then(|d| resolve(d, topic_overrides, broker).0.trim().parse().ok())
                .unwrap_or(0.5),
            min_insync_replicas: get("min.insync.replicas").clamp(1, i64::from(i32::MAX)) as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validates_like_kafka() {
        assert!(validate_topic_config("retention.ms", "604800000").is_ok());
        assert!(validate_topic_config("retention.ms", "-1").is_ok());
        assert!(validate_topic_config("retention.ms", "-2").is_err());
        assert!(validate_topic_config("retention.ms", "soon").is_err());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "shred").is_err());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate_topic_config("max.message.bytes", "99999999999").is_err());
        assert!(matches!(
            validate_topic_config("no.such.key", "1"),
            Err(ConfigError::UnknownKey(_))
        ));
    }

    #[test]
    fn resolves_override_then_synonyms_then_default() {
        let def = topic_config_def("retention.ms").unwrap();
        assert_eq!(
            resolve(def, &map(&[]), &map(&[])),
            ("604800000".into(), ConfigSource::Default)
        );
        assert_eq!(
            resolve(def, &map(&[]), &map(&[("log.retention.hours", "2")])),
            ("7200000".into(), ConfigSource::StaticBroker)
        );
        assert_eq!(
            resolve(
                def,
                &map(&[]),
                &map(&[("log.retention.hours", "2"), ("log.retention.ms", "5")])
            ),
            ("5".into(), ConfigSource::StaticBroker)
        );
        assert_eq!(
            resolve(
                def,
                &map(&[("retention.ms", "9")]),
                &map(&[("log.retention.ms", "5")])
            ),
            ("9".into(), ConfigSource::DynamicTopic)
        );
        let eff = EffectiveTopicConfig::resolve(
            &map(&[("message.timestamp.type", "LogAppendTime")]),
            &map(&[]),
        );
        assert!(eff.log_append_time);
        assert!(eff.cleanup_delete && !eff.cleanup_compact);
        let both =
            EffectiveTopicConfig::resolve(&map(&[("cleanup.policy", "compact,delete")]), &map(&[]));
        assert!(both.cleanup_delete && both.cleanup_compact);
        assert_eq!(eff.max_message_bytes, 1_048_588);
    }

    #[test]
    fn min_insync_replicas_from_topic_then_broker_then_default() {
        let none = map(&[]);
        assert_eq!(
            EffectiveTopicConfig::resolve(&none, &none).min_insync_replicas,
            1
        );
        let broker = map(&[("min.insync.replicas", "2")]);
        assert_eq!(
            EffectiveTopicConfig::resolve(&none, &broker).min_insync_replicas,
            2
        );
        let topic = map(&[("min.insync.replicas", "3")]);
        assert_eq!(
            EffectiveTopicConfig::resolve(&topic, &broker).min_insync_replicas,
            3
        );
    }
}
