//! Load through a frontend and two workers, JSONL on: afterwards every line parses, every
//! request has one linked span pair per process, every x-request-id sent appears on both
//! sides, no two requests share a trace, every SPAN_CLOSED's timings add up.
//!
//! Scaled down for CI; `TRACEWIRE_LOAD_REQUESTS=10000` runs the full size.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    collections::{HashMap, HashSet},
    sync::atomic::{AtomicUsize, Ordering},
};

use tracewire_tests::{
    check_jsonl, http, lines_with, start_frontend, start_worker, temp_dir, Line,
};

const CONCURRENCY: usize = 64;

fn requests() -> usize {
    std::env::var("TRACEWIRE_LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

#[test]
fn every_request_is_traced_once_and_links_across_processes() {
    let dir = temp_dir("load");
    let env = [("DYN_LOGGING_JSONL", "true")];
    let (w1, a1) = start_worker(&dir, "worker1", &["--token-delay-ms", "0"], &env);
    let (w2, a2) = start_worker(&dir, "worker2", &["--token-delay-ms", "0"], &env);
    let (f, addr) = start_frontend(&dir, &[&a1, &a2], &[], &env);

    let total = requests();
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..CONCURRENCY {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let stream = i.is_multiple_of(2);
                let body = format!(
                    r#"{{"model":"Qwen/Qwen3-0.6B","stream":{stream},"messages":[{{"role":"user","content":"request number {i} says hello"}}]}}"#
                );
                let id = format!("load-{i}");
                let parent = format!("00-{:032x}-{:016x}-01", 0xabc0_0000_u128 + i as u128 + 1, i as u64 + 1);
                let id_header = format!("x-request-id: {id}");
                let parent_header = format!("traceparent: {parent}");
                let mut headers: Vec<&str> = Vec::new();
                if !i.is_multiple_of(3) {
                    headers.push(&id_header);
                }
                if i.is_multiple_of(5) {
                    headers.push(&parent_header);
                }
                let r = http(&addr, "POST", "/v1/chat/completions", &headers, &body);
                let complete = if stream { r.body.ends_with("data: [DONE]\n\n") } else { r.json()["choices"][0]["finish_reason"] == "stop" };
                if r.status != 200 || !complete {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "every request answered completely"
    );

    let fl = f.stop();
    let (l1, l2) = (w1.stop(), w2.stop());
    let summary = check_jsonl(&[
        &dir.join("frontend.log"),
        &dir.join("worker1.log"),
        &dir.join("worker2.log"),
    ]);
    assert!(summary.contains(" 0 never closed"), "{summary}");

    let created: Vec<_> = lines_with(&fl, "SPAN_CREATED", Some("http-request"));
    let closed = lines_with(&fl, "SPAN_CLOSED", Some("http-request"));
    assert_eq!(
        (created.len(), closed.len()),
        (total, total),
        "one http-request pair per request"
    );
    let traces: HashSet<&str> = created
        .iter()
        .map(|o| o.trace_id.as_deref().unwrap())
        .collect();
    assert_eq!(traces.len(), total, "no two requests share a trace");

    let workers: Vec<&Line> = l1.iter().chain(&l2).collect();
    let worker_spans: HashMap<&str, &Line> = workers
        .iter()
        .filter(|o| o.message == "SPAN_CREATED" && o.span() == "handle_payload")
        .map(|o| (o.parent_id.as_deref().unwrap(), *o))
        .collect();
    assert_eq!(worker_spans.len(), total, "one handle_payload per request");
    for span in &created {
        let child = worker_spans
            .get(span.span_id.as_deref().unwrap())
            .unwrap_or_else(|| panic!("no worker span for {span:?}"));
        assert_eq!(child.trace_id, span.trace_id);
        assert_eq!(
            child.x_request_id, span.x_request_id,
            "x-request-id on both sides"
        );
    }
    // Every request has an id: the caller's, or one the frontend generated (a UUID v4).
    let with_ids = created.iter().filter(|o| o.x_request_id.is_some()).count();
    assert_eq!(with_ids, total);
    let generated = created
        .iter()
        .filter(|o| {
            o.x_request_id
                .as_deref()
                .is_some_and(|id| !id.starts_with("load-"))
        })
        .count();
    assert_eq!(
        generated,
        (0..total).filter(|i| i.is_multiple_of(3)).count()
    );
    let continued = created.iter().filter(|o| o.parent_id.is_some()).count();
    assert_eq!(
        continued,
        (0..total).filter(|i| i.is_multiple_of(5)).count(),
        "every upstream traceparent continued"
    );
    let (n1, n2) = (
        lines_with(&l1, "SPAN_CLOSED", Some("handle_payload")).len(),
        lines_with(&l2, "SPAN_CLOSED", Some("handle_payload")).len(),
    );
    assert_eq!(n1 + n2, total);
    assert!(
        n1 > total / 4 && n2 > total / 4,
        "both workers served: {n1} / {n2}"
    );
}
