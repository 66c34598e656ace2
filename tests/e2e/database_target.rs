//! End to end: the `rls` and `audit-chain` probes against tests/targets/saas_schema.sql, an
//! independently written schema loaded into an ephemeral Postgres by
//! tests/targets/saas_schema_service.py, a `[[service]]` with a `/healthz` ready check, through
//! the real xtask binary. Correct: GO, every case passing. With `--bug update-any --bug
//! hash-partial`: NO_GO with exactly `blanket-update`, `permissive-policies` and
//! `hash-columns` failing.

use std::path::{Path, PathBuf};

use crate::support::*;

/// A gate file: the ephemeral database, the schema loaded with `bugs` as a service, an `rls`
/// and an `audit-chain` check against it.
fn gate_file(dir: &Path, bugs: &[&str]) -> PathBuf {
    let service = python_service(
        "schema",
        "saas_schema_service.py",
        &["--database-url", "${db.url}", "--port", "${port}"],
        bugs,
        "60s",
    );
    let text = format!(
        r#"[gate]
name = "rls and audit-chain probes against the saas schema"

[[service]]
name = "db"
postgres = "ephemeral"

{service}
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
"#
    );
    write_gate(dir, "database-target.toml", &text)
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
    run.assert_failing("SEC-DB::rls", &[]);
    run.assert_failing("SEC-DB::audit-chain", &[]);
    for case in [
        "SEC-DB::rls::blanket-update",
        "SEC-DB::rls::move-to-other-tenant",
        "SEC-DB::audit-chain::hash-columns",
        "SEC-DB::audit-chain::gaps",
    ] {
        run.assert_stdout_has(&format!("test {case} ... ok"));
    }
}

#[test]
fn the_database_probes_catch_the_saas_schemas_bugs_as_a_service() {
    if !ready() {
        return;
    }
    let run = run_against(&["update-any", "hash-partial"]);
    assert_eq!(run.code(), 1, "{}", run.context());
    run.assert_failing(
        "SEC-DB::rls",
        &["permissive-policies fail", "blanket-update fail"],
    );
    run.assert_failing("SEC-DB::audit-chain", &["hash-columns fail"]);
}
