//! End to end: the `rbac` and `consent` probes against tests/targets/access_api.py, an
//! independently written Python API started as a `[[service]]` on `${port}` with a `/healthz`
//! ready check, through the real xtask binary. Correct: GO, every case passing, the access
//! classes of issue 17 among them. With `--bug idor --bug consent-cached`: NO_GO with exactly
//! `idor-other-tenant` and `revoked-mid-session` failing. No log holds a token or the key.

use std::path::{Path, PathBuf};

use crate::support::*;

fn workspace() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .unwrap()
}

/// A gate file whose `api` service runs the Python target with `bugs`, with an rbac and a
/// consent check against it.
fn gate_file(dir: &Path, bugs: &[&str]) -> PathBuf {
    let root = workspace();
    let script = root.join("tests/targets/access_api.py");
    let keys = root.join("reference/keys");
    let bugs: String = bugs
        .iter()
        .map(|bug| format!(", \"--bug\", \"{bug}\""))
        .collect();
    let text = format!(
        r#"[gate]
name = "rbac and consent probes against the Python API"

[[service]]
name = "api"
run = ["python3", "{script}", "--port", "${{port}}", "--public-key", "{keys}/issuer-rs256.pub.pem"{bugs}]
ready = {{ http = "/healthz", timeout = "20s" }}

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
        script = script.display(),
        keys = keys.display(),
    );
    let path = dir.join("access-target.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn assert_no_secret_in_logs(run: &Run) {
    for check in ["rbac", "consent"] {
        let path = run.out.path().join(format!("logs/SEC-IAM/{check}.log"));
        let log = std::fs::read_to_string(&path).unwrap();
        assert!(log.contains("Bearer [REDACTED]"), "{log}");
        assert!(!log.contains("eyJ"), "a token in {check}.log:\n{log}");
        assert!(!log.contains("PRIVATE KEY"), "the key in {check}.log");
    }
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
    let rbac = run.cases("SEC-IAM::rbac");
    let consent = run.cases("SEC-IAM::consent");
    for (name, outcome) in rbac.iter().chain(&consent) {
        assert_eq!(outcome, "pass", "{name}: {}", run.context());
    }
    for name in ["idor-other-tenant", "mass-assignment"] {
        assert!(rbac.iter().any(|(case, _)| case == name), "rbac {name}");
    }
    for name in ["revoked-mid-session", "other-child"] {
        assert!(
            consent.iter().any(|(case, _)| case == name),
            "consent {name}"
        );
    }
    assert_no_secret_in_logs(&run);
}

#[test]
fn the_access_probes_catch_the_python_apis_bugs_as_a_service() {
    if !python_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&gate_file(dir.path(), &["idor", "consent-cached"]), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let failing = |check: &str| -> Vec<String> {
        run.cases(&format!("SEC-IAM::{check}"))
            .into_iter()
            .filter(|(_, outcome)| outcome != "pass")
            .map(|(name, outcome)| format!("{name} {outcome}"))
            .collect()
    };
    assert_eq!(
        failing("rbac"),
        ["idor-other-tenant fail"],
        "{}",
        run.context()
    );
    assert_eq!(
        failing("consent"),
        ["revoked-mid-session fail"],
        "{}",
        run.context()
    );
    assert!(
        run.stdout_squeezed()
            .contains("test SEC-IAM::rbac::idor-other-tenant ... FAILED"),
        "{}",
        run.context()
    );
    assert_no_secret_in_logs(&run);
}
