//! The prefill stage of disaggregated serving (SPEC §6, `--next-worker` / `--next-component`):
//! an [`Engine`] that hands each call to the next worker (the decode stage) through a
//! [`PlaneClient`], the frontend's client, over HTTP or NATS, and streams its tokens back.
//!
//! Called inside the call's `handle_payload`, it opens a `prefill` span there (the client span
//! of the hop) and makes the next call inside it, so the next worker's `handle_payload` is its
//! child in the same trace; `x-request-id`, `tracestate`, `baggage` (a request's own level,
//! client logs) and the sampled flag are the span's, which it inherits, and go on with the call.
//! The lines the next worker sends back for the caller join this request's (the plane client
//! does that), and a next worker that fails or dies mid-stream fails this call with its reason.

use std::sync::Arc;

use futures_util::stream;
use tracing::{field::Empty, info, info_span, Instrument, Span};

use super::{
    engine::{Engine, EngineError, Step, Steps},
    generation::WORKER_TARGET,
};
use crate::plane::{GenerateRequest, PlaneClient, TokenStream, WorkerMessage};

/// Hands every call to the next worker of `plane`.
pub struct NextHop {
    plane: Arc<PlaneClient>,
}

impl std::fmt::Debug for NextHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextHop")
            .field("workers", &self.plane.worker_urls())
            .finish()
    }
}

impl NextHop {
    /// A prefill stage in front of the workers `plane` reaches.
    pub fn new(plane: Arc<PlaneClient>) -> Self {
        NextHop { plane }
    }
}

/// Where a hop is.
enum Hop {
    Start(Arc<PlaneClient>, GenerateRequest),
    Streaming(TokenStream),
    Ended,
}

fn failed(message: String) -> Result<Step, EngineError> {
    Err(EngineError {
        message,
        detail: None,
    })
}

impl Engine for NextHop {
    fn generate(&self, request: GenerateRequest) -> Steps {
        let prompt_tokens = request.prompt.split_whitespace().count();
        let span = info_span!(
            target: WORKER_TARGET,
            "prefill",
            prompt_tokens,
            next_worker = Empty,
            otel.kind = "client",
        );
        let start = Hop::Start(self.plane.clone(), request);
        Box::pin(stream::unfold(start, move |hop| {
            let span = span.clone();
            async move {
                let mut tokens = match hop {
                    Hop::Start(plane, request) => {
                        match plane.generate(&request).instrument(span.clone()).await {
                            Ok(tokens) => {
                                span.record("next_worker", tokens.instance());
                                span.in_scope(|| info!("handed off to the next worker"));
                                tokens
                            }
                            Err(e) => {
                                let message = format!("the next worker: {e}");
                                return Some((failed(message), Hop::Ended));
                            }
                        }
                    }
                    Hop::Streaming(tokens) => tokens,
                    Hop::Ended => return None,
                };
                next_step(&mut tokens, &span).await.map(|(step, more)| {
                    (
                        step,
                        if more {
                            Hop::Streaming(tokens)
                        } else {
                            Hop::Ended
                        },
                    )
                })
            }
        }))
    }
}

/// The next worker's next message as a step, and whether more may come.
async fn next_step(
    tokens: &mut TokenStream,
    span: &Span,
) -> Option<(Result<Step, EngineError>, bool)> {
    loop {
        let message = tokens.next().instrument(span.clone()).await?;
        return Some(match message {
            Ok(WorkerMessage::Token { text }) => (Ok(Step::Token(text)), true),
            Ok(WorkerMessage::Done { finish_reason, .. }) => {
                (Ok(Step::Done { finish_reason }), false)
            }
            Ok(WorkerMessage::Error { message }) => {
                (failed(format!("the next worker failed: {message}")), false)
            }
            // The plane client keeps the lines for the caller to itself.
            Ok(WorkerMessage::Log { .. } | WorkerMessage::LogsDropped { .. }) => continue,
            Err(e) => (failed(format!("the next worker: {e}")), false),
        });
    }
}
