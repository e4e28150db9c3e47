//! The OpenAI-style request and response bodies the frontend reads and writes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `POST /v1/chat/completions`. Unknown fields are accepted, as OpenAI clients send many.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The model asked for.
    pub model: String,
    /// The conversation; the last user message is the prompt.
    pub messages: Vec<ChatMessage>,
    /// Stream the answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Token limit (older name).
    pub max_tokens: Option<u32>,
    /// Token limit (newer name; wins).
    pub max_completion_tokens: Option<u32>,
}

/// One message of the conversation.
#[derive(Debug, Deserialize, Serialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its text.
    pub content: String,
}

impl ChatRequest {
    /// The text the engine completes: the last user message, else the last message.
    pub fn prompt(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .or(self.messages.last())
            .map(|m| m.content.as_str())
    }
}

/// A complete (non-streamed) answer.
pub fn completion(
    id: &str,
    created: u64,
    model: &str,
    content: &str,
    finish_reason: &str,
    prompt_tokens: u32,
    completion_tokens: u32,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    })
}

/// One streamed chunk: a token, or the final chunk with its finish reason.
pub fn chunk(
    id: &str,
    created: u64,
    model: &str,
    content: Option<&str>,
    finish_reason: Option<&str>,
) -> Value {
    let delta = match content {
        Some(text) => json!({"role": "assistant", "content": text}),
        None => json!({}),
    };
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    })
}

/// `{"error": {"message": ..., "type": ...}}`.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind}})
}
