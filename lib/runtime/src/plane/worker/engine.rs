//! What generates a call's tokens: the [`Engine`] seam, and the mock engine behind
//! `tracewire-worker` (the Python package plugs a Python async generator in here).

use std::{pin::Pin, time::Duration};

use crate::plane::GenerateRequest;
use futures_util::{stream, Stream, StreamExt};
use tracing::info;

use super::WorkerConfig;

/// One step of a generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A token's text.
    Token(String),
    /// The generation ended for this reason (`stop` if the stream just ends).
    Done {
        /// The protocol's `finish_reason` (`stop`, `length`).
        finish_reason: String,
    },
}

/// Why an engine failed: `message` goes to the caller in the protocol's error message,
/// `detail` (a traceback) only to the ERROR line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// What the caller is told.
    pub message: String,
    /// What the ERROR line adds, as its `exception` field.
    pub detail: Option<String>,
}

/// The steps of one generation; dropping it stops the engine.
pub type Steps = Pin<Box<dyn Stream<Item = Result<Step, EngineError>> + Send>>;

/// An engine: starts a generation for each call. `generate` is called, and its stream polled,
/// inside the call's `handle_payload` span, so what it logs carries the call's trace.
pub trait Engine: Send + Sync + 'static {
    /// The steps of `request`'s generation.
    fn generate(&self, request: GenerateRequest) -> Steps;
}

/// The mock engine: streams the prompt's words back as tokens, up to `max_tokens`, one every
/// `token_delay`.
#[derive(Debug, Clone)]
pub struct MockEngine {
    delay: Duration,
}

impl MockEngine {
    /// The mock engine with `config`'s token delay.
    pub fn new(config: &WorkerConfig) -> Self {
        MockEngine {
            delay: config.token_delay,
        }
    }
}

impl Engine for MockEngine {
    fn generate(&self, request: GenerateRequest) -> Steps {
        let words: Vec<String> = request
            .prompt
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let limit = request
            .max_tokens
            .map_or(words.len(), |m| (m as usize).min(words.len()));
        info!(
            prompt_tokens = words.len(),
            max_tokens = request.max_tokens,
            "generating"
        );
        let finish_reason = if limit < words.len() {
            "length"
        } else {
            "stop"
        };
        let delay = self.delay;
        let tokens = words
            .into_iter()
            .take(limit)
            .enumerate()
            .map(move |(i, word)| {
                let text = if i + 1 < limit {
                    format!("{word} ")
                } else {
                    word
                };
                (i, text)
            });
        let tokens = stream::iter(tokens).then(move |(i, text)| async move {
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            Ok(Step::Token(text))
        });
        let done = stream::once(async move {
            Ok(Step::Done {
                finish_reason: finish_reason.to_owned(),
            })
        });
        Box::pin(tokens.chain(done))
    }
}
