//! Serving an axum `Router` until SIGTERM or SIGINT, then draining: stop accepting, let in-flight
//! requests finish for a bounded time, and return so that `main` drops the logging guard and
//! every line is flushed.

use std::{future::Future, process::ExitCode, time::Duration};

use axum::serve::ListenerExt;
use tokio::{net::TcpListener, sync::watch};
use tracing::{error, info, warn};

/// A service's `main` after its flags are parsed: starts the Tokio runtime, initialises logging
/// inside it (exit status 2 and one line on a configuration error), runs `service`, and logs
/// "`<name>` stopped" (exit 0) or "`<name>` failed" (exit 1). The logging guard is dropped before
/// the runtime, so the last lines and spans go out while export can still run.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     tracewire_runtime::serve::run_main("my-service", || async {
///         let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///         let app = axum::Router::new();
///         tracewire_runtime::serve::serve(listener, app, tracewire_runtime::serve::shutdown_signal(), tracewire_runtime::serve::DEFAULT_DRAIN).await
///     })
/// }
/// ```
pub fn run_main<F, Fut>(name: &str, service: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let entered = runtime.enter();
    let guard = crate::logging::init_or_exit();
    let code = match runtime.block_on(service()) {
        Ok(()) => {
            info!("{name} stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!(error = %e, "{name} failed");
            ExitCode::FAILURE
        }
    };
    drop(guard);
    drop(entered);
    code
}

/// A `--listen` flag's value: `HOST:PORT`, the port from 0 to 65535 (0 picks a free one),
/// resolved when the flags are read, so that a bad address is a flag error (exit 2) rather than
/// a failure once the service runs.
///
/// ```
/// use tracewire_runtime::serve::parse_listen;
/// assert_eq!(parse_listen("127.0.0.1:8080").unwrap().port(), 8080);
/// assert!(parse_listen("0.0.0.0:99999").unwrap_err().contains("HOST:PORT"));
/// ```
pub fn parse_listen(value: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let expected = "expected HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8080";
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("{value:?}: {expected}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{value:?}: port {port:?}: {expected}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{value:?}: cannot resolve {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{value:?}: {host:?} resolves to no address"))
}

/// Binds `addr`; the error names it (the OS's alone does not).
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// How long in-flight requests may take to finish after a shutdown signal, by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C), and says which.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            warn!("cannot listen for SIGTERM/SIGINT; stop the process with SIGKILL");
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(
            signal = name,
            "shutting down: no new connections, finishing in-flight requests"
        );
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        info!(
            signal = "ctrl-c",
            "shutting down: no new connections, finishing in-flight requests"
        );
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits up to `drain` for in-flight
/// requests (streams included) to finish.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, mut stopping) = watch::channel(false);
    // Responses are streamed in small frames: without TCP_NODELAY, Nagle's algorithm holds each
    // one until the peer's delayed ACK (about 40 ms) arrives.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    });
    let deadline = async move {
        if stopping.wait_for(|s| *s).await.is_ok() {
            tokio::time::sleep(drain).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = deadline => {
            warn!(drain_ms = drain.as_millis() as u64, "in-flight requests did not finish in time; stopping anyway");
            Ok(())
        }
    }
}
