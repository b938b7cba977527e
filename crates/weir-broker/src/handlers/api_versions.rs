//! ApiVersions (key 18): the table of what Weir serves.
//!
//! Only versions whose every field is honoured are advertised, because
//! clients use the highest version both sides support. Produce is advertised
//! from v0 although v0-v2 (message formats 0 and 1) are refused per
//! partition: librdkafka disables compression against a broker whose
//! Produce range starts above 0 (KAFKA-18659).

use weir_protocol::messages::api_versions_request::ApiVersionsRequest;
use weir_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

use crate::dispatch::{Reply, respond};
use crate::errors::ErrorCode;

/// ApiVersions' key.
pub const API_VERSIONS_KEY: i16 = 18;

/// (API key, min version, max version) served by this broker.
pub const SUPPORTED: &[(i16, i16, i16)] = &[
    (0, 0, 11), // Produce
    (1, 0, 17), // Fetch
    (2, 0, 10), // ListOffsets
    (3, 0, 12), // Metadata
    (8, 0, 9),  // OffsetCommit
    (9, 0, 9),  // OffsetFetch
    (10, 0, 6), // FindCoordinator
    (11, 0, 9), // JoinGroup
    (12, 0, 4), // Heartbeat
    (13, 0, 5), // LeaveGroup
    (14, 0, 5), // SyncGroup
    (15, 0, 5), // DescribeGroups
    (16, 0, 5), // ListGroups
    (18, 0, 4), // ApiVersions
    (19, 0, 7), // CreateTopics
    (20, 0, 6), // DeleteTopics
    (21, 0, 2), // DeleteRecords
    (22, 0, 5), // InitProducerId
    (24, 0, 5), // AddPartitionsToTxn
    (25, 0, 4), // AddOffsetsToTxn
    (26, 0, 5), // EndTxn
    (27, 0, 1), // WriteTxnMarkers
    (28, 0, 4), // TxnOffsetCommit
    (65, 0, 0), // DescribeTransactions
    (66, 0, 1), // ListTransactions
    (42, 0, 2), // DeleteGroups
    (47, 0, 0), // OffsetDelete
    (23, 0, 4), // OffsetForLeaderEpoch
    (32, 0, 4), // DescribeConfigs
    (35, 0, 4), // DescribeLogDirs
    (37, 0, 3), // CreatePartitions
    (33, 0, 2), // AlterConfigs (topics)
    (44, 0, 1), // IncrementalAlterConfigs (topics)
    (60, 0, 1), // DescribeCluster
];

/// Answered (with an error) but not advertised.
pub const ANSWERED_NOT_ADVERTISED: &[(i16, i16, i16)] = &[];

/// Whether `(key, version)` is served or answered.
pub fn is_supported(key: i16, version: i16) -> bool {
    SUPPORTED
        .iter()
        .chain(ANSWERED_NOT_ADVERTISED)
        .any(|(k, lo, hi)| *k == key && (*lo..=*hi).contains(&version))
}

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|(k, lo, hi)| ApiVersion {
            api_key: *k,
            min_version: *lo,
            max_version: *hi,
            ..Default::default()
        })
        .collect()
}

/// Answer a supported ApiVersions request.
pub fn handle(_version: i16, _req: &ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: 0,
        api_keys: api_keys(),
        ..Default::default()
    }
}

/// KIP-511: a version we do not know gets UNSUPPORTED_VERSION in a v0 body
/// (response header v0), listing our ranges so the client can retry.
pub fn unsupported_version_reply(correlation_id: i32) -> Reply {
    let body = ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: api_keys(),
        ..Default::default()
    };
    respond(correlation_id, API_VERSIONS_KEY, 0, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_ranges_are_within_the_specs() {
        for (k, lo, hi) in SUPPORTED {
            let key = weir_protocol::api::ApiKey::try_from(*k).unwrap();
            let (spec_lo, spec_hi) = weir_protocol::api::version_range(key);
            assert!(*lo >= spec_lo && *hi <= spec_hi, "key {k}");
        }
        assert!(
            is_supported(0, 0),
            "Produce must be advertised from v0 (KAFKA-18659)"
        );
        assert!(!is_supported(18, 5));
    }
}
