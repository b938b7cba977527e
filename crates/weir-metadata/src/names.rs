//! Topic name rules, as Kafka enforces them (`org.apache.kafka.common.internals.Topic`).

/// Longest legal topic name (Kafka: 249, so that `<name>-<partition>` and
/// the `-delete` suffix still fit a 255-byte file name).
pub const TOPIC_NAME_LEN_MAX: usize = 249;

/// Why a topic name is illegal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// Empty name.
    #[error("topic name is empty")]
    Empty,
    /// `.` and `..` are not allowed.
    #[error("topic name cannot be \".\" or \"..\"")]
    Dots,
    /// Longer than [`TOPIC_NAME_LEN_MAX`].
    #[error("topic name is {0} characters long, the limit is 249")]
    TooLong(usize),
    /// A character outside `[a-zA-Z0-9._-]`.
    #[error(
        "topic name {name:?} contains {bad:?}: only ASCII alphanumerics, '.', '_' and '-' are allowed"
    )]
    IllegalChar {
        /// The name.
        name: String,
        /// The first illegal character.
        bad: char,
    },
}

/// Check a topic name against Kafka's rules.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Dots);
    }
    if name.chars().count() > TOPIC_NAME_LEN_MAX {
        return Err(TopicNameError::TooLong(name.chars().count()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(TopicNameError::IllegalChar {
            name: name.to_string(),
            bad,
        });
    }
    Ok(())
}

/// Internal topics Kafka clients treat specially (`is_internal` in Metadata).
pub fn is_internal_topic(name: &str) -> bool {
    matches!(
        name,
        "__consumer_offsets" | "__transaction_state" | "__cluster_metadata"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_topic_name_rules() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert_eq!(validate_topic_name(".."), Err(TopicNameError::Dots));
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
        assert_eq!(
            validate_topic_name(&"a".repeat(250)),
            Err(TopicNameError::TooLong(250))
        );
        assert!(matches!(
            validate_topic_name("bad/name"),
            Err(TopicNameError::IllegalChar { bad: '/', .. })
        ));
        assert!(validate_topic_name("é").is_err());
    }
}
