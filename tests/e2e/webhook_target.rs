//! End to end: the `webhook` probe against tests/targets/webhook_receiver.py, an independently
//! written Python receiver started as a `[[service]]` on `${port}` with a `/healthz` ready
//! check, through the real xtask binary: strict, the run is GO with every case of the Svix and
//! the Stripe check passing; with `--bug prefix-compare`, NO_GO with exactly
//! `empty-signature` and `truncated-signature` failing in both. No log holds the secret.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::support::*;

/// The two checks, whose logs must hide the secret.
const CHECKS: [&str; 2] = ["SEC-02::svix-webhook", "SEC-02::stripe-webhook"];

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
    let secret = dir.join("webhook-secret.txt");
    std::fs::write(&secret, format!("{}_{}\n", "whsec", encoded_key())).unwrap();
    let secret = secret.display().to_string();
    let service = python_service(
        "receiver",
        "webhook_receiver.py",
        &["--port", "${port}", "--secret-file", &secret],
        bugs,
        "20s",
    );
    let text = format!(
        r#"[gate]
name = "webhook probe against the Python receiver"

{service}
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
    );
    write_gate(dir, "webhook-target.toml", &text)
}

#[test]
fn the_webhook_probe_passes_the_strict_python_receiver_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &[]), &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    for check in CHECKS {
        run.assert_all_pass_with(
            check,
            &[
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
            ],
        );
    }
    run.assert_logs_hide(&CHECKS, "[REDACTED]", &[&encoded_key()]);
}

#[test]
fn the_webhook_probe_catches_the_python_receivers_prefix_compare_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &["prefix-compare"]), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    for check in CHECKS {
        run.assert_failing(check, &["empty-signature fail", "truncated-signature fail"]);
        run.assert_stdout_has(&format!("test {check}::empty-signature ... FAILED"));
    }
    run.assert_logs_hide(&CHECKS, "[REDACTED]", &[&encoded_key()]);
}
