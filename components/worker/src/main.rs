//! `tracewire-worker`: see the crate docs of `tracewire_worker`.

use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;

use tracewire_runtime::{
    plane::distributed::DistributedConfig,
    serve::{shutdown_signal, ServeOptions},
};
use tracewire_worker::{EngineArgs, MockEngine, WorkerConfig};

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
    let config = args.engine.apply(WorkerConfig {
        namespace: args.namespace,
        component: args.component,
        endpoint: args.endpoint,
        ..WorkerConfig::default()
    });
    let (options, distributed) = match (ServeOptions::from_env(), DistributedConfig::from_env()) {
        (Ok(options), Ok(distributed)) => (options, distributed),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("tracewire: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = Arc::new(MockEngine::new(&config));
    tracewire_runtime::serve::run_main("worker", || {
        tracewire_worker::run(
            config,
            engine,
            args.listen,
            options,
            distributed,
            shutdown_signal(),
        )
    })
}
