//! What travels between frontend and worker: a JSON request, and a response of JSON lines.

use serde::{Deserialize, Serialize};

/// Where a worker describes itself.
pub const INFO_PATH: &str = "/info";

/// A worker's description, served at [`INFO_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// The model it serves.
    pub model: String,
    /// Its namespace (`dynamo`).
    pub namespace: String,
    /// Its component (`backend`).
    pub component: String,
    /// Its endpoint name; the endpoint is served at `POST /<endpoint>`.
    pub endpoint: String,
    /// Stable for the life of the worker process.
    pub instance_id: String,
}

/// One generation call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// The model asked for.
    pub model: String,
    /// The text to complete.
    pub prompt: String,
    /// At most this many tokens.
    pub max_tokens: Option<u32>,
}

/// One line of a worker's streamed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The next token.
    Token {
        /// Its text.
        text: String,
    },
    /// The end of a successful generation.
    Done {
        /// `stop` or `length`.
        finish_reason: String,
        /// Tokens in the prompt.
        prompt_tokens: u32,
        /// Tokens generated.
        completion_tokens: u32,
    },
    /// The worker failed after the response had started.
    Error {
        /// What went wrong.
        message: String,
    },
}

impl WorkerMessage {
    /// The message as one JSON line, `\n` included.
    pub fn to_line(&self) -> bytes::Bytes {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line.into()
    }
}
