//! Running one check into its record: the setup step's tools, services, then the command,
//! grep, probe or scan, each judged into a `CheckRecord` (`skeleton` for one that did not run).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::evidence::{CaseKind, CheckRecord, Outcome};
use crate::model::clock;
use crate::run::setup;
use crate::spec::{Check, CheckKind, CommandSpec, GrepSpec, ProbeSpec, ScanSpec};
use crate::{
    run::cargo_lock, run::exec, run::grep, run::probes, run::scanning, run::service, spec,
};

use super::{RunState, ENV_ACTIVE_GATES, ENV_RECURSION_MARKER};

impl RunState {
    pub(super) fn execute(&self, check: &Check, mut notes: Vec<String>) -> CheckRecord {
        let tools = self.setup.ensure(&check.tools, &setup::announce);
        if let Some(why) = setup::missing(&tools) {
            let mut record = skeleton(check, &why, Outcome::Error);
            record.notes = notes;
            return record;
        }
        notes.extend(setup::notes(&tools));
        let log_relative = CheckRecord::log_path(&check.packet, &check.id);
        let log_path = self.out_dir.join(&log_relative);
        let mut record = match &check.kind {
            CheckKind::Command(command) => {
                let (mut record, containment) = self.run_command(check, command, &log_path);
                record.fail_containment(containment);
                record
            }
            CheckKind::Grep(spec) => run_grep(check, spec, &log_path),
            CheckKind::Probe(probe) => self.run_probe(check, probe, &log_path),
            CheckKind::Scan(scan) => self.run_scan(check, scan, &log_path),
        };
        // A check that printed nothing has no log file: the record says so (`no_output`).
        if record.sha256.is_some() && record.bytes > 0 {
            record.log = Some(log_relative);
        }
        record.notes.splice(0..0, notes);
        record
    }

    fn run_probe(&self, check: &Check, probe: &ProbeSpec, log_path: &Path) -> CheckRecord {
        let mut record = skeleton(check, "", Outcome::Error);
        let endpoints = match self.services.ensure(&check.services) {
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
        let run = probes::run_with_timeout(probe, config, check.timeout);
        record.started = clock::format_timestamp(run.started);
        record.ended = clock::format_timestamp(clock::now());
        record.duration_ms = run.duration.as_millis() as u64;
        record.timed_out = run.timed_out;
        let text = crate::output::redaction::redact(&probes::log_text(probe, &run)).into_owned();
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
        (record.outcome, record.message) = probes::judge(&run, check.timeout);
        record.cases = run.cases;
        record
    }

    /// Runs the scanner with `{report}` pointing into the out directory, then judges the
    /// report it wrote: no report, or one that does not parse, is a failure whatever the exit
    /// code; a parsed report passes when it has no findings.
    fn run_scan(&self, check: &Check, scan: &ScanSpec, log_path: &Path) -> CheckRecord {
        let extension = scan.format.extension();
        let relative = format!("reports/{}/{}.{extension}", check.packet, check.id);
        // The scanner runs in the check's directory: give it absolute paths.
        let out_dir = std::path::absolute(&self.out_dir).unwrap_or_else(|_| self.out_dir.clone());
        let report_path = out_dir.join(&relative);
        let raw_path = exec::unique_sibling(&report_path, &format!("raw.{extension}"));
        let mut command = scan.command.clone();
        let failed = |message: String| {
            let mut record = skeleton(check, &message, Outcome::Error);
            record.argv = Vec::new();
            record
        };
        if let Some(parent) = report_path.parent() {
            if let Err(err) = std::fs::create_dir_all(parent) {
                return failed(format!("cannot create {}: {err}", parent.display()));
            }
        }
        let _ = std::fs::remove_file(&raw_path);
        let _ = std::fs::remove_file(&report_path);
        let advisory_db = if command
            .argv
            .iter()
            .any(|arg| arg.contains(spec::ADVISORY_DB_PLACEHOLDER))
        {
            let copy = out_dir
                .join("advisory-db")
                .join(format!("{}-{}", check.packet, check.id));
            match scanning::advisory_db() {
                Ok(path) => match scanning::private_copy(&path, &copy) {
                    Ok(()) => Some(copy),
                    Err(err) => {
                        return failed(format!(
                            "cannot copy the advisory database {} to {}: {err}",
                            path.display(),
                            copy.display()
                        ))
                    }
                },
                Err(message) => return failed(message),
            }
        } else {
            None
        };
        let shell = command.argv.len() == 3 && command.argv[0] == "sh" && command.argv[1] == "-c";
        let place = |path: &Path| {
            let text = path.display().to_string();
            if shell {
                scanning::shell_quote(&text)
            } else {
                text
            }
        };
        for arg in &mut command.argv {
            *arg = arg.replace(spec::REPORT_PLACEHOLDER, &place(&raw_path));
            if let Some(db) = &advisory_db {
                *arg = arg.replace(spec::ADVISORY_DB_PLACEHOLDER, &place(db));
            }
        }
        let (mut record, containment) = self.run_command(check, &command, log_path);
        record.case_kind = CaseKind::Scan;
        let judged = scanning::judge(scan, &record, &raw_path, &report_path, &relative);
        let _ = std::fs::remove_file(&raw_path);
        if let Some(copy) = &advisory_db {
            let _ = std::fs::remove_dir_all(copy);
            // The parent goes too once the last scan using it is done.
            if let Some(parent) = copy.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        if let Some(judged) = judged {
            record.outcome = judged.outcome;
            record.message = judged.message;
            record.findings = judged.findings;
            record.report = judged.report;
            record.report_sha256 = judged.report_sha256;
        }
        record.fail_containment(containment);
        record
    }

    /// Runs a command into a record judged by its exit code; also returns why its containment
    /// failed (processes outlived it), which fails the check whatever else judges it.
    fn run_command(
        &self,
        check: &Check,
        command: &CommandSpec,
        log_path: &Path,
    ) -> (CheckRecord, Option<String>) {
        let mut notes = Vec::new();
        let endpoints = match self.services.ensure(&check.services) {
            Ok(endpoints) => endpoints,
            Err(why) => {
                let mut record = skeleton(check, &why.to_string(), Outcome::Error);
                record.case_kind = CaseKind::Command;
                record.argv = command.argv.clone();
                record.cwd = command.cwd.display().to_string();
                return (record, None);
            }
        };
        let argv: Vec<String> = command
            .argv
            .iter()
            .map(|arg| service::interpolate(arg, &endpoints, None))
            .collect();
        let mut env: BTreeMap<String, String> = command
            .env
            .iter()
            .map(|(key, value)| (key.clone(), service::interpolate(value, &endpoints, None)))
            .collect();
        if !endpoints.is_empty() {
            notes.push(format!(
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
        env.insert(ENV_ACTIVE_GATES.to_string(), self.active_gates.clone());
        let marker = exec::unique_sibling(log_path, "recursion");
        let _ = std::fs::remove_file(&marker);
        env.insert(
            ENV_RECURSION_MARKER.to_string(),
            marker.display().to_string(),
        );
        if cargo_lock::invokes_cargo(&argv) && !cargo_lock::isolation_disabled() {
            if let Some(target) = cargo_lock::target_dir(&command.cwd, &env) {
                let held = cargo_lock::held_locks(&target);
                if !held.is_empty() {
                    let isolated = self.out_dir.join("cargo-target");
                    notes.push(format!(
                        "cargo's build lock {} is held by another process (a `cargo test` running the gate?): this check ran with CARGO_TARGET_DIR={} so it cannot wait forever",
                        held[0].display(),
                        isolated.display()
                    ));
                    env.insert(
                        "CARGO_TARGET_DIR".to_string(),
                        isolated.display().to_string(),
                    );
                }
            }
        }
        let request = exec::ExecRequest {
            argv: &argv,
            cwd: &command.cwd,
            env: &env,
            timeout: check.timeout,
            kill_grace: exec::DEFAULT_KILL_GRACE,
            leak_timeout: check.leak_timeout,
            log_path,
        };
        let mut record = skeleton(check, "", Outcome::Error);
        record.case_kind = CaseKind::Command;
        // The evidence holds the command as run, minus credentials in URLs or literal tokens.
        record.argv = argv
            .iter()
            .map(|arg| crate::output::redaction::redact(&service::redact_urls(arg)).into_owned())
            .collect();
        record.cwd = command.cwd.display().to_string();
        record.notes = notes;
        let result = match exec::run(&request) {
            Ok(result) => result,
            Err(err) => {
                record.message = format!("cannot write the log {}: {err}", log_path.display());
                return (record, None);
            }
        };
        record.started = clock::format_timestamp(result.started);
        record.ended = clock::format_timestamp(result.ended);
        record.duration_ms = result.duration.as_millis() as u64;
        record.exit_code = result.exit_code;
        record.signal = result.signal;
        record.timed_out = result.timed_out;
        record.bytes = result.bytes;
        record.sha256 = Some(result.sha256.clone());
        let status = exec::describe_status(&result, check.timeout);
        let recursion = std::fs::read_to_string(&marker).ok();
        let _ = std::fs::remove_file(&marker);
        (record.outcome, record.message) = if result.spawn_error.is_some() {
            (Outcome::Error, status)
        } else if let Some(nested) = recursion {
            (
                Outcome::Fail,
                format!(
                    "the check ran this gate again and the nested run was refused: {}",
                    nested.trim()
                ),
            )
        } else if result.timed_out || result.signal.is_some() {
            (Outcome::Fail, status)
        } else if result
            .exit_code
            .is_some_and(|code| command.expect_exit.contains(&code))
        {
            (Outcome::Pass, status)
        } else {
            let expected: Vec<String> = command.expect_exit.iter().map(i32::to_string).collect();
            (
                Outcome::Fail,
                format!("{status} (expected {})", expected.join(" or ")),
            )
        };
        record.leaked = exec::leaked_lines(&result);
        (
            record,
            exec::containment_failure(&result, check.leak_timeout),
        )
    }
}

fn run_grep(check: &Check, spec: &GrepSpec, log_path: &Path) -> CheckRecord {
    let started = clock::now();
    let clock_start = Instant::now();
    let mut record = skeleton(check, "", Outcome::Error);
    record.case_kind = CaseKind::Grep;
    record.cwd = spec.root.display().to_string();
    let result = grep::run(spec, log_path);
    record.started = clock::format_timestamp(started);
    record.ended = clock::format_timestamp(clock::now());
    record.duration_ms = clock_start.elapsed().as_millis() as u64;
    match result {
        Ok(result) => {
            record.outcome = if result.passed {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
            record.message = result.message;
            match crate::model::digest::sha256_file(log_path) {
                Ok((sha256, bytes)) => {
                    record.sha256 = Some(sha256);
                    record.bytes = bytes;
                }
                // No matching line and nothing else to say: no log file.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    record.sha256 = Some(crate::model::digest::EMPTY_SHA256.to_string());
                }
                Err(_) => {}
            }
        }
        Err(err) => record.message = format!("grep could not run: {err}"),
    }
    record
}

/// A record for a check that did not run (or whose runner failed before it could say more).
pub(super) fn skeleton(check: &Check, message: &str, outcome: Outcome) -> CheckRecord {
    let (case_kind, argv, cwd) = match &check.kind {
        CheckKind::Command(command) => (
            CaseKind::Command,
            command.argv.clone(),
            command.cwd.display().to_string(),
        ),
        CheckKind::Grep(spec) => (CaseKind::Grep, Vec::new(), spec.root.display().to_string()),
        CheckKind::Probe(probe) => (
            CaseKind::Probe,
            Vec::new(),
            probe.root.display().to_string(),
        ),
        CheckKind::Scan(scan) => (
            CaseKind::Scan,
            scan.command.argv.clone(),
            scan.command.cwd.display().to_string(),
        ),
    };
    CheckRecord {
        name: check.name(),
        argv,
        cwd,
        ..CheckRecord::new(
            &check.packet,
            &check.id,
            case_kind,
            check.severity,
            outcome,
            message.to_string(),
        )
    }
}
