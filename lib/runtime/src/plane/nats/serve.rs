//! The worker's side of the NATS plane: a message on the subject of its instance is a call,
//! continued in a `handle_payload` span from its headers and answered on its reply subject,
//! one protocol line per message.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::{Client, Message};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, trace, warn, Instrument};

use crate::{
    plane::{
        etcd::Instance,
        nats::connection::NATS_TARGET,
        worker::{
            generation::{
                count_call, handle_payload_span, parse, spawn_generation, worker, Worker,
                WORKER_TARGET,
            },
            Engine, WorkerConfig,
        },
        WorkerMessage,
    },
    serve::Shutdown,
    wire,
};

/// Serves `config`'s endpoint on the NATS plane: a message on the subject of `instance` is a
/// call, continued in a `handle_payload` span from its headers and answered on its reply
/// subject, one protocol line per message. Until `shutdown`; then, as the HTTP server does,
/// lets the calls in flight finish for 10 s and ends the rest, each closing its span.
pub async fn serve_nats(
    config: WorkerConfig,
    engine: Arc<dyn Engine>,
    client: async_nats::Client,
    instance: watch::Receiver<Instance>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    // The instance it is now: a new lease (etcd lost the old one) is a new instance id.
    let current = instance.clone();
    let serving = std::sync::Mutex::new(worker(
        WorkerConfig {
            instance_id: Some(current.borrow().instance_id),
            ..config.clone()
        },
        Arc::clone(&engine),
    ));
    let handle = Shutdown::new();
    let calls = (client.clone(), handle.clone());
    subscribe_calls(client, instance, shutdown, move |message| {
        let worker = {
            let mut serving = serving
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let id = current.borrow().instance_id;
            if serving.config.instance_id != Some(id) {
                *serving = worker(
                    WorkerConfig {
                        instance_id: Some(id),
                        ..config.clone()
                    },
                    Arc::clone(&engine),
                );
            }
            Arc::clone(&serving)
        };
        let (client, handle) = calls.clone();
        let call = nats_call(worker, client, handle.clone(), message);
        handle.spawn(call);
    })
    .await
    .map_err(std::io::Error::other)?;
    if tokio::time::timeout(DRAIN, handle.tasks_done())
        .await
        .is_err()
    {
        handle.pass_deadline();
        let _ = tokio::time::timeout(Duration::from_secs(5), handle.tasks_done()).await;
    }
    Ok(())
}

/// How long calls in flight may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// One call over NATS.
async fn nats_call(
    worker: Arc<Worker>,
    client: async_nats::Client,
    shutdown: Shutdown,
    message: async_nats::Message,
) {
    let start = Instant::now();
    let Some(reply) = message.reply.clone() else {
        warn!(target: WORKER_TARGET, subject = %message.subject, "a generate call without a reply subject; dropped");
        return;
    };
    let none = async_nats::HeaderMap::new();
    let span = handle_payload_span(&worker.info, message.headers.as_ref().unwrap_or(&none));
    let parsed = span.in_scope(|| {
        debug!(target: wire::REQUEST, subject = %message.subject, headers = %wire::Headers(message.headers.as_ref().unwrap_or(&none)), "received generate call");
        trace!(target: wire::REQUEST, body = %message.payload.escape_ascii(), "generate call body");
        parse(&worker, &message.payload)
    });
    let request = match parsed {
        Ok(request) => request,
        Err(e) => {
            span.record("outcome", "client_error");
            count_call(&worker.info, "client_error", start);
            let refused = WorkerMessage::Error { message: e.message };
            let _ = client.publish(reply, refused.to_line()).await;
            return;
        }
    };
    let (tx, mut lines) = mpsc::channel(16);
    spawn_generation(worker, request, &shutdown, span.clone(), start, tx);
    async move {
        while let Some(line) = lines.recv().await {
            if let Err(e) = client.publish(reply.clone(), line).await {
                debug!(target: wire::TRANSPORT, error = %e, "cannot answer on NATS");
                break;
            }
        }
        let _ = client.flush().await;
    }
    .instrument(span)
    .await;
}

/// Subscribes to the subject of `instance` (and of the instance it becomes, if it registers again)
/// until `shutdown` resolves; `handle` gets each message (and spawns what answers it).
async fn subscribe_calls(
    client: Client,
    mut instance: watch::Receiver<Instance>,
    shutdown: impl Future<Output = ()>,
    handle: impl Fn(Message),
) -> Result<(), async_nats::SubscribeError> {
    tokio::pin!(shutdown);
    loop {
        let subject = instance.borrow_and_update().subject.clone();
        let mut messages = client.subscribe(subject.clone()).await?;
        info!(target: NATS_TARGET, subject, "serving on NATS");
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    let _ = messages.unsubscribe().await;
                    return Ok(());
                }
                changed = instance.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let _ = messages.unsubscribe().await;
                    break;
                }
                message = messages.next() => match message {
                    Some(message) => handle(message),
                    None => break,
                },
            }
        }
    }
}
