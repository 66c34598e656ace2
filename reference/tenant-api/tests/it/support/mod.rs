//! Test support: one throwaway Postgres cluster for the test binary (every suite shares it), a
//! fresh database and a real `tenant-api` child process per test, HTTP over 127.0.0.1 and
//! token minting with the test keys; for the probe proof tests, the Python targets of
//! tests/targets (relgate-probes' `python_target.rs`, the one starter of both crates) and a stub
//! HTTP server.

// Only the probe proof tests use it; api.rs does not.
#[allow(dead_code)]
pub mod probes;
#[path = "../../../../../crates/relgate-probes/tests/it/support/python_target.rs"]
pub mod python_target;
pub mod stub;
pub mod tokens;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::{Client, NoTls};
use serde_json::Value;

/// Folder of the test keys, `reference/keys`.
pub fn keys_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

// One cluster per test binary, shared by all its tests. A static is never dropped, so the
// cluster is stopped at process exit (`stop_cluster`, registered with `atexit` when it starts):
// the cleanup then happens inside the test command's own run. Left to relgate-pg's watchdog,
// it would outlive the command, and this repository's gate (SEC-01::tenant-api-suite) rightly
// calls a process that outlives its command a leak. Each test's database is dropped when the
// test ends, so the cluster stays small and stops quickly.
static CLUSTER: Mutex<Option<relgate_pg::Ephemeral>> = Mutex::new(None);
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on the shared cluster, starting it first if needed.
pub fn with_cluster<T>(f: impl FnOnce(&relgate_pg::Ephemeral) -> T) -> T {
    let mut cluster = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
    if cluster.is_none() {
        let started = relgate_pg::Ephemeral::start(&relgate_pg::EphemeralOptions::default())
            .unwrap_or_else(|error| panic!("start a throwaway Postgres cluster: {error}"));
        *cluster = Some(started);
        // SAFETY: `stop_cluster` is a plain `extern "C" fn` that never unwinds.
        let registered = unsafe { libc::atexit(stop_cluster) };
        assert_eq!(registered, 0, "register the cluster's cleanup with atexit");
    }
    f(cluster.as_ref().expect("the cluster was just started"))
}

/// Stops the shared cluster and removes its directories; called by `exit`, after every test.
extern "C" fn stop_cluster() {
    // Never unwind out of an `extern "C"` function: a panic here would abort the process.
    let _ = std::panic::catch_unwind(|| {
        let cluster = CLUSTER
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(cluster) = cluster {
            if let Err(error) = cluster.stop() {
                eprintln!("stop the throwaway Postgres cluster: {error}");
            }
        }
    });
}

/// A new empty database in the shared cluster, dropped (with its app role) when the value is.
pub struct Database {
    /// Its name, unique within the test binary.
    pub name: String,
    /// Owner connection string (the cluster's superuser).
    pub url: String,
}

impl Database {
    /// Creates the next database.
    pub fn create() -> Database {
        let name = format!("tenant_api_{}", DATABASES.fetch_add(1, Ordering::SeqCst));
        let url = with_cluster(|cluster| cluster.create_database(&name))
            .unwrap_or_else(|error| panic!("create database {name}: {error}"));
        Database { name, url }
    }

    /// The app role name used for this database (one per database, so tests do not race on
    /// a shared role's password or attributes).
    pub fn app_role(&self) -> String {
        format!("app_{}", self.name)
    }

    /// Connects as the owner.
    pub fn owner(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect as owner")
    }

    /// Connects as the app role.
    pub fn app(&self) -> Client {
        let mut config: postgres::Config = self.url.parse().expect("owner url parses");
        config.user(&self.app_role()).password(APP_PASSWORD);
        config.connect(NoTls).expect("connect as app role")
    }
}

impl Drop for Database {
    /// Best effort, never panics: whatever is left goes with the cluster at exit. Connections
    /// still open (a service the test has not stopped yet) are ended by `WITH (FORCE)`.
    fn drop(&mut self) {
        let dropped = with_cluster(|cluster| {
            let mut client = cluster.connect("postgres")?;
            // Two statements, two queries: DROP DATABASE refuses to run in the implicit
            // transaction of a multi-statement query.
            let database = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
            client.batch_execute(&database)?;
            client.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.app_role()))?;
            Ok::<(), Box<dyn std::error::Error>>(())
        });
        if let Err(error) = dropped {
            eprintln!("drop database {}: {error:?}", self.name);
        }
    }
}

/// Password the tests give the app role.
pub const APP_PASSWORD: &str = "app-password-for-tests";

/// A running `tenant-api` child process.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

/// An HTTP reply, read in full.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body as JSON, or `Null` when empty or not JSON.
    pub body: Value,
    /// The `WWW-Authenticate` header, if sent.
    pub www_authenticate: Option<String>,
}

impl Service {
    /// Starts the service with `flaws` on a fresh seeded database.
    pub fn start(flaws: &[&str]) -> (Service, Database) {
        let database = Database::create();
        let service = Service::start_on(&database, flaws);
        (service, database)
    }

    /// Starts the service with `flaws` and extra command-line `args` on a fresh database.
    pub fn start_with_args(flaws: &[&str], args: &[&str]) -> (Service, Database) {
        let database = Database::create();
        let service = Service::launch(&database, flaws, args);
        (service, database)
    }

    /// Starts the service with `flaws` on an existing database (migrations re-applied).
    pub fn start_on(database: &Database, flaws: &[&str]) -> Service {
        Service::launch(database, flaws, &[])
    }

    fn launch(database: &Database, flaws: &[&str], args: &[&str]) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenant-api"));
        command
            .arg("--database-url")
            .arg(&database.url)
            .arg("--seed")
            .arg("--app-role")
            .arg(database.app_role())
            .arg("--app-password")
            .arg(APP_PASSWORD)
            .arg("--workers")
            .arg("4")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for flaw in flaws {
            command.arg("--flaw").arg(flaw);
        }
        command.args(args);
        let mut child = command.spawn().expect("spawn tenant-api");

        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stderr.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buffer[..read]).into_owned();
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_str(&text);
            }
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = sender.send(first);
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_default();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut service = Service {
            child,
            base: String::new(),
            log,
            agent,
        };
        let Some(address) = line.trim().strip_prefix("listening on ") else {
            thread::sleep(Duration::from_millis(200));
            panic!(
                "tenant-api did not announce its address (got {line:?}); log:\n{}",
                service.log()
            );
        };
        service.base = format!("http://{address}");
        service
    }

    /// Everything the service wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.raw(
            method,
            path,
            token.map(|token| format!("Bearer {token}")),
            &[],
            body.map(|body| body.to_string().into_bytes()),
        )
    }

    /// `GET path` with a bearer token.
    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None)
    }

    /// Sends a request with explicit headers and raw body.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut builder = http_request(method, &url);
        if let Some(authorization) = authorization {
            builder = builder.header("Authorization", authorization);
        }
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let request = builder
            .body(body.unwrap_or_default())
            .expect("request builds");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}; log:\n{}", self.log()));
        let status = response.status().as_u16();
        let www_authenticate = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            www_authenticate,
        }
    }

    /// Delivers a webhook with the given Svix headers.
    pub fn webhook(
        &self,
        id: &str,
        timestamp: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let mut headers = vec![
            ("svix-id", id.to_owned()),
            ("svix-timestamp", timestamp.to_owned()),
            ("content-type", "application/json".to_owned()),
        ];
        if let Some(signature) = signature {
            headers.push(("svix-signature", signature.to_owned()));
        }
        self.raw(
            "POST",
            "/webhooks/clerk",
            None,
            &headers,
            Some(body.to_vec()),
        )
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        self.terminate()
    }

    fn terminate(&mut self) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().ok().and_then(|status| status.code())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.terminate();
        if thread::panicking() {
            eprintln!("--- tenant-api log ---\n{}", self.log());
        }
    }
}

fn http_request(method: &str, url: &str) -> ureq::http::request::Builder {
    ureq::http::Request::builder().method(method).uri(url)
}

/// The webhook secret of `reference/keys/webhook-secret.txt`.
pub fn webhook_secret() -> String {
    std::fs::read_to_string(keys_dir().join("webhook-secret.txt"))
        .expect("read webhook secret")
        .trim()
        .to_owned()
}

/// `v1,<base64 HMAC>` over `{id}.{timestamp}.{body}` with `secret`.
pub fn svix_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    tenant_api::webhook::sign(secret, id, timestamp, body).expect("secret is whsec_…")
}

/// Verifies the whole audit chain as the owner: every `self_hash` equals the documented
/// expression recomputed in SQL and in Rust, and every `prev_hash` links to the row before.
pub fn audit_chain_problems(owner: &mut Client) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let rows = owner
        .query(
            "select id, org_id, actor, action, payload::text, \
             to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
             prev_hash, self_hash, audit_expected_hash(a) \
             from audit_events a order by id",
            &[],
        )
        .expect("read audit chain");
    let mut problems = Vec::new();
    let mut previous = tenant_api::schema::AUDIT_GENESIS_HASH.to_owned();
    for row in rows {
        let id: i64 = row.get(0);
        let canonical = format!(
            "{id}|{}|{}|{}|{}|{}|{}",
            row.get::<_, String>(1),
            row.get::<_, String>(2),
            row.get::<_, String>(3),
            row.get::<_, String>(4),
            row.get::<_, String>(5),
            row.get::<_, String>(6),
        );
        let recomputed: String = Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let prev_hash: String = row.get(6);
        let self_hash: String = row.get(7);
        let expected: String = row.get(8);
        if prev_hash != previous {
            problems.push(format!(
                "row {id}: prev_hash does not link to the row before"
            ));
        }
        if self_hash != expected {
            problems.push(format!("row {id}: self_hash != audit_expected_hash(row)"));
        }
        if self_hash != recomputed {
            problems.push(format!(
                "row {id}: self_hash != sha256 of the canonical text"
            ));
        }
        previous = self_hash;
    }
    problems
}
