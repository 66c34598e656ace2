//! Who may sign what: git's and ssh-keygen's allowed-signers file
//! (`principals [options] keytype key [comment]`, one signer per line; see ALLOWED SIGNERS in
//! ssh-keygen(1)), the file a team already keeps to verify signed commits.
//!
//! `principals` is a comma-separated pattern list (`*`, `?`, `!` negation) matched against
//! the identity a signature claims; the options relgate honours are `namespaces="…"` (a pattern
//! list the signature's namespace must match), `valid-after=` and `valid-before=` (`YYYYMMDD` or
//! `YYYYMMDDHHMM[SS]`, with a trailing `Z` for UTC; relgate reads a time without `Z` as UTC too,
//! where ssh-keygen reads it in the local time zone — write the `Z`). A `cert-authority` line
//! and a key of another type than ed25519 are read and never match.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{openssh, TrustedKey};

/// A line of the file.
#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    principals: Vec<String>,
    namespaces: Option<Vec<String>>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
    /// `None` for a certificate authority or a key relgate cannot check.
    key: Option<TrustedKey>,
}

/// A parsed allowed-signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// A file that cannot be used, naming the file and line.
#[derive(Debug, thiserror::Error)]
pub enum SignersError {
    /// The file cannot be read.
    #[error("cannot read the allowed signers file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `principals [options] keytype key`.
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// Why a signer is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No line holds the key.
    #[error("the key {fingerprint} is not in {file}")]
    UnknownKey {
        /// The key's fingerprint.
        fingerprint: String,
        /// The allowed signers file.
        file: String,
    },
    /// The key is listed, but not for this identity.
    #[error("{file} does not allow the key {fingerprint} to sign as {identity}")]
    Identity {
        /// The identity claimed.
        identity: String,
        /// The key's fingerprint.
        fingerprint: String,
        /// The allowed signers file.
        file: String,
    },
    /// The key may sign as the identity, but not for this namespace.
    #[error("{file}:{line} does not allow {identity} to sign for the namespace `{namespace}`")]
    Namespace {
        /// The identity.
        identity: String,
        /// The namespace.
        namespace: String,
        /// The allowed signers file.
        file: String,
        /// The line that lists the key.
        line: usize,
    },
    /// Not valid yet at the time of the check.
    #[error("{file}:{line}: the key of {identity} is valid only after {valid_after}")]
    NotYetValid {
        /// The identity.
        identity: String,
        /// `valid-after`.
        valid_after: String,
        /// The allowed signers file.
        file: String,
        /// The line.
        line: usize,
    },
    /// No longer valid at the time of the check.
    #[error("{file}:{line}: the key of {identity} expired at {valid_before}")]
    Expired {
        /// The identity.
        identity: String,
        /// `valid-before`.
        valid_before: String,
        /// The allowed signers file.
        file: String,
        /// The line.
        line: usize,
    },
}

impl AllowedSigners {
    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<AllowedSigners, SignersError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignersError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        AllowedSigners::parse(path, &text)
    }

    /// Parses the text of the file at `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<AllowedSigners, SignersError> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line, index + 1).map_err(|problem| SignersError::Line {
                path: path.to_path_buf(),
                line: index + 1,
                problem,
            })?;
            entries.push(entry);
        }
        Ok(AllowedSigners {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The identities listed for `key` (its lines' principal patterns), for a signer to pick
    /// its own from.
    pub fn principals_of(&self, key: &TrustedKey) -> Vec<String> {
        self.entries
            .iter()
            .filter(|entry| entry.key.as_ref() == Some(key))
            .flat_map(|entry| entry.principals.iter().cloned())
            .collect()
    }

    /// Whether `key` may sign as `identity` for `namespace` at time `at`, as `ssh-keygen -Y
    /// verify -I identity -n namespace` decides: some line must hold the key, match the
    /// identity, allow the namespace and be valid at `at`.
    pub fn check(
        &self,
        identity: &str,
        key: &TrustedKey,
        namespace: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let file = self.path.display().to_string();
        let with_key: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| entry.key.as_ref() == Some(key))
            .collect();
        if with_key.is_empty() {
            return Err(Refusal::UnknownKey {
                fingerprint: key.keyid().to_string(),
                file,
            });
        }
        let mut first_refusal = None;
        for entry in with_key
            .iter()
            .filter(|entry| pattern_list_matches(&entry.principals, identity))
        {
            let refusal = if entry
                .namespaces
                .as_ref()
                .is_some_and(|allowed| !pattern_list_matches(allowed, namespace))
            {
                Some(Refusal::Namespace {
                    identity: identity.to_string(),
                    namespace: namespace.to_string(),
                    file: file.clone(),
                    line: entry.line,
                })
            } else if entry.valid_after.is_some_and(|after| at < after) {
                Some(Refusal::NotYetValid {
                    identity: identity.to_string(),
                    valid_after: entry.valid_after.map(show).unwrap_or_default(),
                    file: file.clone(),
                    line: entry.line,
                })
            } else if entry.valid_before.is_some_and(|before| at > before) {
                Some(Refusal::Expired {
                    identity: identity.to_string(),
                    valid_before: entry.valid_before.map(show).unwrap_or_default(),
                    file: file.clone(),
                    line: entry.line,
                })
            } else {
                None
            };
            match refusal {
                None => return Ok(()),
                Some(refusal) => {
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        Err(first_refusal.unwrap_or(Refusal::Identity {
            identity: identity.to_string(),
            fingerprint: key.keyid().to_string(),
            file,
        }))
    }
}

fn show(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

const NO_KEY: &str = "no key: expected `principals [options] keytype base64-key`";

/// One non-comment line.
fn parse_line(line: &str, number: usize) -> Result<Entry, String> {
    let (principals, rest) = next_field(line)?;
    if principals.is_empty() {
        return Err("no principals".into());
    }
    let (second, mut rest) = next_field(rest)?;
    if second.is_empty() {
        return Err(NO_KEY.into());
    }
    let mut entry = Entry {
        line: number,
        principals: principals.split(',').map(str::to_string).collect(),
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: None,
    };
    let mut cert_authority = false;
    let keytype = if is_keytype(&second) {
        second
    } else {
        for option in split_options(&second)? {
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name.to_ascii_lowercase(), Some(dequote(value))),
                None => (option.to_ascii_lowercase(), None),
            };
            match (name.as_str(), value) {
                ("cert-authority", None) => cert_authority = true,
                ("namespaces", Some(list)) => {
                    entry.namespaces = Some(list.split(',').map(str::to_string).collect());
                }
                ("valid-after", Some(time)) => entry.valid_after = Some(parse_time(&time)?),
                ("valid-before", Some(time)) => entry.valid_before = Some(parse_time(&time)?),
                _ => return Err(format!("unknown option `{option}`")),
            }
        }
        let (keytype, after) = next_field(rest)?;
        rest = after;
        keytype
    };
    let (encoded, _comment) = next_field(rest)?;
    if keytype.is_empty() || encoded.is_empty() {
        return Err(NO_KEY.into());
    }
    if keytype == openssh::ED25519 && !cert_authority {
        let public = openssh::parse_public_line(&format!("{keytype} {encoded}"))
            .map_err(|problem| problem.to_string())?;
        entry.key = Some(TrustedKey::from_ed25519(&public).map_err(|problem| problem.to_string())?);
    }
    Ok(entry)
}

fn is_keytype(word: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-", "rsa-"]
        .iter()
        .any(|prefix| word.starts_with(prefix))
}

/// The next whitespace-separated field (a field starting with `"` runs to the closing quote)
/// and the rest of the line.
fn next_field(text: &str) -> Result<(String, &str), String> {
    let text = text.trim_start();
    let mut in_quotes = false;
    for (at, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => {
                return Ok((dequote(&text[..at]), &text[at..]));
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err("an unclosed `\"`".into());
    }
    Ok((dequote(text), ""))
}

/// Options separated by commas outside quotes.
fn split_options(text: &str) -> Result<Vec<String>, String> {
    let mut options = Vec::new();
    let (mut current, mut in_quotes) = (String::new(), false);
    for c in text.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            ',' if !in_quotes => options.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    options.push(current);
    if options.iter().any(String::is_empty) {
        return Err(format!("an empty option in `{text}`"));
    }
    Ok(options)
}

fn dequote(text: &str) -> String {
    text.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(text)
        .to_string()
}

/// `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]`, as UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let digits = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    let bad = || format!("`{text}` is not a time (YYYYMMDD or YYYYMMDDHHMM[SS], Z for UTC)");
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let naive = match digits.len() {
        8 => NaiveDate::parse_from_str(digits, "%Y%m%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0)),
        12 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M").ok(),
        14 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok(),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(naive.and_utc())
}

/// ssh's pattern lists: a match of a negated pattern (`!p`) refuses, else any positive match
/// accepts.
fn pattern_list_matches(patterns: &[String], text: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard(negated.as_bytes(), text.as_bytes()) {
                return false;
            }
        } else if wildcard(pattern.as_bytes(), text.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// `*` (any run) and `?` (any one byte) wildcard matching, iteratively.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::signing::RunSigner;
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> TrustedKey {
        RunSigner::new(SigningKey::from_bytes(&[seed; 32])).public()
    }

    fn line_of(key: &TrustedKey) -> String {
        format!(
            "ssh-ed25519 {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                openssh::public_blob(&key.public_bytes())
            )
        )
    }

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap()
    }

    #[test]
    fn identities_namespaces_and_validity_decide() {
        let (alice, bob, eve) = (key(1), key(2), key(3));
        let text = format!(
            "# reviewers\n\
             alice@example.com namespaces=\"relgate-review,git\" {}\n\
             \"bob@example.com,*@ops.example.com\" valid-after=20260101Z,valid-before=\"20261231\" {} bob's key\n\
             *,!mallory@example.com cert-authority {}\n",
            line_of(&alice),
            line_of(&bob),
            line_of(&eve)
        );
        let signers = AllowedSigners::parse(Path::new("allowed_signers"), &text).unwrap();
        let now = at("20260601Z");
        assert_eq!(
            signers.check("alice@example.com", &alice, "relgate-review", now),
            Ok(())
        );
        assert!(matches!(
            signers.check("alice@example.com", &alice, "file", now),
            Err(Refusal::Namespace { line: 2, .. })
        ));
        assert!(matches!(
            signers.check("bob@example.com", &alice, "relgate-review", now),
            Err(Refusal::Identity { .. })
        ));
        assert_eq!(
            signers.check("ann@ops.example.com", &bob, "relgate-review", now),
            Ok(())
        );
        assert!(matches!(
            signers.check("bob@example.com", &bob, "relgate-review", at("20251231Z")),
            Err(Refusal::NotYetValid { .. })
        ));
        assert!(matches!(
            signers.check(
                "bob@example.com",
                &bob,
                "relgate-review",
                at("20270101000001Z")
            ),
            Err(Refusal::Expired { .. })
        ));
        // A certificate authority line never matches a plain key.
        assert!(matches!(
            signers.check("eve@example.com", &eve, "relgate-review", now),
            Err(Refusal::UnknownKey { .. })
        ));
        assert_eq!(
            signers.principals_of(&bob),
            ["bob@example.com", "*@ops.example.com"]
        );
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let text = format!(
            "ok@x {}\nbroken@x valid-before=tomorrow {}\n",
            line_of(&key(1)),
            line_of(&key(2))
        );
        let err = AllowedSigners::parse(Path::new(".relgate/allowed_signers"), &text).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".relgate/allowed_signers:2: `tomorrow` is not a time (YYYYMMDD or YYYYMMDDHHMM[SS], Z for UTC)"
        );
        let err = AllowedSigners::parse(Path::new("f"), "someone@x\n").unwrap_err();
        assert!(err.to_string().starts_with("f:1: no key"), "{err}");
        let err =
            AllowedSigners::parse(Path::new("f"), "a@x frobnicate ssh-ed25519 AAAA\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown option `frobnicate`"),
            "{err}"
        );
    }

    #[test]
    fn wildcards_and_negation_follow_ssh() {
        let list = |patterns: &[&str]| patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(pattern_list_matches(
            &list(&["*@example.com"]),
            "a@example.com"
        ));
        assert!(!pattern_list_matches(
            &list(&["*@example.com"]),
            "a@example.org"
        ));
        assert!(pattern_list_matches(&list(&["a?c"]), "abc"));
        assert!(!pattern_list_matches(&list(&["*", "!root"]), "root"));
        assert!(pattern_list_matches(&list(&["*", "!root"]), "rooty"));
        assert!(!pattern_list_matches(&list(&["!root"]), "alice"));
        assert!(wildcard(b"**a*", b"xxa"));
        assert!(!wildcard(b"a*b", b"acbd"));
    }
}
