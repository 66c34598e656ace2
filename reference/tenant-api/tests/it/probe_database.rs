//! Proof tests of the database probes `rls`, `audit-chain` and `rls-overhead`: each passes
//! against the hardened tenant-api, fails against every flaw it hunts with the case that
//! should catch it named, and leaves every tenant table's rows unchanged.

use crate::support;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::probes::{fingerprints, probe, probe_unchanged, Outcome};
use crate::support::{Database, Service};
use relgate_probes::CaseOutcome;

use CaseOutcome::{Fail, Inconclusive, Pass};

fn rls_config(database: &Database) -> String {
    format!(
        "database = \"{}\"\napp_role = \"{}\"\n",
        database.url,
        database.app_role()
    )
}

fn rls_against(flaws: &[&str]) -> Outcome {
    let (_service, database) = Service::start(flaws);
    probe_unchanged("rls", &rls_config(&database), &database, Path::new("."))
}

#[test]
fn rls_passes_against_the_hardened_service_and_never_prints_the_password() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    // Trust authentication ignores the password, which lets the test check it stays hidden.
    let url = database.url.replacen(
        "postgres://postgres@",
        "postgres://postgres:pw-never-shown-7731@",
        1,
    );
    let config = format!(
        "database = \"{url}\"\napp_role = \"{}\"\nschemas = [\"public\"]\nstatement_timeout = \"20s\"\n",
        database.app_role()
    );
    let outcome = probe_unchanged("rls", &config, &database, Path::new("."));
    outcome.assert_all_pass();
    assert_eq!(outcome.cases.len(), 17);
    assert!(outcome.case("controls").message.contains("org-a"));
    assert!(outcome
        .case("definer-functions")
        .message
        .contains("audit_events_chain"));
    outcome.assert_hides(&["pw-never-shown-7731"]);
}

#[test]
fn rls_with_given_tenants_attacks_both_ways() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    let config = format!(
        "{}tenants = [\"org-b\", \"org-a\"]\n",
        rls_config(&database)
    );
    let outcome = probe_unchanged("rls", &config, &database, Path::new("."));
    outcome.assert_all_pass();
    assert!(outcome.case("cross-tenant-read").message.contains("org-b"));
}

#[test]
fn rls_not_forced_fails_rls_forced() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = rls_against(&["rls-not-forced"]);
    outcome.assert("rls-forced", Fail);
    outcome.assert("rls-enabled", Pass);
    outcome.assert("cross-tenant-read", Pass);
}

#[test]
fn rls_missing_policy_fails_policies_enabled_and_every_cross_tenant_attack() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = rls_against(&["rls-missing-policy"]);
    for name in [
        "rls-enabled",
        "policies-present",
        "cross-tenant-read",
        "cross-tenant-update",
        "cross-tenant-delete",
        "cross-tenant-insert",
        "no-tenant-set",
    ] {
        outcome.assert(name, Fail);
    }
    assert!(outcome
        .case("cross-tenant-read")
        .message
        .contains("projects"));
    outcome.assert("data-unchanged", Pass);
}

#[test]
fn rls_app_role_bypass_fails_attributes_and_cross_tenant_read() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = rls_against(&["rls-app-role-bypass"]);
    outcome.assert("app-role-attributes", Fail);
    outcome.assert("cross-tenant-read", Fail);
    outcome.assert("cross-tenant-update", Fail);
    outcome.assert("no-tenant-set", Fail);
    outcome.assert("controls", Pass);
}

#[test]
fn rls_definer_view_fails_invoker_views() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = rls_against(&["rls-definer-view"]);
    outcome.assert("invoker-views", Fail);
    assert!(outcome
        .case("invoker-views")
        .message
        .contains("visible_child_records"));
}

/// Each permissive-write flaw is caught by exactly its cases; every other case passes and no
/// row changes (`probe_unchanged`).
#[test]
fn rls_permissive_write_flaws_are_caught_by_exactly_their_cases() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    for (flaw, failing) in [
        (
            "rls-permissive-update",
            &[
                "blanket-update",
                "move-to-other-tenant",
                "permissive-policies",
            ][..],
        ),
        (
            "rls-permissive-delete",
            &["blanket-delete", "permissive-policies"],
        ),
        (
            "rls-no-with-check",
            &["move-to-other-tenant", "permissive-policies"],
        ),
        ("rls-or-policy", &["permissive-policies"]),
        ("rls-definer-function", &["definer-functions"]),
    ] {
        let outcome = rls_against(&[flaw]);
        outcome.assert_only_failing(failing);
    }
}

#[test]
fn rls_blanket_writes_reach_further_than_the_targeted_ones() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = rls_against(&["rls-permissive-update"]);
    // The targeted UPDATE of B's rows reads a column, so the SELECT policy hides them ...
    outcome.assert("cross-tenant-update", Pass);
    // ... while the blanket one reads none and reaches all four projects.
    let message = &outcome.case("blanket-update").message;
    assert!(
        message.contains("4 rows updated but org-a owns 2"),
        "{message}"
    );
    assert!(outcome
        .case("permissive-policies")
        .message
        .contains("projects_update_any"));
    let outcome = rls_against(&["rls-permissive-delete"]);
    outcome.assert("cross-tenant-delete", Pass);
    assert!(outcome.case("blanket-delete").message.contains("projects"));
}

#[test]
fn rls_expected_definer_functions_are_listed_not_failed() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&["rls-definer-function"]);
    let config = format!(
        "{}expected_definer_functions = [\"public.project_count\"]\n",
        rls_config(&database)
    );
    let outcome = probe_unchanged("rls", &config, &database, Path::new("."));
    outcome.assert_all_pass();
    assert!(outcome
        .case("definer-functions")
        .message
        .contains("project_count(text)"));
}

#[test]
fn rls_with_a_tenant_that_has_no_rows_is_inconclusive_never_pass() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    let config = format!(
        "{}tenants = [\"org-a\", \"org-nobody\"]\n",
        rls_config(&database)
    );
    let outcome = probe_unchanged("rls", &config, &database, Path::new("."));
    outcome.assert("controls", Inconclusive);
    for name in [
        "cross-tenant-read",
        "cross-tenant-update",
        "cross-tenant-delete",
        "cross-tenant-insert",
        "no-tenant-set",
        "data-unchanged",
    ] {
        outcome.assert(name, Inconclusive);
    }
}

#[test]
fn rls_on_an_empty_database_is_inconclusive() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let database = Database::create();
    let outcome = probe("rls", &rls_config(&database), Path::new("."));
    assert!(
        outcome.cases.iter().all(|c| c.outcome == Inconclusive),
        "{:#?}",
        outcome.cases
    );
}

/// A fresh directory under the system temp dir for anchor files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "relgate-probe-database-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn audit_config(database: &Database, anchor: bool) -> String {
    let mut config = format!(
        "database = \"{}\"\napp_role = \"{}\"\ntable = \"audit_events\"\n",
        database.url,
        database.app_role()
    );
    if anchor {
        config.push_str("anchor = \"gate/audit-anchor.toml\"\n");
    }
    config
}

/// Runs `sql` on `audit_events` as the owner with the UPDATE/DELETE guard trigger off.
fn tamper(database: &Database, sql: &str) {
    database
        .owner()
        .batch_execute(&format!(
            "alter table audit_events disable trigger audit_events_no_update; {sql}; \
             alter table audit_events enable trigger audit_events_no_update;"
        ))
        .expect("tamper as owner");
}

#[test]
fn audit_chain_passes_against_the_hardened_service_and_anchors_the_head() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&[]);
    let root = scratch("anchor-ok");
    let config = audit_config(&database, true);
    let first = probe_unchanged("audit-chain", &config, &database, &root);
    first.assert_all_pass();
    assert!(
        first.case("anchor").message.contains("created"),
        "{:?}",
        first.case("anchor")
    );
    assert!(root.join("gate/audit-anchor.toml").is_file());

    // A write through the API moves the head; the anchored row is still there.
    let token = support::tokens::token("admin@org-a", "org-a");
    let reply = service.request(
        "POST",
        "/v1/projects",
        Some(&token),
        Some(&serde_json::json!({"name": "anchored"})),
    );
    assert_eq!(reply.status, 201);
    let second = probe_unchanged("audit-chain", &config, &database, &root);
    second.assert_all_pass();
    assert!(
        second.case("anchor").message.contains("advanced"),
        "{:?}",
        second.case("anchor")
    );

    // The default expression and the function of the schema agree.
    let by_function = format!("{config}expected_hash = \"audit_expected_hash(e)\"\n");
    probe_unchanged("audit-chain", &by_function, &database, &root).assert_all_pass();
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn audit_update_allowed_fails_update_delete_triggers_and_privileges() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&["audit-update-allowed"]);
    let outcome = probe_unchanged(
        "audit-chain",
        &audit_config(&database, false),
        &database,
        Path::new("."),
    );
    for name in [
        "update-refused",
        "delete-refused",
        "guard-triggers",
        "privileges",
    ] {
        outcome.assert(name, Fail);
    }
    outcome.assert("truncate-refused", Pass);
    outcome.assert("chain", Pass);
}

#[test]
fn audit_truncate_allowed_fails_truncate_triggers_and_privileges() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&["audit-truncate-allowed"]);
    let outcome = probe_unchanged(
        "audit-chain",
        &audit_config(&database, false),
        &database,
        Path::new("."),
    );
    for name in ["truncate-refused", "guard-triggers", "privileges"] {
        outcome.assert(name, Fail);
    }
    outcome.assert("update-refused", Pass);
    outcome.assert("delete-refused", Pass);
}

#[test]
fn audit_tampered_row_fails_chain() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    tamper(
        &database,
        "update audit_events set action = 'tampered' where id = (select min(id) from audit_events)",
    );
    let outcome = probe_unchanged(
        "audit-chain",
        &audit_config(&database, false),
        &database,
        Path::new("."),
    );
    outcome.assert("chain", Fail);
    outcome.assert("update-refused", Pass);
}

#[test]
fn audit_deleted_tail_after_an_anchor_fails_anchor() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    let root = scratch("anchor-tail");
    let config = audit_config(&database, true);
    probe_unchanged("audit-chain", &config, &database, &root).assert_all_pass();
    tamper(
        &database,
        "delete from audit_events where id = (select max(id) from audit_events)",
    );
    let outcome = probe_unchanged("audit-chain", &config, &database, &root);
    outcome.assert("anchor", Fail);
    // The shortened chain is still consistent: only the anchor can tell.
    outcome.assert("chain", Pass);
    // A failing anchor is not advanced, so the next run fails too.
    probe("audit-chain", &config, &root).assert("anchor", Fail);
    std::fs::remove_dir_all(&root).ok();
}

/// Concurrent writers: ids are redrawn under the chain lock, so the time must come from the
/// clock under that lock too (not `now()`, the transaction's start) for `order` to hold.
#[test]
fn audit_order_holds_under_concurrent_writes() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&[]);
    std::thread::scope(|scope| {
        for (user, org) in [("admin@org-a", "org-a"), ("admin@org-b", "org-b")]
            .into_iter()
            .cycle()
            .take(6)
        {
            let service = &service;
            scope.spawn(move || {
                let bearer = support::tokens::token(user, org);
                for n in 0..8 {
                    let body = serde_json::json!({ "name": format!("{user} {n}") });
                    let created =
                        service.request("POST", "/v1/projects", Some(&bearer), Some(&body));
                    assert_eq!(created.status, 201, "{}", created.body);
                }
            });
        }
    });
    let config = audit_config(&database, false);
    probe_unchanged("audit-chain", &config, &database, Path::new(".")).assert_all_pass();
}

/// Each history flaw is caught by exactly its cases, with `expected_hash` naming the schema's
/// own function (so `chain` recomputes what the target really hashes).
#[test]
fn audit_history_flaws_are_caught_by_exactly_their_cases() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    for (flaw, failing) in [
        ("audit-hash-partial", &["hash-columns"][..]),
        ("audit-rewritable", &["hash-columns", "rewritten-history"]),
        ("audit-backdated", &["order"]),
    ] {
        let (_service, database) = Service::start(&[flaw]);
        let config = format!(
            "{}expected_hash = \"audit_expected_hash(e)\"\n",
            audit_config(&database, false)
        );
        let outcome = probe_unchanged("audit-chain", &config, &database, Path::new("."));
        outcome.assert_only_failing(failing);
        if flaw == "audit-hash-partial" {
            let message = &outcome.case("hash-columns").message;
            assert!(message.contains("does not cover actor"), "{message}");
        }
    }
}

/// History rewritten from row k with a correctly recomputed chain: every hash recomputes, so
/// only the anchor sees it — and `rewritten-history` shows that the head's hash depends on k.
#[test]
fn audit_history_rewritten_with_a_recomputed_chain_is_caught_by_the_anchor() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&[]);
    let token = support::tokens::token("admin@org-a", "org-a");
    for name in ["one", "two"] {
        let body = serde_json::json!({ "name": name });
        let reply = service.request("POST", "/v1/projects", Some(&token), Some(&body));
        assert_eq!(reply.status, 201);
    }
    let root = scratch("anchor-rewrite");
    let config = audit_config(&database, true);
    probe_unchanged("audit-chain", &config, &database, &root).assert_all_pass();
    tamper(
        &database,
        "do $rewrite$ declare r record; prev text := repeat('0', 64); begin \
         update audit_events set action = 'rewritten' \
             where id = (select min(id) from audit_events); \
         for r in select id from audit_events order by id loop \
             update audit_events set prev_hash = prev where id = r.id; \
             update audit_events e set self_hash = audit_expected_hash(e) where e.id = r.id \
                 returning self_hash into prev; \
         end loop; end $rewrite$",
    );
    let outcome = probe_unchanged("audit-chain", &config, &database, &root);
    outcome.assert_only_failing(&["anchor"]);
    assert!(outcome
        .case("anchor")
        .message
        .contains("history was rewritten"));
    std::fs::remove_dir_all(&root).ok();
}

/// A database of our own: 50 000 rows over 100 tenants in `items`, forced RLS, an app role.
fn overhead_database() -> (Database, String) {
    let database = Database::create();
    let role = format!("ovh_{}", database.name);
    database
        .owner()
        .batch_execute(&format!(
            "create table items (id bigserial primary key, org_id text not null, body text not null);
             insert into items (org_id, body)
                 select 'org-' || (n % 100), md5(n::text) from generate_series(1, 50000) n;
             alter table items enable row level security;
             alter table items force row level security;
             create policy tenant_isolation on items
                 using (org_id = nullif(current_setting('app.org_id', true), ''));
             drop role if exists {role};
             create role {role} nologin nosuperuser nobypassrls;
             grant select on items to {role};
             analyze items;"
        ))
        .expect("populate the overhead database");
    (database, role)
}

fn overhead_config(database: &Database, role: &str, budget: f64) -> String {
    format!(
        "database = \"{}\"\napp_role = \"{role}\"\nquery = \"select * from items\"\nruns = 5\nbudget = {budget}\nnoise_floor = \"0ms\"\n",
        database.url
    )
}

fn items_fingerprint(database: &Database) -> BTreeMap<String, (i64, String)> {
    fingerprints(&mut database.owner(), &["items"])
}

#[test]
fn rls_overhead_needs_an_index_on_the_tenant_column_and_respects_the_budget() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (database, role) = overhead_database();
    let before = items_fingerprint(&database);

    let unindexed = probe(
        "rls-overhead",
        &overhead_config(&database, &role, 100.0),
        Path::new("."),
    );
    unindexed.assert("controls", Pass);
    unindexed.assert("tenant-index", Fail);
    unindexed.assert("overhead", Pass);
    assert!(unindexed.case("overhead").message.contains("median"));

    database
        .owner()
        .batch_execute("create index items_org_id_idx on items (org_id); analyze items;")
        .expect("index");
    let indexed = probe(
        "rls-overhead",
        &overhead_config(&database, &role, 100.0),
        Path::new("."),
    );
    indexed.assert_all_pass();
    assert!(indexed
        .case("tenant-index")
        .message
        .contains("items_org_id_idx"));

    // No real system runs a query at 1% of its unfiltered cost: a budget of -99% must fail.
    let impossible = probe(
        "rls-overhead",
        &overhead_config(&database, &role, -0.99),
        Path::new("."),
    );
    impossible.assert("overhead", Fail);

    // A threshold above the table's size turns the index into a note.
    let config = format!(
        "{}index_threshold_rows = 100000\ntenant = \"org-7\"\n",
        overhead_config(&database, &role, 100.0)
    );
    database
        .owner()
        .batch_execute("drop index items_org_id_idx")
        .expect("drop index");
    let small = probe("rls-overhead", &config, Path::new("."));
    small.assert("tenant-index", Pass);
    assert!(small.case("tenant-index").message.contains("under the"));

    assert_eq!(before, items_fingerprint(&database));
}

#[test]
fn rls_overhead_against_the_hardened_service() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    let config = format!(
        "database = \"{}\"\napp_role = \"{}\"\nquery = \"select * from projects\"\nruns = 5\nbudget = 100.0\n",
        database.url,
        database.app_role()
    );
    let outcome = probe_unchanged("rls-overhead", &config, &database, Path::new("."));
    outcome.assert_all_pass();
}
