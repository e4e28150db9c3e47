//! Running the real binaries: a run to completion ([`run`]), a process whose log is read while
//! it runs ([`Process`]), the frontend and worker on free ports, all on an environment cleared
//! of every variable tracewire reads.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;
use tracewire_runtime::settings::env::ALL;

use crate::{jsonl::json_lines, repo_root, wait::poll, Line};

/// JSONL on: the environment most tests give their processes.
pub const JSONL: (&str, &str) = ("DYN_LOGGING_JSONL", "true");

/// Clears every variable tracewire reads (`settings::env::ALL`) and `RUST_LOG` from what
/// `command` inherits, so that a developer's own `DYN_LOG` cannot change a result.
pub fn clean_env(command: &mut Command) -> &mut Command {
    for name in ALL.iter().chain(&["RUST_LOG"]) {
        command.env_remove(name);
    }
    command
}

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
    clean_env(command.args(args)).envs(env.iter().copied());
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
            "-p",
            "tracewire-trace",
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
        clean_env(&mut command).envs(env.iter().copied());
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
        read(&self.log)
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
        let log = self.log.clone();
        let what = || format!("a {message:?} line in:\n{}", read(&log));
        poll(20, what, || {
            // A line still being written is not parsed.
            let found = self.lines().into_iter().find(|o| o.message == message);
            if found.is_none() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "process exited ({status}) before logging {message:?}:\n{}",
                        self.output()
                    );
                }
            }
            found
        })
    }

    /// The address logged in the `addr` field of the line with this message.
    pub fn wait_for_addr(&mut self, message: &str) -> String {
        let line = self.wait_for_line(message);
        line["addr"].as_str().expect("addr field").to_owned()
    }

    /// The address in the `addr=` field of the readable line with this message, waiting for it
    /// (up to 20 s): for a process that logs readable lines.
    pub fn wait_for_readable_addr(&mut self, message: &str) -> String {
        let what = || format!("a {message:?} line in:\n{}", self.output());
        poll(20, what, || {
            let out = self.output();
            let line = out.lines().find(|l| l.contains(message))?;
            let addr = line.split("addr=").nth(1)?.split(' ').next()?;
            Some(addr.to_owned())
        })
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
        let log = self.log.clone();
        let what = || format!("the process to exit; its output:\n{}", read(&log));
        let status = poll(20, what, || self.child.try_wait().expect("try_wait"));
        if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
            eprintln!("process {} ended by signal {signal}", self.child.id());
        }
        status.code()
    }
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
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

/// Runs one of `tests/tools/` under the test environment's Python with `args`; its stdout,
/// the test failing with its stderr if it fails.
pub fn python_tool(script: &str, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let tool = repo_root().join("tests/tools").join(script);
    let out = Command::new(python())
        .arg(tool)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
