//! Faulty log outputs: a stderr pipe nobody reads, and one that is closed. The process keeps
//! serving, never panics, counts what it could not write, and reports it once it can.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    io::Read,
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tracewire_tests::{binary, http, json_lines, lines_with, CONTROLLED};

const CHAT: &str =
    r#"{"model":"Qwen/Qwen3-0.6B","messages":[{"role":"user","content":"hello there"}]}"#;

/// A free loopback port (the process logs its address, but its log is what is under test).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn frontend(port: u16) -> Command {
    let mut c = Command::new(binary("tracewire-frontend"));
    c.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--token-delay-ms",
        "0",
    ]);
    for name in CONTROLLED {
        c.env_remove(name);
    }
    c.env("DYN_LOGGING_JSONL", "true")
        .env("DYN_LOG_BUFFER_BYTES", "65536")
        .stdout(Stdio::null());
    c
}

fn wait_until_serving(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "not serving");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The frontend answers 50 requests, then exits 0 on SIGTERM (no panic).
fn serves_then_exits_cleanly(mut child: std::process::Child, addr: &str) {
    wait_until_serving(addr);
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
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = frontend(port).stderr(Stdio::piped()).spawn().unwrap();
    wait_until_serving(&addr);
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
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = frontend(port).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stderr.take()); // the read end is closed: every write fails with EPIPE
    serves_then_exits_cleanly(child, &addr);
}

#[test]
fn a_full_disk_for_the_log_file_and_stderr_does_not_stop_serving() {
    // /dev/full accepts opens and fails every write with ENOSPC, like a full filesystem.
    let dir = tracewire_tests::temp_dir("full-disk");
    let config = dir.join("full.toml");
    std::fs::write(&config, "jsonl = true\n[file]\npath = \"/dev/full\"\n").unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let child = frontend(port)
        .env("DYN_LOGGING_CONFIG_PATH", &config)
        .stderr(full)
        .spawn()
        .unwrap();
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
