//! The gate file's own text through the redactor: its secret `env` values registered as known
//! secrets, and a copy of the gate with every text reports show redacted, so that every form
//! a report derives from that text (a heading's anchor, a mermaid label, a truncated title) is
//! derived from redacted text.

use super::{CheckKind, CommandSpec, Gate, Satisfaction, ServiceKind};
use crate::output::redaction::{is_secret_name, redact, register_secret};

/// Registers the value of every `env` entry of the gate's checks and services whose name
/// looks secret ([`is_secret_name`]), so it is masked wherever it shows up. Values that are
/// only a `${…}` reference are left out (the referenced URL's password is redacted anyway).
/// Returns whether any value was registered.
pub fn register_gate_secrets(gate: &Gate) -> bool {
    let mut envs = Vec::new();
    for check in gate.checks() {
        match &check.kind {
            CheckKind::Command(command) => envs.push(&command.env),
            CheckKind::Scan(scan) => envs.push(&scan.command.env),
            CheckKind::Grep(_) | CheckKind::Probe(_) => {}
        }
    }
    for service in &gate.services {
        if let ServiceKind::Process(process) = &service.kind {
            envs.push(&process.env);
        }
    }
    let mut registered = false;
    for (name, value) in envs.into_iter().flatten() {
        if is_secret_name(name) && !value.contains("${") {
            register_secret(value);
            registered = true;
        }
    }
    registered
}

/// A copy of `gate` whose texts (name, plan link, titles, people, checklist items, commands,
/// acceptance owners and reasons, service commands and URLs) are redacted. Ids are left as
/// they are: the gate file refuses any that redaction would change, so names still match the
/// ledger's. For rendering only: commands are run from the original.
pub fn redacted_gate(gate: &Gate) -> Gate {
    let text = |value: &mut String| {
        if let std::borrow::Cow::Owned(redacted) = redact(value) {
            *value = redacted;
        }
    };
    let command = |command: &mut CommandSpec| {
        text(&mut command.display);
        command.argv.iter_mut().for_each(text);
        command.env.values_mut().for_each(text);
    };
    let mut gate = gate.clone();
    text(&mut gate.name);
    gate.plan_link.iter_mut().for_each(text);
    for packet in &mut gate.packets {
        text(&mut packet.title);
        packet.implementer.iter_mut().for_each(text);
        packet.reviewer.iter_mut().for_each(text);
        for check in &mut packet.checks {
            match &mut check.kind {
                CheckKind::Command(spec) => command(spec),
                CheckKind::Scan(scan) => command(&mut scan.command),
                CheckKind::Grep(grep) => grep.files.iter_mut().for_each(text),
                CheckKind::Probe(probe) => redact_toml(&mut probe.config),
            }
        }
        for item in &mut packet.checklist {
            text(&mut item.text);
            if let Satisfaction::Attested { by, .. } = &mut item.satisfied_by {
                text(by);
            }
        }
    }
    for acceptance in &mut gate.accepts {
        text(&mut acceptance.owner);
        text(&mut acceptance.reason);
    }
    for service in &mut gate.services {
        match &mut service.kind {
            ServiceKind::PostgresServer { url, .. } => text(url),
            ServiceKind::Process(process) => {
                text(&mut process.display);
                process.argv.iter_mut().for_each(text);
                process.env.values_mut().for_each(text);
            }
            ServiceKind::PostgresEphemeral => {}
        }
    }
    gate
}

/// Redacts every string of a TOML table (a probe's keys) in place.
fn redact_toml(table: &mut toml::Table) {
    fn value(item: &mut toml::Value) {
        match item {
            toml::Value::String(text) => {
                if let std::borrow::Cow::Owned(redacted) = redact(text) {
                    *text = redacted;
                }
            }
            toml::Value::Array(items) => items.iter_mut().for_each(value),
            toml::Value::Table(table) => table.iter_mut().for_each(|(_, item)| value(item)),
            _ => {}
        }
    }
    table.iter_mut().for_each(|(_, item)| value(item));
}
