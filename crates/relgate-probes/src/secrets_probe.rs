//! The `secrets` probe: the built-in rules (`secrets/`) over the gate's tree, findings
//! compared with an allowlist of fingerprints.
//!
//! Cases: `controls` (every enabled rule finds its in-memory canary and a clean sample raises
//! nothing), `no-secrets` (no finding outside the allowlist) and `allowlist-current` (every
//! allowlisted fingerprint still matches a finding, so the allowlist cannot rot).

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};
use crate::secrets::{
    canary, redact_matches, rules, table, walk, Finding, ScanError, ScanOptions,
    DEFAULT_MAX_FILE_SIZE,
};

const CASES: &[&str] = &["controls", "no-secrets", "allowlist-current"];

/// How many findings a one-line message names before "and N more".
const MESSAGE_FINDINGS: usize = 3;

pub(crate) struct SecretsProbe {
    options: ScanOptions,
    allowlist: Option<PathBuf>,
}

impl SecretsProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let paths = config
            .strings("paths")?
            .unwrap_or_else(|| vec![".".to_string()]);
        if paths.is_empty() {
            return Err(invalid(
                config,
                "paths",
                "give at least one path (the default is [\".\"])",
            ));
        }
        for path in &paths {
            let checked = if walk::is_glob(path) {
                walk::check_glob(path)
            } else if path.is_empty() {
                Err(ScanError::EmptyPath)
            } else {
                walk::check_relative(path)
            };
            checked.map_err(|why| invalid(config, "paths", why.to_string()))?;
        }
        let exclude = config.strings("exclude")?.unwrap_or_default();
        for glob in &exclude {
            walk::check_glob(glob).map_err(|why| invalid(config, "exclude", why.to_string()))?;
        }
        let allowlist = config.string("allowlist")?;
        if let Some(allowlist) = &allowlist {
            if allowlist.is_empty() {
                return Err(invalid(config, "allowlist", "an empty path"));
            }
            walk::check_relative(allowlist)
                .map_err(|why| invalid(config, "allowlist", why.to_string()))?;
        }
        let max_file_size = config
            .integer("max_file_size", 1..=i64::MAX)?
            .map_or(DEFAULT_MAX_FILE_SIZE, |size| size.unsigned_abs());
        let rule_ids = config.strings("rules")?;
        if let Some(ids) = &rule_ids {
            let known = table::scan_rule_ids();
            if ids.is_empty() {
                return Err(invalid(
                    config,
                    "rules",
                    format!(
                        "enable at least one rule (or leave `rules` out for all: {})",
                        known.join(", ")
                    ),
                ));
            }
            if let Some(unknown) = ids.iter().find(|id| !known.contains(&id.as_str())) {
                return Err(invalid(
                    config,
                    "rules",
                    format!(
                        "unknown rule `{unknown}` (expected one of {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        let entropy = config.number("entropy")?;
        if let Some(entropy) = entropy {
            if !(entropy > 0.0 && entropy <= 8.0) {
                return Err(invalid(
                    config,
                    "entropy",
                    format!(
                        "{entropy} is out of range: Shannon entropy per byte lies in (0, 8]; the default is {}",
                        table::DEFAULT_GENERIC_ENTROPY
                    ),
                ));
            }
        }
        Ok(SecretsProbe {
            options: ScanOptions {
                paths,
                exclude,
                max_file_size,
                rules: rule_ids,
                entropy,
            },
            allowlist: allowlist.map(PathBuf::from),
        })
    }
}

fn invalid(config: &Config<'_>, key: &str, message: impl Into<String>) -> ConfigError {
    config.error(key, ConfigErrorKind::InvalidValue, message)
}

impl Probe for SecretsProbe {
    fn cases(&self) -> Vec<String> {
        CASES.iter().map(|case| case.to_string()).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let log = context.log;
        let (controls, rules) = self.controls();
        log.line(&format!("controls: {}", controls.message));
        let Some(rules) = rules else {
            let why = format!("inconclusive: {}", controls.message);
            return Ok(vec![
                controls,
                case(
                    "no-secrets",
                    CaseOutcome::Inconclusive,
                    why.clone(),
                    String::new(),
                    String::new(),
                ),
                case(
                    "allowlist-current",
                    CaseOutcome::Inconclusive,
                    why,
                    String::new(),
                    String::new(),
                ),
            ]);
        };
        let allowlist = match &self.allowlist {
            Some(path) => Some(Allowlist::read(context.root, path)?),
            None => None,
        };
        let scan = walk::scan(context.root, &self.options, rules, Some(context.deadline))?;
        log.line(&format!(
            "scanned {} files under {} (paths {}; exclude {})",
            scan.files,
            context.root.display(),
            self.options.paths.join(", "),
            if self.options.exclude.is_empty() {
                "nothing".to_string()
            } else {
                self.options.exclude.join(", ")
            }
        ));
        for (path, size) in &scan.too_large {
            log.line(&format!(
                "skipped {path}: {size} bytes > max_file_size {}",
                self.options.max_file_size
            ));
        }
        for path in &scan.binary {
            log.line(&format!("skipped {path}: binary"));
        }
        for note in &scan.notes {
            log.line(&format!("note: {note}"));
        }
        let allowed = |finding: &Finding| {
            allowlist
                .as_ref()
                .is_some_and(|list| list.contains(&finding.fingerprint))
        };
        for finding in &scan.findings {
            log.line(&format!(
                "{}{}",
                describe(finding),
                if allowed(finding) {
                    " (allowlisted)"
                } else {
                    ""
                }
            ));
        }
        let reported: Vec<&Finding> = scan
            .findings
            .iter()
            .filter(|finding| !allowed(finding))
            .collect();
        let sent = self.describe_scan(context.root);
        Ok(vec![
            controls,
            no_secrets(
                &scan,
                &reported,
                scan.findings.len() - reported.len(),
                &self.options,
                sent.clone(),
            ),
            allowlist_current(allowlist.as_ref(), &scan, sent),
        ])
    }
}

impl SecretsProbe {
    /// The positive control (each enabled rule finds its canary, and redaction masks it) and
    /// the negative control (the clean sample raises nothing), checked in memory.
    fn controls(&self) -> (Case, Option<&'static rules::RuleSet>) {
        let inconclusive = |message: String| {
            (
                case(
                    "controls",
                    CaseOutcome::Inconclusive,
                    message,
                    String::new(),
                    String::new(),
                ),
                None,
            )
        };
        let rules = match rules::ruleset() {
            Ok(rules) => rules,
            Err(why) => return inconclusive(format!("the built-in rules do not compile: {why}")),
        };
        let selection = match rules.select(self.options.rules.as_deref(), self.options.entropy) {
            Ok(selection) => selection,
            Err(why) => return inconclusive(why.to_string()),
        };
        let mut checked = Vec::new();
        let mut described = Vec::new();
        for (index, rule) in rules.rules().iter().enumerate() {
            let Some((text, secret)) = canary::canary(rule.id) else {
                return inconclusive(format!("rule {} has no canary", rule.id));
            };
            if !redact_matches(&text).contains(crate::mask::MASK)
                || redact_matches(&text).contains(&secret)
            {
                return inconclusive(format!(
                    "positive control: redaction does not mask the {} canary",
                    rule.id
                ));
            }
            let enabled = self
                .options
                .rules
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| id == rule.id));
            if !enabled || !table::scan_rule_ids().contains(&rule.id) {
                continue;
            }
            let hits = rules.scan(text.as_bytes(), &selection);
            let found = hits.iter().any(|hit| {
                hit.rule == index && text.as_bytes()[hit.start..hit.end] == *secret.as_bytes()
            });
            if !found {
                let hint = if rule.id == "generic-secret" && self.options.entropy.is_some() {
                    " (is `entropy` set too high?)"
                } else {
                    ""
                };
                return inconclusive(format!(
                    "positive control: rule {} did not find its planted canary{hint}",
                    rule.id
                ));
            }
            checked.push(rule.id);
            described.push(format!("{}: {}", rule.id, rule.description));
        }
        let clean = canary::clean_sample();
        if let Some(hit) = rules.scan(clean.as_bytes(), &selection).first() {
            return inconclusive(format!(
                "negative control: rule {} reported a placeholder in the clean sample",
                rules.rules()[hit.rule].id
            ));
        }
        let sent = format!(
            "one planted canary per rule, and a clean sample of {} placeholder lines; rules:\n{}",
            clean.lines().count(),
            described.join("\n")
        );
        let message = format!(
            "{} rules each found their planted canary and redaction masked it; the clean sample raised nothing",
            checked.len()
        );
        (
            case("controls", CaseOutcome::Pass, message, sent, String::new()),
            Some(rules),
        )
    }

    fn describe_scan(&self, root: &Path) -> String {
        let mut sent = format!(
            "scan {} for paths {}",
            root.display(),
            self.options.paths.join(", ")
        );
        if !self.options.exclude.is_empty() {
            sent.push_str(&format!(" excluding {}", self.options.exclude.join(", ")));
        }
        sent.push_str(&format!(
            "\nrules: {}",
            self.options
                .rules
                .as_ref()
                .map_or_else(|| table::scan_rule_ids().join(", "), |ids| ids.join(", "))
        ));
        if let Some(entropy) = self.options.entropy {
            sent.push_str(&format!("\ngeneric-secret entropy threshold: {entropy}"));
        }
        if let Some(allowlist) = &self.allowlist {
            sent.push_str(&format!("\nallowlist: {}", allowlist.display()));
        }
        sent
    }
}

fn no_secrets(
    scan: &walk::Scan,
    reported: &[&Finding],
    allowlisted: usize,
    options: &ScanOptions,
    sent: String,
) -> Case {
    let mut skipped = String::new();
    if !scan.too_large.is_empty() {
        let names: Vec<&str> = scan
            .too_large
            .iter()
            .map(|(path, _)| path.as_str())
            .collect();
        skipped = format!(
            "; {} files over max_file_size {} skipped: {}",
            names.len(),
            options.max_file_size,
            names.join(", ")
        );
    }
    if scan.files == 0 {
        return case(
            "no-secrets",
            CaseOutcome::Inconclusive,
            format!(
                "inconclusive: no text file was scanned (paths {}){skipped}",
                options.paths.join(", ")
            ),
            sent,
            String::new(),
        );
    }
    if reported.is_empty() {
        return case(
            "no-secrets",
            CaseOutcome::Pass,
            format!(
                "{} files scanned, no secret found ({allowlisted} allowlisted){skipped}",
                scan.files
            ),
            sent,
            String::new(),
        );
    }
    let mut named: Vec<String> = reported
        .iter()
        .take(MESSAGE_FINDINGS)
        .map(|finding| {
            format!(
                "{}:{} {} {}",
                finding.path, finding.line, finding.rule, finding.fingerprint
            )
        })
        .collect();
    if reported.len() > MESSAGE_FINDINGS {
        named.push(format!("and {} more", reported.len() - MESSAGE_FINDINGS));
    }
    let got = reported
        .iter()
        .map(|finding| describe(finding))
        .collect::<Vec<_>>()
        .join("\n");
    case(
        "no-secrets",
        CaseOutcome::Fail,
        format!(
            "{} secrets found in {} files scanned: {}{skipped}",
            reported.len(),
            scan.files,
            named.join("; ")
        ),
        sent,
        got,
    )
}

fn allowlist_current(allowlist: Option<&Allowlist>, scan: &walk::Scan, sent: String) -> Case {
    let Some(allowlist) = allowlist else {
        return case(
            "allowlist-current",
            CaseOutcome::Pass,
            "no allowlist configured".to_string(),
            sent,
            String::new(),
        );
    };
    if scan.files == 0 {
        return case(
            "allowlist-current",
            CaseOutcome::Inconclusive,
            "inconclusive: no text file was scanned, so no allowlist entry can be matched"
                .to_string(),
            sent,
            String::new(),
        );
    }
    let stale: Vec<&AllowlistEntry> = allowlist
        .entries
        .iter()
        .filter(|entry| {
            !scan
                .findings
                .iter()
                .any(|finding| finding.fingerprint == entry.fingerprint)
        })
        .collect();
    if stale.is_empty() {
        return case(
            "allowlist-current",
            CaseOutcome::Pass,
            format!(
                "all {} entries of {} match a current finding",
                allowlist.entries.len(),
                allowlist.name
            ),
            sent,
            String::new(),
        );
    }
    let lines: Vec<String> = stale
        .iter()
        .map(|entry| {
            format!(
                "{}:{} {}{}",
                allowlist.name,
                entry.line,
                entry.fingerprint,
                entry
                    .reason
                    .as_ref()
                    .map(|reason| format!(" ({reason})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    case(
        "allowlist-current",
        CaseOutcome::Fail,
        format!(
            "{} of {} allowlist entries match no current finding; remove them: {}",
            stale.len(),
            allowlist.entries.len(),
            lines
                .iter()
                .take(MESSAGE_FINDINGS)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ),
        sent,
        lines.join("\n"),
    )
}

/// `path:line:column rule fingerprint snippet`.
fn describe(finding: &Finding) -> String {
    format!(
        "{}:{}:{} {} {} {}",
        finding.path,
        finding.line,
        finding.column,
        finding.rule,
        finding.fingerprint,
        finding.snippet
    )
}

fn case(name: &str, outcome: CaseOutcome, message: String, sent: String, got: String) -> Case {
    Case {
        name: name.to_string(),
        outcome,
        message,
        sent,
        got,
    }
}

/// Why the allowlist cannot be used: the `secrets` check is an ERROR.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    /// The file cannot be read.
    #[error("cannot read the allowlist {name}: {source}")]
    Read {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// A line is not a fingerprint (the line itself is never echoed: it may be a secret).
    #[error("{name}:{line}: expected a fingerprint (64 hex digits) and an optional `# reason`")]
    NotAFingerprint { name: String, line: usize },
}

crate::probe::into_probe_error!(AllowlistError, ScanError);

/// An allowlist file: one fingerprint per line, `#` comments, an optional `# reason` after it.
#[derive(Debug)]
struct Allowlist {
    /// The path as configured, for messages.
    name: String,
    entries: Vec<AllowlistEntry>,
}

#[derive(Debug, PartialEq, Eq)]
struct AllowlistEntry {
    line: usize,
    fingerprint: String,
    reason: Option<String>,
}

impl Allowlist {
    fn read(root: &Path, path: &Path) -> Result<Allowlist, AllowlistError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(root.join(path)).map_err(|source| AllowlistError::Read {
                name: name.clone(),
                source,
            })?;
        Allowlist::parse(name, &text)
    }

    fn parse(name: String, text: &str) -> Result<Allowlist, AllowlistError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let (content, reason) = match line.split_once('#') {
                Some((content, reason)) => (content.trim(), Some(reason.trim())),
                None => (line.trim(), None),
            };
            if content.is_empty() {
                continue;
            }
            if content.len() != 64 || !content.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                // Never echo the line: someone may have pasted the secret itself.
                return Err(AllowlistError::NotAFingerprint {
                    name,
                    line: index + 1,
                });
            }
            entries.push(AllowlistEntry {
                line: index + 1,
                fingerprint: content.to_ascii_lowercase(),
                reason: reason
                    .filter(|reason| !reason.is_empty())
                    .map(str::to_string),
            });
        }
        Ok(Allowlist { name, entries })
    }

    fn contains(&self, fingerprint: &str) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.fingerprint == fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<SecretsProbe, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        let mut config = Config::new(&table);
        let probe = SecretsProbe::configure(&mut config)?;
        config.finish()?;
        Ok(probe)
    }

    fn error(text: &str) -> String {
        configure(text)
            .err()
            .expect("a configuration error")
            .to_string()
    }

    #[test]
    fn defaults_scan_the_whole_root_with_every_rule() {
        let probe = configure("").unwrap();
        assert_eq!(probe.options, ScanOptions::default());
        assert_eq!(probe.allowlist, None);
        assert_eq!(
            probe.cases(),
            vec!["controls", "no-secrets", "allowlist-current"]
        );
    }

    #[test]
    fn every_key_is_read() {
        let probe = configure(
            "paths = [\"src\", \"config/*.toml\"]\nexclude = \"target/\"\nallowlist = \".relgate/secrets.allow\"\nmax_file_size = 4096\nrules = [\"jwt\", \"private-key\"]\nentropy = 4\n",
        )
        .unwrap();
        assert_eq!(probe.options.paths, vec!["src", "config/*.toml"]);
        assert_eq!(probe.options.exclude, vec!["target/"]);
        assert_eq!(probe.options.max_file_size, 4096);
        assert_eq!(
            probe.options.rules,
            Some(vec!["jwt".to_string(), "private-key".to_string()])
        );
        assert_eq!(probe.options.entropy, Some(4.0));
        assert_eq!(
            probe.allowlist,
            Some(PathBuf::from(".relgate/secrets.allow"))
        );
    }

    #[test]
    fn configuration_errors_are_exact() {
        for (text, expected) in [
            (
                "paths = []",
                "`paths`: give at least one path (the default is [\".\"])",
            ),
            (
                "paths = [\"../x\"]",
                "`paths`: `../x` leaves the gate root: give a path relative to it, without `..`",
            ),
            (
                "paths = [\"/etc\"]",
                "`paths`: `/etc` leaves the gate root: give a path relative to it, without `..`",
            ),
            (
                "exclude = [\"a/**/[b\"]",
                "`exclude`: invalid glob `a/**/[b`",
            ),
            ("allowlist = \"\"", "`allowlist`: an empty path"),
            ("max_file_size = 0", "`max_file_size`: 0 is out of range"),
            (
                "rules = []",
                "`rules`: enable at least one rule (or leave `rules` out for all: aws-access-key-id, ",
            ),
            (
                "rules = [\"aws\"]",
                "`rules`: unknown rule `aws` (expected one of aws-access-key-id, ",
            ),
            (
                "rules = [\"authorization-header\"]",
                "`rules`: unknown rule `authorization-header`",
            ),
            (
                "entropy = 9",
                "`entropy`: 9 is out of range: Shannon entropy per byte lies in (0, 8]; the default is 3.5",
            ),
            (
                "entropy = \"high\"",
                "`entropy`: expected a number, found string",
            ),
            ("path = \".\"", "`path`: unknown key `path`"),
        ] {
            let err = error(text);
            assert!(err.starts_with(expected), "{text}: {err}");
        }
    }

    #[test]
    fn allowlists_hold_fingerprints_comments_and_reasons() {
        let fingerprint = "ab".repeat(32);
        let text = format!(
            "# reviewed secrets\n\n{fingerprint}  # test key, not used anywhere\n{}\n",
            "CD".repeat(32)
        );
        let list = Allowlist::parse("allow".to_string(), &text).unwrap();
        assert_eq!(
            list.entries,
            vec![
                AllowlistEntry {
                    line: 3,
                    fingerprint: fingerprint.clone(),
                    reason: Some("test key, not used anywhere".to_string())
                },
                AllowlistEntry {
                    line: 4,
                    fingerprint: "cd".repeat(32),
                    reason: None
                },
            ]
        );
        assert!(list.contains(&fingerprint));
        let err = Allowlist::parse("allow".to_string(), "# ok\nhunter2-is-not-a-fingerprint\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "allow:2: expected a fingerprint (64 hex digits) and an optional `# reason`"
        );
    }

    #[test]
    fn the_controls_pass_and_a_too_high_entropy_makes_them_inconclusive() {
        let (controls, rules) = configure("").unwrap().controls();
        assert_eq!(controls.outcome, CaseOutcome::Pass, "{}", controls.message);
        assert!(rules.is_some());
        let (controls, rules) = configure("entropy = 7.5").unwrap().controls();
        assert_eq!(controls.outcome, CaseOutcome::Inconclusive);
        assert_eq!(
            controls.message,
            "positive control: rule generic-secret did not find its planted canary (is `entropy` set too high?)"
        );
        assert!(rules.is_none());
    }

    #[test]
    fn fingerprints_are_sha256_of_rule_path_and_secret() {
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"jwt:a/b.txt:s"));
        assert_eq!(walk::fingerprint("jwt", "a/b.txt", b"s"), expected);
    }
}
