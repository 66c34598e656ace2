//! End to end: the `rls` and `audit-chain` probes against tests/targets/saas_schema.sql, an
//! independently written schema loaded into an ephemeral Postgres by
//! tests/targets/saas_schema_service.py, a `[[service]]` with a `/healthz` ready check, through
//! the real xtask binary. Correct: GO, every case passing. With `--bug update-any --bug
//! hash-partial`: NO_GO with exactly `blanket-update`, `permissive-policies` and
//! `hash-columns` failing.

use std::path::{Path, PathBuf};

use crate::support::*;

fn workspace() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .unwrap()
}

/// A gate file: the ephemeral database, the schema loaded with `bugs` as a service, an `rls`
/// and an `audit-chain` check against it.
fn gate_file(dir: &Path, bugs: &[&str]) -> PathBuf {
    let script = workspace().join("tests/targets/saas_schema_service.py");
    let bugs: String = bugs
        .iter()
        .map(|bug| format!(", \"--bug\", \"{bug}\""))
        .collect();
    let text = format!(
        r#"[gate]
name = "rls and audit-chain probes against the saas schema"

[[service]]
name = "db"
postgres = "ephemeral"

[[service]]
name = "schema"
run = ["python3", "{script}", "--database-url", "${{db.url}}", "--port", "${{port}}"{bugs}]
ready = {{ http = "/healthz", timeout = "60s" }}

[[packet]]
id = "SEC-DB"
title = "Tenant isolation and audit log"

[[packet.check]]
id = "rls"
probe = "rls"
services = ["schema"]
database = "${{db.url}}"
app_role = "saas_app"
schemas = ["saas"]
tenant_column = "account_id"
tenant_setting = "saas.account"

[[packet.check]]
id = "audit-chain"
probe = "audit-chain"
services = ["schema"]
database = "${{db.url}}"
app_role = "saas_app"
table = "saas.activity_log"
id_column = "seq"
prev_column = "parent_digest"
hash_column = "digest"
expected_hash = "saas.activity_digest(e)"
genesis = "GENESIS"
tenant_column = "account_id"
tenant_setting = "saas.account"
time_column = "at"
gapless = true
"#,
        script = script.display(),
    );
    let path = dir.join("database-target.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn failing(run: &Run, check: &str) -> Vec<String> {
    run.check(&format!("SEC-DB::{check}"))["cases"]
        .as_array()
        .expect("the probe record lists its cases")
        .iter()
        .filter(|case| case["outcome"] != "pass")
        .map(|case| {
            format!(
                "{} {}",
                case["name"].as_str().unwrap(),
                case["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

/// A TMPDIR the `postgres` OS user can traverse (a cluster made by root runs as that user).
fn shared_tmp() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn ready() -> bool {
    if relgate_pg::testing::skip_without_postgres() {
        return false;
    }
    if runs("psql", &["--version"]) && runs("python3", &["--version"]) {
        return true;
    }
    skip("psql or python3 is not available");
    false
}

fn run_against(bugs: &[&str]) -> Run {
    let dir = shared_tmp();
    let gate = gate_file(dir.path(), bugs);
    run_gate(&gate, &[("TMPDIR", Some(dir.path()))])
}

#[test]
fn the_database_probes_pass_the_correct_saas_schema_as_a_service() {
    if !ready() {
        return;
    }
    let run = run_against(&[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert!(failing(&run, "rls").is_empty(), "{}", run.context());
    assert!(failing(&run, "audit-chain").is_empty(), "{}", run.context());
    let stdout = run.stdout_squeezed();
    for case in [
        "SEC-DB::rls::blanket-update",
        "SEC-DB::rls::move-to-other-tenant",
        "SEC-DB::audit-chain::hash-columns",
        "SEC-DB::audit-chain::gaps",
    ] {
        assert!(
            stdout.contains(&format!("test {case} ... ok")),
            "{case}: {}",
            run.context()
        );
    }
}

#[test]
fn the_database_probes_catch_the_saas_schemas_bugs_as_a_service() {
    if !ready() {
        return;
    }
    let run = run_against(&["update-any", "hash-partial"]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(
        failing(&run, "rls"),
        ["permissive-policies fail", "blanket-update fail"],
        "{}",
        run.context()
    );
    assert_eq!(
        failing(&run, "audit-chain"),
        ["hash-columns fail"],
        "{}",
        run.context()
    );
}
