//! tracewire's worker: the `tracewire-worker` binary's flags, and the worker endpoint it serves
//! (`tracewire_runtime::plane::worker` and the HTTP routes of `plane::http`, re-exported here),
//! with the mock engine that streams the prompt's words back as tokens.

use std::time::Duration;

pub use tracewire_runtime::plane::{
    http::{app, app_with, BoundWorker},
    run_worker as run,
    worker::*,
};

/// The mock engine's flags, shared by `tracewire-worker` and the frontend's embedded worker.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// The model name this worker serves.
    #[arg(long, default_value = "Qwen/Qwen3-0.6B")]
    pub model: String,
    /// Pause between tokens, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub token_delay_ms: u64,
}

impl EngineArgs {
    /// `config` with these flags' model and token delay.
    pub fn apply(&self, config: WorkerConfig) -> WorkerConfig {
        WorkerConfig {
            model: self.model.clone(),
            token_delay: Duration::from_millis(self.token_delay_ms),
            ..config
        }
    }
}
