//! What every transport of the worker shares: the served endpoint ([`WorkerConfig`], what it
//! says of itself), the `handle_payload` span of a call, and the generation: the protocol's
//! lines for any [`Engine`], a token line per token, then `done`, or `error` (with an ERROR
//! line) if the engine fails; the caller leaving, or the drain deadline, stops the engine at
//! once. HTTP and NATS only carry the call in and the lines out.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{body::Bytes, http::StatusCode};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{error, field::Empty, info, info_span, warn, Instrument, Span};

use super::engine::{Engine, Step};
use crate::{
    logging::{client_logs, ClientLogs},
    plane::{
        metrics::plane_metrics, protocol::LogLine, GenerateRequest, TokenTimes, WorkerInfo,
        WorkerMessage,
    },
    propagation::{continue_trace, Extractor},
    serve::Shutdown,
};

/// The target of the worker's lines and of its `handle_payload` span, whichever transport
/// carried the call: the module they were written in before the transports had files of their
/// own (a filter or a log pipeline may name it).
pub(crate) const WORKER_TARGET: &str = "tracewire_runtime::plane::worker";

/// The largest generate request accepted.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// What the worker serves and how fast.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `namespace` span field.
    pub namespace: String,
    /// `component` span field.
    pub component: String,
    /// Endpoint name and path (`POST /<endpoint>`).
    pub endpoint: String,
    /// The model name it answers to.
    pub model: String,
    /// Pause between tokens.
    pub token_delay: Duration,
    /// The instance id (its etcd lease, on the NATS plane); random if `None`.
    pub instance_id: Option<i64>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            namespace: "dynamo".into(),
            component: "backend".into(),
            endpoint: "generate".into(),
            model: "Qwen/Qwen3-0.6B".into(),
            token_delay: Duration::from_millis(10),
            instance_id: None,
        }
    }
}

pub(crate) struct Worker {
    pub(crate) config: WorkerConfig,
    pub(crate) info: WorkerInfo,
    engine: Arc<dyn Engine>,
}

/// The served endpoint of `config`, generating with `engine`.
pub(crate) fn worker(config: WorkerConfig, engine: Arc<dyn Engine>) -> Arc<Worker> {
    // Registered now, so that a scrape shows them before the first call.
    plane_metrics();
    let info = WorkerInfo {
        model: config.model.clone(),
        namespace: config.namespace.clone(),
        component: config.component.clone(),
        endpoint: config.endpoint.clone(),
        instance_id: config
            .instance_id
            .map_or_else(|| fastrand::u64(..).to_string(), |id| id.to_string()),
    };
    Arc::new(Worker {
        config,
        info,
        engine,
    })
}

/// The `handle_payload` span of one call, continuing the trace its `carrier` brings.
pub(crate) fn handle_payload_span(info: &WorkerInfo, carrier: &(impl Extractor + ?Sized)) -> Span {
    continue_trace(carrier, |remote| {
        info_span!(
            target: WORKER_TARGET,
            "handle_payload",
            remote_parent = remote,
            component = info.component.as_str(),
            endpoint = info.endpoint.as_str(),
            namespace = info.namespace.as_str(),
            instance_id = info.instance_id.as_str(),
            outcome = Empty,
            ttft_us = Empty,
            itl_us = Empty,
            otel.kind = "server",
        )
    })
    .0
}

/// Generates `request`'s tokens with the worker's engine in `span`, on `shutdown`'s tracker
/// (the server waits for it), sending each protocol line to `tx`; the call started at `start`.
/// The protocol is here, the same for every engine: a token line per token, then `done`, or
/// `error` (with an ERROR line) if the engine fails; the caller leaving, or the drain deadline,
/// stops the engine at once (its stream is dropped).
pub(crate) fn spawn_generation(
    worker: Arc<Worker>,
    request: GenerateRequest,
    shutdown: &Shutdown,
    span: Span,
    start: Instant,
    tx: mpsc::Sender<Bytes>,
) {
    // Spawned on the server's tracker: a worker that stops waits for it, so its span closes.
    let stopping = shutdown.clone();
    let counted = Arc::clone(&worker);
    let logs = client_logs(&span);
    let generation = async move {
        let for_caller = Lines { logs, tx: &tx };
        let prompt_tokens = request.prompt.split_whitespace().count() as u32;
        let mut steps = worker.engine.generate(request);
        let mut times = TokenTimes::new(start);
        let mut sent = 0_u32;
        let finish_reason = loop {
            let step = tokio::select! {
                step = steps.next() => step,
                // The caller left: seen at once, not at the next token.
                () = tx.closed() => {
                    info!(target: WORKER_TARGET, sent, "caller went away; generation stopped");
                    return "cancelled";
                }
                () = stopping.deadline() => {
                    warn!(target: WORKER_TARGET, sent, "the worker is shutting down; generation stopped");
                    let stopped = WorkerMessage::Error {
                        message: "the worker is shutting down".into(),
                    };
                    let _ = for_caller.last(stopped).await;
                    return "cancelled";
                }
                // A line for the caller while the engine works: sent now, not with the next token.
                () = for_caller.added() => {
                    if for_caller.send().await.is_err() {
                        info!(target: WORKER_TARGET, sent, "caller went away; generation stopped");
                        return "cancelled";
                    }
                    continue;
                }
            };
            let text = match step {
                Some(Ok(Step::Token(text))) => text,
                Some(Ok(Step::Done { finish_reason })) => break finish_reason,
                None => break "stop".to_owned(),
                Some(Err(e)) => {
                    error!(target: WORKER_TARGET, sent, error = %e.message, exception = e.detail, "generation failed");
                    let failed = WorkerMessage::Error { message: e.message };
                    let _ = for_caller.last(failed).await;
                    return "error";
                }
            };
            if for_caller.send().await.is_err()
                || tx
                    .send(WorkerMessage::Token { text }.to_line())
                    .await
                    .is_err()
            {
                info!(target: WORKER_TARGET, sent, "caller went away; generation stopped");
                return "cancelled";
            }
            sent += 1;
            times.token(&Span::current());
        };
        times.finish(&Span::current());
        let done = WorkerMessage::Done {
            finish_reason: finish_reason.clone(),
            prompt_tokens,
            completion_tokens: sent,
        };
        // Logged before `done` is sent, so that a caller asking for its lines gets this one.
        info!(target: WORKER_TARGET,
            completion_tokens = sent,
            finish_reason, "generation finished"
        );
        if for_caller.last(done).await.is_ok() {
            "ok"
        } else {
            "cancelled"
        }
    };
    shutdown.spawn(
        async move {
            let outcome = generation.await;
            Span::current().record("outcome", outcome);
            count_call(&counted.info, outcome, start);
        }
        .instrument(span),
    );
}

/// The request's lines for its caller (SPEC §13), if it asked: sent on the call's answer before
/// each message, under the answer's back-pressure.
struct Lines<'a> {
    logs: Option<ClientLogs>,
    tx: &'a mpsc::Sender<Bytes>,
}

impl Lines<'_> {
    /// Sends the lines gathered since the last call.
    async fn send(&self) -> Result<(), mpsc::error::SendError<Bytes>> {
        let Some(logs) = &self.logs else {
            return Ok(());
        };
        logs.send_to(self.tx, |line| {
            LogLine::new(line).map(|line| WorkerMessage::Log { line }.to_line())
        })
        .await
    }

    /// Sends the lines, how many were dropped, then `message`, the answer's last.
    async fn last(&self, message: WorkerMessage) -> Result<(), mpsc::error::SendError<Bytes>> {
        self.send().await?;
        if let Some(dropped) = self.logs.as_ref().map(ClientLogs::dropped) {
            if dropped > 0 {
                let count = WorkerMessage::LogsDropped { dropped };
                self.tx.send(count.to_line()).await?;
            }
        }
        self.tx.send(message.to_line()).await
    }

    /// Waits until a line is gathered; never, when the caller did not ask.
    async fn added(&self) {
        ClientLogs::added_to(self.logs.as_ref()).await
    }
}

/// Counts a finished call, with its endpoint's labels, in `tracewire_worker_requests_total` and
/// `tracewire_worker_request_duration_seconds`.
pub(crate) fn count_call(info: &WorkerInfo, outcome: &str, start: Instant) {
    plane_metrics().worker_request(
        [&info.namespace, &info.component, &info.endpoint],
        outcome,
        start.elapsed(),
    );
}

/// A refused call: its status and OpenAI-style error type over HTTP, its message on any
/// transport.
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

pub(crate) fn parse(worker: &Worker, bytes: &Bytes) -> Result<GenerateRequest, ApiError> {
    let request: GenerateRequest = serde_json::from_slice(bytes).map_err(|e| {
        warn!(target: WORKER_TARGET, error = %e, "bad generate call");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: format!("not a generate request: {e}"),
        }
    })?;
    if request.model != worker.config.model {
        warn!(target: WORKER_TARGET,
            model = request.model,
            "generate call for a model this worker does not serve"
        );
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "model_not_found",
            message: format!("this worker serves {:?}", worker.config.model),
        });
    }
    Ok(request)
}
