//! `weir bench produce`, `consume` and `e2e` against a real broker: each
//! prints one complete JSON report, the counts agree across the three, the
//! percentiles are ordered, the broker is found by its port, and a broker
//! that dies mid-run ends the benchmark with an error instead of a hang.

mod common;

use std::time::{Duration, Instant};

use common::Broker;
use serde_json::Value;

fn f64_of(doc: &Value, path: &[&str]) -> f64 {
    let mut v = doc;
    for key in path {
        v = &v[*key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {doc}"))
}

/// Rates are positive and the latency percentiles are ordered.
fn check_report(doc: &Value, mode: &str, records: u64, with_latency: bool) {
    assert_eq!(doc["mode"], mode, "{doc}");
    assert_eq!(doc["records"].as_u64(), Some(records), "{doc}");
    assert!(f64_of(doc, &["records_per_s"]) > 0.0, "{doc}");
    assert!(f64_of(doc, &["mib_per_s"]) > 0.0, "{doc}");
    assert!(f64_of(doc, &["elapsed_s"]) >= 0.0, "{doc}");
    assert!(doc["parameters"]["topic"].is_string(), "{doc}");
    if with_latency {
        let p = |k: &str| f64_of(doc, &["latency_ms", k]);
        assert_eq!(doc["latency_ms"]["count"].as_u64(), Some(records), "{doc}");
        assert!(p("p50") <= p("p95"), "{doc}");
        assert!(p("p95") <= p("p99"), "{doc}");
        assert!(p("p99") <= p("p99_9"), "{doc}");
        assert!(p("p99_9") <= p("max"), "{doc}");
        assert!(p("max") > 0.0, "{doc}");
    } else {
        assert!(doc["latency_ms"].is_null(), "{doc}");
    }
}

#[test]
fn produce_consume_and_e2e_reports_agree() {
    let broker = Broker::start();
    let produced = broker
        .weir(&[
            "bench",
            "produce",
            "--num-records",
            "2000",
            "--record-size",
            "100",
            "--json",
        ])
        .run()
        .ok()
        .json();
    check_report(&produced, "produce", 2000, true);
    assert_eq!(produced["bytes"].as_u64(), Some(2000 * 100), "{produced}");
    assert_eq!(produced["latency_from"], "enqueue_time", "{produced}");
    assert_eq!(produced["parameters"]["acks"], "all", "{produced}");
    // No --broker-pid: the broker is found by the port it listens on.
    assert_eq!(
        produced["broker"]["pid"].as_u64(),
        Some(u64::from(broker.pid())),
        "{produced}"
    );
    assert!(f64_of(&produced, &["broker", "cpu_s"]) >= 0.0);
    assert!(f64_of(&produced, &["broker", "peak_rss_bytes"]) > 0.0);

    let consumed = broker
        .weir(&["bench", "consume", "--num-records", "2000", "--json"])
        .run()
        .ok()
        .json();
    check_report(&consumed, "consume", 2000, false);
    assert_eq!(consumed["records"], produced["records"]);
    assert_eq!(consumed["bytes"], produced["bytes"]);

    // Starts at the end of the topic: the 2000 records above are not
    // counted, and nothing of them is mistaken for this run's.
    let e2e = broker
        .weir(&[
            "bench",
            "e2e",
            "--throughput",
            "500",
            "--num-records",
            "500",
            "--json",
        ])
        .run()
        .ok()
        .json();
    check_report(&e2e, "e2e", 500, true);
    assert_eq!(e2e["produced"].as_u64(), Some(500), "{e2e}");
    assert_eq!(e2e["ignored_records"].as_u64(), Some(0), "{e2e}");
    assert_eq!(e2e["latency_from"], "intended_send_time", "{e2e}");
    // 500 records at 500/s are meant to go out over 0.998 s.
    assert!(f64_of(&e2e, &["elapsed_s"]) >= 0.99, "{e2e}");
    assert!(f64_of(&e2e, &["records_per_s"]) <= 510.0, "{e2e}");

    // With --duration at a fixed rate, exactly the records whose intended
    // time falls inside the window are sent; by pid, with two producers.
    let timed = broker
        .weir(&[
            "bench",
            "produce",
            "--topic",
            "timed",
            "--partitions",
            "3",
            "--duration",
            "0.5",
            "--throughput",
            "1000",
            "--producers",
            "2",
            "--acks",
            "1",
            "--broker-pid",
            &broker.pid().to_string(),
            "--json",
        ])
        .run()
        .ok()
        .json();
    check_report(&timed, "produce", 500, true);
    assert_eq!(timed["parameters"]["partitions"], 3, "{timed}");
    assert_eq!(timed["latency_from"], "intended_send_time", "{timed}");
    let consumed = broker
        .weir(&[
            "bench",
            "consume",
            "--topic",
            "timed",
            "--consumers",
            "2",
            "--json",
        ])
        .run()
        .ok()
        .json();
    check_report(&consumed, "consume", 500, false);
}

#[test]
fn text_summary_and_clear_errors() {
    let broker = Broker::start();
    let out = broker
        .weir(&[
            "bench",
            "produce",
            "--topic",
            "text",
            "--num-records",
            "100",
        ])
        .run()
        .ok();
    assert!(
        out.stdout.starts_with("100 records sent in "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("latency ms (from enqueue time): p50 "),
        "{out:?}"
    );

    let out = broker
        .weir(&["bench", "consume", "--topic", "missing"])
        .run()
        .failed();
    assert!(out.stderr.contains("does not exist"), "{out:?}");
    let out = broker
        .weir(&[
            "bench",
            "produce",
            "--num-records",
            "1",
            "--compression",
            "lz4",
        ])
        .run()
        .failed();
    assert!(out.stderr.contains("uncompressed batches only"), "{out:?}");
}

/// Send `signal` (e.g. `-9`) to `pid` after `delay`, on another thread.
fn signal_later(signal: &'static str, pid: u32, delay: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let _ = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
    })
}

#[test]
fn broker_death_ends_the_run_with_an_error() {
    let broker = Broker::start();
    let killer = signal_later("-9", broker.pid(), Duration::from_millis(700));
    let started = Instant::now();
    let out = broker
        .weir(&[
            "bench",
            "e2e",
            "--duration",
            "30",
            "--throughput",
            "200",
            "--timeout-ms",
            "2000",
        ])
        .run()
        .failed();
    let _ = killer.join();
    assert!(
        out.stderr.lines().any(|l| l.starts_with("Error: ")),
        "{out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}: {out:?}",
        started.elapsed()
    );
}

#[test]
fn broker_that_stops_answering_trips_the_watchdog() {
    let broker = Broker::start();
    let stopper = signal_later("-STOP", broker.pid(), Duration::from_millis(700));
    let out = broker
        .weir(&[
            "bench",
            "produce",
            "--duration",
            "30",
            "--throughput",
            "200",
            "--acks",
            "1",
            "--timeout-ms",
            "1500",
        ])
        .run();
    let _ = stopper.join();
    let _ = signal_later("-CONT", broker.pid(), Duration::ZERO).join();
    let out = out.failed();
    assert!(
        out.stderr.contains("no progress for") && out.stderr.contains("records acknowledged"),
        "{out:?}"
    );
}
