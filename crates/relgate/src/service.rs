//! Services: started before the first check that needs them, stopped when the run ends (also
//! after failures, timeouts and Ctrl-C), each with its log under `logs/services/`.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::evidence::ServiceRecord;
use crate::model::clock;
use crate::spec::{self, Gate, ProcessSpec, ReadyProbe, Reference, Service, ServiceKind};
use crate::supervisor::{Launch, Supervised};
use crate::{exec, interrupt};

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
    Process(ProcessHandle),
}

struct ProcessHandle {
    /// `None` once it has been stopped.
    supervised: Option<Supervised>,
    pump: Option<std::thread::JoinHandle<()>>,
    pump_done: mpsc::Receiver<()>,
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
    pub fn ensure(&self, names: &[String]) -> Result<BTreeMap<String, Endpoint>, String> {
        let mut endpoints = BTreeMap::new();
        for name in names {
            let Some(service) = self.gate_services.iter().find(|s| &s.name == name) else {
                return Err(format!("no service `{name}`"));
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
                    return Err(format!("service `{name}` did not start: {message}"))
                }
                Slot::Stopped => return Err(format!("service `{name}` was already stopped")),
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
                    format!("cannot create {}: {err}", dir.display()),
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
                            return Err(self.fail(
                                record,
                                &log_path,
                                format!("cannot pick a free port: {err}"),
                            ))
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
                start_process(service, process, argv, endpoints, own_port, &log_path)
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
            Err(message) => Err(self.fail(record, &log_path, message)),
        }
    }

    fn fail(
        &self,
        mut record: ServiceRecord,
        log_path: &Path,
        message: String,
    ) -> (String, Box<ServiceRecord>) {
        let message = redact_urls(&message);
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
    ) -> Result<(Endpoint, Handle, Option<u64>), String> {
        let options = relgate_pg::EphemeralOptions {
            log_path: Some(log_path.to_path_buf()),
            start_timeout: service.ready_timeout,
            ..relgate_pg::EphemeralOptions::default()
        };
        let cluster = relgate_pg::Ephemeral::start(&options).map_err(|err| err.to_string())?;
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
                return Err(err.to_string());
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
    ) -> Result<(Endpoint, Handle, Option<u64>), String> {
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
            relgate_pg::RunDatabase::create(url, &name, keep).map_err(|err| err.to_string())?;
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
            Handle::Process(process) => stop_process(process),
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
        let _ = file.write_all(crate::redaction::redact(line).as_bytes());
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

fn start_process(
    service: &Service,
    process: &ProcessSpec,
    argv: Vec<String>,
    endpoints: &BTreeMap<String, Endpoint>,
    own_port: Option<u16>,
    log_path: &Path,
) -> Result<(Endpoint, Handle, Option<u64>), String> {
    let deadline = Instant::now() + service.ready_timeout;
    let log = std::fs::File::create(log_path)
        .map_err(|err| format!("cannot create {}: {err}", log_path.display()))?;
    let (reader, writer) = std::io::pipe().map_err(|err| format!("cannot create a pipe: {err}"))?;
    let program = argv.first().ok_or("empty command")?;
    let env: BTreeMap<String, String> = process
        .env
        .iter()
        .map(|(key, value)| (key.clone(), interpolate(value, endpoints, own_port)))
        .collect();
    let launch = Launch {
        argv: &argv,
        cwd: &process.cwd,
        env: &env,
        leak_timeout: None,
        kill_grace: STOP_GRACE,
    };
    let supervised = Supervised::spawn(&launch, writer)
        .map_err(|err| format!("cannot start `{program}`: {err}"))?;
    let (address_tx, address_rx) = mpsc::channel();
    let (done_tx, pump_done) = mpsc::channel();
    let pump = std::thread::Builder::new()
        .name(format!("relgate-service-{}", service.name))
        .spawn(move || {
            pump_log(reader, log, address_tx);
            let _ = done_tx.send(());
        })
        .map_err(|err| format!("cannot start the log reader: {err}"))?;
    let mut handle = ProcessHandle {
        supervised: Some(supervised),
        pump: Some(pump),
        pump_done,
    };
    let result = wait_ready(
        service,
        process,
        own_port,
        &mut handle,
        &address_rx,
        deadline,
    );
    match result {
        Ok(endpoint) => Ok((endpoint, Handle::Process(handle), None)),
        Err(message) => {
            let stopped = stop_process(&mut handle);
            let tail = exec::read_tail(log_path, 4096)
                .map(|bytes| exec::tail_text(&bytes, 15))
                .unwrap_or_default();
            let _ = stopped;
            Err(if tail.trim().is_empty() {
                message
            } else {
                format!("{message}; last lines of its log:\n{}", tail.trim_end())
            })
        }
    }
}

fn wait_ready(
    service: &Service,
    process: &ProcessSpec,
    own_port: Option<u16>,
    handle: &mut ProcessHandle,
    address_rx: &mpsc::Receiver<(String, u16)>,
    deadline: Instant,
) -> Result<Endpoint, String> {
    let timeout = spec::format_duration(service.ready_timeout);
    let exited = |handle: &mut ProcessHandle| -> Option<String> {
        let supervised = handle.supervised.as_mut()?;
        match supervised.wait_exit(Duration::ZERO) {
            Some(status) => Some(format!("exited ({status}) before it was ready")),
            None if supervised.lost() => Some("its supervisor was killed".to_string()),
            None => None,
        }
    };
    let (host, port) = match own_port {
        Some(port) => ("127.0.0.1".to_string(), port),
        None => loop {
            match address_rx.recv_timeout(POLL) {
                Ok(address) => break address,
                Err(_) => {
                    if let Some(why) = exited(handle) {
                        return Err(why);
                    }
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "printed no `listening on HOST:PORT` line within {timeout} (or say `${{port}}` in its command to give it a port)"
                        ));
                    }
                }
            }
        },
    };
    loop {
        if let Some(why) = exited(handle) {
            return Err(why);
        }
        let ready = match &process.ready {
            ReadyProbe::Tcp => tcp_ready(&host, port),
            ReadyProbe::Http(path) => http_ready(&host, port, path),
        };
        match ready {
            Ok(()) => break,
            Err(why) if Instant::now() >= deadline => {
                return Err(format!("not ready within {timeout}: {why}"))
            }
            Err(_) => std::thread::sleep(POLL * 2),
        }
    }
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Ok(Endpoint {
        url: format!("http://{url_host}:{port}"),
        host,
        port,
    })
}

fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {host}: {err}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .map_err(|err| format!("connect to {host}:{port}: {err}"))
}

fn tcp_ready(host: &str, port: u16) -> Result<(), String> {
    connect(host, port).map(drop)
}

/// `GET path` answered with a 2xx status.
fn http_ready(host: &str, port: u16, path: &str) -> Result<(), String> {
    let mut stream = connect(host, port)?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("GET {path}: {err}"))?;
    let mut status_line = String::new();
    std::io::BufReader::new(stream.take(1024))
        .read_line(&mut status_line)
        .map_err(|err| format!("GET {path}: {err}"))?;
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code.starts_with('2') && code.len() == 3 {
        Ok(())
    } else {
        Err(format!("GET {path} answered `{}`", status_line.trim()))
    }
}

/// Copies the service's output into its log, and sends the first `listening on HOST:PORT`.
fn pump_log(
    reader: std::io::PipeReader,
    mut log: std::fs::File,
    address_tx: mpsc::Sender<(String, u16)>,
) {
    let pattern =
        Regex::new(r"listening on (?:[a-z]+://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})")
            .expect("static regex");
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    let mut found = false;
    // The same line redactor as checks' logs: key blocks across lines, long lines carried over.
    let mut redactor = crate::redaction::LineRedactor::new();
    loop {
        line.clear();
        // Lines are bounded so that a service printing without newlines cannot grow memory.
        match (&mut reader).take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                let _ = redactor.finish(&mut |bytes| log.write_all(bytes));
                return;
            }
            Ok(_) => {}
        }
        if redactor
            .push(&line, &mut |bytes| log.write_all(bytes))
            .is_err()
        {
            return;
        }
        if !found {
            let text = String::from_utf8_lossy(&line);
            if let Some(captures) = pattern.captures(&text) {
                if let Ok(port) = captures[2].parse::<u16>() {
                    let host = captures[1].trim_matches(['[', ']']).to_string();
                    let host = if host == "0.0.0.0" {
                        "127.0.0.1".to_string()
                    } else if host == "::" {
                        "::1".to_string()
                    } else {
                        host
                    };
                    found = address_tx.send((host, port)).is_ok();
                }
            }
        }
    }
}

/// SIGTERM to every process of the service (its whole tree, not only its process group), a
/// grace period, SIGKILL to what is left; reaps and joins the log reader.
fn stop_process(handle: &mut ProcessHandle) -> String {
    let Some(mut supervised) = handle.supervised.take() else {
        return "already stopped".to_string();
    };
    let already = supervised.wait_exit(Duration::ZERO);
    let finished = supervised.stop();
    let message = match (already, finished.forced, finished.lost) {
        (_, _, true) => "its supervisor was killed or interfered with: processes it started may have survived"
            .to_string(),
        (Some(status), false, _) => format!("had already exited ({status}) when the run ended"),
        (Some(status), true, _) => format!(
            "had already exited ({status}) when the run ended; processes it left were killed after not stopping within {}",
            spec::format_duration(STOP_GRACE)
        ),
        (None, false, _) => "stopped".to_string(),
        (None, true, _) => format!(
            "killed after not stopping within {}",
            spec::format_duration(STOP_GRACE)
        ),
    };
    if handle
        .pump_done
        .recv_timeout(Duration::from_secs(2))
        .is_ok()
    {
        if let Some(pump) = handle.pump.take() {
            let _ = pump.join();
        }
    }
    message
}
