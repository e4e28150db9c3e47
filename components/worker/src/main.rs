//! `tracewire-worker`: see the crate docs of `tracewire_worker`.

use std::process::ExitCode;

use clap::Parser;
use tracewire_worker::{BoundWorker, EngineArgs, WorkerConfig};

/// Serves the generate endpoint of a mock engine that streams the prompt's words back.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the bound address is logged).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// `namespace` of the handle_payload span.
    #[arg(long, default_value = "dynamo")]
    namespace: String,
    /// `component` of the handle_payload span.
    #[arg(long, default_value = "backend")]
    component: String,
    /// Endpoint name, served at POST /<endpoint>.
    #[arg(long, default_value = "generate")]
    endpoint: String,
    #[command(flatten)]
    engine: EngineArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The runtime first: OTLP export runs on it, and the logging guard (declared after, so
    // dropped before it) sends the last spans while it still runs.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tracewire-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _entered = runtime.enter();
    let _guard = tracewire_runtime::logging::init_or_exit();
    let config = WorkerConfig {
        namespace: args.namespace,
        component: args.component,
        endpoint: args.endpoint,
        ..WorkerConfig::default()
    }
    .with_engine(&args.engine);
    runtime.block_on(async {
        let worker = match BoundWorker::bind(config.clone(), &args.listen).await {
            Ok(worker) => worker,
            Err(e) => {
                tracing::error!(listen = args.listen, error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let addr = worker
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(
            addr,
            model = config.model,
            endpoint = config.endpoint,
            "worker listening"
        );
        match worker
            .serve(tracewire_runtime::serve::shutdown_signal())
            .await
        {
            Ok(()) => {
                tracing::info!("worker stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "worker failed");
                ExitCode::FAILURE
            }
        }
    })
}
