//! Finishing a run: evidence records → verdict → ledger and reports. The writers are the
//! submodules, siblings that each render one file of the out directory; `summary.rs` prints the
//! terminal summary.
//!
//! [`finish`] is used both at the end of an in-process run and by `cargo xtask gate report`,
//! which rebuilds everything from the fragments of the last run (after `cargo nextest run`).

pub mod attestation;
pub mod ci;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod sarif;
mod summary;
pub mod text;
pub mod tracker;
pub mod view;

pub use summary::print_summary;
pub use view::ReportView;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::evidence::fragment;
use crate::evidence::{
    CheckRecord, Decision, Ledger, Record, ReviewEntry, RunHeader, ServiceRecord,
};
use crate::model::clock;
use crate::model::exit_codes;
use crate::output::redaction::redacted;
use crate::spec::Gate;
use crate::verdict::{self, Verdict};

/// What a finished run produced.
#[derive(Debug)]
pub struct Finished {
    /// The ledger as written.
    pub ledger: Ledger,
    /// The verdict.
    pub verdict: Verdict,
    /// report.sarif as written (CI annotations are made from its results).
    pub sarif: serde_json::Value,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Concludes the run ([`verdict::conclude`]: records in gate order, the verdict, checklist
/// records), redacts every record, and writes the reports, the ledger and the attestation
/// atomically.
pub fn finish(
    gate: &Gate,
    header: RunHeader,
    services: Vec<ServiceRecord>,
    records: Vec<CheckRecord>,
    out_dir: &Path,
    today: NaiveDate,
) -> std::io::Result<Finished> {
    // Reports show the gate's own text redacted (ids are never changed by redaction).
    let gate = &crate::spec::redacted_gate(gate);
    let clock_now = clock::now();
    let now = clock::format_timestamp(clock_now);
    // With `[review]`, the reviews are read now, each checked; the ledger keeps what was read.
    let reviews: Vec<ReviewEntry> = gate
        .review
        .as_ref()
        .map(|config| crate::review::store::read_all(config, clock_now))
        .unwrap_or_default();
    let (all_records, verdict) = verdict::conclude(
        gate,
        records,
        (&reviews, header.code.as_deref()),
        today,
        &now,
    );

    // Every record redacted before it is chained or rendered: messages and notes may quote
    // output and the gate file's own text.
    let header = redacted(&header);
    let services: Vec<ServiceRecord> = services.iter().map(redacted).collect();
    let all_records: Vec<CheckRecord> = all_records.iter().map(redacted).collect();
    let verdict = redacted_verdict(verdict);

    let reviews: Vec<ReviewEntry> = reviews.iter().map(redacted).collect();
    let ledger = run_ledger(header, services, reviews, all_records, &verdict);

    std::fs::create_dir_all(out_dir)?;
    // Every report renders from one view of the gate and the ledger (plus the redacted logs
    // already in the out directory, for their tails, and the verdict's triage for JUnit),
    // written atomically.
    let view = ReportView::new(gate, &ledger, out_dir).with_triage(&verdict.triage);
    let mut files = vec![junit::write_view(&view)?];
    files.push(tracker::write_view(&view)?);
    let (sarif_path, sarif) = sarif::write_view(&view)?;
    files.push(sarif_path);
    files.push(html::write_view(&view)?);
    // The ledger goes after the reports: its presence means the run completed and every report
    // is there. The attestation then digests all of them, the ledger and every log.
    let (ledger_path, head) = ledger.write_with_head(out_dir)?;
    files.push(ledger_path);
    // …and, with a signing key, its DSSE envelope.
    let attestation =
        crate::report::attestation::write_with_head(gate, &ledger, &head, &files, out_dir)?;
    files.extend(attestation);
    Ok(Finished {
        ledger,
        verdict,
        sarif,
        files,
    })
}

/// The ledger of a run, in its order: the header, the services, the check and checklist records,
/// the packet records and the verdict record of `verdict`.
pub(crate) fn run_ledger(
    header: RunHeader,
    services: Vec<ServiceRecord>,
    reviews: Vec<ReviewEntry>,
    records: Vec<CheckRecord>,
    verdict: &Verdict,
) -> Ledger {
    let records = std::iter::once(Record::Header(header))
        .chain(services.into_iter().map(Record::Service))
        .chain(reviews.into_iter().map(Record::Review))
        .chain(records.into_iter().map(Record::Check))
        .chain(verdict.packets.iter().cloned().map(Record::Packet))
        .chain(std::iter::once(Record::Verdict(verdict.record.clone())))
        .collect();
    Ledger { records }
}

// Moved to `verdict::checklist_records` (verdict logic); `verify` still calls it here.
pub use crate::verdict::checklist_records;

/// The verdict as the ledger records it: its record and packet records redacted (reasons may
/// quote a check's message). `verify` recomputes through this too.
pub fn redacted_verdict(mut verdict: Verdict) -> Verdict {
    verdict.record = redacted(&verdict.record);
    verdict.packets = verdict.packets.iter().map(redacted).collect();
    verdict
}

/// Why `gate report` rebuilt nothing.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// No fragments, unreadable ones, or fragments of another gate file (exit 2).
    #[error("{0}")]
    Unusable(String),
    /// A record of the evidence journal, its links or a log it names was altered (exit 1: no verdict).
    #[error(transparent)]
    Tampered(fragment::FragmentError),
}

impl RebuildError {
    /// The exit code of `gate report` for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RebuildError::Unusable(_) => exit_codes::INVALID,
            RebuildError::Tampered(_) => exit_codes::NO_GO,
        }
    }
}

/// Rebuilds the verdict and reports from the last run's fragments (`gate report`), after
/// checking the journal's links and digests and re-hashing every log they name. The caller
/// holds the out directory ([`crate::run::outdir::acquire`]), which removed the previous verdict.
pub fn rebuild(gate: &Gate, out_dir: &Path, today: NaiveDate) -> Result<Finished, RebuildError> {
    let fragments_dir = out_dir.join(fragment::FRAGMENTS_DIR);
    let run_id = fragment::latest_run(out_dir)
        .map_err(|err| {
            RebuildError::Unusable(format!("cannot read {}: {err}", fragments_dir.display()))
        })?
        .ok_or_else(|| {
            RebuildError::Unusable(format!(
                "no evidence fragments in {}: run `cargo nextest run -p gate-tests` or `{}` first",
                fragments_dir.display(),
                crate::model::invocation::gate_command()
            ))
        })?;
    let fragments = fragment::read_run(out_dir, &run_id).map_err(|err| match err {
        fragment::FragmentError::Io(message) => RebuildError::Unusable(message),
        tampered => RebuildError::Tampered(tampered),
    })?;
    // The ledger names the journal it was made from: signed, it covers the journal too.
    let mut header = fragments.header;
    header.journal_head = Some(fragments.head);
    if header.gate_sha256 != gate.sha256 {
        return Err(RebuildError::Unusable(format!(
            "the fragments of run {run_id} were made from a different gate file (sha256 {}), not {} (sha256 {}): rerun the checks",
            header.gate_sha256,
            gate.source.display(),
            gate.sha256
        )));
    }
    finish(
        gate,
        header,
        fragments.services,
        fragments.records,
        out_dir,
        today,
    )
    .map_err(|err| RebuildError::Unusable(err.to_string()))
}

/// The process exit code for a decision.
pub fn exit_code(decision: Decision, deny_conditions: bool) -> i32 {
    match decision {
        Decision::Go => exit_codes::OK,
        Decision::GoWithConditions if deny_conditions => exit_codes::NO_GO,
        Decision::GoWithConditions => exit_codes::OK,
        Decision::NoGo => exit_codes::NO_GO,
    }
}
