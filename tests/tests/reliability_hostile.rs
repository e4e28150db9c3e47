//! Hostile input: secrets in headers never reach a line or an exported span; oversized headers,
//! raw bytes and terminal escapes in headers, prompts and model names get a clear answer and
//! never reach a log line raw; a client that goes away mid-stream cancels cleanly.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{io::Write, net::TcpStream, time::Duration};

use serde_json::Value;
use tracewire_tests::{
    check_jsonl, http, json_lines, lines_with, start_frontend, start_worker, temp_dir, HttpCall,
    Process, Receiver,
};

const SECRET: &str = "sk-PLANTED-SECRET-42";

#[test]
fn secrets_in_headers_reach_no_line_and_no_exported_span() {
    let dir = temp_dir("secrets");
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint("grpc");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "trace,tracewire::wire=trace"),
        ("OTEL_EXPORT_ENABLED", "true"),
        ("OTEL_EXPORT_LOGS_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
    ];
    let (mut w, worker) = start_worker(&dir, "worker", &["--token-delay-ms", "0"], &env);
    let (mut f, addr) = start_frontend(&dir, &[&worker], &[], &env);
    let headers = [
        format!("Authorization: Bearer {SECRET}"),
        format!("Cookie: session={SECRET}"),
        format!("api-key: {SECRET}"),
        format!("x-api-key: {SECRET}"),
    ];
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let body = r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"hello"}]}"#;
    assert_eq!(
        http(&addr, "POST", "/v1/chat/completions", &headers, body).status,
        200
    );
    f.signal("TERM");
    w.signal("TERM");
    assert_eq!((f.wait(), w.wait()), (Some(0), Some(0)));
    let logs = format!("{}{}", f.output(), w.output());
    assert!(
        logs.lines().count() > 10,
        "TRACE is on: {}",
        logs.lines().count()
    );
    assert!(
        !logs.contains("PLANTED-SECRET"),
        "a secret reached a log line"
    );
    let exported = std::fs::read_to_string(dir.join("spans.jsonl")).unwrap();
    assert!(
        exported.contains("http-request") && !exported.contains("PLANTED-SECRET"),
        "a secret reached an exported span or log record"
    );
}

fn no_raw_escapes(log: &str) {
    assert!(!log.contains('\u{1b}'), "a raw ESC reached the log");
    assert!(!log.bytes().any(|b| b == b'\r'), "a raw CR reached the log");
}

fn hostile_requests(addr: &str) {
    // Oversized headers: refused by the HTTP parser.
    let huge = format!("x-filler: {}", "a".repeat(512 * 1024));
    let r = tracewire_tests::try_http(addr, "GET", "/health", &[&huge], "");
    assert!(
        r.as_ref().map_or(true, |r| r.status == 431),
        "{:?}",
        r.map(|r| r.status)
    );
    // Raw bytes in x-request-id (obs-text): dropped with an escaped WARN, request served.
    let mut s = TcpStream::connect(addr).unwrap();
    let body = r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"hi"}]}"#;
    let mut raw = format!("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\nx-request-id: ", body.len()).into_bytes();
    raw.extend_from_slice(b"\xff\xfe\x80abc");
    raw.extend_from_slice(b"\r\n\r\n");
    raw.extend_from_slice(body.as_bytes());
    s.write_all(&raw).unwrap();
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut s, &mut reply).ok();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Terminal escapes in a prompt and in a model name.
    let ansi_prompt = r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"\u001b[31mred\u001b[0m \r\n injected"}]}"#;
    assert_eq!(
        http(addr, "POST", "/v1/chat/completions", &[], ansi_prompt).status,
        200
    );
    let ansi_model = r#"{"model":"\u001b[2J\u001b[Hfake\r\n{\"level\":\"ERROR\"}","messages":[{"role":"user","content":"x"}]}"#;
    let r = http(addr, "POST", "/v1/chat/completions", &[], ansi_model);
    assert_eq!(r.status, 404);
    // An escape in the path.
    let r = http(addr, "GET", "/v1/%1b%5b31mnothing", &[], "");
    assert_eq!(r.status, 404);
}

#[test]
fn hostile_input_gets_clear_answers_and_never_reaches_a_line_raw() {
    for jsonl in [true, false] {
        let dir = temp_dir(&format!("hostile-{jsonl}"));
        let env = [("DYN_LOGGING_JSONL", if jsonl { "true" } else { "false" })];
        let mut f = Process::start(
            "tracewire-frontend",
            "frontend",
            &dir,
            &["--listen", "127.0.0.1:0", "--token-delay-ms", "0"],
            &env,
        );
        let addr = if jsonl {
            f.wait_for_addr("frontend listening")
        } else {
            f.wait_for_readable_addr("frontend listening")
        };
        hostile_requests(&addr);
        f.signal("TERM");
        assert_eq!(f.wait(), Some(0), "{}", f.output());
        let log = f.output();
        no_raw_escapes(&log);
        if jsonl {
            let lines = json_lines(&log); // every line is one JSON object
            let warn = lines_with(&lines, "ignoring invalid x-request-id", None);
            assert_eq!(warn.len(), 1);
            assert_eq!(warn[0]["value"], r#""\xff\xfe\x80abc""#);
            assert!(
                lines
                    .iter()
                    .all(|o| o.level != "ERROR" || !o.message.is_empty()),
                "no injected line"
            );
            let refused = lines_with(&lines, "request refused", None)
                .into_iter()
                .find(|o| o["status"] == 404 && o.has("gen_ai.request.model"))
                .unwrap();
            assert_eq!(
                refused["gen_ai.request.model"],
                Value::from("\u{1b}[2J\u{1b}[Hfake\r\n{\"level\":\"ERROR\"}"),
                "kept as an escaped value"
            );
        } else {
            assert!(log.contains(r"\u{1b}[2J"), "escaped in readable mode");
        }
    }
}

#[test]
fn a_client_that_goes_away_mid_stream_cancels_both_sides() {
    let dir = temp_dir("disconnect");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (mut w, worker) = start_worker(&dir, "worker", &["--token-delay-ms", "100"], &env);
    let (mut f, addr) = start_frontend(&dir, &[&worker], &[], &env);
    let body = r#"{"model":"Qwen/Qwen3-0.6B","stream":true,"messages":[{"role":"user","content":"a b c d e f g h i j k l m n o p q r s t"}]}"#;
    let mut call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: gone"],
        body.as_bytes(),
    );
    call.read_until("data: ");
    drop(call);
    std::thread::sleep(Duration::from_millis(800));
    f.signal("TERM");
    w.signal("TERM");
    assert_eq!((f.wait(), w.wait()), (Some(0), Some(0)));
    let (fl, wl) = (json_lines(&f.output()), json_lines(&w.output()));
    let done = lines_with(&fl, "request completed", None);
    assert_eq!(
        (done.len(), &done[0]["outcome"]),
        (1, &Value::from("cancelled"))
    );
    assert_eq!(
        lines_with(&fl, "client disconnected; generation cancelled", None).len(),
        1
    );
    let stopped = lines_with(&wl, "caller went away; generation stopped", None);
    assert_eq!(stopped.len(), 1, "the worker stops generating");
    assert!(stopped[0]["sent"].as_u64().unwrap() < 19);
    assert!(lines_with(&wl, "SPAN_CLOSED", Some("handle_payload")).len() == 1);
}

#[test]
fn a_client_that_goes_away_before_a_json_answer_is_a_cancelled_request() {
    let dir = temp_dir("disconnect-json");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (mut w, worker) = start_worker(&dir, "worker", &["--token-delay-ms", "100"], &env);
    let (mut f, addr) = start_frontend(&dir, &[&worker], &[], &env);
    let body = r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"a b c d e f g h i j k l m n o p q r s t"}]}"#;
    let call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: left-early"],
        body.as_bytes(),
    );
    // The answer comes after 20 tokens, 100 ms apart: leave well before.
    std::thread::sleep(Duration::from_millis(400));
    drop(call);
    std::thread::sleep(Duration::from_millis(800));
    f.signal("TERM");
    w.signal("TERM");
    assert_eq!((f.wait(), w.wait()), (Some(0), Some(0)));
    let fl = json_lines(&f.output());
    let done = lines_with(&fl, "request completed", None);
    assert_eq!(done.len(), 1, "{fl:#?}");
    assert_eq!(
        (
            done[0].level.as_str(),
            &done[0]["outcome"],
            &done[0]["status"]
        ),
        ("WARN", &Value::from("cancelled"), &Value::from(499))
    );
    assert_eq!(done[0].x_request_id.as_deref(), Some("left-early"));
    let wl = json_lines(&w.output());
    assert_eq!(
        lines_with(&wl, "caller went away; generation stopped", None).len(),
        1,
        "the worker stops generating"
    );
    check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
}

#[test]
fn a_megabyte_model_name_is_logged_bounded() {
    let dir = temp_dir("huge-value");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (w, worker) = start_worker(&dir, "worker", &["--token-delay-ms", "0"], &env);
    let (f, addr) = start_frontend(&dir, &[&worker], &[], &env);
    let model = "m".repeat(1_000_000);
    let body = format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#);
    for _ in 0..5 {
        let r = http(&addr, "POST", "/v1/chat/completions", &[], &body);
        assert_eq!(r.status, 404, "{}", &r.body[..200.min(r.body.len())]);
    }
    let (fl, _) = (f.stop(), w.stop());
    check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    let size = std::fs::metadata(dir.join("frontend.log")).unwrap().len();
    // Each request logs the name three times (the refusal, request completed, SPAN_CLOSED):
    // 15 MB unbounded.
    assert!(size < 1_000_000, "frontend.log is {size} bytes");
    let cut = format!("{}…[+{} bytes]", "m".repeat(16_384), 1_000_000 - 16_384);
    let closed = lines_with(&fl, "SPAN_CLOSED", Some("http-request"));
    assert_eq!(closed.len(), 5);
    assert!(closed
        .iter()
        .all(|l| l["gen_ai.request.model"] == cut.as_str()));
    let refused = lines_with(&fl, "request refused", None);
    assert!(refused
        .iter()
        .all(|l| l["error"].as_str().unwrap().ends_with(" bytes]")));
}

/// Connections that each send half a request head, more than the frontend has file descriptors
/// for: a real client is still served while they come, the slow ones are closed (made room for,
/// or at the head timeout), and each close is a DEBUG line on the transport target.
#[test]
fn a_flood_of_half_sent_heads_still_lets_a_real_client_in() {
    let dir = temp_dir("half-heads");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,tracewire::wire::transport=debug"),
    ];
    // 512 files: about 256 connections after what the process keeps for itself.
    let mut f = Process::start_limited(
        "tracewire-frontend",
        "frontend",
        &dir,
        "ulimit -n 512",
        &["--listen", "127.0.0.1:0", "--token-delay-ms", "0"],
        &env,
    );
    let addr = f.wait_for_addr("frontend listening");
    let chat =
        r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"still served"}]}"#;
    let mut slow = Vec::new();
    for i in 0..1000 {
        let mut c = TcpStream::connect(&addr).unwrap();
        c.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: flood\r\n")
            .unwrap();
        slow.push(c);
        if i % 250 == 249 {
            // A real client in the middle of the flood, and after it.
            let r = http(&addr, "POST", "/v1/chat/completions", &[], chat);
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.json()["choices"][0]["message"]["content"], "still served");
        }
    }
    // Every slow connection is closed: made room for, or after the 10 s head timeout.
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 512];
        let got = std::io::Read::read(c, &mut buf);
        assert!(
            !matches!(got, Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
            "a half-sent head still open after 30 s"
        );
    }
    drop(slow);
    let lines = f.stop();
    let made_room = lines_with(
        &lines,
        "connection closed to make room: no request in flight",
        None,
    );
    assert!(made_room.len() > 500, "{}", made_room.len());
    assert_eq!(made_room[0].level, "DEBUG");
    assert_eq!(made_room[0].target, "tracewire::wire::transport");
    let timed_out = lines_with(&lines, "connection closed with an error", None);
    assert!(!timed_out.is_empty(), "the last ones time out");
    let limit = lines_with(
        &lines,
        "connection limit reached: closing the connections that have waited longest for a request",
        None,
    );
    assert_eq!(limit[0].level, "WARN");
    let usable = lines_with(
        &lines,
        "the open-file limit allows fewer connections than asked",
        None,
    );
    assert_eq!(usable[0]["usable"], Value::from(256));
}

/// A raw ESC or DEL in a header: hyper's parser answers 400 before any request exists (its
/// answer has no body, and hyper offers no hook to give it one), and the connection's end is a
/// DEBUG line on the transport target that says why.
#[test]
fn a_raw_control_byte_in_a_header_is_a_400_and_a_debug_line_on_the_connection() {
    let dir = temp_dir("control-byte-header");
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,tracewire::wire::transport=debug"),
    ];
    let mut f = Process::start(
        "tracewire-frontend",
        "frontend",
        &dir,
        &["--listen", "127.0.0.1:0", "--token-delay-ms", "0"],
        &env,
    );
    let addr = f.wait_for_addr("frontend listening");
    for byte in [0x1bu8, 0x7f] {
        let mut s = TcpStream::connect(&addr).unwrap();
        let mut raw = b"GET /health HTTP/1.1\r\nHost: x\r\nx-note: a".to_vec();
        raw.push(byte);
        raw.extend_from_slice(b"[31mred\r\n\r\n");
        s.write_all(&raw).unwrap();
        let mut reply = String::new();
        std::io::Read::read_to_string(&mut s, &mut reply).ok();
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
    }
    let lines = f.stop();
    let closed = lines_with(&lines, "connection closed with an error", None);
    assert_eq!(closed.len(), 2, "{lines:#?}");
    assert_eq!(
        (closed[0].level.as_str(), closed[0].target.as_str()),
        ("DEBUG", "tracewire::wire::transport")
    );
    assert!(
        closed[0]["error"].as_str().unwrap().contains("header"),
        "{:?}",
        closed[0]["error"]
    );
    assert!(closed[0].has("peer"));
}
