//! tracewire's frontend: an OpenAI-style HTTP API (`POST /v1/chat/completions`, `GET /v1/models`,
//! `GET /health`) in front of workers reached over the request plane, every request in an
//! `http-request` span whose trace continues into the workers.

pub mod openai;

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use tracewire_runtime::{
    http::{ChannelBody, StreamOutcome, TraceLayer},
    logging::current_context,
    plane::{GenerateRequest, PlaneClient, PlaneError, TokenStream, WorkerMessage},
};
use tracing::{error, info, warn, Instrument, Span};

use openai::{chunk, completion, error_body, ChatRequest};

/// The largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 1 << 20;

/// The frontend's routes over the given workers.
pub fn app(plane: Arc<PlaneClient>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(plane)
        .layer(TraceLayer::new())
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    if status.is_server_error() {
        error!(status = status.as_u16(), kind, message, "request failed");
    } else {
        warn!(status = status.as_u16(), kind, message, "request refused");
    }
    (status, Json(error_body(kind, message))).into_response()
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found_error",
        &format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        &format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn models(State(plane): State<Arc<PlaneClient>>) -> Response {
    let infos = plane.infos().await;
    if infos.is_empty() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "no worker is reachable",
        );
    }
    let mut models: Vec<&str> = infos.iter().map(|i| i.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    let data: Vec<_> = models
        .iter()
        .map(|m| serde_json::json!({"id": m, "object": "model", "created": 0, "owned_by": "tracewire"}))
        .collect();
    Json(serde_json::json!({"object": "list", "data": data})).into_response()
}

fn plane_error(e: &PlaneError) -> Response {
    match e {
        PlaneError::NoWorker(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            &e.to_string(),
        ),
        PlaneError::UnknownModel(model) => error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            &format!("the model {model:?} does not exist"),
        ),
        _ => error(StatusCode::BAD_GATEWAY, "server_error", &e.to_string()),
    }
}

async fn chat_completions(State(plane): State<Arc<PlaneClient>>, request: Request) -> Response {
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) if is_length_limit(&e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                &format!("the request body is larger than {MAX_BODY} bytes"),
            )
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("cannot read the request body: {e}"),
            )
        }
    };
    let chat: ChatRequest = match serde_json::from_slice(&bytes) {
        Ok(chat) => chat,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("invalid request body: {e}"),
            )
        }
    };
    let span = Span::current();
    span.record("model", chat.model.as_str());
    let Some(prompt) = chat.prompt() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages must not be empty",
        );
    };
    let generate = GenerateRequest {
        model: chat.model.clone(),
        prompt: prompt.to_owned(),
        max_tokens: chat.max_completion_tokens.or(chat.max_tokens),
    };
    let tokens = match plane.generate(&generate).await {
        Ok(tokens) => tokens,
        Err(e) => return plane_error(&e),
    };
    let id = format!(
        "chatcmpl-{}",
        current_context()
            .map(|c| c.span_id.to_string())
            .unwrap_or_default()
    );
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if chat.stream {
        stream(tokens, id, created, chat.model, span)
    } else {
        collect(tokens, &id, created, &chat.model, &span).await
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("length limit exceeded") {
            return true;
        }
        source = s.source();
    }
    false
}

async fn collect(
    mut tokens: TokenStream,
    id: &str,
    created: u64,
    model: &str,
    span: &Span,
) -> Response {
    let mut content = String::new();
    while let Some(message) = tokens.next().await {
        match message {
            Ok(WorkerMessage::Token { text }) => content.push_str(&text),
            Ok(WorkerMessage::Done {
                finish_reason,
                prompt_tokens,
                completion_tokens,
            }) => {
                span.record("prompt_tokens", prompt_tokens);
                span.record("completion_tokens", completion_tokens);
                return Json(completion(
                    id,
                    created,
                    model,
                    &content,
                    &finish_reason,
                    prompt_tokens,
                    completion_tokens,
                ))
                .into_response();
            }
            Ok(WorkerMessage::Error { message }) => {
                return error(
                    StatusCode::BAD_GATEWAY,
                    "server_error",
                    &format!("the worker failed: {message}"),
                )
            }
            Err(e) => return error(StatusCode::BAD_GATEWAY, "server_error", &e.to_string()),
        }
    }
    error(
        StatusCode::BAD_GATEWAY,
        "server_error",
        "the worker's stream ended early",
    )
}

/// Answers with server-sent events fed by a task that holds the request's span.
fn stream(
    mut tokens: TokenStream,
    id: String,
    created: u64,
    model: String,
    span: Span,
) -> Response {
    let (tx, body) = ChannelBody::new(32);
    let outcome = StreamOutcome::default();
    let reported = outcome.clone();
    let event = |value: serde_json::Value| Bytes::from(format!("data: {value}\n\n"));
    tokio::spawn(
        async move {
            let mut sent = 0u32;
            while let Some(message) = tokens.next().await {
                let (data, last) = match message {
                    Ok(WorkerMessage::Token { text }) => (event(chunk(&id, created, &model, Some(&text), None)), false),
                    Ok(WorkerMessage::Done { finish_reason, prompt_tokens, completion_tokens }) => {
                        Span::current().record("prompt_tokens", prompt_tokens);
                        Span::current().record("completion_tokens", completion_tokens);
                        let last = event(chunk(&id, created, &model, None, Some(&finish_reason)));
                        if tx.send(last).await.is_ok() {
                            let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
                        }
                        return;
                    }
                    Ok(WorkerMessage::Error { message }) => {
                        error!(worker = tokens.worker(), message, "the worker failed mid-stream");
                        reported.fail(format!("the worker failed: {message}"));
                        (event(error_body("server_error", &format!("the worker failed: {message}"))), true)
                    }
                    Err(e) => {
                        error!(worker = tokens.worker(), error = %e, tokens_sent = sent, "the worker failed mid-stream");
                        reported.fail(e.to_string());
                        (event(error_body("server_error", &e.to_string())), true)
                    }
                };
                if tx.send(data).await.is_err() {
                    info!(tokens_sent = sent, "client disconnected; generation cancelled");
                    return;
                }
                if last {
                    return;
                }
                sent += 1;
            }
        }
        .instrument(span),
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::new(body),
    )
        .into_response();
    response.extensions_mut().insert(outcome);
    response
}
