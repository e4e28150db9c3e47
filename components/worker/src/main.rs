//! `tracewire-worker`: see the crate docs of `tracewire_worker`.

use std::process::ExitCode;

use clap::Parser;
use tokio::sync::watch;
use tracewire_runtime::{
    plane::{
        distributed::{DistributedConfig, EndpointName},
        etcd, nats,
    },
    serve::{shutdown_signal, ServeOptions},
};
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
    let (options, distributed) = match (ServeOptions::from_env(), DistributedConfig::from_env()) {
        (Ok(options), Ok(distributed)) => (options, distributed),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("tracewire: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    tracewire_runtime::serve::run_main("worker", || async move {
        // One signal, two servers: the HTTP one and, when configured, the NATS plane.
        let (stop, stopping) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let signalled = |mut stopping: watch::Receiver<bool>| async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let Some(distributed) = distributed else {
            let worker = BoundWorker::bind(config.clone(), args.listen).await?;
            listening(&worker, &config)?;
            return worker.serve(signalled(stopping), options).await;
        };
        let name = EndpointName {
            namespace: config.namespace.clone(),
            component: config.component.clone(),
            endpoint: config.endpoint.clone(),
        };
        let client = nats::connect(&distributed.nats_server, "tracewire-worker")
            .await
            .map(|connection| connection.client)
            .map_err(|e| {
                std::io::Error::other(format!(
                    "cannot connect to NATS at {}: {e}",
                    distributed.nats_server
                ))
            })?;
        let etcd_client = etcd::connect(&distributed).await.map_err(|e| {
            std::io::Error::other(format!(
                "cannot connect to etcd at {:?}: {e}",
                distributed.etcd_endpoints
            ))
        })?;
        let registered =
            etcd::Registered::register(etcd_client, &distributed, name, config.model.clone())
                .await
                .map_err(|e| std::io::Error::other(format!("cannot register in etcd: {e}")))?;
        let instance = registered.current();
        let config = WorkerConfig {
            instance_id: Some(instance.borrow().instance_id),
            ..config
        };
        let worker = BoundWorker::bind(config.clone(), args.listen).await?;
        listening(&worker, &config)?;
        let http = tokio::spawn(worker.serve(signalled(stopping.clone()), options));
        // Deregistered first at the signal, so that frontends stop sending; then drained.
        let signal = signalled(stopping.clone());
        let deregistered = async move {
            signal.await;
            registered.deregister().await;
        };
        let (served, ()) = tokio::join!(
            tracewire_worker::serve_nats(config, client, instance, signalled(stopping)),
            deregistered
        );
        let http = http.await.map_err(std::io::Error::other)?;
        served.and(http)
    })
}

fn listening(worker: &BoundWorker, config: &WorkerConfig) -> std::io::Result<()> {
    let addr = worker.local_addr()?.to_string();
    tracing::info!(
        addr,
        model = config.model,
        endpoint = config.endpoint,
        instance_id = config.instance_id,
        "worker listening"
    );
    Ok(())
}
