//! Redaction: every text a probe logs or returns, and every log and report the gate writes,
//! passes through a [`Redactor`] first. It replaces known secrets (keys read, tokens minted,
//! passwords) and anything the built-in secret rules recognise with `[REDACTED]`.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a redacted secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Replaces secrets in text.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<String>>,
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
        if secret.len() < 6 {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|p| p.into_inner());
        if !secrets.iter().any(|known| known == secret) {
            secrets.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
        }
    }

    /// `text` with every known secret and every rule match replaced by [`MASK`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in self.secrets.read().unwrap_or_else(|p| p.into_inner()).iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        match crate::secrets::redact_matches(&out) {
            Cow::Borrowed(_) => out,
            Cow::Owned(redacted) => Cow::Owned(redacted),
        }
    }
}
