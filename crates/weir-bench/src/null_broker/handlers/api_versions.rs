//! ApiVersions (key 18): the table of what the null broker serves.
//!
//! Only versions whose every field is honoured are advertised, because
//! clients use the highest version both sides know. The ranges follow
//! Kafka 4.0's where they differ from the specs' (no Fetch below v4, no
//! ListOffsets v0, no CreateTopics below v2); Produce starts at v0 because
//! librdkafka turns compression off against a broker whose Produce range
//! starts higher (KAFKA-18659); v0-v2 batches of magic 0/1 are refused per
//! partition.

use weir_protocol::api::ApiKey;
use weir_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

use crate::null_broker::dispatch::{Reply, respond};
use crate::null_broker::error_codes::ErrorCode;

/// (API, lowest version, highest version) served.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 11),
    (ApiKey::Fetch, 4, 17),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::InitProducerId, 0, 5),
];

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|(api, lo, hi)| ApiVersion {
            api_key: api.as_i16(),
            min_version: *lo,
            max_version: *hi,
            ..Default::default()
        })
        .collect()
}

/// Answer a supported ApiVersions request.
pub fn handle() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::None.code(),
        api_keys: api_keys(),
        ..Default::default()
    }
}

/// KIP-511: a version the broker does not know gets UNSUPPORTED_VERSION in
/// a v0 body listing the ranges, so the client can retry with one it knows.
pub fn unsupported_version_reply(correlation_id: i32) -> Reply {
    let body = ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: api_keys(),
        ..Default::default()
    };
    respond(correlation_id, ApiKey::ApiVersions, 0, &body)
}

#[cfg(test)]
mod tests {
    use weir_protocol::api::version_range;

    use super::*;

    #[test]
    fn advertised_ranges_are_within_the_specs() {
        for (api, lo, hi) in SUPPORTED {
            let (spec_lo, spec_hi) = version_range(*api);
            assert!(lo <= hi && *lo >= spec_lo && *hi <= spec_hi, "{api}");
        }
    }
}
