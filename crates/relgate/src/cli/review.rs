//! `gate approve` and `gate request-changes`: a signed review record of a finished run's
//! packets, written into the gate's reviews directory.

use std::path::PathBuf;

use super::args::ReviewArgs;
use crate::model::exit_codes;
use crate::review::record::ReviewDecision;

/// `gate approve PACKET…`.
pub(super) fn approve(args: ReviewArgs, packets: Vec<String>, note: String) -> i32 {
    review_packets(args, packets, ReviewDecision::Approved, note, Vec::new())
}

/// `gate request-changes PACKET --reason …`.
pub(super) fn request_changes(args: ReviewArgs, packet: String, reasons: Vec<String>) -> i32 {
    review_packets(
        args,
        vec![packet],
        ReviewDecision::ChangesRequested,
        String::new(),
        reasons,
    )
}

fn review_packets(
    args: ReviewArgs,
    packets: Vec<String>,
    decision: ReviewDecision,
    note: String,
    findings: Vec<String>,
) -> i32 {
    let key = match args.key.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(rest))
            .unwrap_or_else(|| PathBuf::from(&args.key)),
        None => PathBuf::from(&args.key),
    };
    let options = crate::approve::Options {
        gate: args.gate,
        out_dir: args.out,
        key,
        identity: args.identity,
        packets,
        decision,
        note,
        findings,
    };
    match crate::approve::approve(&options) {
        Ok(written) => {
            for path in written {
                println!("{} {}", decision.label(), path.display());
            }
            println!("commit the review files: they are the packets' review record");
            exit_codes::OK
        }
        Err(err) => {
            crate::output::redaction::print_error(&err);
            err.exit_code()
        }
    }
}
