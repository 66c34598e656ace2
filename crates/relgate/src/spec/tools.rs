//! `[[tool]]` tables, and the `tools = [...]` of checks and services that name them.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::error::{nearest, SpecError, SpecErrorKind};
use super::model::{Packet, Service, Tool};
use super::raw::{RawPacket, RawService, RawTool};
use super::validate::Context;

/// How long a tool's `install` may run unless its `timeout` says otherwise.
pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Context<'_> {
    /// Validates every `[[tool]]`, in file order.
    pub(super) fn tools(&self, raw: &[Spanned<RawTool>]) -> Result<Vec<Tool>, SpecError> {
        let mut spans: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        let mut tools = Vec::with_capacity(raw.len());
        for table in raw {
            let tool = table.get_ref();
            let name = tool.name.get_ref();
            if !valid_name(name) {
                let mut error = self.error(
                    tool.name.span(),
                    "tool.name",
                    SpecErrorKind::InvalidId,
                    format!("invalid tool name `{name}`"),
                );
                error.hint = Some(
                    "tool names are lowercase letters, digits, `.`, `_`, `+` and `-`, starting with a letter or digit"
                        .to_string(),
                );
                return Err(error);
            }
            self.refuse_long_id(&tool.name, "tool.name", "tool names")?;
            if let Some(first) = spans.get(name.as_str()) {
                let (line, _) = self.locator.line_column(first.start);
                return Err(self.error(
                    tool.name.span(),
                    "tool.name",
                    SpecErrorKind::DuplicateId,
                    format!("duplicate tool name `{name}` (first defined on line {line})"),
                ));
            }
            spans.insert(name, tool.name.span());
            let probe = self.shell_text(&tool.probe, "tool.probe")?;
            let install = match &tool.install {
                Some(install) => Some(self.shell_text(install, "tool.install")?),
                None => None,
            };
            let timeout = match &tool.timeout {
                Some(timeout) => self.timeout(timeout, "tool.timeout")?,
                None => DEFAULT_INSTALL_TIMEOUT,
            };
            let (line, _) = self.locator.line_column(table.span().start);
            tools.push(Tool {
                name: name.clone(),
                probe,
                install,
                timeout,
                line,
            });
        }
        Ok(tools)
    }

    /// Fills in the tools each service and check needs: a check needs its own and those of
    /// the services it needs, in the order of the `[[tool]]` tables.
    pub(super) fn tool_needs(
        &self,
        (raw_services, raw_packets): (&[Spanned<RawService>], &[Spanned<RawPacket>]),
        tools: &[Tool],
        services: &mut [Service],
        packets: &mut [Packet],
    ) -> Result<(), SpecError> {
        let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_str()).collect();
        for raw_service in raw_services {
            let raw_service = raw_service.get_ref();
            let wanted = self.named_tools(raw_service.tools.as_deref(), &names, "service.tools")?;
            if let Some(service) = services
                .iter_mut()
                .find(|service| &service.name == raw_service.name.get_ref())
            {
                service.tools = in_declaration_order(tools, &wanted);
            }
        }
        let by_service: BTreeMap<&str, &[String]> = services
            .iter()
            .map(|service| (service.name.as_str(), service.tools.as_slice()))
            .collect();
        for (raw_packet, packet) in raw_packets.iter().zip(packets.iter_mut()) {
            for (raw_check, check) in raw_packet.get_ref().checks.iter().zip(&mut packet.checks) {
                let mut wanted = self.named_tools(
                    raw_check.get_ref().tools.as_deref(),
                    &names,
                    "packet.check.tools",
                )?;
                for service in &check.services {
                    wanted.extend(
                        by_service
                            .get(service.as_str())
                            .copied()
                            .unwrap_or_default()
                            .iter()
                            .cloned(),
                    );
                }
                check.tools = in_declaration_order(tools, &wanted);
            }
        }
        Ok(())
    }

    fn named_tools(
        &self,
        listed: Option<&[Spanned<String>]>,
        names: &[&str],
        key: &str,
    ) -> Result<BTreeSet<String>, SpecError> {
        let mut wanted = BTreeSet::new();
        for name in listed.unwrap_or_default() {
            if !names.contains(&name.get_ref().as_str()) {
                let mut error = self.error(
                    name.span(),
                    key,
                    SpecErrorKind::UnknownTool,
                    format!("unknown tool `{}`", name.get_ref()),
                );
                error.hint = match nearest(name.get_ref(), names) {
                    Some(known) => Some(format!("did you mean `{known}`?")),
                    None => Some(
                        "declare it in a [[tool]] table with its probe and install commands"
                            .to_string(),
                    ),
                };
                return Err(error);
            }
            wanted.insert(name.get_ref().clone());
        }
        Ok(wanted)
    }

    fn shell_text(&self, text: &Spanned<String>, key: &str) -> Result<String, SpecError> {
        if text.get_ref().trim().is_empty() {
            return Err(self.error(
                text.span(),
                key,
                SpecErrorKind::EmptyCommand,
                format!("`{key}` is empty"),
            ));
        }
        Ok(text.get_ref().clone())
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._+-".contains(c))
}

fn in_declaration_order(tools: &[Tool], wanted: &BTreeSet<String>) -> Vec<String> {
    tools
        .iter()
        .filter(|tool| wanted.contains(&tool.name))
        .map(|tool| tool.name.clone())
        .collect()
}
