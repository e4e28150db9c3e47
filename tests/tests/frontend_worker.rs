//! Frontend and worker as real processes on free ports: one trace per request across both,
//! x-request-id end to end, W3C traceparent continued, bad input, workers that fail. Shutdown,
//! readable mode, the wire loggers and generated request ids: `frontend_worker_edges.rs`.

use serde_json::Value;
use tracewire_tests::{
    check_jsonl, check_jsonl_allow_open, http, lines_with, python_tool, span_event, start_frontend,
    start_worker, temp_dir, HttpCall, JSONL, REFERENCE_CHAT as CHAT, UPSTREAM,
};

#[test]
fn two_processes_share_one_trace_per_request() {
    let dir = temp_dir("two-processes");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "2"], &[JSONL]);
    let (f, faddr) = start_frontend(&dir, &[&waddr], &[], &[JSONL]);

    let with_id = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &[
            "Content-Type: application/json",
            "x-request-id: 8372eac7-5f43-4d76-beca-0a94cfb311d0",
        ],
        CHAT,
    );
    assert_eq!(with_id.status, 200, "{with_id:?}");
    assert_eq!(
        with_id.header("x-request-id"),
        Some("8372eac7-5f43-4d76-beca-0a94cfb311d0"),
        "echoed"
    );
    let answer = with_id.json();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "What is the capital of South Africa?"
    );
    assert_eq!(answer["usage"]["completion_tokens"], 7);

    let continued = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &[
            &format!("traceparent: {UPSTREAM}"),
            "tracestate: rojo=00f067aa0ba902b7",
        ],
        &CHAT.replace("2049", "3"),
    );
    assert_eq!(continued.status, 200);
    assert_eq!(continued.json()["choices"][0]["finish_reason"], "length");
    let bad = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &["traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"],
        CHAT,
    );
    assert_eq!(bad.status, 200, "a bad traceparent never fails the request");

    let streamed = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: stream-1"],
        &CHAT.replace("2049,", "2049, \"stream\": true,"),
    );
    assert_eq!(
        (streamed.status, streamed.header("content-type")),
        (200, Some("text/event-stream"))
    );
    let events: Vec<&str> = streamed
        .body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e.trim_start_matches("data: ")).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "What is the capital of South Africa?");

    let (fl, wl) = (f.stop(), w.stop());
    let summary = check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    assert!(
        summary.contains(" 0 never closed") && summary.contains("1 spans with a parent outside"),
        "{summary}"
    );

    // x-request-id request: frontend span, worker span, linked, both with the id.
    let req = lines_with(&fl, "SPAN_CREATED", Some("http-request"))
        .into_iter()
        .find(|o| o.x_request_id.as_deref() == Some("8372eac7-5f43-4d76-beca-0a94cfb311d0"))
        .expect("frontend span with x_request_id");
    let trace = req.trace_id.as_deref().unwrap();
    let hp = span_event(&wl, "SPAN_CREATED", "handle_payload", trace);
    assert_eq!(
        hp.parent_id, req.span_id,
        "the worker's parent is the frontend's request span"
    );
    assert_eq!(hp.x_request_id, req.x_request_id);
    for key in ["component", "endpoint", "namespace", "instance_id"] {
        assert!(hp[key].is_string(), "{key} is a string: {hp:?}");
    }
    let done = lines_with(&fl, "request completed", Some("http-request"))
        .into_iter()
        .find(|o| o.trace_id.as_deref() == Some(trace))
        .unwrap();
    assert_eq!(
        (done.level.as_str(), &done["status"], &done.x_request_id),
        ("INFO", &Value::from(200), &req.x_request_id)
    );
    assert!(done["latency_us"].is_u64());
    let closed = span_event(&fl, "SPAN_CLOSED", "http-request", trace);
    assert_eq!(
        (&closed["status"], &closed["gen_ai.request.model"]),
        (&Value::from(200), &Value::from("Qwen/Qwen3-0.6B"))
    );
    assert!(
        wl.iter()
            .filter(|o| o.trace_id.as_deref() == Some(trace))
            .all(|o| o.x_request_id == req.x_request_id),
        "every worker line of the request carries it"
    );

    // Upstream traceparent continued through both processes, tracestate passed on.
    let up = span_event(
        &fl,
        "SPAN_CREATED",
        "http-request",
        "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    assert_eq!(up.parent_id.as_deref(), Some("00f067aa0ba902b7"));
    let hp = span_event(
        &wl,
        "SPAN_CREATED",
        "handle_payload",
        "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    assert_eq!(hp.parent_id, up.span_id);

    // Every request: one trace of its own, one request completed.
    let traces: std::collections::HashSet<_> =
        lines_with(&fl, "SPAN_CREATED", Some("http-request"))
            .iter()
            .map(|o| o.trace_id.clone())
            .collect();
    assert_eq!(traces.len(), 4, "the bad traceparent started a fresh trace");
    assert_eq!(lines_with(&fl, "request completed", None).len(), 4);
    assert_eq!(
        lines_with(&wl, "SPAN_CLOSED", Some("handle_payload")).len(),
        4
    );
}

#[test]
fn embedded_worker_and_bad_input() {
    let dir = temp_dir("embedded");
    let (f, addr) = start_frontend(&dir, &[], &["--token-delay-ms", "0"], &[JSONL]);
    let ok = http(&addr, "POST", "/v1/chat/completions", &[], CHAT);
    assert_eq!(
        ok.status, 200,
        "one command gives a working deployment: {ok:?}"
    );
    let models = http(&addr, "GET", "/v1/models", &[], "");
    assert_eq!(models.json()["data"][0]["id"], "Qwen/Qwen3-0.6B");
    assert_eq!(
        http(&addr, "GET", "/health", &[], "").json()["status"],
        "ok"
    );

    // Every status the API maps is tested through `app()` in the frontend's own tests; here,
    // what the real server adds: a body over the limit refused as it streams in, and a route
    // the router does not know.
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("GET", "/v2/nothing", String::new(), 404, "not_found_error"),
        (
            "POST",
            "/v1/chat/completions",
            format!(r#"{{"model":"{}"}}"#, "x".repeat(2 << 20)),
            413,
            "invalid_request_error",
        ),
    ];
    for (method, path, body, status, kind) in &cases {
        let r = http(
            &addr,
            method,
            path,
            &["Content-Type: application/json"],
            body,
        );
        assert_eq!(r.status, *status, "{method} {path}: {}", r.body);
        assert_eq!(r.json()["error"]["type"], *kind, "{method} {path}");
        assert!(r.json()["error"]["message"].is_string());
    }

    let long_id = "x".repeat(129);
    let r = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &[&format!("x-request-id: {long_id}")],
        CHAT,
    );
    let generated = r.header("x-request-id").unwrap_or_default().to_owned();
    assert_eq!(r.status, 200);
    assert!(
        generated.len() == 36 && generated != long_id,
        "an invalid id is not used: a new UUID is echoed instead: {generated}"
    );
    let r = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: caf\u{e9}"],
        CHAT,
    );
    assert_eq!(r.status, 200, "non-ASCII is dropped, the request served");
    assert!(!r.header("x-request-id").unwrap_or_default().contains("caf"));
    // A control character is refused by the HTTP parser itself, before any handler runs.
    let r = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: a\u{1b}[31m"],
        CHAT,
    );
    assert_eq!(r.status, 400);

    let lines = f.stop();
    check_jsonl(&[&dir.join("frontend.log")]);
    let warnings = lines_with(&lines, "ignoring invalid x-request-id", None);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings
        .iter()
        .all(|w| w.level == "WARN" && w.span() == "http-request"));
    let log = std::fs::read_to_string(dir.join("frontend.log")).unwrap();
    assert!(
        !log.contains('\u{1b}') && !log.contains("caf\u{e9}"),
        "the raw value never reaches a line"
    );
    let completed = lines_with(&lines, "request completed", None);
    // Three requests before the cases, one of them the /health probe, logged at DEBUG.
    assert_eq!(
        completed.len(),
        2 + cases.len() + 2,
        "exactly one per request, none for the probe at INFO"
    );
    assert!(!lines
        .iter()
        .any(|l| l.message == "SPAN_CREATED" && l.has("uri") && l["uri"] == "/health"));
    assert!(completed
        .iter()
        .all(|c| c["status"].is_u64() && c["latency_us"].is_u64()));
}

#[test]
fn unreachable_workers_give_503_and_dead_ones_are_skipped() {
    let dir = temp_dir("dead-workers");
    let (w, live) = start_worker(&dir, "worker", &["--token-delay-ms", "0"], &[JSONL]);
    // Port 1 on loopback refuses connections.
    let (f, addr) = start_frontend(&dir, &["127.0.0.1:1", &live], &[], &[JSONL]);
    for _ in 0..6 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], CHAT).status,
            200,
            "round robin skips the dead worker"
        );
    }
    drop(w.stop());
    let r = http(&addr, "POST", "/v1/chat/completions", &[], CHAT);
    assert_eq!(
        (r.status, r.json()["error"]["type"].as_str()),
        (503, Some("service_unavailable")),
        "{}",
        r.body
    );
    assert_eq!(http(&addr, "GET", "/v1/models", &[], "").status, 503);
    assert_eq!(
        http(&addr, "GET", "/health", &[], "").status,
        200,
        "the frontend itself stays up"
    );
    let lines = f.stop();
    let failed = lines_with(&lines, "request completed", None)
        .into_iter()
        .filter(|o| o["status"] == 503)
        .count();
    assert_eq!(failed, 2);
    assert!(lines_with(&lines, "request completed", None)
        .iter()
        .filter(|o| o["status"] == 503)
        .all(|o| o.level == "ERROR"));
}

#[test]
fn two_workers_share_the_load() {
    let dir = temp_dir("round-robin");
    let (w1, a1) = start_worker(&dir, "worker1", &["--token-delay-ms", "0"], &[JSONL]);
    let (w2, a2) = start_worker(&dir, "worker2", &["--token-delay-ms", "0"], &[JSONL]);
    let (f, addr) = start_frontend(&dir, &[&a1, &a2], &[], &[JSONL]);
    for _ in 0..4 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], CHAT).status,
            200
        );
    }
    drop(f.stop());
    let (l1, l2) = (w1.stop(), w2.stop());
    assert_eq!(
        (
            lines_with(&l1, "SPAN_CLOSED", Some("handle_payload")).len(),
            lines_with(&l2, "SPAN_CLOSED", Some("handle_payload")).len()
        ),
        (2, 2)
    );
    check_jsonl(&[
        &dir.join("frontend.log"),
        &dir.join("worker1.log"),
        &dir.join("worker2.log"),
    ]);
}

#[test]
fn a_worker_killed_mid_stream_ends_the_stream_with_an_error() {
    let dir = temp_dir("killed-worker");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "300"], &[JSONL]);
    let (f, addr) = start_frontend(&dir, &[&waddr], &[], &[JSONL]);
    let body = CHAT.replace("2049,", "2049, \"stream\": true,");
    let mut call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: doomed"],
        body.as_bytes(),
    );
    call.read_until("data: ");
    w.signal("KILL");
    let r = call.finish();
    assert_eq!(r.status, 200);
    let last = r
        .body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .last()
        .unwrap();
    let error: Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(error["error"]["type"], "server_error", "{}", r.body);
    assert!(!r.body.contains("[DONE]"));
    let lines = f.stop();
    // The killed worker's log is cut on purpose (its span never closed, its last lines may
    // never have left its queue); the frontend's is whole.
    check_jsonl(&[&dir.join("frontend.log")]);
    check_jsonl_allow_open(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    let failed = lines_with(&lines, "the worker failed mid-stream", None);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].level.as_str(), failed[0].x_request_id.as_deref()),
        ("ERROR", Some("doomed"))
    );
    assert_eq!(failed[0].trace_id.as_deref().map(str::len), Some(32));
    let completed = lines_with(&lines, "request completed", None);
    assert_eq!(
        (completed[0].level.as_str(), &completed[0]["outcome"]),
        ("ERROR", &Value::from("error"))
    );
    drop(w);
}

/// The `http-request` span a response's `traceresponse` names, checked against the frontend's
/// own SPAN_CREATED line: `00-<trace_id>-<span_id>-<flags>`.
fn trace_response(response: &tracewire_tests::HttpResponse) -> (String, String, String) {
    let value = response
        .header("traceresponse")
        .unwrap_or_else(|| panic!("a traceresponse header: {response:?}"));
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(
        (parts.len(), parts[0], parts[1].len(), parts[2].len()),
        (4, "00", 32, 16),
        "{value}"
    );
    (parts[1].into(), parts[2].into(), parts[3].into())
}

#[test]
fn a_response_names_its_trace_and_the_worker_that_served_it() {
    let dir = temp_dir("traceresponse");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &[JSONL]);
    let (f, faddr) = start_frontend(&dir, &[&waddr], &[], &[JSONL]);

    let json = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: look-up-1"],
        CHAT,
    );
    assert_eq!(json.status, 200, "{json:?}");
    let (trace, span, flags) = trace_response(&json);
    assert_eq!(flags, "01", "a new trace is sampled");
    assert_eq!(json.json()["id"], format!("chatcmpl-{trace}"));

    let streamed = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: look-up-2"],
        &CHAT.replace("2049,", "2049, \"stream\": true,"),
    );
    let (stream_trace, stream_span, _) = trace_response(&streamed);
    let chunks: Vec<Value> = streamed
        .body
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks.len() > 2, "{chunks:?}");
    for chunk in &chunks {
        assert_eq!(chunk["id"], format!("chatcmpl-{stream_trace}"), "{chunk}");
    }

    // A caller's trace, not sampled: the response says so, in the caller's trace.
    let unsampled = UPSTREAM.replace("-01", "-00");
    let continued = http(
        &faddr,
        "POST",
        "/v1/chat/completions",
        &[&format!("traceparent: {unsampled}")],
        CHAT,
    );
    let (upstream_trace, _, upstream_flags) = trace_response(&continued);
    assert_eq!(
        (upstream_trace.as_str(), upstream_flags.as_str()),
        ("4bf92f3577b34da6a3ce929d0e0e4736", "00")
    );
    // Every response, an error too.
    let missing = http(&faddr, "GET", "/nowhere", &[], "");
    assert_eq!(missing.status, 404);
    let (missing_trace, ..) = trace_response(&missing);

    let (f, w) = (f.stop(), w.stop());
    for (trace, span, id) in [
        (&trace, &span, "look-up-1"),
        (&stream_trace, &stream_span, "look-up-2"),
    ] {
        let created = span_event(&f, "SPAN_CREATED", "http-request", trace);
        assert_eq!(created.span_id.as_deref(), Some(span.as_str()));
        let done = span_event(&f, "request completed", "http-request", trace);
        assert_eq!(done.x_request_id.as_deref(), Some(id));
        assert_eq!(
            done["worker_instance"],
            format!("http://{waddr}"),
            "{done:?}"
        );
        // The worker's side of the same trace.
        span_event(&w, "SPAN_CREATED", "handle_payload", trace);
    }
    let done = span_event(&f, "request completed", "http-request", &missing_trace);
    assert!(
        !done.has("worker_instance"),
        "no worker served a 404: {done:?}"
    );
}

#[test]
fn the_openai_client_parses_the_responses_whose_id_names_the_trace() {
    let dir = temp_dir("traceresponse-openai");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &[JSONL]);
    let (f, faddr) = start_frontend(&dir, &[&waddr], &[], &[JSONL]);
    let out = python_tool(
        "openai_lookup.py",
        &[std::ffi::OsStr::new(&format!("http://{faddr}/v1"))],
    );
    let report: Value = serde_json::from_slice(&out).expect("the tool's JSON report");
    let (f, _) = (f.stop(), w.stop());
    let expected = "What is the capital of South Africa?";
    for (kind, id) in [("json", "openai-json"), ("stream", "openai-stream")] {
        let part = &report[kind];
        let header = part["traceresponse"].as_str().expect("traceresponse");
        let trace = header.split('-').nth(1).expect("a trace id in it");
        let done = span_event(&f, "request completed", "http-request", trace);
        assert_eq!(done.x_request_id.as_deref(), Some(id), "{report}");
        assert_eq!(part["text"], expected, "{report}");
        let ids: Vec<&Value> = match kind {
            "json" => vec![&part["id"]],
            _ => part["ids"].as_array().expect("chunk ids").iter().collect(),
        };
        assert!(!ids.is_empty(), "{report}");
        for got in ids {
            assert_eq!(*got, format!("chatcmpl-{trace}"), "{report}");
        }
    }
}
