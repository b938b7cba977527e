//! Changing a topic's dynamic configs: the AlterConfigs (replace all) and
//! IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT) semantics of
//! Kafka's `ConfigAdminManager`, as pure functions from the current
//! overrides to the new ones, and the records that make the change.

use std::collections::BTreeMap;

use crate::record::MetadataRecord;
use crate::topic_config::{
    ConfigDef, ConfigError, ConfigType, topic_config_def, validate_topic_config,
};

/// One IncrementalAlterConfigs operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set the value (op 0).
    Set(String, String),
    /// Remove the override, back to the broker default (op 1).
    Delete(String),
    /// Add items to a list config (op 2).
    Append(String, String),
    /// Remove items from a list config (op 3).
    Subtract(String, String),
}

fn list_items(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Which configs an alteration applies to: topic configs, or the dynamic
/// broker configs (see [`crate::broker_config`]).
pub struct Scope<'a> {
    /// The definition behind a key (`None`: unknown key).
    pub def: &'a dyn Fn(&str) -> Option<&'static ConfigDef>,
    /// Validate a value for a key.
    pub validate: &'a dyn Fn(&str, &str) -> Result<(), ConfigError>,
}

/// Topic configs.
pub const TOPICS: Scope<'static> = Scope {
    def: &topic_config_def,
    validate: &validate_topic_config,
};

fn require_list(scope: &Scope<'_>, key: &str, value: &str) -> Result<(), ConfigError> {
    match (scope.def)(key) {
        None => Err(ConfigError::UnknownKey(key.to_string())),
        Some(d) if d.ty != ConfigType::List => Err(ConfigError::InvalidValue {
            key: key.to_string(),
            value: value.to_string(),
            reason: "APPEND and SUBTRACT apply only to list configs".into(),
        }),
        Some(_) => Ok(()),
    }
}

/// Apply incremental operations to `current` topic overrides; every
/// resulting value is validated. Lists start from the current override,
/// else the default (as Kafka does).
pub fn incremental_alter(
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
) -> Result<BTreeMap<String, String>, ConfigError> {
    incremental_alter_in(&TOPICS, current, ops)
}

/// [`incremental_alter`] for the configs of `scope`.
pub fn incremental_alter_in(
    scope: &Scope<'_>,
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut next = current.clone();
    for op in ops {
        match op {
            ConfigOp::Set(k, v) => {
                (scope.validate)(k, v)?;
                next.insert(k.clone(), v.clone());
            }
            ConfigOp::Delete(k) => {
                if (scope.def)(k).is_none() {
                    return Err(ConfigError::UnknownKey(k.clone()));
                }
                next.remove(k);
            }
            ConfigOp::Append(k, v) | ConfigOp::Subtract(k, v) => {
                require_list(scope, k, v)?;
                let base = next
                    .get(k)
                    .cloned()
                    .or_else(|| (scope.def)(k).map(|d| d.default.to_string()));
                let mut items = list_items(base.as_deref().unwrap_or(""));
                let changes = list_items(v);
                if matches!(op, ConfigOp::Append(..)) {
                    for c in changes {
                        if !items.contains(&c) {
                            items.push(c);
                        }
                    }
                } else {
                    items.retain(|i| !changes.contains(i));
                }
                let joined = items.join(",");
                (scope.validate)(k, &joined)?;
                next.insert(k.clone(), joined);
            }
        }
    }
    Ok(next)
}

/// AlterConfigs (legacy): the given set replaces every topic override.
pub fn replace_all(
    configs: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    replace_all_in(&TOPICS, configs)
}

/// [`replace_all`] for the configs of `scope`.
pub fn replace_all_in(
    scope: &Scope<'_>,
    configs: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    for (k, v) in configs {
        (scope.validate)(k, v)?;
    }
    Ok(configs.clone())
}

/// The records that turn `old` overrides into `new` ones.
pub fn diff_records(
    topic: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            out.push(MetadataRecord::TopicConfig {
                topic: topic.into(),
                name: k.clone(),
                value: Some(v.clone()),
            });
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            out.push(MetadataRecord::TopicConfig {
                topic: topic.into(),
                name: k.clone(),
                value: None,
            });
        }
    }
    out
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
    fn set_delete_append_subtract() {
        let cur = map(&[("retention.ms", "1000")]);
        let next = incremental_alter(
            &cur,
            &[
                ConfigOp::Set("segment.ms".into(), "500".into()),
                ConfigOp::Delete("retention.ms".into()),
                ConfigOp::Append("cleanup.policy".into(), "compact".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            next,
            map(&[("segment.ms", "500"), ("cleanup.policy", "delete,compact")])
        );
        let next = incremental_alter(
            &next,
            &[ConfigOp::Subtract("cleanup.policy".into(), "delete".into())],
        )
        .unwrap();
        assert_eq!(next.get("cleanup.policy").unwrap(), "compact");
    }

    #[test]
    fn refuses_invalid_values_unknown_keys_and_list_ops_on_scalars() {
        let cur = BTreeMap::new();
        assert!(
            incremental_alter(&cur, &[ConfigOp::Set("retention.ms".into(), "x".into())]).is_err()
        );
        assert!(incremental_alter(&cur, &[ConfigOp::Set("nope".into(), "1".into())]).is_err());
        assert!(
            incremental_alter(&cur, &[ConfigOp::Append("retention.ms".into(), "1".into())])
                .is_err()
        );
        assert!(
            incremental_alter(
                &cur,
                &[ConfigOp::Subtract("cleanup.policy".into(), "delete".into())]
            )
            .is_err()
        );
        assert!(replace_all(&map(&[("max.message.bytes", "-4")])).is_err());
    }

    #[test]
    fn diff_sets_changed_and_removes_dropped() {
        let old = map(&[("a.b", "1"), ("c.d", "2")]);
        let new = map(&[("a.b", "1"), ("e.f", "3")]);
        let recs = diff_records("t", &old, &new);
        assert_eq!(recs.len(), 2);
        assert!(recs.contains(&MetadataRecord::TopicConfig {
            topic: "t".into(),
            name: "e.f".into(),
            value: Some("3".into())
        }));
        assert!(recs.contains(&MetadataRecord::TopicConfig {
            topic: "t".into(),
            name: "c.d".into(),
            value: None
        }));
    }
}
