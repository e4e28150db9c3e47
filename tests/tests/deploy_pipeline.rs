//! What can be checked of `deploy/` without a cluster, the telemetry side: the collector and
//! log pipeline name real components, Grafana's datasources link to each other, compose wires
//! the services together, the dashboard's metrics exist.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod deploy_support;

use deploy_support::{deploy, flags_of, image_tag, s, yaml};
use serde_norway::Value;
use std::{collections::HashSet, fs};
use tracewire_tests::repo_root;

#[test]
fn the_collector_config_names_real_components() {
    // Component types of the OpenTelemetry Collector core and contrib distributions used here.
    let known: HashSet<&str> = [
        "otlp",
        "otlphttp",
        "batch",
        "memory_limiter",
        "debug",
        "health_check",
        "zpages",
        "prometheus",
        "resource",
        "attributes",
    ]
    .into();
    let config = &yaml("otel/collector.yaml")[0];
    let service = &config["service"];
    for (kind, key) in [
        ("receivers", "receivers"),
        ("processors", "processors"),
        ("exporters", "exporters"),
    ] {
        let defined = config[kind].as_mapping().unwrap();
        for (name, _) in defined {
            let ty = s(name).split('/').next().unwrap();
            assert!(known.contains(ty), "{kind}: unknown component type {ty}");
        }
        for pipeline in service["pipelines"].as_mapping().unwrap().values() {
            for used in pipeline[key].as_sequence().unwrap() {
                assert!(
                    defined.contains_key(used),
                    "{kind}: {used:?} used but not defined"
                );
            }
        }
    }
    for ext in service["extensions"].as_sequence().unwrap() {
        assert!(config["extensions"].as_mapping().unwrap().contains_key(ext));
    }
    let grpc = s(&config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]);
    assert!(grpc.ends_with(":4317"));
    assert_eq!(
        s(&config["exporters"]["otlp/tempo"]["endpoint"]),
        "tempo:4317"
    );
    let tempo = &yaml("otel/tempo.yaml")[0];
    assert!(
        s(&tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
            .ends_with(":4317")
    );
    // The Kubernetes ConfigMap carries the same config.
    let docs = yaml("k8s/otel-collector.yaml");
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let inline: Value = serde_norway::from_str(s(&cm["data"]["config.yaml"])).unwrap();
    assert_eq!(
        &inline, config,
        "k8s/otel-collector.yaml and otel/collector.yaml differ"
    );
}

#[test]
fn logs_keep_trace_id_as_structured_metadata_and_grafana_links_it() {
    for file in ["logs/vector.yaml", "logs/vector-k8s.yaml"] {
        let v = &yaml(file)[0];
        let sink = &v["sinks"]["loki"];
        assert_eq!(s(&sink["type"]), "loki");
        let labels = sink["labels"].as_mapping().unwrap();
        assert!(
            !labels
                .keys()
                .any(|k| ["trace_id", "span_id", "x_request_id"].contains(&s(k))),
            "{file}: ids must not be labels"
        );
        let meta = sink["structured_metadata"].as_mapping().unwrap();
        assert!(
            meta.contains_key("trace_id") && meta.contains_key("x_request_id"),
            "{file}"
        );
        let input = s(&sink["inputs"][0]);
        assert!(
            s(&v["transforms"][input]["source"]).contains("parse_json(.message)"),
            "{file}: the JSONL is parsed"
        );
    }
    let g = &yaml("grafana/datasources.yaml")[0];
    let sources = g["datasources"].as_sequence().unwrap();
    let uids: HashSet<&str> = sources.iter().map(|d| s(&d["uid"])).collect();
    let loki = sources.iter().find(|d| d["type"] == "loki").unwrap();
    let derived = &loki["jsonData"]["derivedFields"][0];
    assert_eq!(
        (s(&derived["matcherType"]), s(&derived["matcherRegex"])),
        ("label", "trace_id")
    );
    assert!(uids.contains(s(&derived["datasourceUid"])));
    let tempo = sources.iter().find(|d| d["type"] == "tempo").unwrap();
    assert!(uids.contains(s(&tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"])));
}

#[test]
fn compose_wires_the_services_together() {
    let c = &yaml("compose.yaml")[0];
    let services = c["services"].as_mapping().unwrap();
    let tag = image_tag();
    for (name, svc) in services {
        for volume in svc["volumes"].as_sequence().into_iter().flatten() {
            let source = s(volume).split(':').next().unwrap();
            if source.starts_with("./") {
                assert!(deploy(source).exists(), "{name:?}: {source} is missing");
            }
        }
        if s(name).starts_with("frontend") || s(name).starts_with("worker") {
            assert_eq!(s(&svc["image"]), tag);
            let env = svc["environment"].as_mapping().unwrap();
            for (var, scheme) in [("ETCD_ENDPOINTS", "http://"), ("NATS_SERVER", "nats://")] {
                let host = s(&env[var])
                    .trim_start_matches(scheme)
                    .split(':')
                    .next()
                    .unwrap();
                assert!(
                    services.contains_key(host),
                    "{name:?}: {var} names {host}, not a service"
                );
            }
            let endpoint = s(&env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            let host = endpoint
                .trim_start_matches("http://")
                .split(':')
                .next()
                .unwrap();
            assert!(
                services.contains_key(host),
                "{name:?} exports to {host}, which is not a service"
            );
        }
    }
    let frontend = &services["frontend"];
    let args: Vec<&str> = frontend["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    let known = flags_of("tracewire-frontend");
    for (i, a) in args.iter().enumerate() {
        if *a == "--worker" {
            let host = args[i + 1]
                .trim_start_matches("http://")
                .split(':')
                .next()
                .unwrap();
            assert!(services.contains_key(host), "--worker {host}");
        } else if a.starts_with("--") {
            assert!(known.contains(*a), "{a}");
        }
    }
    // Prometheus scrapes the system server of every tracewire service.
    let scrape = &yaml("prometheus/prometheus.yml")[0];
    let targets: HashSet<&str> = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    for (name, svc) in services {
        if s(name).starts_with("frontend") || s(name).starts_with("worker") {
            let port = s(&svc["environment"]["DYN_SYSTEM_PORT"]);
            assert!(
                targets.contains(format!("{}:{port}", s(name)).as_str()),
                "{name:?} scraped"
            );
        }
    }
    assert!(services.contains_key("prometheus"));
    let dockerfile = fs::read_to_string(deploy("Dockerfile")).unwrap();
    for copied in dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from") && !l.starts_with(". "))
    {
        let source = copied.split_whitespace().next().unwrap();
        assert!(
            repo_root().join(source).exists(),
            "Dockerfile copies {source}, which is missing"
        );
    }
}

#[test]
fn the_grafana_dashboard_is_valid_json_with_metric_names_that_exist() {
    use tracewire_runtime::{
        http::metrics::http_metrics, metrics::metrics, plane::metrics::plane_metrics,
    };
    // One of each labelled series, so that every family has samples to list.
    let m = metrics();
    http_metrics().request(200, "ok", std::time::Duration::from_millis(5));
    let plane = plane_metrics();
    plane.time_to_first_token(std::time::Duration::from_millis(5));
    plane.inter_token_latency(std::time::Duration::from_millis(5));
    plane.worker_request(
        ["dynamo", "backend", "generate"],
        "ok",
        std::time::Duration::from_millis(5),
    );
    m.line(&tracing::Level::INFO);
    let exposed: HashSet<String> = m
        .encode()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect();
    let text = fs::read_to_string(deploy("grafana/dashboards/tracewire.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let mut used = HashSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert_eq!(
            panel["datasource"]["uid"], "prometheus",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("tracewire_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    exposed.contains(&name),
                    "{expr}: {name} is not a metric tracewire exposes"
                );
                used.insert(name.clone());
                rest = &rest[at + name.len()..];
            }
        }
    }
    for wanted in [
        "tracewire_http_requests_total",
        "tracewire_http_request_duration_seconds_bucket",
        "tracewire_time_to_first_token_seconds_bucket",
        "tracewire_log_lines_dropped_total",
    ] {
        assert!(used.contains(wanted), "the dashboard shows {wanted}");
    }
    // Provisioned from the directory the compose file mounts, with the Prometheus datasource.
    let provider = &yaml("grafana/dashboards.yaml")[0];
    assert_eq!(
        s(&provider["providers"][0]["options"]["path"]),
        "/var/lib/grafana/dashboards"
    );
    let sources = &yaml("grafana/datasources.yaml")[0];
    assert!(sources["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|d| d["uid"] == "prometheus" && d["type"] == "prometheus"));
}
