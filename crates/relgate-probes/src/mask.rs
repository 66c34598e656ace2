//! The mask every redaction writes and the span arithmetic behind it: what a secret is
//! replaced with ([`MASK`]), which key names only point at a secret
//! ([`NOT_SECRET_SUFFIXES`]), and replacing sorted byte ranges of a text. A leaf: both the
//! secret rules (`secrets/`) and the redactor (`redact.rs`) build on it, and it uses
//! neither.

use std::borrow::Cow;

/// What a redacted secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Endings of a key or variable name that names something about a secret (where it is, how
/// long it lives), not the secret: `token_url`, `password_file`, `secret_name`.
pub const NOT_SECRET_SUFFIXES: &[&str] = &[
    "file",
    "path",
    "dir",
    "url",
    "uri",
    "endpoint",
    "env",
    "var",
    "name",
    "type",
    "field",
    "header",
    "prefix",
    "suffix",
    "len",
    "length",
    "count",
    "size",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "format",
    "kind",
    "mode",
    "hash",
    "policy",
    "rotation",
];

/// `spans` sorted, with overlapping or touching ones merged.
pub fn merge_spans(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// `text` with each of `spans` (sorted, disjoint, from [`Redactor::spans`]) replaced by
/// [`MASK`].
pub fn mask(text: &[u8], spans: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    for &(start, end) in spans {
        if start < copied || end <= start {
            continue;
        }
        out.extend_from_slice(&text[copied..start]);
        out.extend_from_slice(MASK.as_bytes());
        copied = end;
    }
    out.extend_from_slice(&text[copied..]);
    out
}

/// [`mask`] for text: borrowed when there is nothing to mask.
pub fn mask_str<'t>(text: &'t str, spans: &[(usize, usize)]) -> Cow<'t, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    // Spans are widened to whole characters, so the result is UTF-8 again.
    Cow::Owned(String::from_utf8_lossy(&mask(text.as_bytes(), spans)).into_owned())
}
