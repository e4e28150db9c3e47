//! Runs the real `tracewire-logdemo` binary under several environments and checks what it
//! prints and how it exits.

use std::fs;

use serde_json::Value;
use tracewire_tests::{check_jsonl, json_lines, repo_root, run, temp_dir};

const DEMO: &str = env!("CARGO_BIN_EXE_tracewire-logdemo");

fn fixture(name: &str) -> String {
    repo_root()
        .join("config")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn jsonl_output_passes_the_shared_checker_and_links_up() {
    let r = run(
        DEMO,
        &["8372eac7-5f43-4d76-beca-0a94cfb311d0"],
        &[("DYN_LOGGING_JSONL", "true")],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "lines go to stderr by default");
    let dir = temp_dir("jsonl-e2e");
    let file = dir.join("demo.jsonl");
    fs::write(&file, &r.stderr).unwrap();
    let summary = check_jsonl(&[&file]);
    assert!(
        summary.starts_with("10 lines, 2 spans created, 2 closed, 0 never closed, 1 traces"),
        "{summary}"
    );

    let lines = json_lines(&r.stderr);
    let in_request: Vec<_> = lines.iter().filter(|o| o.span_id.is_some()).collect();
    assert_eq!(in_request.len(), 8);
    for o in &in_request {
        assert_eq!(
            o.x_request_id.as_deref(),
            Some("8372eac7-5f43-4d76-beca-0a94cfb311d0"),
            "{o:?}"
        );
        assert_eq!(o.trace_id, in_request[0].trace_id);
    }
    let bridged = lines
        .iter()
        .find(|o| o.target == "log")
        .expect("a log-crate record");
    assert_eq!(
        (&bridged["log.target"], bridged.message.as_str()),
        (&Value::from("engine.py"), "bridged from the log crate")
    );
    let closed = lines
        .iter()
        .find(|o| o.message == "SPAN_CLOSED" && o.span() == "http-request")
        .unwrap();
    assert_eq!(
        closed["status"], 200,
        "a field recorded late is on SPAN_CLOSED"
    );
    assert!(
        !lines.iter().any(|o| o.level == "DEBUG"),
        "default level is info"
    );
}

#[test]
fn readable_by_default_with_no_colour_in_a_pipe() {
    let r = run(DEMO, &[], &[]);
    assert_eq!(r.code, Some(0));
    assert!(!r.stderr.contains('\u{1b}'), "never ANSI codes in a pipe");
    assert!(
        !r.stderr.contains("SPAN_CREATED"),
        "no span events in readable mode by default"
    );
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("request received"))
        .unwrap();
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(
        time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    assert!(rest.starts_with(" INFO http-request{"), "{rest}");
    assert!(
        rest.contains(": tracewire_logdemo: request received model=\"Qwen/Qwen3-0.6B\" trace_id="),
        "{rest}"
    );
    // colour can be forced, still only on the stream
    let r = run(DEMO, &[], &[("DYN_LOG_COLOR", "always")]);
    assert!(r.stderr.contains("\u{1b}[32m INFO\u{1b}[0m"));
}

#[test]
fn dyn_log_selects_lines_but_keeps_trace_ids() {
    let r = run(
        DEMO,
        &[],
        &[("DYN_LOGGING_JSONL", "1"), ("DYN_LOG", " warn ")],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines = json_lines(&r.stderr);
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert_eq!(lines[0].message, "slow token");
    assert!(
        lines[0].trace_id.as_deref().is_some_and(|t| t.len() == 32),
        "the INFO request span still gives its trace"
    );
    assert_eq!(lines[0].parent_id.as_deref().map(str::len), Some(16));

    let r = run(
        DEMO,
        &[],
        &[
            ("DYN_LOGGING_JSONL", "1"),
            ("DYN_LOG", "info,tracewire_logdemo:debug"),
        ],
    );
    assert!(
        json_lines(&r.stderr)
            .iter()
            .any(|o| o.message == "decoding"),
        "the reference's target:level form"
    );
}

#[test]
fn the_toml_file_and_the_environment_on_top() {
    let r = run(
        DEMO,
        &[],
        &[("DYN_LOGGING_CONFIG_PATH", &fixture("jsonl.toml"))],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(json_lines(&r.stderr).len(), 10);

    let r = run(
        DEMO,
        &[],
        &[
            ("DYN_LOGGING_CONFIG_PATH", &fixture("jsonl.toml")),
            ("DYN_LOGGING_JSONL", "false"),
            ("DYN_LOG_STREAM", "stdout"),
        ],
    );
    assert_eq!(r.code, Some(0));
    assert!(
        r.stderr.is_empty() && r.stdout.contains("  INFO tracewire_logdemo: demo starting"),
        "{r:?}"
    );

    let r = run(
        DEMO,
        &[],
        &[("DYN_LOGGING_CONFIG_PATH", &fixture("debug-readable.toml"))],
    );
    assert!(r.stderr.contains("DEBUG http-request"), "{}", r.stderr);
}

#[test]
fn the_file_table_writes_a_log_file_too() {
    let dir = temp_dir("file-table");
    let log = dir.join("logs/demo.jsonl");
    let config = dir.join("c.toml");
    fs::write(
        &config,
        format!(
            "jsonl = true\n[file]\npath = {:?}\nmax_bytes = 1000000\n",
            log.to_string_lossy()
        ),
    )
    .unwrap();
    let r = run(
        DEMO,
        &[],
        &[("DYN_LOGGING_CONFIG_PATH", config.to_str().unwrap())],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        r.stderr,
        "the file gets the same lines"
    );
    check_jsonl(&[&log]);
}

#[test]
fn every_bad_value_exits_2_with_one_line_naming_the_culprit() {
    let unknown = fixture("invalid-unknown-key.toml");
    let level = fixture("invalid-level.toml");
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![("DYN_LOGGING_JSONL", "maybe")],
            "DYN_LOGGING_JSONL: \"maybe\": expected one of 1, true, yes, on, 0, false, no, off"
                .into(),
        ),
        (
            vec![("DYN_LOG", "info,inf")],
            "DYN_LOG: \"inf\": not a level nor target=level".into(),
        ),
        (
            vec![("DYN_LOG", "h2=loud")],
            "DYN_LOG: \"h2=loud\": unknown level \"loud\"".into(),
        ),
        (
            vec![("DYN_LOG_STREAM", "stdlog")],
            "DYN_LOG_STREAM: \"stdlog\": expected stderr or stdout".into(),
        ),
        (
            vec![("DYN_LOGGING_SPAN_EVENTS", "")],
            "DYN_LOGGING_SPAN_EVENTS: \"\": expected one of".into(),
        ),
        (
            vec![("DYN_LOGGING_CONFIG_PATH", "/nonexistent/x.toml")],
            "DYN_LOGGING_CONFIG_PATH: cannot read \"/nonexistent/x.toml\"".into(),
        ),
        (
            vec![("DYN_LOGGING_CONFIG_PATH", "/dev/zero")],
            "DYN_LOGGING_CONFIG_PATH: \"/dev/zero\": the configuration must be a regular file of at most 1 MiB of text, and this is a device".into(),
        ),
        (
            vec![("DYN_LOG_CAPTURE", "debug"), ("DYN_LOG_CAPTURE_MAX_LINES", "0")],
            "DYN_LOG_CAPTURE_MAX_LINES: \"0\": [capture] max_lines: expected a number from 1 to 100000".into(),
        ),
        (
            vec![("DYN_LOGGING_CONFIG_PATH", &unknown)],
            format!("{unknown}:4: unknown field `span_event`"),
        ),
        (
            vec![("DYN_LOGGING_CONFIG_PATH", &level)],
            format!("{level}:5: \"h2=verbose\": unknown level \"verbose\""),
        ),
        (
            vec![("OTEL_EXPORT_ENABLED", "true")],
            "cannot start logging: OTEL_EXPORT_ENABLED is on, but OTLP export runs on the program's Tokio runtime and none is running".into(),
        ),
        (
            vec![
                ("OTEL_EXPORT_ENABLED", "true"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ],
            "OTEL_EXPORTER_OTLP_PROTOCOL: \"http/json\": http/json is not supported".into(),
        ),
        (
            vec![
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ],
            "OTEL_TRACES_SAMPLER_ARG: \"2\": expected a ratio from 0 to 1".into(),
        ),
    ];
    for (env, want) in cases {
        let r = run(DEMO, &[], &env);
        assert_eq!(r.code, Some(2), "{env:?}: {r:?}");
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "{env:?}: one line: {:?}",
            r.stderr
        );
        let line = r.stderr.trim_end();
        // A bad value is the configuration's fault; a missing runtime is the program's.
        let want = if want.starts_with("cannot start logging: ") {
            want
        } else {
            format!("configuration error: {want}")
        };
        assert!(
            line.starts_with(&format!("tracewire: {want}")),
            "{env:?}: {line}"
        );
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn init_installs_all_or_nothing() {
    // A `log` logger is already set: init must fail and leave no tracing subscriber behind.
    let r = run(env!("CARGO_BIN_EXE_tracewire-init-order"), &[], &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.stdout,
        "init: logging is already initialised in this process (a global tracing subscriber or `log` logger is set)\n\
         global tracing subscriber installed: false\n"
    );
}

#[test]
fn a_fifo_as_the_configuration_file_is_refused_at_once() {
    let dir = temp_dir("config-fifo");
    let fifo = dir.join("config.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs")
        .success());
    let mut child = std::process::Command::new(DEMO)
        .env("DYN_LOGGING_CONFIG_PATH", &fifo)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the demo starts");
    // Nobody ever writes the FIFO: a reader that opens it blocks for good.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still blocked on the FIFO after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("must be a regular file of at most 1 MiB of text, and this is a FIFO"),
        "{stderr}"
    );
}

#[test]
fn a_file_of_forty_thousand_filters_starts_and_a_bigger_one_is_refused() {
    let dir = temp_dir("many-filters");
    let many = dir.join("many.toml");
    let mut text = String::from("jsonl = true\n[log_filters]\n");
    for i in 0..40_000 {
        text.push_str(&format!("crate_{i} = \"debug\"\n"));
    }
    assert!(text.len() < 1 << 20);
    fs::write(&many, &text).unwrap();
    let r = run(
        DEMO,
        &[],
        &[("DYN_LOGGING_CONFIG_PATH", many.to_str().unwrap())],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(json_lines(&r.stderr)
        .iter()
        .any(|l| l.message == "demo done"));

    let huge = dir.join("huge.toml");
    for i in 40_000..100_000 {
        text.push_str(&format!("crate_{i} = \"debug\"\n"));
    }
    fs::write(&huge, &text).unwrap();
    let r = run(
        DEMO,
        &[],
        &[("DYN_LOGGING_CONFIG_PATH", huge.to_str().unwrap())],
    );
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("must be a regular file of at most 1 MiB of text"),
        "{}",
        r.stderr
    );
}
