//! HTTP for the probes: one request, any status accepted, a bounded body, and a one-line
//! description of what was sent and what came back.

use std::time::{Duration, Instant};

/// How many bytes of a reply body are kept.
pub const BODY_LIMIT: u64 = 64 * 1024;
/// How many bytes of a body a description shows.
pub const SHOWN_BYTES: usize = 120;

/// A request as a probe sends it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header names and values, sent as given.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty: none).
    pub body: Vec<u8>,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// `GET /v1/me` plus headers and body, for case evidence (redact before storing).
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.method, self.url);
        for (name, value) in &self.headers {
            text.push_str(&format!("\n{name}: {value}"));
        }
        if !self.body.is_empty() {
            text.push_str("\n\n");
            text.push_str(&shown(&self.body));
        }
        text
    }
}

/// A reply: status and the first [`BODY_LIMIT`] bytes of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body (truncated at [`BODY_LIMIT`]).
    pub body: Vec<u8>,
}

impl Reply {
    /// `401 {"error":"invalid token"}`: the status and the first bytes of the body.
    pub fn describe(&self) -> String {
        if self.body.is_empty() {
            self.status.to_string()
        } else {
            format!("{} {}", self.status, shown(&self.body))
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The first [`SHOWN_BYTES`] bytes as text, with `…` when cut.
pub fn shown(body: &[u8]) -> String {
    let cut = body.len().min(SHOWN_BYTES);
    let mut text = String::from_utf8_lossy(&body[..cut])
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    if body.len() > cut {
        text.push('…');
    }
    text
}

/// Why a request got no reply (a transport failure, never a status).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The check's deadline passed before sending.
    #[error("the check's deadline has passed")]
    DeadlinePassed,
    /// The request cannot be built (a header or URL `http` refuses).
    #[error("{method} {url}: {source}")]
    Build {
        method: String,
        url: String,
        #[source]
        source: ureq::http::Error,
    },
    /// Refused connection, timeout, bad URL…
    #[error("{method} {url}: {source}")]
    Transport {
        method: String,
        url: String,
        #[source]
        source: ureq::Error,
    },
}

/// Sends `request`, waiting at most `timeout` (and never past `deadline`). Any status is a
/// reply; only transport failures (refused connection, timeout, bad URL) are errors.
pub fn send(request: &Request, timeout: Duration, deadline: Instant) -> Result<Reply, SendError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(SendError::DeadlinePassed);
    }
    let failed = |source| SendError::Transport {
        method: request.method.clone(),
        url: request.url.clone(),
        source,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout.min(left)))
        .max_redirects(0)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let built = builder
        .body(request.body.clone())
        .map_err(|source| SendError::Build {
            method: request.method.clone(),
            url: request.url.clone(),
            source,
        })?;
    let mut response = agent.run(built).map_err(failed)?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .unwrap_or_default();
    Ok(Reply { status, body })
}
