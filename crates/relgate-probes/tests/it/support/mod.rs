//! What the webhook probe tests share: a Python target of `tests/targets/` as a child process
//! (`python_target.rs`), a `webhook` probe run from a check's text with the secret in a file of a
//! fresh gate root (asserting the secret shows nowhere), and assertions on the cases.

pub mod python_target;

use std::time::{Duration, Instant};

use relgate_probes::redact::Redactor;
use relgate_probes::{Case, CaseOutcome, Context, Log};

/// Runs the `webhook` probe with the packets.toml `check` (every key but `secret`) and `secret`
/// in `webhook-secret.txt` of a fresh gate root; `hidden` (the secret or its key part) may show
/// nowhere in the log or in any case's message, sent or got.
pub fn probe_webhook(check: &str, secret: &str, hidden: &str) -> Vec<Case> {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        root.path().join("webhook-secret.txt"),
        format!("{secret}\n"),
    )
    .expect("write secret");
    let table: toml::Table = format!("secret = {{ file = \"webhook-secret.txt\" }}\n{check}")
        .parse()
        .expect("check parses");
    let log = Log::new(Redactor::new());
    let context = Context {
        root: root.path(),
        deadline: Instant::now() + Duration::from_secs(60),
        log: &log,
    };
    let cases = relgate_probes::run("webhook", &table, &context).expect("the probe runs");
    let mut text = log.text();
    for case in &cases {
        text.push_str(&format!("{}\n{}\n{}\n", case.message, case.sent, case.got));
    }
    assert!(!text.contains(hidden), "the secret leaked:\n{text}");
    cases
}

/// Case names, in report order.
pub fn names(cases: &[Case]) -> Vec<&str> {
    cases.iter().map(|case| case.name.as_str()).collect()
}

/// The case called `name`; panics when there is none.
pub fn case<'c>(cases: &'c [Case], name: &str) -> &'c Case {
    cases
        .iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no case {name} in {:?}", names(cases)))
}

/// Exactly the `failing` cases fail (each must exist), every other one passes; `what` names the
/// run in the messages.
pub fn assert_failing(cases: &[Case], failing: &[&str], what: &str) {
    for case in cases {
        let expected = if failing.contains(&case.name.as_str()) {
            CaseOutcome::Fail
        } else {
            CaseOutcome::Pass
        };
        assert_eq!(
            case.outcome, expected,
            "{what}: {}: {}\nsent:\n{}\ngot: {}",
            case.name, case.message, case.sent, case.got
        );
    }
    for name in failing {
        assert!(
            cases.iter().any(|case| case.name == *name),
            "{what}: no case {name}"
        );
    }
}
