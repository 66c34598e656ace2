//! End to end: the `rbac` and `consent` probes against tests/targets/access_api.py, an
//! independently written Python API started as a `[[service]]` on `${port}` with a `/healthz`
//! ready check, through the real xtask binary. Correct: GO, every case passing, the access
//! classes of issue 17 among them. With `--bug idor --bug consent-cached`: NO_GO with exactly
//! `idor-other-tenant` and `revoked-mid-session` failing. No log holds a token or the key.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The two checks, whose logs must hide every token and the key.
const CHECKS: [&str; 2] = ["SEC-IAM::rbac", "SEC-IAM::consent"];

/// A gate file whose `api` service runs the Python target with `bugs`, with an rbac and a
/// consent check against it.
fn gate_file(dir: &Path, bugs: &[&str]) -> PathBuf {
    let keys = workspace().join("reference/keys");
    let public_key = keys.join("issuer-rs256.pub.pem");
    let public_key = public_key.display().to_string();
    let service = python_service(
        "api",
        "access_api.py",
        &["--port", "${port}", "--public-key", &public_key],
        bugs,
        "20s",
    );
    let text = format!(
        r#"[gate]
name = "rbac and consent probes against the Python API"

{service}
[[packet]]
id = "SEC-IAM"
title = "Access control"

[[packet.check]]
id = "rbac"
probe = "rbac"
base_url = "${{api.url}}"
issuer = "https://issuer.test"
audience = "tenant-api"
key = {{ file = "{keys}/issuer-rs256.pem" }}
roles.member = {{ sub = "member@org-a", org_id = "org-a" }}
roles.viewer = {{ sub = "viewer@org-a", org_id = "org-a" }}
unknown_role = {{ sub = "stranger@org-a", org_id = "org-a" }}
control = {{ path = "/v1/me" }}
matrix = [{{ path = "/v1/projects", allow = ["member", "viewer"] }}]
idor = [{{ role = "member", own = "/v1/projects/prj-a-1", other = "/v1/projects/prj-b-1" }}]
mass_assignment = [
  {{ role = "viewer", control_role = "member", method = "PATCH", path = "/v1/projects/does-not-exist", body = '{{"name":"x"}}', read = "/v1/me" }},
  {{ role = "member", method = "PATCH", path = "/v1/projects/prj-a-1", body = '{{"name":""}}', read = "/v1/projects/prj-a-1" }},
]
forbidden_fields = {{ role = "admin", org_id = "org-b", owner = "admin@org-b" }}

[[packet.check]]
id = "consent"
probe = "consent"
url = "${{api.url}}/v1/children/{{child}}/records"
issuer = "https://issuer.test"
audience = "tenant-api"
key = {{ file = "{keys}/issuer-rs256.pem" }}
claims = {{ sub = "member@org-a", org_id = "org-a" }}
allowed_child = "child-1"
revoked_child = "child-2"
records_path = "/records"
session_claims = {{ sub = "member@org-a", org_id = "org-a" }}
record_url = "${{api.url}}/v1/children/{{child}}/records/{{record}}"
allowed_record = "rec-a-1"
other_child_record = "rec-a-2"
"#,
        keys = keys.display(),
    );
    write_gate(dir, "access-target.toml", &text)
}

fn python_ready() -> bool {
    if runs("python3", &["-c", "import cryptography"]) {
        return true;
    }
    skip("python3 with the cryptography package is not available");
    false
}

#[test]
fn the_access_probes_pass_the_correct_python_api_as_a_service() {
    if !python_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &[]), &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    run.assert_all_pass_with("SEC-IAM::rbac", &["idor-other-tenant", "mass-assignment"]);
    run.assert_all_pass_with("SEC-IAM::consent", &["revoked-mid-session", "other-child"]);
    run.assert_logs_hide(&CHECKS, "Bearer [REDACTED]", &["eyJ", "PRIVATE KEY"]);
}

#[test]
fn the_access_probes_catch_the_python_apis_bugs_as_a_service() {
    if !python_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &["idor", "consent-cached"]), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    run.assert_failing("SEC-IAM::rbac", &["idor-other-tenant fail"]);
    run.assert_failing("SEC-IAM::consent", &["revoked-mid-session fail"]);
    run.assert_stdout_has("test SEC-IAM::rbac::idor-other-tenant ... FAILED");
    run.assert_logs_hide(&CHECKS, "Bearer [REDACTED]", &["eyJ", "PRIVATE KEY"]);
}
