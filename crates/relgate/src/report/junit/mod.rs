//! The JUnit report `junit.xml`: one `<testsuite>` per packet in gate-file order, one
//! `<testcase>` per check (`PACKET::check`), per case of a probe (`PACKET::check::case`) and per
//! checklist item (`PACKET::checklist::<slug>`).
//!
//! The file must validate against the strict Apache Ant schema (`junit-ant.xsd`), the narrowest
//! dialect that GitLab, Jenkins and the JUnit parsers all read. That schema shapes the output:
//! - `<testsuites>` takes no attributes, so the totals quick-junit writes there are removed;
//!   every `<testsuite>` carries its own counts plus `package`, `id`, `hostname` and a UTC
//!   `timestamp` without fraction or zone.
//! - a `<testcase>` holds at most one `<failure>`, `<error>` or `<skipped>`: neither properties
//!   nor `<system-out>`. A case that did not pass keeps its reason, log path, digest and output
//!   tail in that element's text; passing cases get one block each in the suite's `<system-out>`.
//! - a failure that is accepted or tracked does not block the release, so it is no `<failure>`
//!   (that would fail the CI job of a GO_WITH_CONDITIONS run) and no pass either: it is a
//!   `<skipped>` whose message starts with `FAIL accepted by …` or `FAIL tracked (P2)…`.
//! - property names are unique in the file: the run's (`gate.*`, `git.*`, `run.id`) are on the
//!   first suite, a packet's are prefixed with its id (`SEC-01.status`).
//! - every `<testsuite>` has `<properties>`, `<system-out>` and `<system-err>`, even if empty.
//!
//! A check that ran more than once (retries, nextest retries, shards of a merged run) is the
//! one exception: the Ant schema has no element for its earlier attempts, so its testcase takes
//! Maven Surefire's (`<flakyFailure>`, `<rerunFailure>`…, see `attempts.rs`, which Jenkins,
//! GitLab and the parsers read) and its own `<system-out>` listing every attempt. A file of a
//! run without retried checks stays valid under the Ant schema.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::text::{read_log_tail, TailError};
use super::view::ReportView;
use crate::evidence::{CaseKind, CaseOutcome, CheckRecord, Outcome, RunHeader, VerdictRecord};
use crate::model::clock;
use crate::output::tail;
use crate::spec::Gate;
use crate::verdict::{Triage, Verdict};

/// The file name of the JUnit report inside the out directory.
pub const JUNIT_FILE: &str = "junit.xml";

/// How many lines of a log's tail the report shows; the full log is named beside them.
const TAIL_LINES: usize = 40;

/// The skip message of a case the gate lists but this run has no record of (filtered out).
const NOT_RUN: &str = "not run in this run";

/// How the message of an inconclusive probe case starts; its failure has the type
/// `inconclusive`.
const INCONCLUSIVE: &str = "inconclusive: ";

/// Renders the JUnit XML for a run from its verdict and records (`checks` holds the records of
/// checks and checklist items, `verdict` the verdict on them, as the ledger records it): the
/// entry point for a caller that has not built a ledger (`verify` recomputes the verdict).
/// Renders [`render_view`] of the ledger they make.
pub fn render(
    gate: &Gate,
    header: &RunHeader,
    checks: &[CheckRecord],
    verdict: &Verdict,
    out_dir: &Path,
) -> String {
    let ledger = super::run_ledger(
        header.clone(),
        Vec::new(),
        Vec::new(),
        checks.to_vec(),
        verdict,
    );
    render_view(&ReportView::new(gate, &ledger, out_dir).with_triage(&verdict.triage))
}

/// Renders the JUnit XML for a run.
///
/// Every check and checklist item of the gate gets a test case, a skipped one when it has no
/// record; a record the gate does not list is still shown, in its packet's suite (or a suite of
/// its own), never dropped. Logs are read from the view's out directory for their tails; why a
/// failure does not block comes from the view's triage.
pub fn render_view(view: &ReportView<'_>) -> String {
    let gate = view.gate;
    let checks: Vec<&CheckRecord> = view.ledger.checks().collect();
    let derived: Vec<CheckRecord> = checks
        .iter()
        .flat_map(|record| probe_cases(record))
        .collect();
    let mut unclaimed: Vec<&CheckRecord> = checks.iter().copied().chain(&derived).collect();
    let mut suites: Vec<SuitePlan> = gate
        .packets
        .iter()
        .map(|packet| {
            let names = packet.checks.iter().flat_map(|check| {
                std::iter::once(check.name())
                    .chain(check.cases().iter().map(|case| check.case_name(case)))
            });
            let items = packet
                .checklist
                .iter()
                .map(|item| packet.checklist_name(item));
            let cases = names
                .chain(items)
                .map(|name| {
                    let position = unclaimed.iter().position(|record| record.name == name);
                    (name, position.map(|index| unclaimed.remove(index)))
                })
                .collect();
            SuitePlan {
                packet: packet.id.clone(),
                title: Some(packet.title.clone()),
                cases,
            }
        })
        .collect();
    for record in unclaimed {
        let case = (record.name.clone(), Some(record));
        match suites
            .iter_mut()
            .find(|suite| suite.packet == record.packet)
        {
            Some(suite) => suite.cases.push(case),
            None => suites.push(SuitePlan {
                packet: record.packet.clone(),
                title: None,
                cases: vec![case],
            }),
        }
    }

    let context = Context {
        view,
        header: view.header(),
        verdict: view.verdict(),
    };
    let mut report = Report::unnamed();
    for (index, suite) in suites.iter().enumerate() {
        report.add_test_suite(test_suite(&context, index, suite));
    }
    // Serializing into memory only fails on an I/O error, and a Vec does not have those.
    let xml = report
        .to_string()
        .expect("serializing into memory cannot fail");
    schema_safe(&xml)
}

/// One record per case of a probe (`PACKET::check::case`), for its own `<testcase>`: the
/// case's message, what was sent and what came back; timing and triage are the probe's.
fn probe_cases(record: &CheckRecord) -> Vec<CheckRecord> {
    record
        .cases
        .iter()
        .map(|case| {
            let mut notes = Vec::new();
            if !case.sent.is_empty() {
                notes.push(format!("sent: {}", case.sent));
            }
            if !case.got.is_empty() {
                notes.push(format!("got: {}", case.got));
            }
            if record.is_flaky() {
                notes.push(format!(
                    "the probe {} is FLAKY: these cases are its attempt {} of {}, which passed only after failing",
                    record.name,
                    record.attempt_count(),
                    record.attempt_count()
                ));
            }
            CheckRecord {
                check: format!("{}::{}", record.check, case.name),
                name: format!("{}::{}", record.name, case.name),
                case_kind: CaseKind::Probe,
                argv: Vec::new(),
                exit_code: None,
                signal: None,
                timed_out: false,
                log: None,
                bytes: 0,
                sha256: None,
                // Measured with the probe: the probe's testcase holds the time.
                duration_ms: 0,
                outcome: match case.outcome {
                    CaseOutcome::Pass => Outcome::Pass,
                    CaseOutcome::Fail | CaseOutcome::Inconclusive => Outcome::Fail,
                },
                message: match case.outcome {
                    CaseOutcome::Inconclusive => {
                        let why = case.message.strip_prefix(INCONCLUSIVE);
                        format!("{INCONCLUSIVE}{}", why.unwrap_or(&case.message))
                    }
                    _ => case.message.clone(),
                },
                notes,
                cases: Vec::new(),
                findings: Vec::new(),
                report: None,
                report_sha256: None,
                leaked: Vec::new(),
                // The probe's attempts are the probe's testcase's; a case of a flaky probe says
                // so in its text.
                attempts: Vec::new(),
                ..record.clone()
            }
        })
        .collect()
}

/// Renders and writes `<out_dir>/junit.xml` atomically; returns its path. As [`render`].
pub fn write(
    gate: &Gate,
    header: &RunHeader,
    checks: &[CheckRecord],
    verdict: &Verdict,
    out_dir: &Path,
) -> std::io::Result<PathBuf> {
    write_rendered(out_dir, &render(gate, header, checks, verdict, out_dir))
}

/// Renders ([`render_view`]) and writes `<out_dir>/junit.xml` redacted and atomically; returns
/// its path.
pub fn write_view(view: &ReportView<'_>) -> std::io::Result<PathBuf> {
    write_rendered(view.out_dir, &render_view(view))
}

fn write_rendered(out_dir: &Path, xml: &str) -> std::io::Result<PathBuf> {
    let path = out_dir.join(JUNIT_FILE);
    crate::output::redaction::write_report(&path, xml.as_bytes())?;
    Ok(path)
}

/// The test cases of one suite: names in order, each with its record if there is one.
struct SuitePlan<'a> {
    packet: String,
    /// `None` for a packet that is not in the gate.
    title: Option<String>,
    cases: Vec<(String, Option<&'a CheckRecord>)>,
}

/// What every suite and case is rendered from.
struct Context<'a> {
    view: &'a ReportView<'a>,
    /// `None` only for a ledger without header record (never one `finish` writes).
    header: Option<&'a RunHeader>,
    /// `None` only for a ledger without verdict record (never one `finish` writes).
    verdict: Option<&'a VerdictRecord>,
}

/// One rendered case and what it adds to its suite.
struct RenderedCase {
    case: TestCase,
    /// The case's block for the suite's `<system-out>`.
    system_out: Option<String>,
}

/// The run's properties, once in the file: on its first suite.
fn gate_properties(suite: &mut TestSuite, context: &Context<'_>) {
    let header = context.header;
    let verdict = context
        .verdict
        .map_or("INCOMPLETE", |verdict| verdict.decision.label());
    suite.add_property(Property::new("gate.verdict", verdict));
    suite.add_property(Property::new("gate.name", context.view.gate.name.as_str()));
    suite.add_property(Property::new(
        "gate.sha256",
        context.view.gate.sha256.as_str(),
    ));
    if let Some(head) = header.and_then(|header| header.git_head.as_deref()) {
        suite.add_property(Property::new("git.head", head));
    }
    if let Some(dirty) = header.and_then(|header| header.git_dirty) {
        suite.add_property(Property::new("git.dirty", dirty.to_string()));
    }
    suite.add_property(Property::new(
        "run.id",
        header.map_or("", |header| header.run_id.as_str()),
    ));
}

fn test_suite(context: &Context<'_>, index: usize, plan: &SuitePlan<'_>) -> TestSuite {
    // Jenkins splits a classname at its last `.` into package and class, so a dotted packet id
    // would be torn apart; GitLab and Ant read `relgate` as the package the same way.
    let classname = format!("relgate.{}", plan.packet.replace('.', "_"));
    let mut suite = TestSuite::new(plan.packet.as_str());
    let packet_record = context.view.packet_record(&plan.packet);
    let status = match (packet_record, &plan.title) {
        (Some(record), _) => record.status.label(),
        (None, Some(_)) => "UNKNOWN",
        (None, None) => "NOT_IN_GATE",
    };
    let header = context.header;
    if index == 0 {
        gate_properties(&mut suite, context);
    }
    // Property names are unique in the whole file (xunitparser keeps one table for all suites
    // and refuses a repeated name), so a packet's own are prefixed with its id.
    let mut add = |key: &str, value: &str| {
        suite.add_property(Property::new(format!("{}.{key}", plan.packet), value));
    };
    add("status", status);
    add("title", plan.title.as_deref().unwrap_or(""));
    if let Some(review) = packet_record.and_then(|record| record.review.as_ref()) {
        add("review.state", review.state.as_str());
        add("review.required", &review.required.to_string());
        if let Some(signed) = &review.review {
            add("review.reviewer", &signed.reviewer);
            add("review.time", &signed.time);
            add("review.commit", &signed.commit);
            add("review.key", &signed.key);
            add("review.signature", "verified");
        }
    }
    if let Some(record) = packet_record {
        for (severity, result) in &record.gates {
            add(&format!("gate.{}", severity.as_str()), result.label());
        }
        if !record.blocked_by.is_empty() {
            add("blocked_by", &record.blocked_by.join(", "));
        }
    }

    let mut system_out = Vec::new();
    if let Some(record) = packet_record.filter(|record| !record.reasons.is_empty()) {
        system_out.push(format!("{} is {}:", plan.packet, status));
        system_out.extend(record.reasons.iter().map(|reason| format!("- {reason}")));
    }
    // A probe's cases have no time of their own (the probe's testcase holds it), so the sum
    // counts every second of the packet's checks once.
    let mut time = Duration::ZERO;
    for (name, record) in &plan.cases {
        let rendered = test_case(context, name, &classname, *record);
        time += rendered.case.time.unwrap_or_default();
        if let Some(block) = rendered.system_out {
            system_out.push(format!("---- {name} ----\n{block}"));
        }
        suite.add_test_case(rendered.case);
    }
    suite.set_time(time);
    suite.set_system_out(system_out.join("\n"));
    suite.set_system_err("");

    // The schema wants these without a zone (UTC here) and without fractions; quick-junit's own
    // `timestamp` always has both, so they go in as plain attributes.
    let started = plan
        .cases
        .iter()
        .filter_map(|(_, record)| clock::parse_timestamp(&(*record)?.started))
        .min()
        .or_else(|| clock::parse_timestamp(&header?.started))
        // A header without a readable start is broken evidence; the time of writing is the
        // closest honest value, and `verify` reports the ledger itself.
        .unwrap_or_else(clock::now);
    let host = header.map_or("", |header| header.host.trim());
    let host = if host.is_empty() { "localhost" } else { host };
    suite.extra.insert("package".into(), "relgate".into());
    suite.extra.insert("id".into(), index.to_string().into());
    suite.extra.insert("hostname".into(), host.into());
    let timestamp = started.format("%Y-%m-%dT%H:%M:%S").to_string();
    suite.extra.insert("timestamp".into(), timestamp.into());
    suite
}

fn test_case(
    context: &Context<'_>,
    name: &str,
    classname: &str,
    record: Option<&CheckRecord>,
) -> RenderedCase {
    let new_case = |status: TestCaseStatus, duration: Duration| {
        let mut case = TestCase::new(name, status);
        case.set_classname(classname).set_time(duration);
        case
    };
    let Some(record) = record else {
        let mut status = TestCaseStatus::skipped();
        status.set_message(NOT_RUN);
        return RenderedCase {
            case: new_case(status, Duration::ZERO),
            system_out: None,
        };
    };

    let duration = Duration::from_millis(record.duration_ms);
    let message = if record.message.trim().is_empty() {
        format!("{} (no message recorded)", record.outcome.label())
    } else {
        record.message.clone()
    };
    let mut details = details(record, context.view.out_dir);
    let flaky = context.view.flaky_checks_of_item(&record.name);
    if !flaky.is_empty() {
        let on = format!("note: satisfied by FLAKY check {}", flaky.join(", "));
        details = if details.is_empty() {
            on
        } else {
            format!("{on}\n{details}")
        };
    }
    let findings = findings_text(context, record);
    if !findings.is_empty() {
        details = if details.is_empty() {
            findings
        } else {
            format!("{findings}\n{details}")
        };
    }
    let body = if details.is_empty() {
        message.clone()
    } else {
        format!("{message}\n{details}")
    };
    // A probe's case is triaged with its probe.
    let triaged = match record.case_kind {
        CaseKind::Probe if record.check.contains("::") => {
            let probe = record.check.split("::").next().unwrap_or_default();
            format!("{}::{probe}", record.packet)
        }
        _ => record.name.clone(),
    };
    let triage = match context.view.triage.get(&triaged) {
        Some(Triage::Accepted(acceptance)) => Some(format!(
            "accepted by {} until {}: {}",
            acceptance.owner, acceptance.until, acceptance.reason
        )),
        // Only a P2 failure is ever tracked (see `verdict`), whatever the record says.
        Some(Triage::Tracked) => Some("tracked (P2), does not block the release".to_string()),
        _ => None,
    };

    let (status, system_out) = match (record.outcome, triage.as_ref()) {
        // A pass after failed attempts is flaky: a success with one `<flakyFailure>` per
        // failed attempt, never a clean pass in its text.
        (Outcome::Pass, _) if record.is_flaky() => {
            let mut status = TestCaseStatus::success();
            status.add_reruns(attempts::reruns(record, context.view.out_dir));
            (status, Some(format!("FLAKY: {body}")))
        }
        (Outcome::Pass, _) => (TestCaseStatus::success(), Some(format!("PASS: {body}"))),
        // A failure that does not block the release is neither a pass nor a failure of the
        // build: a skip whose message starts with what happened and why it does not block, as
        // pytest writes an expected failure. Every consumer shows it as skipped with that line.
        (Outcome::Fail | Outcome::Error, Some(why)) => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(format!("{} {why}: {message}", record.outcome.label()))
                .set_description(format!("{} {why}: {body}", record.outcome.label()));
            (status, None)
        }
        (Outcome::Fail, None) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(message)
                .set_type(failure_type(record))
                .set_description(body)
                .add_reruns(attempts::reruns(record, context.view.out_dir));
            (status, None)
        }
        (Outcome::Error, None) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(message)
                .set_type("spawn")
                .set_description(body)
                .add_reruns(attempts::reruns(record, context.view.out_dir));
            (status, None)
        }
        (Outcome::Skipped, _) => {
            // The schema gives `<skipped>` no `type` attribute, so none is set.
            let mut status = TestCaseStatus::skipped();
            status.set_message(message);
            if !details.is_empty() {
                status.set_description(body);
            }
            (status, None)
        }
    };
    let mut case = new_case(status, duration);
    if let Some(attempts) = attempts::system_out(record) {
        case.set_system_out(attempts);
    }
    RenderedCase { case, system_out }
}

/// The `type` of a `<failure>`: what kind of check failed and how.
fn failure_type(record: &CheckRecord) -> &'static str {
    match record.case_kind {
        _ if record.timed_out => "timeout",
        CaseKind::Probe if record.message.starts_with(INCONCLUSIVE) => "inconclusive",
        CaseKind::Command => "exit-code",
        CaseKind::Grep => "grep",
        CaseKind::Checklist => "checklist",
        CaseKind::Probe => "probe",
        CaseKind::Scan => "scan",
    }
}

/// A scan's findings, one line each with its triage: `P1 RUSTSEC-… rsa@0.9.8: title [accepted:
/// owner until …]`, and where the report is stored.
fn findings_text(context: &Context<'_>, record: &CheckRecord) -> String {
    let findings = context.verdict.map_or(&[][..], |verdict| &verdict.findings);
    let mut lines: Vec<String> = findings
        .iter()
        .filter(|note| note.check == record.name)
        .map(|note| {
            let mut line = format!("{} {}", note.severity.as_str(), note.id);
            if let Some(location) = &note.location {
                line.push_str(&format!(" {location}"));
            }
            if !note.title.is_empty() {
                line.push_str(&format!(": {}", note.title));
            }
            match &note.acceptance {
                Some(acceptance) => line.push_str(&format!(" [accepted: {acceptance}]")),
                None => line.push_str(&format!(" [{}]", note.state)),
            }
            line
        })
        .collect();
    if let (Some(report), Some(sha256)) = (&record.report, &record.report_sha256) {
        lines.push(format!("report: {report} (sha256 {sha256})"));
    }
    lines.join("\n")
}

/// Notes, then the log's path, size and digest and the last lines of output.
fn details(record: &CheckRecord, out_dir: &Path) -> String {
    let mut lines: Vec<String> = record
        .notes
        .iter()
        .map(|note| format!("note: {note}"))
        .collect();
    let Some(log) = &record.log else {
        if record.no_output() {
            lines.push("log: no output".to_string());
        }
        return lines.join("\n");
    };
    let digest = record.sha256.as_deref().unwrap_or("unknown");
    lines.push(format!(
        "log: {log} ({} bytes, sha256 {digest})",
        record.bytes
    ));
    // Records can come from fragment files that a check's command could have written; a log
    // path leaving the out directory (or a symlink out of it) must not pull another file into a
    // published report.
    let tail = match read_log_tail(out_dir, log, tail::TAIL_BYTES) {
        Ok(tail) => tail::tail_text(&tail.bytes, TAIL_LINES),
        Err(TailError::Outside(_)) => {
            "log unavailable: the path leaves the out directory".to_string()
        }
        Err(TailError::Unreadable(err)) => format!("log unavailable: {err}"),
    };
    lines.push(if tail.is_empty() {
        "(no output)".to_string()
    } else {
        tail
    });
    lines.join("\n")
}

/// Makes quick-junit's output valid under the Ant schema and in XML at all.
fn schema_safe(xml: &str) -> String {
    // quick-junit always writes totals on `<testsuites>`, where the schema allows no attribute.
    // They hold only digits, so the first `>` after the tag name closes the tag.
    let mut xml = xml.to_string();
    if let Some(start) = xml.find("<testsuites") {
        if let Some(len) = xml[start..].find('>') {
            let end = start + len;
            let close = if xml[..end].ends_with('/') { "/>" } else { ">" };
            xml.replace_range(start..=end, &format!("<testsuites{close}"));
        }
    }
    // quick-junit drops control characters, but U+FFFE and U+FFFF are not XML characters either
    // and can arrive in a message or a property taken from a command line; a U+FFFD makes
    // xunit-viewer's encoding detector read the file as CP1252, which it then cannot decode.
    // All three are written as their UTF-8 bytes in `\xNN` form, as log tails show bytes that
    // are not text. They start with the byte 0xEF: a memchr finds the usual case, none, at once.
    if !xml.as_bytes().contains(&0xEF) {
        return xml;
    }
    xml.replace('\u{FFFD}', "\\xEF\\xBF\\xBD")
        .replace('\u{FFFE}', "\\xEF\\xBF\\xBE")
        .replace('\u{FFFF}', "\\xEF\\xBF\\xBF")
}

mod attempts;

#[cfg(test)]
mod tests;
