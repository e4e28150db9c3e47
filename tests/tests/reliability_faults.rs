//! Faulty log outputs: a stderr pipe nobody reads, and one that is closed. The process keeps
//! serving, never panics, counts what it could not write, and reports it once it can.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    io::Read,
    process::{Command, Stdio},
    time::Duration,
};

use tracewire_tests::{
    binary, clean_env, free_port, http, json_lines, lines_with, spawn_on_free_port, temp_dir,
};

const CHAT: &str =
    r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"hello there"}]}"#;

// A free port chosen here: the process logs its address, but its log is what is under test.
fn frontend(port: u16) -> Command {
    let mut c = Command::new(binary("tracewire-frontend"));
    c.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--token-delay-ms",
        "0",
    ]);
    clean_env(&mut c)
        .env("DYN_LOGGING_JSONL", "true")
        .env("DYN_LOG_BUFFER_BYTES", "65536")
        .stdout(Stdio::null());
    c
}

/// The frontend answers 50 requests, then exits 0 on SIGTERM (no panic).
fn serves_then_exits_cleanly(mut child: std::process::Child, addr: &str) {
    for _ in 0..50 {
        assert_eq!(
            http(addr, "POST", "/v1/chat/completions", &[], CHAT).status,
            200
        );
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "exit 0, no panic");
}

#[test]
fn a_stderr_pipe_nobody_reads_does_not_stop_serving_and_losses_are_reported() {
    let (mut child, addr) = spawn_on_free_port(|port| {
        let mut c = frontend(port);
        c.stderr(Stdio::piped());
        c
    });
    // ~3 KB of lines per request: the 64 KiB pipe and the 64 KiB queue fill within a few dozen
    // requests; after the stall bound the process drops lines instead of waiting.
    for i in 0..300 {
        let r = http(
            &addr,
            "POST",
            "/v1/chat/completions",
            &[&format!("x-request-id: unread-{i}")],
            CHAT,
        );
        assert_eq!(
            r.status, 200,
            "request {i} served while nobody reads stderr"
        );
    }
    // The sink recovers: read everything; the writer drains and reports what it dropped.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        http(&addr, "POST", "/v1/chat/completions", &[], CHAT).status,
        200
    );
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let lines = json_lines(&reader.join().unwrap());
    let reports = lines_with(
        &lines,
        "log lines dropped: the log output could not keep up or failed",
        None,
    );
    assert!(
        !reports.is_empty(),
        "the loss is reported once the output drains"
    );
    let reported: u64 = reports.iter().map(|r| r["dropped"].as_u64().unwrap()).sum();
    assert!(reported > 0 && reports.iter().all(|r| r.level == "WARN"));
    assert!(
        lines.last().unwrap().message == "frontend stopped",
        "lines after recovery are written"
    );
}

#[test]
fn a_closed_stderr_does_not_stop_serving_or_panic() {
    let (mut child, addr) = spawn_on_free_port(|port| {
        let mut c = frontend(port);
        c.stderr(Stdio::piped());
        c
    });
    drop(child.stderr.take()); // the read end is closed: every write fails with EPIPE
    serves_then_exits_cleanly(child, &addr);
}

#[test]
fn a_full_disk_for_the_log_file_and_stderr_does_not_stop_serving() {
    // /dev/full accepts opens and fails every write with ENOSPC, like a full filesystem.
    let dir = tracewire_tests::temp_dir("full-disk");
    let config = dir.join("full.toml");
    std::fs::write(&config, "jsonl = true\n[file]\npath = \"/dev/full\"\n").unwrap();
    let (child, addr) = spawn_on_free_port(|port| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut c = frontend(port);
        c.env("DYN_LOGGING_CONFIG_PATH", &config).stderr(full);
        c
    });
    serves_then_exits_cleanly(child, &addr);
}

#[test]
fn a_killed_worker_is_skipped_and_used_again_once_restarted() {
    use tracewire_tests::{start_frontend, start_worker, temp_dir, Process};
    let dir = temp_dir("restart");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let port = free_port();
    let doomed_addr = format!("127.0.0.1:{port}");
    let (mut survivor, survivor_addr) =
        start_worker(&dir, "survivor", &["--token-delay-ms", "0"], &env);
    let mut doomed = Process::start(
        "tracewire-worker",
        "doomed",
        &dir,
        &["--listen", &doomed_addr, "--token-delay-ms", "0"],
        &env,
    );
    doomed.wait_for_addr("worker listening");
    let (mut f, addr) = start_frontend(&dir, &[&doomed_addr, &survivor_addr], &[], &env);
    for _ in 0..4 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], CHAT).status,
            200
        );
    }
    doomed.signal("KILL");
    assert_eq!(doomed.wait(), None, "killed by a signal");
    for i in 0..10 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], CHAT).status,
            200,
            "request {i} goes to the survivor"
        );
    }
    // Restarted on the same port, it is tried again once its down period (1 s) is over.
    let mut again = Process::start(
        "tracewire-worker",
        "restarted",
        &dir,
        &["--listen", &doomed_addr, "--token-delay-ms", "0"],
        &env,
    );
    again.wait_for_addr("worker listening");
    std::thread::sleep(Duration::from_millis(1200));
    for _ in 0..6 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], CHAT).status,
            200
        );
    }
    f.signal("TERM");
    assert_eq!(f.wait(), Some(0));
    again.signal("TERM");
    assert_eq!(again.wait(), Some(0));
    let served = lines_with(
        &json_lines(&again.output()),
        "SPAN_CLOSED",
        Some("handle_payload"),
    )
    .len();
    assert!(served >= 2, "the restarted worker serves again: {served}");
    survivor.signal("TERM");
    assert_eq!(survivor.wait(), Some(0));
}

#[test]
fn a_full_disk_never_leaves_a_partial_line_and_writing_resumes() {
    // A filesystem that fills up, without mounting one: the process may write files of at
    // most 8 KiB (RLIMIT_FSIZE, writes past it fail with EFBIG; SIGXFSZ ignored), then the
    // limit is lifted from outside, as space freed would be.
    let dir = temp_dir("full-disk");
    let log = dir.join("app.jsonl");
    let config = dir.join("file.toml");
    std::fs::write(
        &config,
        format!(
            "[file]\npath = {:?}\nmax_bytes = 104857600\n",
            log.to_str().unwrap()
        ),
    )
    .unwrap();
    let frontend = binary("tracewire-frontend");
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -S -f 8; exec \"$0\" --listen 127.0.0.1:0 --token-delay-ms 0")
        .arg(&frontend)
        .env("DYN_LOGGING_JSONL", "true")
        .env("DYN_LOG_STREAM", "stdout")
        .env("DYN_LOGGING_CONFIG_PATH", &config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_for_file_addr(&log);
    let chat = r#"{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "fill the disk up"}]}"#;
    for _ in 0..20 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], chat).status,
            200
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let full = std::fs::metadata(&log).unwrap().len();
    assert!(full <= 8192, "{full}");
    let lifted = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &child.id().to_string(),
            "--fsize=unlimited:unlimited",
        ])
        .status()
        .unwrap();
    assert!(lifted.success());
    for _ in 0..5 {
        assert_eq!(
            http(&addr, "POST", "/v1/chat/completions", &[], chat).status,
            200
        );
    }
    std::thread::sleep(Duration::from_millis(1_200));
    assert!(std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.len() as u64 > full, "writing resumed");
    // Every line whole: parse_line panics on one cut and glued to the next.
    let lines = json_lines(&text);
    let dropped = lines_with(
        &lines,
        "log lines dropped: the log output could not keep up or failed",
        None,
    );
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0]["output"], "file");
    assert!(dropped[0]["dropped"].as_u64().unwrap() > 0);
    assert!(
        dropped[0]["error"]
            .as_str()
            .unwrap()
            .contains("os error 27"),
        "the OS's error (EFBIG here, ENOSPC on a full disk): {:?}",
        dropped[0]
    );
    assert_eq!(lines.last().unwrap().message, "frontend stopped");
}

/// The address in the "frontend listening" line of a log file, waiting for it.
fn wait_for_file_addr(log: &std::path::Path) -> String {
    for _ in 0..1000 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("\"frontend listening\"")) {
            let line = tracewire_tests::parse_line(line);
            return line["addr"].as_str().unwrap().to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no frontend listening line in {}", log.display());
}
