//! Redaction of everything the gate writes: command, service and grep logs pass through a
//! [`LineRedactor`] (relgate-probes' secret rules, line by line, with private-key blocks masked
//! from their BEGIN line to their END line) before they reach the disk, so the digest in the
//! ledger is the digest of the redacted log.

use std::borrow::Cow;
use std::sync::LazyLock;

use relgate_probes::redact::{Redactor, MASK};

/// Longest line kept whole for matching; a longer run without a newline is redacted in pieces.
const MAX_LINE: usize = 64 * 1024;

static REDACTOR: LazyLock<Redactor> = LazyLock::new(Redactor::new);

/// `text` with every secret the built-in rules recognise masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    REDACTOR.redact(text)
}

/// Adds a known secret to the process-wide redactor.
pub fn register_secret(secret: &str) {
    REDACTOR.add_secret(secret);
}

/// Redacts a byte stream line by line.
#[derive(Debug, Default)]
pub struct LineRedactor {
    pending: Vec<u8>,
    in_private_key: bool,
}

impl LineRedactor {
    /// A redactor at the start of a stream.
    pub fn new() -> LineRedactor {
        LineRedactor::default()
    }

    /// Feeds `chunk`; every complete line (and overlong runs) goes to `out`, redacted.
    pub fn push(
        &mut self,
        chunk: &[u8],
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|byte| *byte == b'\n') {
            self.pending.extend_from_slice(&rest[..=newline]);
            rest = &rest[newline + 1..];
            self.flush_pending(out)?;
        }
        self.pending.extend_from_slice(rest);
        if self.pending.len() >= MAX_LINE {
            self.flush_pending(out)?;
        }
        Ok(())
    }

    /// Writes what is left (a last line without newline).
    pub fn finish(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.flush_pending(out)
    }

    fn flush_pending(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let line = std::mem::take(&mut self.pending);
        let result = match self.redact_line(&line) {
            Some(redacted) => out(&redacted),
            None => out(&line),
        };
        self.pending = line;
        self.pending.clear();
        result
    }

    /// The redacted line, or `None` when it is unchanged.
    fn redact_line(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        // Every rule needs letters; output without any (progress bars, binary noise) is clean.
        if !self.in_private_key && !line.iter().any(u8::is_ascii_alphabetic) {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let begins = text.contains("-----BEGIN") && text.contains("PRIVATE KEY");
        let ends = text.contains("-----END") && text.contains("PRIVATE KEY");
        if self.in_private_key || begins {
            // Inside a private key block every line is key material.
            self.in_private_key = !ends;
            let newline = if line.ends_with(b"\n") { "\n" } else { "" };
            let keep = if begins || ends {
                text.trim_end().to_string()
            } else {
                MASK.to_string()
            };
            if begins || ends {
                return Some(format!("{keep}{newline}").into_bytes());
            }
            return Some(format!("{MASK}{newline}").into_bytes());
        }
        match REDACTOR.redact(&text) {
            Cow::Borrowed(_) => None,
            Cow::Owned(redacted) => Some(redacted.into_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut redactor = LineRedactor::new();
        let mut sink = |bytes: &[u8]| {
            out.extend_from_slice(bytes);
            Ok(())
        };
        for chunk in chunks {
            redactor.push(chunk, &mut sink).unwrap();
        }
        redactor.finish(&mut sink).unwrap();
        out
    }

    #[test]
    fn clean_bytes_pass_unchanged_whatever_the_chunking() {
        let text = b"line one\nline two\n\xff\xfe binary\nlast without newline";
        assert_eq!(run(&[text]), text);
        let pieces: Vec<&[u8]> = text.chunks(3).collect();
        assert_eq!(run(&pieces), text);
        let zeros = vec![0u8; 200_000];
        assert_eq!(run(&[&zeros]), zeros);
    }

    #[test]
    fn private_key_blocks_are_masked_line_by_line() {
        let block = concat!(
            "-----BEGIN ",
            "PRIVATE KEY-----\n",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
            "AASCBKcwggSjAgEAAoIBAQC7\n",
            "-----END ",
            "PRIVATE KEY-----\n",
            "after\n"
        );
        let out = String::from_utf8(run(&[block.as_bytes()])).unwrap();
        assert!(!out.contains("MIIEvQ"), "{out}");
        assert!(!out.contains("AASCBKcw"), "{out}");
        assert!(out.ends_with("after\n"), "{out}");
        assert_eq!(out.lines().count(), 5);
    }
}
