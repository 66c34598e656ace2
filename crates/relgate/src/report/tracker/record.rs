//! The tracker's review record of a packet, the seed's fenced block: commands run and their
//! exit codes, review gates, the packet's verdict, its signed review, the commit and residual
//! risks. Inside the fence nothing is escaped (a code block shows its text as it is); the
//! fence is longer than any backtick run of the body.

use super::super::markdown::{fence_for, inline, text, Anchors};
use super::super::view::{residual_risk_line, PacketView, RiskWording};
use super::{check_title, commit, result_text};
use crate::evidence::{Ledger, ResidualRisk};

/// Appends the packet's `### … Review Record` (its heading's anchor taken from `anchors`).
pub(super) fn review_record(
    out: &mut String,
    section: &PacketView<'_>,
    ledger: &Ledger,
    anchors: &mut Anchors,
) {
    let mut lines = vec!["Commands run + exit codes:".to_string()];
    if section.checks.is_empty() {
        lines.push("- None".to_string());
    }
    for (index, (check, record)) in section.checks.iter().enumerate() {
        lines.push(format!(
            "{}. {} -> {}",
            index + 1,
            check_title(check, *record),
            match record {
                Some(record) if record.is_flaky() => {
                    format!("{} — FLAKY", result_text(check, record))
                }
                Some(record) => result_text(check, record),
                None => "no record in this run".to_string(),
            }
        ));
    }
    lines.push(String::new());
    lines.push("Gate checklist:".to_string());
    match section.record {
        Some(record) => lines.extend(
            record
                .gates
                .iter()
                .map(|(severity, result)| format!("- {}: {}", severity.as_str(), result.label())),
        ),
        None => lines.push("- no packet record in this run".to_string()),
    }
    lines.push(String::new());
    lines.push(format!("Verdict: {}", section.verdict()));
    if let Some(review) = section.record.and_then(|record| record.review.as_ref()) {
        lines.push(String::new());
        lines.push(format!("Review State: {}", review.state));
        if let Some(signed) = &review.review {
            lines.push(format!(
                "- {} by {} at {} (SSH signature verified, key {})",
                signed.decision.label(),
                signed.reviewer,
                signed.time,
                signed.key
            ));
            lines.push(format!("- Checkpoint: {}", signed.commit));
            if !signed.note.is_empty() {
                lines.push(format!("- Note: {}", signed.note));
            }
            for finding in &signed.findings {
                lines.push(format!("- Finding: {finding}"));
            }
            lines.push(format!("- Rollback: revert {}", signed.commit));
        }
        lines.extend(review.notes.iter().map(|note| format!("- {note}")));
    }
    lines.push(String::new());
    lines.push("Commit:".to_string());
    lines.push(format!("- {}", commit(ledger.header())));
    lines.push(String::new());
    lines.push("Residual risk:".to_string());
    let prefix = format!("{}::", section.packet.id);
    let risks: Vec<&ResidualRisk> = ledger
        .verdict()
        .map(|verdict| {
            verdict
                .residual_risks
                .iter()
                .filter(|risk| risk.check.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    if risks.is_empty() {
        lines.push("- None".to_string());
    }
    for risk in risks {
        lines.push(format!(
            "- {}",
            residual_risk_line(risk, RiskWording::ReviewRecord)
        ));
    }
    // One field per line: a line break inside one is a space, as everywhere in the tracker.
    let body = lines
        .iter()
        .map(|line| inline(line))
        .collect::<Vec<_>>()
        .join("\n");
    let fence = fence_for(&body);
    let heading = format!("{} Review Record", section.packet.id);
    anchors.next(&heading);
    out.push_str(&format!(
        "\n### {}\n\n{fence}\n{body}\n{fence}\n",
        text(&heading)
    ));
}
