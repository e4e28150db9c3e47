//! `tracewire-worker`: see the crate docs of `tracewire_worker`.

use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;

use tracewire_runtime::{
    plane::{
        connect,
        distributed::{DistributedConfig, EndpointName},
        PlaneClient,
    },
    serve::{shutdown_signal, ServeOptions},
};
use tracewire_worker::{Engine, EngineArgs, MockEngine, NextHop, WorkerConfig};

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
    /// Be a prefill stage: hand each call to this decode worker (repeatable; HTTP plane) and
    /// stream its tokens back.
    #[arg(
        long = "next-worker",
        value_name = "URL",
        conflicts_with = "next_component"
    )]
    next_workers: Vec<String>,
    /// Be a prefill stage: hand each call to a worker of this component (with ETCD_ENDPOINTS
    /// and NATS_SERVER: found in etcd, called over NATS; same namespace and endpoint).
    #[arg(long, value_name = "NAME")]
    next_component: Option<String>,
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
    let next_workers = match PlaneClient::new(args.next_workers.clone()) {
        Ok(plane) => plane,
        Err(e) => {
            eprintln!("tracewire-worker: --next-worker: {e}");
            return ExitCode::from(2);
        }
    };
    match (
        &distributed,
        args.next_workers.is_empty(),
        &args.next_component,
    ) {
        (Some(_), false, _) => {
            eprintln!("tracewire-worker: --next-worker cannot be used with ETCD_ENDPOINTS and NATS_SERVER: use --next-component, found in etcd");
            return ExitCode::from(2);
        }
        (None, _, Some(_)) => {
            eprintln!("tracewire-worker: --next-component needs ETCD_ENDPOINTS and NATS_SERVER (the next workers are found in etcd); on the HTTP plane use --next-worker URL");
            return ExitCode::from(2);
        }
        _ => {}
    }
    let next_name = args.next_component.map(|component| EndpointName {
        namespace: config.namespace.clone(),
        component,
        endpoint: config.endpoint.clone(),
    });
    let prefill = !args.next_workers.is_empty();
    tracewire_runtime::serve::run_main("worker", || async move {
        let engine: Arc<dyn Engine> = match (next_name, &distributed) {
            (Some(name), Some(config)) => {
                let plane = connect::discover(config, name, "tracewire-worker").await?;
                Arc::new(NextHop::new(Arc::new(plane)))
            }
            _ if prefill => Arc::new(NextHop::new(Arc::new(next_workers))),
            _ => Arc::new(MockEngine::new(&config)),
        };
        tracewire_worker::run(
            config,
            engine,
            args.listen,
            options,
            distributed,
            shutdown_signal(),
        )
        .await
    })
}
