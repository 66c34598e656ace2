//! Start-up (migrate, app role, pool, bind) and the HTTP handlers.
//!
//! Every authenticated request runs in one transaction as the app role, after
//! `set_config('app.org_id', …, true)` and `set_config('app.user_id', …, true)` from the validated
//! token, so row-level security sees the caller's tenant and nothing else. The transaction is
//! committed only for a successful reply.

use std::io::{Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::{NoTls, Transaction};
use serde::Deserialize;
use serde_json::{json, Value};
use tiny_http::{Header, Request, Response, Server};

use crate::flaw::{Flaw, Flaws};
use crate::jwt::{JwtSettings, Principal, TokenVerifier};
use crate::pool::{Pool, PoolError};
use crate::rbac::{
    self, assign_from_body, load_member, Endpoint, Member, PermissionMap, Route, RouteMiss,
};
use crate::records::{self, Consent};
use crate::schema::{self, MigrationPlan};
use crate::shutdown;
use crate::webhook::{SvixHeaders, WebhookVerifier};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// How often idle workers look at the shutdown flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Longest accepted project name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Everything the service needs to start, already read from the command line and files.
///
/// Deliberately not `Debug`: it holds the webhook secret, the app role's password and possibly
/// a password inside the database URL.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Connection string of the database owner; migrations run as this user.
    pub database_url: String,
    /// Address to bind, e.g. `127.0.0.1:0`.
    pub listen: String,
    /// Weaknesses to switch on.
    pub flaws: Flaws,
    /// Whether to insert the demo data.
    pub seed: bool,
    /// Token validation settings and keys.
    pub jwt: JwtSettings,
    /// The `whsec_…` webhook secret.
    pub webhook_secret: String,
    /// Login role the service connects as.
    pub app_role: String,
    /// Password for the app role; random when absent.
    pub app_password: Option<String>,
    /// Number of worker threads (and the pool size).
    pub workers: usize,
}

/// Why the service could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A configured key or secret is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The owner connection string does not parse or connect.
    #[error("failed to connect to the database as the owner")]
    OwnerConnect(#[source] postgres::Error),
    /// Applying migrations, the role or the seed failed.
    #[error("failed to migrate the database")]
    Migrate(#[source] postgres::Error),
    /// The app role cannot connect.
    #[error("failed to connect as the app role")]
    AppConnect(#[source] PoolError),
    /// Binding the listen address failed.
    #[error("failed to listen on {address}: {message}")]
    Bind {
        /// The address asked for.
        address: String,
        /// The bind error.
        message: String,
    },
    /// The kernel's random source could not be read for the app role's password.
    #[error("failed to generate the app role password")]
    Random(#[source] std::io::Error),
    /// Writing the `listening on` line failed.
    #[error("failed to announce the listen address")]
    Announce(#[source] std::io::Error),
}

impl ServiceError {
    /// Whether the error comes from invalid input (exit code 2) rather than a runtime failure.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, ServiceError::Config(_))
    }
}

/// Starts the service and serves until SIGTERM or SIGINT.
///
/// Prints exactly one line to stdout, `listening on IP:PORT`, once the socket is bound.
pub fn run(config: ServiceConfig) -> Result<(), ServiceError> {
    shutdown::install();
    let tokens = TokenVerifier::new(config.jwt.clone(), &config.flaws)
        .map_err(|error| ServiceError::Config(error_chain(&error)))?;
    let webhooks = WebhookVerifier::new(&config.webhook_secret, &config.flaws)
        .map_err(|error| ServiceError::Config(error.to_string()))?;

    let owner_config: postgres::Config = config
        .database_url
        .parse()
        .map_err(ServiceError::OwnerConnect)?;
    let app_password = match &config.app_password {
        Some(password) => password.clone(),
        None => random_password().map_err(ServiceError::Random)?,
    };
    {
        let mut owner = owner_config
            .connect(NoTls)
            .map_err(ServiceError::OwnerConnect)?;
        let plan = MigrationPlan {
            flaws: &config.flaws,
            app_role: &config.app_role,
            app_password: &app_password,
            seed: config.seed,
        };
        schema::migrate(&mut owner, &plan).map_err(ServiceError::Migrate)?;
    }

    // The `rbac-idor` flaw's "lookup" connection: the owner, whom row-level security skips.
    let owner_lookup = config
        .flaws
        .has(Flaw::RbacIdor)
        .then(|| Pool::new(owner_config.clone(), 1));
    let mut app_config = owner_config;
    app_config
        .user(&config.app_role)
        .password(&app_password)
        .application_name("tenant-api");
    let pool = Pool::new(app_config, config.workers);
    drop(pool.get().map_err(ServiceError::AppConnect)?);

    let server = Server::http(config.listen.as_str()).map_err(|error| ServiceError::Bind {
        address: config.listen.clone(),
        message: error.to_string(),
    })?;
    let address = server
        .server_addr()
        .to_ip()
        .map(|address| address.to_string())
        .unwrap_or_else(|| config.listen.clone());
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {address}").map_err(ServiceError::Announce)?;
    stdout.flush().map_err(ServiceError::Announce)?;
    drop(stdout);
    // Which flaws are on is deliberately not logged: a probe must find them by attacking.
    log(&format!(
        "serving on {address} with {} workers",
        config.workers
    ));

    let app = Arc::new(App {
        pool,
        tokens,
        webhooks,
        permissions: PermissionMap::new(&config.flaws),
        consent: Consent::new(&config.flaws),
        owner_lookup,
        mass_assignment: config.flaws.has(Flaw::RbacMassAssignment),
    });
    let server = Arc::new(server);
    let workers: Vec<_> = (0..config.workers.max(1))
        .map(|_| {
            let app = Arc::clone(&app);
            let server = Arc::clone(&server);
            thread::spawn(move || serve(&app, &server))
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    log("shutting down");
    Ok(())
}

struct App {
    pool: Pool,
    tokens: TokenVerifier,
    webhooks: WebhookVerifier,
    permissions: PermissionMap,
    consent: Consent,
    /// `rbac-idor`: projects are looked up by id on this owner connection.
    owner_lookup: Option<Pool>,
    /// `rbac-mass-assignment`: a write's body may carry the caller's `role` and `org_id`.
    mass_assignment: bool,
}

/// A reply before it is turned into a tiny_http response.
pub(crate) struct Reply {
    status: u16,
    body: Option<Value>,
    www_authenticate: Option<&'static str>,
    /// Why a request was refused or failed; logged, never sent.
    note: Option<String>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            www_authenticate: None,
            note: None,
        }
    }

    fn no_content() -> Self {
        Reply {
            status: 204,
            body: None,
            www_authenticate: None,
            note: None,
        }
    }

    pub(crate) fn error(status: u16, message: &str) -> Self {
        Reply::json(status, json!({ "error": message }))
    }

    fn unauthorized(challenge: &'static str, note: String) -> Self {
        Reply {
            www_authenticate: Some(challenge),
            note: Some(note),
            ..Reply::error(401, "unauthorized")
        }
    }

    pub(crate) fn noted(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A failure inside a handler that is not the caller's fault.
#[derive(Debug, thiserror::Error)]
enum HandlerError {
    #[error("database error: {0}")]
    Database(#[from] postgres::Error),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("failed to read the request body: {0}")]
    Body(#[from] std::io::Error),
}

impl HandlerError {
    fn into_reply(self) -> Reply {
        let status = match self {
            HandlerError::Pool(_) => 503,
            HandlerError::Database(_) | HandlerError::Body(_) => 500,
        };
        Reply::error(status, "internal error").noted(self.to_string())
    }
}

fn serve(app: &App, server: &Server) {
    while !shutdown::requested() {
        match server.recv_timeout(POLL_INTERVAL) {
            Ok(Some(request)) => handle(app, request),
            Ok(None) => {}
            Err(error) => {
                log(&format!("accept failed: {error}"));
                thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

fn handle(app: &App, mut request: Request) {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    // The query string is dropped before anything is logged: it could hold a token.
    let path = request
        .url()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let reply =
        dispatch(app, &mut request, &method, &path).unwrap_or_else(HandlerError::into_reply);
    let note = reply
        .note
        .as_deref()
        .map(|note| format!(" ({note})"))
        .unwrap_or_default();
    log(&format!(
        "{method} {path} {} {}ms{note}",
        reply.status,
        started.elapsed().as_millis()
    ));
    let response = into_response(reply);
    if let Err(error) = request.respond(response) {
        log(&format!("failed to send response: {error}"));
    }
}

fn into_response(reply: Reply) -> Response<std::io::Cursor<Vec<u8>>> {
    let body = reply
        .body
        .map(|body| body.to_string().into_bytes())
        .unwrap_or_default();
    let mut response = Response::from_data(body).with_status_code(reply.status);
    if reply.status != 204 {
        response.add_header(header("Content-Type", "application/json"));
    }
    if let Some(challenge) = reply.www_authenticate {
        response.add_header(header("WWW-Authenticate", challenge));
    }
    response
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

fn dispatch(
    app: &App,
    request: &mut Request,
    method: &str,
    path: &str,
) -> Result<Reply, HandlerError> {
    match path {
        "/healthz" if method == "GET" => healthz(app),
        "/webhooks/clerk" if method == "POST" => clerk_webhook(app, request),
        "/healthz" | "/webhooks/clerk" => Ok(Reply::error(405, "method not allowed")),
        _ if path == "/v1" || path.starts_with("/v1/") => api(app, request, method, path),
        _ => Ok(Reply::error(404, "not found")),
    }
}

fn healthz(app: &App) -> Result<Reply, HandlerError> {
    let mut client = match app.pool.get() {
        Ok(client) => client,
        Err(error) => return Ok(Reply::error(503, "database unavailable").noted(error.to_string())),
    };
    match client.simple_query("select 1") {
        Ok(_) => Ok(Reply::json(200, json!({ "status": "ok" }))),
        Err(error) => Ok(Reply::error(503, "database unavailable").noted(error.to_string())),
    }
}

const CHALLENGE_MISSING: &str = "Bearer realm=\"tenant-api\"";
const CHALLENGE_INVALID: &str = "Bearer realm=\"tenant-api\", error=\"invalid_token\"";

fn api(app: &App, request: &mut Request, method: &str, path: &str) -> Result<Reply, HandlerError> {
    let Some(token) = bearer_token(request) else {
        return Ok(Reply::unauthorized(
            CHALLENGE_MISSING,
            "no bearer token".to_owned(),
        ));
    };
    let mut principal = match app.tokens.verify(&token) {
        Ok(principal) => principal,
        Err(error) => return Ok(Reply::unauthorized(CHALLENGE_INVALID, error.to_string())),
    };
    // Read the body before taking a connection, so a slow client does not hold one.
    let body = match method {
        "POST" | "PATCH" => match read_body(request)? {
            Some(body) => body,
            None => return Ok(Reply::error(413, "request body too large")),
        },
        _ => Vec::new(),
    };

    let mut client = app.pool.get()?;
    let mut transaction = client.transaction()?;
    set_tenant(&mut transaction, &principal.org_id, &principal.sub)?;
    let Some(mut member) = load_member(&mut transaction, &principal)? else {
        return Ok(Reply::error(403, "forbidden").noted("not a member of the tenant"));
    };
    if app.mass_assignment && !body.is_empty() {
        // The flaw: the body is read into the request's context, so its `org_id` and `role`
        // replace the token's tenant and the member's role.
        let Some(assigned) = assign_from_body(&mut transaction, &mut principal, member, &body)?
        else {
            return Ok(Reply::error(403, "forbidden").noted("not a member of the tenant"));
        };
        member = assigned;
    }
    let route = match rbac::route(method, path) {
        Ok(route) => route,
        Err(RouteMiss::NotFound) => return Ok(Reply::error(404, "not found")),
        Err(RouteMiss::MethodNotAllowed) => return Ok(Reply::error(405, "method not allowed")),
    };
    if !app.permissions.allows(route.endpoint, &member.permissions) {
        return Ok(Reply::error(403, "forbidden").noted(format!(
            "role {} may not call {:?}",
            member.role, route.endpoint
        )));
    }
    let request = (&route, body.as_slice(), token.as_str());
    let reply = endpoint(app, &mut transaction, &principal, &member, request)?;
    if reply.is_success() {
        transaction.commit()?;
    }
    Ok(reply)
}

fn endpoint(
    app: &App,
    transaction: &mut Transaction<'_>,
    principal: &Principal,
    member: &Member,
    (route, body, session): (&Route, &[u8], &str),
) -> Result<Reply, HandlerError> {
    let param = route.param.as_deref().unwrap_or_default();
    match route.endpoint {
        Endpoint::Me => Ok(Reply::json(
            200,
            json!({
                "sub": principal.sub,
                "org_id": principal.org_id,
                "role": member.role,
                "permissions": member.permissions,
            }),
        )),
        Endpoint::ListProjects => {
            let projects = query_json(
                transaction,
                "select coalesce(json_agg(json_build_object('id', id, 'org_id', org_id, \
                 'name', name, 'created_at', created_at) order by created_at, id), '[]')::text \
                 from projects",
                &[],
            )?;
            Ok(Reply::json(200, json!({ "projects": projects })))
        }
        Endpoint::GetProject => {
            let project = match &app.owner_lookup {
                // The flaw: by id alone, on a connection row-level security does not limit.
                Some(owner) => owner
                    .get()?
                    .query_opt(
                        &format!("select {PROJECT_JSON} from projects where id = $1"),
                        &[&param],
                    )?
                    .map(|row| serde_json::from_str(row.get(0)).unwrap_or(Value::Null)),
                // Row-level security limits the lookup to the caller's tenant.
                None => query_opt_json(
                    transaction,
                    &format!("select {PROJECT_JSON} from projects where id = $1"),
                    &[&param],
                )?,
            };
            Ok(match project {
                Some(project) => Reply::json(200, project),
                None => Reply::error(404, "not found"),
            })
        }
        Endpoint::CreateProject => {
            let name = match project_name(body) {
                Ok(name) => name,
                Err(reply) => return Ok(reply),
            };
            let project = query_json(
                transaction,
                &format!(
                    "insert into projects (org_id, name) \
                     values (current_setting('app.org_id'), $1) returning {PROJECT_JSON}"
                ),
                &[&name],
            )?;
            let payload = json!({ "project_id": project["id"], "name": name });
            audit(transaction, principal, "project.created", &payload)?;
            Ok(Reply::json(201, project))
        }
        Endpoint::UpdateProject => {
            let name = match project_name(body) {
                Ok(name) => name,
                Err(reply) => return Ok(reply),
            };
            let project = query_opt_json(
                transaction,
                &format!("update projects set name = $2 where id = $1 returning {PROJECT_JSON}"),
                &[&param, &name],
            )?;
            let Some(project) = project else {
                return Ok(Reply::error(404, "not found"));
            };
            let payload = json!({ "project_id": param, "name": name });
            audit(transaction, principal, "project.updated", &payload)?;
            Ok(Reply::json(200, project))
        }
        Endpoint::DeleteProject => {
            let deleted = transaction.execute("delete from projects where id = $1", &[&param])?;
            if deleted == 0 {
                return Ok(Reply::error(404, "not found"));
            }
            audit(
                transaction,
                principal,
                "project.deleted",
                &json!({ "project_id": param }),
            )?;
            Ok(Reply::no_content())
        }
        Endpoint::ChildRecords => Ok(records::child_records(
            &app.consent,
            transaction,
            principal,
            param,
            session,
        )?),
        Endpoint::ChildRecord => Ok(records::child_record(
            &app.consent,
            transaction,
            principal,
            param,
            route.record.as_deref().unwrap_or_default(),
            session,
        )?),
    }
}

const PROJECT_JSON: &str = "json_build_object('id', id, 'org_id', org_id, 'name', name, \
                            'created_at', created_at)::text";

fn project_name(body: &[u8]) -> Result<String, Reply> {
    #[derive(Deserialize)]
    struct ProjectInput {
        name: String,
    }
    let input: ProjectInput = serde_json::from_slice(body)
        .map_err(|_| Reply::error(400, "expected a JSON object with a string `name`"))?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Reply::error(400, "`name` must be 1 to 200 characters long"));
    }
    Ok(name.to_owned())
}

fn clerk_webhook(app: &App, request: &mut Request) -> Result<Reply, HandlerError> {
    let id = request_header(request, "svix-id");
    let timestamp = request_header(request, "svix-timestamp");
    let signature = request_header(request, "svix-signature");
    let Some(id) = id else {
        return Ok(Reply::error(400, "missing svix-id"));
    };
    if id.is_empty() {
        return Ok(Reply::error(400, "empty svix-id"));
    }
    let Some(body) = read_body(request)? else {
        return Ok(Reply::error(413, "request body too large"));
    };
    let headers = SvixHeaders {
        id: &id,
        timestamp: timestamp.as_deref(),
        signature: signature.as_deref(),
    };
    if let Err(error) = app.webhooks.verify(headers, &body, now_seconds()) {
        return Ok(Reply::error(error.status(), "webhook refused").noted(error.to_string()));
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return Ok(Reply::error(400, "body is not JSON"));
    };

    let mut client = app.pool.get()?;
    let mut transaction = client.transaction()?;
    let recorded = transaction.execute(
        "insert into webhook_deliveries (id) values ($1) on conflict do nothing",
        &[&id],
    )?;
    if recorded == 0 {
        return Ok(Reply::error(400, "webhook refused").noted("replayed svix-id"));
    }
    let reply = match event["type"].as_str() {
        Some("user.created" | "user.updated") => upsert_member(&mut transaction, &event, &id)?,
        _ => Reply::no_content().noted("event type ignored"),
    };
    if reply.is_success() {
        transaction.commit()?;
    }
    Ok(reply)
}

/// `user.created`/`user.updated`: `data.id` joins `data.public_metadata.org_id` with
/// `data.public_metadata.role` (default `viewer`).
fn upsert_member(
    transaction: &mut Transaction<'_>,
    event: &Value,
    delivery_id: &str,
) -> Result<Reply, HandlerError> {
    let data = &event["data"];
    let metadata = &data["public_metadata"];
    let (Some(user_id), Some(org_id)) = (data["id"].as_str(), metadata["org_id"].as_str()) else {
        return Ok(Reply::error(
            400,
            "event lacks data.id or data.public_metadata.org_id",
        ));
    };
    let role = metadata["role"].as_str().unwrap_or("viewer");
    let org_known: bool = transaction
        .query_one(
            "select exists (select 1 from orgs where id = $1)",
            &[&org_id],
        )?
        .get(0);
    if !org_known {
        return Ok(Reply::error(400, "unknown org"));
    }
    let actor = "webhook:clerk";
    set_tenant(transaction, org_id, actor)?;
    let upserted = transaction.execute(
        "insert into team_members (org_id, user_id, role_id) \
         select $1, $2, r.id from roles r where r.name = $3 \
         on conflict (org_id, user_id) do update set role_id = excluded.role_id",
        &[&org_id, &user_id, &role],
    )?;
    if upserted == 0 {
        return Ok(Reply::error(400, "unknown role"));
    }
    let principal = Principal {
        sub: actor.to_owned(),
        org_id: org_id.to_owned(),
    };
    let payload = json!({ "user_id": user_id, "role": role, "svix_id": delivery_id });
    audit(transaction, &principal, "team_member.upserted", &payload)?;
    Ok(Reply::no_content())
}

pub(crate) fn set_tenant(
    transaction: &mut Transaction<'_>,
    org_id: &str,
    user_id: &str,
) -> Result<(), postgres::Error> {
    transaction.query_one(
        "select set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
        &[&org_id, &user_id],
    )?;
    Ok(())
}

fn audit(
    transaction: &mut Transaction<'_>,
    principal: &Principal,
    action: &str,
    payload: &Value,
) -> Result<(), postgres::Error> {
    transaction.execute(
        "insert into audit_events (org_id, actor, action, payload) \
         values ($1, $2, $3, $4::text::jsonb)",
        &[
            &principal.org_id,
            &principal.sub,
            &action,
            &payload.to_string(),
        ],
    )?;
    Ok(())
}

pub(crate) fn query_json(
    transaction: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Value, postgres::Error> {
    let text: String = transaction.query_one(sql, params)?.get(0);
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) fn query_opt_json(
    transaction: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Option<Value>, postgres::Error> {
    let row = transaction.query_opt(sql, params)?;
    Ok(row.map(|row| {
        let text: String = row.get(0);
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }))
}

fn bearer_token(request: &Request) -> Option<String> {
    let value = request_header(request, "Authorization")?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

fn request_header(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|header| header.field.equiv(name))
        .map(|header| header.value.as_str().to_owned())
}

/// Reads the body; `None` when it is larger than [`MAX_BODY_BYTES`].
fn read_body(request: &mut Request) -> Result<Option<Vec<u8>>, std::io::Error> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut body)?;
    Ok((body.len() as u64 <= MAX_BODY_BYTES).then_some(body))
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// 32 hex characters from the kernel's random source.
fn random_password() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Writes one line to stderr; a closed stderr is not a reason to stop serving.
fn log(line: &str) {
    let _ = writeln!(std::io::stderr(), "tenant-api: {line}");
}
