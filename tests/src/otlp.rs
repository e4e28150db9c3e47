//! The OTLP receiver the export tests send to (`tests/tools/otlp_receiver.py`: official
//! opentelemetry-proto messages over grpcio and HTTP), its certificates, and a frontend and
//! worker exporting to it.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde_json::{Map, Value};

use crate::{
    jsonl::json_objects,
    process::{start_frontend, start_worker, Process},
    repo_root,
};

/// The OTLP receiver of `tests/tools/otlp_receiver.py` (official opentelemetry-proto messages
/// over grpcio and HTTP), killed when dropped.
pub struct Receiver {
    child: std::process::Child,
    /// Its OTLP/gRPC port.
    pub grpc_port: u16,
    /// Its OTLP/HTTP port.
    pub http_port: u16,
    out: PathBuf,
    options: ReceiverOptions,
}

/// How a [`Receiver`] serves.
#[derive(Debug, Clone, Default)]
pub struct ReceiverOptions {
    /// Never answer, like a stuck collector.
    pub hang: bool,
    /// Serve TLS with the certificates of this directory (see [`certificates`]).
    pub tls: Option<PathBuf>,
    /// Require a client certificate of the same CA.
    pub mtls: bool,
    /// Require `authorization: Bearer <token>`.
    pub token: Option<String>,
}

/// Writes the certificate most collector guides make into `dir` as `server.pem` and
/// `server.key` (the names `--tls DIR` serves): self-signed by openssl, for `localhost` and
/// `127.0.0.1`, and `CA:TRUE` (openssl's default for `req -x509`). Returns `dir`.
pub fn self_signed(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("certificate directory");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(dir.join("server.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl req -x509 failed");
    dir.to_path_buf()
}

/// Writes a test CA, a server certificate for 127.0.0.1 and a client certificate into `dir`
/// (`ca.pem`, `server.pem` / `server.key`, `client.pem` / `client.key`).
pub fn certificates(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    let status = Command::new("python3")
        .arg(repo_root().join("tests/tools/otlp_receiver.py"))
        .arg("gen-certs")
        .arg(&certs)
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "gen-certs failed (is the cryptography package installed?)"
    );
    certs
}

impl Receiver {
    /// Starts it, writing received spans to `dir/spans.jsonl`; `hang` makes it never answer.
    pub fn start(dir: &Path, hang: bool) -> Receiver {
        Receiver::start_with(
            dir,
            ReceiverOptions {
                hang,
                ..ReceiverOptions::default()
            },
        )
    }

    /// Starts it as `options` say.
    pub fn start_with(dir: &Path, options: ReceiverOptions) -> Receiver {
        let out = dir.join(if options.hang {
            "hung-spans.jsonl"
        } else {
            "spans.jsonl"
        });
        let (child, grpc_port, http_port) = Receiver::spawn(&out, &options, 0, 0);
        Receiver {
            child,
            grpc_port,
            http_port,
            out,
            options,
        }
    }

    fn spawn(
        out: &Path,
        options: &ReceiverOptions,
        grpc_port: u16,
        http_port: u16,
    ) -> (std::process::Child, u16, u16) {
        use std::io::BufRead;
        let script = repo_root().join("tests/tools/otlp_receiver.py");
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg("--out")
            .arg(out)
            .args(["--grpc-port", &grpc_port.to_string()])
            .args(["--http-port", &http_port.to_string()])
            .stdout(std::process::Stdio::piped());
        if options.hang {
            command.arg("--hang");
        }
        if let Some(tls) = &options.tls {
            command.arg("--tls").arg(tls);
        }
        if options.mtls {
            command.arg("--mtls");
        }
        if let Some(token) = &options.token {
            command.args(["--token", token]);
        }
        let mut child = command.spawn().expect("python3 runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read READY");
        let port = |key: &str| -> u16 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("the receiver did not start (are opentelemetry-proto, grpcio and cryptography installed? `pip install opentelemetry-proto grpcio cryptography`): {line:?}"))
        };
        (child, port("grpc="), port("http="))
    }

    /// Stops it (SIGKILL: a collector that crashed).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same ports, appending to the same file.
    pub fn restart(&mut self) {
        self.stop();
        let (child, ..) = Receiver::spawn(&self.out, &self.options, self.grpc_port, self.http_port);
        self.child = child;
    }

    /// The URL to export to with `protocol` (`grpc` or `http/protobuf`).
    pub fn endpoint(&self, protocol: &str) -> String {
        let port = if protocol == "grpc" {
            self.grpc_port
        } else {
            self.http_port
        };
        let scheme = if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{port}")
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<Map<String, Value>> {
        self.received("span")
    }

    /// The log records received so far.
    pub fn logs(&self) -> Vec<Map<String, Value>> {
        self.received("log")
    }

    /// The metrics received so far, one object per metric of each push.
    pub fn metrics(&self) -> Vec<Map<String, Value>> {
        self.received("metric")
    }

    fn received(&self, signal: &str) -> Vec<Map<String, Value>> {
        let all = json_objects(&std::fs::read_to_string(&self.out).unwrap_or_default());
        all.into_iter()
            .filter(|o| o.get("signal").and_then(Value::as_str) == Some(signal))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A frontend in front of one worker (token delay 1 ms), both with JSONL and span export on.
pub struct Exporting {
    /// The frontend.
    pub frontend: Process,
    /// Its worker.
    pub worker: Process,
    /// The frontend's address.
    pub addr: String,
}

/// Starts an [`Exporting`] deployment in `dir` with `env` on top of `DYN_LOGGING_JSONL=true`
/// and `OTEL_EXPORT_ENABLED=true`.
pub fn start_exporting(dir: &Path, env: &[(&str, &str)]) -> Exporting {
    let mut all = vec![
        ("DYN_LOGGING_JSONL", "true"),
        ("OTEL_EXPORT_ENABLED", "true"),
    ];
    all.extend_from_slice(env);
    let (worker, waddr) = start_worker(dir, "worker", &["--token-delay-ms", "1"], &all);
    let (frontend, addr) = start_frontend(dir, &[&waddr], &[], &all);
    Exporting {
        frontend,
        worker,
        addr,
    }
}
