//! The distributed runtime behind TLS and credentials (SPEC §10), on real servers configured by
//! the test: nats-server with TLS and client certificates and each auth mode (user and
//! password, token, nkey), etcd with TLS and client-certificate auth, and etcd with its own
//! users (`etcdctl user add`, `auth enable`). Frontend and two workers serve over them with every
//! trace whole and no secret in any output at `DYN_LOG=trace`; refused credentials end the
//! process at startup with one ERROR naming the server; bad settings are exit 2.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;

use tracewire_tests::{
    certificates, check_jsonl, run, start_frontend, start_worker, temp_dir, wait_until, Process,
    Server,
};

const NATS_PASSWORD: &str = "nats-pa55-d1e8c7";
const NATS_TOKEN: &str = "nats-t0ken-4b2a9f";
const ETCD_PASSWORD: &str = "etcd-pa55-93ac1e";

/// nats-server's `tls` block: its certificate, and client certificates of the test CA required.
fn nats_tls(certs: &Path) -> String {
    let f = |name: &str| certs.join(name).display().to_string();
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: true\n}}",
        f("server.pem"),
        f("server.key"),
        f("ca.pem")
    )
}

/// The client side of [`nats_tls`].
fn nats_tls_env(certs: &Path) -> Vec<(String, String)> {
    let f = |name: &str| certs.join(name).display().to_string();
    vec![
        ("NATS_TLS_CA".into(), f("ca.pem")),
        ("NATS_TLS_CLIENT_CERT".into(), f("client.pem")),
        ("NATS_TLS_CLIENT_KEY".into(), f("client.key")),
    ]
}

fn etcdctl(etcd: &Server, extra: &[&str], args: &[&str]) -> std::process::Output {
    std::process::Command::new("etcdctl")
        .args(["--endpoints", &etcd.url()])
        .args(extra)
        .args(args)
        .env("ETCDCTL_API", "3")
        .output()
        .expect("etcdctl runs")
}

/// Two workers and a frontend over `env`; four requests; every trace whole (check-jsonl over
/// the three files) and no secret in anything any process wrote.
fn serve_and_check(dir: &Path, env: &[(String, String)], secrets: &[&str]) {
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend([("DYN_LOGGING_JSONL", "true"), ("DYN_LEASE_TTL_S", "2")]);
    // Everything async-nats, etcd-client, tonic, h2 and rustls say, to look for a secret in.
    env.push(("DYN_LOG", "trace"));
    let fast = ["--token-delay-ms", "1"];
    let (w1, _) = start_worker(dir, "worker1", &fast, &env);
    let (w2, _) = start_worker(dir, "worker2", &fast, &env);
    let (f, addr) = start_frontend(dir, &[], &[], &env);
    wait_until(20, "the frontend lists both workers", || {
        f.lines()
            .iter()
            .filter(|l| l.message == "instance added")
            .count()
            == 2
    });
    for i in 0..4 {
        let id = format!("secure-{i}");
        assert_eq!(tracewire_tests::chat(&addr, &id).status, 200, "{id}");
    }
    let outputs: Vec<String> = [f, w1, w2]
        .into_iter()
        .map(|mut p: Process| {
            p.signal("TERM");
            assert_eq!(p.wait(), Some(0), "{}", p.output());
            p.output()
        })
        .collect();
    for out in &outputs {
        for secret in secrets {
            assert!(!out.contains(secret), "a secret is in an output");
        }
    }
    assert!(
        outputs[0].contains("\"level\":\"TRACE\""),
        "DYN_LOG=trace took effect"
    );
    check_jsonl(&[
        &dir.join("frontend.log"),
        &dir.join("worker1.log"),
        &dir.join("worker2.log"),
    ]);
}

/// A worker that must fail at startup: exit 1, and one ERROR line naming `server`.
fn refused(dir: &Path, env: &[(String, String)], server: &str, secrets: &[&str]) {
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("DYN_LOGGING_JSONL", "true"));
    let worker = tracewire_tests::binary("tracewire-worker");
    let _ = dir;
    let out = run(worker.to_str().unwrap(), &["--listen", "127.0.0.1:0"], &env);
    assert_eq!(out.code, Some(1), "{out:?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    let errors: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect();
    assert_eq!(errors.len(), 1, "{all}");
    assert!(errors[0].contains(server), "{}", errors[0]);
    for secret in secrets {
        assert!(!all.contains(secret), "a secret is in the output: {all}");
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn nats_with_mutual_tls_and_a_password_and_etcd_with_client_certificates() {
    let dir = temp_dir("secure-tls");
    let certs = certificates(&dir);
    let nats = Server::nats_with(
        &dir,
        "nats",
        &format!(
            "{}\nauthorization {{\n  user: alice\n  password: \"{NATS_PASSWORD}\"\n}}",
            nats_tls(&certs)
        ),
        true,
    );
    let etcd = Server::etcd_tls(&dir, &certs);
    let f = |name: &str| certs.join(name).display().to_string();
    let mut base = env(&[
        ("NATS_SERVER", &nats.url()),
        ("ETCD_ENDPOINTS", &etcd.url()),
        ("ETCD_AUTH_CA", &f("ca.pem")),
        ("ETCD_AUTH_CLIENT_CERT", &f("client.pem")),
        ("ETCD_AUTH_CLIENT_KEY", &f("client.key")),
    ]);
    base.extend(nats_tls_env(&certs));
    let mut good = base.clone();
    good.extend(env(&[
        ("NATS_AUTH_USERNAME", "alice"),
        ("NATS_AUTH_PASSWORD", NATS_PASSWORD),
    ]));
    serve_and_check(&dir, &good, &[NATS_PASSWORD]);

    // A wrong password, no client certificate for etcd: each refused at startup, by name.
    let mut wrong = base.clone();
    wrong.extend(env(&[
        ("NATS_AUTH_USERNAME", "alice"),
        ("NATS_AUTH_PASSWORD", "not-the-password-x"),
    ]));
    refused(&dir, &wrong, &nats.url(), &["not-the-password-x"]);
    let without_client_cert: Vec<_> = good
        .iter()
        .filter(|(k, _)| !k.starts_with("ETCD_AUTH_CLIENT"))
        .cloned()
        .collect();
    refused(&dir, &without_client_cert, &etcd.url(), &[NATS_PASSWORD]);
}

#[test]
fn nats_token_and_nkey_and_etcd_users_with_auth_enabled() {
    let dir = temp_dir("secure-auth");
    let certs = certificates(&dir);
    let etcd = Server::etcd(&dir);
    for args in [
        vec!["user", "add", &format!("root:{ETCD_PASSWORD}") as &str],
        vec!["user", "grant-role", "root", "root"],
        vec!["auth", "enable"],
    ] {
        let out = etcdctl(&etcd, &[], &args);
        assert!(out.status.success(), "etcdctl {args:?}: {out:?}");
    }
    let etcd_user = env(&[
        ("ETCD_ENDPOINTS", &etcd.url()),
        ("ETCD_AUTH_USERNAME", "root"),
        ("ETCD_AUTH_PASSWORD", ETCD_PASSWORD),
    ]);

    // A token, over TLS.
    let nats = Server::nats_with(
        &dir,
        "nats-token",
        &format!(
            "{}\nauthorization {{\n  token: \"{NATS_TOKEN}\"\n}}",
            nats_tls(&certs)
        ),
        true,
    );
    let mut good = etcd_user.clone();
    good.extend(nats_tls_env(&certs));
    good.extend(env(&[
        ("NATS_SERVER", &nats.url()),
        ("NATS_AUTH_TOKEN", NATS_TOKEN),
    ]));
    serve_and_check(&dir, &good, &[NATS_TOKEN, ETCD_PASSWORD]);
    let wrong_etcd: Vec<_> = good
        .iter()
        .map(|(k, v)| match k.as_str() {
            "ETCD_AUTH_PASSWORD" => (k.clone(), "not-the-etcd-password-x".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    refused(&dir, &wrong_etcd, &etcd.url(), &["not-the-etcd-password-x"]);
    drop(nats);

    // An nkey: the server knows the public key, the processes hold the seed.
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let nats = Server::nats_with(
        &dir,
        "nats-nkey",
        &format!(
            "authorization {{\n  users: [ {{ nkey: {} }} ]\n}}",
            user.public_key()
        ),
        false,
    );
    let mut good = etcd_user.clone();
    good.extend(env(&[
        ("NATS_SERVER", &nats.url()),
        ("NATS_AUTH_NKEY", &seed),
    ]));
    serve_and_check(&dir, &good, &[&seed, ETCD_PASSWORD]);
    let other = nkeys::KeyPair::new_user().seed().unwrap();
    let mut wrong = etcd_user.clone();
    wrong.extend(env(&[
        ("NATS_SERVER", &nats.url()),
        ("NATS_AUTH_NKEY", &other),
    ]));
    refused(&dir, &wrong, &nats.url(), &[&other]);
}

#[test]
fn bad_tls_and_credential_settings_exit_2_naming_the_variable_and_never_the_secret() {
    let dir = temp_dir("secure-config");
    let certs = certificates(&dir);
    let f = |name: &str| certs.join(name).display().to_string();
    let servers = [
        ("ETCD_ENDPOINTS", "http://127.0.0.1:2379"),
        ("NATS_SERVER", "tls://127.0.0.1:4222"),
    ];
    let (key, not_pem) = (f("client.key"), dir.join("not.pem"));
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let not_pem = not_pem.display().to_string();
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![("NATS_TLS_CA", "/nonexistent/ca.pem")],
            "NATS_TLS_CA: \"/nonexistent/ca.pem\": cannot read".into(),
        ),
        (
            vec![("NATS_TLS_CA", &not_pem)],
            format!("NATS_TLS_CA: {not_pem:?}: no CERTIFICATE"),
        ),
        (
            vec![("NATS_TLS_CLIENT_KEY", &key)],
            format!("NATS_TLS_CLIENT_KEY: {key:?}: a client key needs its certificate"),
        ),
        (
            vec![
                ("NATS_AUTH_TOKEN", "secret-token-x"),
                ("NATS_AUTH_USERNAME", "alice"),
                ("NATS_AUTH_PASSWORD", "secret-password-x"),
            ],
            "NATS_AUTH_TOKEN: one NATS auth mode at a time, and NATS_AUTH_USERNAME and NATS_AUTH_TOKEN are set".into(),
        ),
        (
            vec![("NATS_AUTH_NKEY", "SUsecret-not-a-seed-x")],
            "NATS_AUTH_NKEY: not an nkey seed".into(),
        ),
        (
            vec![("NATS_AUTH_CREDENTIALS_FILE", &not_pem)],
            format!("NATS_AUTH_CREDENTIALS_FILE: {not_pem:?}: not a .creds file"),
        ),
        (
            vec![("ETCD_AUTH_CA", "/nonexistent/ca.pem")],
            "ETCD_AUTH_CA: \"/nonexistent/ca.pem\": a certificate is set, but ETCD_ENDPOINTS are not https://".into(),
        ),
        (
            vec![("ETCD_AUTH_PASSWORD", "secret-password-x")],
            "ETCD_AUTH_PASSWORD: ETCD_AUTH_USERNAME must be set too".into(),
        ),
    ];
    let worker = tracewire_tests::binary("tracewire-worker");
    for (vars, want) in cases {
        let mut all = servers.to_vec();
        all.extend(vars.iter().copied());
        let out = run(worker.to_str().unwrap(), &[], &all);
        assert_eq!(out.code, Some(2), "{want}: {out:?}");
        let want = format!("tracewire: configuration error: {want}");
        assert!(out.stderr.starts_with(&want), "{want}\n{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        assert!(!out.stderr.contains("secret-"), "{}", out.stderr);
    }
}
