//! What can be checked of `deploy/` without a cluster: every file parses; manifests use the
//! image the Dockerfile builds, binaries and flags that exist, and ports that line up; the
//! collector and log pipeline name real components; Grafana's datasources link to each other.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{collections::HashSet, fs, path::PathBuf, process::Command};

use serde::Deserialize;
use serde_norway::Value;
use tracewire_runtime::logging::{Config, Format};
use tracewire_tests::{binary, repo_root};

fn deploy(path: &str) -> PathBuf {
    repo_root().join("deploy").join(path)
}

/// Every document of a YAML file.
fn yaml(path: &str) -> Vec<Value> {
    let text = fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            let mut value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{path}: merge keys: {e}"));
            value
        })
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn image_tag() -> String {
    let dockerfile = fs::read_to_string(deploy("Dockerfile")).unwrap();
    let line = dockerfile
        .lines()
        .find(|l| l.contains("docker build"))
        .unwrap();
    line.split_whitespace()
        .skip_while(|w| *w != "-t")
        .nth(1)
        .unwrap()
        .to_owned()
}

#[test]
fn every_yaml_and_toml_file_parses() {
    let mut count = 0;
    for dir in ["", "k8s", "otel", "grafana", "logs", "prometheus"] {
        for entry in fs::read_dir(deploy(dir)).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(deploy(""))
                .unwrap()
                .to_string_lossy()
                .into_owned();
            match path.extension().and_then(|e| e.to_str()) {
                Some("yaml" | "yml") => {
                    assert!(!yaml(&rel).is_empty(), "{rel} is empty");
                    count += 1;
                }
                Some("toml") => {
                    toml::from_str::<toml::Table>(&fs::read_to_string(&path).unwrap())
                        .unwrap_or_else(|e| panic!("{rel}: {e}"));
                    count += 1;
                }
                _ => {}
            }
        }
    }
    assert!(count >= 10, "{count} files checked");
}

#[test]
fn the_configmap_holds_a_valid_logging_file() {
    let doc = &yaml("k8s/configmap.yaml")[0];
    let text = s(&doc["data"]["logging.toml"]);
    let Config { logging, otlp, .. } =
        Config::from_toml("configmap:logging.toml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(logging.format, Format::Jsonl);
    assert!(logging.span_events() && otlp.enabled);
    let scope = logging.scope;
    assert_eq!(
        (
            scope.request_level,
            scope.capture.map(|c| c.level),
            scope.rate_limit
        ),
        (
            Some(tracing::Level::DEBUG),
            Some(tracing::Level::DEBUG),
            Some(1000)
        ),
        "request-scoped logging on in the sample deployment"
    );
    assert_eq!(
        otlp.traces_url(),
        "http://otel-collector.observability:4317"
    );
    // ... and the collector manifest serves that name and port.
    let docs = yaml("k8s/otel-collector.yaml");
    let service = docs.iter().find(|d| d["kind"] == "Service").unwrap();
    assert_eq!(
        (
            s(&service["metadata"]["name"]),
            s(&service["metadata"]["namespace"])
        ),
        ("otel-collector", "observability")
    );
    assert!(service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|p| p["port"] == 4317));
}

/// Flags the binary accepts, from its `--help`.
fn flags_of(name: &str) -> HashSet<String> {
    let out = Command::new(binary(name)).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(',').to_owned())
        .collect()
}

#[test]
fn manifests_use_the_built_image_real_flags_and_matching_ports() {
    let tag = image_tag();
    let mut services = Vec::new();
    let mut deployments = Vec::new();
    for file in ["k8s/worker.yaml", "k8s/frontend.yaml", "k8s/nats-etcd.yaml"] {
        for doc in yaml(file) {
            match s(&doc["kind"]) {
                "Service" => services.push(doc),
                "Deployment" => deployments.push(doc),
                other => panic!("{file}: unexpected {other}"),
            }
        }
    }
    assert_eq!(deployments.len(), 4);
    // The distributed runtime's servers, and their Services by the names the env points at.
    for (name, port) in [("nats", 4222), ("etcd", 2379)] {
        let svc = services
            .iter()
            .find(|svc| s(&svc["metadata"]["name"]) == name)
            .unwrap_or_else(|| panic!("a {name} Service"));
        assert_eq!(svc["spec"]["ports"][0]["port"].as_u64(), Some(port));
        assert!(
            deployments
                .iter()
                .any(|d| d["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"]),
            "{name}: a Deployment behind the Service"
        );
    }
    assert!(
        !services
            .iter()
            .any(|svc| s(&svc["metadata"]["name"]) == "tracewire-worker"),
        "workers are found in etcd: no worker Service"
    );
    for d in deployments
        .iter()
        .filter(|d| s(&d["metadata"]["name"]).starts_with("tracewire-"))
    {
        let pod = &d["spec"]["template"];
        assert_eq!(
            d["spec"]["selector"]["matchLabels"],
            pod["metadata"]["labels"]["app.kubernetes.io/name"]
                .clone()
                .into_labels(),
            "selector matches"
        );
        let container = &pod["spec"]["containers"][0];
        assert_eq!(
            s(&container["image"]),
            tag,
            "the image the Dockerfile builds"
        );
        let bin = s(&container["command"][0]);
        let known = flags_of(bin);
        let args: Vec<&str> = container["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(s)
            .collect();
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(known.contains(*flag), "{bin} has no flag {flag}");
        }
        let listen = args[args.iter().position(|a| *a == "--listen").unwrap() + 1];
        let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
        assert!(
            listen.starts_with("0.0.0.0:"),
            "reachable from outside the pod"
        );
        let ports = container["ports"].as_sequence().unwrap();
        assert_eq!(
            ports[0]["containerPort"].as_u64(),
            Some(port),
            "{bin} listens where the manifest says"
        );
        let env: Vec<(&str, &str)> = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|e| e["value"].is_string())
            .map(|e| (s(&e["name"]), s(&e["value"])))
            .collect();
        assert!(env.contains(&("DYN_LOGGING_JSONL", "true")));
        assert!(env.contains(&("DYN_LOGGING_CONFIG_PATH", "/etc/tracewire/logging.toml")));
        let mount = &container["volumeMounts"][0];
        assert_eq!(s(&mount["mountPath"]), "/etc/tracewire");
        assert_eq!(
            s(&pod["spec"]["volumes"][0]["configMap"]["name"]),
            "tracewire-logging"
        );
        // Probes and scraping on the system server (SPEC §8), at the port it is told to use.
        let system = ports.iter().find(|p| p["name"] == "system").unwrap();
        let system_port = system["containerPort"].as_u64().unwrap().to_string();
        assert!(env.contains(&("DYN_SYSTEM_PORT", system_port.as_str())));
        assert!(env.contains(&("DYN_SYSTEM_HOST", "0.0.0.0")));
        let token = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "DYN_SYSTEM_TOKEN")
            .expect("off loopback the system server needs a token");
        assert!(
            token["valueFrom"]["secretKeyRef"]["name"].is_string(),
            "from a Secret"
        );
        for (probe, path) in [("readinessProbe", "/health"), ("livenessProbe", "/live")] {
            assert_eq!(s(&container[probe]["httpGet"]["port"]), "system");
            assert_eq!(s(&container[probe]["httpGet"]["path"]), path);
        }
        let annotations = &pod["metadata"]["annotations"];
        assert_eq!(s(&annotations["prometheus.io/scrape"]), "true");
        assert_eq!(s(&annotations["prometheus.io/port"]), system_port);
        assert_eq!(s(&annotations["prometheus.io/path"]), "/metrics");
        assert!(env.contains(&("ETCD_ENDPOINTS", "http://etcd:2379")));
        assert!(env.contains(&("NATS_SERVER", "nats://nats:4222")));
        assert!(
            !args.contains(&"--worker"),
            "no --worker with etcd and NATS"
        );
        if bin == "tracewire-frontend" {
            let service = services
                .iter()
                .find(|svc| svc["spec"]["selector"] == d["spec"]["selector"]["matchLabels"])
                .unwrap();
            assert_eq!(
                s(&service["spec"]["ports"][0]["targetPort"]),
                s(&ports[0]["name"]),
                "the Service targets the named port"
            );
        }
    }
    let kustomization = &yaml("k8s/kustomization.yaml")[0];
    for resource in kustomization["resources"].as_sequence().unwrap() {
        assert!(deploy("k8s").join(s(resource)).exists(), "{resource:?}");
    }
}

trait IntoLabels {
    fn into_labels(self) -> Value;
}

impl IntoLabels for Value {
    fn into_labels(self) -> Value {
        let mut map = serde_norway::Mapping::new();
        map.insert(Value::from("app.kubernetes.io/name"), self);
        Value::Mapping(map)
    }
}

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
    use tracewire_runtime::metrics::metrics;
    // One of each labelled series, so that every family has samples to list.
    let m = metrics();
    m.http_request(200, "ok", std::time::Duration::from_millis(5));
    m.time_to_first_token(std::time::Duration::from_millis(5));
    m.inter_token_latency(std::time::Duration::from_millis(5));
    m.worker_request(
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
