//! Request-scoped logging (SPEC §9) across the real frontend and worker: one request's DEBUG
//! lines through its baggage, capture of a failed request's DEBUG lines.

use serde_json::{Map, Value};
use tracewire_tests::{
    check_jsonl, check_jsonl_allow_open, http, lines_with, start_frontend, start_worker, temp_dir,
    HttpCall, Line, Process, JSONL,
};

const STREAM: &str = r#"{"model": "Qwen/Qwen3-0.6B", "stream": true, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;

fn of<'a>(lines: &'a [Line], id: &str) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|l| l.x_request_id.as_deref() == Some(id))
        .collect()
}

fn debug_of(lines: &[Line], id: &str) -> Vec<String> {
    of(lines, id)
        .iter()
        .filter(|l| l.level == "DEBUG")
        .map(|l| l.message.clone())
        .collect()
}

fn start(call: (&str, &[&str])) -> HttpCall {
    let (addr, headers) = call;
    HttpCall::send(
        addr,
        "POST",
        "/v1/chat/completions",
        headers,
        STREAM.as_bytes(),
    )
}

/// Two streams at once through a frontend and a worker started with `env`, one asking for
/// DEBUG in its baggage; a third with a malformed baggage asking for it too. The lines of both
/// processes.
fn two_concurrent_requests(name: &str, env: &[(&str, &str)]) -> (Vec<Line>, Vec<Line>) {
    let dir = temp_dir(name);
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "40"], env);
    let (f, addr) = start_frontend(&dir, &[&waddr], &[], env);
    let asking = start((
        &addr,
        &[
            "x-request-id: asking",
            "baggage: user=ann, tracewire.log=debug",
        ],
    ));
    let plain = start((&addr, &["x-request-id: plain", "baggage: user=bob"]));
    for call in [asking, plain] {
        let r = call.finish();
        assert_eq!(r.status, 200);
        assert!(r.body.ends_with("data: [DONE]\n\n"), "{}", r.body);
    }
    let bad = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &[
            "x-request-id: bad-baggage",
            "baggage: tracewire.log=debug,a b=1",
        ],
        STREAM,
    );
    assert_eq!(
        bad.status, 200,
        "a bad baggage header never fails a request"
    );
    let (fl, wl) = (f.stop(), w.stop());
    check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    (fl, wl)
}

#[test]
fn a_baggage_member_shows_debug_for_its_request_only_in_the_frontend_and_the_worker() {
    let allowed = [JSONL, ("DYN_LOG_REQUEST_LEVEL", "debug")];
    let (fl, wl) = two_concurrent_requests("request-level", &allowed);
    let frontend = debug_of(&fl, "asking");
    assert!(
        frontend.contains(&"sending request".to_owned())
            && frontend.contains(&"received response".to_owned()),
        "the frontend's DEBUG lines of that request: {frontend:?}"
    );
    assert!(
        debug_of(&wl, "asking").contains(&"received generate call".to_owned()),
        "and the worker's, from the baggage passed on: {wl:#?}"
    );
    for (lines, process) in [(&fl, "frontend"), (&wl, "worker")] {
        let others: Vec<_> = lines
            .iter()
            .filter(|l| l.level == "DEBUG" && l.x_request_id.as_deref() != Some("asking"))
            .collect();
        assert!(
            others.is_empty(),
            "no DEBUG line of any other request in the {process}: {others:#?}"
        );
        assert!(
            !of(lines, "plain").is_empty() && !of(lines, "bad-baggage").is_empty(),
            "the other requests were logged at INFO in the {process}"
        );
    }
    let received = lines_with(&wl, "received generate call", None);
    assert!(
        received[0]["headers"]
            .as_str()
            .unwrap()
            .contains(r#"baggage: "user=ann,tracewire.log=debug""#),
        "the member travels on (members trimmed, as W3C Baggage allows): {:?}",
        received[0]
    );

    let (fl, wl) = two_concurrent_requests("request-level-off", &[JSONL]);
    for lines in [&fl, &wl] {
        assert!(
            !lines.iter().any(|l| l.level == "DEBUG"),
            "without DYN_LOG_REQUEST_LEVEL the member changes nothing"
        );
    }
}

#[test]
fn a_request_whose_worker_dies_has_its_debug_lines_written_as_captured() {
    let dir = temp_dir("capture");
    let config = dir.join("capture.toml");
    std::fs::write(&config, "[capture]\nlevel = \"debug\"\nmax_lines = 2\n").unwrap();
    let env = [
        JSONL,
        ("DYN_LOGGING_CONFIG_PATH", config.to_str().unwrap()),
        ("DYN_SYSTEM_PORT", "0"),
    ];
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "300"], &[JSONL]);
    let (mut f, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    let system = f.wait_for_addr("system server listening");
    let logging = http(&system, "GET", "/logging", &[], "").json();
    assert_eq!(logging["request_level"], Value::Null);
    assert_eq!(
        logging["capture"],
        serde_json::json!({"level": "debug", "max_lines": 2, "max_bytes": 65536, "total_bytes": 16777216})
    );

    let ok = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: fine"],
        r#"{"model": "Qwen/Qwen3-0.6B", "max_tokens": 1, "messages":[{"role":"user", "content": "Hi"}]}"#,
    );
    assert_eq!(ok.status, 200);
    let mut call = start((&addr, &["x-request-id: doomed"]));
    call.read_until("data: ");
    w.signal("KILL");
    let r = call.finish();
    assert!(r.body.contains("server_error"), "{}", r.body);
    let lines = f.stop();
    check_jsonl(&[&dir.join("frontend.log")]);
    check_jsonl_allow_open(&[&dir.join("frontend.log"), &dir.join("worker.log")]);

    let fine = of(&lines, "fine");
    assert!(
        !fine.is_empty()
            && fine
                .iter()
                .all(|l| l.level != "DEBUG" && !l.has("captured")),
        "the request that succeeded: its DEBUG lines discarded: {fine:#?}"
    );
    let stray: Vec<_> = lines
        .iter()
        .filter(|l| l.level == "DEBUG" && !l.has("captured"))
        .collect();
    assert!(stray.is_empty(), "DEBUG only as captured lines: {stray:#?}");
    let doomed = of(&lines, "doomed");
    let captured: Vec<&&Line> = doomed.iter().filter(|l| l.has("captured")).collect();
    let messages: Vec<&str> = captured.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(
        messages,
        ["received response", "response stream failed"],
        "the newest two of its three DEBUG lines, in their order"
    );
    assert!(captured
        .iter()
        .all(|l| l.level == "DEBUG" && l["captured"] == true));
    assert_eq!(captured[0]["captured_dropped"], 1, "{:?}", captured[0]);
    assert!(!captured[1].has("captured_dropped"));
    assert!(captured[0].time <= captured[1].time, "their own times");
    let position = |message: &str| doomed.iter().position(|l| l.message == message).unwrap();
    assert!(
        position("response stream failed") < position("the worker failed mid-stream")
            && position("the worker failed mid-stream") < position("request completed"),
        "written before the request's closing lines: {doomed:#?}"
    );
    let held_at = |message: &str| {
        doomed
            .iter()
            .find(|l| l.message == message)
            .map(|l| l.time.clone())
            .unwrap()
    };
    assert!(
        held_at("response stream failed") <= held_at("the worker failed mid-stream"),
        "held with the time it happened, not the time it was written"
    );
    drop(w);
}

/// A request that succeeds and one whose worker dies mid-stream, through a frontend with
/// capture and log export on (JSONL lines if `jsonl`): its output, and the log records the
/// real receiver got.
fn captured_and_exported(name: &str, jsonl: bool) -> (String, Vec<Map<String, Value>>) {
    let dir = temp_dir(name);
    let receiver = tracewire_tests::Receiver::start(&dir, false);
    let endpoint = receiver.endpoint("grpc");
    let mut env = vec![
        ("DYN_LOG_CAPTURE", "debug"),
        ("OTEL_EXPORT_LOGS_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
    ];
    if jsonl {
        env.push(JSONL);
    }
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "300"], &[JSONL]);
    let worker = format!("http://{waddr}");
    let args = ["--listen", "127.0.0.1:0", "--worker", &worker];
    let mut f = Process::start("tracewire-frontend", "frontend", &dir, &args, &env);
    let addr = if jsonl {
        f.wait_for_addr("frontend listening")
    } else {
        f.wait_for_readable_addr("frontend listening")
    };
    let ok = tracewire_tests::chat(&addr, "fine");
    assert_eq!(ok.status, 200);
    let mut call = start((&addr, &["x-request-id: doomed"]));
    call.read_until("data: ");
    w.signal("KILL");
    call.finish();
    f.signal("TERM");
    assert_eq!(f.wait(), Some(0), "{}", f.output());
    let records = receiver.logs();
    assert!(
        !records
            .iter()
            .any(|r| r["severity_number"] == 5 && r["attributes"]["x_request_id"] == "fine"),
        "the request that succeeded: no DEBUG record"
    );
    (f.output(), records)
}

/// Checks the record of a captured line, given the line's parts.
fn assert_captured_record(
    record: &Map<String, Value>,
    trace_id: &str,
    span_id: Option<&str>,
    time: &str,
) {
    assert_eq!(record["severity_number"], 5, "DEBUG: {record:?}");
    assert_eq!(record["attributes"]["x_request_id"], "doomed");
    assert_eq!(record["trace_id"].as_str(), Some(trace_id));
    if let Some(span_id) = span_id {
        assert_eq!(record["span_id"].as_str(), Some(span_id));
    }
    let line_us = chrono::DateTime::parse_from_rfc3339(time)
        .expect("the line's time is RFC 3339")
        .timestamp_micros();
    assert_eq!(
        record["time_ns"].as_i64(),
        Some(line_us * 1000),
        "its own time: {record:?}"
    );
}

fn captured_records(records: &[Map<String, Value>]) -> Vec<&Map<String, Value>> {
    records
        .iter()
        .filter(|r| r["attributes"]["captured"] == true)
        .collect()
}

#[test]
fn captured_lines_are_otlp_log_records_too_at_their_own_times() {
    let (output, records) = captured_and_exported("capture-otlp", true);
    let lines = tracewire_tests::json_lines(&output);
    let captured: Vec<&Line> = lines.iter().filter(|l| l.has("captured")).collect();
    assert!(!captured.is_empty(), "{lines:#?}");
    let sent = captured_records(&records);
    assert_eq!(sent.len(), captured.len(), "{sent:#?}");
    for line in &captured {
        let record = sent
            .iter()
            .find(|r| r["body"] == line.message.as_str())
            .unwrap_or_else(|| panic!("a record of {line:?} in {records:#?}"));
        let trace_id = line.trace_id.as_deref().expect("a trace id");
        assert_captured_record(record, trace_id, line.span_id.as_deref(), &line.time);
    }
}

#[test]
fn captured_readable_lines_are_otlp_log_records_too() {
    let (output, records) = captured_and_exported("capture-otlp-readable", false);
    let captured: Vec<&str> = output
        .lines()
        .filter(|l| l.contains(" captured=true"))
        .collect();
    assert!(!captured.is_empty(), "{output}");
    let sent = captured_records(&records);
    assert_eq!(sent.len(), captured.len(), "{sent:#?}\n{output}");
    for line in &captured {
        let record = sent
            .iter()
            .find(|r| {
                let body = r["body"].as_str().unwrap_or_default();
                !body.is_empty() && line.contains(&format!(": {body}"))
            })
            .unwrap_or_else(|| panic!("a record of {line:?} in {records:#?}"));
        let trace_id = line
            .split(" trace_id=")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .expect("the line's trace_id");
        assert!(line.contains(" x_request_id=doomed"), "{line}");
        let time = line.split(' ').next().expect("a time first");
        assert_captured_record(record, trace_id, None, time);
    }
}
