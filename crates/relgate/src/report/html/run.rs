//! The run's conclusions: records no packet claims, residual risks and acceptances, services
//! and the evidence (ledger, gate file, commit).

use super::logs::{file_link, log_ref, tail};
use super::packets::{check_block, person};
use super::{code, escape, meta, Page};
use crate::evidence::{AcceptanceNote, CheckRecord, Ledger, ServiceRecord, LEDGER_FILE};
use crate::report::view::duration;
use crate::spec::Gate;

pub(super) fn unlisted(out: &mut String, page: &Page<'_>, unclaimed: &[&CheckRecord]) {
    if unclaimed.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"unlisted\">\n<h2>Records not in the gate</h2>\n<p>The ledger holds \
         these records, which no check or checklist item of the gate names.</p>\n",
    );
    for record in unclaimed {
        check_block(out, page, &record.name, None, Some(record), 3);
    }
    out.push_str("</section>\n");
}

/// Residual risks and acceptances that did not apply.
pub(super) fn conditions(out: &mut String, ledger: &Ledger) {
    out.push_str("<section id=\"conditions\">\n<h2>Risks and acceptances</h2>\n");
    let Some(verdict) = ledger.verdict() else {
        out.push_str("<p>No verdict record: residual risks and acceptances are unknown.</p>\n");
        out.push_str("</section>\n");
        return;
    };
    out.push_str("<h3>Residual risks</h3>\n");
    if verdict.residual_risks.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str(
            "<table class=\"risks\">\n<thead><tr><th>Check</th><th>Severity</th>\
             <th>State</th><th>Owner</th><th>Until</th><th>Reason</th></tr></thead>\n<tbody>\n",
        );
        for risk in &verdict.residual_risks {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                code(&risk.check),
                escape(risk.severity.as_str()),
                escape(&risk.state),
                person(&risk.owner),
                risk.until.as_deref().map_or("—".to_string(), escape),
                escape(&risk.reason),
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    acceptances(
        out,
        "Expired acceptances (ignored)",
        "expired",
        &verdict.expired_acceptances,
    );
    acceptances(
        out,
        "Unused acceptances (matched no failure)",
        "unused",
        &verdict.unused_acceptances,
    );
    out.push_str("</section>\n");
}

pub(super) fn acceptances(out: &mut String, heading: &str, class: &str, notes: &[AcceptanceNote]) {
    out.push_str(&format!("<h3>{}</h3>\n", escape(heading)));
    if notes.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str(&format!(
        "<table class=\"acceptances {class}\">\n<thead><tr><th>Accepts</th><th>Owner</th>\
         <th>Until</th><th>Gate file line</th></tr></thead>\n<tbody>\n"
    ));
    for note in notes {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&note.target),
            escape(&note.owner),
            escape(&note.until),
            note.line
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

pub(super) fn services(out: &mut String, page: &Page<'_>) {
    out.push_str("<section id=\"services\">\n<h2>Services</h2>\n");
    let records: Vec<&ServiceRecord> = page.ledger.services().collect();
    if records.is_empty() {
        out.push_str("<p>No services were started.</p>\n</section>\n");
        return;
    }
    for service in records {
        let outcome = if service.outcome == "ready" {
            "pass"
        } else {
            "fail"
        };
        out.push_str(&format!(
            "<article class=\"check service outcome-{outcome}\" data-service=\"{}\">\n\
             <h3 class=\"check-title\"><span class=\"badge outcome-{outcome}\">{}</span> \
             <code>{}</code> <span class=\"kind\">{}</span></h3>\n<p class=\"message\">{}</p>\n\
             <dl class=\"facts\">\n",
            escape(&service.name),
            escape(&service.outcome),
            escape(&service.name),
            escape(&service.service_kind),
            escape(&service.message),
        ));
        meta(out, "Command", &code(&service.command));
        meta(
            out,
            "Address",
            &if service.url.is_empty() {
                "— (never started)".to_string()
            } else {
                code(&service.url)
            },
        );
        meta(
            out,
            "Ran",
            &format!(
                "{} to {}; ready after {}",
                escape(&service.started),
                escape(&service.stopped),
                escape(&duration(service.ready_ms))
            ),
        );
        if let Some(log) = &service.log {
            meta(
                out,
                "Log",
                &log_ref(log, service.bytes, service.sha256.as_deref()),
            );
        }
        out.push_str("</dl>\n");
        if let Some(log) = &service.log {
            tail(out, page.out_dir, log, service.bytes, outcome == "fail");
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

pub(super) fn evidence(out: &mut String, gate: &Gate, ledger: &Ledger) {
    out.push_str("<section id=\"evidence\">\n<h2>Evidence</h2>\n<dl class=\"facts\">\n");
    meta(out, "Ledger", &file_link(LEDGER_FILE));
    match ledger.header() {
        Some(header) => {
            meta(
                out,
                "Gate file",
                &format!(
                    "{} (sha256 {})",
                    code(header.gate_shown()),
                    code(&header.gate_sha256)
                ),
            );
            if header.gate_sha256 != gate.sha256 {
                meta(
                    out,
                    "Warning",
                    &format!(
                        "the gate file read for this page has sha256 {}: titles and commands \
                         as written may differ from the run's",
                        code(&gate.sha256)
                    ),
                );
            }
            meta(
                out,
                "Git commit",
                &crate::report::view::commit_with(header, code),
            );
            meta(out, "Run id", &code(&header.run_id));
            meta(out, "Mode", &code(&header.mode));
            meta(out, "Started", &escape(&header.started));
            meta(out, "Host", &code(&header.host));
            meta(out, "relgate version", &code(&header.relgate_version));
        }
        None => meta(
            out,
            "Header",
            "none: gate file, commit and run id are unknown",
        ),
    }
    out.push_str("</dl>\n</section>\n");
}
