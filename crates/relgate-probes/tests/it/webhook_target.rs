//! The `webhook` probe against a second, independently written receiver:
//! tests/targets/webhook_receiver.py (Python standard library, written from Svix's, Stripe's
//! and GitHub's public docs), started as a child process on 127.0.0.1. Its strict default must
//! pass every case for each scheme; each `--bug` (a realistic comparison or timestamp mistake)
//! must be caught by exactly the case named for it, and by no other.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use relgate_probes::Case;

use crate::support::python_target::PythonTarget;
use crate::support::{assert_failing, case, names, probe_webhook};

/// A `whsec_<base64>` secret, assembled at run time (Svix keys with the decoded part, Stripe
/// with the whole text, GitHub with its bytes).
fn secret() -> String {
    let key: Vec<u8> = (0u8..24).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    format!("{}_{}", "whsec", STANDARD.encode(key))
}

/// The Python receiver with its secret file; killed when dropped.
struct Target {
    python: PythonTarget,
    _dir: tempfile::TempDir,
}

impl Target {
    fn start(bugs: &[&str]) -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("secret.txt");
        std::fs::write(&file, format!("{}\n", secret())).expect("write secret");
        let python = PythonTarget::start(
            "webhook_receiver.py",
            &[std::ffi::OsStr::new("--secret-file"), file.as_os_str()],
            bugs,
        );
        Target { python, _dir: dir }
    }

    /// Runs the probe against the route of `scheme` with `extra` configuration lines.
    fn probe(&self, scheme: &str, extra: &str) -> Vec<Case> {
        let secret = secret();
        let encoded = secret.strip_prefix("whsec_").expect("whsec_ secret");
        let check = format!(
            "url = \"{}/{scheme}\"\nscheme = \"{scheme}\"\n{extra}",
            self.python.base
        );
        probe_webhook(&check, &secret, encoded)
    }
}

/// Stripe with the future bounded (this receiver bounds both directions, as Stripe's manual
/// verification allows), so that `millisecond-timestamp` runs.
const STRIPE_FUTURE: &str = "future_timestamp = true\n";

#[test]
fn strict_receiver_passes_every_case_of_every_scheme() {
    let target = Target::start(&[]);
    let svix = target.probe("svix", "");
    assert_eq!(
        names(&svix),
        [
            "controls",
            "unsigned",
            "bad-signature",
            "wrong-secret",
            "stale-timestamp",
            "future-timestamp",
            "body-tampered",
            "empty-signature",
            "truncated-signature",
            "last-char-changed",
            "base64-case",
            "unknown-version",
            "several-invalid",
            "padded-signature",
            "whitespace-signature",
            "missing-timestamp",
            "non-numeric-timestamp",
            "millisecond-timestamp",
            "replayed-id",
        ]
    );
    assert_failing(&svix, &[], "svix");
    let stripe = target.probe("stripe", STRIPE_FUTURE);
    assert!(names(&stripe).contains(&"hex-case"));
    assert!(names(&stripe).contains(&"millisecond-timestamp"));
    assert_failing(&stripe, &[], "stripe");
    assert_failing(&target.probe("stripe", ""), &[], "stripe, default");
    let github = target.probe("github", "");
    assert_eq!(names(&github).len(), 11, "{:?}", names(&github));
    assert_failing(&github, &[], "github");
    let sent = &case(&svix, "several-invalid").sent;
    assert!(
        sent.contains("svix-signature: v1,[REDACTED] v1,[REDACTED] v1,[REDACTED]"),
        "{sent}"
    );
}

/// Each bug, the cases that must catch it for Svix and for Stripe (hex-case in place of
/// base64-case), and whether it applies to GitHub (no version tags, no timestamp).
const BUGS: [(&str, &[&str], bool); 9] = [
    (
        "prefix-compare",
        &["empty-signature", "truncated-signature"],
        true,
    ),
    ("startswith", &["padded-signature"], true),
    ("off-by-one", &["last-char-changed"], true),
    ("strip-and-lower", &["base64-case"], true),
    ("any-version", &["unknown-version"], false),
    ("several-format-only", &["several-invalid"], false),
    (
        "timestamp-optional",
        &["missing-timestamp", "non-numeric-timestamp"],
        false,
    ),
    ("ms-timestamps", &["millisecond-timestamp"], false),
    ("strip-whitespace", &["whitespace-signature"], true),
];

fn hex_names<'a>(failing: &[&'a str]) -> Vec<&'a str> {
    failing
        .iter()
        .map(|name| {
            if *name == "base64-case" {
                "hex-case"
            } else {
                name
            }
        })
        .collect()
}

#[test]
fn each_bug_is_caught_by_its_named_cases() {
    for (bug, failing, github) in BUGS {
        let target = Target::start(&[bug]);
        assert_failing(
            &target.probe("svix", ""),
            failing,
            &format!("svix --bug {bug}"),
        );
        let hex = hex_names(failing);
        assert_failing(
            &target.probe("stripe", STRIPE_FUTURE),
            &hex,
            &format!("stripe --bug {bug}"),
        );
        let github_failing: &[&str] = if github { &hex } else { &[] };
        assert_failing(
            &target.probe("github", ""),
            github_failing,
            &format!("github --bug {bug}"),
        );
    }
}

#[test]
fn a_buggy_case_fails_with_what_it_sent() {
    let target = Target::start(&["prefix-compare"]);
    let cases = target.probe("stripe", "");
    let empty = case(&cases, "empty-signature");
    assert!(
        empty
            .message
            .ends_with("with a signature header whose MAC is empty got 204: accepted"),
        "{}",
        empty.message
    );
    assert!(
        empty.sent.contains("Stripe-Signature: t="),
        "{}",
        empty.sent
    );
    assert!(
        empty.sent.contains(",v1=\n") || empty.sent.trim_end().ends_with(",v1="),
        "{}",
        empty.sent
    );
}
