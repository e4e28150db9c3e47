//! tracewire's frontend: an OpenAI-style HTTP API (`POST /v1/chat/completions`, `GET /v1/models`,
//! `GET /health`) in front of workers reached over the request plane, every request in an
//! `http-request` span whose trace continues into the workers.

pub mod openai;

use std::{
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
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
    http::{read_body, BodyError, ChannelBody, StreamOutcome, TraceLayer, WorkerInstance},
    http_request_span,
    logging::{client_logs, current_context, ClientLogs},
    plane::{GenerateRequest, PlaneClient, PlaneError, TokenStream, TokenTimes, WorkerMessage},
    serve::Shutdown,
    trace::RemoteField,
};
use tracing::{error, field::Empty, info, warn, Instrument, Span};

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
        .layer(TraceLayer::new().make_span_with(request_span))
}

/// The `http-request` span with what this frontend records on a chat request, named as the
/// OpenTelemetry GenAI semantic conventions name them: the operation and the model asked for;
/// once the worker is done, the token counts and the finish reason; and the time to the first
/// token and the mean time between tokens, in microseconds, as the frontend sees them.
fn request_span(request: &Request, remote: RemoteField<'_>) -> Span {
    http_request_span!(
        request,
        remote,
        gen_ai.operation.name = Empty,
        gen_ai.request.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        ttft_us = Empty,
        itl_us = Empty,
    )
}

/// Records the worker's final counts and reason on the request's span.
fn record_done(span: &Span, finish_reason: &str, prompt_tokens: u32, completion_tokens: u32) {
    span.record("gen_ai.usage.input_tokens", prompt_tokens);
    span.record("gen_ai.usage.output_tokens", completion_tokens);
    span.record("gen_ai.response.finish_reasons", finish_reason);
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    if status.is_server_error() {
        error!(
            status = status.as_u16(),
            kind,
            error = message,
            "request failed"
        );
    } else {
        warn!(
            status = status.as_u16(),
            kind,
            error = message,
            "request refused"
        );
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
        PlaneError::NoWorker(_) | PlaneError::Unavailable(_) => error(
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

/// Whether a `Content-Type` names JSON (`application/json`, with parameters or not, or an
/// `application/…+json` type); a request without one is taken as JSON.
fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// What a request still running at the drain deadline is told, in its error body or SSE event.
const SHUTTING_DOWN: &str = "the server is shutting down";

async fn chat_completions(
    State(plane): State<Arc<PlaneClient>>,
    shutdown: Shutdown,
    request: Request,
) -> Response {
    let response = answer(plane, shutdown, request).await;
    match client_logs(&Span::current()) {
        Some(logs) if !is_event_stream(&response) => with_logs(response, &logs).await,
        _ => response,
    }
}

fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

/// A JSON answer (a completion or an error) with the request's lines for its caller as its
/// top-level `tracewire_logs` array (SPEC §13), spliced in as the lines were written.
async fn with_logs(response: Response, logs: &ClientLogs) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Some(open) = bytes.strip_suffix(b"}") else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut json = Vec::with_capacity(bytes.len() + 4096);
    json.extend_from_slice(open);
    json.extend_from_slice(b",\"tracewire_logs\":[");
    let lines = logs.take();
    let ctx = current_context();
    let truncation = logs.truncation(ctx.as_ref());
    for (i, line) in lines.iter().chain(truncation.as_ref()).enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(line);
    }
    json.extend_from_slice(b"]}");
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}

async fn answer(plane: Arc<PlaneClient>, shutdown: Shutdown, request: Request) -> Response {
    let start = Instant::now();
    if !is_json(request.headers().get(header::CONTENT_TYPE)) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "the request body must be JSON: send Content-Type: application/json",
        );
    }
    let bytes = match read_body(request.into_body(), MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e @ BodyError::TooLarge { .. }) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                &e.to_string(),
            )
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &e.to_string(),
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
    span.record("gen_ai.operation.name", "chat");
    span.record("gen_ai.request.model", chat.model.as_str());
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
    // The answer names its trace (SPEC §5): a caller looks the request up by the id it got.
    let id = format!(
        "chatcmpl-{}",
        current_context()
            .map(|c| c.trace_id.to_string())
            .unwrap_or_default()
    );
    let instance = WorkerInstance(tokens.instance().to_owned());
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut response = if chat.stream {
        stream(tokens, id, created, chat.model, span, start, &shutdown)
    } else {
        tokio::select! {
            response = collect(tokens, &id, created, &chat.model, &span, start) => response,
            // Dropping the worker's stream tells the worker its caller left.
            () = shutdown.deadline() => {
                warn!("the server is shutting down; request ended");
                let mut response = error(StatusCode::SERVICE_UNAVAILABLE, "server_error", SHUTTING_DOWN);
                let outcome = StreamOutcome::default();
                outcome.cancel(SHUTTING_DOWN);
                response.extensions_mut().insert(outcome);
                response
            }
        }
    };
    response.extensions_mut().insert(instance);
    response
}

async fn collect(
    mut tokens: TokenStream,
    id: &str,
    created: u64,
    model: &str,
    span: &Span,
    start: Instant,
) -> Response {
    let mut content = String::new();
    let mut times = TokenTimes::new(start).with_metrics();
    while let Some(message) = tokens.next().await {
        match message {
            Ok(WorkerMessage::Token { text }) => {
                times.token(span);
                content.push_str(&text);
            }
            Ok(WorkerMessage::Done {
                finish_reason,
                prompt_tokens,
                completion_tokens,
            }) => {
                times.finish(span);
                record_done(span, &finish_reason, prompt_tokens, completion_tokens);
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
            // The token stream keeps log lines for the caller to itself.
            Ok(WorkerMessage::Log { .. } | WorkerMessage::LogsDropped { .. }) => {}
            Err(e) => return plane_error(&e),
        }
    }
    error(
        StatusCode::BAD_GATEWAY,
        "server_error",
        "the worker's stream ended early",
    )
}

/// Answers with server-sent events fed by a task that holds the request's span. The task runs on
/// the server's tracker, so a server that stops waits for it; past the drain deadline it ends
/// the stream with an error event (and drops the worker's stream, which the worker sees).
fn stream(
    mut tokens: TokenStream,
    id: String,
    created: u64,
    model: String,
    span: Span,
    start: Instant,
    shutdown: &Shutdown,
) -> Response {
    let (tx, body) = ChannelBody::new(32);
    let outcome = StreamOutcome::default();
    let reported = outcome.clone();
    let event = |value: serde_json::Value| Bytes::from(format!("data: {value}\n\n"));
    let stopping = shutdown.clone();
    let logs = client_logs(&span);
    shutdown.spawn(
        async move {
            let for_caller = LogEvents { logs, tx: &tx };
            let mut sent = 0u32;
            let mut times = TokenTimes::new(start).with_metrics();
            loop {
                let message = tokio::select! {
                    message = tokens.next() => match message {
                        Some(message) => message,
                        None => break,
                    },
                    () = stopping.deadline() => {
                        times.finish(&Span::current());
                        warn!(tokens_sent = sent, "the server is shutting down; stream ended");
                        reported.cancel(SHUTTING_DOWN);
                        if tx.send(event(error_body("server_error", SHUTTING_DOWN))).await.is_ok() {
                            for_caller.last().await;
                        }
                        return;
                    }
                    // A line for the caller while the worker works: sent now, not with the next token.
                    () = for_caller.added() => {
                        if for_caller.send().await.is_err() {
                            times.finish(&Span::current());
                            info!(tokens_sent = sent, "client disconnected; generation cancelled");
                            return;
                        }
                        continue;
                    }
                };
                let (data, last) = match message {
                    Ok(WorkerMessage::Token { text }) => {
                        times.token(&Span::current());
                        (event(chunk(&id, created, &model, Some(&text), None)), false)
                    }
                    Ok(WorkerMessage::Done { finish_reason, prompt_tokens, completion_tokens }) => {
                        times.finish(&Span::current());
                        record_done(&Span::current(), &finish_reason, prompt_tokens, completion_tokens);
                        let last = event(chunk(&id, created, &model, None, Some(&finish_reason)));
                        if for_caller.send().await.is_ok() && tx.send(last).await.is_ok() {
                            for_caller.last().await;
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
                    // The token stream keeps log lines for the caller to itself.
                    Ok(WorkerMessage::Log { .. } | WorkerMessage::LogsDropped { .. }) => continue,
                };
                if last {
                    times.finish(&Span::current());
                }
                // A token follows the lines written before it; an error event comes first, and
                // the lines after it, so that an OpenAI client raises the error it carries.
                if (!last && for_caller.send().await.is_err()) || tx.send(data).await.is_err() {
                    times.finish(&Span::current());
                    info!(tokens_sent = sent, "client disconnected; generation cancelled");
                    return;
                }
                if last {
                    for_caller.last().await;
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

/// The request's lines for its caller as SSE `tracewire.log` events (SPEC §13), if it asked:
/// sent on the stream before the chunk that follows them, under the stream's back-pressure.
struct LogEvents<'a> {
    logs: Option<ClientLogs>,
    tx: &'a tokio::sync::mpsc::Sender<Bytes>,
}

impl LogEvents<'_> {
    /// The event of one line.
    fn event(line: &[u8]) -> Bytes {
        let mut event = Vec::with_capacity(line.len() + 40);
        event.extend_from_slice(b"event: tracewire.log\ndata: ");
        event.extend_from_slice(line);
        event.extend_from_slice(b"\n\n");
        event.into()
    }

    /// Sends the lines gathered since the last call; `Err` when the client has gone.
    async fn send(&self) -> Result<(), ()> {
        let Some(logs) = &self.logs else {
            return Ok(());
        };
        logs.send_to(self.tx, |line| Some(Self::event(line)))
            .await
            .map_err(drop)
    }

    /// Sends the last lines and, if any were dropped, the closing `client logs truncated`.
    async fn last(&self) {
        if self.send().await.is_err() {
            return;
        }
        let ctx = current_context();
        if let Some(entry) = self.logs.as_ref().and_then(|l| l.truncation(ctx.as_ref())) {
            let _ = self.tx.send(Self::event(&entry)).await;
        }
    }

    /// Waits until a line is gathered; never, when the caller did not ask.
    async fn added(&self) {
        ClientLogs::added_to(self.logs.as_ref()).await
    }
}

/// The frontend's request handling through [`app`] with `oneshot`, no socket on the frontend's
/// side: each error the API maps, its status and OpenAI-style body, and its line inside the
/// request's span.
#[cfg(test)]
mod tests {
    use axum::http::{Method, Request};
    use serde_json::Value;
    use tower::ServiceExt;
    use tracewire_runtime::{
        logging::testing::{json_async, jsonl, Line},
        plane::PlaneClient,
    };
    use tracewire_worker::{BoundWorker, WorkerConfig};

    use super::*;

    const CHAT: &str =
        r#"{"model": "Qwen/Qwen3-0.6B", "messages": [{"role": "user", "content": "hello there"}]}"#;

    /// What a call answered, and the lines it wrote.
    struct Answer {
        status: StatusCode,
        body: Value,
        lines: Vec<Line>,
    }

    /// Sends one request to the frontend in front of `workers` (`None`: a real worker of this
    /// process, on a loopback port), under a scoped subscriber.
    fn call(workers: Option<Vec<String>>, request: Request<Body>) -> Answer {
        let ((status, body), lines) = json_async(&jsonl(), async {
            let workers = match workers {
                Some(workers) => workers,
                None => {
                    let config = WorkerConfig {
                        token_delay: std::time::Duration::ZERO,
                        ..WorkerConfig::default()
                    };
                    let worker = BoundWorker::bind(config, ([127, 0, 0, 1], 0).into())
                        .await
                        .unwrap();
                    let url = format!("http://{}", worker.local_addr().unwrap());
                    tokio::spawn(worker.serve(std::future::pending(), Default::default()));
                    vec![url]
                }
            };
            let plane = Arc::new(PlaneClient::new(workers).unwrap());
            let response = app(plane).oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, serde_json::from_slice(&body).unwrap())
        });
        Answer {
            status,
            body,
            lines,
        }
    }

    fn request(
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).unwrap()
    }

    fn chat(content_type: Option<&str>, body: impl Into<String>) -> Request<Body> {
        request(
            Method::POST,
            "/v1/chat/completions",
            content_type,
            body.into(),
        )
    }

    const JSON: Option<&str> = Some("application/json");

    #[test]
    fn every_refused_request_gets_its_status_an_openai_error_and_a_line_in_its_span() {
        let nowhere = || Some(Vec::new());
        let too_large = format!(r#"{{"model":"{}"}}"#, "x".repeat(MAX_BODY + 1));
        let cases: Vec<(Request<Body>, u16, &str, &str)> = vec![
            (
                chat(JSON, "{not json"),
                400,
                "invalid_request_error",
                "malformed JSON",
            ),
            (
                chat(JSON, r#"{"model": "Qwen/Qwen3-0.6B"}"#),
                400,
                "invalid_request_error",
                "no messages",
            ),
            (
                chat(JSON, r#"{"model": "Qwen/Qwen3-0.6B", "messages": []}"#),
                400,
                "invalid_request_error",
                "empty messages",
            ),
            (
                chat(JSON, r#"{"model": 7, "messages": []}"#),
                400,
                "invalid_request_error",
                "a field of the wrong type",
            ),
            (
                chat(JSON, format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
                400,
                "invalid_request_error",
                "JSON nested 5000 deep",
            ),
            (
                request(Method::GET, "/v2/nothing", None, String::new()),
                404,
                "not_found_error",
                "unknown route",
            ),
            (
                request(Method::GET, "/v1/chat/completions", None, String::new()),
                405,
                "invalid_request_error",
                "wrong method",
            ),
            (
                chat(JSON, too_large),
                413,
                "invalid_request_error",
                "body over 1 MiB",
            ),
            (
                chat(Some("text/plain"), CHAT),
                415,
                "invalid_request_error",
                "not JSON",
            ),
            (
                chat(Some("application/x-www-form-urlencoded"), CHAT),
                415,
                "invalid_request_error",
                "curl -d without a Content-Type",
            ),
        ];
        for (request, status, kind, reason) in cases {
            let answer = call(nowhere(), request);
            assert_eq!(
                answer.status.as_u16(),
                status,
                "{reason}: {:?}",
                answer.body
            );
            assert_eq!(answer.body["error"]["type"], kind, "{reason}");
            assert!(answer.body["error"]["message"].is_string(), "{reason}");
            let refused = answer
                .lines
                .iter()
                .find(|l| l.message == "request refused")
                .unwrap_or_else(|| panic!("{reason}: no refusal line in {:#?}", answer.lines));
            assert_eq!(
                (refused.level.as_str(), refused.span(), &refused["status"]),
                ("WARN", "http-request", &Value::from(status)),
                "{reason}"
            );
            assert_eq!(
                refused["error"], answer.body["error"]["message"],
                "{reason}: the line says why, as the answer does"
            );
            let done = answer
                .lines
                .iter()
                .find(|l| l.message == "request completed")
                .unwrap();
            assert_eq!(done["outcome"], "client_error", "{reason}");
        }
    }

    #[test]
    fn json_with_parameters_is_json_and_no_worker_is_a_503() {
        for content_type in [
            None,
            JSON,
            Some("application/json; charset=utf-8"),
            Some("application/vnd.api+json"),
        ] {
            let answer = call(
                Some(vec!["http://127.0.0.1:9".to_owned()]),
                chat(content_type, CHAT),
            );
            assert_eq!(
                answer.status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{content_type:?}"
            );
            assert_eq!(answer.body["error"]["type"], "service_unavailable");
            let done = answer
                .lines
                .iter()
                .find(|l| l.message == "request completed")
                .unwrap();
            assert_eq!(
                (done.level.as_str(), &done["outcome"]),
                ("ERROR", &Value::from("error"))
            );
        }
    }

    #[test]
    fn a_model_no_worker_serves_is_a_404_and_a_served_one_answers() {
        let answer = call(None, chat(JSON, CHAT.replace("Qwen/Qwen3-0.6B", "gpt-9")));
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body["error"]["type"], "model_not_found");

        let answer = call(None, chat(JSON, CHAT));
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(
            answer.body["choices"][0]["message"]["content"],
            "hello there"
        );
        let closed = answer
            .lines
            .iter()
            .find(|l| l.message == "SPAN_CLOSED" && l.span() == "http-request")
            .unwrap();
        assert_eq!(
            (
                &closed["gen_ai.request.model"],
                &closed["gen_ai.usage.input_tokens"],
                &closed["gen_ai.usage.output_tokens"],
                &closed["status"]
            ),
            (
                &Value::from("Qwen/Qwen3-0.6B"),
                &Value::from(2),
                &Value::from(2),
                &Value::from(200)
            ),
            "the frontend's span hook adds the model and token counts"
        );
        let worker = answer
            .lines
            .iter()
            .find(|l| l.message == "SPAN_CREATED" && l.span() == "handle_payload")
            .unwrap();
        assert_eq!(
            worker.parent_id, closed.span_id,
            "the worker continues the request's trace"
        );
    }
}
