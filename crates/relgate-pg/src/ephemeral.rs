//! [`Ephemeral`]: a throwaway PostgreSQL cluster in a temporary directory.
//!
//! `initdb` runs once; then the `postgres` binary itself is the child (not `pg_ctl`), leading
//! its own process group, so that we own its pid. Whatever happens — a failed start, `stop`,
//! `Drop`, a postmaster killed behind our back, or the owning process dying (see
//! [`crate::watchdog`]) — no process and no directory is left behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::NoTls;
use tempfile::TempDir;

use crate::bin_dir::{find_bin_dir, missing_binaries};
use crate::error::PgError;
use crate::process;
use crate::run_as::RunAs;
use crate::url::{percent_encode, quote_identifier, validate_database_name};
use crate::watchdog::Watchdog;

/// How the cluster is started. `EphemeralOptions::default()` discovers the binaries and uses
/// the system's temporary directory.
#[derive(Clone, Debug)]
pub struct EphemeralOptions {
    /// The directory holding `initdb` and `postgres`; `None`: [`find_bin_dir`].
    pub bin_dir: Option<PathBuf>,
    /// Where the cluster's temporary directory is made (created if missing); `None`:
    /// [`std::env::temp_dir`]. When running as root it must be traversable by the `postgres`
    /// user.
    pub parent_dir: Option<PathBuf>,
    /// The server log (initdb's output, then the server's stdout and stderr), truncated at
    /// start and kept after the cluster is gone; `None`: inside the temporary directory, removed
    /// with it.
    pub log_path: Option<PathBuf>,
    /// How long `initdb` plus server start-up may take in all.
    pub start_timeout: Duration,
}

impl Default for EphemeralOptions {
    fn default() -> EphemeralOptions {
        EphemeralOptions {
            bin_dir: None,
            parent_dir: None,
            log_path: None,
            start_timeout: Duration::from_secs(30),
        }
    }
}

/// A running throwaway PostgreSQL cluster: superuser `postgres`, trust authentication, reachable
/// on `127.0.0.1:`[`port`](Ephemeral::port) and through a Unix socket in
/// [`socket_dir`](Ephemeral::socket_dir). [`stop`](Ephemeral::stop) or dropping it stops the
/// server and removes every file except a caller-chosen log.
#[derive(Debug)]
pub struct Ephemeral {
    port: u16,
    pid: u32,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    postmaster: Option<Child>,
    temp_dir: Option<TempDir>,
    /// Set when `root` is too deep for a Unix socket path; then the socket lives here instead.
    socket_temp_dir: Option<TempDir>,
    watchdog: Option<Watchdog>,
}

/// The host the server listens on.
const HOST: &str = "127.0.0.1";

/// The cluster's superuser, made by `initdb -U`.
const SUPERUSER: &str = "postgres";

/// How long a fast shutdown may take before the postmaster is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(50);

/// Start attempts when the chosen port was taken in the meantime.
const PORT_ATTEMPTS: usize = 3;

/// How many log lines an error quotes.
const LOG_TAIL_LINES: usize = 20;

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// The longest socket file name the server creates in the socket directory.
const SOCKET_FILE_NAME_MAX: &str = "/.s.PGSQL.65535";

impl Ephemeral {
    /// Creates a temporary directory, runs `initdb` and starts the server, returning once it
    /// accepts connections. On any failure everything made so far is removed again.
    pub fn start(options: &EphemeralOptions) -> Result<Ephemeral, PgError> {
        let deadline = Instant::now() + options.start_timeout;
        let bin_dir = match &options.bin_dir {
            Some(dir) => match missing_binaries(dir) {
                None => dir.clone(),
                Some(why) => {
                    return Err(PgError::BinariesNotFound {
                        looked: vec![format!("bin_dir {}: {why}", dir.display())],
                    })
                }
            },
            None => find_bin_dir()?,
        };
        // The children run in the temporary directory: a relative path would no longer resolve.
        let bin_dir = std::path::absolute(&bin_dir).map_err(|source| {
            PgError::io(format!("could not resolve {}", bin_dir.display()), source)
        })?;
        let run_as = RunAs::detect()?;

        let parent = options
            .parent_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&parent).map_err(|source| {
            PgError::io(format!("could not create {}", parent.display()), source)
        })?;
        let temp_dir = tempfile::Builder::new()
            .prefix("relgate-pg-")
            .tempdir_in(&parent)
            .map_err(|source| {
                PgError::io(
                    format!(
                        "could not create a temporary directory in {}",
                        parent.display()
                    ),
                    source,
                )
            })?;
        // Canonical, because the processes' working directories are compared with it.
        let root = std::fs::canonicalize(temp_dir.path()).map_err(|source| {
            PgError::io(
                format!("could not resolve {}", temp_dir.path().display()),
                source,
            )
        })?;
        let socket_temp_dir = if socket_path_fits(&root.join("socket")) {
            None
        } else {
            Some(short_socket_dir()?)
        };
        let socket_dir = match &socket_temp_dir {
            Some(dir) => dir.path().to_path_buf(),
            None => root.join("socket"),
        };
        let log_path = options
            .log_path
            .clone()
            .unwrap_or_else(|| root.join("server.log"));

        let mut cluster = Ephemeral {
            port: 0,
            pid: 0,
            data_dir: root.join("data"),
            root,
            socket_dir,
            log_path,
            postmaster: None,
            temp_dir: Some(temp_dir),
            socket_temp_dir,
            watchdog: None,
        };
        // From here on, returning an error drops `cluster`, which cleans up.
        let mut remove = vec![cluster.root.clone()];
        if cluster.socket_temp_dir.is_some() {
            remove.push(cluster.socket_dir.clone());
        }
        cluster.watchdog = Some(Watchdog::spawn(&cluster.data_dir, &remove)?);
        cluster.prepare_directories(run_as.as_ref())?;
        let log = cluster.create_log()?;
        cluster.initdb(&bin_dir, run_as.as_ref(), &log, deadline)?;
        cluster.launch(&bin_dir, run_as.as_ref(), &log, deadline)?;
        Ok(cluster)
    }

    /// The host the server listens on: `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's Unix socket (`.s.PGSQL.<port>`); usable as a `host`.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The superuser's name: `postgres` (trust authentication, no password).
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`, the database name percent-encoded.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@{HOST}:{}/{}",
            self.port,
            percent_encode(database)
        )
    }

    /// The URL of the `postgres` maintenance database, for administrative connections.
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The postmaster's pid. It leads its own process group (pgid == pid); its children each
    /// lead their own session, as PostgreSQL makes them.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Connects as the superuser to `database` through the Unix socket.
    pub fn connect(&self, database: &str) -> Result<postgres::Client, PgError> {
        self.socket_config(database)
            .connect(NoTls)
            .map_err(|source| {
                PgError::sql(
                    format!(
                        "could not connect to database `{database}` through {}",
                        self.socket_dir.display()
                    ),
                    source,
                )
            })
    }

    /// Creates database `name` (1 to 63 ASCII letters, digits, `_`) and returns its URL.
    /// An existing database of that name is an error ([`PgError::DatabaseExists`]).
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        validate_database_name(name)?;
        let mut client = self.connect("postgres")?;
        create_database(&mut client, name, &self.admin_url())?;
        Ok(self.url(name))
    }

    /// Stops the server (fast shutdown; killed after 10 s) and removes the temporary directory.
    /// An error means something could not be removed; the server is stopped regardless.
    pub fn stop(mut self) -> Result<(), PgError> {
        self.shutdown()
    }

    fn socket_config(&self, database: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(self.port)
            .user(SUPERUSER)
            .dbname(database)
            .connect_timeout(Duration::from_secs(10));
        config
    }

    /// Hands the directories to the server's user and creates the socket directory.
    fn prepare_directories(&self, run_as: Option<&RunAs>) -> Result<(), PgError> {
        let socket_is_separate = self.socket_temp_dir.is_some();
        if !socket_is_separate {
            std::fs::create_dir(&self.socket_dir).map_err(|source| {
                PgError::io(
                    format!("could not create {}", self.socket_dir.display()),
                    source,
                )
            })?;
            std::fs::set_permissions(&self.socket_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| {
                    PgError::io(
                        format!("could not restrict {}", self.socket_dir.display()),
                        source,
                    )
                })?;
        }
        let Some(run_as) = run_as else {
            return Ok(());
        };
        run_as.check_traversable(&self.root)?;
        run_as.chown(&self.root)?;
        if socket_is_separate {
            run_as.check_traversable(&self.socket_dir)?;
        }
        run_as.chown(&self.socket_dir)
    }

    /// Truncates the log and returns an append handle for the children's stdout and stderr.
    fn create_log(&self) -> Result<File, PgError> {
        if let Some(parent) = self.log_path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| {
                PgError::io(format!("could not create {}", parent.display()), source)
            })?;
        }
        let open_error = |source| {
            PgError::io(
                format!("could not open the server log {}", self.log_path.display()),
                source,
            )
        };
        File::create(&self.log_path).map_err(open_error)?;
        OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .map_err(open_error)
    }

    fn initdb(
        &self,
        bin_dir: &Path,
        run_as: Option<&RunAs>,
        log: &File,
        deadline: Instant,
    ) -> Result<(), PgError> {
        let program = bin_dir.join("initdb");
        let mut command = self.command(&program, run_as, log)?;
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        let mut child = command.spawn().map_err(|source| {
            PgError::io(format!("could not run {}", program.display()), source)
        })?;
        let finished = process::wait_exit_until(&child, deadline)
            .map_err(|source| PgError::io("could not wait for initdb", source))?;
        if !finished {
            process::signal(-(child.id() as i32), libc::SIGKILL);
        }
        let status = child
            .wait()
            .map_err(|source| PgError::io("could not wait for initdb", source))?;
        if !finished {
            return Err(self.start_error("initdb did not finish within the start timeout", 0));
        }
        if !status.success() {
            return Err(self.start_error(&format!("{} failed ({status})", program.display()), 0));
        }
        Ok(())
    }

    /// Starts the server on a free port, retrying with another port if it was taken between
    /// choosing and binding it.
    fn launch(
        &mut self,
        bin_dir: &Path,
        run_as: Option<&RunAs>,
        log: &File,
        deadline: Instant,
    ) -> Result<(), PgError> {
        let program = bin_dir.join("postgres");
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port()?;
            let log_offset = log
                .metadata()
                .map(|meta| meta.len())
                .map_err(|source| PgError::io("could not read the server log's size", source))?;
            let mut command = self.command(&program, run_as, log)?;
            command
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(&self.socket_dir);
            for setting in SERVER_SETTINGS {
                command.arg("-c").arg(setting);
            }
            let child = command.spawn().map_err(|source| {
                PgError::io(format!("could not run {}", program.display()), source)
            })?;
            self.pid = child.id();
            self.port = port;
            self.postmaster = Some(child);
            if let Some(watchdog) = &mut self.watchdog {
                watchdog.watch(self.pid);
            }

            match self.wait_ready(deadline)? {
                Readiness::Ready => return Ok(()),
                Readiness::TimedOut { last_error } => {
                    return Err(self.start_error(
                        &format!(
                            "the server did not accept connections within the start timeout \
                             (last attempt: {last_error})"
                        ),
                        log_offset,
                    ))
                }
                Readiness::Exited => {
                    let tail = read_log_tail(&self.log_path, log_offset);
                    let port_taken =
                        tail.contains("could not bind") || tail.contains("Address already in use");
                    let status = self
                        .reap_postmaster()?
                        .map_or_else(|| "unknown status".to_owned(), |status| status.to_string());
                    if port_taken && attempt < PORT_ATTEMPTS {
                        continue;
                    }
                    return Err(PgError::Start {
                        message: format!("{} exited during start-up ({status})", program.display()),
                        log_tail: tail,
                    });
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    fn wait_ready(&mut self, deadline: Instant) -> Result<Readiness, PgError> {
        let config = self.socket_config("postgres");
        loop {
            let exited = process::has_exited(self.pid)
                .map_err(|source| PgError::io("could not wait for the server", source))?;
            if exited {
                // Not reaped here: `reap_postmaster` kills its group first.
                return Ok(Readiness::Exited);
            }
            // The socket directory is ours alone, so a connection there cannot reach another
            // server that took our TCP port.
            let last_error = match config.connect(NoTls) {
                Ok(client) => {
                    drop(client);
                    return Ok(Readiness::Ready);
                }
                Err(error) => error.to_string(),
            };
            if Instant::now() >= deadline {
                return Ok(Readiness::TimedOut { last_error });
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// A command for `program` running as the server's user, in the temporary directory, in
    /// its own process group, with stdout and stderr appended to the log.
    fn command(
        &self,
        program: &Path,
        run_as: Option<&RunAs>,
        log: &File,
    ) -> Result<Command, PgError> {
        let clone_log = || {
            log.try_clone()
                .map_err(|source| PgError::io("could not share the server log", source))
        };
        let mut command = Command::new(program);
        command
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(clone_log()?)
            .stderr(clone_log()?)
            // English messages: start-up failures are recognised by their text.
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .process_group(0);
        if let Some(run_as) = run_as {
            run_as.apply(&mut command);
        }
        Ok(command)
    }

    fn start_error(&self, message: &str, log_offset: u64) -> PgError {
        PgError::Start {
            message: message.to_owned(),
            log_tail: read_log_tail(&self.log_path, log_offset),
        }
    }

    /// Stops (if needed) and reaps the postmaster and any orphans; its exit status.
    fn reap_postmaster(&mut self) -> Result<Option<ExitStatus>, PgError> {
        let Some(child) = self.postmaster.take() else {
            return Ok(None);
        };
        let result = process::stop_postmaster(child, STOP_GRACE);
        process::sweep(&self.data_dir);
        let (status, _killed) = result.map_err(|source| {
            PgError::io(
                format!("could not stop the server (pid {})", self.pid),
                source,
            )
        })?;
        Ok(Some(status))
    }

    /// Stops the server and removes the directories; safe to call twice.
    fn shutdown(&mut self) -> Result<(), PgError> {
        let mut first_error = self.reap_postmaster().err();
        // Even without a postmaster of ours, orphans of a killed one may remain.
        process::sweep(&self.data_dir);
        for dir in [self.socket_temp_dir.take(), self.temp_dir.take()]
            .into_iter()
            .flatten()
        {
            let path = dir.path().to_path_buf();
            if let Err(source) = dir.close() {
                first_error.get_or_insert(PgError::io(
                    format!("could not remove {}", path.display()),
                    source,
                ));
            }
        }
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.release();
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Ephemeral {
    /// Best effort: stops the server and removes the directories; never panics.
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Server settings on top of the command line's `-D -p -k`: reachable on loopback only, and
/// durability traded for speed, since the data is thrown away.
const SERVER_SETTINGS: &[&str] = &[
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=100",
    "wal_level=minimal",
    "max_wal_senders=0",
    "shared_buffers=32MB",
    "huge_pages=off",
    "jit=off",
    "logging_collector=off",
];

enum Readiness {
    Ready,
    Exited,
    TimedOut { last_error: String },
}

/// Creates a database, telling a duplicate apart from other failures.
pub(crate) fn create_database(
    client: &mut postgres::Client,
    name: &str,
    redacted_server: &str,
) -> Result<(), PgError> {
    let statement = format!("CREATE DATABASE {}", quote_identifier(name));
    match client.batch_execute(&statement) {
        Ok(()) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::DUPLICATE_DATABASE) => {
            Err(PgError::DatabaseExists {
                name: name.to_owned(),
                server: redacted_server.to_owned(),
            })
        }
        Err(source) => Err(PgError::sql(
            format!("could not create database `{name}` on {redacted_server}"),
            source,
        )),
    }
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> Result<u16, PgError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|source| PgError::io("could not pick a free port on 127.0.0.1", source))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|source| PgError::io("could not pick a free port on 127.0.0.1", source))
}

fn socket_path_fits(socket_dir: &Path) -> bool {
    socket_dir.as_os_str().len() + SOCKET_FILE_NAME_MAX.len() <= MAX_SOCKET_PATH
}

/// A socket directory under `/tmp`, for when the cluster's directory is too deep for a socket
/// path.
fn short_socket_dir() -> Result<TempDir, PgError> {
    tempfile::Builder::new()
        .prefix("relgate-pg-sock-")
        .tempdir_in("/tmp")
        .map_err(|source| PgError::io("could not create a socket directory in /tmp", source))
}

/// The last lines the log got after `offset`, or a note why there are none.
fn read_log_tail(path: &Path, offset: u64) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let length = file.metadata()?.len();
        // A tail needs only the end of a long log.
        let start = offset.max(length.saturating_sub(64 * 1024));
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(the log is empty)".to_owned(),
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(error) => format!("(could not read {}: {error})", path.display()),
    }
}
