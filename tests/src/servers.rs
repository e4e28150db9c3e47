//! Real servers from the system's packages (`nats-server`, `etcd`) on free loopback ports.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::wait::wait_until;

/// A free loopback port (bound and released: another process may take it, rarely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits (up to 20 s) until `port` accepts connections.
fn wait_for_port(port: u16, what: &str, log: &Path) {
    let listening = || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    if !listening() {
        let log = std::fs::read_to_string(log).unwrap_or_default();
        wait_until(
            20,
            &format!("{what} listening on {port}; its log:\n{log}"),
            listening,
        );
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
