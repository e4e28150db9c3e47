//! HTTP/1.1 by hand over a fresh connection, so the tests can send what a well-behaved client
//! would not and stop reading mid-stream; and the chat request most tests send.

use serde_json::Value;

/// The chat request of the reference doc's curl.
pub const CHAT: &str = r#"{"model": "Qwen/Qwen3-0.6B", "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;

/// The reference doc's curl body itself (with its `max_completion_tokens`).
pub const REFERENCE_CHAT: &str = r#"{"model": "Qwen/Qwen3-0.6B", "max_completion_tokens": 2049, "messages":[{"role":"user", "content": "What is the capital of South Africa?" }]}"#;

/// An upstream caller's W3C `traceparent` (the spec's example ids, sampled).
pub const UPSTREAM: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Sends [`CHAT`] to the frontend at `addr` with `x-request-id: id`.
pub fn chat(addr: &str, id: &str) -> HttpResponse {
    let header = format!("x-request-id: {id}");
    http(addr, "POST", "/v1/chat/completions", &[&header], CHAT)
}

/// A response read by [`HttpCall`].
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl HttpResponse {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), written by hand so the
/// tests can send what a well-behaved client would not and stop reading mid-stream.
pub struct HttpCall {
    stream: std::net::TcpStream,
    raw: Vec<u8>,
}

impl HttpCall {
    /// Sends the request; `headers` are raw `Name: value` lines.
    pub fn send(addr: &str, method: &str, path: &str, headers: &[&str], body: &[u8]) -> HttpCall {
        use std::io::Write;
        let mut stream =
            std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len()).into_bytes();
        for h in headers {
            head.extend_from_slice(h.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(body);
        stream.write_all(&head).expect("send");
        HttpCall {
            stream,
            raw: Vec::new(),
        }
    }

    /// Reads until the raw response contains `needle` (or the connection closes).
    pub fn read_until(&mut self, needle: &str) -> &mut Self {
        use std::io::Read;
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&self.raw).contains(needle) {
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.raw.extend_from_slice(&chunk[..n]),
            }
        }
        self
    }

    /// Reads to the end of the response and parses it.
    pub fn finish(mut self) -> HttpResponse {
        use std::io::Read;
        let _ = self.stream.read_to_end(&mut self.raw);
        parse_response(&self.raw)
    }
}

/// Sends a request and reads the whole response, or says why none came (connection refused or
/// reset, no response head).
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> Result<HttpResponse, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("no response ({read:?}, {} bytes)", raw.len()));
    }
    Ok(parse_response(&raw))
}

/// Sends a request and reads the whole response.
pub fn http(addr: &str, method: &str, path: &str, headers: &[&str], body: &str) -> HttpResponse {
    HttpCall::send(addr, method, path, headers, body.as_bytes()).finish()
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Decodes a chunked body; a truncated one yields what arrived.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = &data[(end + 2).min(data.len())..];
    }
    out
}
