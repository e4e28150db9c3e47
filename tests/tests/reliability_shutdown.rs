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

use tracewire_tests::{check_jsonl, start_frontend, start_worker, temp_dir, try_http};

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
