//! The approvals directory (`.relgate/approvals/` by default, committed like code): one folder
//! per packet, a `TIME-DECISION.json` record and its `.json.sig` SSH signature per review.
//! Writing signs what was written; reading checks every signature against the allowed signers
//! file, and refuses a file with a reason instead of dropping it silently.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::record::ReviewRecord;
use super::NAMESPACE;
use crate::evidence::fragment::encode;
use crate::evidence::signing::allowed_signers::AllowedSigners;
use crate::evidence::signing::sshsig::{self, SshSig};
use crate::evidence::signing::RunSigner;
use crate::evidence::ReviewEntry;
use crate::output::redaction;
use crate::spec::ReviewConfig;

/// A review file read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// Signed by an allowed signer, for this namespace, over exactly these bytes.
    Valid {
        /// The record file, relative to the approvals directory.
        file: String,
        /// The record.
        record: Box<ReviewRecord>,
    },
    /// Refused, with why.
    Refused {
        /// The record (or signature) file, relative to the approvals directory.
        file: String,
        /// Why it does not count.
        reason: String,
    },
}

impl From<Loaded> for ReviewEntry {
    fn from(loaded: Loaded) -> Self {
        match loaded {
            Loaded::Valid { file, record } => ReviewEntry {
                file,
                review: Some(*record),
                refused: None,
            },
            Loaded::Refused { file, reason } => ReviewEntry {
                file,
                review: None,
                refused: Some(reason),
            },
        }
    }
}

/// Why a review cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file system refused.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The redactor changed the record (a secret in the note or findings): what would be signed
    /// is not what the reviewer wrote.
    #[error("the review names a secret (it was redacted from {}): remove it from the note or findings", path.display())]
    Redacted {
        /// The record file.
        path: PathBuf,
    },
}

/// Writes `record` and its signature by `signer` under `dir` (through the redactor, atomically)
/// and returns the record's path.
pub fn write(dir: &Path, record: &ReviewRecord, signer: &RunSigner) -> Result<PathBuf, WriteError> {
    let stamp: String = record
        .time
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let name = format!(
        "{stamp}-{}.json",
        record
            .decision
            .label()
            .to_ascii_lowercase()
            .replace('_', "-")
    );
    let path = dir.join(encode(&record.packet)).join(name);
    let io = |source| WriteError::Io {
        path: path.clone(),
        source,
    };
    let bytes = record.to_bytes();
    if redaction::redact_bytes(&bytes) != bytes {
        return Err(WriteError::Redacted { path });
    }
    let signature = sshsig::sign(signer, NAMESPACE, &bytes);
    let sig_path = signature_path(&path);
    redaction::write_report(&path, &bytes).map_err(io)?;
    redaction::write_report(&sig_path, signature.as_bytes()).map_err(|source| WriteError::Io {
        path: sig_path.clone(),
        source,
    })?;
    Ok(path)
}

/// `NAME.json.sig`: where ssh-keygen puts the signature of `NAME.json`.
pub fn signature_path(record: &Path) -> PathBuf {
    let mut name = record.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Every review under `dir`, each checked: its signature over its bytes, for [`NAMESPACE`], by
/// a key `signers` allows to sign as the record's reviewer at `at`, and naming that key. In file
/// order; a missing directory is no review.
pub fn load(dir: &Path, signers: &AllowedSigners, at: DateTime<Utc>) -> Vec<Loaded> {
    review_files(dir)
        .into_iter()
        .map(|(path, file)| match check(&path, signers, at) {
            Ok(record) => Loaded::Valid {
                file,
                record: Box::new(record),
            },
            Err(reason) => Loaded::Refused { file, reason },
        })
        .collect()
}

/// Every review of the gate's reviews directory as the ledger keeps it: each checked (see
/// [`load`]); when the allowed signers file cannot be read, every review is refused saying so.
pub fn read_all(config: &ReviewConfig, at: DateTime<Utc>) -> Vec<ReviewEntry> {
    match AllowedSigners::load(&config.allowed_signers) {
        Ok(signers) => load(&config.dir, &signers, at)
            .into_iter()
            .map(ReviewEntry::from)
            .collect(),
        Err(err) => review_files(&config.dir)
            .into_iter()
            .map(|(_, file)| ReviewEntry {
                file,
                review: None,
                refused: Some(err.to_string()),
            })
            .collect(),
    }
}

/// The record files under `dir` (`PACKET/NAME.json`), in order: each path and its name
/// relative to `dir`.
fn review_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for packet in read_dir_sorted(dir) {
        if packet.is_dir() {
            files.extend(
                read_dir_sorted(&packet)
                    .into_iter()
                    .filter(|file| file.extension().is_some_and(|ext| ext == "json")),
            );
        }
    }
    files
        .into_iter()
        .map(|path| {
            let file = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            (path, file)
        })
        .collect()
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    paths
}

fn check(path: &Path, signers: &AllowedSigners, at: DateTime<Utc>) -> Result<ReviewRecord, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("cannot read it: {err}"))?;
    let sig_path = signature_path(path);
    let armored = std::fs::read_to_string(&sig_path)
        .map_err(|err| format!("no signature beside it ({}: {err})", sig_path.display()))?;
    let signature = SshSig::parse(&armored).map_err(|err| err.to_string())?;
    signature
        .verify(NAMESPACE, &bytes)
        .map_err(|err| err.to_string())?;
    let record: ReviewRecord =
        serde_json::from_slice(&bytes).map_err(|err| format!("not a review record: {err}"))?;
    if record.key != signature.key().keyid() {
        return Err(format!(
            "it names the key {} but is signed by {}",
            record.key,
            signature.key().keyid()
        ));
    }
    signers
        .check(&record.reviewer, signature.key(), NAMESPACE, at)
        .map_err(|refusal| refusal.to_string())?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::super::record::{Binding, ReviewDecision};
    use super::*;
    use crate::evidence::signing::openssh;
    use base64::Engine as _;
    use ed25519_dalek::SigningKey;

    fn signer(seed: u8) -> RunSigner {
        RunSigner::new(SigningKey::from_bytes(&[seed; 32]))
    }

    fn allowed(lines: &[(&str, &RunSigner)]) -> AllowedSigners {
        let text: String = lines
            .iter()
            .map(|(who, key)| {
                let blob = openssh::public_blob(&key.public().public_bytes());
                format!(
                    "{who} ssh-ed25519 {}\n",
                    base64::engine::general_purpose::STANDARD.encode(blob)
                )
            })
            .collect();
        AllowedSigners::parse(Path::new("allowed_signers"), &text).unwrap()
    }

    fn record(reviewer: &str, key: &RunSigner) -> ReviewRecord {
        ReviewRecord {
            version: 1,
            gate: "g".into(),
            packet: "SEC-01".into(),
            decision: ReviewDecision::Approved,
            reviewer: reviewer.into(),
            key: key.keyid().to_string(),
            time: "2026-12-04T20:00:00.000Z".into(),
            commit: "abc".into(),
            binding: Binding {
                code: "c".into(),
                packet: "p".into(),
                outcomes: "o".into(),
            },
            note: "looked at the RLS policies".into(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn a_written_review_loads_and_any_change_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (rita, eve) = (signer(1), signer(2));
        let signers = allowed(&[("rita@example.com", &rita)]);
        let now = "2026-12-05T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let path = write(dir.path(), &record("rita@example.com", &rita), &rita).unwrap();
        assert!(
            path.ends_with("SEC-01/20261204T200000000Z-approved.json"),
            "{path:?}"
        );
        let loaded = load(dir.path(), &signers, now);
        assert!(
            matches!(&loaded[..], [Loaded::Valid { record, .. }] if record.reviewer == "rita@example.com")
        );

        // A byte changed in the record.
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        let at = changed.iter().position(|b| *b == b'R').unwrap();
        changed[at] = b'r';
        std::fs::write(&path, &changed).unwrap();
        let reason = |loaded: Vec<Loaded>| match &loaded[..] {
            [Loaded::Refused { reason, .. }] => reason.clone(),
            other => panic!("{other:?}"),
        };
        assert!(reason(load(dir.path(), &signers, now)).contains("does not match"));
        std::fs::write(&path, &original).unwrap();

        // Signed by a key the file does not list, or claiming someone else's name.
        let other = tempfile::tempdir().unwrap();
        write(other.path(), &record("eve@example.com", &eve), &eve).unwrap();
        assert!(reason(load(other.path(), &signers, now)).contains("is not in allowed_signers"));
        let third = tempfile::tempdir().unwrap();
        write(third.path(), &record("rita@example.com", &eve), &eve).unwrap();
        assert!(reason(load(third.path(), &signers, now)).contains("is not in allowed_signers"));

        // The signature removed.
        std::fs::remove_file(signature_path(&path)).unwrap();
        assert!(reason(load(dir.path(), &signers, now)).contains("no signature"));
    }

    #[test]
    fn a_secret_in_the_note_is_refused_not_signed() {
        let dir = tempfile::tempdir().unwrap();
        let rita = signer(1);
        let mut review = record("rita@example.com", &rita);
        review.note = format!(
            "the token is ghp_{}",
            "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
        );
        assert!(matches!(
            write(dir.path(), &review, &rita),
            Err(WriteError::Redacted { .. })
        ));
    }
}
