//! Disaggregated serving (SPEC §6): a frontend, a prefill worker (`--next-worker` over HTTP,
//! `--next-component` over etcd + NATS) and a decode worker, three real processes. The trace is
//! one: frontend `http-request` → prefill `handle_payload` → its `prefill` client span → decode
//! `handle_payload`; `x-request-id`, the request's own level (baggage), the sampled flag and
//! the tokens travel every hop; a decode worker killed mid-stream ends the caller's stream with
//! the error event and every span of the other processes closes.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use tracewire_tests::{
    check_jsonl, check_jsonl_allow_open, start_frontend, start_worker, temp_dir, wait_until,
    HttpCall, HttpResponse, Line, Process, Receiver, Server,
};

const PROMPT: &str = "What is the capital of South Africa?";
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// A request's own level, and a member of the caller's that must travel on untouched.
const DEBUG_BAGGAGE: &str = "baggage: tracewire.log=debug,user=ann";

fn chat_body(stream: bool) -> String {
    format!(
        r#"{{"model": "Qwen/Qwen3-0.6B", "stream": {stream}, "messages":[{{"role":"user", "content": "{PROMPT}"}}]}}"#
    )
}

fn call(addr: &str, id: &str, headers: &[&str], stream: bool) -> HttpResponse {
    let request_id = format!("x-request-id: {id}");
    let mut all = vec![request_id.as_str()];
    all.extend_from_slice(headers);
    let body = chat_body(stream);
    let mut call = HttpCall::send(addr, "POST", "/v1/chat/completions", &all, body.as_bytes());
    if stream {
        call.read_until("[DONE]");
    }
    call.finish()
}

/// The text of an SSE answer's chunks.
fn streamed_text(body: &str) -> String {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn created<'a>(lines: &'a [Line], span: &str, id: &str) -> &'a Line {
    lines
        .iter()
        .find(|l| {
            l.message == "SPAN_CREATED" && l.span() == span && l.x_request_id.as_deref() == Some(id)
        })
        .unwrap_or_else(|| panic!("SPAN_CREATED of {span} for {id} in {lines:#?}"))
}

/// Request `id`'s chain over the three outputs: each hop's span the parent of the next, one
/// trace (the caller's when `caller` is set), the request id on every hop.
fn assert_chain(f: &[Line], p: &[Line], d: &[Line], id: &str, caller: bool) -> String {
    let front = created(f, "http-request", id);
    let prefill_payload = created(p, "handle_payload", id);
    let prefill = created(p, "prefill", id);
    let decode = created(d, "handle_payload", id);
    let trace = front.trace_id.clone().unwrap();
    if caller {
        assert_eq!(trace, CALLER_TRACE);
    }
    for (line, parent) in [
        (prefill_payload, front),
        (prefill, prefill_payload),
        (decode, prefill),
    ] {
        assert_eq!(
            line.trace_id.as_deref(),
            Some(trace.as_str()),
            "{id}: {line:?}"
        );
        assert_eq!(
            line.parent_id, parent.span_id,
            "{id}: {line:?} under {parent:?}"
        );
    }
    trace
}

/// Whether a process wrote a DEBUG line of request `id`.
fn debug_of(lines: &[Line], id: &str) -> bool {
    lines
        .iter()
        .any(|l| l.level == "DEBUG" && l.x_request_id.as_deref() == Some(id))
}

fn assert_scoped_level(outputs: [&[Line]; 3], asking: &str, plain: &str) {
    for (name, lines) in ["frontend", "prefill", "decode"].iter().zip(outputs) {
        assert!(debug_of(lines, asking), "{name}: DEBUG lines of {asking}");
        assert!(!debug_of(lines, plain), "{name}: no DEBUG line of {plain}");
    }
}

const SCOPED: [(&str, &str); 4] = [
    ("DYN_LOGGING_JSONL", "true"),
    ("DYN_LOG_REQUEST_LEVEL", "debug"),
    ("DYN_LOG_CLIENT_LEVEL", "debug"),
    ("OTEL_EXPORT_ENABLED", "true"),
];

#[test]
fn three_processes_over_http_keep_one_trace_its_request_id_level_and_sampling() {
    let dir = temp_dir("hops-http");
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint("grpc");
    let mut env = SCOPED.to_vec();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()));
    let (decode, daddr) = start_worker(&dir, "decode", &["--token-delay-ms", "1"], &env);
    let next = format!("http://{daddr}");
    let (prefill, paddr) = start_worker(&dir, "prefill", &["--next-worker", &next], &env);
    let (frontend, addr) = start_frontend(&dir, &[&paddr], &[], &env);

    let caller = format!("traceparent: 00-{CALLER_TRACE}-00f067aa0ba902b7-01");
    let streamed = call(&addr, "hop-1", &[&caller, DEBUG_BAGGAGE], true);
    assert_eq!(streamed.status, 200, "{streamed:?}");
    assert_eq!(
        streamed_text(&streamed.body),
        PROMPT,
        "the decode worker's tokens"
    );
    let plain = call(&addr, "hop-2", &[], false);
    assert_eq!(plain.status, 200, "{plain:?}");
    assert_eq!(plain.json()["choices"][0]["message"]["content"], PROMPT);
    // Not sampled by the caller: no process exports it.
    let unsampled = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    assert_eq!(call(&addr, "hop-3", &[unsampled], false).status, 200);
    // The caller asks for its own lines: they come back from all three processes.
    let asking = call(&addr, "hop-4", &["x-tracewire-logs: debug"], false);
    assert_eq!(asking.status, 200, "{asking:?}");
    let returned: Vec<Value> = asking.json()["tracewire_logs"].as_array().unwrap().clone();

    let (f, p, d) = (frontend.stop(), prefill.stop(), decode.stop());
    let trace = assert_chain(&f, &p, &d, "hop-1", true);
    assert_chain(&f, &p, &d, "hop-2", false);
    let unsampled_trace = assert_chain(&f, &p, &d, "hop-3", false);
    assert_eq!(unsampled_trace, "0af7651916cd43dd8448eb211c80319c");
    assert_scoped_level([&f, &p, &d], "hop-1", "hop-2");
    assert_chain(&f, &p, &d, "hop-4", false);
    for (name, span) in [
        ("frontend", created(&f, "http-request", "hop-4")),
        ("prefill", created(&p, "prefill", "hop-4")),
        ("decode", created(&d, "handle_payload", "hop-4")),
    ] {
        assert!(
            returned
                .iter()
                .any(|l| l["span_id"].as_str() == span.span_id.as_deref()),
            "the {name}'s lines come back to the caller: {returned:#?}"
        );
    }
    let done = f
        .iter()
        .find(|l| l.message == "request completed" && l.x_request_id.as_deref() == Some("hop-1"))
        .unwrap();
    assert_eq!(done["worker_instance"], format!("http://{paddr}"));
    let handed = p
        .iter()
        .find(|l| l.message == "handed off to the next worker")
        .unwrap();
    assert_eq!(handed.span(), "prefill");
    let closed = p
        .iter()
        .find(|l| l.message == "SPAN_CLOSED" && l.span() == "prefill")
        .unwrap();
    assert_eq!(closed["next_worker"], next.as_str());

    // The exported spans: all three services for the sampled trace, none for the other.
    let mut spans = Vec::new();
    wait_until(10, "the chain's spans at the receiver", || {
        spans = receiver.spans();
        ["http-request", "handle_payload", "prefill"]
            .iter()
            .all(|n| {
                spans
                    .iter()
                    .any(|s| s["trace_id"] == trace && s["name"] == *n)
            })
    });
    let payloads = spans
        .iter()
        .filter(|s| s["trace_id"] == trace && s["name"] == "handle_payload")
        .count();
    assert_eq!(payloads, 2, "prefill's and decode's handle_payload");
    assert!(
        !spans.iter().any(|s| s["trace_id"] == unsampled_trace),
        "the unsampled flag travelled every hop"
    );

    let checked = check_jsonl(&[
        &dir.join("frontend.log"),
        &dir.join("prefill.log"),
        &dir.join("decode.log"),
    ]);
    assert!(checked.contains("0 never closed"), "{checked}");
}

#[test]
fn a_decode_worker_killed_mid_stream_ends_the_callers_stream_and_every_span_closes() {
    let dir = temp_dir("hops-killed");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (mut decode, daddr) = start_worker(&dir, "decode", &["--token-delay-ms", "300"], &env);
    let next = format!("http://{daddr}");
    let (prefill, paddr) = start_worker(&dir, "prefill", &["--next-worker", &next], &env);
    let (frontend, addr) = start_frontend(&dir, &[&paddr], &[], &env);
    let body = chat_body(true);
    let mut call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: killed-1"],
        body.as_bytes(),
    );
    call.read_until("\"What \"");
    decode.signal("KILL");
    let _ = decode.wait();
    let answer = call.finish();
    assert!(
        answer.body.contains("\"error\"") && answer.body.contains("the next worker"),
        "the caller's stream ends with the error event: {}",
        answer.body
    );
    let (f, p) = (frontend.stop(), prefill.stop());
    let failed = p
        .iter()
        .find(|l| l.level == "ERROR" && l.x_request_id.as_deref() == Some("killed-1"))
        .unwrap_or_else(|| panic!("the prefill worker's ERROR line: {p:#?}"));
    assert_eq!(failed.span(), "handle_payload");
    for (lines, span) in [
        (&p, "prefill"),
        (&p, "handle_payload"),
        (&f, "http-request"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.message == "SPAN_CLOSED" && l.span() == span),
            "{span} closed"
        );
    }
    let checked = check_jsonl(&[&dir.join("frontend.log"), &dir.join("prefill.log")]);
    assert!(checked.contains("0 never closed"), "{checked}");
    check_jsonl_allow_open(&[
        &dir.join("frontend.log"),
        &dir.join("prefill.log"),
        &dir.join("decode.log"),
    ]);
}

#[test]
fn three_processes_over_etcd_and_nats_keep_one_trace_and_the_requests_level() {
    let dir = temp_dir("hops-nats");
    let (nats, etcd) = (Server::nats(&dir), Server::etcd(&dir));
    let (etcd_url, nats_url) = (etcd.url(), nats.url());
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG_REQUEST_LEVEL", "debug"),
        ("ETCD_ENDPOINTS", etcd_url.as_str()),
        ("NATS_SERVER", nats_url.as_str()),
    ];
    let decode_args = ["--component", "decode", "--token-delay-ms", "1"];
    let (decode, _) = start_worker(&dir, "decode", &decode_args, &env);
    let prefill_args = ["--component", "prefill", "--next-component", "decode"];
    let (mut prefill, _) = start_worker(&dir, "prefill", &prefill_args, &env);
    let (mut frontend, addr) = start_frontend(&dir, &[], &["--component", "prefill"], &env);
    wait_for_instance(&mut frontend);
    wait_for_instance(&mut prefill);

    let streamed = call(&addr, "nats-hop-1", &[DEBUG_BAGGAGE], true);
    assert_eq!(streamed.status, 200, "{streamed:?}");
    assert_eq!(streamed_text(&streamed.body), PROMPT);
    let plain = call(&addr, "nats-hop-2", &[], false);
    assert_eq!(plain.json()["choices"][0]["message"]["content"], PROMPT);

    let (f, p, d) = (frontend.stop(), prefill.stop(), decode.stop());
    assert_chain(&f, &p, &d, "nats-hop-1", false);
    assert_chain(&f, &p, &d, "nats-hop-2", false);
    assert_scoped_level([&f, &p, &d], "nats-hop-1", "nats-hop-2");
    let decode_instance = created(&d, "handle_payload", "nats-hop-1")["instance_id"].clone();
    let closed = p
        .iter()
        .find(|l| l.message == "SPAN_CLOSED" && l.span() == "prefill")
        .unwrap();
    assert_eq!(
        closed["next_worker"], decode_instance,
        "the instance id over NATS"
    );
    let checked = check_jsonl(&[
        &dir.join("frontend.log"),
        &dir.join("prefill.log"),
        &dir.join("decode.log"),
    ]);
    assert!(checked.contains("0 never closed"), "{checked}");
    drop((nats, etcd));
}

/// Waits until `process` has found an instance in etcd.
fn wait_for_instance(process: &mut Process) {
    process.wait_for_line("instance added");
}
