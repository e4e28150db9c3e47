//! `tracewire-worker`: see the crate docs of `tracewire_worker`.

use std::process::ExitCode;

use clap::Parser;
use tracewire_runtime::serve::ServeOptions;
use tracewire_worker::{BoundWorker, EngineArgs, WorkerConfig};

/// Serves the generate endpoint of a mock engine that streams the prompt's words back.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the bound address is logged).
    #[arg(long, default_value = "127.0.0.1:9090", value_parser = tracewire_runtime::serve::parse_listen)]
    listen: std::net::SocketAddr,
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
    let config = WorkerConfig {
        namespace: args.namespace,
        component: args.component,
        endpoint: args.endpoint,
        ..WorkerConfig::default()
    }
    .with_engine(&args.engine);
    let options = match ServeOptions::from_env() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("tracewire: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    tracewire_runtime::serve::run_main("worker", || async move {
        let worker = BoundWorker::bind(config.clone(), args.listen).await?;
        let addr = worker.local_addr()?.to_string();
        tracing::info!(
            addr,
            model = config.model,
            endpoint = config.endpoint,
            "worker listening"
        );
        worker
            .serve(tracewire_runtime::serve::shutdown_signal(), options)
            .await
    })
}
