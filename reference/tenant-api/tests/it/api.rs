//! End-to-end tests: a real Postgres cluster, the real `tenant-api` binary, real HTTP.
//!
//! The first half proves the hardened service refuses every attack; the second half starts the
//! service with each `--flaw` and shows the same attack now succeeds (or the catalog shows the
//! weakness), so the hardened assertions are known to be able to fail.

use crate::support;
use crate::support::tokens::{self, claims, claims_with, token};
use crate::support::{
    audit_chain_problems, now, svix_signature, webhook_secret, Database, Service,
};
use postgres::Transaction;
use serde_json::{json, Value};

const TENANT_TABLES: [&str; 6] = tenant_api::schema::TENANT_TABLES;

/// Runs `f` as the app role in a transaction with `app.org_id`/`app.user_id` set (when given),
/// then rolls back, as a probe would.
fn as_app<T>(
    database: &Database,
    org: Option<&str>,
    f: impl FnOnce(&mut Transaction<'_>) -> T,
) -> T {
    let mut client = database.app();
    let mut transaction = client.transaction().expect("begin");
    if let Some(org) = org {
        transaction
            .query_one(
                "select set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
                &[&org, &format!("admin@{org}")],
            )
            .expect("set tenant");
    }
    let result = f(&mut transaction);
    drop(transaction);
    result
}

/// Runs `statement` in a savepoint and returns the SQLSTATE it failed with, or the row count.
fn try_sql(transaction: &mut Transaction<'_>, statement: &str) -> Result<u64, String> {
    let mut savepoint = transaction.transaction().expect("savepoint");
    let result = savepoint.execute(statement, &[]).map_err(|error| {
        error
            .code()
            .map(|code| code.code().to_owned())
            .unwrap_or_else(|| error.to_string())
    });
    drop(savepoint);
    result
}

fn count(transaction: &mut Transaction<'_>, sql: &str) -> i64 {
    transaction.query_one(sql, &[]).expect("count").get(0)
}

fn project_ids(reply: &support::Reply) -> Vec<String> {
    reply.body["projects"]
        .as_array()
        .expect("projects array")
        .iter()
        .map(|project| project["id"].as_str().expect("id").to_owned())
        .collect()
}

fn record_orgs(reply: &support::Reply) -> Vec<String> {
    reply.body["records"]
        .as_array()
        .expect("records array")
        .iter()
        .map(|record| record["org_id"].as_str().expect("org_id").to_owned())
        .collect()
}

fn catalog_bool(database: &Database, sql: &str) -> bool {
    database
        .owner()
        .query_one(sql, &[])
        .expect("catalog query")
        .get(0)
}

// ---------------------------------------------------------------------------------------------
// Hardened service
// ---------------------------------------------------------------------------------------------

#[test]
fn health_and_me() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    let health = service.request("GET", "/healthz", None, None);
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({ "status": "ok" }))
    );
    let me = service.get("/v1/me", &token("member@org-a", "org-a"));
    assert_eq!(me.status, 200);
    assert_eq!(
        me.body,
        json!({
            "sub": "member@org-a",
            "org_id": "org-a",
            "role": "member",
            "permissions": ["projects:read", "projects:write", "records:read"],
        })
    );
    let es256 = service.get("/v1/me", &tokens::es256(&claims("viewer@org-b", "org-b")));
    assert_eq!(
        (es256.status, es256.body["role"].clone()),
        (200, json!("viewer"))
    );
    assert_eq!(service.stop(), Some(0), "SIGTERM exits cleanly");
}

#[test]
fn cross_org_reads_and_writes_are_not_found() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    let admin_a = token("admin@org-a", "org-a");
    let list = service.get("/v1/projects", &admin_a);
    assert_eq!(list.status, 200);
    assert_eq!(project_ids(&list), ["prj-a-1", "prj-a-2"]);
    assert_eq!(service.get("/v1/projects/prj-b-1", &admin_a).status, 404);
    let rename = json!({ "name": "pwned" });
    let patch = service.request(
        "PATCH",
        "/v1/projects/prj-b-1",
        Some(&admin_a),
        Some(&rename),
    );
    assert_eq!(patch.status, 404);
    let delete = service.request("DELETE", "/v1/projects/prj-b-1", Some(&admin_a), None);
    assert_eq!(delete.status, 404);
    let owner_view = service.get("/v1/projects/prj-b-1", &token("admin@org-b", "org-b"));
    assert_eq!(
        (owner_view.status, owner_view.body["name"].clone()),
        (200, json!("Project B1"))
    );
    // A token that claims another tenant for a user who is not a member there gets nothing.
    let claimed = service.get("/v1/projects", &token("admin@org-a", "org-b"));
    assert_eq!(claimed.status, 403);
}

#[test]
fn rls_isolates_tenants_for_the_app_role() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    as_app(&database, Some("org-a"), |sql| {
        for table in TENANT_TABLES {
            let foreign = count(
                sql,
                &format!("select count(*) from {table} where org_id <> 'org-a'"),
            );
            assert_eq!(foreign, 0, "{table} shows another tenant's rows");
            let own = count(sql, &format!("select count(*) from {table}"));
            assert!(own > 0, "{table} shows none of the tenant's own rows");
        }
        let visible = count(
            sql,
            "select count(*) from visible_child_records where org_id <> 'org-a'",
        );
        assert_eq!(visible, 0);
        assert_eq!(
            try_sql(sql, "update projects set name = 'x' where org_id = 'org-b'"),
            Ok(0)
        );
        assert_eq!(
            try_sql(sql, "delete from projects where org_id = 'org-b'"),
            Ok(0)
        );
        let insert = try_sql(
            sql,
            "insert into projects (id, org_id, name) values ('evil', 'org-b', 'x')",
        );
        assert_eq!(
            insert,
            Err("42501".to_owned()),
            "WITH CHECK refuses another tenant"
        );
        let move_row = try_sql(
            sql,
            "update projects set org_id = 'org-b' where id = 'prj-a-1'",
        );
        assert_eq!(move_row, Err("42501".to_owned()));
    });
    as_app(&database, None, |sql| {
        for table in TENANT_TABLES {
            assert_eq!(
                count(sql, &format!("select count(*) from {table}")),
                0,
                "{table} without tenant"
            );
        }
    });
    // The catalog agrees: every tenant table is enabled, forced and has a policy; the app role
    // is neither superuser nor BYPASSRLS and owns nothing; the consent view is security_invoker.
    let mut owner = database.owner();
    for table in TENANT_TABLES {
        let row = owner
            .query_one(
                "select c.relrowsecurity, c.relforcerowsecurity, \
                 exists (select 1 from pg_policy p where p.polrelid = c.oid) \
                 from pg_class c where c.relname = $1 and c.relnamespace = 'public'::regnamespace",
                &[&table],
            )
            .expect("catalog");
        assert_eq!(
            (
                row.get::<_, bool>(0),
                row.get::<_, bool>(1),
                row.get::<_, bool>(2)
            ),
            (true, true, true),
            "{table}"
        );
    }
    let role = owner
        .query_one(
            "select rolsuper, rolbypassrls, \
             exists (select 1 from pg_class where relowner = r.oid) \
             from pg_roles r where rolname = $1",
            &[&database.app_role()],
        )
        .expect("role");
    assert_eq!(
        (
            role.get::<_, bool>(0),
            role.get::<_, bool>(1),
            role.get::<_, bool>(2)
        ),
        (false, false, false)
    );
    assert!(catalog_bool(
        &database,
        "select coalesce('security_invoker=true' = any(reloptions), false) \
         from pg_class where relname = 'visible_child_records'"
    ));
}

#[test]
fn forged_tokens_are_refused() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    let good = claims("admin@org-a", "org-a");
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            tokens::rs256(&claims_with(
                "admin@org-a",
                "org-a",
                json!({ "exp": now() - 120 }),
            )),
        ),
        (
            "missing exp",
            tokens::rs256(&claims_with("admin@org-a", "org-a", json!({ "exp": null }))),
        ),
        (
            "wrong aud",
            tokens::rs256(&claims_with(
                "admin@org-a",
                "org-a",
                json!({ "aud": "other-api" }),
            )),
        ),
        (
            "missing aud",
            tokens::rs256(&claims_with("admin@org-a", "org-a", json!({ "aud": null }))),
        ),
        (
            "wrong iss",
            tokens::rs256(&claims_with(
                "admin@org-a",
                "org-a",
                json!({ "iss": "https://evil.test" }),
            )),
        ),
        (
            "missing iss",
            tokens::rs256(&claims_with("admin@org-a", "org-a", json!({ "iss": null }))),
        ),
        (
            "nbf in future",
            tokens::rs256(&claims_with(
                "admin@org-a",
                "org-a",
                json!({ "nbf": now() + 3600 }),
            )),
        ),
        ("alg none", tokens::unsigned("none", &good)),
        ("alg None", tokens::unsigned("None", &good)),
        ("alg NONE", tokens::unsigned("NONE", &good)),
        ("alg nOnE", tokens::unsigned("nOnE", &good)),
        (
            "HS256 keyed with the public key",
            tokens::hs256_with_public_key(&good),
        ),
        ("other key", tokens::rs256_other_key(&good)),
        (
            "claims tampered after signing",
            tokens::tampered(&claims("viewer@org-a", "org-a"), &good),
        ),
        ("empty signature", tokens::empty_signature(&good)),
        ("ES256 zero signature", tokens::es256_zero_signature(&good)),
        ("kid traversal and jku", tokens::rs256_embedded_jwk(&good)),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (name, forged) in &cases {
        let reply = service.get("/v1/me", forged);
        assert_eq!(reply.status, 401, "{name} was not refused");
        let challenge = reply.www_authenticate.unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "{name}: WWW-Authenticate is {challenge:?}"
        );
        assert!(
            !service.log().contains(forged.as_str()),
            "{name}: token reached the log"
        );
    }
    let missing = service.request("GET", "/v1/projects", None, None);
    assert_eq!(missing.status, 401);
    assert!(missing
        .www_authenticate
        .unwrap_or_default()
        .starts_with("Bearer"));
    assert_eq!(
        service.get("/v1/me", &tokens::rs256(&good)).status,
        200,
        "positive control"
    );
}

#[test]
fn authorized_party_is_enforced_when_configured() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start_with_args(&[], &["--authorized-party", "web-app"]);
    let azp = |value: Value| {
        tokens::rs256(&claims_with(
            "admin@org-a",
            "org-a",
            json!({ "azp": value }),
        ))
    };
    assert_eq!(service.get("/v1/me", &azp(json!("web-app"))).status, 200);
    assert_eq!(service.get("/v1/me", &azp(json!("other-app"))).status, 401);
    assert_eq!(
        service.get("/v1/me", &azp(Value::Null)).status,
        401,
        "missing azp"
    );
}

#[test]
fn rbac_matrix_is_deny_by_default() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    let rename = json!({ "name": "renamed" });
    let create = json!({ "name": "new" });
    // (user, method, path, body, expected status)
    let matrix: [(&str, &str, &str, Option<&Value>, u16); 16] = [
        ("viewer", "GET", "/v1/projects", None, 200),
        ("viewer", "GET", "/v1/projects/prj-a-1", None, 200),
        ("viewer", "POST", "/v1/projects", Some(&create), 403),
        (
            "viewer",
            "PATCH",
            "/v1/projects/prj-a-1",
            Some(&rename),
            403,
        ),
        ("viewer", "DELETE", "/v1/projects/prj-a-1", None, 403),
        ("viewer", "GET", "/v1/children/child-1/records", None, 403),
        ("member", "POST", "/v1/projects", Some(&create), 201),
        (
            "member",
            "PATCH",
            "/v1/projects/prj-a-1",
            Some(&rename),
            200,
        ),
        ("member", "DELETE", "/v1/projects/prj-a-1", None, 403),
        ("member", "GET", "/v1/children/child-1/records", None, 200),
        ("admin", "DELETE", "/v1/projects/prj-a-2", None, 204),
        ("admin", "GET", "/v1/projects/prj-a-2", None, 404),
        ("admin", "GET", "/v1/admin", None, 404),
        ("admin", "PUT", "/v1/projects/prj-a-1", Some(&rename), 405),
        ("stranger", "GET", "/v1/me", None, 403),
        ("stranger", "GET", "/v1/projects", None, 403),
    ];
    for (user, method, path, body, expected) in matrix {
        let bearer = token(&format!("{user}@org-a"), "org-a");
        let reply = service.request(method, path, Some(&bearer), body);
        assert_eq!(
            reply.status, expected,
            "{user} {method} {path}: {}",
            reply.body
        );
    }
    let invalid = service.request(
        "POST",
        "/v1/projects",
        Some(&token("admin@org-a", "org-a")),
        Some(&json!({ "name": "" })),
    );
    assert_eq!(invalid.status, 400);
}

#[test]
fn revoked_consent_is_forbidden() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    let member = token("member@org-a", "org-a");
    let active = service.get("/v1/children/child-1/records", &member);
    assert_eq!(active.status, 200);
    assert_eq!(record_orgs(&active), ["org-a"]);
    assert_eq!(
        service.get("/v1/children/child-2/records", &member).status,
        403
    );
    assert_eq!(
        service.get("/v1/children/child-9/records", &member).status,
        404
    );
}

/// One webhook delivery of a test table.
struct Delivery<'a> {
    name: &'a str,
    id: &'a str,
    timestamp: &'a str,
    signature: Option<&'a str>,
    body: &'a [u8],
}

impl<'a> Delivery<'a> {
    fn new(
        name: &'a str,
        id: &'a str,
        timestamp: &'a str,
        signature: Option<&'a str>,
        body: &'a [u8],
    ) -> Self {
        Delivery {
            name,
            id,
            timestamp,
            signature,
            body,
        }
    }
}

#[test]
fn webhooks_need_a_fresh_valid_signature() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&[]);
    let secret = webhook_secret();
    let body = json!({
        "type": "user.created",
        "data": { "id": "new@org-a", "public_metadata": { "org_id": "org-a", "role": "member" } },
    })
    .to_string();
    let body = body.as_bytes();
    let fresh = now().to_string();
    let good = svix_signature(&secret, "msg_good", &fresh, body);

    let wrong_secret = svix_signature(
        "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==",
        "msg_1",
        &fresh,
        body,
    );
    let stale = (now() - 600).to_string();
    let future = (now() + 600).to_string();
    let tampered: &[u8] = b"{\"type\":\"user.created\"}";
    let stale_signature = svix_signature(&secret, "msg_2", &stale, body);
    let future_signature = svix_signature(&secret, "msg_3", &future, body);
    let refused = [
        Delivery::new("unsigned", "msg_1", &fresh, None, body),
        Delivery::new("garbage signature", "msg_1", &fresh, Some("v1,AAAA"), body),
        Delivery::new("wrong secret", "msg_1", &fresh, Some(&wrong_secret), body),
        Delivery::new("body tampered", "msg_good", &fresh, Some(&good), tampered),
        Delivery::new("id swapped", "msg_other", &fresh, Some(&good), body),
        Delivery::new("stale", "msg_2", &stale, Some(&stale_signature), body),
        Delivery::new("future", "msg_3", &future, Some(&future_signature), body),
    ];
    for delivery in refused {
        let reply = service.webhook(
            delivery.id,
            delivery.timestamp,
            delivery.signature,
            delivery.body,
        );
        let status = reply.status;
        assert!(matches!(status, 400 | 401), "{}: {status}", delivery.name);
    }
    let rotated = format!("v1,bm90IHRoZSBvbmU= {good}");
    assert_eq!(
        service
            .webhook("msg_good", &fresh, Some(&rotated), body)
            .status,
        204
    );
    let replay = service.webhook("msg_good", &fresh, Some(&good), body);
    assert_eq!(replay.status, 400, "replayed svix-id");

    let me = service.get("/v1/me", &token("new@org-a", "org-a"));
    assert_eq!((me.status, me.body["role"].clone()), (200, json!("member")));
    let audited = catalog_bool(
        &database,
        "select exists (select 1 from audit_events where action = 'team_member.upserted' \
         and payload->>'user_id' = 'new@org-a')",
    );
    assert!(audited, "the webhook write is audited");
}

#[test]
fn audit_log_is_append_only() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&[]);
    as_app(&database, Some("org-a"), |sql| {
        for statement in [
            "update audit_events set payload = '{}'",
            "delete from audit_events",
            "truncate audit_events",
        ] {
            assert!(
                try_sql(sql, statement).is_err(),
                "app role could run: {statement}"
            );
        }
        let insert = try_sql(
            sql,
            "insert into audit_events (org_id, actor, action) values ('org-a', 'x', 'probe')",
        );
        assert_eq!(insert, Ok(1), "the app role may append");
    });
    // The guard triggers also stop the owner, whose table privileges would allow it.
    let mut owner = database.owner();
    let mut transaction = owner.transaction().expect("begin");
    transaction
        .execute("select set_config('app.org_id', 'org-a', true)", &[])
        .expect("set");
    for statement in [
        "update audit_events set actor = 'x'",
        "delete from audit_events",
        "truncate audit_events",
    ] {
        assert_eq!(
            try_sql(&mut transaction, statement),
            Err("42501".to_owned()),
            "owner could run: {statement}"
        );
    }
}

#[test]
fn audit_chain_recomputes_after_concurrent_writes() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&[]);
    std::thread::scope(|scope| {
        for (user, org) in [
            ("admin@org-a", "org-a"),
            ("member@org-b", "org-b"),
            ("admin@org-b", "org-b"),
        ] {
            let service = &service;
            scope.spawn(move || {
                let bearer = token(user, org);
                for n in 0..5 {
                    let created = service.request(
                        "POST",
                        "/v1/projects",
                        Some(&bearer),
                        Some(&json!({ "name": format!("{user} {n}") })),
                    );
                    assert_eq!(created.status, 201, "{}", created.body);
                    let id = created.body["id"].as_str().expect("id").to_owned();
                    let path = format!("/v1/projects/{id}");
                    let renamed = service.request(
                        "PATCH",
                        &path,
                        Some(&bearer),
                        Some(&json!({ "name": "renamed" })),
                    );
                    assert_eq!(renamed.status, 200);
                    if user.starts_with("admin") {
                        assert_eq!(
                            service.request("DELETE", &path, Some(&bearer), None).status,
                            204
                        );
                    }
                }
            });
        }
    });
    let mut owner = database.owner();
    let events: i64 = owner
        .query_one("select count(*) from audit_events", &[])
        .expect("count")
        .get(0);
    assert_eq!(
        events,
        2 + 15 * 2 + 10,
        "seed + create/update for all + deletes by admins"
    );
    assert_eq!(audit_chain_problems(&mut owner), Vec::<String>::new());
}

#[test]
fn restart_with_other_flaws_converges() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let database = Database::create();
    let schema_flaws = [
        "rls-not-forced",
        "rls-missing-policy",
        "rls-app-role-bypass",
        "rls-definer-view",
        "audit-update-allowed",
        "audit-truncate-allowed",
    ];
    assert_eq!(Service::start_on(&database, &schema_flaws).stop(), Some(0));
    assert!(!catalog_bool(
        &database,
        "select relforcerowsecurity from pg_class where relname = 'consents'"
    ));
    let service = Service::start_on(&database, &[]);
    let mut owner = database.owner();
    let unforced: i64 = owner
        .query_one(
            "select count(*) from pg_class c where c.relname = any($1) \
             and not (c.relrowsecurity and c.relforcerowsecurity \
                      and exists (select 1 from pg_policy p where p.polrelid = c.oid))",
            &[&TENANT_TABLES.to_vec()],
        )
        .expect("catalog")
        .get(0);
    assert_eq!(unforced, 0);
    let seeded: (i64, i64) = owner
        .query_one(
            "select (select count(*) from projects), \
             (select count(*) from audit_events where action = 'seed.applied')",
            &[],
        )
        .map(|row| (row.get(0), row.get(1)))
        .expect("seed counts");
    assert_eq!(seeded, (4, 2), "seeding twice changes nothing");
    let bypass: bool = owner
        .query_one(
            "select rolbypassrls from pg_roles where rolname = $1",
            &[&database.app_role()],
        )
        .expect("role")
        .get(0);
    assert!(!bypass);
    let guards: i64 = owner
        .query_one(
            "select count(*) from pg_trigger where tgrelid = 'audit_events'::regclass \
             and tgname in ('audit_events_no_update', 'audit_events_no_truncate') and tgenabled = 'O'",
            &[],
        )
        .expect("triggers")
        .get(0);
    assert_eq!(guards, 2);
    let may_update: bool = owner
        .query_one(
            "select has_table_privilege($1, 'audit_events', 'UPDATE, DELETE, TRUNCATE')",
            &[&database.app_role()],
        )
        .expect("privilege")
        .get(0);
    assert!(!may_update);
    assert!(catalog_bool(
        &database,
        "select coalesce('security_invoker=true' = any(reloptions), false) from pg_class where relname = 'visible_child_records'"
    ));
    assert_eq!(
        service
            .get("/v1/projects/prj-b-1", &token("admin@org-a", "org-a"))
            .status,
        404
    );
}

#[test]
fn cli_lists_flaws_and_rejects_unknown_ones() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-api"))
        .arg("--list-flaws")
        .output()
        .expect("run --list-flaws");
    assert_eq!(list.status.code(), Some(0));
    let stdout = String::from_utf8(list.stdout).expect("utf-8");
    let names: Vec<&str> = stdout
        .lines()
        .map(|line| line.split('\t').next().unwrap_or_default())
        .collect();
    let expected: Vec<&str> = tenant_api::Flaw::ALL
        .iter()
        .map(|flaw| flaw.name())
        .collect();
    assert_eq!(names, expected);
    assert!(stdout.lines().all(|line| line.split('\t').count() == 2));

    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-api"))
        .args([
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/none",
            "--flaw",
            "jwt-accept-anything",
        ])
        .output()
        .expect("run with an unknown flaw");
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown flaw `jwt-accept-anything`"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Each flaw, shown by the attack that the hardened service refuses
// ---------------------------------------------------------------------------------------------

#[test]
fn flaw_jwt_accept_expired() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["jwt-accept-expired"]);
    let expired = claims_with("admin@org-a", "org-a", json!({ "exp": now() - 3600 }));
    assert_eq!(service.get("/v1/me", &tokens::rs256(&expired)).status, 200);
    let no_exp = claims_with("admin@org-a", "org-a", json!({ "exp": null }));
    assert_eq!(service.get("/v1/me", &tokens::rs256(&no_exp)).status, 200);
}

#[test]
fn flaw_jwt_skip_aud() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["jwt-skip-aud"]);
    let other_api = claims_with("admin@org-a", "org-a", json!({ "aud": "billing-api" }));
    assert_eq!(
        service.get("/v1/me", &tokens::rs256(&other_api)).status,
        200
    );
    assert_eq!(
        service
            .get("/v1/me", &tokens::rs256_other_key(&other_api))
            .status,
        401,
        "signature still checked"
    );
}

#[test]
fn flaw_jwt_skip_iss() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["jwt-skip-iss"]);
    let other_issuer = claims_with(
        "admin@org-a",
        "org-a",
        json!({ "iss": "https://evil.test" }),
    );
    assert_eq!(
        service.get("/v1/me", &tokens::rs256(&other_issuer)).status,
        200
    );
}

#[test]
fn flaw_jwt_accept_none() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["jwt-accept-none"]);
    // An attacker becomes admin of the other tenant without any key.
    let forged = claims("admin@org-b", "org-b");
    for alg in ["none", "None", "NONE", "nOnE"] {
        let reply = service.get("/v1/me", &tokens::unsigned(alg, &forged));
        assert_eq!(
            (reply.status, reply.body["role"].clone()),
            (200, json!("admin")),
            "alg {alg}"
        );
    }
}

#[test]
fn flaw_jwt_skip_nbf() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["jwt-skip-nbf"]);
    let later = claims_with(
        "admin@org-a",
        "org-a",
        json!({ "nbf": now() + 3600, "exp": now() + 7200 }),
    );
    assert_eq!(service.get("/v1/me", &tokens::rs256(&later)).status, 200);
}

#[test]
fn flaw_jwt_hs_key_confusion() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["jwt-hs-key-confusion"]);
    let forged = tokens::hs256_with_public_key(&claims("admin@org-b", "org-b"));
    let reply = service.get("/v1/projects", &forged);
    assert_eq!(reply.status, 200);
    assert_eq!(project_ids(&reply), ["prj-b-1", "prj-b-2"]);
}

#[test]
fn flaw_webhook_skip_signature() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["webhook-skip-signature"]);
    // Anyone can make themselves admin of a tenant with an unsigned delivery.
    let body = json!({
        "type": "user.created",
        "data": { "id": "mallory", "public_metadata": { "org_id": "org-a", "role": "admin" } },
    })
    .to_string();
    let reply = service.webhook("msg_forged", &now().to_string(), None, body.as_bytes());
    assert_eq!(reply.status, 204);
    let me = service.get("/v1/me", &token("mallory", "org-a"));
    assert_eq!((me.status, me.body["role"].clone()), (200, json!("admin")));
}

#[test]
fn flaw_webhook_no_tolerance() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["webhook-no-tolerance"]);
    let secret = webhook_secret();
    let body = br#"{"type":"session.created","data":{}}"#;
    let day_old = (now() - 86_400).to_string();
    let signature = svix_signature(&secret, "msg_old", &day_old, body);
    assert_eq!(
        service
            .webhook("msg_old", &day_old, Some(&signature), body)
            .status,
        204
    );
    let next_week = (now() + 7 * 86_400).to_string();
    let signature = svix_signature(&secret, "msg_future", &next_week, body);
    assert_eq!(
        service
            .webhook("msg_future", &next_week, Some(&signature), body)
            .status,
        204
    );
}

#[test]
fn flaw_rls_not_forced() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&["rls-not-forced"]);
    let mut owner = database.owner();
    for table in TENANT_TABLES {
        let row = owner
            .query_one(
                "select relrowsecurity, relforcerowsecurity from pg_class where relname = $1",
                &[&table],
            )
            .expect("catalog");
        assert_eq!(
            (row.get::<_, bool>(0), row.get::<_, bool>(1)),
            (true, false),
            "{table}"
        );
    }
}

#[test]
fn flaw_rls_missing_policy() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&["rls-missing-policy"]);
    let admin_a = token("admin@org-a", "org-a");
    let list = service.get("/v1/projects", &admin_a);
    assert_eq!(
        project_ids(&list),
        ["prj-a-1", "prj-b-1", "prj-a-2", "prj-b-2"]
    );
    assert_eq!(service.get("/v1/projects/prj-b-1", &admin_a).status, 200);
    let rename = json!({ "name": "taken over" });
    assert_eq!(
        service
            .request(
                "PATCH",
                "/v1/projects/prj-b-1",
                Some(&admin_a),
                Some(&rename)
            )
            .status,
        200
    );
    as_app(&database, None, |sql| {
        assert_eq!(
            count(sql, "select count(*) from projects"),
            4,
            "visible without a tenant"
        );
        let insert = try_sql(
            sql,
            "insert into projects (id, org_id, name) values ('evil', 'org-b', 'x')",
        );
        assert_eq!(insert, Ok(1));
    });
    assert!(!catalog_bool(
        &database,
        "select exists (select 1 from pg_policy where polrelid = 'projects'::regclass)"
    ));
}

#[test]
fn flaw_rls_app_role_bypass() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&["rls-app-role-bypass"]);
    let reply = service.get("/v1/projects/prj-b-1", &token("viewer@org-a", "org-a"));
    assert_eq!(
        (reply.status, reply.body["org_id"].clone()),
        (200, json!("org-b"))
    );
    as_app(&database, None, |sql| {
        assert!(
            count(sql, "select count(*) from child_records") > 0,
            "visible without a tenant"
        );
    });
    let bypass = format!(
        "select rolbypassrls from pg_roles where rolname = '{}'",
        database.app_role()
    );
    assert!(catalog_bool(&database, &bypass));
}

#[test]
fn flaw_rls_definer_view() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&["rls-definer-view"]);
    let reply = service.get(
        "/v1/children/child-1/records",
        &token("member@org-a", "org-a"),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        record_orgs(&reply),
        ["org-a", "org-b"],
        "org-b's child-1 leaks through the view"
    );
    as_app(&database, Some("org-a"), |sql| {
        assert!(
            count(
                sql,
                "select count(*) from visible_child_records where org_id = 'org-b'"
            ) > 0
        );
        assert_eq!(
            count(
                sql,
                "select count(*) from child_records where org_id = 'org-b'"
            ),
            0,
            "the table itself is still isolated"
        );
    });
    assert!(!catalog_bool(
        &database,
        "select coalesce('security_invoker=true' = any(reloptions), false) from pg_class where relname = 'visible_child_records'"
    ));
}

#[test]
fn flaw_audit_update_allowed() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&["audit-update-allowed"]);
    let created = service.request(
        "POST",
        "/v1/projects",
        Some(&token("admin@org-a", "org-a")),
        Some(&json!({ "name": "x" })),
    );
    assert_eq!(created.status, 201);
    let mut client = database.app();
    let mut transaction = client.transaction().expect("begin");
    transaction
        .execute("select set_config('app.org_id', 'org-a', true)", &[])
        .expect("set");
    let updated = transaction.execute("update audit_events set actor = 'someone-else'", &[]);
    assert!(
        updated.is_ok_and(|rows| rows > 0),
        "app role rewrites history"
    );
    let deleted = transaction.execute(
        "delete from audit_events where action = 'project.created'",
        &[],
    );
    assert!(
        deleted.is_ok_and(|rows| rows > 0),
        "app role deletes history"
    );
    transaction.commit().expect("tampering commits");
    let problems = audit_chain_problems(&mut database.owner());
    assert!(!problems.is_empty(), "the chain shows the tampering");
}

#[test]
fn flaw_audit_truncate_allowed() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (_service, database) = Service::start(&["audit-truncate-allowed"]);
    let mut client = database.app();
    client
        .batch_execute("truncate audit_events")
        .expect("app role truncates the audit log");
    let left: i64 = database
        .owner()
        .query_one("select count(*) from audit_events", &[])
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "every tenant's audit rows are gone");
}

#[test]
fn flaw_rbac_allow_by_default() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["rbac-allow-by-default"]);
    let viewer = token("viewer@org-a", "org-a");
    let rename = json!({ "name": "viewer was here" });
    assert_eq!(
        service
            .request(
                "PATCH",
                "/v1/projects/prj-a-1",
                Some(&viewer),
                Some(&rename)
            )
            .status,
        200
    );
    assert_eq!(
        service
            .request("DELETE", "/v1/projects/prj-a-1", Some(&viewer), None)
            .status,
        204
    );
    assert_eq!(
        service
            .request("POST", "/v1/projects", Some(&viewer), Some(&rename))
            .status,
        403,
        "mapped routes still checked"
    );
}

#[test]
fn flaw_consent_ignored() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&["consent-ignored"]);
    let reply = service.get(
        "/v1/children/child-2/records",
        &token("member@org-a", "org-a"),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        record_orgs(&reply),
        ["org-a"],
        "revoked consent, records returned anyway"
    );
}
