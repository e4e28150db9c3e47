//! `tracewire-frontend`: see the crate docs of `tracewire_frontend`.

use std::{process::ExitCode, sync::Arc, time::Duration};

use clap::Parser;
use tokio::{net::TcpListener, sync::oneshot};
use tracewire_runtime::{plane::PlaneClient, serve};
use tracewire_worker::{BoundWorker, WorkerConfig};
use tracing::{error, info};

/// OpenAI-style HTTP frontend. With no --worker it runs one worker inside its own process,
/// reached over loopback through the same request plane.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the bound address is logged).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// A worker's base URL, e.g. http://127.0.0.1:9090; repeat for round-robin over several.
    #[arg(long = "worker")]
    workers: Vec<String>,
    /// Embedded worker only: the model it serves.
    #[arg(long, default_value = "Qwen/Qwen3-0.6B")]
    model: String,
    /// Embedded worker only: pause between tokens, in milliseconds.
    #[arg(long, default_value_t = 10)]
    token_delay_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _guard = tracewire_runtime::logging::init_or_exit();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "frontend failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let listener = TcpListener::bind(&args.listen).await?;
    let (mut urls, mut embedded) = (args.workers, None);
    if urls.is_empty() {
        let config = WorkerConfig {
            model: args.model,
            token_delay: Duration::from_millis(args.token_delay_ms),
            ..WorkerConfig::default()
        };
        let worker = BoundWorker::bind(config, "127.0.0.1:0").await?;
        let addr = worker.local_addr()?;
        info!(addr = %addr, "embedded worker listening");
        urls.push(format!("http://{addr}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.serve(async move {
            let _ = stopped.await;
        }));
        embedded = Some((stop, task));
    }
    let plane = Arc::new(PlaneClient::new(urls));
    info!(addr = %listener.local_addr()?, workers = ?plane.worker_urls().collect::<Vec<_>>(), "frontend listening");
    let served = serve::serve(
        listener,
        tracewire_frontend::app(plane),
        serve::shutdown_signal(),
        serve::DEFAULT_DRAIN,
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
    info!("frontend stopped");
    served
}
