//! Running a `probe = "…"` check: the probe runs on its own thread under the check's timeout,
//! its redacted log and a case table become the check's log, and its cases the record's.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use relgate_probes::redact::Redactor;
use relgate_probes::{Context, Log};

use super::{skeleton, Ctx};
use crate::evidence::{CaseOutcome, CheckRecord, Outcome, ProbeCase};
use crate::model::clock;
use crate::run::service;
use crate::spec::{self, format_duration, Check, ProbeSpec};
use std::path::Path;

/// How long past its deadline a probe thread is waited for before the check is failed.
const OVERRUN_GRACE: Duration = Duration::from_secs(2);

/// What one probe run produced.
#[derive(Debug)]
pub struct ProbeRun {
    /// When it started.
    pub started: DateTime<Utc>,
    /// Wall time.
    pub duration: Duration,
    /// Whether it ran past the check's timeout.
    pub timed_out: bool,
    /// Why the probe could not run at all, if it could not.
    pub error: Option<String>,
    /// Its cases (empty when it could not run or timed out).
    pub cases: Vec<ProbeCase>,
    /// Its redacted log.
    pub log: String,
}

/// Runs `probe` with `config` (references already interpolated), giving up after `timeout`.
pub fn run_with_timeout(probe: &ProbeSpec, config: toml::Table, timeout: Duration) -> ProbeRun {
    let started = clock::now();
    let clock_start = Instant::now();
    let deadline = clock_start + timeout;
    let log = Arc::new(Log::new(Redactor::new()));
    let (sender, receiver) = mpsc::channel();
    let (kind, root, thread_log) = (probe.kind.clone(), probe.root.clone(), Arc::clone(&log));
    let spawned = std::thread::Builder::new()
        .name(format!("probe-{kind}"))
        .spawn(move || {
            let context = Context {
                root: &root,
                deadline,
                log: &thread_log,
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                relgate_probes::run(&kind, &config, &context).map_err(|err| err.to_string())
            }))
            .unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(format!("internal error in probe {kind}: {why}"))
            });
            let _ = sender.send(result);
        });
    let outcome = match spawned {
        Err(err) => Some(Err(format!("cannot start the probe thread: {err}"))),
        Ok(_) => receiver.recv_timeout(timeout + OVERRUN_GRACE).ok(),
    };
    let (timed_out, error, cases) = match outcome {
        None => (true, None, Vec::new()),
        Some(Err(why)) => (
            false,
            Some(log.redactor().redact(&why).into_owned()),
            Vec::new(),
        ),
        Some(Ok(cases)) => (false, None, cases.into_iter().map(evidence_case).collect()),
    };
    ProbeRun {
        started,
        duration: clock_start.elapsed(),
        timed_out,
        error,
        cases,
        log: log.text(),
    }
}

fn evidence_case(case: relgate_probes::Case) -> ProbeCase {
    ProbeCase {
        name: case.name,
        outcome: match case.outcome {
            relgate_probes::CaseOutcome::Pass => CaseOutcome::Pass,
            relgate_probes::CaseOutcome::Fail => CaseOutcome::Fail,
            relgate_probes::CaseOutcome::Inconclusive => CaseOutcome::Inconclusive,
        },
        message: case.message,
        sent: case.sent,
        got: case.got,
    }
}

/// Outcome and one-line message of the check.
pub fn judge(run: &ProbeRun, timeout: Duration) -> (Outcome, String) {
    if run.timed_out {
        return (
            Outcome::Fail,
            format!("timed out after {}", format_duration(timeout)),
        );
    }
    if let Some(error) = &run.error {
        return (Outcome::Error, format!("probe could not run: {error}"));
    }
    let count = |outcome: CaseOutcome| run.cases.iter().filter(|c| c.outcome == outcome).count();
    let (failed, inconclusive) = (count(CaseOutcome::Fail), count(CaseOutcome::Inconclusive));
    let bad: Vec<&str> = run
        .cases
        .iter()
        .filter(|case| case.outcome != CaseOutcome::Pass)
        .map(|case| case.name.as_str())
        .collect();
    if bad.is_empty() {
        return (
            Outcome::Pass,
            format!(
                "{} of {} cases refused or held",
                run.cases.len(),
                run.cases.len()
            ),
        );
    }
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if inconclusive > 0 {
        parts.push(format!("{inconclusive} inconclusive"));
    }
    let first = run
        .cases
        .iter()
        .find(|case| case.outcome != CaseOutcome::Pass)
        .map(|case| case.message.as_str())
        .unwrap_or_default();
    (
        Outcome::Fail,
        format!(
            "{} of {} cases: {} ({first})",
            parts.join(", "),
            run.cases.len(),
            bad.join(", ")
        ),
    )
}

/// The check's log: the probe's own log, then every case with what was sent and what came back.
pub fn log_text(probe: &ProbeSpec, run: &ProbeRun) -> String {
    let mut text = format!("probe {}\n\n", probe.kind);
    text.push_str(&run.log);
    if let Some(error) = &run.error {
        text.push_str(&format!("\nprobe could not run: {error}\n"));
    }
    if run.timed_out {
        text.push_str("\nthe probe did not finish before the check's timeout\n");
    }
    if !run.cases.is_empty() {
        text.push_str("\ncases\n");
    }
    for case in &run.cases {
        let label = match case.outcome {
            CaseOutcome::Pass => "ok",
            CaseOutcome::Fail => "FAILED",
            CaseOutcome::Inconclusive => "INCONCLUSIVE",
        };
        text.push_str(&format!(
            "\n{} ... {label}\n  {}\n",
            case.name, case.message
        ));
        for (title, body) in [("sent", &case.sent), ("got", &case.got)] {
            if !body.is_empty() {
                text.push_str(&format!("  {title}:\n"));
                for line in body.lines() {
                    text.push_str(&format!("    {line}\n"));
                }
            }
        }
    }
    text
}

/// Runs a probe check: its services, the probe under the check's timeout, its redacted log.
pub(crate) fn run_check(
    check: &Check,
    probe: &ProbeSpec,
    log_path: &Path,
    ctx: &Ctx<'_>,
) -> CheckRecord {
    let mut record = skeleton(check, "", Outcome::Error);
    let endpoints = match ctx.services.ensure(&check.services) {
        Ok(endpoints) => endpoints,
        Err(why) => {
            record.message = why.to_string();
            return record;
        }
    };
    if !endpoints.is_empty() {
        record.notes.push(format!(
            "services: {}",
            endpoints
                .iter()
                .map(|(name, endpoint)| format!(
                    "{name} at {}",
                    service::redact_urls(&endpoint.url)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let config = spec::map_strings(&probe.config, &|text| {
        service::interpolate(text, &endpoints, None)
    });
    let run = run_with_timeout(probe, config, check.timeout);
    record.started = clock::format_timestamp(run.started);
    record.ended = clock::format_timestamp(clock::now());
    record.duration_ms = run.duration.as_millis() as u64;
    record.timed_out = run.timed_out;
    let text = crate::output::redaction::redact(&log_text(probe, &run)).into_owned();
    let written = if text.is_empty() {
        Ok(())
    } else {
        crate::output::redaction::write_report(log_path, text.as_bytes())
    };
    match written {
        Ok(()) => {
            record.bytes = text.len() as u64;
            record.sha256 = Some(crate::model::digest::sha256_hex(text.as_bytes()));
        }
        Err(err) => {
            record.message = format!("cannot write the log {}: {err}", log_path.display());
            return record;
        }
    }
    (record.outcome, record.message) = judge(&run, check.timeout);
    record.cases = run.cases;
    record
}
