//! Real servers from the system's packages (`nats-server`, `etcd`) on free loopback ports.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

/// A free loopback port (bound and released: another process may take it, rarely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether process `pid` itself holds the listening TCP socket on loopback `port` (Linux
/// `/proc`). A connect is not enough: a port picked free can be taken by another test's process
/// before the child binds it; the child then exits, and a connect reaches the other process.
pub fn owns_listener(pid: u32, port: u16) -> bool {
    let address = format!("0100007F:{port:04X}");
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    // sl local_address rem_address st ... inode: state 0A is LISTEN, the inode is column 9.
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() > 9 && c[1] == address && c[3] == "0A")
        .map(|c| format!("socket:[{}]", c[9]))
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// Waits (up to 20 s) until `child` listens on `port`; `None` when it exits first (the port was
/// taken before it could bind it).
fn wait_until_owns(child: &mut Child, port: u16) -> Option<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if owns_listener(child.id(), port) {
            return Some(());
        }
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "process {} is not listening on {port} after 20 s",
        child.id()
    );
}

/// Starts `command(port)` on a free loopback port and returns once that very process listens on
/// it, trying new ports (up to 5) when another process took the one picked.
pub fn spawn_on_free_port(mut command: impl FnMut(u16) -> Command) -> (Child, String) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = command(port).spawn().expect("spawn");
        if wait_until_owns(&mut child, port).is_some() {
            return (child, format!("127.0.0.1:{port}"));
        }
    }
    panic!("no free port could be kept for 5 tries");
}

/// A real server from the system's packages (`nats-server`, `etcd`) on free loopback ports, in
/// a directory of its own; stopped when dropped, restartable on the same ports and data.
pub struct Server {
    child: Option<std::process::Child>,
    program: &'static str,
    args: Vec<String>,
    port: u16,
    log: PathBuf,
    scheme: &'static str,
}

impl Server {
    /// nats-server on a free port with this configuration (a `listen` line is added); `tls`
    /// when it has a `tls` block, for its URL's scheme.
    pub fn nats_with(dir: &Path, name: &str, conf: &str, tls: bool) -> Server {
        let port = free_port();
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, format!("listen: 127.0.0.1:{port}\n{conf}\n")).expect("conf");
        let args = vec!["-c".into(), path.display().to_string()];
        Server::start_as(
            "nats-server",
            args,
            port,
            dir.join(format!("{name}.log")),
            if tls { "tls" } else { "nats" },
        )
    }

    /// A one-member etcd cluster serving clients over TLS with `certs` (`ca.pem`, `server.pem`,
    /// `server.key`, as `certificates` writes them), client certificates of that CA required.
    pub fn etcd_tls(dir: &Path, certs: &Path) -> Server {
        Server::etcd_as(dir, "https", |args| {
            let file = |f: &str| certs.join(f).display().to_string();
            args.extend([
                "--cert-file".into(),
                file("server.pem"),
                "--key-file".into(),
                file("server.key"),
                "--trusted-ca-file".into(),
                file("ca.pem"),
                "--client-cert-auth".into(),
            ]);
        })
    }

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
        Server::etcd_as(dir, "http", |_| {})
    }

    fn etcd_as(dir: &Path, scheme: &'static str, more: impl FnOnce(&mut Vec<String>)) -> Server {
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("{scheme}://127.0.0.1:{client}");
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
        let mut args = args;
        more(&mut args);
        Server::start_as("etcd", args, client, dir.join("etcd.log"), scheme)
    }

    fn start(program: &'static str, args: Vec<String>, port: u16, log: PathBuf) -> Server {
        let scheme = if program == "nats-server" {
            "nats"
        } else {
            "http"
        };
        Server::start_as(program, args, port, log, scheme)
    }

    fn start_as(
        program: &'static str,
        args: Vec<String>,
        port: u16,
        log: PathBuf,
        scheme: &'static str,
    ) -> Server {
        let mut server = Server {
            child: None,
            program,
            args,
            port,
            log,
            scheme,
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
        let mut child = child;
        if wait_until_owns(&mut child, self.port).is_none() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!(
                "{} exited before listening on {}; its log:\n{log}",
                self.program, self.port
            );
        }
        self.child = Some(child);
    }

    /// Its URL: `nats://`, `tls://`, `http://` or `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
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

#[cfg(test)]
mod tests {
    use super::owns_listener;

    #[test]
    fn a_listener_is_owned_by_the_process_that_bound_it_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(owns_listener(std::process::id(), port));
        let mut other = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(!owns_listener(other.id(), port), "a connect would succeed");
        other.kill().unwrap();
        other.wait().unwrap();
        drop(listener);
        assert!(!owns_listener(std::process::id(), port));
    }
}
