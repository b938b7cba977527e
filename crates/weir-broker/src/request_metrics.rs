//! Request-path metrics: requests and latency per API, network bytes per
//! connection, and the error codes of every response.
//!
//! Cost: a connection resolves its metric handles once ([`ConnectionMetrics`])
//! and then only adds to atomics, so no label is allocated and no registry
//! is searched per request or per frame. Error codes are found by walking the
//! response (generated [`Message::for_each_error_code`], one pass over its
//! topics and partitions, no allocation); the registry is only consulted for
//! a non-zero code, which is the rare path.

use std::time::Duration;

use metrics::{Counter, Histogram};
use weir_protocol::api::ApiKey;
use weir_protocol::codec::Message;

/// Stands for a key the broker does not know (the connection closes on it).
const UNKNOWN_API_KEY: i16 = -1;

/// The `api` label of a key: Kafka's API name, or `Unknown`.
pub fn api_name(api_key: i16) -> &'static str {
    ApiKey::try_from(api_key).map_or("Unknown", ApiKey::name)
}

/// The key a request counts under: itself if known, else [`UNKNOWN_API_KEY`],
/// so a client sending random keys adds one label set, not thousands.
pub fn normalized_api_key(api_key: i16) -> i16 {
    if ApiKey::try_from(api_key).is_ok() {
        api_key
    } else {
        UNKNOWN_API_KEY
    }
}

/// Count every non-zero error code `body` carries in `version`, as
/// `weir_request_errors_total{api, error}`: top-level, per-resource and
/// per-partition codes alike, each occurrence once.
pub fn count_response_errors<M: Message>(api_key: i16, version: i16, body: &M) {
    body.for_each_error_code(version, &mut |code| {
        if code != 0 {
            metrics::counter!(
                weir_metrics::REQUEST_ERRORS,
                "api" => api_name(api_key),
                "error" => code.to_string()
            )
            .increment(1);
        }
    });
}

/// One API's handles.
struct ApiHandles {
    api_key: i16,
    requests: Counter,
    seconds: Histogram,
}

/// The metric handles of one connection, resolved on first use.
pub struct ConnectionMetrics {
    received_bytes: Counter,
    sent_bytes: Counter,
    /// Searched linearly: a client uses a handful of APIs, so this beats a
    /// map, and it holds at most one entry per known API plus `Unknown`
    /// (keys are normalized with [`normalized_api_key`]).
    by_api: Vec<ApiHandles>,
}

impl Default for ConnectionMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionMetrics {
    /// Handles for a new connection.
    pub fn new() -> Self {
        ConnectionMetrics {
            received_bytes: metrics::counter!(weir_metrics::NETWORK_RECEIVED),
            sent_bytes: metrics::counter!(weir_metrics::NETWORK_SENT),
            by_api: Vec::new(),
        }
    }

    /// The received-bytes counter, for the reader half of the connection.
    pub fn received_bytes(&self) -> Counter {
        self.received_bytes.clone()
    }

    /// Count a response frame of `bytes` (length prefix included) written.
    pub fn sent(&self, bytes: usize) {
        self.sent_bytes.increment(bytes as u64);
    }

    /// Count one answered request of `api_key` (normalized) that took `elapsed`.
    pub fn request(&mut self, api_key: i16, elapsed: Duration) {
        let i = match self.by_api.iter().position(|h| h.api_key == api_key) {
            Some(i) => i,
            None => {
                let api = api_name(api_key);
                self.by_api.push(ApiHandles {
                    api_key,
                    requests: metrics::counter!(weir_metrics::REQUESTS, "api" => api),
                    seconds: metrics::histogram!(weir_metrics::REQUEST_SECONDS, "api" => api),
                });
                self.by_api.len() - 1
            }
        };
        if let Some(h) = self.by_api.get(i) {
            h.requests.increment(1);
            h.seconds.record(elapsed.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_share_one_label() {
        assert_eq!(normalized_api_key(0), 0);
        assert_eq!(normalized_api_key(18), 18);
        assert_eq!(normalized_api_key(i16::MAX), UNKNOWN_API_KEY);
        assert_eq!(normalized_api_key(-7), UNKNOWN_API_KEY);
        assert_eq!(api_name(UNKNOWN_API_KEY), "Unknown");
        assert_eq!(api_name(0), "Produce");
    }

    #[test]
    fn one_handle_set_per_api() {
        let mut m = ConnectionMetrics::new();
        for key in [0, 1, 0, 0, 1, UNKNOWN_API_KEY] {
            m.request(key, Duration::from_millis(1));
        }
        assert_eq!(m.by_api.len(), 3);
    }
}
