//! The worker's side of the request plane: serves the `generate` endpoint of an [`Engine`]
//! (the mock engine, which streams the prompt's words back as tokens, or another, such as the
//! Python package's), each call in a `handle_payload` span that continues the caller's trace,
//! over HTTP ([`crate::plane::http`]) and, with etcd and NATS, over NATS
//! ([`crate::plane::nats`]); [`crate::plane::run_worker`] serves both. `tracewire-worker`, the
//! frontend's embedded worker and the Python package's `serve_worker` all serve through it.
//!
//! - `engine.rs`: the [`Engine`] seam and the mock engine;
//! - `generation.rs`: [`WorkerConfig`], the `handle_payload` span, the protocol's lines;
//! - `next.rs`: [`NextHop`], the prefill stage that hands a call to the next worker.

mod engine;
pub(crate) mod generation;
mod next;

pub use engine::{Engine, EngineError, MockEngine, Step, Steps};
pub use generation::WorkerConfig;
pub use next::NextHop;
