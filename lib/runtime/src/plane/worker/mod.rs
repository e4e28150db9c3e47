//! The worker's side of the request plane: serves the `generate` endpoint of an [`Engine`]
//! (the mock engine, which streams the prompt's words back as tokens, or another, such as the
//! Python package's), each call in a `handle_payload` span that continues the caller's trace,
//! over HTTP and, with etcd and NATS, over NATS ([`run`]). `tracewire-worker`, the frontend's
//! embedded worker and the Python package's `serve_worker` all serve through it.
//!
//! Endpoints: `GET /info` ([`WorkerInfo`]), `GET /health`, `POST /<endpoint>` (a
//! [`GenerateRequest`], answered with JSON lines of [`WorkerMessage`]).

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{nats, GenerateRequest, TokenTimes, WorkerInfo, WorkerMessage, INFO_PATH};
use crate::{
    http::{read_body, BodyError, ChannelBody},
    metrics::metrics,
    propagation::{continue_trace, Extractor},
    serve::Shutdown,
    wire,
};
use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use futures_util::StreamExt;
use tokio::{net::TcpListener, sync::mpsc};
use tracing::{debug, error, field::Empty, info, info_span, trace, warn, Instrument, Span};

mod engine;
mod run;

pub use engine::{Engine, EngineError, MockEngine, Step, Steps};
pub use run::run;

/// The largest generate request accepted.
const MAX_BODY: usize = 1 << 20;

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

struct Worker {
    config: WorkerConfig,
    info: WorkerInfo,
    engine: Arc<dyn Engine>,
}

fn worker(config: WorkerConfig, engine: Arc<dyn Engine>) -> Arc<Worker> {
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

/// The worker's routes, generating with the mock engine; `instance_id` is the configured one,
/// else random and stable for the process.
pub fn app(config: WorkerConfig) -> Router {
    let engine = Arc::new(MockEngine::new(&config));
    app_with(config, engine)
}

/// The worker's routes, generating with `engine`.
pub fn app_with(config: WorkerConfig, engine: Arc<dyn Engine>) -> Router {
    let worker = worker(config, engine);
    let path = format!("/{}", worker.config.endpoint);
    Router::new()
        .route(
            INFO_PATH,
            get(|State(w): State<Arc<Worker>>| async move { Json(w.info.clone()) }),
        )
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(&path, post(generate))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found_error",
                "no such route on the worker",
            )
        })
        .with_state(worker)
}

/// A bound worker, ready to serve.
pub struct BoundWorker {
    listener: TcpListener,
    app: Router,
}

impl BoundWorker {
    /// Binds `listen` (port 0 picks a free port) for the mock engine; the error names the
    /// address.
    pub async fn bind(config: WorkerConfig, listen: SocketAddr) -> std::io::Result<Self> {
        let engine = Arc::new(MockEngine::new(&config));
        Self::bind_with(config, engine, listen).await
    }

    /// Binds `listen` for `engine`.
    pub async fn bind_with(
        config: WorkerConfig,
        engine: Arc<dyn Engine>,
        listen: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = crate::serve::bind(listen).await?;
        Ok(BoundWorker {
            listener,
            app: app_with(config, engine),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls (and ends the ones still
    /// running at the drain deadline, each closing its span).
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        options: crate::serve::ServeOptions,
    ) -> std::io::Result<()> {
        crate::serve::serve(self.listener, self.app, shutdown, options).await
    }
}

async fn generate(
    State(worker): State<Arc<Worker>>,
    shutdown: Shutdown,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let info = &worker.info;
    let span = handle_payload_span(info, &headers);
    let request = async {
        debug!(target: wire::REQUEST, headers = %wire::Headers(&headers), "received generate call");
        let bytes = read_body(body, MAX_BODY).await.map_err(|e| {
            let status = match e {
                BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            warn!(status = status.as_u16(), error = %e, "generate call refused");
            ApiError {
                status,
                kind: "invalid_request_error",
                message: e.to_string(),
            }
        })?;
        trace!(target: wire::REQUEST, body = %bytes.escape_ascii(), "generate call body");
        parse(&worker, &bytes)
    }
    .instrument(span.clone())
    .await;
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            span.record("outcome", "client_error");
            count_call(info, "client_error", start);
            return e.into_response();
        }
    };
    let (tx, body) = ChannelBody::new(16);
    spawn_generation(worker, request, &shutdown, span, start, tx);
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::new(body),
    )
        .into_response()
}

/// The `handle_payload` span of one call, continuing the trace its `carrier` brings.
fn handle_payload_span(info: &WorkerInfo, carrier: &(impl Extractor + ?Sized)) -> Span {
    continue_trace(carrier, |remote| {
        info_span!(
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
fn spawn_generation(
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
    let generation = async move {
        let prompt_tokens = request.prompt.split_whitespace().count() as u32;
        let mut steps = worker.engine.generate(request);
        let mut times = TokenTimes::new(start);
        let mut sent = 0_u32;
        let finish_reason = loop {
            let step = tokio::select! {
                step = steps.next() => step,
                // The caller left: seen at once, not at the next token.
                () = tx.closed() => {
                    info!(sent, "caller went away; generation stopped");
                    return "cancelled";
                }
                () = stopping.deadline() => {
                    warn!(sent, "the worker is shutting down; generation stopped");
                    let stopped = WorkerMessage::Error {
                        message: "the worker is shutting down".into(),
                    };
                    let _ = tx.send(stopped.to_line()).await;
                    return "cancelled";
                }
            };
            let text = match step {
                Some(Ok(Step::Token(text))) => text,
                Some(Ok(Step::Done { finish_reason })) => break finish_reason,
                None => break "stop".to_owned(),
                Some(Err(e)) => {
                    error!(sent, error = %e.message, exception = e.detail, "generation failed");
                    let failed = WorkerMessage::Error { message: e.message };
                    let _ = tx.send(failed.to_line()).await;
                    return "error";
                }
            };
            if tx
                .send(WorkerMessage::Token { text }.to_line())
                .await
                .is_err()
            {
                info!(sent, "caller went away; generation stopped");
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
        if tx.send(done.to_line()).await.is_ok() {
            info!(
                completion_tokens = sent,
                finish_reason, "generation finished"
            );
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

/// Serves `config`'s endpoint on the NATS plane: a message on the subject of `instance` is a
/// call, continued in a `handle_payload` span from its headers and answered on its reply
/// subject, one protocol line per message. Until `shutdown`; then, as the HTTP server does,
/// lets the calls in flight finish for 10 s and ends the rest, each closing its span.
pub async fn serve_nats(
    config: WorkerConfig,
    engine: Arc<dyn Engine>,
    client: async_nats::Client,
    instance: tokio::sync::watch::Receiver<super::etcd::Instance>,
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
    nats::serve(client, instance, shutdown, move |message| {
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
        warn!(subject = %message.subject, "a generate call without a reply subject; dropped");
        return;
    };
    let none = async_nats::HeaderMap::new();
    let span = handle_payload_span(&worker.info, message.headers.as_ref().unwrap_or(&none));
    let parsed = span.in_scope(|| {
        debug!(target: wire::REQUEST, subject = %message.subject, headers = %nats::Headers(message.headers.as_ref()), "received generate call");
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

/// Counts a finished call, with its endpoint's labels, in `tracewire_worker_requests_total` and
/// `tracewire_worker_request_duration_seconds`.
fn count_call(info: &WorkerInfo, outcome: &str, start: Instant) {
    metrics().worker_request(
        [&info.namespace, &info.component, &info.endpoint],
        outcome,
        start.elapsed(),
    );
}

/// A refused call, answered with an OpenAI-style error body.
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.kind, &self.message)
    }
}

fn parse(worker: &Worker, bytes: &Bytes) -> Result<GenerateRequest, ApiError> {
    let request: GenerateRequest = serde_json::from_slice(bytes).map_err(|e| {
        warn!(error = %e, "bad generate call");
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: format!("not a generate request: {e}"),
        }
    })?;
    if request.model != worker.config.model {
        warn!(
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

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"error": {"message": message, "type": kind}})),
    )
        .into_response()
}

/// The worker's request handling through [`app`] with `oneshot`: each refusal's status and
/// body, logged inside the `handle_payload` span that continues the caller's trace.
#[cfg(test)]
mod tests {
    use crate::logging::testing::{json_async, jsonl, Line};
    use axum::http::{Method, Request};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn call(method: Method, uri: &str, body: String) -> (StatusCode, String, Vec<Line>) {
        let config = WorkerConfig {
            token_delay: Duration::ZERO,
            ..WorkerConfig::default()
        };
        let engine = Arc::new(MockEngine::new(&config));
        call_engine(method, uri, body, engine)
    }

    fn call_engine(
        method: Method,
        uri: &str,
        body: String,
        engine: Arc<dyn Engine>,
    ) -> (StatusCode, String, Vec<Line>) {
        let ((status, body), lines) = json_async(&jsonl(), async {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header("traceparent", CALLER)
                .header("x-request-id", "w-1")
                .body(Body::from(body))
                .unwrap();
            let response = app_with(WorkerConfig::default(), engine)
                .oneshot(request)
                .await
                .unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        });
        (status, body, lines)
    }

    #[test]
    fn refused_calls_get_their_status_inside_the_callers_trace() {
        let too_large = format!(r#"{{"model":"{}"}}"#, "x".repeat(MAX_BODY + 1));
        let cases = [
            (
                "{not json".to_owned(),
                400,
                "invalid_request_error",
                "malformed",
            ),
            (
                r#"{"model": "Qwen/Qwen3-0.6B", "prompt": "a", "max_tokens": 1, "x": 1}"#
                    .to_owned(),
                400,
                "invalid_request_error",
                "an unknown field",
            ),
            (
                r#"{"model": "gpt-9", "prompt": "a", "max_tokens": null}"#.to_owned(),
                404,
                "model_not_found",
                "a model it does not serve",
            ),
            (too_large, 413, "invalid_request_error", "over 1 MiB"),
        ];
        for (body, status, kind, reason) in cases {
            let (got, body, lines) = call(Method::POST, "/generate", body);
            assert_eq!(got.as_u16(), status, "{reason}: {body}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["type"], kind, "{reason}");
            let created = &lines[0];
            assert_eq!(
                (
                    created.message.as_str(),
                    created.span(),
                    created.parent_id.as_deref()
                ),
                ("SPAN_CREATED", "handle_payload", Some("00f067aa0ba902b7")),
                "{reason}"
            );
            assert_eq!(created.x_request_id.as_deref(), Some("w-1"), "{reason}");
            let warned = lines
                .iter()
                .find(|l| l.level == "WARN")
                .unwrap_or_else(|| panic!("{reason}: {lines:#?}"));
            assert_eq!(
                warned.span_id, created.span_id,
                "{reason}: logged in the span"
            );
        }
        let (status, _, _) = call(Method::GET, "/nothing", String::new());
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_call_streams_its_tokens_then_done() {
        let (status, body, lines) = call(
            Method::POST,
            "/generate",
            r#"{"model": "Qwen/Qwen3-0.6B", "prompt": "one two three", "max_tokens": 2}"#
                .to_owned(),
        );
        assert_eq!(status, StatusCode::OK);
        let messages = protocol(&body);
        assert_eq!(
            messages.last(),
            Some(&WorkerMessage::Done {
                finish_reason: "length".into(),
                prompt_tokens: 3,
                completion_tokens: 2
            })
        );
        let closed = lines.iter().find(|l| l.message == "SPAN_CLOSED").unwrap();
        assert_eq!(
            closed.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    /// A call's answer, one protocol message per line.
    fn protocol(body: &str) -> Vec<WorkerMessage> {
        body.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Fails after one token, as a Python engine raising mid-stream does.
    struct Failing;

    impl Engine for Failing {
        fn generate(&self, _: GenerateRequest) -> Steps {
            Box::pin(futures_util::stream::iter([
                Ok(Step::Token("one ".into())),
                Err(EngineError {
                    message: "ValueError: bad prompt".into(),
                    detail: Some(
                        "Traceback (most recent call last):\nValueError: bad prompt".into(),
                    ),
                }),
            ]))
        }
    }

    #[test]
    fn an_engine_failure_is_the_protocols_error_and_an_error_line_with_its_detail() {
        let (status, body, lines) = call_engine(
            Method::POST,
            "/generate",
            r#"{"model": "Qwen/Qwen3-0.6B", "prompt": "a b", "max_tokens": null}"#.to_owned(),
            Arc::new(Failing),
        );
        assert_eq!(status, StatusCode::OK);
        let messages = protocol(&body);
        assert_eq!(
            messages,
            [
                WorkerMessage::Token {
                    text: "one ".into()
                },
                WorkerMessage::Error {
                    message: "ValueError: bad prompt".into()
                }
            ]
        );
        let failed = lines.iter().find(|l| l.level == "ERROR").unwrap();
        assert_eq!(failed.message, "generation failed");
        assert!(failed["exception"]
            .as_str()
            .unwrap()
            .starts_with("Traceback"));
        assert_eq!(failed.span(), "handle_payload");
        let closed = lines.iter().find(|l| l.message == "SPAN_CLOSED").unwrap();
        assert_eq!(closed["outcome"], "error");
    }
}
