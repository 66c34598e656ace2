//! Proof tests of the `rls` and `audit-chain` probes against a second, independently written
//! target: `tests/targets/saas_schema.sql` (its own schema, a uuid tenant column, policies per
//! command granted to a group role, a PL/pgSQL hash chain with other column names), loaded into
//! a fresh database of the throwaway cluster, correct or with one `-- bug:` variant. The correct
//! schema passes every case; each bug is caught by exactly its named cases; no row changes.

use std::path::Path;

use crate::support::probes::{fingerprints, probe, Outcome};
use crate::support::Database;
use relgate_probes::CaseOutcome::{Inconclusive, Pass};

const TABLES: [&str; 3] = ["saas.documents", "saas.comments", "saas.activity_log"];

/// The schema's text with the variant for `bug` (or the correct one) and this database's roles.
fn schema_sql(bug: Option<&str>, app_role: &str, group_role: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/targets/saas_schema.sql");
    let text = std::fs::read_to_string(&path).expect("read saas_schema.sql");
    let mut out = String::new();
    let mut keep = true;
    let mut known = false;
    for line in text.lines() {
        if let Some(names) = line.strip_prefix("-- correct: ") {
            keep = !names.split(", ").any(|name| Some(name) == bug);
            continue;
        }
        if let Some(name) = line.strip_prefix("-- bug: ") {
            keep = Some(name) == bug;
            known |= keep;
            continue;
        }
        if line == "-- end" {
            keep = true;
            continue;
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(bug.is_none() || known, "no `-- bug: {bug:?}` block");
    out.replace("{{app_role}}", app_role)
        .replace("{{group_role}}", group_role)
}

/// A fresh database holding the schema; returns it and the app role.
fn load(bug: Option<&str>) -> (Database, String) {
    let database = Database::create();
    let app_role = format!("saas_app_{}", database.name);
    let group_role = format!("saas_users_{}", database.name);
    database
        .owner()
        .batch_execute(&format!(
            "drop role if exists {app_role}; drop role if exists {group_role};"
        ))
        .expect("drop old roles");
    database
        .owner()
        .batch_execute(&schema_sql(bug, &app_role, &group_role))
        .unwrap_or_else(|err| panic!("load saas_schema.sql with bug {bug:?}: {err:?}"));
    (database, app_role)
}

fn rls_config(database: &Database, app_role: &str) -> String {
    format!(
        "database = \"{}\"\napp_role = \"{app_role}\"\nschemas = [\"saas\"]\ntenant_column = \"account_id\"\ntenant_setting = \"saas.account\"\n",
        database.url
    )
}

/// Runs `kind` and asserts no row of the schema's tables changed.
fn unchanged(kind: &str, config: &str, database: &Database, root: &Path) -> Outcome {
    let mut owner = database.owner();
    let before = fingerprints(&mut owner, &TABLES);
    let outcome = probe(kind, config, root);
    assert_eq!(before, fingerprints(&mut owner, &TABLES), "{}", outcome.log);
    assert!(before.values().all(|(rows, _)| *rows > 0));
    outcome
}

fn rls(bug: Option<&str>) -> Outcome {
    let (database, app_role) = load(bug);
    unchanged(
        "rls",
        &rls_config(&database, &app_role),
        &database,
        Path::new("."),
    )
}

#[test]
fn rls_passes_against_the_correct_second_target() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = rls(None);
    outcome.assert_all_pass();
    // The policies reach the app role only through its group role.
    assert!(
        outcome
            .case("permissive-policies")
            .got
            .contains("to saas_users_"),
        "{:?}",
        outcome.case("permissive-policies")
    );
    assert!(outcome.case("controls").message.contains("saas.documents"));
}

#[test]
fn rls_catches_each_bug_of_the_second_target_with_exactly_its_cases() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    for (bug, failing) in [
        ("update-any", &["blanket-update", "permissive-policies"][..]),
        ("delete-any", &["blanket-delete", "permissive-policies"]),
        (
            "no-with-check",
            &["move-to-other-tenant", "permissive-policies"],
        ),
        ("or-policy", &["permissive-policies"]),
        ("definer-function", &["definer-functions"]),
    ] {
        let outcome = rls(Some(bug));
        outcome.assert_only_failing(failing);
    }
}

/// A BYPASSRLS admin that is not a superuser cannot turn foreign keys off: a blanket DELETE of
/// A's documents stops at A's own comments, which says nothing about whose rows it reached, so
/// `blanket-delete` is inconclusive, never a pass.
#[test]
fn rls_blanket_delete_stopped_by_a_foreign_key_is_inconclusive_without_a_superuser() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (database, app_role) = load(None);
    let admin = format!("saas_admin_{}", database.name);
    database
        .owner()
        .batch_execute(&format!(
            "drop role if exists {admin}; \
             create role {admin} login bypassrls nosuperuser; \
             grant {app_role} to {admin}; \
             grant usage on schema saas to {admin}; \
             grant select on all tables in schema saas to {admin};"
        ))
        .expect("create the BYPASSRLS admin");
    let url = database
        .url
        .replacen("postgres://postgres@", &format!("postgres://{admin}@"), 1);
    let config = rls_config(&database, &app_role).replacen(&database.url, &url, 1);
    let outcome = unchanged("rls", &config, &database, Path::new("."));
    outcome.assert("blanket-delete", Inconclusive);
    let message = &outcome.case("blanket-delete").message;
    assert!(message.contains("foreign key"), "{message}");
    outcome.assert("blanket-update", Pass);
    outcome.assert("controls", Pass);
}

fn audit_config(database: &Database, app_role: &str) -> String {
    format!(
        "database = \"{}\"\napp_role = \"{app_role}\"\ntable = \"saas.activity_log\"\n\
         id_column = \"seq\"\nprev_column = \"parent_digest\"\nhash_column = \"digest\"\n\
         expected_hash = \"saas.activity_digest(e)\"\ngenesis = \"GENESIS\"\n\
         tenant_column = \"account_id\"\ntenant_setting = \"saas.account\"\n\
         time_column = \"at\"\ngapless = true\n",
        database.url
    )
}

fn audit(bug: Option<&str>) -> Outcome {
    let (database, app_role) = load(bug);
    unchanged(
        "audit-chain",
        &audit_config(&database, &app_role),
        &database,
        Path::new("."),
    )
}

#[test]
fn audit_chain_passes_against_the_correct_second_target() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = audit(None);
    outcome.assert_all_pass();
    assert!(outcome.names().contains(&"gaps"));
    let covered = &outcome.case("hash-columns").message;
    assert!(
        covered.contains("parent_digest") && covered.contains("detail"),
        "{covered}"
    );
}

#[test]
fn audit_chain_catches_each_bug_of_the_second_target_with_exactly_its_cases() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    for (bug, failing) in [
        ("hash-partial", &["hash-columns"][..]),
        ("rewritable", &["hash-columns", "rewritten-history"]),
        ("backdated", &["order"]),
        ("gapless-broken", &["gaps"]),
    ] {
        let outcome = audit(Some(bug));
        outcome.assert_only_failing(failing);
    }
}
