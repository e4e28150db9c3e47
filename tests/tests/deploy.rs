//! What can be checked of `deploy/` without a cluster, the Kubernetes side: every file parses;
//! the configmap holds a valid logging file; manifests use the image the Dockerfile builds,
//! binaries and flags that exist, and ports that line up. The collector, the log pipeline,
//! compose and Grafana: `deploy_pipeline.rs`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod deploy_support;

use deploy_support::{args_of, deploy, flags_of, image_tag, s, yaml};
use serde_norway::Value;
use std::fs;
use tracewire_runtime::logging::{Config, Format};

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
#[test]
fn manifests_use_the_built_image_real_flags_and_matching_ports() {
    let tag = image_tag();
    let mut services = Vec::new();
    let mut deployments = Vec::new();
    for file in [
        "k8s/worker.yaml",
        "k8s/python-worker.yaml",
        "k8s/frontend.yaml",
        "k8s/nats-etcd.yaml",
    ] {
        for doc in yaml(file) {
            match s(&doc["kind"]) {
                "Service" => services.push(doc),
                "Deployment" => deployments.push(doc),
                other => panic!("{file}: unexpected {other}"),
            }
        }
    }
    assert_eq!(deployments.len(), 5);
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
        let bin = s(&container["command"][0]);
        // The Python worker: its own image, its script's flags.
        let (want_tag, known) = match bin {
            "python3" => {
                assert_eq!(s(&container["command"][1]), PYTHON_WORKER_IN_IMAGE);
                (python_image_tag(), python_worker_flags())
            }
            _ => (tag.clone(), flags_of(bin)),
        };
        assert_eq!(
            s(&container["image"]),
            want_tag,
            "the image the Dockerfile builds"
        );
        let args = args_of(container);
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

/// Where `deploy/python-worker.Dockerfile` puts `components/python-worker/worker.py`.
const PYTHON_WORKER_IN_IMAGE: &str = "/app/worker.py";

fn python_dockerfile() -> String {
    std::fs::read_to_string(deploy("python-worker.Dockerfile")).unwrap()
}

/// The tag `deploy/python-worker.Dockerfile`'s build line gives.
fn python_image_tag() -> String {
    let text = python_dockerfile();
    let line = text.lines().find(|l| l.contains("docker build")).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "-t").unwrap();
    words[i + 1].to_owned()
}

/// The flags `worker.py --help` lists.
fn python_worker_flags() -> std::collections::HashSet<String> {
    let script = tracewire_tests::repo_root().join("components/python-worker/worker.py");
    let out = std::process::Command::new(tracewire_tests::python())
        .arg(script)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == ',')
        .filter(|w| w.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_python_worker_image_and_manifest_send_its_engines_spans_to_the_collector() {
    let dockerfile = python_dockerfile();
    assert!(
        dockerfile.contains(&format!(
            "COPY components/python-worker/worker.py {PYTHON_WORKER_IN_IMAGE}"
        )),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("maturin build --release"),
        "the wheel of lib/bindings/python"
    );
    assert!(
        dockerfile.contains("opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc"),
        "the SDK --engine-spans needs"
    );
    let docs = yaml("k8s/python-worker.yaml");
    let container = &docs[0]["spec"]["template"]["spec"]["containers"][0];
    let args = args_of(container);
    assert!(args.contains(&"--engine-spans"), "{args:?}");
    let env = |name: &str| {
        container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| s(&e["value"]).to_owned())
    };
    // The engine's SDK and tracewire's own export go to the same collector, the one the
    // configmap's [otlp] names, which is the collector's Service.
    let configmap = &yaml("k8s/configmap.yaml")[0];
    let logging: toml::Value = s(&configmap["data"]["logging.toml"]).parse().unwrap();
    let endpoint = logging["otlp"]["endpoint"].as_str().unwrap();
    assert_eq!(
        env("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(),
        Some(endpoint)
    );
    assert_eq!(
        logging["otlp"]["logs_enabled"].as_bool(),
        Some(true),
        "log records too"
    );
    let collector = yaml("k8s/otel-collector.yaml");
    let service = collector.iter().find(|d| d["kind"] == "Service").unwrap();
    let (name, namespace) = (
        s(&service["metadata"]["name"]),
        s(&service["metadata"]["namespace"]),
    );
    let grpc = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "otlp-grpc")
        .unwrap()["port"]
        .as_u64()
        .unwrap();
    assert_eq!(endpoint, format!("http://{name}.{namespace}:{grpc}"));
    // The collector takes all three signals from OTLP.
    let config = collector.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let config: serde_norway::Value =
        serde_norway::from_str(s(&config["data"]["config.yaml"])).unwrap();
    for signal in ["traces", "metrics", "logs"] {
        let pipeline = &config["service"]["pipelines"][signal];
        assert_eq!(pipeline["receivers"][0], "otlp", "{signal}: {pipeline:?}");
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
