//! OTLP to a collector as managed backends run it, against the real receiver: TLS with a
//! private CA, mTLS, an API key in a header (whose value never reaches a line, even at TRACE),
//! retry across a collector restart with no span lost, bad certificate settings refused at
//! startup; and the GenAI attributes and token timing on the exported spans and the lines.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde_json::{Map, Value};
use tracewire_tests::{
    binary, certificates, http, json_lines, lines_with, run, self_signed, start_exporting,
    temp_dir, Exporting, Line, Process, Receiver, ReceiverOptions, CHAT,
};

const ONE_WORD: &str = r#"{"model": "Qwen/Qwen3-0.6B", "stream": true, "messages":[{"role":"user", "content": "hello"}]}"#;
/// The API key the receiver asks for; it must appear in no line.
const SECRET: &str = "s3cr3t-7c1f9e";

/// Stops both processes and returns the span ids they logged, checking that no export was lost.
fn stop_without_loss(d: Exporting, protocol: &str) -> Vec<String> {
    let (f, w) = (d.frontend.stop(), d.worker.stop());
    assert!(
        lines_with(&f, "OTLP export lost spans", None).is_empty(),
        "{protocol}: {f:#?}"
    );
    let mut ids = logged_spans(&f);
    ids.extend(logged_spans(&w));
    ids
}

/// Stops a process with SIGTERM and returns all it wrote, raw.
fn stop_raw(mut process: Process) -> String {
    process.signal("TERM");
    assert_eq!(process.wait(), Some(0), "{}", process.output());
    process.output()
}

fn chat(addr: &str, n: usize) {
    for i in 0..n {
        assert_eq!(
            tracewire_tests::chat(addr, &format!("prod-{i}")).status,
            200
        );
    }
}

/// The span ids the processes logged (SPAN_CREATED), by span name.
fn logged_spans(lines: &[Line]) -> Vec<String> {
    lines_with(lines, "SPAN_CREATED", None)
        .iter()
        .filter(|l| matches!(l.span(), "http-request" | "handle_payload"))
        .map(|l| l.span_id.clone().unwrap())
        .collect()
}

fn header_env() -> String {
    // Percent-encoded as the OpenTelemetry spec writes it: the space is %20.
    format!("authorization=Bearer%20{SECRET}")
}

#[test]
fn tls_with_a_private_ca_and_an_api_key_for_both_protocols_and_no_secret_in_any_line() {
    let dir = temp_dir("otlp-tls");
    let certs = certificates(&dir);
    let receiver = Receiver::start_with(
        &dir,
        ReceiverOptions {
            tls: Some(certs.clone()),
            token: Some(SECRET.into()),
            ..ReceiverOptions::default()
        },
    );
    let ca = certs.join("ca.pem");
    let headers = header_env();
    let mut logged = Vec::new();
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = receiver.endpoint(protocol);
        assert!(endpoint.starts_with("https://"));
        let d = start_exporting(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.to_str().unwrap()),
                ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
                // Everything the exporter, hyper, h2 and rustls say, to look for the key in.
                ("DYN_LOG", "trace"),
            ],
        );
        chat(&d.addr, 2);
        let (f, w) = (stop_raw(d.frontend), stop_raw(d.worker));
        for (name, out) in [("frontend", &f), ("worker", &w)] {
            assert!(
                !out.contains(SECRET),
                "{protocol}: the key is in the {name}'s output"
            );
            assert!(
                !out.contains("OTLP export lost"),
                "{protocol}: {name}: {out}"
            );
        }
        let (f, w) = (json_lines(&f), json_lines(&w));
        assert!(
            f.iter().any(|l| l.level == "TRACE"),
            "{protocol}: DYN_LOG=trace took effect"
        );
        logged.extend(logged_spans(&f));
        logged.extend(logged_spans(&w));
    }
    let spans = receiver.spans();
    let received: HashMap<&str, &Map<String, Value>> = spans
        .iter()
        .map(|s| (s["span_id"].as_str().unwrap(), s))
        .collect();
    assert_eq!(logged.len(), 8, "2 requests × 2 spans × 2 protocols");
    for id in &logged {
        assert!(received.contains_key(id.as_str()), "span {id} not received");
    }
    assert_eq!(spans.len(), 8, "each once: {spans:#?}");
    let protocols: Vec<&str> = spans
        .iter()
        .map(|s| s["protocol"].as_str().unwrap())
        .collect();
    assert!(protocols.contains(&"grpc") && protocols.contains(&"http/protobuf"));
}

/// The time of a line.
fn at(line: &Line) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(&line.time).unwrap()
}

#[test]
fn a_self_signed_collector_certificate_is_trusted_as_itself_and_a_wrong_one_warns_at_once() {
    let dir = temp_dir("otlp-self-signed");
    let collector = self_signed(&dir.join("collector"));
    let other = self_signed(&dir.join("other"));
    let receiver = Receiver::start_with(
        &dir,
        ReceiverOptions {
            tls: Some(collector.clone()),
            ..ReceiverOptions::default()
        },
    );
    let pinned = collector.join("server.pem");
    let wrong = other.join("server.pem");
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = receiver.endpoint(protocol);
        // The collector's own certificate, given as the CA file (the base and a per-signal
        // variable): trusted as itself.
        for variable in [
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        ] {
            let d = start_exporting(
                &dir,
                &[
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                    (variable, pinned.to_str().unwrap()),
                ],
            );
            chat(&d.addr, 1);
            let ids = stop_without_loss(d, protocol);
            let spans = receiver.spans();
            assert_eq!(ids.len(), 2);
            for id in ids {
                assert!(
                    spans.iter().any(|s| s["span_id"] == id.as_str()),
                    "{protocol} {variable}: span {id} not received"
                );
            }
        }
        // Another self-signed certificate: not the one the collector presents, so the spans
        // are lost, and the first failure is a WARN with the reason at once, not at the next
        // report or at shutdown.
        let before = receiver.spans().len();
        let mut d = start_exporting(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", wrong.to_str().unwrap()),
            ],
        );
        chat(&d.addr, 1);
        let warn = d.frontend.wait_for_line("OTLP export is failing; retrying");
        let served = d.frontend.wait_for_line("request completed");
        let late = (at(&warn) - at(&served)).num_milliseconds();
        assert!(
            late < otlp_report_every_ms(),
            "{protocol}: the first failure is reported at once, not {late} ms later"
        );
        let reason = warn.fields["reason"].as_str().unwrap();
        assert!(
            reason.contains("invalid peer certificate"),
            "{protocol}: the reason is the certificate: {reason}"
        );
        let f = d.frontend.stop();
        drop(d.worker.stop());
        assert_eq!(lines_with(&f, "OTLP export lost spans", None).len(), 1);
        assert_eq!(receiver.spans().len(), before, "{protocol}");
    }
}

/// Half the time between reports: the first problem must be reported well before the first
/// scheduled report would have come (at `REPORT_EVERY` after startup, the request a second or
/// so after startup), not merely before the next one.
fn otlp_report_every_ms() -> i64 {
    tracewire_runtime::otlp::REPORT_EVERY.as_millis() as i64 / 2
}

#[test]
fn mtls_sends_the_client_certificate_and_without_it_spans_are_lost_with_the_reason() {
    let dir = temp_dir("otlp-mtls");
    let certs = certificates(&dir);
    let receiver = Receiver::start_with(
        &dir,
        ReceiverOptions {
            tls: Some(certs.clone()),
            mtls: true,
            ..ReceiverOptions::default()
        },
    );
    let path = |f: &str| certs.join(f).to_str().unwrap().to_owned();
    let (ca, cert, key) = (path("ca.pem"), path("client.pem"), path("client.key"));
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = receiver.endpoint(protocol);
        let d = start_exporting(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &ca),
                ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", &cert),
                ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", &key),
            ],
        );
        chat(&d.addr, 1);
        let ids = stop_without_loss(d, protocol);
        let spans = receiver.spans();
        for id in ids {
            assert!(
                spans
                    .iter()
                    .any(|s| s["span_id"] == id.as_str() && s["protocol"] == protocol),
                "{protocol}: span {id} not received"
            );
        }
    }
    // Without the client certificate the handshake fails: requests are served, the spans are
    // lost and counted, the WARN says why.
    let before = receiver.spans().len();
    let d = start_exporting(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &receiver.endpoint("http/protobuf"),
            ),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
        ],
    );
    chat(&d.addr, 3);
    let f = d.frontend.stop();
    drop(d.worker.stop());
    let lost = lines_with(&f, "OTLP export lost spans", None);
    assert_eq!(lost.len(), 1, "{f:#?}");
    assert_eq!(
        lost[0]["failed"].as_u64().unwrap() + lost[0]["dropped"].as_u64().unwrap(),
        3,
        "{:?}",
        lost[0]
    );
    let reason = lost[0]["last_error"].as_str().unwrap();
    assert!(
        reason.contains("certificate") || reason.contains("alert") || reason.contains("handshake"),
        "the reason is the TLS failure: {reason}"
    );
    assert_eq!(receiver.spans().len(), before);
}

#[test]
fn the_api_key_from_the_toml_file_is_sent_and_a_wrong_one_is_a_warn_with_the_status() {
    let dir = temp_dir("otlp-auth");
    let receiver = Receiver::start_with(
        &dir,
        ReceiverOptions {
            token: Some(SECRET.into()),
            ..ReceiverOptions::default()
        },
    );
    let config = dir.join("otlp.toml");
    std::fs::write(
        &config,
        format!("[otlp]\nheaders = {{ authorization = \"Bearer {SECRET}\" }}\n"),
    )
    .unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let d = start_exporting(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint(protocol)),
                ("DYN_LOGGING_CONFIG_PATH", config.to_str().unwrap()),
            ],
        );
        chat(&d.addr, 2);
        let ids = stop_without_loss(d, protocol);
        let spans = receiver.spans();
        for id in &ids {
            assert!(
                spans.iter().any(|s| s["span_id"] == id.as_str()),
                "{protocol}: {id} not received"
            );
        }
    }
    let accepted = receiver.spans().len();
    assert_eq!(accepted, 8);
    for (protocol, status) in [("grpc", "Unauthenticated"), ("http/protobuf", "401")] {
        let d = start_exporting(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint(protocol)),
                ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20wrong"),
            ],
        );
        chat(&d.addr, 4);
        let f = d.frontend.stop();
        drop(d.worker.stop());
        let lost = lines_with(&f, "OTLP export lost spans", None);
        assert_eq!(lost.len(), 1, "{protocol}: {f:#?}");
        assert_eq!(lost[0].level, "WARN");
        assert_eq!(lost[0]["failed"], 4, "{protocol}: {:?}", lost[0]);
        let reason = lost[0]["last_error"].as_str().unwrap();
        assert!(reason.contains(status), "{protocol}: {reason}");
        assert!(
            !reason.contains("wrong"),
            "no header value in the error: {reason}"
        );
    }
    assert_eq!(receiver.spans().len(), accepted);
}

#[test]
fn a_collector_down_for_five_seconds_loses_no_span() {
    let dir = temp_dir("otlp-restart");
    for protocol in ["grpc", "http/protobuf"] {
        let own = dir.join(protocol.replace('/', "-"));
        std::fs::create_dir_all(&own).unwrap();
        let mut receiver = Receiver::start(&own, false);
        let d = start_exporting(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint(protocol)),
            ],
        );
        // A steady rate: 10 requests a second for 1 s, 5 s with the collector down, 1 s after.
        let steady = |seconds: u64| {
            let until = Instant::now() + Duration::from_secs(seconds);
            let mut served = 0;
            while Instant::now() < until {
                assert_eq!(
                    http(&d.addr, "POST", "/v1/chat/completions", &[], CHAT).status,
                    200
                );
                served += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            served
        };
        let mut requests = steady(1);
        receiver.stop();
        requests += steady(5);
        receiver.restart();
        requests += steady(1);
        // Let the retries that wait up to 5 s deliver before SIGTERM's 5 s flush.
        std::thread::sleep(Duration::from_secs(6));
        let (f, w) = (d.frontend.stop(), d.worker.stop());
        let mut ids = logged_spans(&f);
        ids.extend(logged_spans(&w));
        assert_eq!(ids.len(), 2 * requests, "{protocol}");
        let spans = receiver.spans();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for s in &spans {
            *count.entry(s["span_id"].as_str().unwrap()).or_default() += 1;
        }
        let missing: Vec<_> = ids
            .iter()
            .filter(|id| !count.contains_key(id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{protocol}: {} of {} spans lost",
            missing.len(),
            ids.len()
        );
        assert!(
            count.values().all(|&n| n == 1),
            "{protocol}: a span arrived twice"
        );
        assert_eq!(spans.len(), ids.len(), "{protocol}");
        assert!(lines_with(&f, "OTLP export lost spans", None).is_empty());
    }
}

#[test]
fn bad_certificate_and_header_settings_exit_2_naming_them_and_never_the_value() {
    let dir = temp_dir("otlp-bad-settings");
    let certs = certificates(&dir);
    let ca = certs.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let key = certs.join("client.key");
    let not_pem = certs.join("client.key");
    let (no_key, bad_escape) = (
        format!("Bearer {SECRET}"),
        format!("authorization=Bearer%zz{SECRET}"),
    );
    let on = ("OTEL_EXPORT_ENABLED", "true");
    let https = ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4317");
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![
                on,
                https,
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
            ],
            "OTEL_EXPORTER_OTLP_CERTIFICATE: \"/nonexistent/ca.pem\": cannot read".into(),
        ),
        (
            vec![
                on,
                https,
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", not_pem.to_str().unwrap()),
            ],
            format!(
                "OTEL_EXPORTER_OTLP_CERTIFICATE: {:?}: no CERTIFICATE",
                not_pem.to_str().unwrap()
            ),
        ),
        (
            vec![
                on,
                https,
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.to_str().unwrap()),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY".into(),
        ),
        (
            vec![
                on,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
            ],
            "is not https://".into(),
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_HEADERS", &no_key)],
            "OTEL_EXPORTER_OTLP_HEADERS: entry 1: expected key=value".into(),
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_LOGS_HEADERS", &bad_escape)],
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS: entry 1: bad percent-encoding".into(),
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
            "OTEL_EXPORTER_OTLP_TIMEOUT: \"soon\": expected milliseconds".into(),
        ),
    ];
    for (env, want) in cases {
        let frontend = binary("tracewire-frontend");
        let r = run(
            frontend.to_str().unwrap(),
            &["--listen", "127.0.0.1:0"],
            &env,
        );
        assert_eq!(r.code, Some(2), "{env:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{env:?}: {:?}", r.stderr);
        assert!(r.stderr.contains(&want), "{env:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains(SECRET),
            "the value is not repeated: {}",
            r.stderr
        );
    }
}

#[test]
fn genai_attributes_token_timing_and_span_fields_on_log_records() {
    let dir = temp_dir("otlp-genai");
    let receiver = Receiver::start(&dir, false);
    let d = start_exporting(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint("grpc")),
            ("OTEL_EXPORT_LOGS_ENABLED", "true"),
        ],
    );
    let id = "x-request-id: genai-1";
    assert_eq!(
        http(&d.addr, "POST", "/v1/chat/completions", &[id], CHAT).status,
        200
    );
    let one = http(
        &d.addr,
        "POST",
        "/v1/chat/completions",
        &["x-request-id: genai-2"],
        ONE_WORD,
    );
    assert_eq!(one.status, 200);
    let (f, w) = (d.frontend.stop(), d.worker.stop());

    // The lines: ttft_us and itl_us on `request completed`; no itl_us for one token.
    let done = lines_with(&f, "request completed", None);
    let by_id = |rid: &str| {
        *done
            .iter()
            .find(|l| l.x_request_id.as_deref() == Some(rid))
            .unwrap_or_else(|| panic!("no request completed for {rid}: {done:#?}"))
    };
    let (seven, single) = (by_id("genai-1"), by_id("genai-2"));
    assert!(seven["ttft_us"].as_u64().unwrap() > 0, "{seven:?}");
    assert!(seven["itl_us"].as_u64().is_some(), "{seven:?}");
    assert!(seven["ttft_us"].as_u64() <= seven["latency_us"].as_u64());
    assert!(single["ttft_us"].as_u64().is_some(), "{single:?}");
    assert!(
        !single.has("itl_us"),
        "one token has no inter-token latency: {single:?}"
    );
    assert_eq!(seven["gen_ai.request.model"], "Qwen/Qwen3-0.6B");
    let payload = lines_with(&w, "SPAN_CLOSED", Some("handle_payload"));
    assert!(
        payload.iter().all(|l| l["ttft_us"].is_u64()),
        "{payload:#?}"
    );

    // The spans: the GenAI conventions with their types.
    let spans = receiver.spans();
    let span_of = |line: &Line| {
        spans
            .iter()
            .find(|s| s["span_id"].as_str() == line.span_id.as_deref())
            .unwrap_or_else(|| panic!("not exported: {line:?}"))
    };
    let a = span_of(seven)["attributes"].as_object().unwrap().clone();
    assert_eq!(a["gen_ai.operation.name"], "chat");
    assert_eq!(a["gen_ai.request.model"], "Qwen/Qwen3-0.6B");
    assert_eq!(a["gen_ai.usage.input_tokens"], 7);
    assert_eq!(a["gen_ai.usage.output_tokens"], 7);
    assert_eq!(
        a["gen_ai.response.finish_reasons"],
        serde_json::json!(["stop"])
    );
    assert_eq!(a["ttft_us"], seven["ttft_us"]);
    assert_eq!(a["itl_us"], seven["itl_us"]);
    let b = span_of(single)["attributes"].as_object().unwrap().clone();
    assert!(!b.contains_key("itl_us"), "{b:?}");

    // The log records: the fields of their span, and the request id.
    let logs = receiver.logs();
    let record = logs
        .iter()
        .find(|r| r["body"] == "request completed" && r["attributes"]["x_request_id"] == "genai-1")
        .unwrap_or_else(|| panic!("{logs:#?}"));
    assert_eq!(
        record["attributes"]["gen_ai.request.model"],
        "Qwen/Qwen3-0.6B"
    );
    assert_eq!(record["attributes"]["method"], "POST");
    assert_eq!(record["attributes"]["status"], 200, "the event's own field");
    let generating = logs
        .iter()
        .find(|r| r["body"] == "generating" && r["attributes"]["x_request_id"] == "genai-1")
        .unwrap_or_else(|| panic!("{logs:#?}"));
    assert_eq!(generating["attributes"]["component"], "backend");
    assert_eq!(generating["attributes"]["prompt_tokens"], 7);
}
