//! The built-in web console on the admin listener (`/`): cluster
//! overview, topics with their partitions and configs, a record browser,
//! consumer groups with lag and a lag chart, and broker throughput charts.
//!
//! * The page (`assets/`) is compiled into the binary: no CDN, no build
//!   step. It renders every value with `textContent` (never as HTML), and
//!   the responses forbid inline script (`Content-Security-Policy`), so a
//!   record whose value is markup shows as text.
//! * It reads the JSON API in [`api`] and [`records`]. Writes (create and
//!   delete topics) answer 403 unless `admin.console.read.only=false`, and
//!   need the `x-weir-console` request header, which a cross-site form or
//!   script cannot send without a preflight this listener never grants.
//! * A sampler ([`history`]) notes counters and group lag every
//!   `admin.console.sample.interval.ms` for the charts.
//!
//! `admin.console.enable=false` leaves only `/health`, `/ready` and
//! `/metrics` on the listener.

pub mod api;
pub mod history;
pub mod records;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use weir_metadata::topics::CreateTopic;

use crate::broker::{Broker, now_ms};
use crate::lag::group_lags;
use history::{History, Sample, parse_topic_counters};

/// What the console's handlers share.
pub struct Console {
    /// The broker.
    pub broker: Arc<Broker>,
    /// Samples for rates and charts.
    pub history: History,
    /// When the console started (the broker's uptime, near enough).
    pub started: Instant,
    /// Whether writes are refused.
    pub read_only: bool,
}

type St = State<Arc<Console>>;

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// Headers on every console response: no inline or foreign script, no
/// framing, no content sniffing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("{what} not found")})),
    )
        .into_response()
}

/// The console's routes; spawns its sampler (stopped with the runtime).
pub fn router(broker: Arc<Broker>, exporter: weir_metrics::Exporter) -> Router {
    let console = Arc::new(Console {
        read_only: broker.config.admin_console.read_only,
        broker,
        history: History::default(),
        started: Instant::now(),
    });
    tokio::spawn(sample_loop(console.clone(), exporter));
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/console.css",
            get(|| async { asset("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
        .route(
            "/api/overview",
            get(|State(c): St| async move { Json(api::overview(&c)) }),
        )
        .route(
            "/api/topics",
            get(|State(c): St| async move { Json(api::topics(&c)) }).post(create_topic),
        )
        .route("/api/topics/{topic}", get(topic).delete(delete_topic))
        .route("/api/topics/{topic}/records", get(browse))
        .route(
            "/api/groups",
            get(|State(c): St| async move { Json(api::groups(&c)) }),
        )
        .route("/api/groups/{group}", get(group))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

async fn topic(State(c): St, Path(name): Path<String>) -> Response {
    match api::topic(&c, &name) {
        Some(v) => Json(v).into_response(),
        None => not_found("topic"),
    }
}

async fn group(State(c): St, Path(id): Path<String>) -> Response {
    match api::group(&c, &id) {
        Some(v) => Json(v).into_response(),
        None => not_found("group"),
    }
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

/// `?partition=P&offset=O` or `?partition=P&timestamp=MS`, `&limit=N`.
async fn browse(
    State(c): St,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let num = |k: &str| -> Result<Option<i64>, String> {
        q.get(k)
            .filter(|v| !v.is_empty())
            .map(|v| v.trim().parse::<i64>())
            .transpose()
            .map_err(|_| format!("{k} must be an integer"))
    };
    let parsed = (|| {
        let partition = num("partition")?.unwrap_or(0);
        let start = match (num("offset")?, num("timestamp")?) {
            (_, Some(ts)) => records::Start::Timestamp(ts),
            (o, None) => records::Start::Offset(o.unwrap_or(0)),
        };
        let limit = num("limit")?.map_or(records::DEFAULT_LIMIT, |l| l.max(1) as usize);
        Ok::<_, String>((partition, start, limit))
    })();
    let (partition, start, limit) = match parsed {
        Ok(x) => x,
        Err(msg) => return bad_request(msg),
    };
    let Ok(index) = i32::try_from(partition) else {
        return not_found("partition");
    };
    let Some(p) = c.broker.logs.get(&name, index) else {
        return not_found("partition");
    };
    match records::page(&p, start, limit) {
        Ok(v) => Json(v).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Why a write is refused, if it is.
fn write_refused(c: &Console, headers: &HeaderMap) -> Option<Response> {
    if c.read_only {
        return Some(
            (
                StatusCode::FORBIDDEN,
                Json(json!({"error": "the console is read-only (admin.console.read.only=true)"})),
            )
                .into_response(),
        );
    }
    if !headers.contains_key("x-weir-console") {
        return Some(bad_request("missing x-weir-console header".into()));
    }
    None
}

#[derive(serde::Deserialize)]
struct NewTopic {
    name: String,
    partitions: Option<i32>,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

async fn create_topic(State(c): St, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = write_refused(&c, &headers) {
        return r;
    }
    let req: NewTopic = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let create = CreateTopic {
        num_partitions: req.partitions.unwrap_or(c.broker.config.num_partitions),
        name: req.name.clone(),
        replication_factor: 1,
        assignments: BTreeMap::new(),
        configs: req.configs,
    };
    let mut results = c.broker.create_topics(vec![create], false).await;
    match results.pop() {
        Some(Ok(_)) => {
            tracing::info!(topic = %req.name, "topic created from the console");
            (StatusCode::CREATED, Json(json!({"created": req.name}))).into_response()
        }
        Some(Err(e)) => bad_request(e.to_string()),
        None => bad_request("nothing created".into()),
    }
}

async fn delete_topic(State(c): St, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(r) = write_refused(&c, &headers) {
        return r;
    }
    if weir_metadata::names::is_internal_topic(&name) {
        return bad_request(format!("{name} is internal"));
    }
    match c.broker.delete_topic(&name).await {
        Ok(true) => {
            tracing::info!(topic = %name, "topic deleted from the console");
            Json(json!({"deleted": name})).into_response()
        }
        Ok(false) => not_found("topic"),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Take a sample every interval until the runtime stops.
async fn sample_loop(c: Arc<Console>, exporter: weir_metrics::Exporter) {
    let every = Duration::from_millis(c.broker.config.admin_console.sample_interval_ms);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut group_lag: BTreeMap<String, i64> = BTreeMap::new();
        for l in group_lags(&c.broker, None) {
            *group_lag.entry(l.group).or_default() += l.lag;
        }
        c.history.push(Sample {
            ts_ms: now_ms(),
            topics: parse_topic_counters(&exporter.render()),
            group_lag,
        });
    }
}
