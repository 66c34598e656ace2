//! Evidence fragments: the run header and one record per finished check or stopped service,
//! appended as lines of the run's journal `fragments/<run-id>/journal.jsonl`, which chains
//! them by digest (`fragment/journal.rs`).
//!
//! Under `cargo nextest run` every test case is its own process, so no process sees the whole
//! run; each appends its fragments and `cargo xtask gate report` joins them into the ledger.
//! In-process runs write fragments too, so `report` can rebuild any run's reports, and a run
//! killed between checks loses nothing it recorded. One line per check, in one file that
//! stays open: recording a check creates no file.
//!
//! Names encode the ids injectively: `check_<packet>_<check>` and `service_<name>_<tag>`,
//! where every byte of an id other than ASCII letters, digits, `-` and `.` is percent-encoded
//! (`_` → `%5F`), so `_` only ever separates.

mod journal;

use std::path::{Component, Path, PathBuf};

use crate::evidence::{CheckRecord, RunHeader, ServiceRecord};
use crate::model::digest::sha256_file;

pub use journal::JOURNAL_FILE;

/// Directory of all fragments inside the out directory.
pub const FRAGMENTS_DIR: &str = "fragments";
/// The run header's name; the journal's first record.
pub const HEADER_NAME: &str = "header";
/// Directory of a run's claim lock files (nextest coordination).
pub const CLAIMS_DIR: &str = "claims";
const CHECK_PREFIX: &str = "check_";
const SERVICE_PREFIX: &str = "service_";
const TRIAL_PREFIX: &str = "trial_";

/// That a shard's test process finished one trial (see `run/shard.rs`): which trial, which
/// of nextest's attempts, and how it ended. A trial of a shard without one never ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrialRun {
    /// The trial's name.
    pub trial: String,
    /// nextest's attempt (`NEXTEST_ATTEMPT`, 1 without retries).
    pub attempt: u32,
    /// `passed`, `failed` or `ignored`.
    pub outcome: String,
}

/// Why a run's fragments cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FragmentError {
    /// The fragments could not be read.
    #[error("{0}")]
    Io(String),
    /// The evidence disagrees with its journal's digests or with the logs on disk.
    #[error("the evidence fragments were altered: {0}")]
    Tampered(String),
}

/// The directory holding one run's journal (and, under nextest, its claims).
pub fn run_dir(out_dir: &Path, run_id: &str) -> PathBuf {
    out_dir.join(FRAGMENTS_DIR).join(run_id)
}

/// `id` with every byte but ASCII letters, digits, `-` and `.` percent-encoded.
pub fn encode(id: &str) -> String {
    let mut encoded = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.' {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Name of a check's fragment: (`SEC-01`, `api_suites`) → `check_SEC-01_api%5Fsuites`.
pub fn fragment_name(packet: &str, check: &str) -> String {
    format!("{CHECK_PREFIX}{}_{}", encode(packet), encode(check))
}

/// Name of the fragment of nextest's `attempt` of a check: attempt 1 is [`fragment_name`],
/// a later one adds `_<attempt>` (a third `_`-separated part, so no check id can collide).
pub fn attempt_fragment_name(packet: &str, check: &str, attempt: u32) -> String {
    if attempt <= 1 {
        fragment_name(packet, check)
    } else {
        format!("{}_{attempt}", fragment_name(packet, check))
    }
}

fn trial_name(trial: &str, attempt: u32) -> String {
    format!("{TRIAL_PREFIX}{}_{attempt}", encode(trial))
}

fn service_name(name: &str, tag: &str) -> String {
    format!("{SERVICE_PREFIX}{}_{}", encode(name), encode(tag))
}

/// Appends one check's record to the run's journal.
pub fn write_record(out_dir: &Path, run_id: &str, record: &CheckRecord) -> std::io::Result<()> {
    append(
        &run_dir(out_dir, run_id),
        &fragment_name(&record.packet, &record.check),
        record,
    )
}

/// Appends the record of nextest's `attempt` of a check (its earlier attempts are in it).
pub fn write_record_attempt(
    out_dir: &Path,
    run_id: &str,
    record: &CheckRecord,
    attempt: u32,
) -> std::io::Result<()> {
    append(
        &run_dir(out_dir, run_id),
        &attempt_fragment_name(&record.packet, &record.check, attempt),
        record,
    )
}

/// Appends that a shard's process finished a trial.
pub fn write_trial(out_dir: &Path, run_id: &str, trial: &TrialRun) -> std::io::Result<()> {
    append(
        &run_dir(out_dir, run_id),
        &trial_name(&trial.trial, trial.attempt),
        trial,
    )
}

/// Appends one service's record; `tag` tells apart the processes of a nextest run.
pub fn write_service(
    out_dir: &Path,
    run_id: &str,
    tag: &str,
    record: &ServiceRecord,
) -> std::io::Result<()> {
    append(
        &run_dir(out_dir, run_id),
        &service_name(&record.name, tag),
        record,
    )
}

/// Writes the run header as the journal's first record, once per run (later writers of the
/// same run leave it alone).
pub fn write_header(out_dir: &Path, header: &RunHeader) -> std::io::Result<()> {
    let fragment = redacted_json(header)?;
    journal::locked(&run_dir(out_dir, &header.run_id), |journal| {
        if journal.is_empty() {
            journal.append(HEADER_NAME, &fragment)
        } else {
            Ok(())
        }
    })
}

/// A fragment's bytes as they are written and hashed: one line of JSON, redacted as
/// `write_report` redacts (JSON that redaction would break is refused).
fn redacted_json(value: &impl serde::Serialize) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let redacted = match crate::output::redaction::redact_for(Path::new(JOURNAL_FILE), &json)? {
        std::borrow::Cow::Owned(redacted) => Some(redacted),
        std::borrow::Cow::Borrowed(_) => None,
    };
    Ok(redacted.unwrap_or(json))
}

fn append(dir: &Path, name: &str, value: &impl serde::Serialize) -> std::io::Result<()> {
    let fragment = redacted_json(value)?;
    journal::locked(dir, |journal| {
        if journal.is_empty() {
            return Err(std::io::Error::other(format!(
                "{}: no run header in the journal",
                dir.display()
            )));
        }
        journal.append(name, &fragment)
    })
}

/// Reads one check's record if some process recorded it, with the number of its attempt: the
/// highest one up to `max_attempt` (nextest's `NEXTEST_TOTAL_ATTEMPTS`; an attempt whose
/// process died before recording leaves a gap, so every attempt is looked up, under one lock
/// of the journal).
pub fn read_latest(
    out_dir: &Path,
    run_id: &str,
    packet: &str,
    check: &str,
    max_attempt: u32,
) -> std::io::Result<Option<(u32, CheckRecord)>> {
    let dir = run_dir(out_dir, run_id);
    let found = journal::locked(&dir, |journal| {
        for attempt in (1..=max_attempt.max(1)).rev() {
            let name = attempt_fragment_name(packet, check, attempt);
            if let Some(bytes) = journal.read(&name)? {
                return Ok(Some((attempt, name, bytes)));
            }
        }
        Ok(None)
    })?;
    found
        .map(|(attempt, name, bytes)| Ok((attempt, parse_record(&dir, &name, &bytes)?)))
        .transpose()
}

/// Reads the record of nextest's `attempt` of a check, if some process recorded it.
pub fn read_record_attempt(
    out_dir: &Path,
    run_id: &str,
    packet: &str,
    check: &str,
    attempt: u32,
) -> std::io::Result<Option<CheckRecord>> {
    let dir = run_dir(out_dir, run_id);
    let name = attempt_fragment_name(packet, check, attempt);
    let Some(bytes) = journal::locked(&dir, |journal| journal.read(&name))? else {
        return Ok(None);
    };
    parse_record(&dir, &name, &bytes).map(Some)
}

/// The record in the fragment `name` of the journal of `dir`.
fn parse_record(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<CheckRecord> {
    serde_json::from_slice(bytes).map_err(|err| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: {name} is not an evidence fragment: {err}",
                dir.join(JOURNAL_FILE).display()
            ),
        )
    })
}

/// The lock file claiming a check's execution in a run: `claims/<packet>/<check>.lock`, ids
/// [`encode`]d. One folder per packet keeps each name within a file name's 255 bytes for ids of
/// up to 64 characters (the gate file's limit), even when every character is encoded.
pub fn claim_path(out_dir: &Path, run_id: &str, packet: &str, check: &str) -> PathBuf {
    run_dir(out_dir, run_id)
        .join(CLAIMS_DIR)
        .join(encode(packet))
        .join(format!("{}.lock", encode(check)))
}

/// A run's fragments as read back.
#[derive(Debug)]
pub struct RunFragments {
    /// The run id.
    pub run_id: String,
    /// The header.
    pub header: RunHeader,
    /// Every check's record: its highest attempt (which holds the earlier ones), in journal
    /// order of first appearance.
    pub records: Vec<CheckRecord>,
    /// Every service record.
    pub services: Vec<ServiceRecord>,
    /// The trials a shard's processes finished, in journal order.
    pub trials: Vec<TrialRun>,
    /// The sha256 of the journal's last line: the head of its chain.
    pub head: String,
}

/// The run whose fragments were written last.
pub fn latest_run(out_dir: &Path) -> std::io::Result<Option<String>> {
    let dir = out_dir.join(FRAGMENTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut newest: Option<(std::time::SystemTime, String)> = None;
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let modified = newest_mtime(&entry.path())?;
        let name = entry.file_name().to_string_lossy().to_string();
        if newest.as_ref().is_none_or(|(time, _)| modified > *time) {
            newest = Some((modified, name));
        }
    }
    Ok(newest.map(|(_, name)| name))
}

/// The ids of every run whose fragments `out_dir` holds, sorted.
pub fn runs(out_dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(out_dir.join(FRAGMENTS_DIR)) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            runs.push(entry.file_name().to_string_lossy().to_string());
        }
    }
    runs.sort_unstable();
    Ok(runs)
}

fn newest_mtime(dir: &Path) -> std::io::Result<std::time::SystemTime> {
    let mut newest = std::fs::metadata(dir)?.modified()?;
    for entry in std::fs::read_dir(dir)? {
        let modified = entry?.metadata()?.modified()?;
        newest = newest.max(modified);
    }
    Ok(newest)
}

/// Reads every record of a run after checking its journal, and re-hashes every log and
/// stored report they name. Any disagreement is [`FragmentError::Tampered`]: an edited, added,
/// reordered or dropped record, or an edited or missing log, must not become a verdict.
pub fn read_run(out_dir: &Path, run_id: &str) -> Result<RunFragments, FragmentError> {
    let dir = run_dir(out_dir, run_id);
    let journal = dir.join(JOURNAL_FILE);
    let fragments = journal::verify(&dir, HEADER_NAME)
        .map_err(|err| FragmentError::Tampered(err.to_string()))?;
    let mut header = None;
    let mut records = Vec::new();
    // A check's place in `records` and the attempt kept there: a higher attempt's fragment
    // replaces a lower one, wherever it stands in the journal (as `read_latest` reads it).
    let mut position: std::collections::HashMap<String, (usize, u32)> = Default::default();
    let mut services = Vec::new();
    let mut trials = Vec::new();
    for (name, bytes) in &fragments.lines {
        let invalid = |err: serde_json::Error| {
            FragmentError::Tampered(format!(
                "{}: {name} is not an evidence fragment: {err}",
                journal.display()
            ))
        };
        if name == HEADER_NAME {
            header = Some(serde_json::from_slice(bytes).map_err(invalid)?);
        } else if name.starts_with(SERVICE_PREFIX) {
            let record: ServiceRecord = serde_json::from_slice(bytes).map_err(invalid)?;
            check_file(out_dir, record.log.as_deref(), record.sha256.as_deref())?;
            services.push(record);
        } else if name.starts_with(CHECK_PREFIX) {
            let record: CheckRecord = serde_json::from_slice(bytes).map_err(invalid)?;
            let base = fragment_name(&record.packet, &record.check);
            let attempt = match name.strip_prefix(base.as_str()) {
                Some("") => 1,
                Some(rest) => rest
                    .strip_prefix('_')
                    .filter(|digits| !digits.starts_with('0'))
                    .and_then(|digits| digits.parse::<u32>().ok())
                    .filter(|attempt| *attempt >= 2)
                    .unwrap_or(0),
                None => 0,
            };
            if attempt == 0 {
                return Err(FragmentError::Tampered(format!(
                    "{}: {name} holds the record of {}",
                    journal.display(),
                    record.name
                )));
            }
            for each in std::iter::once(&record).chain(&record.attempts) {
                check_file(out_dir, each.log.as_deref(), each.sha256.as_deref())?;
                check_file(
                    out_dir,
                    each.report.as_deref(),
                    each.report_sha256.as_deref(),
                )?;
            }
            // Every attempt at its own log path.
            crate::evidence::verify_no_log(out_dir, &record)
                .map_err(|why| FragmentError::Tampered(format!("{}: {why}", journal.display())))?;
            match position.get_mut(&base) {
                Some((index, kept)) => {
                    if attempt > *kept {
                        records[*index] = record;
                        *kept = attempt;
                    }
                }
                None => {
                    position.insert(base, (records.len(), attempt));
                    records.push(record);
                }
            }
        } else if name.starts_with(TRIAL_PREFIX) {
            let trial: TrialRun = serde_json::from_slice(bytes).map_err(invalid)?;
            if trial_name(&trial.trial, trial.attempt) != *name {
                return Err(FragmentError::Tampered(format!(
                    "{}: {name} holds the trial {}",
                    journal.display(),
                    trial.trial
                )));
            }
            trials.push(trial);
        } else {
            return Err(FragmentError::Tampered(format!(
                "{}: {name} is not a fragment name",
                journal.display()
            )));
        }
    }
    let header: RunHeader = header
        .ok_or_else(|| FragmentError::Tampered(format!("{}: no run header", journal.display())))?;
    if header.run_id != run_id {
        return Err(FragmentError::Tampered(format!(
            "{}: run id {} in the journal of run {run_id}",
            journal.display(),
            header.run_id
        )));
    }
    Ok(RunFragments {
        run_id: run_id.to_string(),
        header,
        records,
        services,
        trials,
        head: fragments.head,
    })
}

/// A log or report a fragment names must be inside the out directory and hash as recorded.
fn check_file(
    out_dir: &Path,
    relative: Option<&str>,
    sha256: Option<&str>,
) -> Result<(), FragmentError> {
    let Some(relative) = relative else {
        return Ok(());
    };
    let path = Path::new(relative);
    if !path
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
    {
        return Err(FragmentError::Tampered(format!(
            "a fragment names {relative}, which is outside the out directory"
        )));
    }
    let Some(sha256) = sha256 else {
        return Err(FragmentError::Tampered(format!(
            "a fragment names {relative} without its sha256"
        )));
    };
    // Only a file the run wrote: nothing outside the out directory through a symlinked
    // directory, and `sha256_file` reads only a regular file (never a symlink, to /dev/zero
    // say, a FIFO or a device, which would hang the read).
    let full = crate::output::containment::resolve(out_dir, relative)
        .map_err(|err| FragmentError::Tampered(format!("{}: {err}", out_dir.display())))?;
    let (actual, _) = sha256_file(&full).map_err(|err| match err.kind() {
        std::io::ErrorKind::InvalidInput => FragmentError::Tampered(err.to_string()),
        _ => FragmentError::Tampered(format!("{}: {err}", full.display())),
    })?;
    if actual != sha256 {
        return Err(FragmentError::Tampered(format!(
            "{}: sha256 {actual} does not match the {sha256} its fragment recorded",
            full.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim is a real file: every part of its path must fit a file name (255 bytes) for the
    /// longest ids the gate file allows, written with only encoded characters.
    #[test]
    fn a_claim_of_the_longest_ids_is_a_path_the_file_system_takes() {
        let dir = tempfile::tempdir().unwrap();
        let id = format!("a{}", "_".repeat(crate::spec::MAX_ID_CHARS - 1));
        let path = claim_path(dir.path(), "run", &id, &id);
        for part in path.strip_prefix(dir.path()).unwrap() {
            assert!(part.len() <= 255, "{part:?}: {} bytes", part.len());
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        assert_ne!(
            claim_path(dir.path(), "run", "A", "x_y"),
            claim_path(dir.path(), "run", "A_x", "y")
        );
    }

    #[test]
    fn names_are_injective_where_the_old_separator_collided() {
        assert_ne!(fragment_name("A", "x__y"), fragment_name("A__x", "y"));
        assert_ne!(fragment_name("A", "x_y"), fragment_name("A_x", "y"));
        assert_ne!(fragment_name("A", "x%5Fy"), fragment_name("A", "x_y"));
        assert_eq!(
            fragment_name("SEC-01", "api.suite"),
            "check_SEC-01_api.suite"
        );
        assert_eq!(fragment_name("A", "x__y"), "check_A_x%5F%5Fy");
        assert_ne!(service_name("db", "1_2"), service_name("db_1", "2"));
    }

    #[test]
    fn a_fragment_names_only_regular_files_never_a_symlink_or_device() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs/A")).unwrap();
        std::fs::write(dir.path().join("logs/A/one.log"), "one\n").unwrap();
        let digest = crate::model::digest::sha256_hex(b"one\n");
        check_file(dir.path(), Some("logs/A/one.log"), Some(&digest)).unwrap();
        // The same bytes behind a symlink, and an endless device (whose read never ends).
        std::os::unix::fs::symlink("one.log", dir.path().join("logs/A/two.log")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("logs/A/zero.log")).unwrap();
        std::fs::create_dir(dir.path().join("logs/A/dir.log")).unwrap();
        for name in ["two.log", "zero.log", "dir.log"] {
            let err = check_file(dir.path(), Some(&format!("logs/A/{name}")), Some(&digest))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("not a regular file") || err.contains("outside the out directory"),
                "{name}: {err}"
            );
        }
        // A file with the right bytes outside, through a symlinked directory: not read.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("one.log"), "one\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("logs/B")).unwrap();
        let err = check_file(dir.path(), Some("logs/B/one.log"), Some(&digest)).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
    }
}
