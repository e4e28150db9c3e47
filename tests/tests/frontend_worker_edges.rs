//! Frontend and worker as real processes, at their edges: shutdown by SIGTERM and SIGINT,
//! readable mode, the wire loggers, identity when the frontend logs nothing, listen addresses,
//! request ids the frontend generates.

use tracewire_tests::{
    check_jsonl, http, json_lines, lines_with, span_event, start_frontend, start_worker, temp_dir,
    HttpCall, Line, Process, JSONL, REFERENCE_CHAT as CHAT, UPSTREAM,
};

#[test]
fn sigterm_finishes_in_flight_streams_and_closes_every_span() {
    let dir = temp_dir("sigterm");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "100"], &[JSONL]);
    let (f, addr) = start_frontend(&dir, &[&waddr], &[], &[JSONL]);
    let body = CHAT.replace("2049,", "2049, \"stream\": true,");
    let mut call = HttpCall::send(&addr, "POST", "/v1/chat/completions", &[], body.as_bytes());
    call.read_until("data: ");
    f.signal("TERM");
    let r = call.finish();
    assert!(
        r.body.ends_with("data: [DONE]\n\n"),
        "the in-flight stream completes: {}",
        r.body
    );
    let fl = stop_after_signal(f);
    let wl = w.stop();
    let summary = check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    assert!(summary.contains(" 0 never closed"), "{summary}");
    assert_eq!(
        lines_with(&fl, "SPAN_CLOSED", Some("http-request")).len(),
        1
    );
    assert_eq!(
        lines_with(&wl, "SPAN_CLOSED", Some("handle_payload")).len(),
        1
    );
    assert!(fl.last().is_some_and(|o| o.message == "frontend stopped"));
    assert!(TcpProbe::refused(&addr), "no longer accepting");
}

fn stop_after_signal(mut p: Process) -> Vec<Line> {
    assert_eq!(p.wait(), Some(0), "{}", p.output());
    json_lines(&p.output())
}

struct TcpProbe;

impl TcpProbe {
    fn refused(addr: &str) -> bool {
        std::net::TcpStream::connect(addr).is_err()
    }
}

#[test]
fn sigint_and_readable_mode_work_too() {
    let dir = temp_dir("sigint");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "0"], &[JSONL]);
    let mut f = Process::start(
        "tracewire-frontend",
        "frontend",
        &dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--worker",
            &format!("http://{waddr}"),
        ],
        &[],
    );
    let addr = f.wait_for_readable_addr("frontend listening");
    let r = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: readable-1"],
        CHAT,
    );
    assert_eq!(r.status, 200);
    f.signal("INT");
    assert_eq!(f.wait(), Some(0));
    let out = f.output();
    let done = out
        .lines()
        .find(|l| l.contains("request completed"))
        .expect(&out);
    assert!(
        done.contains(" INFO http-request{method=POST uri=/v1/chat/completions version=HTTP/1.1 gen_ai.operation.name=\"chat\" gen_ai.request.model=\"Qwen/Qwen3-0.6B\""),
        "{done}"
    );
    // SPEC §5: the worker that served it, among the event's fields.
    assert!(
        done.contains(&format!(
            " outcome=\"ok\" worker_instance=\"http://{waddr}\" x_request_id=readable-1 trace_id="
        )),
        "the request id once, after the fields: {done}"
    );
    assert_eq!(done.matches("readable-1").count(), 1, "{done}");
    drop(w.stop());
}

#[test]
fn wire_loggers_show_what_crosses_the_plane() {
    let dir = temp_dir("wire");
    let (w, waddr) = start_worker(
        &dir,
        "worker",
        &["--token-delay-ms", "0"],
        &[JSONL, ("DYN_LOG", "info,tracewire::wire=trace")],
    );
    let (f, addr) = start_frontend(
        &dir,
        &[&waddr],
        &[],
        &[JSONL, ("DYN_LOG", "info,tracewire::wire=debug")],
    );
    let r = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &[
            "x-request-id: wire-1",
            "Authorization: Bearer sk-SECRET",
            &format!("traceparent: {UPSTREAM}"),
            "tracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        ],
        CHAT,
    );
    assert_eq!(r.status, 200);
    let (fl, wl) = (f.stop(), w.stop());
    let sent = lines_with(&fl, "sending request", None);
    assert!(!sent.is_empty() && sent.iter().all(|o| o.target == "tracewire::wire::request"));
    let generate = sent
        .iter()
        .find(|o| o["method"] == "POST")
        .expect("the generate call");
    let headers = generate["headers"].as_str().unwrap();
    assert!(
        headers.contains("traceparent: \"00-4bf92f3577b34da6a3ce929d0e0e4736-")
            && headers.contains("x-request-id: \"wire-1\""),
        "{headers}"
    );
    assert!(
        headers.contains("tracestate: \"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\""),
        "tracestate is passed on: {headers}"
    );
    assert_eq!(
        generate.x_request_id.as_deref(),
        Some("wire-1"),
        "wire lines are inside the request's trace"
    );
    assert!(lines_with(&fl, "received response", None)
        .iter()
        .all(|o| o.target == "tracewire::wire::response"));
    assert!(
        lines_with(&fl, "request body", None).is_empty(),
        "TRACE stays off at debug"
    );
    let received = lines_with(&wl, "received generate call", None);
    assert_eq!(received.len(), 1);
    assert_eq!(
        lines_with(&wl, "generate call body", None).len(),
        1,
        "TRACE on the worker shows the body"
    );
    let all = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("frontend.log")).unwrap(),
        std::fs::read_to_string(dir.join("worker.log")).unwrap()
    );
    assert!(!all.contains("sk-SECRET"));
}

#[test]
fn trace_identity_propagates_when_the_frontend_logs_nothing() {
    let dir = temp_dir("quiet-frontend");
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "0"], &[JSONL]);
    let worker_url = format!("http://{waddr}");
    let mut f = Process::start(
        "tracewire-frontend",
        "frontend",
        &dir,
        &["--listen", "127.0.0.1:0", "--worker", &worker_url],
        &[JSONL, ("DYN_LOG", "off")],
    );
    let addr = wait_for_listener(&f);
    let r = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        &[&format!("traceparent: {UPSTREAM}")],
        CHAT,
    );
    assert_eq!(r.status, 200);
    f.signal("TERM");
    assert_eq!(f.wait(), Some(0));
    assert!(
        f.output().is_empty(),
        "DYN_LOG=off writes nothing: {}",
        f.output()
    );
    let wl = w.stop();
    let hp = span_event(
        &wl,
        "SPAN_CREATED",
        "handle_payload",
        "4bf92f3577b34da6a3ce929d0e0e4736",
    );
    let parent = hp.parent_id.as_deref().unwrap();
    assert_ne!(
        parent, "00f067aa0ba902b7",
        "the frontend's own (unlogged) request span sits between"
    );
    assert_eq!(parent.len(), 16);
}

/// The listening address of a process that logs nothing, from Linux's /proc.
fn wait_for_listener(p: &Process) -> String {
    let port = tracewire_tests::poll(
        20,
        || "a listening socket".to_owned(),
        || listening_ports(p.pid()).into_iter().next(),
    );
    format!("127.0.0.1:{port}")
}

/// TCP ports in LISTEN state whose sockets `pid` holds.
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    Some(
                        l.to_str()?
                            .strip_prefix("socket:[")?
                            .strip_suffix(']')?
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let listening = cols.get(3) == Some(&"0A")
                && cols.get(9).is_some_and(|i| inodes.iter().any(|n| n == i));
            listening
                .then(|| u16::from_str_radix(cols[1].rsplit(':').next()?, 16).ok())
                .flatten()
        })
        .collect()
}

#[test]
fn a_bad_listen_address_is_a_flag_error_and_a_taken_one_is_named() {
    let dir = temp_dir("listen-errors");
    let r = tracewire_tests::run(
        tracewire_tests::binary("tracewire-frontend")
            .to_str()
            .unwrap(),
        &["--listen", "0.0.0.0:99999"],
        &[],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("--listen")
            && r.stderr
                .contains("expected HOST:PORT with a port from 0 to 65535"),
        "{}",
        r.stderr
    );

    let (first, addr) = start_worker(&dir, "first", &[], &[JSONL]);
    let mut second = Process::start(
        "tracewire-worker",
        "second",
        &dir,
        &["--listen", &addr],
        &[JSONL],
    );
    assert_eq!(second.wait(), Some(1));
    let lines = json_lines(&second.output());
    let failed = lines_with(&lines, "worker failed", None);
    assert_eq!(failed.len(), 1, "{lines:?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("cannot listen on {addr}: ")),
        "the address is named: {error}"
    );
    drop(first.stop());
}

#[test]
fn a_request_without_an_id_gets_a_uuid_used_in_both_processes_and_echoed() {
    let dir = temp_dir("generated-id");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &env);
    let (f, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    let r = http(&addr, "POST", "/v1/chat/completions", &[], CHAT);
    assert_eq!(r.status, 200);
    let id = r.header("x-request-id").expect("echoed").to_owned();
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{id}"
    );
    assert!(parts[2].starts_with('4'), "UUID v4: {id}");
    let (fl, wl) = (f.stop(), w.stop());
    let front = lines_with(&fl, "SPAN_CREATED", Some("http-request"));
    let work = lines_with(&wl, "SPAN_CREATED", Some("handle_payload"));
    assert_eq!(
        front[0].x_request_id.as_deref(),
        Some(id.as_str()),
        "recorded"
    );
    assert_eq!(
        work[0].x_request_id.as_deref(),
        Some(id.as_str()),
        "passed on"
    );
    assert_eq!(
        lines_with(&fl, "request completed", None)[0]
            .x_request_id
            .as_deref(),
        Some(id.as_str())
    );
}
