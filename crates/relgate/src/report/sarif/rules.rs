//! The SARIF rules (`tool.driver.rules`): one per check, probe case and finding id, with its
//! descriptions, help and security-severity.

use serde_json::{json, Value};

use super::{code, level, nonempty, security_severity, Builder, Rule};
use crate::evidence::CheckRecord;
use crate::scan::Finding;
use crate::spec::{Check, CheckKind, GrepExpect, Severity};

impl Builder<'_> {
    /// The index of `rule` in `tool.driver.rules`, adding it on first use; a later result may
    /// raise the rule's severity (scanner ids shared by findings of different severities).
    pub(super) fn rule_index(&mut self, rule: Rule) -> usize {
        if let Some(index) = self.rules.iter().position(|known| known.id == rule.id) {
            let known = &mut self.rules[index];
            if let (Some(old), Some(new)) = (known.severity, rule.severity) {
                if new < old {
                    known.severity = Some(new);
                    known.level = level(new);
                }
            }
            return index;
        }
        self.rules.push(rule);
        self.rules.len() - 1
    }

    pub(super) fn check_rule(
        &self,
        record: &CheckRecord,
        check: Option<&Check>,
        severity: Severity,
    ) -> Rule {
        let name = &record.name;
        let Some(check) = check else {
            return Rule {
                id: name.clone(),
                name: name.clone(),
                short: format!("{name} (a record of a check the gate file does not list)"),
                full: format!(
                    "The ledger holds a failed record of {name}, which the gate file does not list: the gate file changed after the run, or the record is from another gate."
                ),
                help: "Rerun the gate with the current gate file.".to_string(),
                markdown: "Rerun the gate with the current gate file (`cargo xtask gate`).".to_string(),
                help_uri: None,
                severity: Some(severity),
                level: level(severity),
                tags: tags(&["security", "relgate", severity.as_str()]),
            };
        };
        let (short, what, kind_tag) = match &check.kind {
            CheckKind::Command(command) => {
                let codes = exit_codes(&command.expect_exit);
                (
                    format!("{name}: {} exits {codes}", code(&command.display)),
                    format!("runs {} and expects exit code {codes}", code(&command.display)),
                    "command",
                )
            }
            CheckKind::Grep(grep) => {
                let files = grep.files.join(" ");
                let pattern = grep.pattern.as_str();
                match grep.expect {
                    GrepExpect::Match => (
                        format!("{name}: /{pattern}/ matches in {files}"),
                        format!("searches {files} for /{pattern}/ and expects at least one matching line"),
                        "grep",
                    ),
                    GrepExpect::NoMatch => (
                        format!("{name}: no line of {files} matches /{pattern}/"),
                        format!("searches {files} for /{pattern}/ and expects no matching line"),
                        "grep",
                    ),
                }
            }
            CheckKind::Probe(probe) => (
                format!("{name}: the {} probe finds no weakness", probe.kind),
                format!(
                    "runs the built-in {} probe against the running system ({} cases: {})",
                    code(&probe.kind),
                    probe.cases.len(),
                    if probe.cases.is_empty() { "none".to_string() } else { probe.cases.join(", ") }
                ),
                "probe",
            ),
            CheckKind::Scan(scan) => (
                format!(
                    "{name}: the {} scan writes a report relgate can read",
                    scan.format.name()
                ),
                format!(
                    "runs the scanner {} and triages each finding of its {} report; no report, an unreadable one or a scanner error fails the check",
                    code(&scan.command.display),
                    scan.format.name()
                ),
                "scan",
            ),
        };
        let reproduce = format!("cargo xtask gate -- --exact {name}");
        Rule {
            id: name.clone(),
            name: name.clone(),
            short,
            full: format!(
                "{} {what}; timeout {}. {}",
                self.declared(check),
                crate::spec::format_duration(check.timeout),
                severity_meaning(severity)
            ),
            help: format!(
                "Reproduce it with `{reproduce}` and read the check's log (named in the result with its sha256). Fix the cause; if the risk is understood and owned, accept it in {} with an [[accept]] entry: check = \"{name}\", owner, until, reason.",
                self.gate_file()
            ),
            markdown: format!(
                "Reproduce it with {} and read the check's log (named in the result with its sha256). Fix the cause; if the risk is understood and owned, accept it in {}:\n\n```toml\n[[accept]]\ncheck = \"{name}\"\nowner = \"…\"\nuntil = \"YYYY-MM-DD\"\nreason = \"…\"\n```",
                code(&reproduce),
                code(&self.gate_file())
            ),
            help_uri: None,
            severity: Some(severity),
            level: level(severity),
            tags: tags(&["security", "relgate", kind_tag, severity.as_str()]),
        }
    }

    pub(super) fn case_rule(
        &self,
        record: &CheckRecord,
        check: Option<&Check>,
        case: &str,
        severity: Severity,
    ) -> Rule {
        let name = format!("{}::{case}", record.name);
        let (kind, declared) = match check {
            Some(check) => (
                match &check.kind {
                    CheckKind::Probe(probe) => probe.kind.clone(),
                    _ => "probe".to_string(),
                },
                self.declared(check),
            ),
            None => (
                "probe".to_string(),
                format!("Check {}, which the gate file does not list:", record.name),
            ),
        };
        let reproduce = format!("cargo xtask gate -- {}", record.name);
        Rule {
            id: name.clone(),
            name: name.clone(),
            short: format!("{name}: case {case} of the {kind} probe holds"),
            full: format!(
                "{declared} case {} of the built-in {} probe fails when the target accepts the attack or the property does not hold, and is inconclusive when the probe could not tell (which fails it too). {}",
                code(case),
                code(&kind),
                severity_meaning(severity)
            ),
            help: format!(
                "Reproduce it with `{reproduce}`; the check's log holds the case table with what was sent and what came back (redacted). Fix the target; if the risk is understood and owned, accept the whole check in {} with an [[accept]] entry: check = \"{}\", owner, until, reason.",
                self.gate_file(),
                record.name
            ),
            markdown: format!(
                "Reproduce it with {}; the check's log holds the case table with what was sent and what came back (redacted). See the `{kind}` probe in the README. Fix the target; if the risk is understood and owned, accept the whole check in {}:\n\n```toml\n[[accept]]\ncheck = \"{}\"\nowner = \"…\"\nuntil = \"YYYY-MM-DD\"\nreason = \"…\"\n```",
                code(&reproduce),
                code(&self.gate_file()),
                record.name
            ),
            help_uri: None,
            severity: Some(severity),
            level: level(severity),
            tags: tags(&["security", "relgate", "probe", &kind, severity.as_str()]),
        }
    }

    pub(super) fn finding_rule(
        &self,
        record: &CheckRecord,
        finding: &Finding,
        scanner: &str,
        severity: Severity,
    ) -> Rule {
        let id = &finding.id;
        let title = nonempty(&finding.title, id);
        let rule_kind = nonempty(&finding.rule, "finding");
        let help_uri = advisory_uri(id);
        let see = help_uri
            .as_ref()
            .map(|uri| format!("See {uri}. "))
            .unwrap_or_default();
        let p0 = "An accepted finding, P0 included, is a residual risk: the verdict is then at best GO_WITH_CONDITIONS.";
        Rule {
            id: id.clone(),
            name: format!("{scanner}/{rule_kind}"),
            short: title.clone(),
            full: format!(
                "{} ({rule_kind}, reported by the {scanner} scan {}). {}",
                title.trim_end_matches('.'),
                record.name,
                severity_meaning(severity)
            ),
            help: format!(
                "{see}Fix it (for a dependency: upgrade or remove the package); if it does not apply, accept it in {} with an [[accept]] entry: finding = \"{id}\", owner, until, reason. {p0}",
                self.gate_file()
            ),
            markdown: format!(
                "{see}Fix it (for a dependency: upgrade or remove the package); if it does not apply, accept it in {}:\n\n```toml\n[[accept]]\nfinding = \"{id}\"\nowner = \"…\"\nuntil = \"YYYY-MM-DD\"\nreason = \"…\"\n```\n\n{p0}",
                code(&self.gate_file())
            ),
            help_uri,
            severity: Some(severity),
            level: level(severity),
            tags: tags(&["security", "relgate", "scan", scanner, rule_kind.as_str(), severity.as_str()]),
        }
    }

    /// `Check api-suites of packet SEC-01 (title), declared at packets.toml line 47,`
    pub(super) fn declared(&self, check: &Check) -> String {
        let title = self
            .gate
            .packet(&check.packet)
            .map(|packet| packet.title.as_str())
            .filter(|title| !title.is_empty() && *title != check.packet)
            .map(|title| format!(" ({title})"))
            .unwrap_or_default();
        format!(
            "Check {} of packet {}{title}, declared at {} line {}:",
            check.id,
            check.packet,
            self.gate_file(),
            check.line
        )
    }
}

pub(super) fn rule_json(rule: &Rule) -> Value {
    let mut help = json!({ "text": rule.help });
    if !rule.markdown.is_empty() {
        help["markdown"] = json!(rule.markdown);
    }
    let mut properties = json!({ "tags": rule.tags });
    if let Some(severity) = rule.severity {
        properties["security-severity"] = json!(security_severity(severity));
    }
    let mut value = json!({
        "id": rule.id,
        "name": friendly_name(&rule.name),
        "shortDescription": { "text": bounded(&rule.short) },
        "fullDescription": { "text": bounded(&rule.full) },
        "help": help,
        "defaultConfiguration": { "level": rule.level },
        "properties": properties,
    });
    if let Some(uri) = &rule.help_uri {
        value["helpUri"] = json!(uri);
    }
    value
}

/// The most characters GitHub code scanning takes in a rule's short and full description.
const DESCRIPTION_CHARS: usize = 1024;

/// `text` cut to [`DESCRIPTION_CHARS`] characters, ending in `…` when cut (a long command line
/// or title would otherwise exceed it; the help text keeps everything).
/// A rule's `name` as SARIF asks for it: a Pascal-case identifier a person can read, never the
/// `id` itself (`SEC-02::clippy` → `SEC02Clippy`, `cargo-audit/vulnerability` →
/// `CargoAuditVulnerability`). Each word keeps its case; its first letter is raised.
pub(super) fn friendly_name(text: &str) -> String {
    let mut name = String::with_capacity(text.len());
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    if name.is_empty() {
        "Rule".to_string()
    } else {
        name
    }
}

fn bounded(text: &str) -> String {
    if text.chars().count() <= DESCRIPTION_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(DESCRIPTION_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The advisory page of a well-known advisory id.
pub(super) fn advisory_uri(id: &str) -> Option<String> {
    let safe = !id.is_empty()
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !safe {
        return None;
    }
    if id.starts_with("RUSTSEC-") {
        Some(format!("https://rustsec.org/advisories/{id}.html"))
    } else if id.starts_with("GHSA-") {
        Some(format!("https://github.com/advisories/{id}"))
    } else if id.starts_with("CVE-") {
        Some(format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else {
        None
    }
}

pub(super) fn severity_meaning(severity: Severity) -> &'static str {
    match severity {
        Severity::P0 => "P0: a failure blocks the release unless a risk acceptance covers it.",
        Severity::P1 => {
            "P1: a failure must be triaged; it blocks the release without a risk acceptance."
        }
        Severity::P2 => "P2: a failure does not block the release; it is tracked for follow-up.",
    }
}

/// `0`, `0 or 1`.
pub(super) fn exit_codes(codes: &[i32]) -> String {
    match codes {
        [] => "0".to_string(),
        codes => codes
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Unique, non-empty tags in the order given.
pub(super) fn tags(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words {
        let word = word.trim();
        if !word.is_empty() && !out.iter().any(|known| known == word) {
            out.push(word.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_bounded_for_code_scanning() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(3000);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), DESCRIPTION_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded(&"x".repeat(1024)).chars().count(), 1024);
    }

    #[test]
    fn friendly_names_are_pascal_case_and_never_the_id() {
        assert_eq!(friendly_name("SEC-02::clippy"), "SEC02Clippy");
        assert_eq!(friendly_name("SEC-01::jwt::alg-none"), "SEC01JwtAlgNone");
        assert_eq!(
            friendly_name("cargo-audit/vulnerability"),
            "CargoAuditVulnerability"
        );
        assert_eq!(friendly_name("AcceptanceUnused"), "AcceptanceUnused");
        assert_eq!(friendly_name("::"), "Rule");
    }

    #[test]
    fn well_known_advisories_link_to_their_page_and_tags_are_unique() {
        assert_eq!(
            advisory_uri("RUSTSEC-2023-0071").as_deref(),
            Some("https://rustsec.org/advisories/RUSTSEC-2023-0071.html")
        );
        assert_eq!(advisory_uri("generic-api-key"), None);
        assert_eq!(advisory_uri("RUSTSEC-../x"), None);
        assert_eq!(tags(&["x", "", "x", "y"]), ["x", "y"]);
    }
}
