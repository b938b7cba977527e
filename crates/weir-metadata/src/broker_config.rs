//! Dynamic broker configs: the broker-level defaults of topic configs
//! (`log.retention.ms`, `log.cleanup.policy`, `message.max.bytes`, ...),
//! which Kafka lets admins change at run time for one broker or for the
//! whole cluster (`kafka-configs --entity-type brokers [--entity-name ID |
//! --entity-default]`). They are stored as `BrokerConfig` metadata records
//! and resolved, key by key, as: this broker's dynamic value, then the
//! cluster-wide dynamic default, then the static `server.properties`
//! value, then the built-in default.
//!
//! Other broker keys (listeners, log dirs, ...) are static: changing them
//! dynamically is refused with INVALID_CONFIG, naming the key.

use std::collections::BTreeMap;

use crate::config_ops::Scope;
use crate::topic_config::{ConfigDef, ConfigError, TOPIC_CONFIGS, topic_config_def};

/// The topic config a broker key is a synonym of, with its unit multiplier.
pub fn dynamic_broker_config(key: &str) -> Option<(&'static ConfigDef, i64)> {
    TOPIC_CONFIGS.iter().find_map(|d| {
        d.synonyms
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, mult)| (d, *mult))
    })
}

/// Validate `value` for the broker key `key` through the topic config it
/// feeds (unit-converted).
pub fn validate_broker_synonym(key: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason,
    };
    let Some((def, mult)) = dynamic_broker_config(key) else {
        return Err(invalid(
            "not a dynamic broker config (only the broker defaults of topic configs can change at run time)"
                .into(),
        ));
    };
    if mult != 1 {
        let n: i64 = value
            .trim()
            .parse()
            .map_err(|_| invalid("expected an integer".into()))?;
        return def
            .validate(&n.saturating_mul(mult).to_string())
            .map_err(|e| invalid(e.to_string()));
    }
    let def = topic_config_def(def.name).unwrap_or(def);
    def.validate(value).map_err(|e| invalid(e.to_string()))
}

fn def_of(key: &str) -> Option<&'static ConfigDef> {
    dynamic_broker_config(key).map(|(d, _)| d)
}

/// Dynamic broker configs, for [`crate::config_ops::incremental_alter_in`].
pub const BROKERS: Scope<'static> = Scope {
    def: &def_of,
    validate: &validate_broker_synonym,
};

/// Where a broker key's value comes from (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerSource {
    /// This broker's dynamic config (code 2).
    DynamicBroker,
    /// The cluster-wide dynamic default (code 3).
    DynamicDefault,
    /// `server.properties` or a command-line override (code 4).
    Static,
}

impl BrokerSource {
    /// Kafka's wire code.
    pub fn code(self) -> i8 {
        match self {
            BrokerSource::DynamicBroker => 2,
            BrokerSource::DynamicDefault => 3,
            BrokerSource::Static => 4,
        }
    }
}

/// The three layers of broker config, highest priority first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerLayers {
    /// This broker's dynamic configs.
    pub dynamic_broker: BTreeMap<String, String>,
    /// The cluster-wide dynamic defaults.
    pub dynamic_default: BTreeMap<String, String>,
    /// Static configs.
    pub static_props: BTreeMap<String, String>,
}

impl BrokerLayers {
    /// Every key with its winning value, as one map (what topic config
    /// resolution reads).
    pub fn effective(&self) -> BTreeMap<String, String> {
        let mut out = self.static_props.clone();
        out.extend(self.dynamic_default.clone());
        out.extend(self.dynamic_broker.clone());
        out
    }

    /// Every (value, source) a key has, highest priority first (synonym lists).
    pub fn sources(&self, key: &str) -> Vec<(String, BrokerSource)> {
        [
            (&self.dynamic_broker, BrokerSource::DynamicBroker),
            (&self.dynamic_default, BrokerSource::DynamicDefault),
            (&self.static_props, BrokerSource::Static),
        ]
        .into_iter()
        .filter_map(|(m, s)| m.get(key).map(|v| (v.clone(), s)))
        .collect()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;
    use crate::config_ops::{ConfigOp, incremental_alter_in};

    #[test]
    fn only_topic_defaults_are_dynamic_and_values_are_checked() {
        assert!(validate_broker_synonym("log.retention.ms", "3600000").is_ok());
        assert!(validate_broker_synonym("log.retention.hours", "2").is_ok());
        assert!(validate_broker_synonym("log.cleanup.policy", "compact,delete").is_ok());
        let e = validate_broker_synonym("listeners", "PLAINTEXT://:1").unwrap_err();
        assert!(e.to_string().contains("listeners"), "{e}");
        let e = validate_broker_synonym("log.retention.ms", "soon").unwrap_err();
        assert!(e.to_string().contains("log.retention.ms"), "{e}");
        assert!(validate_broker_synonym("log.cleanup.policy", "shred").is_err());
        let next = incremental_alter_in(
            &BROKERS,
            &BTreeMap::new(),
            &[
                ConfigOp::Set("log.retention.ms".into(), "1000".into()),
                ConfigOp::Append("log.cleanup.policy".into(), "compact".into()),
            ],
        )
        .unwrap();
        assert_eq!(next["log.cleanup.policy"], "delete,compact");
    }

    #[test]
    fn layers_resolve_broker_then_default_then_static() {
        let mut l = BrokerLayers::default();
        l.static_props.insert("log.retention.ms".into(), "1".into());
        l.dynamic_default
            .insert("log.retention.ms".into(), "2".into());
        assert_eq!(l.effective()["log.retention.ms"], "2");
        l.dynamic_broker
            .insert("log.retention.ms".into(), "3".into());
        assert_eq!(l.effective()["log.retention.ms"], "3");
        let s: Vec<BrokerSource> = l
            .sources("log.retention.ms")
            .into_iter()
            .map(|x| x.1)
            .collect();
        assert_eq!(
            s,
            vec![
                BrokerSource::DynamicBroker,
                BrokerSource::DynamicDefault,
                BrokerSource::Static
            ]
        );
    }
}
