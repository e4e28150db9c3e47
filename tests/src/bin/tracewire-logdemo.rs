//! A small program that logs like one request through a service, configured only by the
//! environment: the end-to-end tests run it under different settings and read what it prints.
//!
//! Usage: `tracewire-logdemo [X_REQUEST_ID]`

use tracewire_runtime::{logging, trace::RemoteContext};
use tracing::{debug, info, info_span, warn};

fn main() {
    let guard = logging::init_or_exit();
    info!(version = env!("CARGO_PKG_VERSION"), "demo starting");
    let request_id = std::env::args().nth(1);
    let remote = RemoteContext {
        x_request_id: request_id.map(Into::into),
        ..RemoteContext::default()
    };
    let span = info_span!(
        "http-request",
        remote_parent = remote.field(),
        method = "POST",
        uri = "/v1/chat/completions",
        status = tracing::field::Empty
    );
    span.in_scope(|| {
        info!(model = "Qwen/Qwen3-0.6B", "request received");
        let engine = info_span!("generate", tokens = 3_u64);
        engine.in_scope(|| {
            debug!(step = 1, "decoding");
            log::info!(target: "engine.py", "bridged from the log crate");
            warn!(latency_ms = 12.5, "slow token");
        });
    });
    span.record("status", 200);
    span.in_scope(|| info!(status = 200, "request completed"));
    drop(span);
    info!(dropped = guard.dropped(), "demo done");
}
