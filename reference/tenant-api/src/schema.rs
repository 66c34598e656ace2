//! The database schema, the app role and the demo data, applied at every start.
//!
//! Migrations run as the `DATABASE_URL` user (the owner of every object) in one transaction,
//! serialized by an advisory lock, and are idempotent: tables are created if missing, while
//! everything a flaw can change (RLS flags, policies, views, triggers, grants, role attributes)
//! is dropped and recreated, so a restart with a different flaw set converges to that set.

use postgres::{Client, Transaction};

use crate::flaw::{Flaw, Flaws};

/// Tables that carry `org_id` and are isolated per tenant by row-level security.
pub const TENANT_TABLES: [&str; 6] = [
    "team_members",
    "projects",
    "children",
    "consents",
    "child_records",
    "audit_events",
];

/// The SQL expression that recomputes an `audit_events` row's `self_hash`, with the row as `e`.
///
/// `audit_expected_hash(e audit_events)` wraps it; the chain trigger uses that function, so the
/// stored hash and this expression cannot drift apart.
pub const AUDIT_HASH_EXPRESSION: &str = "encode(sha256(convert_to(\
e.id::text || '|' || e.org_id || '|' || e.actor || '|' || e.action || '|' || e.payload::text \
|| '|' || to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
|| '|' || e.prev_hash, 'UTF8')), 'hex')";

/// The `prev_hash` of the first row of the chain.
pub const AUDIT_GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Advisory lock key that serializes concurrent migrations of one database.
const MIGRATION_LOCK_KEY: i64 = 0x7465_6e61_6e74_0001;

/// Everything a start needs to bring the database to the wanted state.
#[derive(Debug, Clone)]
pub struct MigrationPlan<'a> {
    /// Flaws whose schema variant is applied.
    pub flaws: &'a Flaws,
    /// Name of the login role the service connects as (validated: `[a-z_][a-z0-9_]*`).
    pub app_role: &'a str,
    /// Password set on the app role.
    pub app_password: &'a str,
    /// Whether to insert the deterministic demo data.
    pub seed: bool,
}

/// Applies migrations, the app role and its grants, and optionally the seed, in one transaction.
pub fn migrate(owner: &mut Client, plan: &MigrationPlan<'_>) -> Result<(), postgres::Error> {
    let mut transaction = owner.transaction()?;
    transaction.execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])?;
    transaction.batch_execute(TABLES_SQL)?;
    transaction.batch_execute(&row_level_security_sql(plan.flaws))?;
    transaction.batch_execute(FUNCTIONS_SQL)?;
    transaction.batch_execute(&flaw_functions_sql(plan.flaws))?;
    transaction.batch_execute(consent_view_sql(plan.flaws))?;
    transaction.batch_execute(&audit_triggers_sql(plan.flaws))?;
    ensure_app_role(&mut transaction, plan)?;
    transaction.batch_execute(&grants_sql(plan.flaws, plan.app_role))?;
    if plan.seed {
        transaction.batch_execute(SEED_SQL)?;
        if plan.flaws.has(Flaw::AuditBackdated) {
            transaction.batch_execute(BACKDATED_SEED_SQL)?;
        }
    }
    transaction.commit()
}

const TABLES_SQL: &str = r#"
create table if not exists orgs (
    id text primary key,
    name text not null
);
create table if not exists roles (
    id text primary key,
    name text not null unique
);
create table if not exists permissions (
    id text primary key,
    name text not null unique
);
create table if not exists role_permissions (
    role_id text not null references roles (id) on delete cascade,
    permission_id text not null references permissions (id) on delete cascade,
    primary key (role_id, permission_id)
);
create table if not exists team_members (
    org_id text not null references orgs (id),
    user_id text not null,
    role_id text not null references roles (id),
    primary key (org_id, user_id)
);
create table if not exists projects (
    id text primary key default ('prj-' || replace(gen_random_uuid()::text, '-', '')),
    org_id text not null references orgs (id),
    name text not null,
    created_at timestamptz not null default now()
);
create table if not exists children (
    org_id text not null references orgs (id),
    child_ref text not null,
    display_name text not null,
    primary key (org_id, child_ref)
);
create table if not exists consents (
    org_id text not null,
    user_id text not null,
    child_ref text not null,
    granted_at timestamptz not null default now(),
    revoked_at timestamptz,
    primary key (org_id, user_id, child_ref),
    foreign key (org_id, child_ref) references children (org_id, child_ref)
);
create table if not exists child_records (
    id text primary key,
    org_id text not null,
    child_ref text not null,
    body text not null,
    foreign key (org_id, child_ref) references children (org_id, child_ref)
);
create table if not exists audit_events (
    id bigserial primary key,
    org_id text not null,
    actor text not null,
    action text not null,
    payload jsonb not null default '{}',
    occurred_at timestamptz not null default now(),
    prev_hash text not null,
    self_hash text not null
);
-- The head of the audit chain. The chain trigger reads and moves it instead of looking up the
-- previous audit row, because under forced RLS no role but a superuser could see that row when
-- it belongs to another tenant.
create table if not exists audit_chain_head (
    singleton boolean primary key default true check (singleton),
    last_id bigint not null,
    last_hash text not null
);
create table if not exists webhook_deliveries (
    id text primary key,
    received_at timestamptz not null default now()
);

create index if not exists team_members_org_id_idx on team_members (org_id);
create index if not exists projects_org_id_idx on projects (org_id);
create index if not exists children_org_id_idx on children (org_id);
create index if not exists consents_org_id_idx on consents (org_id);
create index if not exists consents_user_child_idx on consents (user_id, child_ref);
create index if not exists child_records_org_id_idx on child_records (org_id);
create index if not exists child_records_child_idx on child_records (org_id, child_ref);
create index if not exists audit_events_org_id_idx on audit_events (org_id);
create index if not exists audit_events_occurred_at_idx on audit_events (occurred_at);
"#;

/// The tenant predicate of every policy: with no tenant set, `nullif` yields null and no row
/// matches.
const TENANT_PREDICATE: &str = "org_id = nullif(current_setting('app.org_id', true), '')";

fn row_level_security_sql(flaws: &Flaws) -> String {
    let mut sql = String::new();
    for table in TENANT_TABLES {
        sql.push_str(&format!(
            "drop policy if exists tenant_isolation on {table};\n"
        ));
        if table == "projects" && flaws.has(Flaw::RlsMissingPolicy) {
            sql.push_str(&format!(
                "alter table {table} disable row level security;\n\
                 alter table {table} no force row level security;\n"
            ));
            continue;
        }
        let force = if flaws.has(Flaw::RlsNotForced) {
            "no force"
        } else {
            "force"
        };
        sql.push_str(&format!(
            "alter table {table} enable row level security;\n\
             alter table {table} {force} row level security;\n\
             create policy tenant_isolation on {table} \
             using ({TENANT_PREDICATE}) with check ({TENANT_PREDICATE});\n"
        ));
    }
    sql.push_str(&extra_policies_sql(flaws));
    sql
}

/// The extra `projects` policies some flaws add beside `tenant_isolation`. Permissive policies
/// of one command are OR-combined, so each of these widens what the app role may do. All are
/// dropped first, so a restart with another flaw set converges.
fn extra_policies_sql(flaws: &Flaws) -> String {
    let mut sql = String::from(
        "drop policy if exists projects_update_any on projects;\n\
         drop policy if exists projects_delete_any on projects;\n\
         drop policy if exists projects_update_own on projects;\n\
         drop policy if exists projects_shared on projects;\n",
    );
    if flaws.has(Flaw::RlsMissingPolicy) {
        return sql;
    }
    if flaws.has(Flaw::RlsPermissiveUpdate) {
        // Meant for an internal editor, written without a role: a targeted UPDATE of another
        // tenant's row still reads nothing (the SELECT policy applies when the UPDATE reads
        // columns), but a blanket `UPDATE projects SET …` reaches every tenant's rows.
        sql.push_str("create policy projects_update_any on projects for update using (true);\n");
    }
    if flaws.has(Flaw::RlsPermissiveDelete) {
        sql.push_str("create policy projects_delete_any on projects for delete using (true);\n");
    }
    if flaws.has(Flaw::RlsNoWithCheck) {
        // USING limits which rows may be updated, but the new row is checked against nothing:
        // `WITH CHECK (true)` ORed with tenant_isolation's check lets A move its row to B.
        sql.push_str(&format!(
            "create policy projects_update_own on projects for update \
             using ({TENANT_PREDICATE}) with check (true);\n"
        ));
    }
    if flaws.has(Flaw::RlsOrPolicy) {
        // A "shared projects" feature: ORed with tenant_isolation, it shows every tenant's
        // shared projects to everyone, and it never looks at org_id.
        sql.push_str(
            "create policy projects_shared on projects for select using (name like 'Shared:%');\n",
        );
    }
    sql
}

/// Functions some flaws add; dropped first so a restart converges.
fn flaw_functions_sql(flaws: &Flaws) -> String {
    let mut sql = String::from("drop function if exists project_count(text);\n");
    if flaws.has(Flaw::RlsDefinerFunction) {
        // A dashboard helper made SECURITY DEFINER "so it works for every caller": it runs with
        // the migration user's rights (superuser or BYPASSRLS), so RLS never applies, and
        // EXECUTE is granted to PUBLIC by default.
        sql.push_str(
            "create function project_count(org text) returns bigint \
             language sql stable security definer set search_path = pg_catalog, public \
             as $fn$ select count(*) from public.projects p where p.org_id = $1 $fn$;\n",
        );
    }
    if flaws.has(Flaw::AuditHashPartial) || flaws.has(Flaw::AuditRewritable) {
        // AuditHashPartial: the hash was "simplified" and actor is no longer part of it, so an
        // actor can be rewritten without breaking the chain. AuditRewritable: each row is
        // hashed alone; prev_hash is stored but not hashed, so a rewritten row can be relinked
        // without changing any later hash, the head's included.
        let actor = if flaws.has(Flaw::AuditHashPartial) {
            ""
        } else {
            " || '|' || e.actor"
        };
        let prev = if flaws.has(Flaw::AuditRewritable) {
            ""
        } else {
            " || '|' || e.prev_hash"
        };
        sql.push_str(&format!(
            r#"create or replace function audit_expected_hash(e audit_events) returns text
language sql stable
as $fn$
    select encode(sha256(convert_to(
        e.id::text || '|' || e.org_id{actor} || '|' || e.action || '|' || e.payload::text
        || '|' || to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'){prev},
        'UTF8')), 'hex')
$fn$;
"#
        ));
    }
    if flaws.has(Flaw::AuditBackdated) {
        // The chain trigger no longer stamps occurred_at, so a client-supplied (or imported)
        // time is kept, and the log's time can run backwards.
        let start = FUNCTIONS_SQL
            .find("create or replace function audit_events_chain()")
            .expect("the chain trigger function is in FUNCTIONS_SQL");
        let end = start
            + FUNCTIONS_SQL[start..]
                .find("$fn$;\n")
                .expect("the chain trigger function ends")
            + "$fn$;\n".len();
        sql.push_str(
            &FUNCTIONS_SQL[start..end].replace("    new.occurred_at := clock_timestamp();\n", ""),
        );
    }
    sql
}

const FUNCTIONS_SQL: &str = r#"
-- SECURITY INVOKER: the caller's RLS applies, so only consents of the caller's tenant count.
-- The parameters are read as $1/$2 because in SQL functions column names shadow parameters.
create or replace function has_active_consent(user_id text, child_ref text) returns boolean
language sql stable security invoker
as $fn$
    select exists (
        select 1
        from public.consents c
        where c.user_id = $1
          and c.child_ref = $2
          and c.granted_at <= now()
          and (c.revoked_at is null or c.revoked_at > now())
    )
$fn$;

-- The canonical text of an audit row is timezone-independent: occurred_at is rendered in UTC
-- with microseconds, payload as jsonb's normalized text.
create or replace function audit_expected_hash(e audit_events) returns text
language sql stable
as $fn$
    select encode(sha256(convert_to(
        e.id::text || '|' || e.org_id || '|' || e.actor || '|' || e.action || '|' || e.payload::text
        || '|' || to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '|' || e.prev_hash, 'UTF8')), 'hex')
$fn$;

-- SECURITY DEFINER so that every tenant's insert can move the one global chain head, which the
-- app role may not read or write itself. Under the advisory lock, the id is drawn again so that
-- id order is chain order even when transactions drew their default ids in another order, and
-- the time is the clock's under the lock (not now(), the transaction's start), so it never runs
-- backwards in id order.
create or replace function audit_events_chain() returns trigger
language plpgsql security definer set search_path = pg_catalog, public
as $fn$
declare
    head_hash text;
begin
    perform pg_advisory_xact_lock(7526466530161665794);
    new.id := nextval(pg_get_serial_sequence('public.audit_events', 'id'));
    new.occurred_at := clock_timestamp();
    select h.last_hash into head_hash from public.audit_chain_head h where h.singleton for update;
    new.prev_hash := coalesce(head_hash, repeat('0', 64));
    new.self_hash := public.audit_expected_hash(new);
    insert into public.audit_chain_head (singleton, last_id, last_hash)
    values (true, new.id, new.self_hash)
    on conflict (singleton) do update set last_id = excluded.last_id, last_hash = excluded.last_hash;
    return new;
end
$fn$;
revoke all on function audit_events_chain() from public;

create or replace function audit_events_refuse_change() returns trigger
language plpgsql
as $fn$
begin
    raise exception 'audit_events is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$fn$;
"#;

fn consent_view_sql(flaws: &Flaws) -> &'static str {
    if flaws.has(Flaw::RlsDefinerView) {
        // The flaw: without security_invoker the view reads child_records with the rights of its
        // owner, the migration user. That user is normally a superuser or BYPASSRLS role, so RLS
        // on child_records no longer limits the view to the caller's tenant. The consent check
        // still runs as the caller and matches on child_ref alone, so a user with consent for
        // their own `child-1` also sees every other tenant's `child-1` records.
        r#"
drop view if exists visible_child_records;
create view visible_child_records as
    select r.id, r.org_id, r.child_ref, r.body
    from child_records r
    where has_active_consent(current_setting('app.user_id', true), r.child_ref);
"#
    } else {
        r#"
drop view if exists visible_child_records;
create view visible_child_records with (security_invoker = true) as
    select r.id, r.org_id, r.child_ref, r.body
    from child_records r
    where has_active_consent(current_setting('app.user_id', true), r.child_ref);
"#
    }
}

fn audit_triggers_sql(flaws: &Flaws) -> String {
    let mut sql = String::from(
        "drop trigger if exists audit_events_chain on audit_events;\n\
         create trigger audit_events_chain before insert on audit_events \
         for each row execute function audit_events_chain();\n\
         drop trigger if exists audit_events_no_update on audit_events;\n\
         drop trigger if exists audit_events_no_truncate on audit_events;\n",
    );
    if !flaws.has(Flaw::AuditUpdateAllowed) {
        sql.push_str(
            "create trigger audit_events_no_update before update or delete on audit_events \
             for each row execute function audit_events_refuse_change();\n",
        );
    }
    if !flaws.has(Flaw::AuditTruncateAllowed) {
        sql.push_str(
            "create trigger audit_events_no_truncate before truncate on audit_events \
             for each statement execute function audit_events_refuse_change();\n",
        );
    }
    sql
}

/// Creates the app role if missing and brings its attributes and password to the wanted state.
///
/// Attributes are changed only when they differ, because `ALTER ROLE … NOSUPERUSER` or
/// `… NOBYPASSRLS` needs superuser rights even when nothing would change.
fn ensure_app_role(
    transaction: &mut Transaction<'_>,
    plan: &MigrationPlan<'_>,
) -> Result<(), postgres::Error> {
    let role = plan.app_role;
    let want_bypass = plan.flaws.has(Flaw::RlsAppRoleBypass);
    let existing = transaction.query_opt(
        "select rolsuper, rolbypassrls from pg_roles where rolname = $1",
        &[&role],
    )?;
    match existing {
        None => {
            let bypass = if want_bypass {
                "bypassrls"
            } else {
                "nobypassrls"
            };
            transaction.batch_execute(&format!(
                "create role {role} login nosuperuser nocreatedb nocreaterole noinherit {bypass}"
            ))?;
        }
        Some(row) => {
            let is_super: bool = row.get(0);
            let has_bypass: bool = row.get(1);
            transaction.batch_execute(&format!(
                "alter role {role} login nocreatedb nocreaterole noinherit"
            ))?;
            if is_super {
                transaction.batch_execute(&format!("alter role {role} nosuperuser"))?;
            }
            if has_bypass != want_bypass {
                let bypass = if want_bypass {
                    "bypassrls"
                } else {
                    "nobypassrls"
                };
                transaction.batch_execute(&format!("alter role {role} {bypass}"))?;
            }
        }
    }
    // format() quotes the password on the server, so no password reaches a hand-built literal.
    let statement: String = transaction
        .query_one(
            "select format('alter role %I password %L', $1::text, $2::text)",
            &[&role, &plan.app_password],
        )?
        .get(0);
    transaction.batch_execute(&statement)
}

fn grants_sql(flaws: &Flaws, role: &str) -> String {
    let mut sql = format!(
        "do $grant$ begin execute format('grant connect on database %I to {role}', \
         current_database()); end $grant$;\n\
         grant usage on schema public to {role};\n\
         revoke all on all tables in schema public from {role};\n\
         revoke all on all sequences in schema public from {role};\n\
         grant select, insert, update, delete on projects to {role};\n\
         grant select on orgs, roles, permissions, role_permissions, children, consents, \
         child_records, visible_child_records to {role};\n\
         grant select, insert, update on team_members to {role};\n\
         grant select, insert on audit_events to {role};\n\
         grant select, insert on webhook_deliveries to {role};\n\
         grant usage on all sequences in schema public to {role};\n"
    );
    if flaws.has(Flaw::AuditUpdateAllowed) {
        sql.push_str(&format!(
            "grant update, delete on audit_events to {role};\n"
        ));
    }
    if flaws.has(Flaw::AuditTruncateAllowed) {
        sql.push_str(&format!("grant truncate on audit_events to {role};\n"));
    }
    sql
}

/// Demo data. Tenant rows are written with `app.org_id` set, so the seed also works for an
/// owner that is subject to forced RLS (one that is neither superuser nor BYPASSRLS).
const SEED_SQL: &str = r#"
insert into orgs (id, name) values ('org-a', 'Org A'), ('org-b', 'Org B')
on conflict do nothing;
insert into roles (id, name) values ('r-admin', 'admin'), ('r-member', 'member'), ('r-viewer', 'viewer')
on conflict do nothing;
insert into permissions (id, name) values
    ('p-projects-read', 'projects:read'),
    ('p-projects-write', 'projects:write'),
    ('p-projects-delete', 'projects:delete'),
    ('p-records-read', 'records:read')
on conflict do nothing;
insert into role_permissions (role_id, permission_id) values
    ('r-admin', 'p-projects-read'), ('r-admin', 'p-projects-write'),
    ('r-admin', 'p-projects-delete'), ('r-admin', 'p-records-read'),
    ('r-member', 'p-projects-read'), ('r-member', 'p-projects-write'),
    ('r-member', 'p-records-read'),
    ('r-viewer', 'p-projects-read')
on conflict do nothing;

do $seed$
declare
    org text;
    letter text;
begin
    foreach org in array array['org-a', 'org-b'] loop
        letter := right(org, 1);
        perform set_config('app.org_id', org, true);
        perform set_config('app.user_id', 'seed', true);
        insert into team_members (org_id, user_id, role_id) values
            (org, 'admin@' || org, 'r-admin'),
            (org, 'member@' || org, 'r-member'),
            (org, 'viewer@' || org, 'r-viewer')
        on conflict do nothing;
        insert into projects (id, org_id, name, created_at) values
            ('prj-' || letter || '-1', org, 'Project ' || upper(letter) || '1', '2024-01-01T00:00:00Z'::timestamptz),
            ('prj-' || letter || '-2', org, 'Project ' || upper(letter) || '2', '2024-01-02T00:00:00Z'::timestamptz)
        on conflict do nothing;
        insert into children (org_id, child_ref, display_name) values
            (org, 'child-1', 'Child 1 of ' || org),
            (org, 'child-2', 'Child 2 of ' || org)
        on conflict do nothing;
        insert into consents (org_id, user_id, child_ref, granted_at, revoked_at)
        select org, u.role || '@' || org, c.child_ref, '2024-01-01T00:00:00Z'::timestamptz, c.revoked_at
        from (values ('admin'), ('member'), ('viewer')) as u (role)
        cross join (values ('child-1', null::timestamptz),
                           ('child-2', '2024-06-01T00:00:00Z'::timestamptz)) as c (child_ref, revoked_at)
        on conflict do nothing;
        insert into child_records (id, org_id, child_ref, body) values
            ('rec-' || letter || '-1', org, 'child-1', 'record of child-1 in ' || org),
            ('rec-' || letter || '-2', org, 'child-2', 'record of child-2 in ' || org)
        on conflict do nothing;
        if not exists (select 1 from audit_events where org_id = org and action = 'seed.applied') then
            insert into audit_events (org_id, actor, action, payload)
            values (org, 'seed', 'seed.applied', jsonb_build_object('org_id', org));
        end if;
    end loop;
    perform set_config('app.org_id', '', true);
    perform set_config('app.user_id', '', true);
end
$seed$;
"#;

/// With `audit-backdated`: an imported event that keeps its original, older time.
const BACKDATED_SEED_SQL: &str = r#"
do $seed$
begin
    perform set_config('app.org_id', 'org-a', true);
    if not exists (select 1 from audit_events where action = 'legacy.imported') then
        insert into audit_events (org_id, actor, action, payload, occurred_at)
        values ('org-a', 'import', 'legacy.imported', '{}', '2020-01-01T00:00:00Z');
    end if;
    perform set_config('app.org_id', '', true);
end
$seed$;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardened_schema_forces_rls_on_every_tenant_table() {
        let sql = row_level_security_sql(&Flaws::none());
        for table in TENANT_TABLES {
            assert!(sql.contains(&format!("alter table {table} force row level security")));
            assert!(sql.contains(&format!("create policy tenant_isolation on {table}")));
        }
    }

    #[test]
    fn missing_policy_flaw_touches_projects_only() {
        let flaws = Flaws::from_iter([Flaw::RlsMissingPolicy]);
        let sql = row_level_security_sql(&flaws);
        assert!(sql.contains("alter table projects disable row level security"));
        assert!(!sql.contains("create policy tenant_isolation on projects"));
        assert!(sql.contains("create policy tenant_isolation on consents"));
    }

    #[test]
    fn hash_expression_matches_the_sql_function() {
        let compact = |text: &str| text.split_whitespace().collect::<String>();
        assert!(compact(FUNCTIONS_SQL).contains(&compact(AUDIT_HASH_EXPRESSION)));
    }
}
