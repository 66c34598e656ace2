-- A small multi-tenant SaaS schema, written independently of reference/tenant-api, to try
-- relgate's `rls` and `audit-chain` probes against a second implementation.
--
-- It differs from tenant-api on purpose: its own schema (`saas`), a uuid tenant column
-- `account_id`, the tenant in the setting `saas.account`, one policy per command granted to a
-- group role (`{{group_role}}`) that the app role (`{{app_role}}`) inherits, and an audit log
-- `activity_log` chained by a PL/pgSQL trigger over `seq`, `parent_digest` and `digest` with its
-- own canonical text (format() with '/' separators, epoch-free timestamps, 'GENESIS' as the
-- first parent).
--
-- Variants: the loader (tests) keeps every `-- correct: NAME[, NAME…]` block unless one of its
-- names is the selected bug, and keeps a `-- bug: NAME` block only when NAME is selected.
-- Blocks end at `-- end`. Each bug is one realistic mistake:
--
--   update-any        the UPDATE policy's USING is `true` (an "editors fix any typo" shortcut)
--   delete-any        the DELETE policy's USING is `true`
--   no-with-check     the UPDATE policy checks the new row against nothing (WITH CHECK true)
--   or-policy         an extra SELECT policy for published documents, ORed with the tenant one
--   definer-function  a SECURITY DEFINER search helper the app role may call
--   hash-partial      the audit digest leaves out `detail`
--   rewritable        the audit digest leaves out `parent_digest`: rows are hashed alone
--   backdated         the audit trigger keeps a client-supplied `at`, and the seed backdates one
--   gapless-broken    the audit trigger draws `seq` from a sequence, so a rolled-back insert
--                     leaves a gap (the seed has one)
--
-- `{{app_role}}` and `{{group_role}}` are replaced by the loader (roles are cluster-wide, so
-- every test database gets its own). The loader runs this file as a superuser.

create schema saas;

create table saas.accounts (
    id uuid primary key,
    label text not null
);

create table saas.documents (
    doc_id bigint generated always as identity primary key,
    account_id uuid not null references saas.accounts (id),
    title text not null,
    body text not null default '',
    published boolean not null default false
);
create index on saas.documents (account_id);

create table saas.comments (
    comment_id bigint generated always as identity primary key,
    account_id uuid not null references saas.accounts (id),
    doc_id bigint not null references saas.documents (doc_id),
    said text not null
);
create index on saas.comments (account_id);

create table saas.activity_log (
    seq bigint primary key,
    account_id uuid not null,
    who text not null,
    what text not null,
    detail jsonb not null default '{}'::jsonb,
    at timestamptz not null,
    parent_digest text not null,
    digest text not null
);

create role {{group_role}} nologin;
create role {{app_role}} login inherit nosuperuser nobypassrls;
grant {{group_role}} to {{app_role}};
grant usage on schema saas to {{group_role}};
grant select on saas.accounts to {{group_role}};
grant select, insert, update, delete on saas.documents, saas.comments to {{group_role}};
grant select, insert on saas.activity_log to {{group_role}};

alter table saas.documents enable row level security;
alter table saas.documents force row level security;
alter table saas.comments enable row level security;
alter table saas.comments force row level security;
alter table saas.activity_log enable row level security;
alter table saas.activity_log force row level security;

-- The caller's account, or null when none is set (then no row matches).
create function saas.current_account() returns uuid
language sql stable
as $$ select nullif(current_setting('saas.account', true), '')::uuid $$;

create policy documents_read on saas.documents for select to {{group_role}}
    using (account_id = saas.current_account());
create policy documents_add on saas.documents for insert to {{group_role}}
    with check (account_id = saas.current_account());
-- correct: update-any
create policy documents_edit on saas.documents for update to {{group_role}}
    using (account_id = saas.current_account())
    with check (account_id = saas.current_account());
-- end
-- bug: update-any
create policy documents_edit on saas.documents for update to {{group_role}}
    using (true)
    with check (account_id = saas.current_account());
-- end
-- correct: delete-any
create policy documents_remove on saas.documents for delete to {{group_role}}
    using (account_id = saas.current_account());
-- end
-- bug: delete-any
create policy documents_remove on saas.documents for delete to {{group_role}}
    using (true);
-- end
-- bug: or-policy
create policy documents_published on saas.documents for select to {{group_role}}
    using (published);
-- end

-- correct: no-with-check
create policy comments_all on saas.comments for all to {{group_role}}
    using (account_id = saas.current_account())
    with check (account_id = saas.current_account());
-- end
-- bug: no-with-check
create policy comments_all on saas.comments for all to {{group_role}}
    using (account_id = saas.current_account());
create policy comments_edit on saas.comments for update to {{group_role}}
    using (account_id = saas.current_account())
    with check (true);
-- end

create policy activity_read on saas.activity_log for select to {{group_role}}
    using (account_id = saas.current_account());
create policy activity_add on saas.activity_log for insert to {{group_role}}
    with check (account_id = saas.current_account());

-- bug: definer-function
create function saas.search_titles(term text) returns setof text
language plpgsql stable security definer set search_path = pg_catalog, saas
as $$
begin
    return query select d.title from saas.documents d where d.title ilike '%' || term || '%';
end
$$;
-- end

-- The audit digest: sha256 over the row's canonical text.
-- correct: hash-partial, rewritable
create function saas.activity_digest(e saas.activity_log) returns text
language sql immutable
as $$
    select encode(sha256(convert_to(format('%s/%s/%s/%s/%s/%s/%s', e.seq, e.account_id, e.who, e.what,
        e.detail::text, to_char(e.at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
        e.parent_digest), 'UTF8')), 'hex')
$$;
-- end
-- bug: hash-partial
create function saas.activity_digest(e saas.activity_log) returns text
language sql immutable
as $$
    select encode(sha256(convert_to(format('%s/%s/%s/%s/%s/%s', e.seq, e.account_id, e.who, e.what,
        to_char(e.at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
        e.parent_digest), 'UTF8')), 'hex')
$$;
-- end
-- bug: rewritable
create function saas.activity_digest(e saas.activity_log) returns text
language sql immutable
as $$
    select encode(sha256(convert_to(format('%s/%s/%s/%s/%s/%s', e.seq, e.account_id, e.who, e.what,
        e.detail::text, to_char(e.at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')), 'UTF8')), 'hex')
$$;
-- end

-- Appends to the chain: serialized by a table lock, numbered without gaps from the last row
-- (read with the owner's rights: every tenant's rows), stamped with the clock.
-- correct: backdated, gapless-broken
create function saas.activity_link() returns trigger
language plpgsql security definer set search_path = pg_catalog, saas
as $$
declare
    last saas.activity_log;
begin
    lock table saas.activity_log in share row exclusive mode;
    select * into last from saas.activity_log order by seq desc limit 1;
    new.seq := coalesce(last.seq, 0) + 1;
    new.at := clock_timestamp();
    new.parent_digest := coalesce(last.digest, 'GENESIS');
    new.digest := saas.activity_digest(new);
    return new;
end
$$;
-- end
-- bug: backdated
create function saas.activity_link() returns trigger
language plpgsql security definer set search_path = pg_catalog, saas
as $$
declare
    last saas.activity_log;
begin
    lock table saas.activity_log in share row exclusive mode;
    select * into last from saas.activity_log order by seq desc limit 1;
    new.seq := coalesce(last.seq, 0) + 1;
    new.at := coalesce(new.at, clock_timestamp());
    new.parent_digest := coalesce(last.digest, 'GENESIS');
    new.digest := saas.activity_digest(new);
    return new;
end
$$;
-- end
-- bug: gapless-broken
create sequence saas.activity_seq;
create function saas.activity_link() returns trigger
language plpgsql security definer set search_path = pg_catalog, saas
as $$
declare
    last saas.activity_log;
begin
    lock table saas.activity_log in share row exclusive mode;
    select * into last from saas.activity_log order by seq desc limit 1;
    new.seq := nextval('saas.activity_seq');
    new.at := clock_timestamp();
    new.parent_digest := coalesce(last.digest, 'GENESIS');
    new.digest := saas.activity_digest(new);
    return new;
end
$$;
-- end
create trigger activity_link before insert on saas.activity_log
    for each row execute function saas.activity_link();

create function saas.activity_frozen() returns trigger
language plpgsql
as $$
begin
    raise exception 'activity_log rows are permanent (% refused)', tg_op;
end
$$;
create trigger activity_frozen before update or delete on saas.activity_log
    for each row execute function saas.activity_frozen();
create trigger activity_frozen_truncate before truncate on saas.activity_log
    for each statement execute function saas.activity_frozen();

-- Seed: two accounts, documents, comments and activity written by each tenant through RLS.
insert into saas.accounts (id, label) values
    ('11111111-1111-4111-8111-111111111111', 'Acme'),
    ('22222222-2222-4222-8222-222222222222', 'Globex');

do $seed$
declare
    acct uuid;
    first_doc bigint;
begin
    foreach acct in array array['11111111-1111-4111-8111-111111111111',
                                '22222222-2222-4222-8222-222222222222']::uuid[] loop
        perform set_config('saas.account', acct::text, true);
        insert into saas.documents (account_id, title, body)
            values (acct, 'Plan of ' || acct, 'draft'), (acct, 'Notes of ' || acct, 'notes');
        select min(d.doc_id) into first_doc from saas.documents d where d.account_id = acct;
        insert into saas.comments (account_id, doc_id, said)
            select acct, d.doc_id, 'looks good' from saas.documents d where d.account_id = acct;
        insert into saas.activity_log (account_id, who, what, detail)
            values (acct, 'seed', 'account.created', jsonb_build_object('account', acct));
        insert into saas.activity_log (account_id, who, what, detail)
            values (acct, 'seed', 'document.created', jsonb_build_object('doc', first_doc));
    end loop;
    perform set_config('saas.account', '', true);
end
$seed$;

-- bug: gapless-broken
-- A request whose transaction failed after its audit insert: the row is rolled back.
do $failed$
begin
    perform set_config('saas.account', '11111111-1111-4111-8111-111111111111', true);
    insert into saas.activity_log (account_id, who, what)
        values ('11111111-1111-4111-8111-111111111111', 'api', 'document.shared');
    raise exception 'request failed';
exception when others then
    null;
end
$failed$;
insert into saas.activity_log (account_id, who, what)
    values ('22222222-2222-4222-8222-222222222222', 'api', 'document.viewed');
-- end

-- bug: backdated
-- An "import" of an older event: the trigger keeps its timestamp, so time runs backwards.
insert into saas.activity_log (account_id, who, what, at)
    values ('11111111-1111-4111-8111-111111111111', 'import', 'legacy.event', '2020-01-01T00:00:00Z');
-- end
