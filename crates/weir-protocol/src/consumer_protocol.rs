//! Reading the "consumer" protocol type's assignment bytes
//! (`ConsumerProtocolAssignment`, prefixed by its version as a big-endian
//! i16), as SyncGroup carries them and DescribeGroups returns them.
//!
//! A newer version only appends fields, so the body is read with the
//! highest version known here and the rest is ignored (Kafka's
//! `ConsumerProtocol` does the same). Empty bytes (a member with no
//! assignment yet) mean no partitions.

use bytes::Bytes;

use crate::codec::{Message, read_i16};
use crate::error::DecodeError;
use crate::messages::ConsumerProtocolAssignment;

/// The assigned partitions, by topic in wire order.
pub fn assigned_partitions(bytes: &Bytes) -> Result<Vec<(String, Vec<i32>)>, DecodeError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut buf = bytes.clone();
    let version = read_i16(&mut buf)?.clamp(
        ConsumerProtocolAssignment::MIN_VERSION,
        ConsumerProtocolAssignment::MAX_VERSION,
    );
    let assignment = ConsumerProtocolAssignment::decode(&mut buf, version)?;
    Ok(assignment
        .assigned_partitions
        .into_iter()
        .map(|t| (t.topic, t.partitions))
        .collect())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_bytes_and_tolerates_newer_versions() {
        // version 0, 2 topics, "a" [0], "b" [0, 1], null user data
        let v0: &[u8] = &[
            0, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, b'b', 0, 0, 0, 2, 0, 0, 0,
            0, 0, 0, 0, 1, 255, 255, 255, 255,
        ];
        let want = vec![("a".to_string(), vec![0]), ("b".to_string(), vec![0, 1])];
        assert_eq!(assigned_partitions(&Bytes::from_static(v0)).unwrap(), want);
        let mut v9 = v0.to_vec();
        v9[1] = 9;
        v9.extend_from_slice(&[1, 2, 3]);
        assert_eq!(assigned_partitions(&Bytes::from(v9)).unwrap(), want);
        assert!(assigned_partitions(&Bytes::new()).unwrap().is_empty());
        assert!(assigned_partitions(&Bytes::from_static(&[0, 0, 0])).is_err());
    }
}
