//! Evidence fragments: one JSON file per finished check or stopped service, under
//! `fragments/<run-id>/`, each recorded in the run's digest chain (`chain.jsonl`).
//!
//! Under `cargo nextest run` every test case is its own process, so no process sees the whole
//! run; each writes its fragments and `cargo xtask gate report` joins them into the ledger.
//! In-process runs write fragments too, so `report` can rebuild any run's reports.
//!
//! File names encode the ids injectively: `check_<packet>_<check>.json` and
//! `service_<name>_<tag>.json`, where every byte of an id other than ASCII letters, digits, `-`
//! and `.` is percent-encoded (`_` → `%5F`), so `_` only ever separates.

mod chain;

use std::path::{Component, Path, PathBuf};

use crate::evidence::{sha256_file, CheckRecord, RunHeader, ServiceRecord};

pub use chain::CHAIN_FILE;

/// Directory of all fragments inside the out directory.
pub const FRAGMENTS_DIR: &str = "fragments";
/// The run header's fragment; the first link of the chain.
pub const HEADER_FILE: &str = "header.json";
/// Directory of a run's claim lock files (nextest coordination).
pub const CLAIMS_DIR: &str = "claims";
const CHECK_PREFIX: &str = "check_";
const SERVICE_PREFIX: &str = "service_";

/// Why a run's fragments cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FragmentError {
    /// The fragments could not be read.
    #[error("{0}")]
    Io(String),
    /// The evidence disagrees with its digest chain or with the logs on disk.
    #[error("the evidence fragments were altered: {0}")]
    Tampered(String),
}

/// The directory holding one run's fragments.
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

/// File name of a check's fragment: (`SEC-01`, `api_suites`) → `check_SEC-01_api%5Fsuites.json`.
pub fn file_name(packet: &str, check: &str) -> String {
    format!("{CHECK_PREFIX}{}_{}.json", encode(packet), encode(check))
}

fn service_file_name(name: &str, tag: &str) -> String {
    format!("{SERVICE_PREFIX}{}_{}.json", encode(name), encode(tag))
}

/// Writes one check's fragment atomically and records it in the chain.
pub fn write_record(out_dir: &Path, run_id: &str, record: &CheckRecord) -> std::io::Result<()> {
    write_chained(
        &run_dir(out_dir, run_id),
        &file_name(&record.packet, &record.check),
        record,
    )
}

/// Writes one service's fragment; `tag` tells apart the processes of a nextest run.
pub fn write_service(
    out_dir: &Path,
    run_id: &str,
    tag: &str,
    record: &ServiceRecord,
) -> std::io::Result<()> {
    write_chained(
        &run_dir(out_dir, run_id),
        &service_file_name(&record.name, tag),
        record,
    )
}

/// Writes the run header as the chain's first link, once per run (later writers of the same
/// run leave it alone).
pub fn write_header(out_dir: &Path, header: &RunHeader) -> std::io::Result<()> {
    let dir = run_dir(out_dir, &header.run_id);
    let mut chain = chain::Chain::lock(&dir)?;
    if !chain.is_empty() {
        return Ok(());
    }
    let json = redacted_json(header)?;
    crate::redaction::write_report(&dir.join(HEADER_FILE), &json)?;
    chain.append(HEADER_FILE, &json)
}

/// A fragment's bytes as they are written and chained: JSON, redacted (so the chain hashes
/// exactly what `write_report` puts on disk; redacting again changes nothing).
fn redacted_json(value: &impl serde::Serialize) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    Ok(crate::redaction::redact_bytes(&json).into_owned())
}

fn write_chained(dir: &Path, name: &str, value: &impl serde::Serialize) -> std::io::Result<()> {
    let json = redacted_json(value)?;
    let mut chain = chain::Chain::lock(dir)?;
    if chain.is_empty() {
        return Err(std::io::Error::other(format!(
            "{}: no run header in the chain",
            dir.display()
        )));
    }
    crate::redaction::write_report(&dir.join(name), &json)?;
    chain.append(name, &json)
}

/// Reads one check's fragment if some process wrote it.
pub fn read_record(
    out_dir: &Path,
    run_id: &str,
    packet: &str,
    check: &str,
) -> std::io::Result<Option<CheckRecord>> {
    let path = run_dir(out_dir, run_id).join(file_name(packet, check));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: not an evidence fragment: {err}", path.display()),
        )
    })
}

/// The lock file claiming a check's execution in a run.
pub fn claim_path(out_dir: &Path, run_id: &str, packet: &str, check: &str) -> PathBuf {
    let name = file_name(packet, check);
    run_dir(out_dir, run_id)
        .join(CLAIMS_DIR)
        .join(format!("{}.lock", name.trim_end_matches(".json")))
}

/// A run's fragments as read back.
#[derive(Debug)]
pub struct RunFragments {
    /// The run id.
    pub run_id: String,
    /// The header.
    pub header: RunHeader,
    /// Every check record.
    pub records: Vec<CheckRecord>,
    /// Every service record.
    pub services: Vec<ServiceRecord>,
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

fn newest_mtime(dir: &Path) -> std::io::Result<std::time::SystemTime> {
    let mut newest = std::fs::metadata(dir)?.modified()?;
    for entry in std::fs::read_dir(dir)? {
        let modified = entry?.metadata()?.modified()?;
        newest = newest.max(modified);
    }
    Ok(newest)
}

/// Reads every fragment of a run after checking them against the chain, and re-hashes every
/// log and stored report they name. Any disagreement is [`FragmentError::Tampered`]: an
/// edited, added or dropped fragment or log must not become a verdict.
pub fn read_run(out_dir: &Path, run_id: &str) -> Result<RunFragments, FragmentError> {
    let dir = run_dir(out_dir, run_id);
    let recorded = chain::verify(&dir, HEADER_FILE).map_err(FragmentError::Tampered)?;
    let mut header = None;
    let mut records = Vec::new();
    let mut services = Vec::new();
    for file in recorded.keys() {
        let path = dir.join(file);
        let bytes = std::fs::read(&path)
            .map_err(|err| FragmentError::Io(format!("{}: {err}", path.display())))?;
        let invalid = |err: serde_json::Error| {
            FragmentError::Tampered(format!(
                "{}: not an evidence fragment: {err}",
                path.display()
            ))
        };
        if file == HEADER_FILE {
            header = Some(serde_json::from_slice(&bytes).map_err(invalid)?);
        } else if file.starts_with(SERVICE_PREFIX) {
            let record: ServiceRecord = serde_json::from_slice(&bytes).map_err(invalid)?;
            check_file(out_dir, record.log.as_deref(), record.sha256.as_deref())?;
            services.push(record);
        } else if file.starts_with(CHECK_PREFIX) {
            let record: CheckRecord = serde_json::from_slice(&bytes).map_err(invalid)?;
            if file_name(&record.packet, &record.check) != *file {
                return Err(FragmentError::Tampered(format!(
                    "{}: holds the record of {}",
                    path.display(),
                    record.name
                )));
            }
            check_file(out_dir, record.log.as_deref(), record.sha256.as_deref())?;
            check_file(
                out_dir,
                record.report.as_deref(),
                record.report_sha256.as_deref(),
            )?;
            records.push(record);
        } else {
            return Err(FragmentError::Tampered(format!(
                "{}: not a fragment name",
                path.display()
            )));
        }
    }
    let header: RunHeader = header.expect("the chain starts with the header");
    if header.run_id != run_id {
        return Err(FragmentError::Tampered(format!(
            "{}: run id {} in the fragments of run {run_id}",
            dir.join(HEADER_FILE).display(),
            header.run_id
        )));
    }
    Ok(RunFragments {
        run_id: run_id.to_string(),
        header,
        records,
        services,
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
    let full = out_dir.join(path);
    let (actual, _) = sha256_file(&full)
        .map_err(|err| FragmentError::Tampered(format!("{}: {err}", full.display())))?;
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

    #[test]
    fn names_are_injective_where_the_old_separator_collided() {
        assert_ne!(file_name("A", "x__y"), file_name("A__x", "y"));
        assert_ne!(file_name("A", "x_y"), file_name("A_x", "y"));
        assert_ne!(file_name("A", "x%5Fy"), file_name("A", "x_y"));
        assert_eq!(
            file_name("SEC-01", "api.suite"),
            "check_SEC-01_api.suite.json"
        );
        assert_eq!(file_name("A", "x__y"), "check_A_x%5F%5Fy.json");
        assert_ne!(
            service_file_name("db", "1_2"),
            service_file_name("db_1", "2")
        );
    }
}
