//! tracewire's worker: serves the `generate` endpoint of a mock engine that streams the prompt's
//! words back as tokens, each call in a `handle_payload` span that continues the caller's trace.
//!
//! Endpoints: `GET /info` ([`WorkerInfo`]), `GET /health`, `POST /<endpoint>` (a
//! [`GenerateRequest`], answered with JSON lines of [`WorkerMessage`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use tokio::net::TcpListener;
use tracewire_runtime::{
    http::ChannelBody,
    plane::{GenerateRequest, WorkerInfo, WorkerMessage, INFO_PATH},
    propagation::Extracted,
    wire,
};
use tracing::{debug, info, info_span, trace, warn, Instrument};

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
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            namespace: "dynamo".into(),
            component: "backend".into(),
            endpoint: "generate".into(),
            model: "Qwen/Qwen3-0.6B".into(),
            token_delay: Duration::from_millis(10),
        }
    }
}

/// The mock engine's flags, shared by `tracewire-worker` and the frontend's embedded worker.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// The model name served (by the embedded worker, in the frontend).
    #[arg(long, default_value = "Qwen/Qwen3-0.6B")]
    pub model: String,
    /// Pause between tokens, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub token_delay_ms: u64,
}

impl WorkerConfig {
    /// The default identity with the engine's flags.
    pub fn with_engine(self, engine: &EngineArgs) -> Self {
        WorkerConfig {
            model: engine.model.clone(),
            token_delay: Duration::from_millis(engine.token_delay_ms),
            ..self
        }
    }
}

struct Worker {
    config: WorkerConfig,
    info: WorkerInfo,
}

/// The worker's routes; `instance_id` is random and stable for the process.
pub fn app(config: WorkerConfig) -> Router {
    let info = WorkerInfo {
        model: config.model.clone(),
        namespace: config.namespace.clone(),
        component: config.component.clone(),
        endpoint: config.endpoint.clone(),
        instance_id: fastrand::u64(..).to_string(),
    };
    let path = format!("/{}", config.endpoint);
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
        .with_state(Arc::new(Worker { config, info }))
}

/// A bound worker, ready to serve.
pub struct BoundWorker {
    listener: TcpListener,
    app: Router,
}

impl BoundWorker {
    /// Binds `listen` (port 0 picks a free port).
    pub async fn bind(config: WorkerConfig, listen: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        Ok(BoundWorker {
            listener,
            app: app(config),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracewire_runtime::serve::serve(
            self.listener,
            self.app,
            shutdown,
            tracewire_runtime::serve::DEFAULT_DRAIN,
        )
        .await
    }
}

async fn generate(State(worker): State<Arc<Worker>>, headers: HeaderMap, body: Body) -> Response {
    let extracted = Extracted::from_headers(&headers);
    let info = &worker.info;
    let span = extracted.remote.clone().in_scope(|| {
        info_span!(
            "handle_payload",
            component = info.component.as_str(),
            endpoint = info.endpoint.as_str(),
            namespace = info.namespace.as_str(),
            instance_id = info.instance_id.as_str(),
            otel.kind = "server",
        )
    });
    let request = async {
        extracted.log_problems();
        debug!(target: wire::REQUEST, headers = %wire::Headers(&headers), "received generate call");
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|e| ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                kind: "invalid_request_error",
                message: format!("cannot read the body: {e}"),
            })?;
        trace!(target: wire::REQUEST, body = %bytes.escape_ascii(), "generate call body");
        parse(&worker, &bytes)
    }
    .instrument(span.clone())
    .await;
    let request = match request {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let (tx, body) = ChannelBody::new(16);
    let delay = worker.config.token_delay;
    tokio::spawn(
        async move {
            let words: Vec<&str> = request.prompt.split_whitespace().collect();
            let limit = request
                .max_tokens
                .map_or(words.len(), |m| (m as usize).min(words.len()));
            info!(
                prompt_tokens = words.len(),
                max_tokens = request.max_tokens,
                "generating"
            );
            for (i, word) in words[..limit].iter().enumerate() {
                if i > 0 && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let text = if i + 1 < limit {
                    format!("{word} ")
                } else {
                    (*word).to_owned()
                };
                if tx
                    .send(WorkerMessage::Token { text }.to_line())
                    .await
                    .is_err()
                {
                    info!(sent = i, "caller went away; generation stopped");
                    return;
                }
            }
            let finish_reason = if limit < words.len() {
                "length"
            } else {
                "stop"
            };
            let done = WorkerMessage::Done {
                finish_reason: finish_reason.into(),
                prompt_tokens: words.len() as u32,
                completion_tokens: limit as u32,
            };
            if tx.send(done.to_line()).await.is_ok() {
                info!(
                    completion_tokens = limit,
                    finish_reason, "generation finished"
                );
            }
        }
        .instrument(span),
    );
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::new(body),
    )
        .into_response()
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
