//! Records of `__consumer_offsets`, in Kafka's own on-disk schemas so that
//! Kafka tooling (`kafka-console-consumer --formatter
//! ...OffsetsMessageFormatter`, `kafka-dump-log --offsets-decoder`) reads
//! them.
//!
//! ## Format
//!
//! Every record is keyed; the key starts with an `int16` key version that
//! also says which kind of record it is. All strings are classic
//! (`int16` length, -1 = null), arrays and byte fields classic (`int32`
//! length); integers big-endian.
//!
//! | key version | key fields | value |
//! |---|---|---|
//! | 0 or 1 (`OffsetCommitKey`) | group, topic, partition `int32` | `OffsetCommitValue` |
//! | 2 (`GroupMetadataKey`) | group | `GroupMetadataValue` |
//!
//! `OffsetCommitValue` is written as v3: `int16` version 3, offset `int64`,
//! leader epoch `int32`, metadata string, commit timestamp `int64`. v0-v2
//! are read too (v1 carries an expire timestamp after the commit
//! timestamp, which is ignored; v0-v2 have no leader epoch).
//!
//! `GroupMetadataValue` is written as v3: `int16` version 3, protocol type
//! string, generation `int32`, protocol (nullable), leader (nullable),
//! current-state timestamp `int64`, then an array of members: member id,
//! group instance id (nullable), client id, client host, rebalance timeout
//! `int32`, session timeout `int32`, subscription bytes, assignment bytes.
//! v0-v2 are read too (v0 lacks the rebalance timeout, v0-v1 the state
//! timestamp, v0-v2 the instance id).
//!
//! A null value (tombstone) deletes the committed offset or the group.
//! Flexible value versions (v4 of either) are refused on read.

#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use weir_protocol::codec::{
    read_bytes, read_i16, read_i32, read_i64, read_nullable_string, read_string, write_bytes,
    write_i16, write_i32, write_i64, write_nullable_string, write_string,
};
use weir_protocol::error::{DecodeError, EncodeError};

/// Key version of offset commits as written.
pub const OFFSET_KEY_VERSION: i16 = 1;
/// Key version of group metadata.
pub const GROUP_KEY_VERSION: i16 = 2;
/// Value version of offset commits as written.
pub const OFFSET_VALUE_VERSION: i16 = 3;
/// Value version of group metadata as written.
pub const GROUP_VALUE_VERSION: i16 = 3;
/// Members in one decoded group record, at most (bounds memory on replay).
pub const MEMBERS_PER_RECORD_MAX: usize = 100_000;

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are malformed.
    #[error("malformed record: {0}")]
    Decode(#[from] DecodeError),
    /// A field cannot be encoded (too long).
    #[error("record not encodable: {0}")]
    Encode(#[from] EncodeError),
    /// A key or value version this reader does not know.
    #[error("unknown {what} version {version}")]
    UnknownVersion {
        /// Which part.
        what: &'static str,
        /// The version read.
        version: i16,
    },
    /// A record without a key.
    #[error("record has no key")]
    MissingKey,
    /// Too many members.
    #[error("group record lists {0} members")]
    TooManyMembers(usize),
}

/// A committed offset (`OffsetCommitValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    /// Offset.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Metadata string.
    pub metadata: String,
    /// Commit time (ms).
    pub commit_timestamp_ms: i64,
}

/// One member in `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Rebalance timeout (ms).
    pub rebalance_timeout_ms: i32,
    /// Session timeout (ms).
    pub session_timeout_ms: i32,
    /// Metadata for the selected protocol.
    pub subscription: Bytes,
    /// Assignment.
    pub assignment: Bytes,
}

/// Group metadata (`GroupMetadataValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Protocol type ("" for a group that only holds offsets).
    pub protocol_type: String,
    /// Generation.
    pub generation_id: i32,
    /// Selected protocol.
    pub protocol: Option<String>,
    /// Leader.
    pub leader: Option<String>,
    /// When the group entered its current state (ms).
    pub current_state_timestamp_ms: i64,
    /// Members.
    pub members: Vec<MemberMetadata>,
}

/// One record of `__consumer_offsets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRecord {
    /// A committed offset, or its deletion (`None`).
    Offset {
        /// Group.
        group_id: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Value; `None` is a tombstone.
        value: Option<OffsetValue>,
    },
    /// Group metadata, or the group's deletion (`None`).
    Group {
        /// Group.
        group_id: String,
        /// Value; `None` is a tombstone.
        value: Option<GroupMetadataValue>,
    },
}

impl GroupRecord {
    /// The group this record belongs to.
    pub fn group_id(&self) -> &str {
        match self {
            GroupRecord::Offset { group_id, .. } | GroupRecord::Group { group_id, .. } => group_id,
        }
    }

    /// Encode as (key, value).
    pub fn encode(&self) -> Result<(Bytes, Option<Bytes>), RecordError> {
        let mut key = BytesMut::new();
        match self {
            GroupRecord::Offset {
                group_id,
                topic,
                partition,
                value,
            } => {
                write_i16(&mut key, OFFSET_KEY_VERSION);
                write_string(&mut key, group_id, false)?;
                write_string(&mut key, topic, false)?;
                write_i32(&mut key, *partition);
                let value = match value {
                    None => None,
                    Some(v) => {
                        let mut b = BytesMut::new();
                        write_i16(&mut b, OFFSET_VALUE_VERSION);
                        write_i64(&mut b, v.offset);
                        write_i32(&mut b, v.leader_epoch);
                        write_string(&mut b, &v.metadata, false)?;
                        write_i64(&mut b, v.commit_timestamp_ms);
                        Some(b.freeze())
                    }
                };
                Ok((key.freeze(), value))
            }
            GroupRecord::Group { group_id, value } => {
                write_i16(&mut key, GROUP_KEY_VERSION);
                write_string(&mut key, group_id, false)?;
                let value = match value {
                    None => None,
                    Some(v) => Some(encode_group_value(v)?),
                };
                Ok((key.freeze(), value))
            }
        }
    }

    /// Decode a record's key and value.
    pub fn decode(key: Option<&Bytes>, value: Option<&Bytes>) -> Result<GroupRecord, RecordError> {
        let mut k = key.cloned().ok_or(RecordError::MissingKey)?;
        let version = read_i16(&mut k)?;
        match version {
            0 | 1 => {
                let group_id = read_string(&mut k, false)?;
                let topic = read_string(&mut k, false)?;
                let partition = read_i32(&mut k)?;
                let value = match value {
                    None => None,
                    Some(v) => Some(decode_offset_value(&mut v.clone())?),
                };
                Ok(GroupRecord::Offset {
                    group_id,
                    topic,
                    partition,
                    value,
                })
            }
            2 => {
                let group_id = read_string(&mut k, false)?;
                let value = match value {
                    None => None,
                    Some(v) => Some(decode_group_value(&mut v.clone())?),
                };
                Ok(GroupRecord::Group { group_id, value })
            }
            v => Err(RecordError::UnknownVersion {
                what: "key",
                version: v,
            }),
        }
    }
}

fn decode_offset_value(b: &mut Bytes) -> Result<OffsetValue, RecordError> {
    let version = read_i16(b)?;
    if !(0..=3).contains(&version) {
        return Err(RecordError::UnknownVersion {
            what: "offset commit value",
            version,
        });
    }
    let offset = read_i64(b)?;
    let leader_epoch = if version >= 3 { read_i32(b)? } else { -1 };
    let metadata = read_string(b, false)?;
    let commit_timestamp_ms = read_i64(b)?;
    if version == 1 {
        let _expire_timestamp = read_i64(b)?;
    }
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
    })
}

fn encode_group_value(v: &GroupMetadataValue) -> Result<Bytes, RecordError> {
    let mut b = BytesMut::new();
    write_i16(&mut b, GROUP_VALUE_VERSION);
    write_string(&mut b, &v.protocol_type, false)?;
    write_i32(&mut b, v.generation_id);
    write_nullable_string(&mut b, v.protocol.as_deref(), false)?;
    write_nullable_string(&mut b, v.leader.as_deref(), false)?;
    write_i64(&mut b, v.current_state_timestamp_ms);
    let count =
        i32::try_from(v.members.len()).map_err(|_| RecordError::TooManyMembers(v.members.len()))?;
    write_i32(&mut b, count);
    for m in &v.members {
        write_string(&mut b, &m.member_id, false)?;
        write_nullable_string(&mut b, m.group_instance_id.as_deref(), false)?;
        write_string(&mut b, &m.client_id, false)?;
        write_string(&mut b, &m.client_host, false)?;
        write_i32(&mut b, m.rebalance_timeout_ms);
        write_i32(&mut b, m.session_timeout_ms);
        write_bytes(&mut b, &m.subscription, false)?;
        write_bytes(&mut b, &m.assignment, false)?;
    }
    Ok(b.freeze())
}

fn decode_group_value(b: &mut Bytes) -> Result<GroupMetadataValue, RecordError> {
    let version = read_i16(b)?;
    if !(0..=3).contains(&version) {
        return Err(RecordError::UnknownVersion {
            what: "group metadata value",
            version,
        });
    }
    let protocol_type = read_string(b, false)?;
    let generation_id = read_i32(b)?;
    let protocol = read_nullable_string(b, false)?;
    let leader = read_nullable_string(b, false)?;
    let current_state_timestamp_ms = if version >= 2 { read_i64(b)? } else { -1 };
    let count = read_i32(b)?;
    let count = usize::try_from(count).unwrap_or(0);
    // Each member takes at least 22 bytes; a count the rest cannot hold is corrupt.
    if count > MEMBERS_PER_RECORD_MAX || count.saturating_mul(22) > b.len() {
        return Err(RecordError::TooManyMembers(count));
    }
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = read_string(b, false)?;
        let group_instance_id = if version >= 3 {
            read_nullable_string(b, false)?
        } else {
            None
        };
        let client_id = read_string(b, false)?;
        let client_host = read_string(b, false)?;
        let rebalance_timeout_ms = if version >= 1 { read_i32(b)? } else { -1 };
        let session_timeout_ms = read_i32(b)?;
        let subscription = read_bytes(b, false)?;
        let assignment = read_bytes(b, false)?;
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: if rebalance_timeout_ms < 0 {
                session_timeout_ms
            } else {
                rebalance_timeout_ms
            },
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Ok(GroupMetadataValue {
        protocol_type,
        generation_id,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn roundtrip(r: GroupRecord) -> (Bytes, Option<Bytes>) {
        let (k, v) = r.encode().unwrap();
        assert_eq!(GroupRecord::decode(Some(&k), v.as_ref()).unwrap(), r);
        (k, v)
    }

    #[test]
    fn offset_commit_golden_bytes() {
        let (k, v) = roundtrip(GroupRecord::Offset {
            group_id: "g".into(),
            topic: "t".into(),
            partition: 2,
            value: Some(OffsetValue {
                offset: 5,
                leader_epoch: 1,
                metadata: "m".into(),
                commit_timestamp_ms: 7,
            }),
        });
        assert_eq!(
            &k[..],
            &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2],
            "OffsetCommitKey v1"
        );
        assert_eq!(
            &v.unwrap()[..],
            &[
                0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, b'm', 0, 0, 0, 0, 0, 0, 0, 7
            ],
            "OffsetCommitValue v3"
        );
    }

    #[test]
    fn group_metadata_golden_bytes() {
        let (k, v) = roundtrip(GroupRecord::Group {
            group_id: "g".into(),
            value: Some(GroupMetadataValue {
                protocol_type: "c".into(),
                generation_id: 1,
                protocol: Some("r".into()),
                leader: None,
                current_state_timestamp_ms: 2,
                members: vec![MemberMetadata {
                    member_id: "m".into(),
                    group_instance_id: None,
                    client_id: "i".into(),
                    client_host: "h".into(),
                    rebalance_timeout_ms: 3,
                    session_timeout_ms: 4,
                    subscription: Bytes::from_static(b"s"),
                    assignment: Bytes::from_static(b""),
                }],
            }),
        });
        assert_eq!(&k[..], &[0, 2, 0, 1, b'g']);
        let expected: Vec<u8> = [
            &[0u8, 3][..],
            &[0, 1, b'c'],
            &[0, 0, 0, 1],
            &[0, 1, b'r'],
            &[0xff, 0xff],
            &[0, 0, 0, 0, 0, 0, 0, 2],
            &[0, 0, 0, 1],
            &[0, 1, b'm'],
            &[0xff, 0xff],
            &[0, 1, b'i'],
            &[0, 1, b'h'],
            &[0, 0, 0, 3],
            &[0, 0, 0, 4],
            &[0, 0, 0, 1, b's'],
            &[0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(&v.unwrap()[..], &expected[..]);
    }

    #[test]
    fn tombstones_and_old_versions() {
        roundtrip(GroupRecord::Group {
            group_id: "g".into(),
            value: None,
        });
        roundtrip(GroupRecord::Offset {
            group_id: "g".into(),
            topic: "t".into(),
            partition: 0,
            value: None,
        });
        // OffsetCommitValue v1: offset, metadata, commit ts, expire ts.
        let key = Bytes::from_static(&[0, 0, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 0]);
        let value = Bytes::from_static(&[
            0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
        ]);
        let r = GroupRecord::decode(Some(&key), Some(&value)).unwrap();
        assert!(matches!(
            r,
            GroupRecord::Offset {
                value: Some(OffsetValue {
                    offset: 9,
                    leader_epoch: -1,
                    ..
                }),
                ..
            }
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(k in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
                                       v in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = GroupRecord::decode(Some(&Bytes::from(k)), Some(&Bytes::from(v)));
        }
    }
}
