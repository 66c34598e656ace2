//! The one input every report writer renders from, built once per run by [`super::finish`]:
//! the gate (titles, checklist texts, dependencies, people, commands as written), the run's
//! ledger (every fact), the out directory (where the logs the ledger names are, for their
//! tails) and, when the run's verdict is at hand, its triage of each check (JUnit shows why a
//! failure does not block). Each packet of the gate is matched with its records here, once, so
//! that the writers agree on what belongs where; a record no packet claims is kept apart, never
//! dropped. Also here: the few renderings more than one writer shows (a command line, a
//! duration, the commit, a residual risk).

use std::collections::BTreeMap;
use std::path::Path;

use crate::evidence::{
    CheckRecord, Ledger, PacketRecord, PacketStatus, ResidualRisk, RunHeader, VerdictRecord,
};
use crate::spec::{Check, Gate, Packet};
use crate::verdict::Triage;

/// No triage: a view built from a ledger alone.
static NO_TRIAGE: BTreeMap<String, Triage> = BTreeMap::new();

/// What the report writers render: see the module documentation.
pub struct ReportView<'a> {
    /// The gate, as reports show it (redacted by [`super::finish`]).
    pub gate: &'a Gate,
    /// The run's ledger: every fact a report states comes from it.
    pub ledger: &'a Ledger,
    /// The out directory, where the logs the ledger names are.
    pub out_dir: &'a Path,
    /// The verdict's triage of each check by test-case name; empty when the view is built from
    /// a ledger alone (only JUnit reads it).
    pub triage: &'a BTreeMap<String, Triage>,
    /// Each packet of the gate with its records, in gate order.
    pub packets: Vec<PacketView<'a>>,
    /// Records no check or checklist item of the gate names, in ledger order.
    pub unclaimed: Vec<&'a CheckRecord>,
}

impl<'a> ReportView<'a> {
    /// The view of `ledger` under `gate`, its logs in `out_dir`, without triage.
    pub fn new(gate: &'a Gate, ledger: &'a Ledger, out_dir: &'a Path) -> ReportView<'a> {
        let (packets, unclaimed) = claim_all(gate, ledger);
        ReportView {
            gate,
            ledger,
            out_dir,
            triage: &NO_TRIAGE,
            packets,
            unclaimed,
        }
    }

    /// The same view with the verdict's triage (`Verdict::triage`).
    pub fn with_triage(mut self, triage: &'a BTreeMap<String, Triage>) -> ReportView<'a> {
        self.triage = triage;
        self
    }

    /// The run header, if the ledger has one.
    pub fn header(&self) -> Option<&'a RunHeader> {
        self.ledger.header()
    }

    /// The verdict record, if the ledger has one.
    pub fn verdict(&self) -> Option<&'a VerdictRecord> {
        self.ledger.verdict()
    }

    /// The ids of the FLAKY checks a checklist item (by its test-case name) rests on; empty
    /// for anything else.
    pub fn flaky_checks_of_item(&self, name: &str) -> Vec<String> {
        self.packets
            .iter()
            .flat_map(|section| {
                section
                    .packet
                    .checklist
                    .iter()
                    .filter(|item| section.packet.checklist_name(item) == name)
                    .flat_map(|item| flaky_checks_of(section, &item.satisfied_by))
            })
            .collect()
    }

    /// The packet record of `id`, if the ledger has one.
    pub fn packet_record(&self, id: &str) -> Option<&'a PacketRecord> {
        self.ledger.packets().find(|record| record.packet == id)
    }
}

/// Each packet of the gate with its evidence, and the records no packet claims.
fn claim_all<'a>(
    gate: &'a Gate,
    ledger: &'a Ledger,
) -> (Vec<PacketView<'a>>, Vec<&'a CheckRecord>) {
    let mut unclaimed: Vec<&CheckRecord> = ledger.checks().collect();
    let sections = gate
        .packets
        .iter()
        .map(|packet| PacketView::claim(packet, ledger, &mut unclaimed))
        .collect();
    (sections, unclaimed)
}

/// One packet of the gate with its evidence.
pub struct PacketView<'a> {
    /// The packet as the gate declares it.
    pub packet: &'a Packet,
    /// Its packet record in the ledger.
    pub record: Option<&'a PacketRecord>,
    /// Each check of the packet with its record, in gate order.
    pub checks: Vec<(&'a Check, Option<&'a CheckRecord>)>,
    /// Each checklist item's record, in gate order.
    pub items: Vec<Option<&'a CheckRecord>>,
}

impl<'a> PacketView<'a> {
    /// The packet with its records, taken out of `unclaimed` (records no packet claims are
    /// left there, to be shown apart).
    pub fn claim(
        packet: &'a Packet,
        ledger: &'a Ledger,
        unclaimed: &mut Vec<&'a CheckRecord>,
    ) -> PacketView<'a> {
        let mut take = |name: String| {
            let position = unclaimed.iter().position(|record| record.name == name)?;
            Some(unclaimed.remove(position))
        };
        let checks = packet
            .checks
            .iter()
            .map(|check| (check, take(check.name())))
            .collect();
        let items = packet
            .checklist
            .iter()
            .map(|item| take(packet.checklist_name(item)))
            .collect();
        PacketView {
            packet,
            record: ledger.packets().find(|record| record.packet == packet.id),
            checks,
            items,
        }
    }

    /// The packet's status, if the ledger has its record.
    pub fn status(&self) -> Option<PacketStatus> {
        self.record.map(|record| record.status)
    }
}

/// How a residual risk is worded: the terminal summary and the tracker's review record say it
/// differently (both are pinned by tests), from one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskWording {
    /// `residual risk: CHECK (P1, accepted) owner dana until 2099-12-31: reason`
    Summary,
    /// `CHECK P1 accepted: owner dana, until 2099-12-31: reason`
    ReviewRecord,
}

/// One line for a residual risk, without list marker or indentation.
pub fn residual_risk_line(risk: &ResidualRisk, wording: RiskWording) -> String {
    let severity = risk.severity.as_str();
    match wording {
        RiskWording::Summary => format!(
            "residual risk: {} ({severity}, {}) owner {} until {}: {}",
            risk.check,
            risk.state,
            risk.owner.as_deref().unwrap_or("unassigned"),
            risk.until.as_deref().unwrap_or("-"),
            risk.reason
        ),
        RiskWording::ReviewRecord => format!(
            "{} {severity} {}: owner {}, until {}: {}",
            risk.check,
            risk.state,
            risk.owner.as_deref().unwrap_or("no owner"),
            risk.until.as_deref().unwrap_or("no date"),
            risk.reason
        ),
    }
}

/// The run's commit shown with `code` (Markdown or HTML), `(dirty tree)` when the tree had
/// changes.
pub fn commit_with(header: &RunHeader, code: fn(&str) -> String) -> String {
    let mut text = match &header.git_head {
        Some(head) => code(head),
        None => "none (not a git checkout)".to_string(),
    };
    if header.git_dirty == Some(true) {
        text.push_str(" (dirty tree)");
    }
    text
}

/// The command as it ran: for `sh -c X`, X; otherwise the words, quoted where needed.
pub fn command_line(argv: &[String]) -> String {
    if let [shell, flag, script] = argv {
        if shell == "sh" && flag == "-c" {
            return script.clone();
        }
    }
    argv.iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What one attempt came to, briefly: `exit 1` for a command that exited, else its message
/// (`timed out after 2s`, `3 matching lines …`), else its outcome.
pub fn attempt_result(record: &CheckRecord) -> String {
    match record.exit_code {
        Some(code) if !record.timed_out => format!("exit {code}"),
        _ if !record.message.trim().is_empty() => record.message.clone(),
        _ => record.outcome.label().to_string(),
    }
}

/// Where an attempt ran, as a suffix: ` (shard slice:2/3)` in a sharded run, else nothing.
pub fn shard_suffix(record: &CheckRecord) -> String {
    record
        .shard
        .as_deref()
        .map_or_else(String::new, |shard| format!(" (shard {shard})"))
}

/// A check that ran more than once, in one line: `attempt 2 of 2; attempt 1: exit 1` (each
/// earlier attempt, oldest first, with its shard when it has one); `None` for a check that ran
/// once. The tracker, the HTML page and SARIF show it beside the last attempt's result.
pub fn attempts_line(record: &CheckRecord) -> Option<String> {
    if record.attempts.is_empty() {
        return None;
    }
    let count = record.attempt_count();
    let mut parts = vec![format!("attempt {count} of {count}")];
    parts.extend(record.attempts.iter().enumerate().map(|(index, attempt)| {
        format!(
            "attempt {}{}: {}",
            index + 1,
            shard_suffix(attempt),
            attempt_result(attempt)
        )
    }));
    Some(parts.join("; "))
}

/// The checks of `packet` named by a checklist item that passed only after failing (FLAKY):
/// the item holds, but on a flaky check, which its text says.
pub fn flaky_checks_of(
    section: &PacketView<'_>,
    satisfied_by: &crate::spec::Satisfaction,
) -> Vec<String> {
    let crate::spec::Satisfaction::Checks(ids) = satisfied_by else {
        return Vec::new();
    };
    section
        .checks
        .iter()
        .filter(|(check, record)| {
            ids.contains(&check.id) && record.is_some_and(CheckRecord::is_flaky)
        })
        .map(|(check, _)| check.id.clone())
        .collect()
}

/// `850ms`, `12.3s`.
pub fn duration(ms: u64) -> String {
    crate::model::clock::human_duration(std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_show_the_script_of_sh_c() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(command_line(&argv(&["sh", "-c", "a && b"])), "a && b");
        assert_eq!(
            command_line(&argv(&["cargo", "test", "-p", "x y"])),
            "cargo test -p 'x y'"
        );
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(850), "850ms");
    }
}
