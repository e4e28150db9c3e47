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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// One of the request's log lines, for its caller (SPEC §13): sent only when the call's
    /// baggage asked for them, before the message that follows it in time.
    Log {
        /// The line, a JSON object as SPEC §3 writes it.
        line: LogLine,
    },
    /// How many of the request's lines the worker (or a worker it called) dropped at its
    /// `[client_logs]` bounds; sent once, before `done` or `error`, when any were.
    LogsDropped {
        /// The count.
        dropped: u64,
    },
}

/// A log line carried whole inside a protocol line: its JSON, not a string of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogLine(Box<serde_json::value::RawValue>);

impl LogLine {
    /// `line` (one JSON object, a trailing newline allowed), if it is JSON.
    pub fn new(line: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(line.strip_suffix(b"\n").unwrap_or(line)).ok()?;
        serde_json::value::RawValue::from_string(text.to_owned())
            .ok()
            .map(LogLine)
    }

    /// Its JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for LogLine {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// How a `log` message starts, as [`WorkerMessage::to_line`] writes it.
const LOG_START: &[u8] = br#"{"type":"log","line":"#;

impl WorkerMessage {
    /// Reads one line (without its `\n`). A `log` message's line is taken as the bytes it is,
    /// not parsed into values and written again (serde cannot hand a raw value through an
    /// internally tagged enum): the line is still checked to be JSON.
    pub fn from_line(line: &[u8]) -> Result<Self, serde_json::Error> {
        if let Some(rest) = line.strip_prefix(LOG_START) {
            let raw = rest.strip_suffix(b"}").unwrap_or(rest);
            let text = std::str::from_utf8(raw).map_err(serde::de::Error::custom)?;
            let raw = serde_json::value::RawValue::from_string(text.to_owned())?;
            return Ok(WorkerMessage::Log { line: LogLine(raw) });
        }
        serde_json::from_slice(line)
    }

    /// The message as one JSON line, `\n` included.
    pub fn to_line(&self) -> bytes::Bytes {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_as_written_and_a_log_line_stays_byte_for_byte() {
        let line = br#"{"time":"2026-12-04T00:00:00.000001Z","level":"DEBUG","message":"a \"quoted\" } word","n":1.50}"#;
        let messages = [
            WorkerMessage::Token { text: "hi".into() },
            WorkerMessage::Log {
                line: LogLine::new(line).unwrap(),
            },
            WorkerMessage::LogsDropped { dropped: 3 },
            WorkerMessage::Error {
                message: "x".into(),
            },
        ];
        for message in messages {
            let written = message.to_line();
            let read = WorkerMessage::from_line(&written[..written.len() - 1]).unwrap();
            assert_eq!(read, message);
        }
        let written = WorkerMessage::Log {
            line: LogLine::new(line).unwrap(),
        }
        .to_line();
        assert!(written.starts_with(LOG_START));
        let WorkerMessage::Log { line: read } =
            WorkerMessage::from_line(&written[..written.len() - 1]).unwrap()
        else {
            panic!("a log message")
        };
        assert_eq!(read.json().as_bytes(), line, "1.50 stays 1.50");
        assert!(WorkerMessage::from_line(br#"{"type":"log","line":{"a":}"#).is_err());
        assert!(LogLine::new(b"not json").is_none());
    }
}
