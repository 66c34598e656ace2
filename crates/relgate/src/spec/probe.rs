//! `probe = "…"` checks: the engine's own keys stay with the check, every other key is the
//! probe's, checked by the probe itself (relgate-probes) and mapped back to a line and column.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::error::{nearest, SpecError, SpecErrorKind};
use super::model::ProbeSpec;
use super::raw::{RawCheck, CHECK_KEYS};
use super::validate::Context;
use relgate_probes::{ConfigError, ConfigErrorKind};

/// Keys of a check that only a `run` check may use.
const RUN_ONLY: &[&str] = &["cwd", "env", "expect", "allow_destructive", "leak_timeout"];

impl Context<'_> {
    /// The span of `key` in the check whose id is at `id_span`; the id when it cannot be found.
    pub(super) fn key_span(&self, id_span: &Range<usize>, key: &str) -> Range<usize> {
        self.locator
            .key_offset(id_span.start, key)
            .map_or_else(|| id_span.clone(), |offset| offset..offset + key.len())
    }

    /// A check that is not a probe may not carry keys of its own.
    pub(super) fn refuse_probe_keys(&self, raw: &RawCheck) -> Result<(), SpecError> {
        let Some(key) = raw.rest.keys().next() else {
            return Ok(());
        };
        // A key may be megabytes long: it is found in full, and shown shortened.
        let span = self.key_span(&raw.id.span(), key);
        let key = super::error::shorten(key);
        let mut error = self.error(
            span,
            &format!("packet.check.{key}"),
            SpecErrorKind::UnknownKey,
            format!("unknown key `{key}`"),
        );
        error.hint = Some(match nearest(&key, CHECK_KEYS) {
            Some(meant) => format!("did you mean `{meant}`?"),
            None => format!(
                "valid keys here: {}; a probe check (`probe = \"…\"`) takes the probe's own keys",
                CHECK_KEYS.join(", ")
            ),
        });
        Err(error)
    }

    /// Validates a probe check's keys with the probe and returns its spec.
    pub(super) fn probe(
        &self,
        raw: &RawCheck,
        probe: &Spanned<String>,
        check: &str,
        root: &Path,
    ) -> Result<ProbeSpec, SpecError> {
        if let Some(run) = &raw.run {
            return Err(self.error(
                run.span(),
                "packet.check.run",
                SpecErrorKind::InvalidValue,
                format!("check {check} has both `probe` and `run`; give each its own check"),
            ));
        }
        if let Some(scan) = &raw.scan {
            return Err(self.error(
                scan.span(),
                "packet.check.scan",
                SpecErrorKind::InvalidValue,
                format!("check {check} has both `probe` and `scan`; give each its own check"),
            ));
        }
        if let Some(grep) = &raw.grep {
            return Err(self.error(
                grep.span(),
                "packet.check.grep",
                SpecErrorKind::InvalidValue,
                format!("check {check} has both `probe` and `grep`; give each its own check"),
            ));
        }
        let present = [
            raw.cwd.is_some(),
            !raw.env.is_empty(),
            raw.expect.is_some(),
            raw.allow_destructive.is_some(),
            raw.leak_timeout.is_some(),
        ];
        if let Some((key, _)) = RUN_ONLY.iter().zip(present).find(|(_, set)| *set) {
            return Err(self.error(
                self.key_span(&raw.id.span(), key),
                &format!("packet.check.{key}"),
                SpecErrorKind::InvalidValue,
                format!(
                    "`{key}` applies to `run` checks, not to probe `{}`",
                    probe.get_ref()
                ),
            ));
        }
        let kind = probe.get_ref().clone();
        let cases = relgate_probes::configure(&kind, &raw.rest)
            .map_err(|err| self.probe_error(raw, probe, err))?;
        Ok(ProbeSpec {
            kind,
            config: raw.rest.clone(),
            cases,
            root: root.to_path_buf(),
        })
    }

    fn probe_error(&self, raw: &RawCheck, probe: &Spanned<String>, err: ConfigError) -> SpecError {
        // A required key reported missing while a near spelling of it is present: the typo is
        // the error worth reporting.
        if matches!(err.kind, ConfigErrorKind::MissingKey) && !err.key.contains(['.', '[']) {
            let present: Vec<&str> = raw
                .rest
                .keys()
                .map(String::as_str)
                .filter(|key| *key != err.key)
                .collect();
            if let Some(typo) = nearest(&err.key, &present) {
                let mut error = self.error(
                    self.key_span(&raw.id.span(), typo),
                    &format!("packet.check.{typo}"),
                    SpecErrorKind::UnknownKey,
                    format!("unknown key `{typo}` for probe `{}`", probe.get_ref()),
                );
                error.hint = Some(format!("did you mean `{}`?", err.key));
                return error;
            }
        }
        let top = err
            .key
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_string();
        let last = err.key.rsplit('.').next().unwrap_or_default().to_string();
        let span = if top.is_empty() {
            probe.span()
        } else if matches!(err.kind, ConfigErrorKind::MissingKey) && !raw.rest.contains_key(&top) {
            raw.id.span()
        } else {
            self.key_span(&raw.id.span(), &top)
        };
        let key = if err.key.is_empty() {
            "packet.check.probe".to_string()
        } else {
            format!("packet.check.{}", err.key)
        };
        let (kind, message, hint) = match &err.kind {
            ConfigErrorKind::UnknownKey { known } => (
                SpecErrorKind::UnknownKey,
                format!("unknown key `{last}` for probe `{}`", probe.get_ref()),
                Some(match nearest(&last, known) {
                    Some(meant) => format!("did you mean `{meant}`?"),
                    None => format!("valid keys here: {}", known.join(", ")),
                }),
            ),
            ConfigErrorKind::MissingKey => (
                SpecErrorKind::MissingKey,
                format!(
                    "probe `{}` needs `{}`",
                    probe.get_ref(),
                    if err.key.is_empty() {
                        "more keys"
                    } else {
                        &err.key
                    }
                ),
                None,
            ),
            ConfigErrorKind::InvalidValue => (SpecErrorKind::InvalidValue, err.to_string(), None),
            ConfigErrorKind::UnknownProbe { known } => (
                SpecErrorKind::InvalidValue,
                format!("unknown probe `{}`", probe.get_ref()),
                Some(match nearest(probe.get_ref(), known) {
                    Some(meant) => format!("did you mean `{meant}`?"),
                    None => format!("probes: {}", known.join(", ")),
                }),
            ),
        };
        let mut error = self.error(span, &key, kind, message);
        error.hint = hint;
        error
    }
}

/// Every string in a probe's keys, with the dotted key it is under.
pub(crate) fn strings(table: &toml::Table) -> Vec<(String, &str)> {
    fn walk<'t>(path: String, value: &'t toml::Value, out: &mut Vec<(String, &'t str)>) {
        match value {
            toml::Value::String(text) => out.push((path, text)),
            toml::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(format!("{path}[{index}]"), item, out);
                }
            }
            toml::Value::Table(table) => {
                for (key, item) in table {
                    walk(format!("{path}.{key}"), item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in table {
        walk(key.clone(), value, &mut out);
    }
    out
}

/// A copy of `table` with `f` applied to every string.
pub fn map_strings(table: &toml::Table, f: &dyn Fn(&str) -> String) -> toml::Table {
    fn map(value: &toml::Value, f: &dyn Fn(&str) -> String) -> toml::Value {
        match value {
            toml::Value::String(text) => toml::Value::String(f(text)),
            toml::Value::Array(items) => {
                toml::Value::Array(items.iter().map(|item| map(item, f)).collect())
            }
            toml::Value::Table(table) => toml::Value::Table(map_strings(table, f)),
            other => other.clone(),
        }
    }
    table
        .iter()
        .map(|(key, value)| (key.clone(), map(value, f)))
        .collect()
}
