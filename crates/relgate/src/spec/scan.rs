//! `scan = { run = "… {report} …", format = "…", overrides = { … } }` checks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Spanned;

use super::error::{nearest, SpecError, SpecErrorKind};
use super::model::{CommandSpec, ScanSpec};
use super::raw::{RawCheck, RawScan};
use super::validate::Context;
use crate::model::Severity;
use crate::scan::{Format, Overrides};

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
