//! `scan = { run = "… {report} …", format = "…", overrides = { … } }` checks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Spanned;

use super::error::{nearest, SpecError, SpecErrorKind};
use super::model::{CommandSpec, ScanSpec};
use super::raw::{RawCheck, RawScan};
use super::validate::Context;
use crate::model::Severity;

/// A scanner report format relgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// SARIF 2.1.0 from any tool (semgrep, CodeQL, ESLint, gosec, gitleaks …).
    Sarif,
    /// `npm audit --json` (npm 7–11, auditReportVersion 2; npm 6's `advisories` shape too).
    NpmAudit,
    /// `cargo audit --json`.
    CargoAudit,
    /// gitleaks v8 JSON report (`--report-format json`).
    Gitleaks,
}

impl Format {
    /// Every format, in the order of the enum.
    pub const ALL: [Format; 4] = [
        Format::Sarif,
        Format::NpmAudit,
        Format::CargoAudit,
        Format::Gitleaks,
    ];

    /// The format named `name` as written in `packets.toml` (`"sarif"`, `"npm-audit"`,
    /// `"cargo-audit"`, `"gitleaks"`).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.name() == name)
    }

    /// The name used in `packets.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Sarif => "sarif",
            Format::NpmAudit => "npm-audit",
            Format::CargoAudit => "cargo-audit",
            Format::Gitleaks => "gitleaks",
        }
    }

    /// The file extension of a stored report: `"sarif"` or `"json"`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Sarif => "sarif",
            Format::NpmAudit | Format::CargoAudit | Format::Gitleaks => "json",
        }
    }
}

/// Severity overrides: key (finding id, rule or scanner severity, case-insensitive) → severity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides(pub BTreeMap<String, Severity>);

impl Overrides {
    /// No overrides: the defaults stand.
    pub fn none() -> Overrides {
        Overrides::default()
    }

    /// The override for `key` (a finding's id, rule or scanner severity), ignoring case.
    pub fn get(&self, key: &str) -> Option<Severity> {
        self.0
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, severity)| *severity)
    }
}

/// Where the gate puts the report path in a scanner's command.
pub const REPORT_PLACEHOLDER: &str = "{report}";
/// Where the gate puts the advisory database directory (`RELGATE_ADVISORY_DB`).
pub const ADVISORY_DB_PLACEHOLDER: &str = "{advisory_db}";

impl Context<'_> {
    pub(super) fn scan(
        &self,
        raw: &RawCheck,
        scan: &Spanned<RawScan>,
        cwd: PathBuf,
    ) -> Result<ScanSpec, SpecError> {
        let scan = scan.get_ref();
        if let Some(expect) = &raw.expect {
            let mut error = self.error(
                expect.exit.span(),
                "packet.check.expect",
                SpecErrorKind::InvalidValue,
                "`expect.exit` does not apply to a scan: its report decides, not its exit code",
            );
            error.hint = Some(
                "remove `expect`; findings are triaged by severity and [[accept]]".to_string(),
            );
            return Err(error);
        }
        let format_name = scan.format.get_ref();
        let names: Vec<&str> = Format::ALL.iter().map(|format| format.name()).collect();
        let Some(format) = Format::from_name(format_name) else {
            let mut error = self.error(
                scan.format.span(),
                "packet.check.scan.format",
                SpecErrorKind::InvalidValue,
                format!("unknown report format `{format_name}`"),
            );
            error.hint = Some(match nearest(format_name, &names) {
                Some(meant) => format!("did you mean `{meant}`?"),
                None => format!("formats: {}", names.join(", ")),
            });
            return Err(error);
        };
        let (argv, display) = self.command_line(
            &scan.run,
            raw.allow_destructive.as_ref(),
            "packet.check.scan.run",
        )?;
        if !argv.iter().any(|arg| arg.contains(REPORT_PLACEHOLDER)) {
            let mut error = self.error(
                scan.run.span(),
                "packet.check.scan.run",
                SpecErrorKind::InvalidValue,
                "the scanner must write its report to `{report}`: an exit code alone is not evidence",
            );
            error.hint = Some(
                "e.g. `cargo audit --json > {report}` or `semgrep --sarif --output {report}`"
                    .to_string(),
            );
            return Err(error);
        }
        let mut overrides = BTreeMap::new();
        for (key, value) in &scan.overrides {
            let severity = match value.get_ref().as_str() {
                "P0" => Severity::P0,
                "P1" => Severity::P1,
                "P2" => Severity::P2,
                other => {
                    return Err(self.error(
                        value.span(),
                        &format!("packet.check.scan.overrides.{key}"),
                        SpecErrorKind::InvalidValue,
                        format!("severity is P0, P1 or P2, not `{other}`"),
                    ))
                }
            };
            overrides.insert(key.clone(), severity);
        }
        Ok(ScanSpec {
            command: CommandSpec {
                argv,
                display,
                cwd,
                env: raw.env_strings(),
                expect_exit: vec![0],
            },
            format,
            overrides: Overrides(overrides),
        })
    }
}
