//! The system server (SPEC §8): a small HTTP server in every process that [`run_main`]
//! starts when `DYN_SYSTEM_PORT` is set, for probes, metrics and log filters changed at runtime.
//!
//! | request | answer |
//! |---|---|
//! | `GET /live` | 200 while the process runs |
//! | `GET /health` | 200 `{"status":"ready"}` while [`serve`](super::serve) serves; 503 `{"status":"notready"}` before and from the shutdown signal on |
//! | `GET /metrics` | the Prometheus text format ([`crate::metrics`]) |
//! | `GET /logging` | `filter`, `jsonl`, `span_events`, `request_level`, `capture` |
//! | `PUT /logging/filter` | directives in `DYN_LOG` syntax on top of the startup filter; 400 with `DYN_LOG`'s error text for a bad one |
//! | `DELETE /logging/filter` | back to the startup filter |
//!
//! With `DYN_SYSTEM_TOKEN` set, `PUT` and `DELETE` need `Authorization: Bearer <token>`; a
//! server on an address other than loopback without a token is a configuration error.
//!
//! [`run_main`]: super::run_main

use std::{
    net::{IpAddr, SocketAddr},
    sync::atomic::{AtomicBool, Ordering},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;
use tracing::{error, info};

use crate::{
    logging::{filter_handle, Config},
    metrics::metrics,
    settings::{
        env::{self, Lookup},
        ConfigError, Origin, Secret,
    },
};

/// Whether a server is serving, and whether the process is shutting down: `/health`.
static SERVING: AtomicBool = AtomicBool::new(false);
static STOPPING: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_serving() {
    SERVING.store(true, Ordering::Relaxed);
}

pub(crate) fn set_stopping() {
    STOPPING.store(true, Ordering::Relaxed);
}

fn ready() -> bool {
    SERVING.load(Ordering::Relaxed) && !STOPPING.load(Ordering::Relaxed)
}

/// Where the system server listens and what protects its changes.
#[derive(Clone, PartialEq, Eq)]
pub struct SystemOptions {
    /// `DYN_SYSTEM_HOST`:`DYN_SYSTEM_PORT` (port 0: any free one).
    pub addr: SocketAddr,
    /// `DYN_SYSTEM_TOKEN`: needed by `PUT` and `DELETE`.
    pub token: Option<String>,
}

impl std::fmt::Debug for SystemOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemOptions")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl SystemOptions {
    /// From the environment: `None` when `DYN_SYSTEM_PORT` is not set.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(&env::process_env)
    }

    /// From `lookup`.
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Option<Self>, ConfigError> {
        let Some(port) = lookup(env::DYN_SYSTEM_PORT).filter(|p| !p.trim().is_empty()) else {
            return Ok(None);
        };
        let port = port.trim().parse::<u16>().map_err(|_| {
            ConfigError::invalid(
                Origin::Env(env::DYN_SYSTEM_PORT),
                &port,
                "expected a port from 0 to 65535 (0: any free port)",
            )
        })?;
        let host = lookup(env::DYN_SYSTEM_HOST).unwrap_or_else(|| "127.0.0.1".to_owned());
        let ip = host.trim().parse::<IpAddr>().map_err(|_| {
            ConfigError::invalid(
                Origin::Env(env::DYN_SYSTEM_HOST),
                &host,
                "expected an IP address (127.0.0.1, 0.0.0.0, ::1)",
            )
        })?;
        let token = lookup(env::DYN_SYSTEM_TOKEN).filter(|t| !t.is_empty());
        if !ip.is_loopback() && token.is_none() {
            return Err(ConfigError::invalid(
                Origin::Env(env::DYN_SYSTEM_HOST),
                &host,
                "a system server on an address other than loopback needs DYN_SYSTEM_TOKEN (it can change log filters)",
            ));
        }
        Ok(Some(SystemOptions {
            addr: SocketAddr::new(ip, port),
            token,
        }))
    }
}

/// Binds the system server and serves it on the current runtime until the process ends;
/// returns its address, also logged at INFO (`system server listening`, `addr`).
pub async fn start_system_server(options: SystemOptions) -> std::io::Result<SocketAddr> {
    let listener = super::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    info!(addr = %addr, "system server listening");
    let app = Router::new()
        .route("/live", get(|| async { Json(json!({"status": "live"})) }))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/logging", get(logging))
        .route(
            "/logging/filter",
            axum::routing::put(put_filter).delete(delete_filter),
        )
        .with_state(options.token.as_deref().and_then(Secret::new));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "the system server stopped");
        }
    });
    Ok(addr)
}

/// Re-reads the configuration file on SIGHUP and applies its filters (with `DYN_LOG` on top);
/// a file that does not parse is an ERROR line and changes nothing.
pub fn reload_on_sighup() {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(handle) = filter_handle() else {
                continue;
            };
            match Config::from_env().map(|c| handle.reload(c.logging.filter)) {
                Ok(filter) => info!(filter, "configuration re-read on SIGHUP"),
                Err(e) => {
                    error!(error = %e, "configuration not re-read on SIGHUP; the old one stays")
                }
            }
        }
    });
}

async fn health() -> Response {
    if ready() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "notready"})),
        )
            .into_response()
    }
}

async fn metrics_text() -> Response {
    // The HTTP metrics register themselves on first use: here, so that a scrape shows them
    // before the first request, as the dashboard expects (the request plane's register when
    // its client or a worker is made).
    crate::http::metrics::http_metrics();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics().encode(),
    )
        .into_response()
}

async fn logging() -> Response {
    let Some(handle) = filter_handle() else {
        return no_logging();
    };
    let (jsonl, span_events) = handle.output();
    let scope = handle.scope();
    let level = |l: tracing::Level| l.as_str().to_ascii_lowercase();
    Json(json!({
        "filter": handle.current(),
        "jsonl": jsonl,
        "span_events": span_events,
        "request_level": scope.request_level.map(level),
        "capture": scope.capture.map(|c| json!({
            "level": level(c.level),
            "max_lines": c.max_lines,
            "max_bytes": c.max_bytes,
            "total_bytes": c.total_bytes,
        })),
        "rate_limit": scope.rate_limit,
    }))
    .into_response()
}

type Token = Option<Secret>;

/// Whether `headers` carry the token, when one is set. Compared in constant time.
fn authorised(token: &Token, headers: &HeaderMap) -> bool {
    let Some(token) = token else { return true };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    token.matches(given.as_bytes())
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({"error": "this change needs Authorization: Bearer <DYN_SYSTEM_TOKEN>"})),
    )
        .into_response()
}

fn no_logging() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "logging is not initialised in this process"})),
    )
        .into_response()
}

/// The largest filter body accepted.
const MAX_FILTER: usize = 64 * 1024;

async fn put_filter(State(token): State<Token>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&token, &headers) {
        return unauthorised();
    }
    let Some(handle) = filter_handle() else {
        return no_logging();
    };
    let text = match std::str::from_utf8(&body) {
        Ok(text) if body.len() <= MAX_FILTER && !text.trim().is_empty() => text,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "expected directives in DYN_LOG syntax, as UTF-8 text of at most 64 KiB"})),
            )
                .into_response()
        }
    };
    match handle.set(text.trim()) {
        Ok(filter) => Json(json!({"filter": filter})).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn delete_filter(State(token): State<Token>, headers: HeaderMap) -> Response {
    if !authorised(&token, &headers) {
        return unauthorised();
    }
    let Some(handle) = filter_handle() else {
        return no_logging();
    };
    Json(json!({"filter": handle.reset()})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<SystemOptions>, String> {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SystemOptions::from_lookup(&|n| map.get(n).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn options() {
        assert_eq!(from(&[]).unwrap(), None);
        let o = from(&[("DYN_SYSTEM_PORT", "0")]).unwrap().unwrap();
        assert_eq!(o.addr, "127.0.0.1:0".parse().unwrap());
        assert!(from(&[("DYN_SYSTEM_PORT", "http")])
            .unwrap_err()
            .starts_with("DYN_SYSTEM_PORT: \"http\": expected a port"));
        let err = from(&[("DYN_SYSTEM_PORT", "9000"), ("DYN_SYSTEM_HOST", "0.0.0.0")]).unwrap_err();
        assert!(err.contains("needs DYN_SYSTEM_TOKEN"), "{err}");
        let o = from(&[
            ("DYN_SYSTEM_PORT", "9000"),
            ("DYN_SYSTEM_HOST", "0.0.0.0"),
            ("DYN_SYSTEM_TOKEN", "t0ken"),
        ])
        .unwrap()
        .unwrap();
        assert!(!format!("{o:?}").contains("t0ken"));
    }

    #[test]
    fn the_token_must_match_exactly() {
        let token: Token = Secret::new("t0ken");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            authorised(&token, &h)
        };
        assert!(with("Bearer t0ken"));
        assert!(!with("Bearer t0ke"));
        assert!(!with("Bearer t0kenx"));
        assert!(!with("t0ken"));
        assert!(!authorised(&token, &HeaderMap::new()));
        assert!(authorised(&None, &HeaderMap::new()));
    }
}
