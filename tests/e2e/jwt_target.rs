//! End to end: the `jwt` probe against tests/targets/jwt_verifier.py, an independently written
//! Python verifier started as a `[[service]]` on `${port}` with a `/healthz` ready check, through
//! the real xtask binary: strict, the run is GO with every case passing; with
//! `--bug last-duplicate-wins`, NO_GO with exactly `duplicate-claims` failing. No log holds a
//! token or a key.

use std::path::{Path, PathBuf};

use crate::support::*;

/// A gate file whose `verifier` service runs the Python target with `bugs` and whose one check
/// runs the `jwt` probe against it (RS256, `typ`, a partner key trusted for another audience).
fn gate_file(dir: &Path, bugs: &[&str]) -> PathBuf {
    let keys = workspace().join("reference/keys");
    let key = |name: &str| keys.join(name).display().to_string();
    let (issuer_pub, other_pub) = (key("issuer-rs256.pub.pem"), key("other-rs256.pub.pem"));
    let service = python_service(
        "verifier",
        "jwt_verifier.py",
        &[
            "--port",
            "${port}",
            "--alg",
            "RS256",
            "--key-file",
            &issuer_pub,
            "--issuer",
            "https://issuer.test",
            "--audience",
            "tenant-api",
            "--typ",
            "at+jwt",
            "--partner-key-file",
            &other_pub,
        ],
        bugs,
        "20s",
    );
    let text = format!(
        r#"[gate]
name = "jwt probe against the Python verifier"

{service}
[[packet]]
id = "SEC-01"
title = "Bearer token validation"

[[packet.check]]
id = "jwt-forgery"
probe = "jwt"
url = "${{verifier.url}}/me"
issuer = "https://issuer.test"
audience = "tenant-api"
alg = "RS256"
key = {{ file = "{issuer}" }}
public_key = {{ file = "{issuer_pub}" }}
claims = {{ sub = "admin@org-a" }}
typ = "at+jwt"
other_audience_key = {{ file = "{other}" }}
other_audience_kid = "partner"
other_audience_claims = {{ aud = "partner-api" }}
"#,
        issuer = key("issuer-rs256.pem"),
        other = key("other-rs256.pem"),
    );
    write_gate(dir, "jwt-target.toml", &text)
}

const CHECK: &str = "SEC-01::jwt-forgery";

#[test]
fn the_jwt_probe_passes_the_strict_python_verifier_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &[]), &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    run.assert_all_pass_with(
        CHECK,
        &[
            "alg-same-family",
            "crit-unknown",
            "iat-future",
            "duplicate-claims",
            "typ-confusion",
            "cty-confusion",
            "kid-other-audience",
        ],
    );
    run.assert_logs_hide(&[CHECK], "Bearer [REDACTED]", &["eyJ", "PRIVATE KEY"]);
}

#[test]
fn the_jwt_probe_catches_the_python_verifiers_duplicate_claim_bug_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &["last-duplicate-wins"]), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    run.assert_failing(CHECK, &["duplicate-claims fail"]);
    run.assert_stdout_has("test SEC-01::jwt-forgery::duplicate-claims ... FAILED");
    run.assert_logs_hide(&[CHECK], "Bearer [REDACTED]", &["eyJ", "PRIVATE KEY"]);
}
