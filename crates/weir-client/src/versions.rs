//! API version negotiation: which version of each API to speak to a broker.
//!
//! At connect the client sends ApiVersions and keeps the broker's ranges.
//! For each API it then uses the highest version inside both the broker's
//! range and the client's (see [`client_range`]). The client's range ends at
//! the highest version the generated codec knows, and starts where this
//! client can honour every field: Produce and Fetch from v3/v4 because record
//! batches are format v2 only, and so on.

use weir_protocol::api::{ApiKey, version_range};

use crate::error::ClientError;

/// The ApiVersions version sent first (the first flexible one, KIP-511).
pub const API_VERSIONS_FIRST: i16 = 3;

/// The versions of `api` this client can speak, or `None` for an API it
/// does not use.
pub fn client_range(api: ApiKey) -> Option<(i16, i16)> {
    let min = match api {
        // Record batch format v2 (magic 2) starts with Produce v3.
        ApiKey::Produce => 3,
        // Fetch v4 is the first that returns format v2 batches with the
        // last stable offset; older versions may down-convert.
        ApiKey::Fetch => 4,
        // v0 answers with a list of "old style" offsets.
        ApiKey::ListOffsets => 1,
        // v0 has no way to ask for "all topics" other than an empty list and
        // no controller id.
        ApiKey::Metadata => 1,
        ApiKey::ApiVersions => 0,
        // validate_only starts at v1.
        ApiKey::CreateTopics => 1,
        ApiKey::DeleteTopics => 0,
        ApiKey::DescribeConfigs => 0,
        ApiKey::IncrementalAlterConfigs => 0,
        ApiKey::CreatePartitions => 0,
        ApiKey::DeleteRecords => 0,
        ApiKey::DescribeCluster => 0,
        // Groups. FindCoordinator v0 has no key type (groups only).
        ApiKey::FindCoordinator => 0,
        // v0 has no rebalance timeout.
        ApiKey::JoinGroup => 1,
        ApiKey::SyncGroup => 0,
        ApiKey::Heartbeat => 0,
        ApiKey::LeaveGroup => 0,
        // v0 and v1 may store offsets in ZooKeeper; v2 is the first with
        // broker-stored offsets only and a retention time.
        ApiKey::OffsetCommit => 2,
        // v2 is the first where null topics means "all committed".
        ApiKey::OffsetFetch => 2,
        ApiKey::ListGroups => 0,
        ApiKey::DescribeGroups => 0,
        ApiKey::DeleteGroups => 0,
        _ => return None,
    };
    let (_, codec_max) = version_range(api);
    (min <= codec_max).then_some((min, codec_max))
}

/// The broker's advertised version ranges, as read from ApiVersions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    ranges: Vec<(i16, i16, i16)>,
}

impl BrokerVersions {
    /// From `(api_key, min_version, max_version)` triples.
    pub fn new(ranges: Vec<(i16, i16, i16)>) -> BrokerVersions {
        BrokerVersions { ranges }
    }

    /// The broker's range for `api`, if it serves it.
    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.ranges
            .iter()
            .find(|(k, _, _)| *k == api.as_i16())
            .map(|(_, lo, hi)| (*lo, *hi))
    }

    /// The highest version of `api` that both sides support.
    pub fn negotiate(&self, api: ApiKey) -> Option<i16> {
        let (client_lo, client_hi) = client_range(api)?;
        let (broker_lo, broker_hi) = self.range(api)?;
        let version = client_hi.min(broker_hi);
        (version >= client_lo.max(broker_lo)).then_some(version)
    }

    /// Like [`BrokerVersions::negotiate`], as a [`ClientError::UnsupportedApi`].
    pub fn require(&self, api: ApiKey) -> Result<i16, ClientError> {
        self.negotiate(api)
            .ok_or(ClientError::UnsupportedApi { api: api.name() })
    }
}

/// The ApiVersions version to retry with after the broker answered
/// UNSUPPORTED_VERSION, from the range it listed for ApiVersions (KIP-511:
/// the highest version both know; v0 when it listed none).
pub fn api_versions_fallback(broker: &BrokerVersions) -> i16 {
    match broker.range(ApiKey::ApiVersions) {
        Some((lo, hi)) if hi >= lo => hi.clamp(0, API_VERSIONS_FIRST - 1).max(lo.max(0)),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_highest_common_version() {
        let b = BrokerVersions::new(vec![(0, 0, 11), (1, 0, 7), (3, 0, 100), (19, 0, 0)]);
        assert_eq!(
            b.negotiate(ApiKey::Produce),
            Some(11.min(version_range(ApiKey::Produce).1))
        );
        assert_eq!(b.negotiate(ApiKey::Fetch), Some(7));
        assert_eq!(
            b.negotiate(ApiKey::Metadata),
            Some(version_range(ApiKey::Metadata).1)
        );
        // CreateTopics v0 has no validate_only: not usable.
        assert_eq!(b.negotiate(ApiKey::CreateTopics), None);
        // Not advertised.
        assert_eq!(b.negotiate(ApiKey::DescribeConfigs), None);
        assert!(matches!(
            b.require(ApiKey::DescribeConfigs),
            Err(ClientError::UnsupportedApi {
                api: "DescribeConfigs"
            })
        ));
    }

    #[test]
    fn broker_range_above_ours_is_unusable() {
        let b = BrokerVersions::new(vec![(0, 50, 60)]);
        assert_eq!(b.negotiate(ApiKey::Produce), None);
    }

    #[test]
    fn api_versions_fallback_follows_broker_range() {
        assert_eq!(api_versions_fallback(&BrokerVersions::default()), 0);
        assert_eq!(
            api_versions_fallback(&BrokerVersions::new(vec![(18, 0, 2)])),
            2
        );
        assert_eq!(
            api_versions_fallback(&BrokerVersions::new(vec![(18, 0, 9)])),
            2
        );
        assert_eq!(
            api_versions_fallback(&BrokerVersions::new(vec![(18, 1, 1)])),
            1
        );
    }
}
