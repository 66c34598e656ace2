//! Redaction: every text a probe logs or returns, and every log and report the gate writes,
//! passes through a [`Redactor`] first. It replaces known secrets (keys read, tokens minted,
//! passwords) and anything the built-in secret rules recognise with `[REDACTED]`.
//!
//! A known secret is also masked in the forms it takes inside other texts: JSON-escaped (a
//! PEM key inside a JSON body), percent-encoded (a password inside a URL) and, for a multi-line
//! secret, line by line (a key cut short in a log).

use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

pub use crate::mask::{mask, mask_str, merge_spans, MASK, NOT_SECRET_SUFFIXES};

/// Shortest known secret (or part of one) worth masking.
const MIN_SECRET_LEN: usize = 6;
/// Shortest line of a multi-line secret masked on its own.
const MIN_LINE_LEN: usize = 16;

/// Replaces secrets in text.
#[derive(Default)]
pub struct Redactor {
    /// Known secrets and their encodings, longest first.
    secrets: RwLock<Vec<String>>,
}

impl fmt::Debug for Redactor {
    // Never the secrets themselves: a `{:?}` in a panic message would print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.secrets.read().unwrap_or_else(|p| p.into_inner()).len();
        f.debug_struct("Redactor")
            .field("known_secrets", &count)
            .finish()
    }
}

impl Redactor {
    /// A redactor with the built-in rules and no known secrets.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Adds a secret to replace wherever it appears (ignored when shorter than 6 bytes: such a
    /// string is not a secret worth the false positives).
    pub fn add_secret(&self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let mut forms = vec![
            secret.to_string(),
            json_escaped(secret),
            percent_encoded(secret),
        ];
        if secret.contains('\n') {
            forms.extend(
                secret
                    .lines()
                    .map(str::trim)
                    // PEM armour lines (`-----BEGIN …-----`) are not secret and stay readable.
                    .filter(|line| line.len() >= MIN_LINE_LEN && !line.starts_with("-----"))
                    .map(str::to_string),
            );
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|p| p.into_inner());
        for form in forms {
            if !secrets.contains(&form) {
                secrets.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }

    /// `text` with every known secret and every rule match replaced by [`MASK`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        mask_str(text, &self.spans(text.as_bytes()))
    }

    /// Whether [`Redactor::spans`] could find anything in `text`: a keyword of a built-in
    /// rule or a known secret occurs in it. `false` means nothing in `text`, nor in any part
    /// of it (such as one of its lines), is masked: a fast test for large clean output.
    pub fn may_match(&self, text: &[u8]) -> bool {
        crate::secrets::may_match(text)
            || self
                .secrets
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|secret| memchr::memmem::find(text, secret.as_bytes()).is_some())
    }

    /// Byte ranges of `text` to mask: every occurrence of a known secret (in any of its
    /// forms) and every match of the built-in rules; sorted, merged, and widened to whole
    /// UTF-8 characters. Works on bytes, so text that is not UTF-8 is redacted too.
    pub fn spans(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let mut spans = crate::secrets::match_spans(text);
        for secret in self
            .secrets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let finder = memchr::memmem::Finder::new(secret.as_bytes());
            spans.extend(
                finder
                    .find_iter(text)
                    .map(|start| (start, start + secret.len())),
            );
        }
        merge(text, spans)
    }
}

/// Sorts and merges overlapping or touching spans, widened so none splits a UTF-8 character.
fn merge(text: &[u8], mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let continuation = |index: usize| text.get(index).is_some_and(|byte| byte & 0xC0 == 0x80);
    for (start, end) in &mut spans {
        while *start > 0 && continuation(*start) {
            *start -= 1;
        }
        while *end < text.len() && continuation(*end) {
            *end += 1;
        }
    }
    merge_spans(spans)
}

/// The secret as it appears inside a JSON string (without the quotes).
fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::Value::String(secret.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// The secret percent-encoded as in a URL (every byte but `A-Za-z0-9-._~`).
fn percent_encoded(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len());
    for byte in secret.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_masked_in_clear_json_and_url_forms() {
        let redactor = Redactor::new();
        redactor.add_secret("p@ss/w\"rd-1234");
        let text = "clear p@ss/w\"rd-1234 json p@ss/w\\\"rd-1234 url p%40ss%2Fw%22rd-1234";
        assert_eq!(
            redactor.redact(text),
            "clear [REDACTED] json [REDACTED] url [REDACTED]"
        );
    }

    #[test]
    fn short_secrets_are_ignored_and_clean_text_is_borrowed() {
        let redactor = Redactor::new();
        redactor.add_secret(" abc ");
        assert_eq!(format!("{redactor:?}"), "Redactor { known_secrets: 0 }");
        assert!(matches!(redactor.redact("abc is fine"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_of_a_multi_line_secret_are_masked_on_their_own() {
        let redactor = Redactor::new();
        let first = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo";
        let second = "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3A";
        redactor.add_secret(&format!(
            "-----BEGIN X-----\n{first}\n{second}\n-----END X-----\n"
        ));
        let cut = format!("-----BEGIN X-----\n{first}\n{}", &second[..10]);
        assert_eq!(
            redactor.redact(&cut),
            format!("-----BEGIN X-----\n[REDACTED]\n{}", &second[..10])
        );
    }
}
