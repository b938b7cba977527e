//! The admin HTTP listener (`admin.listener`, default 127.0.0.1:9644;
//! empty or `none` disables it):
//!
//! * `/health`: 200 while the process serves (liveness);
//! * `/ready`: 200 once storage is loaded and the coordinators serve, else 503;
//! * `/metrics`: the Prometheus text exposition (`docs/metrics.md`);
//! * `/` and `/api/...`: the web console (`crate::console`,
//!   `docs/console.md`), unless `admin.console.enable=false`.
//!
//! Gauges that describe state rather than events (group lag, partition
//! counts by state, log sizes per partition and per log dir, disk free,
//! process RSS and CPU) are computed when `/metrics` is scraped, so they
//! cost nothing while nobody scrapes.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use weir_metrics as m;

use crate::broker::Broker;
use crate::partition_states;

/// Serve the admin routes on `listener` until the task is aborted.
pub async fn serve(broker: Arc<Broker>, exporter: m::Exporter, listener: tokio::net::TcpListener) {
    let app = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(scrape))
        .with_state((broker.clone(), exporter.clone()));
    let app = if broker.config.admin_console.enable {
        app.merge(crate::console::router(broker, exporter))
    } else {
        app
    };
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "admin listener failed");
    }
}

type AppState = State<(Arc<Broker>, m::Exporter)>;

async fn ready(State((broker, _)): AppState) -> (StatusCode, &'static str) {
    if broker.groups.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading\n")
    }
}

async fn scrape(
    State((broker, exporter)): AppState,
) -> ([(&'static str, &'static str); 1], String) {
    refresh_gauges(&broker);
    (
        [("content-type", "text/plain; version=0.0.4")],
        exporter.render(),
    )
}

/// Set the state gauges from the broker's current state.
fn refresh_gauges(broker: &Broker) {
    let dirs = &broker.config.log_dirs;
    let mut dir_bytes = vec![0u64; dirs.len()];
    let hosted = broker.logs.all();
    let mut online_logs = std::collections::HashSet::new();
    for p in &hosted {
        let size = p.size_bytes();
        metrics::gauge!(m::LOG_SIZE, "topic" => p.topic.clone(), "partition" => p.index.to_string())
            .set(size as f64);
        // Path equality compares components, so `data/` matches `data`.
        if let Some(i) = dirs.iter().position(|d| d.as_path() == p.log_dir())
            && let Some(sum) = dir_bytes.get_mut(i)
        {
            *sum += size;
        }
        if p.offsets().is_ok() {
            online_logs.insert((p.topic.as_str(), p.index));
        }
    }
    let states = partition_states::count(
        broker.image().topics(),
        broker.node_id(),
        |t| broker.logs.effective_config(t).min_insync_replicas,
        |topic, index| online_logs.contains(&(topic, index)),
    );
    metrics::gauge!(m::PARTITIONS, "state" => "online").set(states.online as f64);
    metrics::gauge!(m::PARTITIONS, "state" => "offline").set(states.offline as f64);
    metrics::gauge!(m::UNDER_REPLICATED).set(states.under_replicated as f64);
    metrics::gauge!(m::UNDER_MIN_ISR).set(states.under_min_isr as f64);
    for (dir, bytes) in dirs.iter().zip(dir_bytes) {
        let label = dir.display().to_string();
        metrics::gauge!(m::LOG_DIR_SIZE, "dir" => label.clone()).set(bytes as f64);
        if let Some(free) = disk_free(dir) {
            metrics::gauge!(m::DISK_FREE, "dir" => label).set(free as f64);
        }
    }
    for l in crate::lag::group_lags(broker, None) {
        metrics::gauge!(m::GROUP_LAG, "group" => l.group, "topic" => l.topic, "partition" => l.partition.to_string())
            .set(l.lag as f64);
    }
    if let Some((rss, cpu)) = process_stats() {
        metrics::gauge!(m::PROCESS_RSS).set(rss as f64);
        metrics::gauge!(m::PROCESS_CPU).set(cpu);
    }
}

/// Free bytes of the file system holding `dir`.
fn disk_free(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a
    // valid NUL-terminated string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| (st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// (RSS bytes, CPU seconds) of this process from /proc.
fn process_stats() -> Option<(u64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    let clk = 100.0; // USER_HZ on Linux
    let cpu = (ticks(11)? + ticks(12)?) as f64 / clk;
    Some((rss_kib * 1024, cpu))
}
