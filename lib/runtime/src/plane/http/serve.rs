//! The worker's side of the HTTP plane: `GET /info` ([`WorkerInfo`]), `GET /health`, and
//! `POST /<endpoint>`, a [`GenerateRequest`] answered with JSON lines of [`WorkerMessage`]
//! streamed as the engine produces them.
//!
//! [`WorkerInfo`]: crate::plane::WorkerInfo
//! [`GenerateRequest`]: crate::plane::GenerateRequest
//! [`WorkerMessage`]: crate::plane::WorkerMessage

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use tokio::net::TcpListener;
use tracing::{debug, trace, warn, Instrument};

use crate::{
    http::{read_body, BodyError, ChannelBody},
    plane::{
        worker::{
            generation::{
                count_call, handle_payload_span, parse, spawn_generation, worker, ApiError, Worker,
                MAX_BODY, WORKER_TARGET,
            },
            Engine, MockEngine, WorkerConfig,
        },
        INFO_PATH,
    },
    serve::Shutdown,
    wire,
};

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
            warn!(target: WORKER_TARGET, status = status.as_u16(), error = %e, "generate call refused");
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

/// The worker's request handling through [`app`] with `oneshot`: each refusal's status and
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.kind, &self.message)
    }
}

/// An OpenAI-style error answer.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"error": {"message": message, "type": kind}})),
    )
        .into_response()
}

/// body, logged inside the `handle_payload` span that continues the caller's trace.
#[cfg(test)]
mod tests {
    use crate::logging::testing::{json_async, jsonl, Line};
    use axum::http::{Method, Request};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::plane::{
        worker::{EngineError, Step, Steps},
        GenerateRequest, WorkerMessage,
    };
    use std::time::Duration;

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
