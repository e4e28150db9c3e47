//! OTLP metrics (SPEC §5, §8) against the real receiver: with `OTEL_METRICS_EXPORTER=otlp` a
//! frontend (gRPC, every 300 ms) and a worker (OTLP/HTTP, the default 60 s interval, so only its
//! last push at shutdown) push what their `GET /metrics` shows, over TLS to a collector with a
//! self-signed certificate and a token in the shared header setting; the values the receiver
//! gets are the values the scrape shows after the same requests, sample for sample.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{collections::BTreeMap, path::Path};

use serde_json::{Map, Value};
use tracewire_tests::{
    binary, http, poll, run, self_signed, start_frontend, start_worker, temp_dir, Process,
    Receiver, ReceiverOptions,
};

/// The token the receiver asks for; it must appear in no line.
const SECRET: &str = "m3tr1c-5ecret-42";

/// A sample: its name as Prometheus writes it, and its labels (`le` as a number's text).
type Key = (String, BTreeMap<String, String>);

/// `le="0.001"` and an OTLP bound 0.001 written alike.
fn bound(text: &str) -> String {
    match text {
        "+Inf" => "inf".to_owned(),
        t => format!("{}", t.parse::<f64>().unwrap()),
    }
}

/// The samples of a Prometheus text exposition, by name and labels. Written here, not taken
/// from the runtime, so that the runtime's own reading of its registry is checked against an
/// independent one.
fn scraped(text: &str) -> BTreeMap<Key, f64> {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                let v = v.trim_matches('"');
                let v = if k == "le" { bound(v) } else { v.to_owned() };
                (k.to_owned(), v)
            })
            .collect();
        samples.insert((name.to_owned(), labels), value.parse::<f64>().unwrap());
    }
    samples
}

fn attributes(point: &Value) -> BTreeMap<String, String> {
    point["attributes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// One push's metrics as the samples Prometheus would show for them (a monotonic sum `x` is
/// `x_total`, a histogram's buckets cumulative), checking the OTel form on the way.
fn pushed(metrics: &[&Map<String, Value>]) -> BTreeMap<Key, f64> {
    let mut samples = BTreeMap::new();
    for m in metrics {
        let name = m["name"].as_str().unwrap();
        assert!(name.starts_with("tracewire_"), "{m:?}");
        assert!(
            !name.ends_with("_total"),
            "an OTel name has no _total: {m:?}"
        );
        assert!(!m["description"].as_str().unwrap().is_empty(), "{m:?}");
        let points = m["points"].as_array().unwrap();
        match m["kind"].as_str().unwrap() {
            "sum" => {
                assert_eq!(m["monotonic"], true, "{m:?}");
                assert_eq!(m["temporality"], 2, "cumulative: {m:?}");
                for p in points {
                    assert!(p["start_ns"].as_u64().unwrap() <= p["time_ns"].as_u64().unwrap());
                    let key = (format!("{name}_total"), attributes(p));
                    samples.insert(key, p["value"].as_f64().unwrap());
                }
            }
            "histogram" => {
                assert_eq!(m["temporality"], 2, "cumulative: {m:?}");
                assert_eq!(m["unit"], "s", "{m:?}");
                for p in points {
                    let labels = attributes(p);
                    let counts = p["bucket_counts"].as_array().unwrap();
                    let bounds = p["explicit_bounds"].as_array().unwrap();
                    assert_eq!(counts.len(), bounds.len() + 1, "{p:?}");
                    let mut cumulative = 0.0;
                    for (i, count) in counts.iter().enumerate() {
                        cumulative += count.as_f64().unwrap();
                        let le = bounds
                            .get(i)
                            .map_or("inf".to_owned(), |b| format!("{}", b.as_f64().unwrap()));
                        let mut with_le = labels.clone();
                        with_le.insert("le".into(), le);
                        samples.insert((format!("{name}_bucket"), with_le), cumulative);
                    }
                    assert_eq!(cumulative, p["count"].as_f64().unwrap(), "{p:?}");
                    let count = p["count"].as_f64().unwrap();
                    samples.insert((format!("{name}_count"), labels.clone()), count);
                    samples.insert((format!("{name}_sum"), labels), p["sum"].as_f64().unwrap());
                }
            }
            other => panic!("no {other} metric is registered: {m:?}"),
        }
    }
    samples
}

/// The metrics of the last push the receiver got from `service`, and how many pushes it got.
fn last_push(receiver: &Receiver, service: &str) -> (BTreeMap<Key, f64>, usize) {
    let all = receiver.metrics();
    let own: Vec<&Map<String, Value>> = all
        .iter()
        .filter(|m| m["resource"]["service.name"] == service)
        .collect();
    let mut pushes: Vec<u64> = own.iter().map(|m| m["push"].as_u64().unwrap()).collect();
    pushes.dedup();
    let Some(last) = pushes.last() else {
        return (BTreeMap::new(), 0);
    };
    let metrics: Vec<&Map<String, Value>> = own
        .into_iter()
        .filter(|m| m["push"].as_u64() == Some(*last))
        .collect();
    (pushed(&metrics), pushes.len())
}

fn scrape(system: &str) -> BTreeMap<Key, f64> {
    let r = http(system, "GET", "/metrics", &[], "");
    assert_eq!(r.status, 200);
    scraped(&r.body)
}

/// Equal, but for the last bit: the receiver's JSON is read by serde_json, which without its
/// `float_roundtrip` feature may read a decimal one ULP away from `str::parse`.
fn same(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

fn differences(a: &BTreeMap<Key, f64>, b: &BTreeMap<Key, f64>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            Some(w) if same(*w, *v) => {}
            other => out.push(format!("{k:?}: scrape {v}, push {other:?}")),
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{k:?}: only pushed"));
    }
    out
}

fn no_secret(process: &Process) {
    assert!(!process.output().contains(SECRET), "{}", process.output());
}

fn env(ca: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("DYN_LOGGING_JSONL", "true".into()),
        ("DYN_LOG", "trace".into()),
        ("DYN_SYSTEM_PORT", "0".into()),
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.display().to_string()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization=Bearer%20{SECRET}"),
        ),
    ]
}

#[test]
fn pushed_metrics_are_what_the_scrape_shows_over_grpc_and_http_and_the_last_push_is_at_shutdown() {
    let dir = temp_dir("otlp-metrics");
    let collector = self_signed(&dir.join("collector"));
    let cert = collector.join("server.pem");
    let receiver = Receiver::start_with(
        &dir,
        ReceiverOptions {
            tls: Some(collector),
            token: Some(SECRET.into()),
            ..ReceiverOptions::default()
        },
    );
    let base = env(&cert);
    let grpc = receiver.endpoint("grpc");
    let http_metrics = format!("{}/v1/metrics", receiver.endpoint("http/protobuf"));

    let mut worker_env = base.clone();
    worker_env.extend([
        ("OTEL_SERVICE_NAME", "worker".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "http/protobuf".into(),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", http_metrics),
    ]);
    let worker_env: Vec<(&str, &str)> = worker_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut worker, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &worker_env);
    let worker_system = worker.wait_for_addr("system server listening");

    let mut frontend_env = base.clone();
    frontend_env.extend([
        ("OTEL_SERVICE_NAME", "frontend".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", grpc),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300".into()),
    ]);
    let frontend_env: Vec<(&str, &str)> =
        frontend_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut frontend, addr) = start_frontend(&dir, &[&waddr], &[], &frontend_env);
    let frontend_system = frontend.wait_for_addr("system server listening");

    for i in 0..5 {
        let r = tracewire_tests::chat(&addr, &format!("metrics-{i}"));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Two other statuses, so that labels are told apart.
    assert_eq!(
        http(&addr, "POST", "/v1/chat/completions", &[], "{").status,
        400
    );
    assert_eq!(http(&addr, "GET", "/nowhere", &[], "").status, 404);

    // The frontend: a push after the scrape shows every sample the scrape shows, with its value.
    let last = std::cell::RefCell::new(String::new());
    poll(
        15,
        || {
            format!(
                "a frontend push equal to its scrape; last differences:\n{}",
                last.borrow()
            )
        },
        || {
            let scrape = scrape(&frontend_system);
            let (push, n) = last_push(&receiver, "frontend");
            let diff = differences(&scrape, &push);
            *last.borrow_mut() = diff.join("\n");
            (n >= 2 && diff.is_empty()).then_some(())
        },
    );
    let (push, _) = last_push(&receiver, "frontend");
    let ok = ("tracewire_http_requests_total".to_owned(), {
        BTreeMap::from([
            ("status".to_owned(), "200".to_owned()),
            ("outcome".to_owned(), "ok".to_owned()),
        ])
    });
    assert_eq!(push.get(&ok), Some(&5.0), "{push:#?}");
    assert!(
        push.keys()
            .any(|(n, _)| n == "tracewire_time_to_first_token_seconds_count"),
        "{push:#?}"
    );

    // The worker: no push in 60 s, so none yet; at SIGTERM one push with what /metrics showed
    // (its line counts go on during shutdown, so they may only have grown).
    assert_eq!(
        last_push(&receiver, "worker").1,
        0,
        "the worker pushed early"
    );
    let before = scrape(&worker_system);
    assert_eq!(
        before
            .iter()
            .filter(|((n, _), _)| n == "tracewire_worker_requests_total")
            .map(|(_, v)| v)
            .sum::<f64>(),
        5.0,
        "{before:#?}"
    );
    worker.signal("TERM");
    assert_eq!(worker.wait(), Some(0), "{}", worker.output());
    let (push, n) = last_push(&receiver, "worker");
    assert_eq!(n, 1, "one push, at shutdown");
    let lines = |k: &Key| k.0 == "tracewire_log_lines_total";
    for (k, v) in &before {
        let got = push.get(k).copied();
        if lines(k) {
            assert!(got.is_some_and(|g| g >= *v), "{k:?}: {v} then {got:?}");
        } else {
            assert!(got.is_some_and(|g| same(g, *v)), "{k:?}: {v} then {got:?}");
        }
    }
    assert_eq!(push.len(), before.len(), "{push:#?}");

    frontend.signal("TERM");
    assert_eq!(frontend.wait(), Some(0));
    for m in receiver.metrics() {
        let want = match m["resource"]["service.name"].as_str() {
            Some("frontend") => "grpc",
            _ => "http/protobuf",
        };
        assert_eq!(m["protocol"], want, "{m:?}");
    }
    no_secret(&frontend);
    no_secret(&worker);
}

#[test]
fn a_collector_that_is_not_there_is_a_warn_at_once_and_at_shutdown_and_serving_goes_on() {
    let dir = temp_dir("otlp-metrics-away");
    let port = tracewire_tests::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
    ];
    let (mut worker, _) = start_worker(&dir, "worker", &[], &env);
    let warn = worker.wait_for_line("OTLP export is failing; retrying");
    assert_eq!(warn["what"], "metric pushes", "{warn:?}");
    assert!(
        warn["reason"].as_str().unwrap().contains("refused"),
        "{warn:?}"
    );
    worker.signal("TERM");
    assert_eq!(worker.wait(), Some(0), "{}", worker.output());
    let lines = worker.lines();
    let last = lines
        .iter()
        .find(|l| l.message == "OTLP metrics: the last push failed")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(last.level, "WARN");
    assert!(
        last["reason"].as_str().unwrap().contains("refused"),
        "{last:?}"
    );
}

#[test]
fn a_bad_metrics_setting_is_exit_2_naming_it() {
    for (var, value, says) in [
        (
            "OTEL_METRICS_EXPORTER",
            "otlp,statsd",
            "expected otlp, prometheus or none",
        ),
        (
            "OTEL_METRICS_EXPORTER",
            "console",
            "console is not supported",
        ),
        (
            "OTEL_METRIC_EXPORT_INTERVAL",
            "0",
            "expected milliseconds from 100",
        ),
        (
            "OTEL_METRIC_EXPORT_INTERVAL",
            "soon",
            "expected milliseconds from 100",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "udp",
            "expected grpc or http/protobuf",
        ),
    ] {
        let worker = binary("tracewire-worker");
        let r = run(
            worker.to_str().unwrap(),
            &["--listen", "127.0.0.1:0"],
            &[("OTEL_METRICS_EXPORTER", "otlp"), (var, value)],
        );
        assert_eq!(r.code, Some(2), "{var}={value}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{var}={value}: {}", r.stderr);
        assert!(
            r.stderr.contains(var) && r.stderr.contains(says),
            "{var}={value}: {}",
            r.stderr
        );
    }
}
