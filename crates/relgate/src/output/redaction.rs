//! One redactor for every byte relgate writes.
//!
//! The rules are relgate-probes' secret rules plus the known secrets registered at run start
//! ([`register_secret`]: the values of `env` entries whose names look secret, see
//! [`is_secret_name`]). Every output goes through this module:
//!
//! - logs (commands, services, grep, scans) through a [`LineRedactor`] as they are written, so
//!   the digest in the ledger is the digest of the redacted log;
//! - every file of the out directory through [`write_report`] (redact, then write atomically):
//!   ledger lines are redacted before they are hashed, fragments, JUnit, tracker, SARIF, HTML
//!   and the attestation before they are written;
//! - the terminal and GitHub (summary, annotations, step summary, test failures, progress)
//!   through [`redact`] or a [`Writer`].
//!
//! Redaction is idempotent and keeps JSON, XML and HTML well-formed: the mask `[REDACTED]` has
//! no markup character, and a masked span never leaves half a `\` escape or `&…;` entity.
//!
//! Private-key blocks: a `-----BEGIN … PRIVATE KEY-----` armour stays readable, and whatever
//! follows it on the line up to its END armour (a one-line or JSON-escaped key) is masked by
//! the `private-key` rule; after a BEGIN that does not close on its line, the following lines
//! are masked while they are shaped like key material (PEM headers, base64 lines), and masking
//! stops at the END armour or at the first other line: prose after a BEGIN is never masked.

mod lines;
mod views;

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::LazyLock;

pub use lines::LineRedactor;
use relgate_probes::redact::Redactor;
pub use relgate_probes::redact::MASK;

static REDACTOR: LazyLock<Redactor> = LazyLock::new(Redactor::new);

/// Adds a known secret to the process-wide redactor: from now on it is masked (also in its
/// JSON-escaped and percent-encoded forms) in every log and report.
pub fn register_secret(secret: &str) {
    REDACTOR.add_secret(secret);
}

/// `text` with every secret masked; borrowed when there is none.
pub fn redact(text: &str) -> Cow<'_, str> {
    match redact_bytes(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        // Spans cover whole characters, so the result is UTF-8 again.
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// `bytes` with every secret masked, line by line (private-key blocks included); borrowed
/// when there is none.
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    // One search for the common case (what a fresh `LineRedactor` does with a clean block).
    if lines::is_clean(bytes) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::new();
    let mut changed = false;
    let mut redactor = LineRedactor::new();
    let mut offset = 0;
    let mut sink = |piece: &[u8]| {
        changed |= bytes.get(offset..offset + piece.len()) != Some(piece);
        offset += piece.len();
        out.extend_from_slice(piece);
        Ok(())
    };
    // Writing into a Vec cannot fail.
    let _ = redactor.push(bytes, &mut sink);
    let _ = redactor.finish(&mut sink);
    if changed || offset != bytes.len() {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(bytes)
    }
}

/// Redacts every string (and object key) of a JSON value in place.
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            if let Cow::Owned(redacted) = redact(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                redact_json(&mut item);
                map.insert(redact(&key).into_owned(), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A copy of `value` (a record) with every string redacted; `value` itself when it does not
/// round-trip through JSON (never the case for evidence records).
pub fn redacted<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + Clone,
{
    let Ok(mut json) = serde_json::to_value(value) else {
        return value.clone();
    };
    redact_json(&mut json);
    serde_json::from_value(json).unwrap_or_else(|_| value.clone())
}

/// Prints `error: <err>` on stderr, redacted: errors quote the gate file, arguments and
/// evidence, any of which may hold a secret.
pub fn print_error(err: &dyn std::fmt::Display) {
    eprintln!("error: {}", redact(&err.to_string()));
}

/// The one way a file of the out directory is written: `bytes` redacted, then written
/// atomically. A JSON file (`.json`, `.sarif`, `.jsonl`) whose redaction would no longer parse
/// is refused rather than written broken.
pub fn write_report(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::output::atomic::write(path, &redact_for(path, bytes)?)
}

/// [`write_report`], returning the bytes written (to sign exactly them).
pub fn write_report_returning(path: &Path, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let redacted = redact_for(path, bytes)?.into_owned();
    crate::output::atomic::write(path, &redacted)?;
    Ok(redacted)
}

/// `bytes` of the file `path` redacted, as [`write_report`] writes them (also for bytes
/// appended to a file, such as a journal line).
pub fn redact_for<'a>(path: &Path, bytes: &'a [u8]) -> std::io::Result<Cow<'a, [u8]>> {
    let redacted = redact_bytes(bytes);
    if let Cow::Owned(changed) = &redacted {
        check_still_json(path, changed)?;
    }
    Ok(redacted)
}

fn check_still_json(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or("");
    let parses = match extension {
        "json" | "sarif" => serde_json::from_slice::<serde_json::Value>(bytes).is_ok(),
        "jsonl" => bytes
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
            .all(|line| serde_json::from_slice::<serde_json::Value>(line).is_ok()),
        _ => true,
    };
    if parses {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "redacting {} would break its JSON; refusing to write it",
                path.display()
            ),
        ))
    }
}

/// A writer that redacts what passes through it, line by line (the terminal: summary,
/// annotations). Lines are written as they complete; [`Writer::finish`] (or drop) writes the
/// rest.
pub struct Writer<W: Write> {
    inner: W,
    lines: LineRedactor,
}

impl<W: Write> Writer<W> {
    /// Redacts into `inner`.
    pub fn new(inner: W) -> Writer<W> {
        Writer {
            inner,
            lines: LineRedactor::new(),
        }
    }

    /// Writes an unfinished last line and flushes.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let inner = &mut self.inner;
        self.lines.finish(&mut |bytes| inner.write_all(bytes))?;
        self.inner.flush()
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let inner = &mut self.inner;
        self.lines.push(buf, &mut |bytes| inner.write_all(bytes))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Only complete lines are out; a partial line waits for its end (or `finish`).
        self.inner.flush()
    }
}

impl<W: Write> Drop for Writer<W> {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// A trial's result with its failure message redacted: libtest prints it as it is.
pub fn trial_result<T>(
    result: Result<T, libtest_mimic::Failed>,
) -> Result<T, libtest_mimic::Failed> {
    result.map_err(|failed| match failed.message() {
        Some(message) => libtest_mimic::Failed::from(redact(message)),
        None => failed,
    })
}

/// Last words of a variable name that say something about a secret, not what it is: the
/// secret rules' [`relgate_probes::redact::NOT_SECRET_SUFFIXES`] and these.
pub const NOT_SECRET_LAST_WORDS: &[&str] = &[
    "host",
    "port",
    "user",
    "username",
    "timeout",
    "method",
    "scheme",
    "provider",
    "algorithm",
    "enabled",
    "disabled",
    "required",
];

/// Whether an environment variable's name says its value is a secret. The name is split into
/// words at `_`, `-`, `.` and lower-to-upper case changes; it is secret when a word,
/// case-insensitively, ends with TOKEN(S), SECRET(S), PASSWORD(S), PASSWD, PASSPHRASE,
/// CREDENTIAL(S) or AUTH, or is KEY(S), a compound key word (APIKEY, PRIVATEKEY, ACCESSKEY,
/// SECRETKEY, SIGNINGKEY, MASTERKEY) or one of the short words PASS, PWD and PAT (whole words
/// only: `DB_PASS`, `MYSQL_PWD`, `GH_PAT`, but not `BYPASS`, `COMPASS`, `PATH`, `PATCH`; the
/// shell's own `PWD` and `OLDPWD`, which hold directories, are not secret), unless the last word says something about a secret
/// rather than being one ([`NOT_SECRET_LAST_WORDS`]: `TOKEN_URL`, `PASSWORD_FILE`,
/// `AUTH_MODE`). So `GITHUB_TOKEN`, `PGPASSWORD`, `apiKey`, `OAUTH` and
/// `AWS_SECRET_ACCESS_KEY` are secret; `KEYBOARD`, `MONKEY`, `AUTHOR`, `TOKENIZER` and
/// `TOKEN_URL` are not.
pub fn is_secret_name(name: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "token",
        "tokens",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "passphrase",
        "credential",
        "credentials",
        "auth",
    ];
    const KEY_WORDS: &[&str] = &[
        "key",
        "keys",
        "apikey",
        "privatekey",
        "accesskey",
        "secretkey",
        "signingkey",
        "masterkey",
        "pass",
        "pwd",
        "pat",
    ];
    // The shell's working directories.
    if name.eq_ignore_ascii_case("PWD") || name.eq_ignore_ascii_case("OLDPWD") {
        return false;
    }
    let words = name_words(name);
    if words.last().is_some_and(|last| {
        NOT_SECRET_LAST_WORDS.contains(&last.as_str())
            || relgate_probes::redact::NOT_SECRET_SUFFIXES.contains(&last.as_str())
    }) {
        return false;
    }
    words.iter().any(|word| {
        ENDINGS.iter().any(|ending| word.ends_with(ending)) || KEY_WORDS.contains(&word.as_str())
    })
}

/// Lower-case words of a variable name: split at `_`, `-`, `.` and where a lower-case letter
/// or digit is followed by an upper-case one.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.') {
            words.push(std::mem::take(&mut word));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    words.push(word);
    words.retain(|word| !word.is_empty());
    words
}

/// Whether the redactor could mask anything in `text` (a rule's keyword or a known secret
/// occurs in it; see [`relgate_probes::redact::Redactor::may_match`]).
fn may_match(text: &[u8]) -> bool {
    REDACTOR.may_match(text)
}

/// The byte ranges of one line (or piece of a long line) to mask: the rules and known
/// secrets, run over the line with its ANSI escapes blanked, with its backslash escapes blanked
/// too, and with its ANSI escapes removed ([`views`]), widened so that no `\` escape or `&…;`
/// entity is cut in half.
fn line_spans(text: &[u8]) -> Vec<(usize, usize)> {
    let blanked = views::without_ansi(text);
    let mut spans = REDACTOR.spans(&blanked);
    if let Some(view) = views::without_backslash_escapes(&blanked) {
        spans.extend(REDACTOR.spans(&view));
    }
    if let Some((view, offsets)) = views::ansi_removed(text) {
        spans.extend(
            REDACTOR
                .spans(&view)
                .into_iter()
                .filter(|(start, end)| start < end)
                .map(|span| views::span_in_text(&offsets, span)),
        );
    }
    for (start, end) in &mut spans {
        widen_for_markup(text, start, end);
    }
    relgate_probes::redact::merge_spans(spans)
}

/// Widens `start..end` so that masking it keeps JSON and XML/HTML well-formed: a character
/// escaped by a `\` before the span takes its backslash along, a span ending in an unfinished
/// `\` escape takes the escaped character (and a `\u` escape's four hex digits), and a span
/// starting inside an `&name;` entity takes its `&`.
fn widen_for_markup(text: &[u8], start: &mut usize, end: &mut usize) {
    let backslashes_before =
        |at: usize| text[..at].iter().rev().take_while(|b| **b == b'\\').count();
    if backslashes_before(*start) % 2 == 1 {
        *start -= 1;
    }
    if let Some(amp) = text[..*start]
        .iter()
        .rev()
        .take(12)
        .position(|byte| !(byte.is_ascii_alphanumeric() || *byte == b'#'))
        .map(|back| *start - back - 1)
        .filter(|at| text[*at] == b'&' && *at < *start)
    {
        *start = amp;
    }
    if *end > *start && backslashes_before(*end) % 2 == 1 && *end < text.len() {
        let escaped = text[*end];
        *end += 1;
        if escaped == b'u' {
            *end = (*end + 4).min(text.len());
        }
    }
}

#[cfg(test)]
mod tests;
