//! The `webhook` probe against a second, independently written receiver:
//! tests/targets/webhook_receiver.py (Python standard library, written from Svix's, Stripe's
//! and GitHub's public docs), started as a child process on 127.0.0.1. Its strict default must
//! pass every case for each scheme; each `--bug` (a realistic comparison or timestamp mistake)
//! must be caught by exactly the case named for it, and by no other.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use relgate_probes::redact::Redactor;
use relgate_probes::{Case, CaseOutcome, Context, Log};

/// The receiver script, from the repository root.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/targets/webhook_receiver.py")
}

/// A `whsec_<base64>` secret, assembled at run time (Svix keys with the decoded part, Stripe
/// with the whole text, GitHub with its bytes).
fn secret() -> String {
    let key: Vec<u8> = (0u8..24).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    format!("{}_{}", "whsec", STANDARD.encode(key))
}

/// The Python receiver, killed when dropped.
struct Target {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Target {
    fn start(bugs: &[&str]) -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("secret.txt");
        std::fs::write(&file, format!("{}\n", secret())).expect("write secret");
        let mut command = Command::new("python3");
        command
            .arg(script())
            .arg("--port")
            .arg("0")
            .arg("--secret-file")
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for bug in bugs {
            command.arg("--bug").arg(bug);
        }
        let mut child = command.spawn().expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout piped"))
            .read_line(&mut line)
            .expect("the receiver says where it listens");
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Target {
            child,
            base: format!("http://{address}"),
            _dir: dir,
        }
    }

    /// Runs the probe against `route` with `extra` configuration lines.
    fn probe(&self, scheme: &str, extra: &str) -> Vec<Case> {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::write(root.path().join("secret.txt"), secret()).expect("write secret");
        let table: toml::Table = format!(
            "url = \"{}/{scheme}\"\nscheme = \"{scheme}\"\nsecret = {{ file = \"secret.txt\" }}\n{extra}",
            self.base
        )
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
        let secret = secret();
        let encoded = secret.strip_prefix("whsec_").expect("whsec_ secret");
        assert!(!text.contains(encoded), "the secret leaked:\n{text}");
        cases
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `failing` cases fail, every other one passes.
fn assert_failing(cases: &[Case], failing: &[&str], what: &str) {
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

fn names(cases: &[Case]) -> Vec<&str> {
    cases.iter().map(|case| case.name.as_str()).collect()
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
    let sent = &svix
        .iter()
        .find(|case| case.name == "several-invalid")
        .expect("several-invalid")
        .sent;
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
    let empty = cases
        .iter()
        .find(|case| case.name == "empty-signature")
        .expect("empty-signature");
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
