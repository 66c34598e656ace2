//! End to end: the `jwt` probe against tests/targets/jwt_verifier.py, an independently written
//! Python verifier started as a `[[service]]` on `${port}` with a `/healthz` ready check, through
//! the real xtask binary: strict, the run is GO with every case passing; with
//! `--bug last-duplicate-wins`, NO_GO with exactly `duplicate-claims` failing. No log holds a
//! token or a key.

use std::path::Path;

use crate::support::*;

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A gate file whose `verifier` service runs the Python target with `bugs` and whose one check
/// runs the `jwt` probe against it (RS256, `typ`, a partner key trusted for another audience).
fn gate_file(dir: &Path, bugs: &[&str]) -> std::path::PathBuf {
    let root = workspace().canonicalize().unwrap();
    let keys = root.join("reference/keys");
    let key = |name: &str| keys.join(name).display().to_string();
    let script = root.join("tests/targets/jwt_verifier.py");
    let bugs: String = bugs
        .iter()
        .map(|bug| format!(", \"--bug\", \"{bug}\""))
        .collect();
    let text = format!(
        r#"[gate]
name = "jwt probe against the Python verifier"

[[service]]
name = "verifier"
run = ["python3", "{script}", "--port", "${{port}}", "--alg", "RS256", "--key-file", "{issuer_pub}", "--issuer", "https://issuer.test", "--audience", "tenant-api", "--typ", "at+jwt", "--partner-key-file", "{other_pub}"{bugs}]
ready = {{ http = "/healthz", timeout = "20s" }}

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
        script = script.display(),
        issuer = key("issuer-rs256.pem"),
        issuer_pub = key("issuer-rs256.pub.pem"),
        other = key("other-rs256.pem"),
        other_pub = key("other-rs256.pub.pem"),
    );
    let path = dir.join("jwt-target.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn assert_no_token_in_logs(run: &Run) {
    let log = std::fs::read_to_string(run.out.path().join("logs/SEC-01/jwt-forgery.log")).unwrap();
    assert!(log.contains("Bearer [REDACTED]"), "{log}");
    for needle in ["eyJ", "PRIVATE KEY"] {
        assert!(!log.contains(needle), "{needle} in the probe log:\n{log}");
        assert!(!run.stdout().contains(needle), "{needle} on stdout");
    }
}

#[test]
fn the_jwt_probe_passes_the_strict_python_verifier_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &[]), &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    let cases = run.cases("SEC-01::jwt-forgery");
    for (name, outcome) in &cases {
        assert_eq!(outcome, "pass", "{name}: {}", run.context());
    }
    for name in [
        "alg-same-family",
        "crit-unknown",
        "iat-future",
        "duplicate-claims",
        "typ-confusion",
        "cty-confusion",
        "kid-other-audience",
    ] {
        assert!(cases.iter().any(|(case, _)| case == name), "{name}");
    }
    assert_no_token_in_logs(&run);
}

#[test]
fn the_jwt_probe_catches_the_python_verifiers_duplicate_claim_bug_as_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &["last-duplicate-wins"]), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let failing: Vec<String> = run
        .cases("SEC-01::jwt-forgery")
        .into_iter()
        .filter(|(_, outcome)| outcome != "pass")
        .map(|(name, outcome)| format!("{name} {outcome}"))
        .collect();
    assert_eq!(failing, ["duplicate-claims fail"], "{}", run.context());
    assert!(
        run.stdout_squeezed()
            .contains("test SEC-01::jwt-forgery::duplicate-claims ... FAILED"),
        "{}",
        run.context()
    );
    assert_no_token_in_logs(&run);
}
