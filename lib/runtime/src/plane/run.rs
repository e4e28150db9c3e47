//! A worker process's service, after its flags: the HTTP endpoint, and when etcd and NATS are
//! configured, the registration and the NATS plane too. `tracewire-worker` and the Python
//! package's `serve_worker` both run this.

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::sync::watch;

use super::{
    connect::connect,
    distributed::{DistributedConfig, EndpointName},
    etcd,
    http::BoundWorker,
    nats::serve_nats,
    worker::{Engine, WorkerConfig},
};
use crate::serve::ServeOptions;

/// Serves `config`'s endpoint with `engine` until `shutdown` resolves: over HTTP on `listen`
/// (logging `worker listening` with the bound address), and with `distributed`, registered in
/// etcd under a kept-alive lease (the instance id) and called over NATS. At `shutdown` the
/// registration is deleted first, so that frontends stop sending, then calls in flight drain.
pub async fn run_worker(
    config: WorkerConfig,
    engine: Arc<dyn Engine>,
    listen: SocketAddr,
    options: ServeOptions,
    distributed: Option<DistributedConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One signal, two servers: the HTTP one and, when configured, the NATS plane.
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let signalled = |mut stopping: watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let Some(distributed) = distributed else {
        let worker = BoundWorker::bind_with(config.clone(), engine, listen).await?;
        listening(&worker, &config)?;
        return worker.serve(signalled(stopping), options).await;
    };
    let name = EndpointName {
        namespace: config.namespace.clone(),
        component: config.component.clone(),
        endpoint: config.endpoint.clone(),
    };
    let (nats, etcd_client) = connect(&distributed, "tracewire-worker").await?;
    let registered =
        etcd::Registered::register(etcd_client, &distributed, name, config.model.clone())
            .await
            .map_err(|e| {
                std::io::Error::other(format!(
                    "cannot register in etcd at {}: {e}",
                    distributed.etcd_endpoints.join(",")
                ))
            })?;
    let instance = registered.current();
    let config = WorkerConfig {
        instance_id: Some(instance.borrow().instance_id),
        ..config
    };
    let worker = BoundWorker::bind_with(config.clone(), Arc::clone(&engine), listen).await?;
    listening(&worker, &config)?;
    let http = tokio::spawn(worker.serve(signalled(stopping.clone()), options));
    // Deregistered first at the signal, so that frontends stop sending; then drained.
    let signal = signalled(stopping.clone());
    let deregistered = async move {
        signal.await;
        registered.deregister().await;
    };
    let (served, ()) = tokio::join!(
        serve_nats(config, engine, nats.client, instance, signalled(stopping)),
        deregistered
    );
    let http = http.await.map_err(std::io::Error::other)?;
    served.and(http)
}

fn listening(worker: &BoundWorker, config: &WorkerConfig) -> std::io::Result<()> {
    let addr = worker.local_addr()?.to_string();
    tracing::info!(
        target: "tracewire_runtime::plane::worker::run",
        addr,
        model = config.model,
        endpoint = config.endpoint,
        instance_id = config.instance_id,
        "worker listening"
    );
    Ok(())
}
