//! Client-directed logs (SPEC §13) across the real binaries: a caller sending
//! `x-tracewire-logs` gets its own request's lines back, from the frontend and the worker, over
//! HTTP and over etcd + NATS, from a Python engine too; within the permission, the token and the
//! bounds; never another request's line, and never a line the caller did not ask for.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use tracewire_tests::{
    binary, check_jsonl, python_tool, run, start_frontend, start_worker, temp_dir, wait_until,
    HttpCall, Line, Process, Server,
};

const STREAM: &str = r#"{"model": "Qwen/Qwen3-0.6B", "stream": true, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;
const JSON: &str =
    r#"{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "hello there"}]}"#;
const ASK: &str = "x-tracewire-logs: debug";

/// One event of an SSE body, in order.
#[derive(Debug)]
enum Event {
    /// A `tracewire.log` event's line.
    Log(Value),
    /// A `data:` chunk (or error) without an event name.
    Data(Value),
    Done,
}

fn events(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let data = event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("an event without data: {event:?}"));
            if data == "[DONE]" {
                return Event::Done;
            }
            let value: Value = serde_json::from_str(data).expect("JSON data");
            match event.lines().find_map(|l| l.strip_prefix("event: ")) {
                Some("tracewire.log") => Event::Log(value),
                None => Event::Data(value),
                Some(other) => panic!("an unknown event {other:?}"),
            }
        })
        .collect()
}

fn logs(events: &[Event]) -> Vec<&Value> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Log(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// Sends `body` as request `id` with `headers`; the raw response.
fn post(addr: &str, id: &str, headers: &[&str], body: &str) -> HttpCall {
    let id = format!("x-request-id: {id}");
    let mut all = vec![id.as_str(), "content-type: application/json"];
    all.extend_from_slice(headers);
    HttpCall::send(addr, "POST", "/v1/chat/completions", &all, body.as_bytes())
}

/// A streamed request's events (status 200).
fn stream(addr: &str, id: &str, headers: &[&str]) -> Vec<Event> {
    let r = post(addr, id, headers, STREAM).finish();
    assert_eq!(r.status, 200, "{}", r.body);
    events(&r.body)
}

fn trace_of(lines: &[Line], id: &str) -> String {
    lines
        .iter()
        .find(|l| l.x_request_id.as_deref() == Some(id) && l.message == "request completed")
        .and_then(|l| l.trace_id.clone())
        .unwrap_or_else(|| panic!("no request completed for {id}"))
}

/// Whether `line` (a returned one) is in a server's output: same time, message and span.
fn written(output: &[Line], line: &Value) -> bool {
    output.iter().any(|l| {
        l.message == line["message"]
            && l["time"] == line["time"]
            && l.span_id.as_deref() == line["span_id"].as_str()
    })
}

/// Each process's lines in the order it wrote them: times never go back within the lines of
/// one side (the worker's `handle_payload`, the frontend's `http-request`).
fn assert_in_order(lines: &[&Value]) {
    for span in ["http-request", "handle_payload"] {
        let times: Vec<&str> = lines
            .iter()
            .filter(|l| l["span_name"] == span)
            .map(|l| l["time"].as_str().unwrap())
            .collect();
        assert!(!times.is_empty(), "lines of {span}");
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{span}'s lines in order: {times:?}"
        );
    }
}

const ALLOWED: [(&str, &str); 3] = [
    ("DYN_LOGGING_JSONL", "true"),
    ("DYN_LOG", "info"),
    ("DYN_LOG_CLIENT_LEVEL", "debug"),
];

#[test]
fn a_caller_gets_its_own_lines_from_the_frontend_and_the_worker_and_nobody_else_does() {
    let dir = temp_dir("client-logs-http");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "30"], &ALLOWED);
    // The frontend's wire lines show what crosses the plane.
    let mut env = ALLOWED.to_vec();
    env[1] = ("DYN_LOG", "info,tracewire::wire=trace");
    let (f, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    // Two streams at once on the same worker, one asking; then a JSON request asking.
    let asking = post(&addr, "asking", &[ASK], STREAM);
    let plain = post(&addr, "plain", &[], STREAM);
    let (asking, plain) = (asking.finish(), plain.finish());
    assert_eq!((asking.status, plain.status), (200, 200));
    let saved_stream = dir.join("answer.sse");
    std::fs::write(&saved_stream, &asking.body).unwrap();
    let (asking, plain) = (events(&asking.body), events(&plain.body));
    let json = post(&addr, "json", &[ASK], JSON).finish();
    assert_eq!(json.status, 200, "{}", json.body);
    let saved_json = dir.join("answer.json");
    std::fs::write(&saved_json, &json.body).unwrap();
    let json = json.json();
    let plain_json = post(&addr, "plain-json", &[], JSON).finish().json();
    let (f, w) = (f.stop(), w.stop());

    // The stream: the lines of both processes, interleaved with the chunks, before [DONE].
    let lines = logs(&asking);
    let first_chunk = asking
        .iter()
        .position(|e| matches!(e, Event::Data(_)))
        .unwrap();
    let last_log = asking
        .iter()
        .rposition(|e| matches!(e, Event::Log(_)))
        .unwrap();
    assert!(
        lines.len() >= 4 && last_log > first_chunk,
        "lines among the chunks: {asking:#?}"
    );
    assert!(matches!(asking.last(), Some(Event::Done)));
    let trace = trace_of(&f, "asking");
    for line in &lines {
        assert_eq!(
            line["trace_id"],
            trace.as_str(),
            "only its own trace: {line}"
        );
        assert_eq!(line["x_request_id"], "asking", "{line}");
    }
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    for (message, from) in [
        ("received generate call", "the worker's DEBUG wire line"),
        ("generation finished", "the worker's INFO line"),
        ("received response", "the frontend's DEBUG wire line"),
    ] {
        assert!(messages.contains(&message), "{from}: {messages:?}");
    }
    assert_in_order(&lines);
    // What the servers' filters hide came back without being written.
    let hidden: Vec<&&Value> = lines.iter().filter(|l| l["level"] == "DEBUG").collect();
    let worker_debug = hidden
        .iter()
        .filter(|l| l["span_name"] == "handle_payload")
        .count();
    assert!(worker_debug > 0);
    for line in &hidden {
        let output = if line["span_name"] == "handle_payload" {
            &w
        } else {
            &f
        };
        let wire = line["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("tracewire::wire"));
        if line["span_name"] == "handle_payload" || !wire {
            assert!(!written(output, line), "hidden, not written: {line}");
        }
    }
    assert!(
        !w.iter().any(|l| l.level == "DEBUG"),
        "the worker writes what its filter allows"
    );
    // Nobody else's: the plain stream has no line, and its plane answer carried none.
    assert!(logs(&plain).is_empty(), "{plain:#?}");
    let plain_frames: Vec<&Line> = f
        .iter()
        .filter(|l| l.x_request_id.as_deref() == Some("plain") && l.message == "response frame")
        .collect();
    assert!(!plain_frames.is_empty());
    for frame in &plain_frames {
        assert!(
            !frame["frame"].as_str().unwrap().contains(r#""type":"log"#),
            "a request that did not ask: the same bytes on the plane as without the feature"
        );
    }
    let plain_call = f
        .iter()
        .find(|l| l.x_request_id.as_deref() == Some("plain") && l.message == "sending request")
        .unwrap();
    assert!(!plain_call["headers"]
        .as_str()
        .unwrap()
        .contains("tracewire.logs"));
    // The header itself is never written, by either process or into a returned line.
    for text in [
        std::fs::read_to_string(dir.join("frontend.log")).unwrap(),
        std::fs::read_to_string(dir.join("worker.log")).unwrap(),
    ] {
        assert!(!text.contains("x-tracewire-logs"));
    }

    // A JSON answer: the same lines in `tracewire_logs`, the completion unchanged.
    assert_eq!(json["choices"][0]["message"]["content"], "hello there");
    let returned: Vec<&Value> = json["tracewire_logs"].as_array().unwrap().iter().collect();
    assert!(returned
        .iter()
        .any(|l| l["message"] == "generation finished"));
    assert!(returned
        .iter()
        .all(|l| l["x_request_id"] == "json" && l["trace_id"] == trace_of(&f, "json").as_str()));
    assert!(plain_json.get("tracewire_logs").is_none());
    check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);

    // tracewire-trace reads a saved answer: the stream's events and the JSON's array.
    let trace = binary("tracewire-trace");
    for (id, saved) in [("asking", &saved_stream), ("json", &saved_json)] {
        let shown = run(
            trace.to_str().unwrap(),
            &["show", id, saved.to_str().unwrap()],
            &[],
        );
        assert_eq!(shown.code, Some(0), "{id}: {}", shown.stderr);
        for span in ["http-request", "handle_payload", "generation finished"] {
            assert!(
                shown.stdout.contains(span),
                "{id}: {span} in\n{}",
                shown.stdout
            );
        }
    }
}

#[test]
fn an_ask_needs_the_permission_and_the_token_and_is_capped() {
    let dir = temp_dir("client-logs-permission");
    // No DYN_LOG_CLIENT_LEVEL: refused, and a DEBUG line says why.
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,tracewire_runtime::http=debug"),
    ];
    let (f, addr) = start_frontend(&dir, &[], &["--token-delay-ms", "0"], &env);
    assert!(logs(&stream(&addr, "off", &[ASK])).is_empty());
    let f = f.stop();
    let why = f
        .iter()
        .find(|l| l.message == "client logs not sent")
        .expect("a DEBUG line says why");
    assert_eq!(why.level, "DEBUG");
    assert_eq!(why.x_request_id.as_deref(), Some("off"));
    assert!(why["reason"]
        .as_str()
        .unwrap()
        .contains("DYN_LOG_CLIENT_LEVEL is not set"));

    // Allowed up to INFO, with a token.
    let dir = temp_dir("client-logs-token");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,tracewire_runtime::http=debug"),
        ("DYN_LOG_CLIENT_LEVEL", "info"),
        ("DYN_LOG_CLIENT_TOKEN", "s3cret-t0ken"),
    ];
    let (f, addr) = start_frontend(&dir, &[], &["--token-delay-ms", "0"], &env);
    let none = stream(&addr, "no-token", &[ASK]);
    let wrong = stream(
        &addr,
        "wrong-token",
        &[ASK, "x-tracewire-logs-token: s3cret-t0ke"],
    );
    let right = stream(
        &addr,
        "right-token",
        &[ASK, "x-tracewire-logs-token: s3cret-t0ken"],
    );
    // A caller's own baggage member is not an ask.
    let smuggled = stream(&addr, "smuggled", &["baggage: tracewire.logs=debug"]);
    let f = f.stop();
    assert!(logs(&none).is_empty() && logs(&wrong).is_empty() && logs(&smuggled).is_empty());
    let reason = |id: &str| {
        f.iter()
            .find(|l| l.x_request_id.as_deref() == Some(id) && l.message == "client logs not sent")
            .map(|l| l["reason"].as_str().unwrap().to_owned())
    };
    assert!(reason("no-token").unwrap().contains("token is needed"));
    assert!(reason("wrong-token").unwrap().contains("does not match"));
    assert_eq!(reason("smuggled"), None, "nothing asked");
    let right = logs(&right);
    assert!(!right.is_empty());
    assert!(
        right
            .iter()
            .all(|l| l["level"] == "INFO" || l["level"] == "WARN"),
        "capped at DYN_LOG_CLIENT_LEVEL: {right:?}"
    );
    let text = std::fs::read_to_string(dir.join("frontend.log")).unwrap();
    assert!(!text.contains("s3cret"), "the token is never written");
    assert!(!right.iter().any(|l| l.to_string().contains("s3cret")));
}

#[test]
fn past_the_bounds_the_caller_is_told_how_many_lines_it_did_not_get() {
    let dir = temp_dir("client-logs-bounds");
    let config = dir.join("bounds.toml");
    std::fs::write(
        &config,
        "jsonl = true\nclient_level = \"debug\"\n[client_logs]\nmax_lines = 5\n",
    )
    .unwrap();
    let env = [("DYN_LOGGING_CONFIG_PATH", config.to_str().unwrap())];
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &env);
    let (f, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    let events = stream(&addr, "bounded", &[ASK]);
    let (_f, _w) = (f.stop(), w.stop());
    let lines = logs(&events);
    let (last, kept) = lines.split_last().unwrap();
    assert_eq!(kept.len(), 5, "max_lines: {lines:#?}");
    assert_eq!(
        (&last["message"], &last["level"], &last["x_request_id"]),
        (
            &Value::from("client logs truncated"),
            &Value::from("WARN"),
            &Value::from("bounded")
        )
    );
    assert!(last["dropped"].as_u64().unwrap() > 0);
    assert!(matches!(events.last(), Some(Event::Done)), "then [DONE]");
}

#[test]
fn a_worker_found_in_etcd_sends_its_lines_back_over_nats() {
    let dir = temp_dir("client-logs-nats");
    let (nats, etcd) = (Server::nats(&dir), Server::etcd(&dir));
    let mut env = ALLOWED.to_vec();
    let (etcd_url, nats_url) = (etcd.url(), nats.url());
    env.extend([
        ("ETCD_ENDPOINTS", etcd_url.as_str()),
        ("NATS_SERVER", nats_url.as_str()),
    ]);
    let (w, _) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &env);
    let (f, addr) = start_frontend(&dir, &[], &[], &env);
    wait_until(20, "the frontend lists the worker", || {
        f.lines().iter().any(|l| l.message == "instance added")
    });
    let asking = stream(&addr, "over-nats", &[ASK]);
    let plain = stream(&addr, "plain", &[]);
    let (f, w) = (f.stop(), w.stop());
    let lines = logs(&asking);
    assert!(lines
        .iter()
        .any(|l| l["message"] == "generation finished" && l["span_name"] == "handle_payload"));
    assert!(lines
        .iter()
        .all(|l| l["trace_id"] == trace_of(&f, "over-nats").as_str()));
    assert_in_order(&lines);
    assert!(logs(&plain).is_empty());
    assert!(!w.iter().any(|l| l.level == "DEBUG"));
}

#[test]
fn a_python_engines_logging_records_come_back_and_a_dead_worker_still_ends_the_stream() {
    let dir = temp_dir("client-logs-python");
    let args = ["--listen", "127.0.0.1:0", "--token-delay-ms", "1"];
    let mut py = Process::start_python_worker("worker", &dir, &args, &ALLOWED);
    let paddr = py.wait_for_addr("worker listening");
    let (slow, saddr) = start_worker(&dir, "slow", &["--token-delay-ms", "300"], &ALLOWED);
    let (f, addr) = start_frontend(&dir, &[&paddr], &[], &ALLOWED);
    let (f2, addr2) = start_frontend(&temp_dir("client-logs-killed"), &[&saddr], &[], &ALLOWED);
    let python = stream(&addr, "python", &[ASK]);
    // A worker killed mid-stream: the caller still gets the frontend's ERROR line, and the
    // stream ends.
    let mut call = post(&addr2, "killed", &[ASK], STREAM);
    call.read_until("chat.completion.chunk");
    slow.signal("KILL");
    let killed = call.finish();
    let (_f, py, _f2) = (f.stop(), py.stop(), f2.stop());
    let records: Vec<&Value> = logs(&python)
        .into_iter()
        .filter(|l| l["log.target"] == "engine.mock")
        .collect();
    assert!(
        records
            .iter()
            .any(|l| l["level"] == "DEBUG" && l["message"] == "token"),
        "the engine's DEBUG records: {records:#?}"
    );
    assert!(
        !py.iter().any(|l| l.level == "DEBUG"),
        "hidden in the Python worker's own output"
    );
    let killed = events(&killed.body);
    let failed = logs(&killed)
        .into_iter()
        .find(|l| l["message"] == "the worker failed mid-stream")
        .expect("the frontend's ERROR line");
    assert_eq!(failed["level"], "ERROR");
    assert!(killed
        .iter()
        .any(|e| matches!(e, Event::Data(d) if d.get("error").is_some())));
}

#[test]
fn the_openai_python_client_streams_and_completes_with_logs_on() {
    let dir = temp_dir("client-logs-openai");
    let (f, addr) = start_frontend(&dir, &[], &["--token-delay-ms", "0"], &ALLOWED);
    let out = python_tool(
        "openai_client_logs.py",
        &[std::ffi::OsStr::new(&format!("http://{addr}/v1"))],
    );
    drop(f.stop());
    let report: Value = serde_json::from_slice(&out).expect("the tool's JSON report");
    let expected = "What is the capital of South Africa?";
    assert_eq!(report["plain_stream"], expected, "{report}");
    assert_eq!(report["helper_stream"], expected, "{report}");
    assert!(report["helper_logs"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["completion"], expected);
    assert!(report["completion_logs"].as_u64().unwrap() > 0);
}
