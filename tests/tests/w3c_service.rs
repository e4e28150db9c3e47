//! The W3C Trace Context test service (`tracewire-w3c-service`, built on the public API) as the
//! official suite drives it: a request with a caller's `traceparent` and `tracestate`, two
//! callbacks asked for, each made in a span of its own carrying the caller's trace. The suite
//! itself (github.com/w3c/trace-context, `test/test.py`) is not in this repository; its cases
//! are the table tests of `lib/runtime/src/propagation/outgoing.rs`.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::mpsc,
};

use tracewire_tests::{check_jsonl, http, lines_with, temp_dir, Process};

const CALLER: &str = "00-12345678901234567890123456789012-1234567890123456-01";

/// Accepts `n` requests on a loopback port, answers each with JSON `null`, and sends back the
/// header lines each came with.
fn callback_server(n: usize) -> (String, mpsc::Receiver<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let mut stream = stream.expect("a callback");
            let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
            let mut headers = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("a header line");
                let line = line.trim_end().to_owned();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().expect("a length");
                }
                headers.push(line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("the body");
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnull")
                .expect("the answer");
            tx.send(headers).expect("the test waits");
        }
    });
    (addr, rx)
}

fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| {
        let (n, v) = h.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn each_callback_continues_the_callers_trace_in_a_span_of_its_own() {
    let dir = temp_dir("w3c-service");
    let mut service = Process::start(
        "tracewire-w3c-service",
        "service",
        &dir,
        &[],
        &[("DYN_LOGGING_JSONL", "true")],
    );
    let addr = service.wait_for_addr("service listening");
    let (callbacks, received) = callback_server(2);
    let actions = format!(
        r#"[{{"url": "http://{callbacks}/scope.0", "arguments": []}}, {{"url": "http://{callbacks}/scope.1", "arguments": []}}]"#
    );
    let r = http(
        &addr,
        "POST",
        "/test",
        &[
            "Content-Type: application/json",
            &format!("traceparent: {CALLER}"),
            "tracestate: foo@=1,bar=2",
        ],
        &actions,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let calls: Vec<Vec<String>> = received.iter().take(2).collect();
    let parents: Vec<&str> = calls
        .iter()
        .map(|h| header(h, "traceparent").expect("a traceparent"))
        .collect();
    for (call, parent) in calls.iter().zip(&parents) {
        assert!(
            parent.starts_with("00-12345678901234567890123456789012-") && parent.ends_with("-01"),
            "{parent}"
        );
        assert_eq!(
            header(call, "tracestate"),
            Some("foo@=1,bar=2"),
            "Level 2 keys are passed on"
        );
    }
    assert_ne!(
        parents[0], parents[1],
        "each callback from a span of its own"
    );

    let lines = service.stop();
    check_jsonl(&[&dir.join("service.log")]);
    let request = lines_with(&lines, "SPAN_CREATED", Some("http-request"))[0];
    assert_eq!(request.parent_id.as_deref(), Some("1234567890123456"));
    let spans = lines_with(&lines, "SPAN_CREATED", Some("callback"));
    assert_eq!(spans.len(), 2);
    for (span, parent) in spans.iter().zip(&parents) {
        assert_eq!(span.parent_id, request.span_id);
        assert_eq!(Some(&parent[36..52]), span.span_id.as_deref());
    }
}
