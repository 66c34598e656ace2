//! The SARIF results: one per failed check, failing probe case, scanner finding and acceptance
//! note, with their triage; and the run object they end up in.

use serde_json::{json, Map, Value};

use super::locations::location;
use super::rules::{rule_json, tags};
use super::{
    code, level, nonempty, paragraph, AcceptanceKind, Builder, Place, Rule, State, FINGERPRINT_KEY,
    RULE_ACCEPTANCE_EXPIRED, RULE_ACCEPTANCE_UNUSED, SCHEMA_URI,
};
use crate::evidence::{
    sha256_hex, CaseKind, CaseOutcome, CheckRecord, FindingNote, Ledger, Outcome, ProbeCase,
    RunHeader, VerdictRecord,
};
use crate::report::view::shard_suffix;
use crate::scan::{Finding, Format};
use crate::spec::{AcceptTarget, Check, CheckKind, Severity};

impl<'a> Builder<'a> {
    pub(super) fn check(&self, record: &CheckRecord) -> Option<&'a Check> {
        self.gate
            .packet(&record.packet)
            .and_then(|packet| packet.check(&record.check))
    }

    pub(super) fn record(&mut self, record: &CheckRecord) {
        if record.case_kind == CaseKind::Checklist {
            return;
        }
        let check = self.check(record);
        // Every finding is a result, whatever became of its scan.
        if !record.findings.is_empty() {
            for finding in &record.findings {
                self.finding(record, check, finding);
            }
        }
        if record.is_flaky() {
            self.flaky_check(record, check);
            return;
        }
        if !record.outcome.is_failure() {
            return;
        }
        if record.outcome == Outcome::Error {
            let text = format!(
                "{} could not run: {}",
                record.name,
                nonempty(&record.message, "no message")
            );
            self.notifications
                .push(json!({ "level": "error", "message": { "text": text } }));
        }
        if !record.findings.is_empty() {
            return;
        }
        let failing: Vec<&ProbeCase> = record
            .cases
            .iter()
            .filter(|case| case.outcome != CaseOutcome::Pass)
            .collect();
        if record.outcome == Outcome::Fail && !failing.is_empty() {
            for case in failing {
                self.probe_case(record, check, case);
            }
            return;
        }
        self.failed_check(record, check);
    }

    /// The triage of a failed check (all its results share it).
    pub(super) fn check_state(&self, record: &CheckRecord) -> State {
        let Some(verdict) = self.verdict else {
            return State::Untriaged;
        };
        let Some(risk) = verdict
            .residual_risks
            .iter()
            .find(|risk| risk.check == record.name)
        else {
            return State::Blocking;
        };
        match risk.state.as_str() {
            "accepted" => {}
            "flaky" => return State::Flaky,
            _ => return State::Tracked,
        }
        let owner = risk.owner.as_deref().unwrap_or("an unnamed owner");
        let until = risk.until.as_deref().unwrap_or("no date");
        let line = self
            .gate
            .accepts
            .iter()
            .find(|acceptance| {
                acceptance.target == AcceptTarget::Check(record.name.clone())
                    && acceptance.owner == owner
                    && acceptance.until.to_string() == until
            })
            .map(|acceptance| format!(" ({} line {})", self.gate_file(), acceptance.line))
            .unwrap_or_default();
        State::Accepted(format!(
            "accepted by {owner} until {until}{line}: {}",
            nonempty(&risk.reason, "no reason given")
        ))
    }

    /// Sentences about acceptances of `targets` that expired and were ignored.
    pub(super) fn expired(&self, targets: &[String]) -> Vec<String> {
        let Some(verdict) = self.verdict else {
            return Vec::new();
        };
        verdict
            .expired_acceptances
            .iter()
            .filter(|note| {
                targets
                    .iter()
                    .any(|target| target.eq_ignore_ascii_case(&note.target))
            })
            .map(|note| {
                format!(
                    "The acceptance at {} line {} (owner {}) expired on {} and was ignored",
                    self.gate_file(),
                    note.line,
                    note.owner,
                    note.until
                )
            })
            .collect()
    }

    pub(super) fn failed_check(&mut self, record: &CheckRecord, check: Option<&Check>) {
        let state = self.check_state(record);
        let severity = record.severity;
        // No message starts with its rule id: sarif-tools reads what follows an id prefix as
        // the description and shows one character of it.
        let mut sentences = vec![format!(
            "Check {} {} ({}, {}): {}",
            record.name,
            record.outcome.label(),
            severity.as_str(),
            state.label(),
            nonempty(&record.message, "no message")
        )];
        sentences.extend(self.run_facts(record, check));
        sentences.extend(self.attempt_sentences(record));
        sentences.extend(self.expired(&[format!("check {}", record.name)]));
        let rule = self.check_rule(record, check, severity);
        let place = self.gate_place(check.map_or(1, |check| check.line));
        let fingerprint = sha256_hex(record.name.as_bytes());
        self.push(rule, severity, sentences, place, fingerprint, state, record);
    }

    /// A check that passed only after failing: a result at its severity, like a failure (a
    /// flaky security check is itself a finding), whose message names every attempt. Its
    /// fingerprint is the check's, so an alert of a failing check stays one alert when it
    /// turns flaky.
    pub(super) fn flaky_check(&mut self, record: &CheckRecord, check: Option<&Check>) {
        let state = self.check_state(record);
        let severity = record.severity;
        let count = record.attempt_count();
        let mut sentences = vec![format!(
            "Check {} FLAKY ({}, {}): it passed on attempt {count} of {count} only after failing: {}",
            record.name,
            severity.as_str(),
            state.label(),
            nonempty(&record.message, "no message")
        )];
        sentences.extend(self.run_facts(record, check));
        sentences.extend(self.attempt_sentences(record));
        let rule = self.check_rule(record, check, severity);
        let place = self.gate_place(check.map_or(1, |check| check.line));
        let fingerprint = sha256_hex(record.name.as_bytes());
        self.push(rule, severity, sentences, place, fingerprint, state, record);
    }

    /// One sentence per earlier attempt: `Attempt 1 of 2 (shard slice:1/3): FAIL exit 1
    /// (expected 0), log logs/… (12 bytes, sha256 …)`.
    pub(super) fn attempt_sentences(&self, record: &CheckRecord) -> Vec<String> {
        let count = record.attempt_count();
        record
            .attempts
            .iter()
            .enumerate()
            .map(|(index, attempt)| {
                let mut sentence = format!(
                    "Attempt {} of {count}{}: {} {}",
                    index + 1,
                    shard_suffix(attempt),
                    attempt.outcome.label(),
                    nonempty(&attempt.message, "no message")
                );
                if let Some(log) = self.log_sentence(attempt) {
                    sentence.push_str(&format!("; {}", lowercase_first(&log)));
                }
                sentence
            })
            .collect()
    }

    pub(super) fn probe_case(
        &mut self,
        record: &CheckRecord,
        check: Option<&Check>,
        case: &ProbeCase,
    ) {
        let state = self.check_state(record);
        let severity = record.severity;
        let case_name = format!("{}::{}", record.name, case.name);
        let label = match case.outcome {
            CaseOutcome::Fail => "FAIL",
            _ => "INCONCLUSIVE",
        };
        let mut sentences = vec![
            format!(
                "Probe case {case_name} {label} ({}, {}): {}",
                severity.as_str(),
                state.label(),
                nonempty(&case.message, "no message")
            ),
            format!(
                "Probe check {} {}: {}",
                record.name,
                record.outcome.label(),
                nonempty(&record.message, "no message")
            ),
        ];
        sentences.extend(self.run_facts(record, check));
        sentences.extend(self.attempt_sentences(record));
        sentences.extend(self.expired(&[format!("check {}", record.name)]));
        let rule = self.case_rule(record, check, &case.name, severity);
        let place = self.gate_place(check.map_or(1, |check| check.line));
        let fingerprint = sha256_hex(case_name.as_bytes());
        self.push(rule, severity, sentences, place, fingerprint, state, record);
    }

    pub(super) fn finding(
        &mut self,
        record: &CheckRecord,
        check: Option<&Check>,
        finding: &Finding,
    ) {
        let note: Option<&FindingNote> = self.verdict.and_then(|verdict| {
            verdict.findings.iter().find(|note| {
                note.check == record.name
                    && note.id == finding.id
                    && note.fingerprint == finding.fingerprint
            })
        });
        let state = match note {
            None if self.verdict.is_none() => State::Untriaged,
            None => State::Blocking,
            Some(note) => match (note.state.as_str(), &note.acceptance) {
                ("accepted", Some(acceptance)) => {
                    // The note says `owner until DATE (line N): reason`; name the file too.
                    let acceptance =
                        acceptance.replacen(" (line ", &format!(" ({} line ", self.gate_file()), 1);
                    State::Accepted(format!("accepted by {acceptance}"))
                }
                ("accepted", None) => State::Accepted("accepted".to_string()),
                ("tracked", _) => State::Tracked,
                _ => State::Blocking,
            },
        };
        let severity = finding.severity;
        let format = match check.map(|check| &check.kind) {
            Some(CheckKind::Scan(scan)) => Some(scan.format),
            _ => None,
        };
        let scanner = format.map_or("scanner", Format::name);
        let location = finding.location.as_deref().filter(|text| !text.is_empty());
        let mut sentences = vec![format!(
            "{} {}{}: {} ({}, scanner severity {}; {})",
            severity.as_str(),
            finding.id,
            location.map(|at| format!(" in {at}")).unwrap_or_default(),
            nonempty(&finding.title, &finding.id).trim_end_matches('.'),
            nonempty(&finding.rule, "finding"),
            nonempty(&finding.scanner_severity, "none"),
            state.label()
        )];
        let mut reported = format!("Reported by the {scanner} scan {}", record.name);
        if let Some(code) = record.exit_code {
            reported.push_str(&format!(" (exit code {code})"));
        }
        sentences.push(reported);
        if let Some(report) = &record.report {
            sentences.push(format!(
                "Report {report} (sha256 {})",
                record.report_sha256.as_deref().unwrap_or("unknown")
            ));
        }
        sentences.extend(self.log_sentence(record));
        let targets: Vec<String> = [&finding.id, &finding.rule, &finding.fingerprint]
            .into_iter()
            .map(|key| format!("finding {key}"))
            .chain([format!("check {}", record.name)])
            .collect();
        sentences.extend(self.expired(&targets));
        let place = self.finding_place(check, format, location);
        let rule = self.finding_rule(record, finding, scanner, severity);
        self.push(
            rule,
            severity,
            sentences,
            place,
            finding.fingerprint.clone(),
            state,
            record,
        );
    }

    /// What ran and where its evidence is: the command or rule, exit code or timeout, the log.
    pub(super) fn run_facts(&self, record: &CheckRecord, check: Option<&Check>) -> Vec<String> {
        let mut sentences = Vec::new();
        let what = match check.map(|check| &check.kind) {
            Some(CheckKind::Command(command)) => {
                Some(format!("Command {}", code(&command.display)))
            }
            Some(CheckKind::Scan(scan)) => Some(format!(
                "{} scan {}",
                scan.format.name(),
                code(&scan.command.display)
            )),
            Some(CheckKind::Grep(grep)) => Some(format!(
                "Grep /{}/ in {}",
                grep.pattern.as_str(),
                grep.files.join(" ")
            )),
            Some(CheckKind::Probe(probe)) => Some(format!("Probe {}", code(&probe.kind))),
            None if !record.argv.is_empty() => {
                Some(format!("Command {}", code(&record.argv.join(" "))))
            }
            None => None,
        };
        let process = matches!(record.case_kind, CaseKind::Command | CaseKind::Scan);
        let exit = match (record.exit_code, record.timed_out, record.signal) {
            (_, true, signal) => Some(format!(
                "killed after its timeout{}{}",
                check
                    .map(|check| format!(" of {}", crate::spec::format_duration(check.timeout)))
                    .unwrap_or_default(),
                signal
                    .map(|signal| format!(" (signal {signal})"))
                    .unwrap_or_default()
            )),
            (Some(code), false, _) => Some(format!("exit code {code}")),
            (None, false, Some(signal)) => Some(format!("killed by signal {signal}")),
            (None, false, None) if process => Some("no exit code".to_string()),
            (None, false, None) => None,
        };
        match (what, exit) {
            (Some(what), Some(exit)) => sentences.push(format!("{what}: {exit}")),
            (Some(what), None) => sentences.push(what),
            (None, Some(exit)) => sentences.push(format!("It ended with {exit}")),
            (None, None) => {}
        }
        sentences.extend(self.log_sentence(record));
        sentences.extend(
            record
                .notes
                .iter()
                .filter(|note| !note.trim().is_empty())
                .map(|note| format!("Note: {note}")),
        );
        sentences
    }

    pub(super) fn log_sentence(&self, record: &CheckRecord) -> Option<String> {
        let Some(log) = &record.log else {
            return record.no_output().then(|| "No output".to_string());
        };
        Some(format!(
            "Log {log} ({} bytes, sha256 {})",
            record.bytes,
            record.sha256.as_deref().unwrap_or("unknown")
        ))
    }

    pub(super) fn acceptance_notes(&mut self, verdict: &VerdictRecord) {
        let file = self.gate_file();
        let expired = Rule {
            id: RULE_ACCEPTANCE_EXPIRED.to_string(),
            name: "AcceptanceExpired".to_string(),
            short: "An [[accept]] entry has expired and is ignored".to_string(),
            full: "A risk acceptance is valid up to and including its `until` date; after it the failure or finding it covered counts again (and blocks the release unless it is P2).".to_string(),
            help: "Renew the acceptance with a new `until` date and a current reason if the risk is still owned, or remove the entry once the cause is fixed.".to_string(),
            markdown: "Renew the acceptance with a new `until` date and a current `reason` if the risk is still owned, or remove the `[[accept]]` entry once the cause is fixed.".to_string(),
            help_uri: None,
            severity: None,
            level: "warning",
            tags: tags(&["relgate", "acceptance", "maintainability"]),
        };
        let unused = Rule {
            id: RULE_ACCEPTANCE_UNUSED.to_string(),
            name: "AcceptanceUnused".to_string(),
            short: "An [[accept]] entry matched no failure".to_string(),
            full: "A risk acceptance that covers nothing in this run: the check passed, the finding is gone, or the target is misspelled.".to_string(),
            help: "Remove the acceptance if its risk is gone, or fix its target (check = PACKET::check, finding = an id, rule or fingerprint).".to_string(),
            markdown: "Remove the `[[accept]]` entry if its risk is gone, or fix its target (`check = \"PACKET::check\"`, `finding = \"<id, rule or fingerprint>\"`).".to_string(),
            help_uri: None,
            severity: None,
            level: "note",
            tags: tags(&["relgate", "acceptance", "maintainability"]),
        };
        let kinds: [AcceptanceKind<'_>; 2] = [
            (&verdict.expired_acceptances, expired, |note| {
                format!("expired on {} and was ignored", note.until)
            }),
            (&verdict.unused_acceptances, unused, |note| {
                format!("until {} matched no failure", note.until)
            }),
        ];
        for (notes, rule, what) in kinds {
            for note in notes {
                let text = format!(
                    "The acceptance of {} owned by {} {} ({file} line {})",
                    note.target,
                    note.owner,
                    what(note),
                    note.line
                );
                let fingerprint = sha256_hex(
                    format!("{}|{}|{}|{}", rule.id, note.target, note.owner, note.until).as_bytes(),
                );
                self.push_note(rule.clone(), text, note.line, fingerprint);
            }
        }
    }

    pub(super) fn push_note(&mut self, rule: Rule, text: String, line: usize, fingerprint: String) {
        let level = rule.level;
        let id = rule.id.clone();
        let index = self.rule_index(rule);
        let place = self.gate_place(line);
        self.results.push(json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": level,
            "message": { "text": format!("{text}.") },
            "locations": [location(&place)],
            "partialFingerprints": { FINGERPRINT_KEY: fingerprint },
        }));
    }

    #[expect(clippy::too_many_arguments, reason = "one call per kind of result")]
    pub(super) fn push(
        &mut self,
        rule: Rule,
        severity: Severity,
        sentences: Vec<String>,
        place: Place,
        fingerprint: String,
        state: State,
        record: &CheckRecord,
    ) {
        let id = rule.id.clone();
        let index = self.rule_index(rule);
        let mut result = json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": level(severity),
            "message": { "text": paragraph(&sentences) },
            "locations": [location(&place)],
            "partialFingerprints": { FINGERPRINT_KEY: nonempty(&fingerprint, &sha256_hex(id.as_bytes())) },
            "properties": {
                "severity": severity.as_str(),
                "state": state.label(),
                "check": record.name,
                "outcome": record.outcome.label(),
            },
        });
        if !record.attempts.is_empty() {
            result["properties"]["attempts"] = json!(record.attempt_count());
            result["properties"]["flaky"] = json!(record.is_flaky());
        }
        if let State::Accepted(justification) = &state {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": justification,
            }]);
        }
        self.results.push(result);
    }

    pub(super) fn finish(self, ledger: &Ledger) -> Value {
        let header = ledger.header();
        let version = header
            .map(|header| header.relgate_version.as_str())
            .filter(|version| !version.is_empty())
            .unwrap_or(env!("CARGO_PKG_VERSION"));
        let rules: Vec<Value> = self.rules.iter().map(rule_json).collect();
        let mut invocation = json!({
            "executionSuccessful": self.verdict.is_some() && self.notifications.is_empty(),
        });
        if let Some(started) = header
            .map(|header| header.started.as_str())
            .filter(|started| crate::model::clock::parse_timestamp(started).is_some())
        {
            invocation["startTimeUtc"] = json!(started);
        }
        if !self.notifications.is_empty() {
            invocation["toolExecutionNotifications"] = Value::Array(self.notifications);
        }
        let mut run = json!({
            "tool": {
                "driver": {
                    "name": "relgate",
                    "informationUri": env!("CARGO_PKG_HOMEPAGE"),
                    "version": version,
                    "semanticVersion": version,
                    "rules": rules,
                }
            },
            "automationDetails": { "id": format!("{}/", nonempty(&self.gate.name, "relgate")) },
            "invocations": [invocation],
            "results": self.results,
        });
        let properties = run_properties(header, self.verdict);
        if !properties.is_empty() {
            run["properties"] = Value::Object(properties);
        }
        json!({
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [run],
        })
    }
}

/// `Log …` as `log …`, to follow a semicolon.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// The run's provenance: SARIF's `versionControlProvenance` needs a repository URI, which the
/// ledger does not have, so the commit goes here.
pub(super) fn run_properties(
    header: Option<&RunHeader>,
    verdict: Option<&VerdictRecord>,
) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() {
            properties.insert(key.to_string(), json!(value));
        }
    };
    if let Some(header) = header {
        put("gate", &header.gate);
        put("gateFile", header.gate_shown());
        put("gateSha256", &header.gate_sha256);
        if let Some(head) = &header.git_head {
            put("gitCommit", head);
        }
        if let Some(dirty) = header.git_dirty {
            put("gitDirty", if dirty { "true" } else { "false" });
        }
        put("runId", &header.run_id);
        put("mode", &header.mode);
    }
    if let Some(verdict) = verdict {
        put("decision", verdict.decision.label());
        put("asOf", &verdict.as_of);
    }
    properties
}
