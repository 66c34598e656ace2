//! End to end: the `webhook` probe against tests/targets/webhook_receiver.py, an independently
//! written Python receiver started as a `[[service]]` on `${port}` with a `/healthz` ready
//! check, through the real xtask binary: strict, the run is GO with every case of the Svix and
//! the Stripe check passing; with `--bug prefix-compare`, NO_GO with exactly
//! `empty-signature` and `truncated-signature` failing in both. No log holds the secret.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::support::*;

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The base64 part of the `whsec_` secret, assembled at run time.
fn encoded_key() -> String {
    STANDARD.encode(
        (0u8..24)
            .map(|i| i.wrapping_mul(53) ^ 0x3c)
            .collect::<Vec<u8>>(),
    )
}

/// A gate file whose `receiver` service runs the Python target with `bugs`, with a Svix and a
/// Stripe check against it; the secret is written next to it.
fn gate_file(dir: &Path, bugs: &[&str]) -> PathBuf {
    let root = workspace().canonicalize().unwrap();
    let script = root.join("tests/targets/webhook_receiver.py");
    let secret = dir.join("webhook-secret.txt");
    std::fs::write(&secret, format!("{}_{}\n", "whsec", encoded_key())).unwrap();
    let bugs: String = bugs
        .iter()
        .map(|bug| format!(", \"--bug\", \"{bug}\""))
        .collect();
    let text = format!(
        r#"[gate]
name = "webhook probe against the Python receiver"

[[service]]
name = "receiver"
run = ["python3", "{script}", "--port", "${{port}}", "--secret-file", "{secret}"{bugs}]
ready = {{ http = "/healthz", timeout = "20s" }}

[[packet]]
id = "SEC-02"
title = "Webhook authenticity"

[[packet.check]]
id = "svix-webhook"
probe = "webhook"
url = "${{receiver.url}}/svix"
scheme = "svix"
secret = {{ file = "{secret}" }}

[[packet.check]]
id = "stripe-webhook"
probe = "webhook"
url = "${{receiver.url}}/stripe"
scheme = "stripe"
secret = {{ file = "{secret}" }}
future_timestamp = true
"#,
        script = script.display(),
        secret = secret.display(),
    );
    let path = dir.join("webhook-target.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn assert_no_secret_in_logs(run: &Run) {
    let key = encoded_key();
    for check in ["svix-webhook", "stripe-webhook"] {
        let path = run.out.path().join(format!("logs/SEC-02/{check}.log"));
        let log = std::fs::read_to_string(&path).unwrap();
        assert!(log.contains("[REDACTED]"), "{log}");
        assert!(!log.contains(&key), "the secret in {check}.log:\n{log}");
    }
    assert!(!run.stdout().contains(&key), "the secret on stdout");
}

#[test]
fn the_webhook_probe_passes_the_strict_python_receiver_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &[]), &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    for check in ["svix-webhook", "stripe-webhook"] {
        let cases = run.cases(&format!("SEC-02::{check}"));
        for (name, outcome) in &cases {
            assert_eq!(outcome, "pass", "{check} {name}: {}", run.context());
        }
        for name in [
            "empty-signature",
            "truncated-signature",
            "last-char-changed",
            "unknown-version",
            "several-invalid",
            "padded-signature",
            "whitespace-signature",
            "missing-timestamp",
            "non-numeric-timestamp",
            "millisecond-timestamp",
        ] {
            assert!(cases.iter().any(|(case, _)| case == name), "{check} {name}");
        }
    }
    assert_no_secret_in_logs(&run);
}

#[test]
fn the_webhook_probe_catches_the_python_receivers_prefix_compare_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &["prefix-compare"]), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    for check in ["svix-webhook", "stripe-webhook"] {
        let failing: Vec<String> = run
            .cases(&format!("SEC-02::{}", check))
            .into_iter()
            .filter(|(_, outcome)| outcome != "pass")
            .map(|(name, outcome)| format!("{name} {outcome}"))
            .collect();
        assert_eq!(
            failing,
            ["empty-signature fail", "truncated-signature fail"],
            "{check}: {}",
            run.context()
        );
        assert!(
            run.stdout_squeezed()
                .contains(&format!("test SEC-02::{check}::empty-signature ... FAILED")),
            "{}",
            run.context()
        );
    }
    assert_no_secret_in_logs(&run);
}
