//! `tracewire-frontend`: see the crate docs of `tracewire_frontend`.

use std::{process::ExitCode, sync::Arc};

use clap::Parser;
use tokio::sync::oneshot;
use tracewire_runtime::{
    plane::{
        connect,
        distributed::{DistributedConfig, EndpointName},
        PlaneClient,
    },
    serve::{self, ServeOptions},
};
use tracewire_worker::{BoundWorker, EngineArgs, WorkerConfig};
use tracing::{error, info};

/// OpenAI-style HTTP frontend. With no --worker it runs one worker inside its own process,
/// reached over loopback through the same request plane.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the bound address is logged).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = serve::parse_listen)]
    listen: std::net::SocketAddr,
    /// A worker's base URL, e.g. http://127.0.0.1:9090; repeat for round-robin over several.
    #[arg(long = "worker")]
    workers: Vec<String>,
    /// The embedded worker's engine (ignored with --worker).
    #[command(flatten)]
    engine: EngineArgs,
    /// With ETCD_ENDPOINTS and NATS_SERVER: the `namespace` of the workers to discover.
    #[arg(long, default_value = "dynamo")]
    namespace: String,
    /// With ETCD_ENDPOINTS and NATS_SERVER: their `component`.
    #[arg(long, default_value = "backend")]
    component: String,
    /// With ETCD_ENDPOINTS and NATS_SERVER: their endpoint.
    #[arg(long, default_value = "generate")]
    endpoint: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let plane = match PlaneClient::new(args.workers.clone()) {
        Ok(plane) => plane,
        Err(e) => {
            eprintln!("tracewire-frontend: {e}");
            return ExitCode::from(2);
        }
    };
    let (options, distributed) = match (ServeOptions::from_env(), DistributedConfig::from_env()) {
        (Ok(options), Ok(distributed)) => (options, distributed),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("tracewire: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if distributed.is_some() && !args.workers.is_empty() {
        eprintln!("tracewire-frontend: --worker cannot be used with ETCD_ENDPOINTS and NATS_SERVER: workers are discovered in etcd");
        return ExitCode::from(2);
    }
    tracewire_runtime::serve::run_main("frontend", || run(args, plane, options, distributed))
}

async fn run(
    args: Args,
    mut plane: PlaneClient,
    options: ServeOptions,
    distributed: Option<DistributedConfig>,
) -> std::io::Result<()> {
    let listener = serve::bind(args.listen).await?;
    let mut embedded = None;
    if let Some(config) = &distributed {
        let name = EndpointName {
            namespace: args.namespace.clone(),
            component: args.component.clone(),
            endpoint: args.endpoint.clone(),
        };
        plane = connect::discover(config, name, "tracewire-frontend").await?;
    } else if args.workers.is_empty() {
        let config = args.engine.apply(WorkerConfig::default());
        let worker = BoundWorker::bind(config, ([127, 0, 0, 1], 0).into()).await?;
        let addr = worker.local_addr()?;
        info!(addr = %addr, "embedded worker listening");
        plane = PlaneClient::new([format!("http://{addr}")]).map_err(std::io::Error::other)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.serve(
            async move {
                let _ = stopped.await;
            },
            options,
        ));
        embedded = Some((stop, task));
    }
    let plane = Arc::new(plane);
    info!(addr = %listener.local_addr()?, workers = ?plane.worker_urls(), "frontend listening");
    let served = serve::serve(
        listener,
        tracewire_frontend::app(plane),
        serve::shutdown_signal(),
        options,
    )
    .await;
    // The embedded worker stops after the frontend has drained, so in-flight requests finish.
    if let Some((stop, task)) = embedded {
        let _ = stop.send(());
        match task.await {
            Ok(Err(e)) => error!(error = %e, "embedded worker failed"),
            Err(e) => error!(error = %e, "embedded worker task failed"),
            Ok(Ok(())) => {}
        }
    }
    served
}
