//! Evidence fragments: one JSON file per finished check, under `fragments/<run-id>/`.
//!
//! Under `cargo nextest run` every test case is its own process, so no process sees the whole
//! run; each writes its fragment and `cargo xtask gate report` joins them into the ledger.
//! In-process runs write fragments too, so `report` can rebuild any run's reports.

use std::path::{Path, PathBuf};

use crate::evidence::{CheckRecord, RunHeader, ServiceRecord};

/// Directory of all fragments inside the out directory.
pub const FRAGMENTS_DIR: &str = "fragments";
const HEADER_FILE: &str = "header.json";

/// The directory holding one run's fragments.
pub fn run_dir(out_dir: &Path, run_id: &str) -> PathBuf {
    out_dir.join(FRAGMENTS_DIR).join(run_id)
}

/// File name of a test case's fragment: `SEC-01::api-suites` → `SEC-01__api-suites.json`.
pub fn file_name(test_name: &str) -> String {
    format!("{}.json", test_name.replace("::", "__"))
}

/// Writes one check's fragment atomically.
pub fn write_record(out_dir: &Path, run_id: &str, record: &CheckRecord) -> std::io::Result<()> {
    let path = run_dir(out_dir, run_id).join(file_name(&record.name));
    let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    crate::redaction::write_report(&path, &json)
}

/// Prefix of service fragments: `service__NAME[__TAG].json`.
const SERVICE_PREFIX: &str = "service__";

/// Writes one service's fragment atomically; `tag` tells apart the processes of a nextest run.
pub fn write_service(
    out_dir: &Path,
    run_id: &str,
    tag: &str,
    record: &ServiceRecord,
) -> std::io::Result<()> {
    let name = if tag.is_empty() {
        format!("{SERVICE_PREFIX}{}.json", record.name)
    } else {
        format!("{SERVICE_PREFIX}{}__{tag}.json", record.name)
    };
    let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    crate::redaction::write_report(&run_dir(out_dir, run_id).join(name), &json)
}

/// Writes the run header once per run (later writers of the same run leave it alone).
pub fn write_header(out_dir: &Path, header: &RunHeader) -> std::io::Result<()> {
    let path = run_dir(out_dir, &header.run_id).join(HEADER_FILE);
    if path.exists() {
        return Ok(());
    }
    let json = serde_json::to_vec_pretty(header).map_err(std::io::Error::other)?;
    crate::redaction::write_report(&path, &json)
}

/// Reads one check's fragment if it exists.
pub fn read_record(out_dir: &Path, run_id: &str, test_name: &str) -> Option<CheckRecord> {
    let path = run_dir(out_dir, run_id).join(file_name(test_name));
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A run's fragments as read back.
#[derive(Debug)]
pub struct RunFragments {
    /// The run id.
    pub run_id: String,
    /// The header, if some process wrote it.
    pub header: Option<RunHeader>,
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

/// Reads every fragment of a run. A fragment that does not parse is an error naming it: a
/// half-written or edited fragment must not silently vanish from the evidence.
pub fn read_run(out_dir: &Path, run_id: &str) -> std::io::Result<RunFragments> {
    let dir = run_dir(out_dir, run_id);
    let mut header = None;
    let mut records = Vec::new();
    let mut services = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for path in paths {
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let invalid = |err: serde_json::Error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not an evidence fragment: {err}", path.display()),
            )
        };
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().to_string());
        if file_name.as_deref() == Some(HEADER_FILE) {
            header = Some(serde_json::from_slice(&bytes).map_err(invalid)?);
        } else if file_name.is_some_and(|name| name.starts_with(SERVICE_PREFIX)) {
            services.push(serde_json::from_slice(&bytes).map_err(invalid)?);
        } else {
            records.push(serde_json::from_slice(&bytes).map_err(invalid)?);
        }
    }
    Ok(RunFragments {
        run_id: run_id.to_string(),
        header,
        records,
        services,
    })
}
