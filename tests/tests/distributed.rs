//! The distributed runtime (SPEC §10) on real servers: workers registered in etcd and called
//! over NATS, traces unbroken across them, workers that die or join, NATS and etcd restarted,
//! half a configuration refused.

use std::time::{Duration, Instant};

use serde_json::Value;
use tracewire_tests::{
    binary, check_jsonl, check_jsonl_allow_open, run, start_frontend, start_worker, temp_dir,
    try_http, wait_until, HttpCall, Line, Process, Server, CHAT,
};

const STREAM: &str = r#"{"model": "Qwen/Qwen3-0.6B", "stream": true, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;
/// `DYN_LEASE_TTL_S` in these tests.
const TTL_S: u64 = 2;

struct Cluster {
    nats: Server,
    etcd: Server,
}

impl Cluster {
    fn start(dir: &std::path::Path) -> Cluster {
        Cluster {
            nats: Server::nats(dir),
            etcd: Server::etcd(dir),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DYN_LOGGING_JSONL".into(), "true".into()),
            ("ETCD_ENDPOINTS".into(), self.etcd.url()),
            ("NATS_SERVER".into(), self.nats.url()),
            ("DYN_LEASE_TTL_S".into(), TTL_S.to_string()),
        ]
    }
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn count(p: &Process, message: &str) -> usize {
    p.lines().iter().filter(|l| l.message == message).count()
}

/// A cluster, a worker registered in it, and a frontend that has found the worker (and its
/// address).
fn one_worker(dir: &std::path::Path) -> (Cluster, Process, Process, String) {
    let cluster = Cluster::start(dir);
    let env = cluster.env();
    let env = pairs(&env);
    let (w, _) = start_worker(dir, "worker", &["--token-delay-ms", "1"], &env);
    let (f, addr) = start_frontend(dir, &[], &[], &env);
    wait_until(20, "the frontend lists the worker", || {
        count(&f, "instance added") == 1
    });
    (cluster, w, f, addr)
}

/// The lease id a worker registered under.
fn lease(p: &mut Process) -> String {
    p.wait_for_line("registered in etcd")["instance_id"].to_string()
}

fn chat(addr: &str, id: &str) -> u16 {
    tracewire_tests::chat(addr, id).status
}

/// Whether a worker's output has the `handle_payload` span of request `id`.
fn served(lines: &[Line], id: &str) -> bool {
    lines.iter().any(|l| {
        l.message == "SPAN_CREATED"
            && l.span() == "handle_payload"
            && l.x_request_id.as_deref() == Some(id)
    })
}

#[test]
fn workers_found_in_etcd_and_called_over_nats_keep_every_trace_whole() {
    let dir = temp_dir("distributed");
    let cluster = Cluster::start(&dir);
    let env = cluster.env();
    let env = pairs(&env);
    let fast = ["--token-delay-ms", "1"];
    let (mut w1, _) = start_worker(&dir, "worker1", &fast, &env);
    let (mut w2, _) = start_worker(&dir, "worker2", &fast, &env);
    let (mut w3, _) = start_worker(&dir, "worker3", &["--token-delay-ms", "200"], &env);
    let leases = [lease(&mut w1), lease(&mut w2), lease(&mut w3)];
    // Something under the prefix that is not an instance: skipped with a WARN, never a crash.
    let bad = "v1/instances/dynamo/backend/generate/bad";
    let put = std::process::Command::new("etcdctl")
        .args(["--endpoints", &cluster.etcd.url(), "put", bad, "not json"])
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl runs");
    assert!(put.status.success(), "{put:?}");
    let (f, addr) = start_frontend(&dir, &[], &[], &env);
    wait_until(20, "the frontend lists three instances", || {
        count(&f, "instance added") == 3
    });
    let skipped = f.lines();
    let skipped: Vec<_> = skipped
        .iter()
        .filter(|l| l.message == "malformed instance in etcd; skipped")
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        (skipped[0].level.as_str(), &skipped[0]["key"]),
        ("WARN", &Value::from(bad))
    );

    let ids: Vec<String> = (0..12).map(|i| format!("r-{i}")).collect();
    for id in &ids {
        assert_eq!(chat(&addr, id), 200, "{id}");
    }
    for (w, name) in [(&w1, "worker1"), (&w2, "worker2"), (&w3, "worker3")] {
        let lines = w.lines();
        assert!(
            ids.iter().any(|id| served(&lines, id)),
            "round-robin reaches {name}"
        );
    }

    // A stream on the slow worker, which is killed mid-stream.
    let mut doomed = None;
    for k in 0..6 {
        let id = format!("doomed-{k}");
        let mut call = HttpCall::send(
            &addr,
            "POST",
            "/v1/chat/completions",
            &[&format!("x-request-id: {id}")],
            STREAM.as_bytes(),
        );
        call.read_until("data: ");
        // Lines reach the log through a queue: wait for the worker that took it to show it.
        wait_until(10, "a worker logs the stream's span", || {
            [&w1, &w2, &w3].iter().any(|w| served(&w.lines(), &id))
        });
        if served(&w3.lines(), &id) {
            doomed = Some((id, call));
            break;
        }
        assert!(call.finish().body.ends_with("data: [DONE]\n\n"));
    }
    let (doomed, call) = doomed.expect("a stream on worker3 within 6 tries");
    w3.signal("KILL");
    let killed = Instant::now();
    let r = call.finish();
    let waited = killed.elapsed();
    assert!(
        r.body.contains("server_error") && !r.body.contains("[DONE]"),
        "the SSE error event: {}",
        r.body
    );
    assert!(
        waited <= Duration::from_secs(TTL_S + 2),
        "the stream ends within the lease TTL + 2 s: {waited:?}"
    );
    wait_until(10, "the frontend sees worker3's key go", || {
        count(&f, "instance removed") == 1
    });

    // The rest go to the live ones; a fourth worker gets requests without a restart.
    for i in 0..4 {
        assert_eq!(chat(&addr, &format!("after-{i}")), 200);
    }
    let (mut w4, _) = start_worker(&dir, "worker4", &fast, &env);
    let lease4 = lease(&mut w4);
    wait_until(20, "the frontend adds worker4", || {
        count(&f, "instance added") == 4
    });
    let joined: Vec<String> = (0..6).map(|i| format!("joined-{i}")).collect();
    for id in &joined {
        assert_eq!(chat(&addr, id), 200);
    }
    assert!(joined.iter().any(|id| served(&w4.lines(), id)));

    let fl = f.stop();
    let (l1, l2, l4) = (w1.stop(), w2.stop(), w4.stop());
    let l3 = w3.lines();
    for l in [&l1, &l2, &l4] {
        assert_eq!(
            l.iter()
                .filter(|l| l.message == "deregistered from etcd")
                .count(),
            1,
            "a worker stopped by SIGTERM removes its key"
        );
    }
    let failed: Vec<_> = fl
        .iter()
        .filter(|l| l.level == "ERROR" && l.x_request_id.as_deref() == Some(doomed.as_str()))
        .collect();
    assert!(
        failed
            .iter()
            .any(|l| l.message == "the worker failed mid-stream"),
        "an ERROR line in the stream's trace: {failed:#?}"
    );

    // Every request's trace links the frontend to the worker that served it.
    let workers = [
        (&l1, &leases[0]),
        (&l2, &leases[1]),
        (&l3, &leases[2]),
        (&l4, &lease4),
    ];
    for id in ids.iter().chain(&joined) {
        let front = fl
            .iter()
            .find(|l| {
                l.message == "SPAN_CREATED"
                    && l.span() == "http-request"
                    && l.x_request_id.as_deref() == Some(id)
            })
            .unwrap_or_else(|| panic!("frontend span of {id}"));
        let (worker, lease) = workers
            .iter()
            .find(|(w, _)| served(w, id))
            .unwrap_or_else(|| panic!("no worker served {id}"));
        let handle = worker
            .iter()
            .find(|l| l.span() == "handle_payload" && l.x_request_id.as_deref() == Some(id))
            .unwrap();
        assert_eq!(handle.trace_id, front.trace_id, "{id}: one trace");
        assert_eq!(
            handle.parent_id, front.span_id,
            "{id}: the frontend span is the parent"
        );
        assert_eq!(
            handle["instance_id"].as_str(),
            Some(lease.as_str()),
            "{id}: instance_id is the etcd lease"
        );
        let done = fl
            .iter()
            .find(|l| l.message == "request completed" && l.x_request_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("request completed of {id}"));
        assert_eq!(
            done["worker_instance"].as_str(),
            Some(lease.as_str()),
            "{id}: the frontend names the instance that served it"
        );
    }
    check_jsonl(&[
        &dir.join("frontend.log"),
        &dir.join("worker1.log"),
        &dir.join("worker2.log"),
        &dir.join("worker4.log"),
    ]);
    check_jsonl_allow_open(&[&dir.join("frontend.log"), &dir.join("worker3.log")]);
    drop(cluster);
}

#[test]
fn half_a_distributed_configuration_or_one_with_worker_is_refused() {
    let both = [
        ("ETCD_ENDPOINTS", "http://127.0.0.1:2379"),
        ("NATS_SERVER", "nats://127.0.0.1:4222"),
    ];
    let frontend = binary("tracewire-frontend");
    let worker = binary("tracewire-worker");
    // (program, flags, environment, the one line it must print)
    type Case<'a> = (
        &'a std::path::Path,
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        &'a str,
    );
    let cases: [Case<'_>; 4] = [
        (
            &frontend,
            vec!["--worker", "http://127.0.0.1:9090"],
            both.to_vec(),
            "tracewire-frontend: --worker cannot be used with ETCD_ENDPOINTS and NATS_SERVER",
        ),
        (
            &frontend,
            vec![],
            vec![both[0]],
            "tracewire: configuration error: ETCD_ENDPOINTS: \"http://127.0.0.1:2379\": NATS_SERVER must be set too",
        ),
        (
            &worker,
            vec![],
            vec![both[1]],
            "tracewire: configuration error: NATS_SERVER: \"nats://127.0.0.1:4222\": ETCD_ENDPOINTS must be set too",
        ),
        (
            &worker,
            vec![],
            vec![both[0], both[1], ("DYN_LEASE_TTL_S", "ten")],
            "tracewire: configuration error: DYN_LEASE_TTL_S: \"ten\": expected seconds from 1 to 3600",
        ),
    ];
    for (program, args, env, want) in cases {
        let out = run(program.to_str().unwrap(), &args, &env);
        assert_eq!(out.code, Some(2), "{want}: {out:?}");
        assert!(out.stderr.starts_with(want), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
}

#[test]
fn a_nats_restart_fails_requests_with_503_then_service_resumes() {
    let dir = temp_dir("nats-restart");
    let (mut cluster, w, f, addr) = one_worker(&dir);
    for i in 0..3 {
        assert_eq!(chat(&addr, &format!("before-{i}")), 200);
    }
    // Two clients keep calling while nats-server is stopped and started again.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let (stop, addr) = (stop.clone(), addr.clone());
            std::thread::spawn(move || {
                let mut results = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let id = format!("x-request-id: load-{c}-{n}");
                    let started = Instant::now();
                    let r = try_http(&addr, "POST", "/v1/chat/completions", &[&id], CHAT);
                    results.push((started, r.map(|r| r.status), started.elapsed()));
                    n += 1;
                }
                results
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    cluster.nats.stop();
    let stopped = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    cluster.nats.start_again();
    let restarted = Instant::now();
    wait_until(20, "a request succeeds after NATS is back", || {
        chat(&addr, "probe") == 200
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let results: Vec<_> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let (mut during, mut resumed) = (0, 0);
    for (started, status, took) in &results {
        let status = status
            .as_ref()
            .unwrap_or_else(|e| panic!("every request is answered: {e}"));
        assert!(
            *took < Duration::from_secs(10),
            "no request hangs: {took:?}"
        );
        assert!([200, 503].contains(status), "failures are 503s: {status}");
        if *status == 503 && *started > stopped && *started < restarted {
            during += 1;
        }
        if *status == 200 && *started > restarted {
            resumed += 1;
        }
    }
    assert!(
        during > 0,
        "503s while NATS is away ({} calls)",
        results.len()
    );
    assert!(
        resumed > 0,
        "200s again after the restart ({} calls)",
        results.len()
    );
    for i in 0..3 {
        assert_eq!(chat(&addr, &format!("after-{i}")), 200);
    }
    let fl = f.stop();
    let wl = w.stop();
    assert!(fl
        .iter()
        .any(|l| l.message == "NATS connection lost; reconnecting"));
    assert!(wl
        .iter()
        .any(|l| l.message == "NATS connection (re)established"));
    check_jsonl(&[&dir.join("frontend.log"), &dir.join("worker.log")]);
}

#[test]
fn an_etcd_restart_keeps_the_known_instances_and_the_registrations() {
    let dir = temp_dir("etcd-restart");
    let (mut cluster, w, f, addr) = one_worker(&dir);
    cluster.etcd.stop();
    for i in 0..3 {
        assert_eq!(
            chat(&addr, &format!("etcd-down-{i}")),
            200,
            "the last known instances serve while etcd is away"
        );
    }
    cluster.etcd.start_again();
    wait_until(20, "the frontend watches again", || {
        count(&f, "etcd watch lost; keeping the last known instances") >= 1
    });
    // Registered still (same lease, or a new one): a new frontend finds the worker.
    let env = cluster.env();
    let (f2, addr2) = start_frontend(&temp_dir("etcd-restart-2"), &[], &[], &pairs(&env));
    wait_until(20, "a new frontend lists the worker", || {
        count(&f2, "instance added") >= 1
    });
    assert_eq!(chat(&addr2, "after-restart"), 200);
    assert_eq!(chat(&addr, "after-restart-old"), 200);

    // etcd comes back without its data: the lease is gone, the worker registers under a new
    // one (a new instance id and subject), and both frontends follow.
    cluster.etcd.stop();
    std::fs::remove_dir_all(dir.join("etcd")).unwrap();
    cluster.etcd.start_again();
    wait_until(30, "the worker registers under a new lease", || {
        count(
            &w,
            "the etcd lease expired; registered again under a new lease",
        ) == 1
    });
    wait_until(20, "both frontends list the new instance", || {
        count(&f, "instance added") >= 2 && count(&f2, "instance added") >= 2
    });
    assert_eq!(chat(&addr, "new-lease-old-frontend"), 200);
    assert_eq!(chat(&addr2, "new-lease-new-frontend"), 200);
    let (fl, wl) = (f.stop(), w.stop());
    drop(f2.stop());
    let again = wl
        .iter()
        .find(|l| l.message == "the etcd lease expired; registered again under a new lease")
        .unwrap();
    let handle = wl
        .iter()
        .find(|l| {
            l.span() == "handle_payload"
                && l.x_request_id.as_deref() == Some("new-lease-old-frontend")
        })
        .unwrap();
    assert_eq!(
        handle["instance_id"].as_str(),
        Some(again["instance_id"].to_string().as_str()),
        "the calls carry the new lease as instance_id"
    );
    assert!(fl
        .iter()
        .any(|l| l.message == "etcd watch lost; keeping the last known instances"));
}
