//! A service's `main`: the runtime, logging, the service, its exit status.

use std::{future::Future, process::ExitCode};

use tracing::{error, info};

/// A service's `main` after its flags are parsed: starts the Tokio runtime, initialises logging
/// inside it (exit status 2 and one line on a configuration error), starts the system server
/// when `DYN_SYSTEM_PORT` asks for one and re-reads the configuration's filters on SIGHUP,
/// runs `service`, and logs
/// "`<name>` stopped" (exit 0) or "`<name>` failed" (exit 1). The logging guard is dropped before
/// the runtime, so the last lines and spans go out while export can still run.
///
/// ```no_run
/// use tracewire_runtime::serve::{bind, run_main, serve, shutdown_signal, ServeOptions};
/// fn main() -> std::process::ExitCode {
///     run_main("my-service", || async {
///         let listener = bind(([127, 0, 0, 1], 0).into()).await?;
///         let app = axum::Router::new();
///         serve(listener, app, shutdown_signal(), ServeOptions::default()).await
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
    let system = super::SystemOptions::from_env().unwrap_or_else(|e| {
        eprintln!("tracewire: configuration error: {e}");
        std::process::exit(2)
    });
    let code = match runtime.block_on(run_service(name, system, service)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    };
    drop(guard);
    drop(entered);
    code
}

/// What [`run_main`] runs once logging is set up, for a host that owns the runtime and the
/// logging itself (the Python package): re-reads the filters on SIGHUP, starts the system
/// server with `system`, runs `service`, and logs "`<name>` stopped" or "`<name>` failed".
pub async fn run_service<F, Fut>(
    name: &str,
    system: Option<super::SystemOptions>,
    service: F,
) -> std::io::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let run = async {
        super::reload_on_sighup();
        if let Some(options) = system {
            super::start_system_server(options).await?;
        }
        service().await
    };
    let result = run.await;
    match &result {
        Ok(()) => info!("{name} stopped"),
        Err(e) => error!(error = %e, "{name} failed"),
    }
    result
}
