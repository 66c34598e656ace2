//! `[[accept]]`: a risk acceptance of a check or a finding, complete and naming something real.

use std::collections::HashMap;

use toml::Spanned;

use super::error::{nearest, shorten, SpecError, SpecErrorKind};
use super::model::*;
use super::raw::*;
use super::validate::Context;
use crate::model::clock::parse_date;

impl Context<'_> {
    pub(super) fn acceptance(
        &self,
        raw_accept: &Spanned<RawAccept>,
        packets: &[Packet],
        by_id: &HashMap<&str, &Packet>,
    ) -> Result<Acceptance, SpecError> {
        let raw = raw_accept.get_ref();
        let span = raw_accept.span();
        let (line, _) = self.locator.line_column(span.start);
        let target = match (&raw.check, &raw.finding) {
            (Some(check), None) => {
                let name = check.get_ref().trim();
                let exists = name.split_once("::").is_some_and(|(packet, id)| {
                    by_id
                        .get(packet)
                        .is_some_and(|candidate| candidate.check(id).is_some())
                });
                if !exists {
                    let names: Vec<String> = packets
                        .iter()
                        .flat_map(|packet| packet.checks.iter().map(Check::name))
                        .collect();
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    let mut error = self.error(
                        check.span(),
                        "accept.check",
                        SpecErrorKind::InvalidAcceptance,
                        format!(
                            "acceptance names unknown check `{}` (write PACKET::check)",
                            shorten(name)
                        ),
                    );
                    error.hint = nearest(name, &refs).map(|meant| format!("did you mean `{meant}`?"));
                    return Err(error);
                }
                AcceptTarget::Check(name.to_string())
            }
            (None, Some(finding)) if !finding.get_ref().trim().is_empty() => {
                AcceptTarget::Finding(finding.get_ref().trim().to_string())
            }
            _ => {
                return Err(self.error(
                    span,
                    "accept",
                    SpecErrorKind::InvalidAcceptance,
                    "an acceptance needs exactly one of `check = \"PACKET::check\"` or `finding = \"…\"`",
                ))
            }
        };
        let required = |value: &Option<Spanned<String>>, key: &str| -> Result<String, SpecError> {
            match value {
                Some(value) if !value.get_ref().trim().is_empty() => {
                    Ok(value.get_ref().trim().to_string())
                }
                Some(value) => Err(self.error(
                    value.span(),
                    &format!("accept.{key}"),
                    SpecErrorKind::InvalidAcceptance,
                    format!("acceptance of {} has an empty `{key}`", target.describe()),
                )),
                None => {
                    let mut error = self.error(
                        span.clone(),
                        &format!("accept.{key}"),
                        SpecErrorKind::InvalidAcceptance,
                        format!("acceptance of {} has no `{key}`", target.describe()),
                    );
                    error.hint =
                        Some("a risk acceptance needs owner, until and reason".to_string());
                    Err(error)
                }
            }
        };
        let owner = required(&raw.owner, "owner")?;
        let reason = required(&raw.reason, "reason")?;
        let until = match &raw.until {
            Some(until) => parse_date(&until.get_ref().0).ok_or_else(|| {
                self.error(
                    until.span(),
                    "accept.until",
                    SpecErrorKind::InvalidAcceptance,
                    format!("invalid date `{}` (use YYYY-MM-DD)", until.get_ref().0),
                )
            })?,
            None => {
                let mut error = self.error(
                    span.clone(),
                    "accept.until",
                    SpecErrorKind::InvalidAcceptance,
                    format!("acceptance of {} has no `until`", target.describe()),
                );
                error.hint = Some("a risk acceptance needs owner, until and reason".to_string());
                return Err(error);
            }
        };
        Ok(Acceptance {
            target,
            owner,
            until,
            reason,
            line,
        })
    }
}
