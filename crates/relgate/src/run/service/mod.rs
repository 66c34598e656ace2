//! Services: started before the first check that needs them, stopped when the run ends (also
//! after failures, timeouts and Ctrl-C), each with its log under `logs/services/`.

mod error;
mod process;
mod ready;

pub use error::ServiceError;
use error::StartError;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::evidence::ServiceRecord;
use crate::model::clock;
use crate::run::interrupt;
use crate::spec::{self, Gate, Reference, Service, ServiceKind};

/// Where service logs go, relative to the out directory.
pub const LOG_DIR: &str = "logs/services";
/// How long a stopping process may take after SIGTERM before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// A service's address, as checks see it through `${name.url}`, `${name.host}`, `${name.port}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `postgres://…/db` or `http://127.0.0.1:PORT`.
    pub url: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    fn field(&self, field: &str) -> String {
        match field {
            "url" => self.url.clone(),
            "host" => self.host.clone(),
            _ => self.port.to_string(),
        }
    }
}

/// Replaces `${name.field}` in `text` with the endpoints' values (and `${port}` with `own_port`).
pub fn interpolate(
    text: &str,
    endpoints: &BTreeMap<String, Endpoint>,
    own_port: Option<u16>,
) -> String {
    spec::expand(text, &|reference| match reference {
        Reference::Service { name, field } => endpoints
            .get(name)
            .map(|endpoint| endpoint.field(field))
            .unwrap_or_default(),
        Reference::OwnPort => own_port.map(|port| port.to_string()).unwrap_or_default(),
    })
}

/// Hides the password of every `scheme://user:password@` in `text`.
pub fn redact_urls(text: &str) -> String {
    // Compiled once (it was compiled per call: a fifth of the gate's own CPU per check in a
    // debug build, since every argument of every command passes through here).
    static PATTERN: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"(://[^/\s:@]*:)[^@\s/]+@").expect("static regex"));
    if !text.contains("://") {
        return text.to_string();
    }
    PATTERN.replace_all(text, "${1}***@").into_owned()
}

/// The services of one run.
pub struct Services {
    gate_services: Vec<Service>,
    out_dir: PathBuf,
    /// Suffix of log names and database names, unique per process under nextest.
    tag: String,
    slots: BTreeMap<String, Mutex<Slot>>,
    started: Mutex<Vec<String>>,
    failed_records: Mutex<Vec<ServiceRecord>>,
}

enum Slot {
    NotStarted,
    Running(Box<Running>),
    Failed(String),
    Stopped,
}

struct Running {
    endpoint: Endpoint,
    handle: Handle,
    record: ServiceRecord,
    started_at: Instant,
    cleanup_token: Option<u64>,
}

enum Handle {
    Ephemeral(Option<relgate_pg::Ephemeral>),
    Server(Option<relgate_pg::RunDatabase>),
    Process(process::ProcessHandle),
}

impl Services {
    /// The services of `gate`, none started. `tag` keeps log files and database names of
    /// concurrent gate processes apart (empty for a normal run).
    pub fn new(gate: &Gate, out_dir: &Path, tag: &str) -> Services {
        Services {
            gate_services: gate.services.clone(),
            out_dir: out_dir.to_path_buf(),
            tag: tag.to_string(),
            slots: gate
                .services
                .iter()
                .map(|service| (service.name.clone(), Mutex::new(Slot::NotStarted)))
                .collect(),
            started: Mutex::new(Vec::new()),
            failed_records: Mutex::new(Vec::new()),
        }
    }

    /// Starts what is not running yet of `names` (given in start order) and returns every
    /// endpoint, or why a service could not start.
    pub fn ensure(&self, names: &[String]) -> Result<BTreeMap<String, Endpoint>, ServiceError> {
        let mut endpoints = BTreeMap::new();
        for name in names {
            let Some(service) = self.gate_services.iter().find(|s| &s.name == name) else {
                return Err(ServiceError::Unknown(name.clone()));
            };
            let mut slot = self.slots[name].lock().unwrap_or_else(|p| p.into_inner());
            if matches!(*slot, Slot::NotStarted) {
                *slot = match self.start(service, &endpoints) {
                    Ok(running) => {
                        self.started
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(name.clone());
                        Slot::Running(Box::new(running))
                    }
                    Err((message, record)) => {
                        self.started
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(name.clone());
                        self.failed_records
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(*record);
                        Slot::Failed(message)
                    }
                };
            }
            match &*slot {
                Slot::Running(running) => {
                    endpoints.insert(name.clone(), running.endpoint.clone());
                }
                Slot::Failed(message) => {
                    return Err(ServiceError::NotStarted {
                        name: name.clone(),
                        message: message.clone(),
                    })
                }
                Slot::Stopped => return Err(ServiceError::AlreadyStopped(name.clone())),
                Slot::NotStarted => unreachable!("just started"),
            }
        }
        Ok(endpoints)
    }

    /// Stops every started service, last started first, and returns their records.
    pub fn stop_all(&self) -> Vec<ServiceRecord> {
        let started = std::mem::take(&mut *self.started.lock().unwrap_or_else(|p| p.into_inner()));
        let mut records = Vec::new();
        for name in started.iter().rev() {
            let mut slot = self.slots[name].lock().unwrap_or_else(|p| p.into_inner());
            if let Slot::Running(running) = std::mem::replace(&mut *slot, Slot::Stopped) {
                records.push(self.stop(*running));
            }
        }
        records.extend(std::mem::take(
            &mut *self
                .failed_records
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        ));
        // Ledger order: start order.
        records.sort_by_key(|record| {
            started
                .iter()
                .position(|name| name == &record.name)
                .unwrap_or(usize::MAX)
        });
        records
    }

    fn log_relative(&self, name: &str) -> String {
        if self.tag.is_empty() {
            format!("{LOG_DIR}/{name}.log")
        } else {
            format!("{LOG_DIR}/{name}.{}.log", self.tag)
        }
    }

    fn start(
        &self,
        service: &Service,
        endpoints: &BTreeMap<String, Endpoint>,
    ) -> Result<Running, (String, Box<ServiceRecord>)> {
        let log_relative = self.log_relative(&service.name);
        let log_path = self.out_dir.join(&log_relative);
        let started_at = Instant::now();
        let mut record = ServiceRecord {
            name: service.name.clone(),
            service_kind: service.kind_label().to_string(),
            command: String::new(),
            url: String::new(),
            started: clock::format_timestamp(clock::now()),
            ready_ms: 0,
            stopped: String::new(),
            outcome: "failed".to_string(),
            message: String::new(),
            log: Some(log_relative),
            bytes: 0,
            sha256: None,
        };
        if let Some(dir) = log_path.parent() {
            if let Err(err) = std::fs::create_dir_all(dir) {
                return Err(self.fail(
                    record,
                    &log_path,
                    StartError::Create {
                        path: dir.to_path_buf(),
                        source: err,
                    },
                ));
            }
        }
        let started = match &service.kind {
            ServiceKind::PostgresEphemeral => {
                record.command = "postgres (ephemeral cluster)".to_string();
                self.start_ephemeral(service, &log_path)
            }
            ServiceKind::PostgresServer { url, keep } => {
                record.command = format!("create database on {}", redact_urls(url));
                self.start_server_database(url, *keep, &log_path)
            }
            ServiceKind::Process(process) => {
                let own_port = if process.wants_port {
                    match free_port() {
                        Ok(port) => Some(port),
                        Err(err) => {
                            return Err(self.fail(record, &log_path, StartError::Port(err)))
                        }
                    }
                } else {
                    None
                };
                let argv: Vec<String> = process
                    .argv
                    .iter()
                    .map(|arg| interpolate(arg, endpoints, own_port))
                    .collect();
                record.command = redact_urls(&argv.join(" "));
                process::start_process(service, process, argv, endpoints, own_port, &log_path)
            }
        };
        match started {
            Ok((endpoint, handle, cleanup_token)) => {
                record.url = redact_urls(&endpoint.url);
                record.outcome = "ready".to_string();
                record.ready_ms = started_at.elapsed().as_millis() as u64;
                Ok(Running {
                    endpoint,
                    handle,
                    record,
                    started_at,
                    cleanup_token,
                })
            }
            Err(why) => Err(self.fail(record, &log_path, why)),
        }
    }

    fn fail(
        &self,
        mut record: ServiceRecord,
        log_path: &Path,
        why: StartError,
    ) -> (String, Box<ServiceRecord>) {
        let message = redact_urls(&why.to_string());
        append_log(
            log_path,
            &format!("relgate: service did not start: {message}\n"),
        );
        record.message = message.clone();
        record.stopped = clock::format_timestamp(clock::now());
        digest_into(&mut record, log_path);
        (message, Box::new(record))
    }

    fn start_ephemeral(
        &self,
        service: &Service,
        log_path: &Path,
    ) -> Result<(Endpoint, Handle, Option<u64>), StartError> {
        let options = relgate_pg::EphemeralOptions {
            log_path: Some(log_path.to_path_buf()),
            start_timeout: service.ready_timeout,
            ..relgate_pg::EphemeralOptions::default()
        };
        let cluster = relgate_pg::Ephemeral::start(&options).map_err(StartError::Postgres)?;
        let group = interrupt::register(cluster.pid() as i32);
        let temp_dir = cluster.data_dir().parent().map(Path::to_path_buf);
        let token = interrupt::on_interrupt(move || {
            if let Some(dir) = temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        });
        let url = match cluster.create_database("relgate") {
            Ok(url) => url,
            Err(err) => {
                interrupt::forget(token);
                interrupt::unregister(group);
                return Err(StartError::Postgres(err));
            }
        };
        // The postmaster's group stays registered until the cluster is stopped.
        let _ = group;
        let endpoint = Endpoint {
            url,
            host: cluster.host().to_string(),
            port: cluster.port(),
        };
        Ok((endpoint, Handle::Ephemeral(Some(cluster)), Some(token)))
    }

    fn start_server_database(
        &self,
        url: &str,
        keep: bool,
        log_path: &Path,
    ) -> Result<(Endpoint, Handle, Option<u64>), StartError> {
        let suffix: String = if self.tag.is_empty() {
            clock::format_timestamp(clock::now())
        } else {
            self.tag.clone()
        }
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
        let name = format!("relgate_{}_{}", suffix, std::process::id());
        let database =
            relgate_pg::RunDatabase::create(url, &name, keep).map_err(StartError::Postgres)?;
        append_log(
            log_path,
            &format!(
                "relgate: created database {name} on {}{}\n",
                redact_urls(url),
                if keep { " (kept after the run)" } else { "" }
            ),
        );
        let (host, port) = host_port(database.url()).unwrap_or(("localhost".to_string(), 5432));
        let endpoint = Endpoint {
            url: database.url().to_string(),
            host,
            port,
        };
        let token = (!keep).then(|| {
            let server = url.to_string();
            let name = name.clone();
            interrupt::on_interrupt(move || {
                let _ = relgate_pg::drop_database(&server, &name);
            })
        });
        Ok((endpoint, Handle::Server(Some(database)), token))
    }

    fn stop(&self, mut running: Running) -> ServiceRecord {
        let log_relative = running.record.log.clone().unwrap_or_default();
        let log_path = self.out_dir.join(&log_relative);
        let message = match &mut running.handle {
            Handle::Ephemeral(cluster) => match cluster.take().map(relgate_pg::Ephemeral::stop) {
                Some(Ok(())) | None => "stopped; cluster removed".to_string(),
                Some(Err(err)) => format!("stopping failed: {err}"),
            },
            Handle::Server(database) => {
                let keep = matches!(
                    &self
                        .gate_services
                        .iter()
                        .find(|s| s.name == running.record.name)
                        .map(|s| &s.kind),
                    Some(ServiceKind::PostgresServer { keep: true, .. })
                );
                let result = database.take().map(relgate_pg::RunDatabase::drop_now);
                let message = match result {
                    _ if keep => "database kept (keep = true)".to_string(),
                    Some(Ok(())) | None => "database dropped".to_string(),
                    Some(Err(err)) => format!("dropping the database failed: {err}"),
                };
                append_log(&log_path, &format!("relgate: {message}\n"));
                message
            }
            Handle::Process(process) => process::stop_process(process),
        };
        if let Some(token) = running.cleanup_token {
            interrupt::forget(token);
        }
        let mut record = running.record;
        record.message = format!(
            "{message} after {}",
            spec::format_duration(running.started_at.elapsed())
        );
        record.message = redact_urls(&record.message);
        record.stopped = clock::format_timestamp(clock::now());
        digest_into(&mut record, &log_path);
        record
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        // A run that ends early (a panic) still stops its services.
        let _ = self.stop_all();
    }
}

fn digest_into(record: &mut ServiceRecord, log_path: &Path) {
    if let Ok((sha256, bytes)) = crate::model::digest::sha256_file(log_path) {
        record.sha256 = Some(sha256);
        record.bytes = bytes;
    } else {
        record.log = None;
    }
}

fn append_log(path: &Path, line: &str) {
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(crate::output::redaction::redact(line).as_bytes());
    }
}

/// A free loopback port (bind to 0, read it, close).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Host and port of a `postgres://user:pw@host:port/db` URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => Some((
            host.trim_matches(['[', ']']).to_string(),
            port.parse().ok()?,
        )),
        _ => Some((host_port.trim_matches(['[', ']']).to_string(), 5432)),
    }
}
