//! The ledger file itself: its lines (sequence, previous line's digest, record), reading and
//! writing it, and re-hashing its chain and every log it names (`verify_chain`).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::*;

/// One ledger line's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The run header (first line).
    Header(RunHeader),
    /// A service the run started.
    Service(ServiceRecord),
    /// A review of a packet the run read (with `[review]`).
    Review(ReviewEntry),
    /// A check or checklist item.
    Check(CheckRecord),
    /// A packet.
    Packet(PacketRecord),
    /// The verdict (last line).
    Verdict(VerdictRecord),
}

/// One ledger line: sequence number, hash of the previous line, payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// 1-based line number.
    pub seq: u64,
    /// sha256 (hex) of the previous line's bytes without its newline; [`GENESIS`] for line 1.
    pub prev: String,
    /// The payload.
    #[serde(flatten)]
    pub record: Record,
}

/// [`Line`] as it is serialized, borrowing its record (the same JSON, without a copy).
#[derive(Serialize)]
struct LineRef<'a> {
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    record: &'a Record,
}

/// The records of a run, in ledger order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// Payloads in order.
    pub records: Vec<Record>,
}

impl Ledger {
    /// The run header, if present.
    pub fn header(&self) -> Option<&RunHeader> {
        self.records.iter().find_map(|record| match record {
            Record::Header(header) => Some(header),
            _ => None,
        })
    }

    /// The reviews the run read.
    pub fn reviews(&self) -> impl Iterator<Item = &ReviewEntry> {
        self.records.iter().filter_map(|record| match record {
            Record::Review(entry) => Some(entry),
            _ => None,
        })
    }

    /// All check and checklist records.
    pub fn checks(&self) -> impl Iterator<Item = &CheckRecord> {
        self.records.iter().filter_map(|record| match record {
            Record::Check(check) => Some(check),
            _ => None,
        })
    }

    /// All service records.
    pub fn services(&self) -> impl Iterator<Item = &ServiceRecord> {
        self.records.iter().filter_map(|record| match record {
            Record::Service(service) => Some(service),
            _ => None,
        })
    }

    /// All packet records.
    pub fn packets(&self) -> impl Iterator<Item = &PacketRecord> {
        self.records.iter().filter_map(|record| match record {
            Record::Packet(packet) => Some(packet),
            _ => None,
        })
    }

    /// The verdict record, if present.
    pub fn verdict(&self) -> Option<&VerdictRecord> {
        self.records.iter().find_map(|record| match record {
            Record::Verdict(verdict) => Some(verdict),
            _ => None,
        })
    }

    /// Serializes the ledger with its hash chain.
    pub fn to_jsonl(&self) -> String {
        self.to_jsonl_and_head().0
    }

    /// [`Ledger::to_jsonl`] and the sha256 of its last line (the chain's head), or
    /// [`GENESIS`].
    fn to_jsonl_and_head(&self) -> (String, String) {
        let mut out = String::new();
        let mut prev = GENESIS.to_string();
        for (index, record) in self.records.iter().enumerate() {
            let line = LineRef {
                seq: index as u64 + 1,
                prev: &prev,
                record,
            };
            // Redacted before it is hashed, so the chain is the chain of what is written.
            let text = serde_json::to_string(&line).expect("ledger records serialize");
            let text = crate::output::redaction::redact(&text);
            let hash = sha256_hex(text.as_bytes());
            out.push_str(&text);
            out.push('\n');
            prev = hash;
        }
        (out, prev)
    }

    /// sha256 of the last line of [`Ledger::to_jsonl`] (the chain's head), or [`GENESIS`].
    pub fn head(&self) -> String {
        self.to_jsonl_and_head().1
    }

    /// Writes the ledger atomically to `<out>/evidence.jsonl`.
    pub fn write(&self, out_dir: &Path) -> std::io::Result<PathBuf> {
        Ok(self.write_with_head(out_dir)?.0)
    }

    /// [`Ledger::write`], also returning the [`Ledger::head`] (serializing once).
    pub fn write_with_head(&self, out_dir: &Path) -> std::io::Result<(PathBuf, String)> {
        let path = out_dir.join(LEDGER_FILE);
        let (text, head) = self.to_jsonl_and_head();
        crate::output::redaction::write_report(&path, text.as_bytes())?;
        Ok((path, head))
    }
}

/// What kind of problem `verify` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyErrorKind {
    /// The ledger could not be read.
    Unreadable,
    /// A line is not a ledger record.
    Malformed,
    /// A line's `prev` does not match the hash of the line before it.
    ChainBroken,
    /// A sequence number is wrong: a line was inserted or removed.
    Sequence,
    /// A log's size or digest differs from its record.
    LogChanged,
    /// A log named by a record is missing.
    LogMissing,
    /// The ledger does not end with a verdict record.
    NoVerdict,
    /// A record names a file outside the out directory.
    OutsideOutDir,
}

/// The first problem `verify` found, naming the ledger line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct VerifyError {
    /// Ledger path.
    pub path: String,
    /// 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// What kind of problem.
    pub kind: VerifyErrorKind,
    /// Lowercase message.
    pub message: String,
}

/// Re-hashes the ledger chain in `out_dir` and every log it names; returns the ledger.
///
/// The first mismatch is returned, naming its line.
pub fn verify(out_dir: &Path) -> Result<Ledger, VerifyError> {
    verify_chain(out_dir).map(|(ledger, _)| ledger)
}

/// [`verify`], also returning the chain's head: the sha256 of the last line.
pub fn verify_chain(out_dir: &Path) -> Result<(Ledger, String), VerifyError> {
    let path = out_dir.join(LEDGER_FILE);
    let display = path.display().to_string();
    let error = |line: Option<usize>, kind: VerifyErrorKind, message: String| VerifyError {
        path: display.clone(),
        line,
        kind,
        message,
    };
    let file = crate::output::containment::open_regular(&path).map_err(|err| {
        error(
            None,
            VerifyErrorKind::Unreadable,
            format!("cannot read: {err}"),
        )
    })?;
    let mut prev = GENESIS.to_string();
    let mut ledger = Ledger::default();
    let mut count = 0usize;
    for (index, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let number = index + 1;
        let at = Some(number);
        let bytes = line.map_err(|err| {
            error(
                at,
                VerifyErrorKind::Unreadable,
                format!("cannot read: {err}"),
            )
        })?;
        let parsed: Line = serde_json::from_slice(&bytes).map_err(|err| {
            error(
                at,
                VerifyErrorKind::Malformed,
                format!("not a ledger record: {err}"),
            )
        })?;
        if parsed.prev != prev {
            return Err(error(
                at,
                VerifyErrorKind::ChainBroken,
                format!(
                    "hash chain broken: record {number} says the previous line hashed to {}, it hashes to {prev} (the previous line or this one was changed)",
                    parsed.prev
                ),
            ));
        }
        if parsed.seq != number as u64 {
            return Err(error(
                at,
                VerifyErrorKind::Sequence,
                format!(
                    "sequence number {}, expected {number} (a line was inserted or removed)",
                    parsed.seq
                ),
            ));
        }
        if let Record::Service(service) = &parsed.record {
            if let (Some(log), Some(sha256)) = (&service.log, &service.sha256) {
                verify_log(out_dir, &service.name, log, sha256, Some(service.bytes))
                    .map_err(|(kind, message)| error(at, kind, message))?;
            }
        }
        if let Record::Check(check) = &parsed.record {
            // Every attempt's log and a scan's stored report are evidence too.
            for (_, attempt) in check.numbered_attempts() {
                if let (Some(log), Some(sha256)) = (&attempt.log, &attempt.sha256) {
                    verify_log(out_dir, &check.name, log, sha256, Some(attempt.bytes))
                        .map_err(|(kind, message)| error(at, kind, message))?;
                }
                if let (Some(report), Some(sha256)) = (&attempt.report, &attempt.report_sha256) {
                    verify_log(out_dir, &check.name, report, sha256, None)
                        .map_err(|(kind, message)| error(at, kind, message))?;
                }
            }
            if let Err(why) = verify_no_log(out_dir, check) {
                return Err(error(at, VerifyErrorKind::LogChanged, why.to_string()));
            }
        }
        prev = sha256_hex(&bytes);
        ledger.records.push(parsed.record);
        count = number;
    }
    if !matches!(ledger.records.last(), Some(Record::Verdict(_))) {
        return Err(error(
            None,
            VerifyErrorKind::NoVerdict,
            format!(
                "no verdict record: the ledger is incomplete or was truncated after line {count}"
            ),
        ));
    }
    Ok((ledger, prev))
}

/// How a record without a log contradicts itself or the out directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoLogError {
    /// It claims output bytes.
    #[error("{name} records {bytes} bytes of output but no log")]
    Bytes {
        /// The check.
        name: String,
        /// The bytes it claims.
        bytes: u64,
    },
    /// It claims a digest other than that of no bytes.
    #[error("{name} records output with sha256 {sha256} but no log (no output is sha256 {EMPTY_SHA256})")]
    Digest {
        /// The check.
        name: String,
        /// The digest it claims.
        sha256: String,
    },
    /// Its log file exists although it says the check printed nothing.
    #[error("{relative} exists, but the record of {name} says the check printed nothing")]
    LogExists {
        /// The log's path in the out directory.
        relative: String,
        /// The check.
        name: String,
    },
}

/// A check record without a log must say so consistently: no bytes, no digest or the digest of
/// no bytes, and — when it claims the check ran and printed nothing — no log file on disk.
/// Each attempt of the record is held to this at its own log path
/// ([`CheckRecord::attempt_log_path`]).
pub fn verify_no_log(out_dir: &Path, check: &CheckRecord) -> Result<(), NoLogError> {
    for (number, attempt) in check.numbered_attempts() {
        attempt_without_log(out_dir, attempt, number)?;
    }
    Ok(())
}

fn attempt_without_log(
    out_dir: &Path,
    check: &CheckRecord,
    attempt: usize,
) -> Result<(), NoLogError> {
    if check.log.is_some() {
        return Ok(());
    }
    let name = check.name.clone();
    if check.bytes != 0 {
        return Err(NoLogError::Bytes {
            name,
            bytes: check.bytes,
        });
    }
    let Some(sha256) = &check.sha256 else {
        return Ok(());
    };
    if sha256 != EMPTY_SHA256 {
        return Err(NoLogError::Digest {
            name,
            sha256: sha256.clone(),
        });
    }
    let relative = CheckRecord::attempt_log_path(&check.packet, &check.check, attempt);
    let plain = Path::new(&relative)
        .components()
        .all(|part| matches!(part, std::path::Component::Normal(_)));
    if plain && std::fs::symlink_metadata(out_dir.join(&relative)).is_ok() {
        return Err(NoLogError::LogExists { relative, name });
    }
    Ok(())
}

fn verify_log(
    out_dir: &Path,
    name: &str,
    log: &str,
    recorded: &str,
    recorded_bytes: Option<u64>,
) -> Result<(), (VerifyErrorKind, String)> {
    let path = crate::output::containment::resolve(out_dir, log).map_err(|err| {
        (
            VerifyErrorKind::OutsideOutDir,
            format!("log {log} of {name}: {err}"),
        )
    })?;
    let (actual, actual_bytes) = sha256_file(&path).map_err(|err| {
        (
            VerifyErrorKind::LogMissing,
            format!("log {log} of {name} is missing: {err}"),
        )
    })?;
    if actual != recorded || recorded_bytes.is_some_and(|bytes| bytes != actual_bytes) {
        let size = recorded_bytes.map_or(String::new(), |bytes| format!("{bytes} bytes "));
        return Err((
            VerifyErrorKind::LogChanged,
            format!(
                "{log} of {name} changed: recorded {size}sha256 {recorded}, found {actual_bytes} bytes sha256 {actual}"
            ),
        ));
    }
    Ok(())
}
