//! OTLP export to a real receiver (official opentelemetry-proto messages, grpcio and HTTP):
//! the exported spans are the logged ones, for both protocols; a collector that is down or hung
//! neither fails requests nor holds up exit.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::HashMap;

use serde_json::{Map, Value};
use tracewire_tests::{http, lines_with, start_exporting, temp_dir, Receiver, CHAT, UPSTREAM};

/// Sends the chat request with `headers`; its status.
fn post(addr: &str, headers: &[&str]) -> u16 {
    http(addr, "POST", "/v1/chat/completions", headers, CHAT).status
}

fn exported_matches_logged(protocol: &str) {
    let dir = temp_dir(&format!("otlp-{}", protocol.replace('/', "-")));
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint(protocol);
    let d = start_exporting(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
        ],
    );
    assert_eq!(post(&d.addr, &["x-request-id: otlp-1"]), 200);
    assert_eq!(post(&d.addr, &[&format!("traceparent: {UPSTREAM}")]), 200);
    // Spans are flushed on SIGTERM: nothing waits for the batch delay here.
    let (fl, wl) = (d.frontend.stop(), d.worker.stop());
    let spans = receiver.spans();
    assert!(spans.iter().all(|s| s["protocol"] == protocol));
    let by_id: HashMap<&str, &Map<String, Value>> = spans
        .iter()
        .map(|s| (s["span_id"].as_str().unwrap(), s))
        .collect();

    let logged: Vec<_> = lines_with(&fl, "SPAN_CREATED", Some("http-request"))
        .into_iter()
        .chain(lines_with(&wl, "SPAN_CREATED", Some("handle_payload")))
        .collect();
    assert_eq!(logged.len(), 4);
    assert_eq!(spans.len(), 4, "every span exported once: {spans:#?}");
    for line in &logged {
        let span = by_id
            .get(line.span_id.as_deref().unwrap())
            .unwrap_or_else(|| panic!("not exported: {line:?}"));
        assert_eq!(
            span["trace_id"].as_str(),
            line.trace_id.as_deref(),
            "same trace id"
        );
        assert_eq!(span["name"].as_str(), line.span_name.as_deref());
        assert_eq!(
            span["parent_span_id"].as_str(),
            Some(line.parent_id.as_deref().unwrap_or("")),
            "same parent"
        );
        assert_eq!(span["kind"], 2, "SERVER");
        let resource = span["resource"].as_object().unwrap();
        let service = if line.span() == "http-request" {
            "tracewire-frontend"
        } else {
            "tracewire-worker"
        };
        assert_eq!(resource["service.name"], service);
        assert_eq!(resource["deployment.environment"], "test");
        assert!(resource["host.name"]
            .as_str()
            .is_some_and(|h| !h.is_empty()));
        assert_eq!(
            resource["service.instance.id"].as_str().map(str::len),
            Some(16)
        );
        // The exported duration is the logged one.
        let closed = lines_with(
            if service == "tracewire-frontend" {
                &fl
            } else {
                &wl
            },
            "SPAN_CLOSED",
            None,
        )
        .into_iter()
        .find(|c| c.span_id == line.span_id)
        .unwrap();
        let exported_us =
            (span["end_ns"].as_u64().unwrap() - span["start_ns"].as_u64().unwrap()) / 1000;
        assert!(
            exported_us.abs_diff(closed.timings().2) <= 1,
            "{exported_us} vs {closed:?}"
        );
    }
    let server = spans
        .iter()
        .find(|s| {
            s["name"] == "http-request" && s["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        })
        .unwrap();
    assert_eq!(
        server["parent_span_id"], "00f067aa0ba902b7",
        "the remote parent is the exported span's parent"
    );
    let attrs = server["attributes"].as_object().unwrap();
    assert_eq!(
        (
            &attrs["http.request.method"],
            &attrs["url.path"],
            &attrs["http.response.status_code"]
        ),
        (
            &Value::from("POST"),
            &Value::from("/v1/chat/completions"),
            &Value::from(200)
        )
    );
    let with_id = spans
        .iter()
        .find(|s| s["name"] == "handle_payload" && s["attributes"]["x_request_id"] == "otlp-1");
    assert!(
        with_id.is_some(),
        "x_request_id is an attribute of the worker's span too"
    );
    assert!(
        !lines_with(&fl, "OTLP export lost spans", None)
            .iter()
            .any(|_| true),
        "nothing lost"
    );
}

#[test]
fn grpc_export_carries_the_logged_ids() {
    exported_matches_logged("grpc");
}

#[test]
fn http_protobuf_export_carries_the_logged_ids() {
    exported_matches_logged("http/protobuf");
}

#[test]
fn a_collector_that_is_down_or_hung_costs_requests_nothing() {
    let dir = temp_dir("otlp-down");
    // Nothing listens on port 1; the hung receiver accepts and never answers.
    let hung = Receiver::start(&dir, true);
    for endpoint in ["http://127.0.0.1:1".to_owned(), hung.endpoint("grpc")] {
        let d = start_exporting(&dir, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
        for _ in 0..5 {
            assert_eq!(post(&d.addr, &[]), 200, "{endpoint}");
        }
        // Exit is bounded (Process::wait gives up after 20 s) and reports the loss.
        let fl = d.frontend.stop();
        drop(d.worker.stop());
        let lost = lines_with(&fl, "OTLP export lost spans", None);
        assert_eq!(lost.len(), 1, "{endpoint}: {fl:#?}");
        assert_eq!(lost[0].level, "WARN");
        assert_eq!(
            lost[0]["failed"].as_u64().unwrap() + lost[0]["dropped"].as_u64().unwrap(),
            5,
            "{:?}",
            lost[0]
        );
    }
    assert!(hung.spans().is_empty());
}

#[test]
fn the_sampler_decides_the_sampled_flag_in_both_processes() {
    let dir = temp_dir("otlp-sampler");
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint("grpc");
    let d = start_exporting(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
            ("DYN_LOG", "info,tracewire::wire=debug"),
        ],
    );
    assert_eq!(post(&d.addr, &[]), 200);
    assert_eq!(post(&d.addr, &[&format!("traceparent: {UPSTREAM}")]), 200);
    let (fl, wl) = (d.frontend.stop(), d.worker.stop());
    let sent: Vec<String> = lines_with(&fl, "sending request", None)
        .iter()
        .filter(|o| o["method"] == "POST")
        .map(|o| o["headers"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].contains("-00\""),
        "a new trace is not sampled: {}",
        sent[0]
    );
    assert!(
        sent[1].contains("-01\""),
        "an upstream sampled parent wins: {}",
        sent[1]
    );
    let spans = receiver.spans();
    assert_eq!(
        spans.len(),
        2,
        "only the upstream-sampled trace is exported, in both processes: {spans:#?}"
    );
    assert!(spans
        .iter()
        .all(|s| s["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(
        lines_with(&wl, "SPAN_CREATED", Some("handle_payload")).len(),
        2,
        "logs keep every span"
    );
}

fn log_records_carry_the_trace_context(protocol: &str) {
    let dir = temp_dir(&format!("otlp-logs-{}", protocol.replace('/', "-")));
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint(protocol);
    let d = start_exporting(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORT_LOGS_ENABLED", "true"),
        ],
    );
    assert_eq!(post(&d.addr, &["x-request-id: logs-1"]), 200);
    let fl = d.frontend.stop();
    drop(d.worker.stop());
    let logs = receiver.logs();
    let logged = lines_with(&fl, "request completed", None)[0].clone();
    let record = logs
        .iter()
        .find(|r| r["body"] == "request completed")
        .unwrap_or_else(|| panic!("{logs:#?}"));
    assert_eq!(
        (record["trace_id"].as_str(), record["span_id"].as_str()),
        (logged.trace_id.as_deref(), logged.span_id.as_deref())
    );
    assert_eq!(
        (&record["severity_number"], &record["severity_text"]),
        (&Value::from(9), &Value::from("INFO"))
    );
    assert_eq!(record["attributes"]["status"], 200);
    assert_eq!(record["attributes"]["x_request_id"], "logs-1");
    assert_eq!(record["resource"]["service.name"], "tracewire-frontend");
    let startup = logs
        .iter()
        .find(|r| r["body"] == "frontend listening")
        .unwrap();
    assert_eq!(
        startup["trace_id"], "",
        "outside a span there is no trace context"
    );
    assert!(logs
        .iter()
        .any(|r| r["resource"]["service.name"] == "tracewire-worker" && r["body"] == "generating"));
    assert!(!receiver.spans().is_empty(), "spans are exported alongside");
}

#[test]
fn grpc_log_export() {
    log_records_carry_the_trace_context("grpc");
}

#[test]
fn http_protobuf_log_export() {
    log_records_carry_the_trace_context("http/protobuf");
}

#[test]
fn the_collector_gets_redacted_and_bounded_values() {
    let dir = temp_dir("otlp-redact");
    let receiver = Receiver::start(&dir, false);
    let endpoint = receiver.endpoint("grpc");
    let config = dir.join("redact.toml");
    std::fs::write(&config, "redact = [\"kind\", \"prompt_tokens\"]\n").unwrap();
    let d = start_exporting(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORT_LOGS_ENABLED", "true"),
            ("DYN_LOGGING_CONFIG_PATH", config.to_str().unwrap()),
        ],
    );
    // An unknown model of 100 KB: bounded in the span's attribute and the records too.
    let unknown = CHAT.replace("Qwen/Qwen3-0.6B", &"g".repeat(100_000));
    assert_eq!(
        http(&d.addr, "POST", "/v1/chat/completions", &[], &unknown).status,
        404
    );
    assert_eq!(post(&d.addr, &[]), 200);
    let (fl, wl) = (d.frontend.stop(), d.worker.stop());
    // The lines: redacted.
    let refused = lines_with(&fl, "request refused", None)[0];
    assert_eq!(refused["kind"], "[REDACTED]");
    assert_eq!(
        lines_with(&wl, "generating", None)[0]["prompt_tokens"],
        "[REDACTED]"
    );
    // The log records the collector received: redacted too, and the values nowhere.
    let logs = receiver.logs();
    let record = |body: &str| {
        logs.iter()
            .find(|r| r["body"] == body)
            .unwrap_or_else(|| panic!("no {body:?} record in {logs:#?}"))
    };
    assert_eq!(
        record("request refused")["attributes"]["kind"],
        "[REDACTED]"
    );
    assert_eq!(
        record("generating")["attributes"]["prompt_tokens"],
        "[REDACTED]"
    );
    let received = std::fs::read_to_string(dir.join("spans.jsonl")).unwrap();
    assert!(!received.contains("model_not_found"), "{received}");
    let cut = format!("{}…[+{} bytes]", "g".repeat(16_384), 100_000 - 16_384);
    let span = receiver
        .spans()
        .into_iter()
        .find(|s| {
            s["name"] == "http-request"
                && s["attributes"]["gen_ai.request.model"] != "Qwen/Qwen3-0.6B"
        })
        .expect("the refused request's span");
    assert_eq!(span["attributes"]["gen_ai.request.model"], cut.as_str());
    let error = record("request refused")["attributes"]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.len() < 17_000 && error.ends_with(" bytes]"),
        "{error}"
    );
}
