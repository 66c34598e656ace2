//! Ids that look like secrets are refused. An id becomes a test name (`PACKET::check`,
//! `PACKET::check::case`, `PACKET::checklist::item`) that libtest prints as it is, outside the
//! redactor's reach; so a name the redactor would change (a secret rule matches it, or it holds
//! the value of a secret-looking `env` entry) is a gate-file error naming file, line and key,
//! and never the name itself.

use std::ops::Range;

use super::error::{SpecError, SpecErrorKind};
use super::model::CheckKind;
use super::validate::Context;

impl Context<'_> {
    /// Refuses `name` (an id or a test name made of ids) when redaction would change it.
    pub(super) fn refuse_secret_name(
        &self,
        span: Range<usize>,
        key: &str,
        name: &str,
    ) -> Result<(), SpecError> {
        if crate::output::redaction::redact(name) == name {
            return Ok(());
        }
        let mut error = self.error(
            span,
            key,
            SpecErrorKind::InvalidId,
            "this name looks like a secret (a secret rule matches it, or it holds the value of a secret `env` entry); it is not shown here",
        );
        error.hint = Some(
            "ids and checklist items become test names, which are printed unredacted: rename it"
                .to_string(),
        );
        Err(error)
    }
}

/// The case names of a check (a probe's), empty for other kinds.
pub(super) fn kind_cases(kind: &CheckKind) -> &[String] {
    match kind {
        CheckKind::Probe(probe) => &probe.cases,
        _ => &[],
    }
}

/// The test name of a checklist item (as [`super::Packet::checklist_name`] makes it).
pub(super) fn packet_checklist_name(packet: &str, slug: &str) -> String {
    format!("{packet}::checklist::{slug}")
}
