//! SIGTERM and SIGINT in the middle of load: every request the server accepted completes (or
//! gets an error response), the processes exit 0, and every span opened has its SPAN_CLOSED.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
    time::Duration,
};

use serde_json::Value;
use tracewire_tests::{
    check_jsonl, json_lines, lines_with, start_frontend, start_worker, temp_dir, try_http, HttpCall,
};

fn load_then_signal(signal: &str, stream: bool) {
    load_then_signal_both(signal, stream, false);
}

/// With `both`, the worker gets the signal at the same moment: its in-flight calls finish, and
/// requests that reach the frontend after it stopped listening get a 5xx error answer.
fn load_then_signal_both(signal: &str, stream: bool, both: bool) {
    let dir = temp_dir(&format!("shutdown-{signal}-{stream}-{both}"));
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (mut w, worker) = start_worker(&dir, "worker", &["--token-delay-ms", "20"], &env);
    let (mut f, addr) = start_frontend(&dir, &[&worker], &[], &env);

    let body = format!(
        r#"{{"model":"Qwen/Qwen3-0.6B","stream":{stream},"messages":[{{"role":"user","content":"one two three four five six"}}]}}"#
    );
    let stop = AtomicBool::new(false);
    let (completed, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let broken = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    match try_http(&addr, "POST", "/v1/chat/completions", &[], &body) {
                        Ok(r) => {
                            let whole = if stream {
                                r.body.ends_with("data: [DONE]\n\n")
                            } else {
                                r.json()["choices"][0]["message"]["content"]
                                    == "one two three four five six"
                            };
                            if r.status == 200 && whole {
                                completed.fetch_add(1, Ordering::Relaxed);
                            } else if r.status < 500 || r.body.is_empty() {
                                broken
                                    .lock()
                                    .unwrap()
                                    .push(format!("{} {:?}", r.status, r.body));
                            }
                        }
                        // Not accepted by the server (it has stopped listening): allowed.
                        Err(_) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(700));
        if both {
            w.signal(signal);
        }
        f.signal(signal);
        assert_eq!(f.wait(), Some(0), "the frontend exits 0 after {signal}");
        stop.store(true, Ordering::Relaxed);
    });
    let broken = broken.into_inner().unwrap();
    assert!(
        broken.is_empty(),
        "accepted requests that did not complete: {broken:?}"
    );
    assert!(completed.load(Ordering::Relaxed) > 16, "load was running");
    if !both {
        w.signal("TERM");
    }
    assert_eq!(w.wait(), Some(0));
    let summary = check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
    assert!(summary.contains(" 0 never closed"), "{summary}");
    let log = std::fs::read_to_string(dir.join("frontend.log")).unwrap();
    assert!(
        log.lines().last().unwrap().contains("frontend stopped"),
        "every line flushed, the last one included"
    );
}

#[test]
fn sigterm_mid_load_with_streams() {
    load_then_signal("TERM", true);
}

#[test]
fn sigint_mid_load_with_json_answers() {
    load_then_signal("INT", false);
}

#[test]
fn sigterm_to_frontend_and_worker_at_once_mid_load() {
    load_then_signal_both("TERM", true, true);
}

/// A prompt of `n` words: with a token every second, a generation of `n` seconds.
fn long_prompt(n: usize) -> String {
    (0..n)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// SIGTERM while a stream runs past the 10 s drain: the stream ends with an SSE error event,
/// the frontend exits 0, and every span closes, the worker's included (it sees its caller
/// leave). With `embedded`, the worker runs inside the frontend's process.
fn stream_past_the_drain_deadline(embedded: bool) {
    let dir = temp_dir(&format!("drain-deadline-{embedded}"));
    let env = [("DYN_LOGGING_JSONL", "true")];
    let slow = ["--token-delay-ms", "1000"];
    let mut worker = (!embedded).then(|| start_worker(&dir, "worker", &slow, &env));
    let workers: Vec<&str> = worker.iter().map(|(_, addr)| addr.as_str()).collect();
    let (mut f, addr) = start_frontend(&dir, &workers, if embedded { &slow } else { &[] }, &env);
    let body = format!(
        r#"{{"model":"Qwen/Qwen3-0.6B","stream":true,"messages":[{{"role":"user","content":"{}"}}]}}"#,
        long_prompt(60)
    );
    let mut call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: past-deadline"],
        body.as_bytes(),
    );
    call.read_until("data: {");
    f.signal("TERM");
    let response = call.finish();
    assert_eq!(response.status, 200);
    let events: Vec<&str> = response
        .body
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(
        (&last["error"]["type"], &last["error"]["message"]),
        (
            &Value::from("server_error"),
            &Value::from("the server is shutting down")
        ),
        "the stream ends with an error event: {:?}",
        response.body
    );
    assert!(!response.body.contains("[DONE]"));
    assert_eq!(f.wait(), Some(0), "the frontend exits 0 after the deadline");

    let fl = json_lines(&f.output());
    let done = lines_with(&fl, "request completed", None);
    assert_eq!(done.len(), 1, "{fl:#?}");
    assert_eq!(
        (
            done[0].level.as_str(),
            &done[0]["outcome"],
            &done[0]["reason"]
        ),
        (
            "WARN",
            &Value::from("cancelled"),
            &Value::from("the server is shutting down")
        )
    );
    assert_eq!(done[0].x_request_id.as_deref(), Some("past-deadline"));
    let mut logs = vec![dir.join("frontend.log")];
    let wl = match worker.as_mut() {
        Some((w, _)) => {
            w.wait_for_line("caller went away; generation stopped");
            w.signal("TERM");
            assert_eq!(w.wait(), Some(0));
            logs.push(dir.join("worker.log"));
            json_lines(&w.output())
        }
        None => fl.clone(),
    };
    let closed = lines_with(&wl, "SPAN_CLOSED", Some("handle_payload"));
    assert_eq!(closed.len(), 1, "the worker's span closes");
    assert_eq!(closed[0]["outcome"], Value::from("cancelled"));
    assert_eq!(closed[0].x_request_id.as_deref(), Some("past-deadline"));
    let logs: Vec<&std::path::Path> = logs.iter().map(|p| p.as_path()).collect();
    let summary = check_jsonl(&logs);
    assert!(summary.contains(" 0 never closed"), "{summary}");
}

#[test]
fn a_stream_past_the_drain_deadline_ends_with_an_error_event_and_every_span_closes() {
    // Both layouts at once: each waits out the 10 s drain.
    std::thread::scope(|s| {
        let embedded = s.spawn(|| stream_past_the_drain_deadline(true));
        stream_past_the_drain_deadline(false);
        embedded.join().unwrap();
    });
}

#[test]
fn a_worker_stopped_right_after_its_caller_left_closes_its_span() {
    let dir = temp_dir("worker-caller-left");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (mut w, worker) = start_worker(&dir, "worker", &["--token-delay-ms", "1000"], &env);
    let body = format!(
        r#"{{"model":"Qwen/Qwen3-0.6B","prompt":"{}","max_tokens":null}}"#,
        long_prompt(30)
    );
    let mut call = HttpCall::send(
        &worker,
        "POST",
        "/generate",
        &[
            "Content-Type: application/json",
            "x-request-id: caller-left",
        ],
        body.as_bytes(),
    );
    call.read_until("\"token\"");
    drop(call);
    w.signal("TERM");
    assert_eq!(w.wait(), Some(0));
    let wl = json_lines(&w.output());
    let closed = lines_with(&wl, "SPAN_CLOSED", Some("handle_payload"));
    assert_eq!(closed.len(), 1, "the worker's span closes: {wl:#?}");
    assert_eq!(closed[0]["outcome"], Value::from("cancelled"));
    let summary = check_jsonl(&[&dir.join("worker.log")]);
    assert!(summary.contains(" 0 never closed"), "{summary}");
}
