//! Transaction coordinator and producer-id expiry settings: Kafka's
//! `transaction.*`, `transactional.id.expiration.ms` and
//! `producer.id.expiration.*` keys, with Kafka's defaults.

use std::collections::BTreeMap;

use crate::config::ConfigError;

/// Keys read here (the broker config accepts them).
pub const TXN_KEYS: &[&str] = &[
    "transaction.state.log.num.partitions",
    "transaction.state.log.segment.bytes",
    "transaction.max.timeout.ms",
    "transactional.id.expiration.ms",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "transaction.remove.expired.transaction.cleanup.interval.ms",
    "producer.id.expiration.ms",
    "producer.id.expiration.check.interval.ms",
];

/// Validated transaction settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions` (50).
    pub state_log_num_partitions: i32,
    /// `transaction.state.log.segment.bytes` (100 MiB).
    pub state_log_segment_bytes: i64,
    /// `transaction.max.timeout.ms` (15 minutes): largest
    /// `transaction.timeout.ms` a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms` (7 days): idle transactional ids
    /// are forgotten.
    pub id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms` (10 s):
    /// how often timed-out transactions are looked for.
    pub abort_timed_out_interval_ms: u64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms` (1 h).
    pub remove_expired_interval_ms: u64,
    /// `producer.id.expiration.ms` (1 day): idempotent producer state idle
    /// this long is dropped from partitions.
    pub producer_id_expiration_ms: i64,
    /// `producer.id.expiration.check.interval.ms` (10 minutes).
    pub producer_id_expiration_check_interval_ms: u64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            state_log_num_partitions: 50,
            state_log_segment_bytes: 104_857_600,
            max_timeout_ms: 900_000,
            id_expiration_ms: 604_800_000,
            abort_timed_out_interval_ms: 10_000,
            remove_expired_interval_ms: 3_600_000,
            producer_id_expiration_ms: 86_400_000,
            producer_id_expiration_check_interval_ms: 600_000,
        }
    }
}

fn get(
    props: &BTreeMap<String, String>,
    key: &str,
    default: i64,
    min: i64,
) -> Result<i64, ConfigError> {
    let Some(raw) = props.get(key) else {
        return Ok(default);
    };
    let invalid = |reason: String| ConfigError::Invalid {
        key: key.to_string(),
        value: raw.clone(),
        reason,
    };
    let v: i64 = raw
        .trim()
        .parse()
        .map_err(|_| invalid("expected an integer".into()))?;
    if v < min {
        return Err(invalid(format!("must be at least {min}")));
    }
    Ok(v)
}

/// Read the transaction settings from the broker's properties.
pub fn txn_config(props: &BTreeMap<String, String>) -> Result<TxnConfig, ConfigError> {
    let d = TxnConfig::default();
    let int32 = |key: &str, default: i32, min: i64| -> Result<i32, ConfigError> {
        let v = get(props, key, i64::from(default), min)?;
        i32::try_from(v).map_err(|_| ConfigError::Invalid {
            key: key.to_string(),
            value: v.to_string(),
            reason: "must fit in 32 bits".into(),
        })
    };
    let ms = |key: &str, default: u64| -> Result<u64, ConfigError> {
        get(props, key, default as i64, 1).map(|v| v as u64)
    };
    Ok(TxnConfig {
        state_log_num_partitions: int32(
            "transaction.state.log.num.partitions",
            d.state_log_num_partitions,
            1,
        )?,
        state_log_segment_bytes: get(
            props,
            "transaction.state.log.segment.bytes",
            d.state_log_segment_bytes,
            1024,
        )?,
        max_timeout_ms: int32("transaction.max.timeout.ms", d.max_timeout_ms, 1)?,
        id_expiration_ms: get(
            props,
            "transactional.id.expiration.ms",
            d.id_expiration_ms,
            1,
        )?,
        abort_timed_out_interval_ms: ms(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            d.abort_timed_out_interval_ms,
        )?,
        remove_expired_interval_ms: ms(
            "transaction.remove.expired.transaction.cleanup.interval.ms",
            d.remove_expired_interval_ms,
        )?,
        producer_id_expiration_ms: get(
            props,
            "producer.id.expiration.ms",
            d.producer_id_expiration_ms,
            1,
        )?,
        producer_id_expiration_check_interval_ms: ms(
            "producer.id.expiration.check.interval.ms",
            d.producer_id_expiration_check_interval_ms,
        )?,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors_name_the_key() {
        assert_eq!(txn_config(&BTreeMap::new()).unwrap(), TxnConfig::default());
        let props = BTreeMap::from([
            (
                "transaction.max.timeout.ms".to_string(),
                "60000".to_string(),
            ),
            ("producer.id.expiration.ms".to_string(), "1000".to_string()),
        ]);
        let c = txn_config(&props).unwrap();
        assert_eq!(
            (c.max_timeout_ms, c.producer_id_expiration_ms),
            (60_000, 1_000)
        );
        let bad = BTreeMap::from([(
            "transaction.state.log.num.partitions".to_string(),
            "0".to_string(),
        )]);
        let e = txn_config(&bad).unwrap_err().to_string();
        assert!(e.contains("transaction.state.log.num.partitions"), "{e}");
    }
}
