//! A `run = [...]` check: the command under a supervisor (see [`crate::run::exec`]), with its
//! services' endpoints interpolated, judged by its exit code; processes it left behind fail it.

use std::collections::BTreeMap;
use std::path::Path;

use super::{skeleton, Ctx};
use crate::evidence::{CaseKind, CheckRecord, Outcome};
use crate::model::clock;
use crate::run::harness::{ENV_ACTIVE_GATES, ENV_RECURSION_MARKER};
use crate::run::{cargo_lock, exec, service};
use crate::spec::{Check, CommandSpec};

/// The target directory a cargo check gets, inside the held one's, when another process holds
/// cargo's build lock.
pub const ISOLATED_TARGET: &str = "relgate-isolated";

/// Runs a command into a record judged by its exit code; also returns why its containment
/// failed (processes outlived it), which fails the check whatever else judges it.
pub(crate) fn run_command(
    check: &Check,
    command: &CommandSpec,
    log_path: &Path,
    ctx: &Ctx<'_>,
) -> (CheckRecord, Option<String>) {
    let mut notes = Vec::new();
    let endpoints = match ctx.services.ensure(&check.services) {
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
    env.insert(ENV_ACTIVE_GATES.to_string(), ctx.active_gates.to_string());
    let marker = exec::unique_sibling(log_path, "recursion");
    let _ = std::fs::remove_file(&marker);
    env.insert(
        ENV_RECURSION_MARKER.to_string(),
        marker.display().to_string(),
    );
    // Counts this check in the target directory its cargo builds in, until the check ends.
    let mut _cargo_running = None;
    if cargo_lock::invokes_cargo(&argv) && !cargo_lock::isolation_disabled() {
        if let Some(target) = cargo_lock::target_dir(&command.cwd, &env) {
            let held = cargo_lock::held_locks(&target);
            if held.is_empty() || cargo_lock::sibling_running(&target) {
                _cargo_running = Some(cargo_lock::Running::enter(target));
            } else {
                // Beside the build directory whose lock is held, not in the out directory: it is
                // build output, not evidence (no report names it), and cargo reuses it.
                let isolated = target.join(ISOLATED_TARGET);
                notes.push(format!(
                    "cargo's build lock {} is held by another process (a `cargo test` running the gate?): this check ran with CARGO_TARGET_DIR={} so it cannot wait forever",
                    held[0].display(),
                    isolated.display()
                ));
                env.insert(
                    "CARGO_TARGET_DIR".to_string(),
                    isolated.display().to_string(),
                );
                _cargo_running = Some(cargo_lock::Running::enter(isolated));
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
