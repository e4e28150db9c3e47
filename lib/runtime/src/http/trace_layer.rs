//! The `http-request` span: opened by a [`MakeSpan`] under the caller's context (read from the
//! incoming `traceparent`, `tracestate`, `x-request-id` and `baggage`), kept open until the
//! response body has been sent (so a streamed response is inside it), and closed with one
//! `request completed` event.

use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
    time::Instant,
};

use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower_layer::Layer;
use tower_service::Service;
use tracing::{debug, error, info, warn, Span};

use super::make_span::{DefaultMakeSpan, MakeSpan};
use crate::{
    logging::span_context,
    propagation::{
        ask_client_logs, format_traceparent, Incoming, TRACERESPONSE, X_REQUEST_ID_HEADER,
    },
};

/// Which worker instance served a request, as a handler puts it in its response's extensions:
/// its `request completed` line then carries it as `worker_instance` (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInstance(pub String);

/// Lets a handler report how a streamed response ended after its status was sent: put a clone
/// in the response's extensions, call [`fail`](Self::fail) or [`cancel`](Self::cancel) from the
/// task that streams, and the `request completed` event says so: ERROR with the reason for a
/// failure, WARN with outcome `cancelled` and the reason for a cancellation.
#[derive(Debug, Clone, Default)]
pub struct StreamOutcome(std::sync::Arc<std::sync::Mutex<Option<Ended>>>);

impl StreamOutcome {
    /// Records that the stream failed.
    pub fn fail(&self, reason: impl Into<String>) {
        self.set(Ended::Failed(reason.into()));
    }

    /// Records that the server ended the stream before its end (it is shutting down, say).
    pub fn cancel(&self, reason: impl Into<String>) {
        self.set(Ended::Cancelled(Some(reason.into())));
    }

    fn set(&self, ended: Ended) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ended);
    }

    fn reported(&self) -> Option<Ended> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// How a request ended, as its `request completed` event says.
#[derive(Debug, Clone, PartialEq)]
enum Ended {
    /// The response was sent whole.
    Sent,
    /// The response failed: the service failed, or its body did.
    Failed(String),
    /// The response was cut short: by the client leaving (no reason), or by the server.
    Cancelled(Option<String>),
}

/// A tower layer that runs every request in a span continuing the caller's trace: by default
/// `http-request` with the fields `method`, `uri`, `version` and `status` ([`DefaultMakeSpan`]);
/// [`make_span_with`](Self::make_span_with) puts a span of your own in its place. The request's
/// id (`x-request-id`) is the span's, and a valid one is echoed in the response headers; every
/// response carries `traceresponse` (`00-<trace_id>-<request span id>-<flags>`, W3C Trace
/// Context Level 2), so that a caller can find the request's trace from its answer.
///
/// When the response body ends (or the client goes away, before the response or during its
/// body) it logs one `request completed` event with `status` (499 if the client left before a
/// response), `latency_us` and `outcome` (`ok`, `client_error`, `error`, `cancelled`): INFO, or
/// ERROR for a 5xx status or a failed body, WARN for a cancelled one.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer<M = DefaultMakeSpan> {
    make_span: M,
}

impl TraceLayer {
    /// The layer, with [`DefaultMakeSpan`].
    pub fn new() -> Self {
        TraceLayer {
            make_span: DefaultMakeSpan,
        }
    }
}

impl<M> TraceLayer<M> {
    /// Makes each request's span with `make_span` instead. Defaults to [`DefaultMakeSpan`].
    pub fn make_span_with<N>(self, make_span: N) -> TraceLayer<N> {
        TraceLayer { make_span }
    }
}

impl<S, M: Clone> Layer<S> for TraceLayer<M> {
    type Service = TraceService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService {
            inner,
            make_span: self.make_span.clone(),
        }
    }
}

/// The service [`TraceLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct TraceService<S, M = DefaultMakeSpan> {
    inner: S,
    make_span: M,
}

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for TraceService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: MakeSpan<ReqBody>,
    ResBody: Body,
    ResBody::Error: std::fmt::Display,
{
    type Response = Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let make_span = &mut self.make_span;
        let probe = is_probe(request.uri().path());
        let mut incoming = Incoming::extract(request.headers()).or_new_request_id();
        let refused = ask_client_logs(request.headers(), &mut incoming.remote);
        let (span, remote) = incoming.open(|remote| {
            if probe {
                probe_span(&request, remote)
            } else {
                make_span.make_span(&request, remote)
            }
        });
        if let Some(reason) = refused {
            span.in_scope(|| debug!(reason, "client logs not sent"));
        }
        let trace_response = span_context(&span).and_then(|ctx| {
            HeaderValue::from_str(&format_traceparent(ctx.trace_id, ctx.span_id, ctx.flags)).ok()
        });
        let future = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner: future,
            finish: Some(Finish {
                span,
                start: Instant::now(),
                status: 0,
                outcome: None,
                worker: None,
                probe,
            }),
            trace_response,
            request_id: remote
                .x_request_id
                .and_then(|id| HeaderValue::from_str(&id).ok()),
        }
    }
}

/// Probe paths (SPEC §6): their requests are logged at DEBUG, so that a load balancer's health
/// checks do not fill the INFO log.
const PROBES: [&str; 3] = ["/health", "/live", "/metrics"];

fn is_probe(path: &str) -> bool {
    PROBES.contains(&path)
}

/// A probe's `http-request` span: at DEBUG, with the HTTP fields only.
fn probe_span<B>(request: &Request<B>, remote: crate::trace::RemoteField<'_>) -> Span {
    crate::http_request_span!(level: tracing::Level::DEBUG, request, remote)
}

/// The status logged for a request whose client left before it had a response (nginx's 499).
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// What is needed to close a request's span.
#[derive(Debug)]
struct Finish {
    span: Span,
    start: Instant,
    status: u16,
    outcome: Option<StreamOutcome>,
    /// The worker instance that served it, if the handler said.
    worker: Option<WorkerInstance>,
    /// A probe (`/health`, `/live`, `/metrics`): logged at DEBUG when all is well.
    probe: bool,
}

impl Finish {
    fn complete(self, ended: Ended) {
        let Finish {
            span,
            start,
            status,
            outcome: reported,
            worker,
            probe,
        } = self;
        let worker_instance = worker.as_ref().map(|w| w.0.as_str());
        // What the handler reported stands in for a body that ended as if all was well.
        let ended = match (ended, reported.and_then(|r| r.reported())) {
            (Ended::Sent, Some(reported)) => reported,
            (ended, _) => ended,
        };
        let elapsed = start.elapsed();
        let latency_us = elapsed.as_micros() as u64;
        let outcome = match &ended {
            Ended::Sent if status >= 500 => "error",
            Ended::Sent if status >= 400 => "client_error",
            Ended::Sent => "ok",
            Ended::Cancelled(_) => "cancelled",
            Ended::Failed(_) => "error",
        };
        super::metrics::http_metrics().request(status, outcome, elapsed);
        let _entered = span.enter();
        match ended {
            Ended::Failed(reason) => {
                error!(status, latency_us, outcome, worker_instance, error = %reason, "request completed")
            }
            // No `reason` field when the client left.
            Ended::Cancelled(reason) => {
                warn!(
                    status,
                    latency_us, outcome, worker_instance, reason, "request completed"
                )
            }
            Ended::Sent if outcome == "error" => {
                error!(
                    status,
                    latency_us, outcome, worker_instance, "request completed"
                )
            }
            Ended::Sent if probe => debug!(status, latency_us, outcome, "request completed"),
            Ended::Sent => info!(
                status,
                latency_us, outcome, worker_instance, "request completed"
            ),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a traced response. Dropped before it has a response (the client went
    /// away while the handler ran), it logs the request as `cancelled` with status 499, the
    /// code proxies log for a client that closed the request.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        finish: Option<Finish>,
        trace_response: Option<HeaderValue>,
        request_id: Option<HeaderValue>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(mut finish) = this.project().finish.take() {
                finish.status = CLIENT_CLOSED_REQUEST;
                finish.complete(Ended::Cancelled(None));
            }
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
    B::Error: std::fmt::Display,
{
    type Output = Result<Response<TracedBody<B>>, E>;

    /// # Panics
    ///
    /// If polled again after it completed, as futures may.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let finish = this
                .finish
                .as_ref()
                .expect("TraceLayer's ResponseFuture polled after completion");
            let _entered = finish.span.enter();
            ready!(this.inner.poll(cx))
        };
        let Some(mut finish) = this.finish.take() else {
            unreachable!("checked above, and nothing in between takes it")
        };
        match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                if let Some(id) = this.request_id.take() {
                    parts.headers.insert(X_REQUEST_ID_HEADER, id);
                }
                if let Some(value) = this.trace_response.take() {
                    parts.headers.insert(TRACERESPONSE, value);
                }
                finish.status = parts.status.as_u16();
                finish.outcome = parts.extensions.get::<StreamOutcome>().cloned();
                finish.worker = parts.extensions.remove::<WorkerInstance>();
                finish.span.record("status", finish.status);
                Poll::Ready(Ok(Response::from_parts(
                    parts,
                    TracedBody {
                        inner: body,
                        finish: Some(finish),
                    },
                )))
            }
            Err(e) => {
                finish.status = 500;
                finish.complete(Ended::Failed(
                    "the service failed before a response".to_owned(),
                ));
                Poll::Ready(Err(e))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps the request's span open, and entered while it is polled,
    /// until its last frame has been sent.
    pub struct TracedBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: B,
        finish: Option<Finish>,
    }

    impl<B> PinnedDrop for TracedBody<B>
    where
        B: Body,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(finish) = this.finish.take() {
                // Dropped before the end: the client went away, unless there was nothing left.
                finish.complete(if this.inner.is_end_stream() {
                    Ended::Sent
                } else {
                    Ended::Cancelled(None)
                });
            }
        }
    }
}

impl<B> Body for TracedBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = {
            let _entered = this.finish.as_ref().map(|f| f.span.enter());
            ready!(this.inner.poll_frame(cx))
        };
        match &polled {
            None => {
                if let Some(finish) = this.finish.take() {
                    finish.complete(Ended::Sent);
                }
            }
            Some(Err(e)) => {
                if let Some(finish) = this.finish.take() {
                    finish.complete(Ended::Failed(e.to_string()));
                }
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use serde_json::Value;
    use tower::{service_fn, ServiceExt};
    use tracing::Instrument;

    use super::*;
    use crate::http::SPAN_TARGET;

    #[test]
    fn the_span_target_names_this_module_as_the_events_here_do() {
        assert_eq!(format!("{SPAN_TARGET}::tests"), module_path!());
    }

    use crate::{
        http::ChannelBody,
        logging::testing::{json, jsonl, Line},
    };

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn find<'a>(out: &'a [Line], message: &str) -> Vec<&'a Line> {
        out.iter().filter(|o| o.message == message).collect()
    }

    #[test]
    fn continues_the_callers_trace_and_echoes_the_request_id() {
        let mut echoed = None;
        let out = json(&jsonl(), || {
            run(async {
                let service = TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
                    tracing::info!("handling");
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
                }));
                let request = Request::builder()
                    .uri("/v1/chat/completions?x=1")
                    .header(
                        "traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    )
                    .header("x-request-id", "req-42")
                    .body(())
                    .unwrap();
                let response = service.oneshot(request).await.unwrap();
                echoed = response.headers().get("x-request-id").cloned();
                assert_eq!(
                    response.into_body().collect().await.unwrap().to_bytes(),
                    "hello"
                );
            })
        });
        assert_eq!(echoed.as_ref().map(|v| v.to_str().unwrap()), Some("req-42"));
        let created = find(&out, "SPAN_CREATED")[0];
        assert_eq!(created.span(), "http-request");
        assert_eq!(
            (&created["method"], &created["uri"], &created["version"]),
            (
                &Value::from("GET"),
                &Value::from("/v1/chat/completions?x=1"),
                &Value::from("HTTP/1.1")
            )
        );
        assert_eq!(
            (
                created.trace_id.as_deref(),
                created.parent_id.as_deref(),
                created.x_request_id.as_deref()
            ),
            (
                Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                Some("00f067aa0ba902b7"),
                Some("req-42")
            )
        );
        assert_eq!(find(&out, "handling")[0].span_id, created.span_id);
        let done = find(&out, "request completed");
        assert_eq!(done.len(), 1);
        assert_eq!(
            (
                &done[0]["status"],
                &done[0]["outcome"],
                done[0].level.as_str()
            ),
            (&Value::from(200), &Value::from("ok"), "INFO")
        );
        let messages: Vec<_> = out.iter().map(|o| o.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "SPAN_CREATED",
                "handling",
                "request completed",
                "SPAN_CLOSED"
            ]
        );
        assert_eq!(find(&out, "SPAN_CLOSED")[0]["status"], 200);
    }

    #[test]
    fn a_streamed_body_is_inside_the_span_until_its_end() {
        let out = json(&jsonl(), || {
            run(async {
                let service = TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
                    let (tx, body) = ChannelBody::new(4);
                    tokio::spawn(
                        async move {
                            for chunk in ["a", "b"] {
                                tracing::info!(chunk, "sending");
                                tx.send(Bytes::from_static(chunk.as_bytes())).await.unwrap();
                            }
                        }
                        .instrument(Span::current()),
                    );
                    Ok::<_, Infallible>(Response::new(body))
                }));
                let response = service.oneshot(Request::new(())).await.unwrap();
                tracing::info!("headers received");
                assert_eq!(
                    response.into_body().collect().await.unwrap().to_bytes(),
                    "ab"
                );
            })
        });
        let messages: Vec<_> = out.iter().map(|o| o.message.as_str()).collect();
        assert_eq!(
            messages
                .iter()
                .filter(|m| **m == "request completed")
                .count(),
            1
        );
        let done = messages
            .iter()
            .position(|m| *m == "request completed")
            .unwrap();
        assert!(
            messages.iter().rposition(|m| *m == "sending").unwrap() < done,
            "completed after the last chunk: {messages:?}"
        );
        let span = &find(&out, "SPAN_CREATED")[0].span_id;
        assert!(find(&out, "sending").iter().all(|o| &o.span_id == span));
    }

    #[test]
    fn a_client_that_goes_away_is_a_cancelled_request() {
        let out = json(&jsonl(), || {
            run(async {
                let service = TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
                    let (tx, body) = ChannelBody::new(4);
                    tokio::spawn(async move {
                        let _ = tx.send(Bytes::from_static(b"first")).await;
                        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                    });
                    Ok::<_, Infallible>(Response::new(body))
                }));
                let response = service.oneshot(Request::new(())).await.unwrap();
                let mut body = response.into_body();
                let _ = body.frame().await;
                drop(body);
            })
        });
        let done = find(&out, "request completed");
        assert_eq!(done.len(), 1);
        assert_eq!(
            (&done[0]["outcome"], done[0].level.as_str()),
            (&Value::from("cancelled"), "WARN")
        );
    }

    /// The `request completed` line of a response whose handler reported its stream's end.
    fn reported(report: fn(&StreamOutcome)) -> Line {
        let out = json(&jsonl(), || {
            run(async {
                let service =
                    TraceLayer::new().layer(service_fn(move |_req: Request<()>| async move {
                        let outcome = StreamOutcome::default();
                        report(&outcome);
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(b"data: {}\n\n")));
                        response.extensions_mut().insert(outcome);
                        Ok::<_, Infallible>(response)
                    }));
                let response = service.oneshot(Request::new(())).await.unwrap();
                let _ = response.into_body().collect().await;
            })
        });
        find(&out, "request completed")[0].clone()
    }

    #[test]
    fn a_stream_the_server_ended_early_is_cancelled_with_its_reason() {
        let done = reported(|outcome| outcome.cancel("the server is shutting down"));
        assert_eq!(done.level, "WARN");
        assert_eq!(
            (&done["outcome"], &done["reason"], &done["status"]),
            (
                &Value::from("cancelled"),
                &Value::from("the server is shutting down"),
                &Value::from(200)
            )
        );
    }

    #[test]
    fn a_reported_stream_failure_is_an_error() {
        let done = reported(|outcome| outcome.fail("the worker died"));
        assert_eq!(done.level, "ERROR");
        assert_eq!(
            (&done["outcome"], &done["error"], &done["status"]),
            (
                &Value::from("error"),
                &Value::from("the worker died"),
                &Value::from(200)
            )
        );
    }

    #[test]
    fn a_bad_request_id_is_warned_inside_the_span_and_replaced_by_a_new_one() {
        let mut echoed = Some(HeaderValue::from_static("unset"));
        let out = json(&jsonl(), || {
            run(async {
                let service = TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                }));
                let request = Request::builder()
                    .header(
                        "x-request-id",
                        HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
                    )
                    .body(())
                    .unwrap();
                let response = service.oneshot(request).await.unwrap();
                echoed = response.headers().get("x-request-id").cloned();
                drop(response);
            })
        });
        // The bad one is never echoed: a new UUID v4 is, and it is the request's id everywhere.
        let echoed = echoed.unwrap();
        let echoed = echoed.to_str().unwrap();
        assert_eq!(echoed.len(), 36, "{echoed}");
        assert_eq!(&echoed[14..15], "4", "UUID v4: {echoed}");
        let warn = find(&out, "ignoring invalid x-request-id")[0];
        assert_eq!(
            (warn.level.as_str(), warn.span(), &warn["value"]),
            ("WARN", "http-request", &Value::from("\"caf\\xc3\\xa9\""))
        );
        assert_eq!(
            find(&out, "SPAN_CREATED")[0].x_request_id.as_deref(),
            Some(echoed)
        );
        assert_eq!(warn.x_request_id.as_deref(), Some(echoed));
        assert_eq!(
            find(&out, "request completed")[0]["outcome"],
            "ok",
            "an empty body dropped unpolled is complete, not cancelled"
        );
    }

    #[test]
    fn probes_are_logged_at_debug_and_other_requests_at_info() {
        let call = |path: &'static str, level: &str| {
            json(
                &crate::logging::testing::with_dyn_log(jsonl(), level),
                || {
                    run(async {
                        let service =
                            TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
                                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                            }));
                        let request = Request::builder().uri(path).body(()).unwrap();
                        drop(service.oneshot(request).await.unwrap());
                    })
                },
            )
        };
        for probe in ["/health", "/live", "/metrics"] {
            assert!(call(probe, "info").is_empty(), "{probe}: nothing at INFO");
            let out = call(probe, "debug");
            assert_eq!(find(&out, "request completed")[0].level, "DEBUG", "{probe}");
            assert_eq!(find(&out, "SPAN_CREATED")[0].level, "DEBUG", "{probe}");
        }
        let out = call("/v1/models", "info");
        assert_eq!(find(&out, "request completed")[0].level, "INFO");
        assert_eq!(find(&out, "SPAN_CREATED")[0].level, "INFO");
    }

    #[test]
    fn a_make_span_of_its_own_adds_fields_and_keeps_the_http_ones() {
        fn with_model(request: &Request<()>, remote: crate::trace::RemoteField<'_>) -> Span {
            crate::http_request_span!(request, remote, model = tracing::field::Empty)
        }
        let out = json(&jsonl(), || {
            run(async {
                let service = TraceLayer::new()
                    .make_span_with(with_model)
                    .layer(service_fn(|_req: Request<()>| async {
                        Span::current().record("model", "m-1");
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }));
                let request = Request::builder()
                    .uri("/x")
                    .header("x-request-id", "own-1")
                    .body(())
                    .unwrap();
                let _ = service
                    .oneshot(request)
                    .await
                    .unwrap()
                    .into_body()
                    .collect()
                    .await;
            })
        });
        let created = find(&out, "SPAN_CREATED")[0];
        assert_eq!(
            (
                created.span(),
                created.target.as_str(),
                created.x_request_id.as_deref()
            ),
            ("http-request", SPAN_TARGET, Some("own-1"))
        );
        assert_eq!(created["method"], "GET");
        let closed = find(&out, "SPAN_CLOSED")[0];
        assert_eq!(
            (&closed["model"], &closed["status"]),
            (&Value::from("m-1"), &Value::from(200))
        );
    }

    #[test]
    fn a_response_future_polled_after_completion_says_so() {
        let mut future = TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
        let mut future = Box::pin(future.call(Request::new(())));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_ready());
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = future.as_mut().poll(&mut cx);
        }));
        let message = again.expect_err("a second poll is a bug of the caller's, not a hang");
        assert_eq!(
            message.downcast_ref::<String>().map(String::as_str),
            Some("TraceLayer's ResponseFuture polled after completion")
        );
    }

    #[test]
    fn a_request_dropped_before_its_response_is_a_cancelled_request() {
        let out = json(&jsonl(), || {
            let mut service = TraceLayer::new().layer(service_fn(|_req: Request<()>| async {
                std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>().await
            }));
            let mut future = Box::pin(service.call(Request::new(())));
            let mut cx = Context::from_waker(std::task::Waker::noop());
            assert!(future.as_mut().poll(&mut cx).is_pending());
            drop(future);
        });
        let done = find(&out, "request completed");
        assert_eq!(done.len(), 1, "{out:#?}");
        assert_eq!(
            (
                done[0].level.as_str(),
                &done[0]["outcome"],
                &done[0]["status"]
            ),
            ("WARN", &Value::from("cancelled"), &Value::from(499))
        );
        assert_eq!(find(&out, "SPAN_CLOSED").len(), 1);
    }
}
