//! The system server of every process (SPEC §8), on the real binaries: probes, metrics, log
//! filters changed without a restart (PUT, DELETE, a bad one refused, the token enforced),
//! SIGHUP re-reading the file, `/health` 503 while draining; and a real Prometheus server
//! scraping all three processes, when the `prometheus` binary is installed.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::Value;
use tracewire_tests::{
    free_port, http, json_lines, poll, start_frontend, start_worker, temp_dir, HttpCall, Line,
    Process,
};

const TOKEN: &str = "sys-t0ken";

fn system_addr(p: &mut Process) -> String {
    p.wait_for_addr("system server listening")
}

fn chat(addr: &str, id: &str) {
    assert_eq!(tracewire_tests::chat(addr, id).status, 200);
}

/// The lines of `p` so far, those of request `id` only.
fn lines_of(p: &Process, id: &str) -> Vec<Line> {
    json_lines(&p.output())
        .into_iter()
        .filter(|l| l.x_request_id.as_deref() == Some(id))
        .collect()
}

/// The DEBUG lines `p` wrote for two consecutive requests, one of which it served (the frontend
/// balances round-robin), once that one's span has closed (lines are written by a background
/// thread, after the response).
fn debug_lines(p: &Process, ids: [&str; 2]) -> usize {
    let what = || format!("{ids:?} served here:\n{}", p.output());
    poll(10, what, || {
        let lines: Vec<Line> = ids.iter().flat_map(|id| lines_of(p, id)).collect();
        let closed = lines.iter().any(|l| l.message == "SPAN_CLOSED");
        closed.then(|| lines.iter().filter(|l| l.level == "DEBUG").count())
    })
}

/// Waits (up to 10 s) for `p`'s output to contain a line with `message`, `n` times.
fn wait_for(p: &Process, message: &str, n: usize) -> Vec<Line> {
    let what = || format!("{message:?} ×{n} in:\n{}", p.output());
    poll(10, what, || {
        let lines: Vec<Line> = json_lines(&p.output())
            .into_iter()
            .filter(|l| l.message == message)
            .collect();
        (lines.len() >= n).then_some(lines)
    })
}

#[test]
fn filters_change_at_runtime_and_sighup_rereads_the_file() {
    let dir = temp_dir("system-filters");
    let config = dir.join("worker2.toml");
    std::fs::write(&config, "log_level = \"info\"\n").unwrap();
    let common = [("DYN_LOGGING_JSONL", "true"), ("DYN_SYSTEM_PORT", "0")];
    let mut env1 = common.to_vec();
    env1.push(("DYN_SYSTEM_TOKEN", TOKEN));
    let (mut w1, a1) = start_worker(&dir, "worker1", &["--token-delay-ms", "1"], &env1);
    let mut env2 = common.to_vec();
    env2.push(("DYN_LOGGING_CONFIG_PATH", config.to_str().unwrap()));
    let (mut w2, a2) = start_worker(&dir, "worker2", &["--token-delay-ms", "1"], &env2);
    let (mut f, addr) = start_frontend(&dir, &[&a1, &a2], &[], &common);
    let (s1, s2, sf) = (
        system_addr(&mut w1),
        system_addr(&mut w2),
        system_addr(&mut f),
    );
    for s in [&s1, &s2, &sf] {
        assert_eq!(http(s, "GET", "/live", &[], "").status, 200);
        let health = http(s, "GET", "/health", &[], "");
        assert_eq!(
            (health.status, health.json()["status"].clone()),
            (200, Value::from("ready"))
        );
    }
    let logging = http(&s1, "GET", "/logging", &[], "").json();
    let startup = logging["filter"].as_str().unwrap().to_owned();
    assert!(startup.starts_with("info,"), "{logging}");
    assert_eq!(
        (logging["jsonl"].clone(), logging["span_events"].clone()),
        (Value::from(true), Value::from(true))
    );

    // Round-robin: requests 0, 2, ... go to worker 1.
    chat(&addr, "before-0");
    chat(&addr, "before-1");
    assert_eq!(debug_lines(&w1, ["before-0", "before-1"]), 0);

    // The token is enforced; a bad filter changes nothing and says why.
    let put = |headers: &[&str], body: &str| http(&s1, "PUT", "/logging/filter", headers, body);
    let auth = format!("Authorization: Bearer {TOKEN}");
    assert_eq!(put(&[], "debug").status, 401);
    assert_eq!(put(&["Authorization: Bearer nope"], "debug").status, 401);
    let bad = put(&[&auth], "info,inf");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("DYN_LOG: \"inf\": not a level nor target=level"),
        "{}",
        bad.body
    );
    assert_eq!(
        http(&s1, "GET", "/logging", &[], "").json()["filter"],
        startup.as_str()
    );

    // PUT debug: DEBUG lines of the next requests, without a restart.
    let changed = put(&[&auth], "debug");
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(changed.json()["filter"]
        .as_str()
        .unwrap()
        .ends_with(",debug"));
    let warn = wait_for(&w1, "log filter changed", 1);
    assert_eq!(
        (warn[0].level.as_str(), warn[0]["from"].as_str()),
        ("WARN", Some(startup.as_str()))
    );
    chat(&addr, "debug-0");
    chat(&addr, "debug-1");
    let shown = debug_lines(&w1, ["debug-0", "debug-1"]);
    assert!(shown > 0, "DEBUG lines after PUT:\n{}", w1.output());
    assert_eq!(
        debug_lines(&w2, ["debug-0", "debug-1"]),
        0,
        "only that process"
    );

    // DELETE: back to the startup filter; DEBUG lines stop.
    assert_eq!(http(&s1, "DELETE", "/logging/filter", &[], "").status, 401);
    let reset = http(&s1, "DELETE", "/logging/filter", &[&auth], "");
    assert_eq!(
        (reset.status, reset.json()["filter"].clone()),
        (200, Value::from(startup.as_str()))
    );
    chat(&addr, "after-0");
    chat(&addr, "after-1");
    assert_eq!(debug_lines(&w1, ["after-0", "after-1"]), 0);

    // SIGHUP re-reads worker 2's file; a bad file is an ERROR line and changes nothing.
    std::fs::write(&config, "log_level = \"debug\"\n").unwrap();
    w2.signal("HUP");
    wait_for(&w2, "configuration re-read on SIGHUP", 1);
    chat(&addr, "hup-0");
    chat(&addr, "hup-1");
    assert!(debug_lines(&w2, ["hup-0", "hup-1"]) > 0, "{}", w2.output());
    let reread = http(&s2, "GET", "/logging", &[], "").json()["filter"].clone();
    std::fs::write(&config, "log_level = \"loud\"\n").unwrap();
    w2.signal("HUP");
    let refused = wait_for(
        &w2,
        "configuration not re-read on SIGHUP; the old one stays",
        1,
    );
    assert_eq!(refused[0].level, "ERROR");
    assert!(
        refused[0]["error"].as_str().unwrap().contains("loud"),
        "{:?}",
        refused[0]
    );
    assert_eq!(
        http(&s2, "GET", "/logging", &[], "").json()["filter"],
        reread
    );

    // Metrics: the frontend counted every request by status and outcome.
    let metrics = http(&sf, "GET", "/metrics", &[], "").body;
    assert!(
        metrics.contains("tracewire_http_requests_total{status=\"200\",outcome=\"ok\"} 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tracewire_time_to_first_token_seconds_count 8"),
        "{metrics}"
    );
    let worker = http(&s1, "GET", "/metrics", &[], "").body;
    assert!(
        worker.contains("tracewire_worker_requests_total{outcome=\"ok\",dynamo_namespace=\"dynamo\",dynamo_component=\"backend\",dynamo_endpoint=\"generate\"} 4"),
        "{worker}"
    );
    assert!(worker.contains("tracewire_log_lines_total{level=\"DEBUG\"}"));
    for p in [f, w1, w2] {
        drop(p.stop());
    }
}

#[test]
fn health_is_503_while_draining() {
    let dir = temp_dir("system-drain");
    let env = [("DYN_LOGGING_JSONL", "true"), ("DYN_SYSTEM_PORT", "0")];
    let (mut w, waddr) = start_worker(&dir, "worker", &["--token-delay-ms", "300"], &env);
    let (mut f, addr) = start_frontend(&dir, &[&waddr], &[], &env);
    let sf = system_addr(&mut f);
    drop(system_addr(&mut w));
    let body = r#"{"model":"Qwen/Qwen3-0.6B","stream":true,"messages":[{"role":"user","content":"one two three four five six"}]}"#;
    let mut call = HttpCall::send(
        &addr,
        "POST",
        "/v1/chat/completions",
        &["Content-Type: application/json"],
        body.as_bytes(),
    );
    call.read_until("data: {");
    assert_eq!(http(&sf, "GET", "/health", &[], "").status, 200);
    f.signal("TERM");
    let health = poll(
        5,
        || "/health 503".to_owned(),
        || Some(http(&sf, "GET", "/health", &[], "")).filter(|h| h.status == 503),
    );
    assert_eq!(health.json()["status"], "notready");
    assert_eq!(
        http(&sf, "GET", "/live", &[], "").status,
        200,
        "alive while draining"
    );
    let answer = call.finish();
    assert!(
        answer.body.contains("[DONE]"),
        "the stream still finished: {}",
        answer.body
    );
    assert_eq!(f.wait(), Some(0));
    drop(w.stop());
}

#[test]
fn a_real_prometheus_scrapes_the_three_processes() {
    let Some(prometheus) = which("prometheus") else {
        // The test script and CI install it (Debian's package); say so rather than pass.
        panic!("the prometheus binary is not installed: apt-get install prometheus");
    };
    let dir = temp_dir("system-prometheus");
    let env = [("DYN_LOGGING_JSONL", "true"), ("DYN_SYSTEM_PORT", "0")];
    let (mut w1, a1) = start_worker(&dir, "worker1", &["--token-delay-ms", "1"], &env);
    let (mut w2, a2) = start_worker(&dir, "worker2", &["--token-delay-ms", "1"], &env);
    let (mut f, addr) = start_frontend(&dir, &[&a1, &a2], &[], &env);
    let targets: Vec<String> = [&mut f, &mut w1, &mut w2]
        .into_iter()
        .map(|p| format!("'{}'", system_addr(p)))
        .collect();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tracewire\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    let port = free_port();
    let mut server = std::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let requests = 20;
    for i in 0..requests {
        chat(&addr, &format!("prom-{i}"));
    }
    let api = format!("127.0.0.1:{port}");
    let query = |q: &str| -> Option<f64> {
        let path = format!("/api/v1/query?query={}", q.replace(' ', "%20"));
        let r = tracewire_tests::try_http(&api, "GET", &path, &[], "").ok()?;
        let v = serde_json::from_str::<Value>(&r.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    // Prometheus staggers its first scrapes: wait until every target has been scraped since
    // the requests.
    let deadline = Instant::now() + Duration::from_secs(40);
    let want = Some(f64::from(requests));
    let (up, total, histogram, ttft, workers) = loop {
        let got = (
            query("sum(up)"),
            query("sum(tracewire_http_requests_total)"),
            query("sum(tracewire_http_request_duration_seconds_count)"),
            query("sum(tracewire_time_to_first_token_seconds_bucket)"),
            query("sum(tracewire_worker_requests_total)"),
        );
        if (got.0 == Some(3.0) && got.1 == want && got.4 == want) || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let targets_state = tracewire_tests::try_http(&api, "GET", "/api/v1/targets", &[], "")
        .map(|r| r.body)
        .unwrap_or_default();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(up, Some(3.0), "three targets up: {targets_state}");
    assert_eq!(total, Some(f64::from(requests)));
    assert_eq!(histogram, Some(f64::from(requests)));
    assert!(ttft.unwrap_or(0.0) > 0.0, "TTFT histogram populated");
    assert_eq!(workers, Some(f64::from(requests)));
    for p in [f, w1, w2] {
        drop(p.stop());
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
