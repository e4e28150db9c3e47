//! The Rust frontend in front of the Python worker (`components/python-worker/worker.py`,
//! through the `tracewire` package): the Python engine's `logging` lines carry the frontend's
//! trace, the `handle_payload` span's id and the request id, on the HTTP plane and on etcd +
//! NATS; both processes' output passes check-jsonl.

use serde_json::Value;
use tracewire_tests::{
    check_jsonl, http, start_frontend, temp_dir, wait_until, HttpCall, Line, Process, Receiver,
    Server,
};

const STREAM: &str = r#"{"model": "Qwen/Qwen3-0.6B", "stream": true, "max_tokens": 4, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;
const CALLER: &str = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Starts `worker.py` on a free port (token delay 1 ms) with `env`; returns it and its address.
fn start_python_worker(dir: &std::path::Path, env: &[(&str, &str)]) -> (Process, String) {
    let args = ["--listen", "127.0.0.1:0", "--token-delay-ms", "1"];
    let mut worker = Process::start_python_worker("worker", dir, &args, env);
    let addr = worker.wait_for_addr("worker listening");
    (worker, addr)
}

/// Sends a streamed chat as request `id` with `headers`; returns the SSE body (status 200).
fn stream(addr: &str, id: &str, headers: &[&str]) -> String {
    let request_id = format!("x-request-id: {id}");
    let mut all = vec![request_id.as_str()];
    all.extend_from_slice(headers);
    let mut call = HttpCall::send(
        addr,
        "POST",
        "/v1/chat/completions",
        &all,
        STREAM.as_bytes(),
    );
    call.read_until("[DONE]");
    let response = call.finish();
    assert_eq!(response.status, 200, "{}", response.body);
    response.body
}

/// check-jsonl over the frontend's and the worker's output in `dir` (it fails the test on any
/// finding; the summary names what it read).
fn check_both(dir: &std::path::Path) {
    let checked = check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    assert!(checked.contains("0 never closed"), "{checked}");
}

/// Request `id`'s trace through both processes: the frontend's span continues the caller's,
/// the worker's `handle_payload` is its child, and the Python engine's lines (an INFO line,
/// then a DEBUG line per token) are in `handle_payload`, with the request id.
fn assert_linked(frontend: &[Line], worker: &[Line], id: &str, tokens: usize) {
    let mine = |l: &&Line| l.x_request_id.as_deref() == Some(id);
    let http_span = frontend
        .iter()
        .filter(mine)
        .find(|l| l.message == "SPAN_CREATED" && l.span() == "http-request")
        .unwrap_or_else(|| panic!("the frontend's span of {id}"));
    assert_eq!(
        http_span.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    let payload = worker
        .iter()
        .filter(mine)
        .find(|l| l.message == "SPAN_CREATED" && l.span() == "handle_payload")
        .unwrap_or_else(|| panic!("the worker's span of {id}"));
    assert_eq!(payload.trace_id, http_span.trace_id);
    assert_eq!(payload.parent_id, http_span.span_id);
    let engine: Vec<&Line> = worker
        .iter()
        .filter(|l| l.fields.get("log.target") == Some(&Value::from("engine.mock")))
        .filter(mine)
        .collect();
    let levels: Vec<&str> = engine.iter().map(|l| l.level.as_str()).collect();
    let mut expected = vec!["INFO"];
    expected.extend(std::iter::repeat_n("DEBUG", tokens));
    assert_eq!(
        levels, expected,
        "{id}: an INFO line, then a DEBUG line per token"
    );
    for line in &engine {
        assert_eq!(line.target, "log");
        assert!(line.fields["log.file"]
            .as_str()
            .is_some_and(|f| f.ends_with("components/python-worker/worker.py")));
        assert!(line.fields["log.line"].is_u64());
        assert_eq!(
            line.trace_id, http_span.trace_id,
            "{id}: the frontend's trace"
        );
        assert_eq!(line.span_id, payload.span_id, "{id}: in handle_payload");
        assert_eq!(line.span(), "handle_payload");
    }
    assert_eq!(engine[1]["index"], 0, "extra fields in their JSON types");
}

#[test]
fn the_python_engines_lines_join_the_frontends_trace_over_http() {
    let dir = temp_dir("python-http");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,engine=debug"),
    ];
    let (worker, waddr) = start_python_worker(&dir, &env);
    let (frontend, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    let body = stream(&addr, "py-1", &[CALLER]);
    assert!(body.contains(r#""content":"What "#), "{body}");
    // Cut at max_tokens: the Python mock ends as the Rust one does.
    assert!(body.contains(r#""finish_reason":"length""#), "{body}");
    let json = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: py-2", CALLER],
        r#"{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "one two three" }]}"#,
    );
    assert_eq!(json.status, 200);
    assert_eq!(
        json.json()["choices"][0]["message"]["content"],
        "one two three"
    );
    // A model the Python worker does not serve: refused by the Rust endpoint, as the Rust
    // worker refuses it.
    let other = http(
        &waddr,
        "POST",
        "/generate",
        &[],
        r#"{"model": "gpt-9", "prompt": "a", "max_tokens": null}"#,
    );
    assert_eq!(other.status, 404);
    let (f, w) = (frontend.stop(), worker.stop());
    assert_linked(&f, &w, "py-1", 4);
    assert_linked(&f, &w, "py-2", 3);
    assert!(
        w.iter().any(|l| l.message == "worker stopped"),
        "SIGTERM stops the Python worker as it stops tracewire-worker"
    );
    check_both(&dir);
}

#[test]
fn the_python_worker_serves_the_nats_plane_found_through_etcd() {
    let dir = temp_dir("python-nats");
    let nats = Server::nats(&dir);
    let etcd = Server::etcd(&dir);
    let (etcd_url, nats_url) = (etcd.url(), nats.url());
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,engine=debug"),
        ("ETCD_ENDPOINTS", etcd_url.as_str()),
        ("NATS_SERVER", nats_url.as_str()),
        ("DYN_LEASE_TTL_S", "2"),
    ];
    let (mut worker, _) = start_python_worker(&dir, &env);
    let lease = worker.wait_for_line("registered in etcd")["instance_id"].to_string();
    let (frontend, addr) = start_frontend(&dir, &[], &[], &env);
    wait_until(20, "the frontend finds the Python worker", || {
        frontend
            .lines()
            .iter()
            .any(|l| l.message == "instance added")
    });
    stream(&addr, "py-nats-1", &[CALLER]);
    let (f, w) = (frontend.stop(), worker.stop());
    assert_linked(&f, &w, "py-nats-1", 4);
    let payload = w
        .iter()
        .find(|l| l.message == "SPAN_CREATED" && l.span() == "handle_payload")
        .expect("the call's span");
    assert_eq!(
        payload["instance_id"].as_str(),
        Some(lease.as_str()),
        "instance_id is the lease"
    );
    assert!(
        w.iter().any(|l| l.message == "deregistered from etcd"),
        "deregistered at SIGTERM"
    );
    check_both(&dir);
}

#[test]
fn a_requests_own_level_reaches_the_python_engine() {
    let dir = temp_dir("python-scoped");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info"),
        ("DYN_LOG_REQUEST_LEVEL", "debug"),
    ];
    let (worker, waddr) = start_python_worker(&dir, &env);
    let (frontend, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    for (id, baggage) in [
        ("asking", "baggage: tracewire.log=debug"),
        ("plain", "baggage: user=ann"),
    ] {
        stream(&addr, id, &[baggage]);
    }
    let (_, w) = (frontend.stop(), worker.stop());
    let tokens = |id: &str| {
        w.iter()
            .filter(|l| l.x_request_id.as_deref() == Some(id))
            .filter(|l| l.level == "DEBUG" && l.message == "token")
            .count()
    };
    assert_eq!(
        tokens("asking"),
        4,
        "the Python engine's DEBUG lines of that request"
    );
    assert_eq!(tokens("plain"), 0, "and of no other");
}

#[test]
fn a_filter_changed_at_runtime_reaches_python_loggers() {
    let dir = temp_dir("python-filter");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info"),
        ("DYN_SYSTEM_PORT", "0"),
    ];
    let (mut worker, waddr) = start_python_worker(&dir, &env);
    let system = worker.wait_for_addr("system server listening");
    let generate = |id: &str| {
        let r = http(
            &waddr,
            "POST",
            "/generate",
            &[&format!("x-request-id: {id}")],
            r#"{"model": "Qwen/Qwen3-0.6B", "prompt": "a b c", "max_tokens": null}"#,
        );
        assert_eq!(r.status, 200);
    };
    generate("before");
    let changed = http(&system, "PUT", "/logging/filter", &[], "info,engine=debug");
    assert_eq!(changed.status, 200, "{}", changed.body);
    // The root logger's level follows on a thread of its own: give it a moment.
    wait_until(10, "the Python engine's DEBUG lines", || {
        generate("after");
        worker
            .lines()
            .iter()
            .any(|l| l.level == "DEBUG" && l.x_request_id.as_deref() == Some("after"))
    });
    let w = worker.stop();
    let debug_of = |id: &str| {
        w.iter()
            .filter(|l| l.level == "DEBUG" && l.x_request_id.as_deref() == Some(id))
            .count()
    };
    assert_eq!(debug_of("before"), 0);
    assert!(debug_of("after") >= 3);
}

#[test]
fn an_engines_own_opentelemetry_span_is_a_child_of_handle_payload_in_the_backend() {
    let dir = temp_dir("python-engine-spans");
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint("grpc");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("OTEL_EXPORT_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
    ];
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--token-delay-ms",
        "1",
        "--engine-spans",
    ];
    let mut worker = Process::start_python_worker("worker", &dir, &args, &env);
    let waddr = worker.wait_for_addr("worker listening");
    let (frontend, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    stream(&addr, "engine-1", &[CALLER]);
    let (f, w) = (frontend.stop(), worker.stop());
    let payload = w
        .iter()
        .find(|l| l.message == "SPAN_CREATED" && l.span() == "handle_payload")
        .unwrap();
    assert_eq!(
        payload.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    // The SDK's batch is sent at the worker's exit (provider.shutdown()).
    let mut spans = Vec::new();
    wait_until(
        10,
        "the engine's span and handle_payload at the receiver",
        || {
            spans = receiver.spans();
            ["engine.generate", "handle_payload"]
                .iter()
                .all(|n| spans.iter().any(|s| s["name"] == *n))
        },
    );
    let named = |n: &str| spans.iter().find(|s| s["name"] == n).unwrap().clone();
    let (engine, exported) = (named("engine.generate"), named("handle_payload"));
    assert_eq!(exported["span_id"].as_str(), payload.span_id.as_deref());
    assert_eq!(engine["trace_id"], exported["trace_id"], "{engine:?}");
    assert_eq!(engine["parent_span_id"], exported["span_id"], "{engine:?}");
    assert_eq!(
        engine["scope"], "engine.mock",
        "the engine's SDK sent it: {engine:?}"
    );
    assert_eq!(engine["attributes"]["completion_tokens"], 4, "{engine:?}");
    let http_span = named("http-request");
    assert_eq!(exported["parent_span_id"], http_span["span_id"]);
    assert!(f.iter().any(|l| l.message == "request completed"));
    check_both(&dir);
}
