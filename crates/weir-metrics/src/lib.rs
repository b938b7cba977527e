//! Weir's metrics: names, descriptions and the Prometheus text exposition
//! (on the `metrics` facade and its Prometheus exporter). The broker records
//! with the `metrics` macros using the names below; [`install`] sets up the
//! recorder once per process and returns the handle whose
//! [`Exporter::render`] produces the scrape body. Names follow Prometheus
//! conventions (`weir_` prefix, `_total` counters, `_bytes`, `_seconds`);
//! they are listed with their labels in `docs/metrics.md`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Records appended, by `topic`.
pub const RECORDS_IN: &str = "weir_records_in_total";
/// Record-batch bytes appended, by `topic`.
pub const BYTES_IN: &str = "weir_bytes_in_total";
/// Records returned by consumer fetches, by `topic`.
pub const RECORDS_OUT: &str = "weir_records_out_total";
/// Record-batch bytes returned by consumer fetches, by `topic`.
pub const BYTES_OUT: &str = "weir_bytes_out_total";
/// Requests handled, by `api`.
pub const REQUESTS: &str = "weir_requests_total";
/// Time from reading a request to having its response, by `api`.
pub const REQUEST_SECONDS: &str = "weir_request_duration_seconds";
/// Non-zero error codes in responses of every API (top-level, per-resource
/// and per-partition), by `api` and `error` (Kafka code).
pub const REQUEST_ERRORS: &str = "weir_request_errors_total";
/// Bytes of request frames read from client connections (length prefix included).
pub const NETWORK_RECEIVED: &str = "weir_network_received_bytes_total";
/// Bytes of response frames written to client connections (length prefix included).
pub const NETWORK_SENT: &str = "weir_network_sent_bytes_total";
/// Open client connections.
pub const CONNECTIONS: &str = "weir_active_connections";
/// Consumer-group lag (high watermark minus committed offset), by `group`, `topic`, `partition`.
pub const GROUP_LAG: &str = "weir_consumer_group_lag";
/// Partitions in the cluster metadata, by `state` (`online`, `offline`).
pub const PARTITIONS: &str = "weir_partitions";
/// Partitions this node leads whose ISR is smaller than their replica set.
pub const UNDER_REPLICATED: &str = "weir_under_replicated_partitions";
/// Partitions this node leads whose ISR is smaller than the topic's
/// effective `min.insync.replicas`.
pub const UNDER_MIN_ISR: &str = "weir_under_min_isr_partitions";
/// Bytes on disk of each partition, by `topic`, `partition`.
pub const LOG_SIZE: &str = "weir_log_size_bytes";
/// Bytes on disk of the partitions in each log dir, by `dir`.
pub const LOG_DIR_SIZE: &str = "weir_log_dir_size_bytes";
/// Free bytes of the file system of each log dir, by `dir`.
pub const DISK_FREE: &str = "weir_log_dir_free_bytes";
/// Bytes deleted by retention.
pub const RETENTION_DELETED: &str = "weir_retention_deleted_bytes_total";
/// Log-cleaner passes that compacted something.
pub const CLEANER_PASSES: &str = "weir_log_cleaner_passes_total";
/// Resident set size of the broker process.
pub const PROCESS_RSS: &str = "weir_process_resident_memory_bytes";
/// CPU time of the broker process.
pub const PROCESS_CPU: &str = "weir_process_cpu_seconds_total";

/// Renders the scrape body.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
}

impl Exporter {
    /// The Prometheus text exposition of every metric recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();

/// Install the process-wide recorder (once; later calls return the same
/// exporter). `None` if another recorder was installed first.
pub fn install() -> Option<Exporter> {
    EXPORTER
        .get_or_init(|| {
            let buckets = [
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(REQUEST_SECONDS.to_string()),
                    &buckets,
                )
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            spawn_upkeep(handle.clone());
            describe();
            Some(Exporter { handle })
        })
        .clone()
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Histogram observations queue up until a render or an upkeep folds them
/// in; with nobody scraping, only upkeep keeps that queue bounded. A plain
/// thread, so it runs whatever runtime the caller uses.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started");
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(RECORDS_IN, "Records appended");
    describe_counter!(BYTES_IN, "Record-batch bytes appended");
    describe_counter!(RECORDS_OUT, "Records returned by consumer fetches");
    describe_counter!(BYTES_OUT, "Record-batch bytes returned by consumer fetches");
    describe_counter!(REQUESTS, "Requests handled");
    describe_histogram!(REQUEST_SECONDS, metrics::Unit::Seconds, "Request latency");
    describe_counter!(
        REQUEST_ERRORS,
        "Error codes answered (top-level, per resource and per partition), by Kafka error code"
    );
    describe_counter!(
        NETWORK_RECEIVED,
        metrics::Unit::Bytes,
        "Request frame bytes read from client connections"
    );
    describe_counter!(
        NETWORK_SENT,
        metrics::Unit::Bytes,
        "Response frame bytes written to client connections"
    );
    describe_gauge!(CONNECTIONS, "Open client connections");
    describe_gauge!(GROUP_LAG, "Consumer-group lag in records");
    describe_gauge!(PARTITIONS, "Partitions in the cluster metadata, by state");
    describe_gauge!(
        UNDER_REPLICATED,
        "Partitions led here whose ISR is smaller than their replicas"
    );
    describe_gauge!(
        UNDER_MIN_ISR,
        "Partitions led here whose ISR is smaller than min.insync.replicas"
    );
    describe_gauge!(LOG_SIZE, metrics::Unit::Bytes, "Partition size on disk");
    describe_gauge!(
        LOG_DIR_SIZE,
        metrics::Unit::Bytes,
        "Size on disk of the partitions in the log dir"
    );
    describe_gauge!(
        DISK_FREE,
        metrics::Unit::Bytes,
        "Free bytes of the log dir file system"
    );
    describe_counter!(
        RETENTION_DELETED,
        metrics::Unit::Bytes,
        "Bytes deleted by retention"
    );
    describe_counter!(
        CLEANER_PASSES,
        "Log-cleaner passes that compacted something"
    );
    describe_gauge!(PROCESS_RSS, metrics::Unit::Bytes, "Resident set size");
    describe_gauge!(
        PROCESS_CPU,
        metrics::Unit::Seconds,
        "Process CPU time (user + system)"
    );
}
