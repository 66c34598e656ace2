//! `gate merge DIR… --out DIR`: one run from the out directories of the shards a gate was
//! split into across machines (`run/shard.rs`): one ledger, one verdict by the same pure
//! function as any run, one set of reports, one attestation (signed when a key is set).
//!
//! Every shard's journal is verified first — its chain, every fragment's digest, every log
//! and stored report it names (`evidence::fragment::read_run`); a shard that does not verify
//! is refused as tampered (exit 1). Then [`join`] checks that the shards belong together
//! (exit 2 otherwise) and joins their records. Each shard's logs are copied, through the
//! redactor, to `shards/<partition>/…` in the out directory and the records point there; the
//! merged records are written as the out directory's own journal too, so `gate report`
//! rebuilds the merged run like any other.

mod join;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use join::{Holders, Joined, Refused, Shard};

use crate::evidence::fragment::{self, FragmentError};
use crate::evidence::{CheckRecord, ServiceRecord};
use crate::output::{containment, redaction};
use crate::report::{self, Finished};
use crate::run::outdir;
use crate::spec::Gate;

/// Where a merged out directory keeps each shard's logs and reports: `shards/<partition>/`.
const SHARDS_DIR: &str = "shards";
/// The `mode` of a merged run's header (a shard's is `nextest`).
const MERGE_MODE: &str = "merge";

/// Why a merge wrote no verdict.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The shards cannot be joined, or one cannot be read (exit 2).
    #[error("{0}")]
    Refused(String),
    /// A shard's evidence was altered (exit 1: no verdict).
    #[error("shard {dir}: {source}")]
    Tampered {
        /// The shard directory.
        dir: String,
        /// What does not verify.
        #[source]
        source: FragmentError,
    },
    /// The merged run could not be written (exit 1).
    #[error("cannot write the merged run to {dir}: {source}")]
    Write {
        /// The out directory.
        dir: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl MergeError {
    /// The exit code of `gate merge` for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            MergeError::Refused(_) => crate::model::exit_codes::INVALID,
            MergeError::Tampered { .. } | MergeError::Write { .. } => {
                crate::model::exit_codes::NO_GO
            }
        }
    }
}

impl From<Refused> for MergeError {
    fn from(refused: Refused) -> MergeError {
        MergeError::Refused(refused.0)
    }
}

/// A merged run.
pub struct Merged {
    /// What `report::finish` wrote.
    pub finished: Finished,
    /// The shards, as the header records them.
    pub shards: Vec<crate::evidence::MergedShard>,
    /// Trials no shard finished (each a FAIL "no evidence").
    pub gaps: Vec<String>,
}

/// Checks the shard directories before anything is written: each exists, none is given twice,
/// none is the out directory or inside it (taking the out directory would empty it), and the
/// out directory is inside none (the merge would write into a shard's evidence).
pub fn check_dirs(dirs: &[PathBuf], out_dir: &Path) -> Result<(), MergeError> {
    let out = containment::real_path(out_dir);
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    for dir in dirs {
        let canonical = std::fs::canonicalize(dir)
            .map_err(|err| MergeError::Refused(format!("shard {}: {err}", dir.display())))?;
        if canonical.starts_with(&out) {
            return Err(MergeError::Refused(format!(
                "shard {} is the out directory {} or inside it: merge into another directory",
                dir.display(),
                out_dir.display()
            )));
        }
        if out.starts_with(&canonical) {
            return Err(MergeError::Refused(format!(
                "the out directory {} is inside shard {}: merge into a directory outside every shard",
                out_dir.display(),
                dir.display()
            )));
        }
        if let Some((_, other)) = seen.iter().find(|(path, _)| *path == canonical) {
            return Err(MergeError::Refused(format!(
                "shard {} is given twice ({} and {}): each shard once",
                canonical.display(),
                other.display(),
                dir.display()
            )));
        }
        seen.push((canonical, dir));
    }
    Ok(())
}

/// Reads and verifies one shard directory: its one run's journal (two runs are refused) and every file it names.
pub fn read_shard(dir: &Path) -> Result<Shard, MergeError> {
    let shown = dir.display().to_string();
    // A shard run empties its out directory first, so it holds one run. Two are a stale run
    // beside the current one (a cache, artifacts downloaded into one directory): which one is
    // current cannot be told (a download resets file times), so neither is guessed.
    let runs =
        fragment::runs(dir).map_err(|err| MergeError::Refused(format!("shard {shown}: {err}")))?;
    let run_id = match runs.as_slice() {
        [run] => run.clone(),
        [] => {
            return Err(MergeError::Refused(format!(
                "shard {shown}: no evidence fragments (is it the out directory of a shard run, RELGATE_OUT of `cargo nextest run -p gate-tests --partition …`?)"
            )))
        }
        several => {
            return Err(MergeError::Refused(format!(
                "shard {shown} holds {} runs ({}): give each shard's out directory as its run left it, one run each",
                several.len(),
                several.join(", ")
            )))
        }
    };
    let run = fragment::read_run(dir, &run_id).map_err(|source| match source {
        FragmentError::Io(message) => MergeError::Refused(format!("shard {shown}: {message}")),
        tampered => MergeError::Tampered {
            dir: shown.clone(),
            source: tampered,
        },
    })?;
    if run.header.mode == MERGE_MODE {
        return Err(MergeError::Refused(format!(
            "{shown} is the out directory of a merge, not a shard: merge the shards it joined"
        )));
    }
    let partition = match &run.header.shard {
        Some(info) => Some(
            info.partition
                .parse()
                .map_err(|err| MergeError::Refused(format!("shard {shown}: {err}")))?,
        ),
        None => None,
    };
    Ok(Shard {
        dir: shown,
        path: dir.to_path_buf(),
        run,
        partition,
    })
}

/// A shard whose out directory holds a finished run (`gate report` ran there, signed with the
/// shard job's key): that run must verify (`crate::verify`, against `trusted` when given), and
/// its signed ledger must name the head of the journal the merge reads (so the signature
/// covers every line of it: records, trials, services) and hold its records. With `trusted`
/// keys, every shard must be signed by one of them.
pub fn check_signature(
    shard: &Shard,
    gate_path: &Path,
    trusted: &[crate::evidence::signing::TrustedKey],
) -> Result<(), MergeError> {
    use crate::verify::{self, Signature};
    let finished = shard
        .path
        .join(crate::report::attestation::ATTESTATION_FILE)
        .exists();
    let has_envelope = shard
        .path
        .join(crate::evidence::signing::dsse::ENVELOPE_FILE)
        .exists();
    // A finished run without its signature is an unsigned shard (exit 2 with --trusted-key);
    // without keys it is still verified below.
    if !finished || (!has_envelope && !trusted.is_empty()) {
        return match trusted {
            [] => Ok(()),
            _ => Err(MergeError::Refused(format!(
                "shard {} is not signed, but --trusted-key was given: sign each shard in its job (`gate report --out DIR` with RELGATE_SIGNING_KEY after the nextest run)",
                shard.dir
            ))),
        };
    }
    let verified = verify::verify(&verify::Options {
        out_dir: shard.path.clone(),
        trusted: trusted.to_vec(),
        expect_commit: None,
        gate: Some(gate_path.to_path_buf()),
    })
    .map_err(|failure| MergeError::Tampered {
        dir: shard.dir.clone(),
        source: FragmentError::Tampered(format!("its finished run does not verify: {failure}")),
    })?;
    if !trusted.is_empty() && !matches!(verified.signature, Signature::Trusted(_)) {
        return Err(MergeError::Refused(format!(
            "shard {} is not signed by a trusted key",
            shard.dir
        )));
    }
    // The same run, and the journal's header says what the signed one says: its partition and
    // trials (a signed run relabelled as another partition would stand in for it), gate, code;
    // and the signed ledger was made from this very journal, line for line (a line dropped,
    // added or swapped for another after signing changes its head).
    let journal = &shard.run.header;
    let same_run = verified.ledger.header().is_some_and(|header| {
        header.run_id == shard.run.run_id
            && header.journal_head.as_deref() == Some(shard.run.head.as_str())
            && header.shard == journal.shard
            && header.gate_sha256 == journal.gate_sha256
            && (&header.git_head, header.git_dirty, &header.code)
                == (&journal.git_head, journal.git_dirty, &journal.code)
    });
    let signed: std::collections::HashMap<&str, &CheckRecord> = verified
        .ledger
        .checks()
        .map(|record| (record.name.as_str(), record))
        .collect();
    let covered = shard.run.records.iter().all(|record| {
        signed
            .get(record.name.as_str())
            .is_some_and(|signed| **signed == crate::output::redaction::redacted(record))
    });
    if !same_run || !covered {
        return Err(MergeError::Tampered {
            dir: shard.dir.clone(),
            source: FragmentError::Tampered(
                "its signed ledger is not the run its journal holds".to_string(),
            ),
        });
    }
    Ok(())
}

/// Joins `shards` into one run of `gate` in `out_dir`, which the caller holds
/// ([`outdir::acquire`], for a run). `run_id` is the merged run's.
pub fn merge(
    gate: &Gate,
    shards: Vec<Shard>,
    out_dir: &Path,
    run_id: &str,
    today: NaiveDate,
) -> Result<Merged, MergeError> {
    let holders = join::check(gate, &shards)?;
    let joined = join::join(gate, &shards, &holders);
    let write_error = |source| MergeError::Write {
        dir: out_dir.display().to_string(),
        source,
    };
    let mut records = joined.records;
    let mut services: Vec<ServiceRecord> = Vec::new();
    // As a run does: the copies and the journal are synced once, before the ledger, not per
    // file and record (a thousand records were a thousand fdatasyncs).
    let deferred = crate::output::atomic::defer(out_dir);
    for shard in &shards {
        let (label, dir) = (shard.label(), shard.path.as_path());
        for record in &mut records {
            copy_record_files(record, &label, dir, out_dir).map_err(write_error)?;
        }
        for service in &shard.run.services {
            let mut service = service.clone();
            if let Some(log) = service.log.take() {
                let (path, sha256, bytes) =
                    copy_file(dir, &log, service.sha256.as_deref(), &label, out_dir)
                        .map_err(write_error)?;
                service.log = Some(path);
                service.sha256 = Some(sha256);
                service.bytes = bytes;
            }
            services.push(service);
        }
    }

    let first = &shards[0].run.header;
    let mut header = crate::run::header::run_header(gate, run_id, MERGE_MODE);
    // The evidence was made from the shards' tree, whatever the merging checkout is.
    header.git_head = first.git_head.clone();
    header.git_dirty = first.git_dirty;
    header.code = first.code.clone();
    header.merged = joined.shards.clone();

    // The merged run's own journal, so `gate report` rebuilds it like any run.
    fragment::write_header(out_dir, &header).map_err(write_error)?;
    for record in &records {
        fragment::write_record(out_dir, run_id, record).map_err(write_error)?;
    }
    for (index, service) in services.iter().enumerate() {
        fragment::write_service(out_dir, run_id, &index.to_string(), service)
            .map_err(write_error)?;
    }
    deferred.sync().map_err(write_error)?;
    let finished =
        report::finish(gate, header, services, records, out_dir, today).map_err(write_error)?;
    Ok(Merged {
        finished,
        shards: joined.shards,
        gaps: joined.gaps,
    })
}

/// The directory a shard's files go to: `shards/slice-1-of-3`.
fn shard_prefix(label: &str) -> String {
    format!(
        "{SHARDS_DIR}/{}",
        label.replace(':', "-").replace('/', "-of-")
    )
}

/// Copies the logs and stored reports of the attempts of `record` that `label`'s shard ran
/// into the out directory, and points the record at the copies.
fn copy_record_files(
    record: &mut CheckRecord,
    label: &str,
    shard_dir: &Path,
    out_dir: &Path,
) -> std::io::Result<()> {
    for attempt in &mut record.attempts {
        copy_attempt_files(attempt, label, shard_dir, out_dir)?;
    }
    copy_attempt_files(record, label, shard_dir, out_dir)
}

fn copy_attempt_files(
    attempt: &mut CheckRecord,
    label: &str,
    shard_dir: &Path,
    out_dir: &Path,
) -> std::io::Result<()> {
    if attempt.shard.as_deref() != Some(label) {
        return Ok(());
    }
    if let Some(log) = attempt.log.take() {
        let (path, sha256, bytes) =
            copy_file(shard_dir, &log, attempt.sha256.as_deref(), label, out_dir)?;
        attempt.log = Some(path);
        attempt.sha256 = Some(sha256);
        attempt.bytes = bytes;
    }
    if let Some(report) = attempt.report.take() {
        let (path, sha256, _) = copy_file(
            shard_dir,
            &report,
            attempt.report_sha256.as_deref(),
            label,
            out_dir,
        )?;
        attempt.report = Some(path);
        attempt.report_sha256 = Some(sha256);
    }
    Ok(())
}

/// Copies one file the evidence names from a shard (only from inside it, and only when it
/// still has the digest the evidence recorded) to the out directory, through the redactor:
/// its new path, sha256 and size as written.
fn copy_file(
    shard_dir: &Path,
    relative: &str,
    recorded: Option<&str>,
    label: &str,
    out_dir: &Path,
) -> std::io::Result<(String, String, u64)> {
    let source = containment::resolve(shard_dir, relative)
        .map_err(|err| std::io::Error::other(format!("{}: {err}", shard_dir.display())))?;
    let bytes = containment::read_regular(&source)?;
    let actual = crate::model::digest::sha256_hex(&bytes);
    if recorded != Some(actual.as_str()) {
        return Err(std::io::Error::other(format!(
            "{}: sha256 {actual} is not the {} its shard recorded",
            source.display(),
            recorded.unwrap_or("none")
        )));
    }
    let path = format!("{}/{relative}", shard_prefix(label));
    let target = out_dir.join(&path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let written = redaction::write_report_returning(&target, &bytes)?;
    Ok((
        path,
        crate::model::digest::sha256_hex(&written),
        written.len() as u64,
    ))
}

/// The out directory of a merge is taken like a run's (`outdir::Purpose::Run`): its previous
/// verdict, logs and fragments go before anything is read.
pub fn take_out_dir(out_dir: &Path, run_id: &str) -> Result<outdir::OutDirLock, MergeError> {
    let lock = outdir::acquire(
        out_dir,
        run_id,
        outdir::Sharing::Exclusive,
        outdir::Purpose::Run,
    )
    .map_err(|err| MergeError::Refused(err.to_string()))?;
    // An earlier merge's copies of its shards' logs go with its verdict.
    let shards = out_dir.join(SHARDS_DIR);
    match std::fs::remove_dir_all(&shards) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(MergeError::Write {
            dir: out_dir.display().to_string(),
            source: err,
        }),
        _ => Ok(lock),
    }
}
