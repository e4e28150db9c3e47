//! Support for the end-to-end tests: run a real binary with a chosen environment, read its
//! output as typed JSONL lines, and run the shared JSONL checker over them.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::{Map, Value};
pub use tracewire_runtime::logging::testing::{parse_line, Line};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Environment variables the tests control; cleared from the inherited environment so that a
/// developer's own `DYN_LOG` cannot change a result.
pub const CONTROLLED: &[&str] = &[
    "DYN_LOG",
    "DYN_LOGGING_JSONL",
    "DYN_LOG_USE_LOCAL_TZ",
    "DYN_LOGGING_CONFIG_PATH",
    "DYN_LOGGING_SPAN_EVENTS",
    "DYN_LOG_STREAM",
    "DYN_LOG_COLOR",
    "NO_COLOR",
    "OTEL_EXPORT_ENABLED",
    "OTEL_EXPORT_LOGS_ENABLED",
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "DYN_LOG_REQUEST_LEVEL",
    "DYN_LOG_CAPTURE",
    "DYN_LOG_RATE_LIMIT",
    "DYN_SYSTEM_PORT",
    "ETCD_ENDPOINTS",
    "NATS_SERVER",
    "DYN_LEASE_TTL_S",
    "RUST_LOG",
];

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    /// Exit status code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `program` with `args` and exactly `env` on top of a cleaned environment.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    for name in CONTROLLED {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// Parses every non-empty line as a tracewire JSONL line (panicking, with the line, on one
/// that is not: see [`parse_line`]).
pub fn json_lines(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

/// Parses every non-empty line as a JSON object (for files that are not tracewire lines).
pub fn json_objects(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect()
}

/// Runs `tests/tools/check-jsonl.py` (a copy of the shared checker of docs/SPEC.md §3-4) over
/// files of processes that have exited; returns its summary line, panicking with its report if
/// it finds a violation, a span never closed included.
pub fn check_jsonl(files: &[&Path]) -> String {
    run_checker(files, false)
}

/// [`check_jsonl`] for output cut on purpose (a process killed, or still running): spans left
/// open are counted, not violations.
pub fn check_jsonl_allow_open(files: &[&Path]) -> String {
    run_checker(files, true)
}

fn run_checker(files: &[&Path], allow_open: bool) -> String {
    let checker = repo_root().join("tests/tools/check-jsonl.py");
    let output = Command::new("python3")
        .arg(&checker)
        .args(allow_open.then_some("--allow-open"))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", checker.display()));
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "check-jsonl found violations:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    report.lines().next().unwrap_or_default().to_owned()
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracewire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The path of a workspace binary, built first (once per test process) so it is never stale.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "-q",
            "-p",
            "tracewire-frontend",
            "-p",
            "tracewire-worker",
            "--bins",
        ]);
        if profile_dir().ends_with("release") {
            build.arg("--release");
        }
        let out = build.output().expect("cargo build runs");
        assert!(
            out.status.success(),
            "cannot build the binaries:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    profile_dir().join(name)
}

/// The Python interpreter with the `tracewire` package installed: `$TRACEWIRE_PYTHON`, else
/// the test environment `scripts/test.sh` builds the package into (`target/test-venv`).
pub fn python() -> PathBuf {
    let python = std::env::var_os("TRACEWIRE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-venv/bin/python3"));
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        let ok = Command::new(&python)
            .args(["-c", "import tracewire"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "{} cannot import tracewire: run scripts/test.sh, which builds the package into \
             target/test-venv (or set TRACEWIRE_PYTHON)",
            python.display()
        );
    });
    python
}

/// `target/<profile>`, from this test executable's place in `target/<profile>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target/<profile>")
}

/// A running binary whose standard error goes to a file, killed when dropped.
pub struct Process {
    child: std::process::Child,
    /// Where its stderr (its log lines) goes.
    pub log: PathBuf,
}

impl Process {
    /// Starts `name` with `args` and `env` on a cleaned environment; stderr to `dir/<label>.log`.
    pub fn start(
        name: &str,
        label: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = Command::new(binary(name));
        command.args(args);
        Process::spawn(command, name, label, dir, env)
    }

    /// Starts the Python worker (`components/python-worker/worker.py`) with `args` under the
    /// interpreter that has the `tracewire` package ([`python`]), as [`start`](Self::start)
    /// starts a binary.
    pub fn start_python_worker(
        label: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = Command::new(python());
        command
            .arg(repo_root().join("components/python-worker/worker.py"))
            .args(args);
        Process::spawn(command, "the Python worker", label, dir, env)
    }

    /// As [`start`](Self::start), from a shell that first runs `limits` (`ulimit -Hn 512`).
    pub fn start_limited(
        name: &str,
        label: &str,
        dir: &Path,
        limits: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(format!("{limits} && exec \"$0\" \"$@\""))
            .arg(binary(name))
            .args(args);
        Process::spawn(command, name, label, dir, env)
    }

    fn spawn(
        mut command: Command,
        name: &str,
        label: &str,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Process {
        let log = dir.join(format!("{label}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file);
        for name in CONTROLLED {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process { child, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The JSON lines of the log so far (a line still being written is left out).
    pub fn lines(&self) -> Vec<Line> {
        json_lines(
            &self
                .output()
                .lines()
                .filter(|l| serde_json::from_str::<Value>(l).is_ok())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// Waits (up to 20 s) for a JSONL line with this message, and returns it.
    pub fn wait_for_line(&mut self, message: &str) -> Line {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            // A line still being written is not parsed.
            let found = self
                .output()
                .lines()
                .filter(|l| serde_json::from_str::<Value>(l).is_ok())
                .map(parse_line)
                .find(|o| o.message == message);
            if let Some(line) = found {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "process exited ({status}) before logging {message:?}:\n{}",
                    self.output()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {message:?} line within 20 s:\n{}",
                self.output()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The address logged in the `addr` field of the line with this message.
    pub fn wait_for_addr(&mut self, message: &str) -> String {
        let line = self.wait_for_line(message);
        line["addr"].as_str().expect("addr field").to_owned()
    }

    /// The address in the `addr=` field of the readable line with this message, waiting for it
    /// (up to 20 s): for a process that logs readable lines.
    pub fn wait_for_readable_addr(&mut self, message: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let out = self.output();
            let addr = out
                .lines()
                .find(|l| l.contains(message))
                .and_then(|l| l.split("addr=").nth(1))
                .and_then(|rest| rest.split(' ').next());
            if let Some(addr) = addr {
                return addr.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {message:?} line within 20 s:\n{out}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM, requires exit status 0 (showing the last lines of output otherwise) and
    /// returns the output as JSON lines.
    pub fn stop(mut self) -> Vec<Line> {
        self.signal("TERM");
        let status = self.wait();
        let output = self.output();
        let tail: Vec<&str> = output.lines().rev().take(20).collect();
        assert_eq!(
            status,
            Some(0),
            "exit 0 after SIGTERM; last lines:\n{}",
            tail.join("\n")
        );
        json_lines(&output)
    }

    /// Waits (up to 20 s) for the process to exit and returns its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
                    eprintln!("process {} ended by signal {signal}", self.child.id());
                }
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "process did not exit within 20 s:\n{}",
                self.output()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a worker on a free loopback port; returns it and its address (`host:port`).
pub fn start_worker(
    dir: &Path,
    label: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Process, String) {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut p = Process::start("tracewire-worker", label, dir, &all, env);
    let addr = p.wait_for_addr("worker listening");
    (p, addr)
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

/// Starts a frontend on a free loopback port in front of workers at these addresses (none: its
/// embedded worker), logging to `dir/frontend.log`; returns it and its address. Its log must be
/// JSONL (the address is read from the "frontend listening" line).
pub fn start_frontend(
    dir: &Path,
    workers: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
) -> (Process, String) {
    let mut all = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
    for w in workers {
        all.push("--worker".into());
        all.push(format!("http://{w}"));
    }
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut p = Process::start("tracewire-frontend", "frontend", dir, &all, env);
    let addr = p.wait_for_addr("frontend listening");
    (p, addr)
}

/// A response read by [`HttpCall`].
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl HttpResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), written by hand so the
/// tests can send what a well-behaved client would not and stop reading mid-stream.
pub struct HttpCall {
    stream: std::net::TcpStream,
    raw: Vec<u8>,
}

impl HttpCall {
    /// Sends the request; `headers` are raw `Name: value` lines.
    pub fn send(addr: &str, method: &str, path: &str, headers: &[&str], body: &[u8]) -> HttpCall {
        use std::io::Write;
        let mut stream =
            std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len()).into_bytes();
        for h in headers {
            head.extend_from_slice(h.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(body);
        stream.write_all(&head).expect("send");
        HttpCall {
            stream,
            raw: Vec::new(),
        }
    }

    /// Reads until the raw response contains `needle` (or the connection closes).
    pub fn read_until(&mut self, needle: &str) -> &mut Self {
        use std::io::Read;
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&self.raw).contains(needle) {
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.raw.extend_from_slice(&chunk[..n]),
            }
        }
        self
    }

    /// Reads to the end of the response and parses it.
    pub fn finish(mut self) -> HttpResponse {
        use std::io::Read;
        let _ = self.stream.read_to_end(&mut self.raw);
        parse_response(&self.raw)
    }
}

/// Sends a request and reads the whole response, or says why none came (connection refused or
/// reset, no response head).
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> Result<HttpResponse, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("no response ({read:?}, {} bytes)", raw.len()));
    }
    Ok(parse_response(&raw))
}

/// Sends a request and reads the whole response.
pub fn http(addr: &str, method: &str, path: &str, headers: &[&str], body: &str) -> HttpResponse {
    HttpCall::send(addr, method, path, headers, body.as_bytes()).finish()
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Decodes a chunked body; a truncated one yields what arrived.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = &data[(end + 2).min(data.len())..];
    }
    out
}

/// Finds the lines of a log with this message (and span name, if given).
pub fn lines_with<'a>(lines: &'a [Line], message: &str, span: Option<&str>) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|o| o.message == message)
        .filter(|o| span.is_none() || o.span_name.as_deref() == span)
        .collect()
}

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

/// A free loopback port (bound and released: another process may take it, rarely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits (up to 20 s) until `port` accepts connections.
fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} not listening on {port} within 20 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A real server from the system's packages (`nats-server`, `etcd`) on free loopback ports, in
/// a directory of its own; stopped when dropped, restartable on the same ports and data.
pub struct Server {
    child: Option<std::process::Child>,
    program: &'static str,
    args: Vec<String>,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// nats-server on a free port.
    pub fn nats(dir: &Path) -> Server {
        let port = free_port();
        let args = vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        Server::start("nats-server", args, port, dir.join("nats-server.log"))
    }

    /// A one-member etcd cluster on free ports, its data in `dir/etcd`.
    pub fn etcd(dir: &Path) -> Server {
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args = vec![
            "--name".into(),
            "test".into(),
            "--data-dir".into(),
            dir.join("etcd").display().to_string(),
            "--listen-client-urls".into(),
            client_url.clone(),
            "--advertise-client-urls".into(),
            client_url,
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url.clone(),
            "--initial-cluster".into(),
            format!("test={peer_url}"),
        ];
        Server::start("etcd", args, client, dir.join("etcd.log"))
    }

    fn start(program: &'static str, args: Vec<String>, port: u16, log: PathBuf) -> Server {
        let mut server = Server {
            child: None,
            program,
            args,
            port,
            log,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log");
        let child = Command::new(self.program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} (is it installed?): {e}", self.program));
        self.child = Some(child);
        wait_for_port(self.port, self.program, &self.log);
    }

    /// Its URL: `nats://127.0.0.1:<port>` or `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let scheme = if self.program == "nats-server" {
            "nats"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, on the same port and data.
    pub fn start_again(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits (up to `secs` s) until `done` holds, polling every 50 ms; panics with `what`.
pub fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {secs} s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
