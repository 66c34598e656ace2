//! Integration tests against real PostgreSQL binaries: throwaway clusters, per-run databases,
//! binary discovery and redaction. Every cluster test also checks that nothing is left behind.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postgres::NoTls;
use relgate_pg::{
    drop_database, find_bin_dir, find_bin_dir_with, redact_url, Ephemeral, EphemeralOptions,
    PgError, RunDatabase,
};

// ---------------------------------------------------------------------------------------------
// Helpers

fn start() -> Ephemeral {
    let began = Instant::now();
    let cluster = Ephemeral::start(&EphemeralOptions::default()).expect("start a cluster");
    eprintln!("cluster started in {:?}", began.elapsed());
    cluster
}

/// What must be gone once a cluster is stopped.
struct Footprint {
    pid: u32,
    data_dir: PathBuf,
    root: PathBuf,
}

impl Footprint {
    fn of(cluster: &Ephemeral) -> Footprint {
        Footprint {
            pid: cluster.pid(),
            data_dir: cluster.data_dir().to_path_buf(),
            root: cluster
                .data_dir()
                .parent()
                .expect("data dir has a parent")
                .to_path_buf(),
        }
    }

    fn assert_gone(&self) {
        // SAFETY: kill with signal 0 only checks for existence.
        let rc = unsafe { libc::kill(self.pid as i32, 0) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert!(
            rc == -1 && errno == Some(libc::ESRCH),
            "postmaster {} still exists (rc {rc}, errno {errno:?})",
            self.pid
        );
        assert_eq!(
            live_processes_in(&self.data_dir),
            Vec::<i32>::new(),
            "cluster processes left"
        );
        assert!(!self.root.exists(), "{} left behind", self.root.display());
    }
}

/// Live processes whose working directory is `dir` (every PostgreSQL process of a cluster has
/// its data directory as working directory).
fn live_processes_in(dir: &Path) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cwd_matches =
                std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir);
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = state
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_none_or(|state| state == "Z");
            cwd_matches && !zombie
        })
        .collect()
}

fn query_one_i64(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).expect(sql).get(0)
}

fn database_exists(cluster: &Ephemeral, name: &str) -> bool {
    let mut client = cluster.connect("postgres").expect("admin connection");
    client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .expect("query pg_database")
        .is_some()
}

fn round_trip(client: &mut postgres::Client, table: &str) {
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, note text NOT NULL);
             INSERT INTO {table} VALUES (1, 'één'), (2, 'two');"
        ))
        .expect("create and insert");
    let rows = client
        .query(&format!("SELECT id, note FROM {table} ORDER BY id"), &[])
        .expect("select");
    let read: Vec<(i32, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(read, vec![(1, "één".to_owned()), (2, "two".to_owned())]);
}

/// A directory of fake `initdb` and `postgres` scripts.
fn fake_bin_dir(initdb_script: &str, postgres_script: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("relgate-pg-fake-")
        .tempdir()
        .expect("tempdir");
    // Running as root the binaries run as `postgres`, which must be able to reach them.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in [("initdb", initdb_script), ("postgres", postgres_script)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// An `initdb` that only makes the data directory (`-D DIR` comes first), quickly.
const FAKE_INITDB: &str = "#!/bin/sh\nmkdir -p \"$2\"\necho 'fake initdb ran'\n";

/// Starts a cluster with fake binaries and checks the `Start` error and that nothing is left.
fn check_start_failure(
    initdb_script: &str,
    postgres_script: &str,
    start_timeout: Duration,
    expected_message: &str,
    expected_log: &str,
) {
    let bin = fake_bin_dir(initdb_script, postgres_script);
    let parent = empty_parent();
    let options = EphemeralOptions {
        bin_dir: Some(bin.path().to_path_buf()),
        parent_dir: Some(parent.path().to_path_buf()),
        start_timeout,
        ..EphemeralOptions::default()
    };
    let error = Ephemeral::start(&options).expect_err("the fake cannot start");
    let PgError::Start { message, log_tail } = &error else {
        panic!("expected PgError::Start, got {error:?}");
    };
    assert!(message.contains(expected_message), "{message}");
    assert!(log_tail.contains(expected_log), "{log_tail}");
    assert!(
        error.to_string().contains("last lines of the server log"),
        "{error}"
    );
    assert_empty(parent.path());
}

fn empty_parent() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("relgate-pg-parent-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
}

// ---------------------------------------------------------------------------------------------
// Ephemeral

#[test]
fn start_serves_tcp_and_socket_connections() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    assert_eq!(cluster.host(), "127.0.0.1");
    assert_eq!(cluster.superuser(), "postgres");
    assert_eq!(
        cluster.url("app"),
        format!("postgres://postgres@127.0.0.1:{}/app", cluster.port())
    );
    assert_eq!(cluster.admin_url(), cluster.url("postgres"));

    let mut tcp = postgres::Client::connect(&cluster.admin_url(), NoTls).expect("tcp connect");
    round_trip(&mut tcp, "over_tcp");

    let mut socket = postgres::Config::new()
        .host_path(cluster.socket_dir())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .connect(NoTls)
        .expect("socket connect");
    round_trip(&mut socket, "over_socket");
    assert_eq!(
        query_one_i64(&mut socket, "SELECT count(*) FROM over_tcp"),
        2
    );

    // pgid == pid: the postmaster leads its own process group.
    // SAFETY: getpgid has no memory-safety preconditions.
    let pgid = unsafe { libc::getpgid(cluster.pid() as i32) };
    assert_eq!(pgid, cluster.pid() as i32);
    let settings: String = tcp.query_one("SHOW fsync", &[]).unwrap().get(0);
    assert_eq!(settings, "off");
    cluster.stop().expect("stop");
}

#[test]
fn two_clusters_get_different_ports() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(start);
        let second = scope.spawn(start);
        (first.join().unwrap(), second.join().unwrap())
    });
    assert_ne!(first.port(), second.port());
    assert_ne!(first.data_dir(), second.data_dir());
    for cluster in [&first, &second] {
        let mut client = postgres::Client::connect(&cluster.admin_url(), NoTls).unwrap();
        let port: String = client.query_one("SHOW port", &[]).unwrap().get(0);
        assert_eq!(port, cluster.port().to_string());
    }
}

#[test]
fn stop_leaves_no_process_and_no_directory() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    // An open connection must not hold up the fast shutdown.
    let _client = postgres::Client::connect(&cluster.admin_url(), NoTls).unwrap();
    let footprint = Footprint::of(&cluster);
    assert!(
        !live_processes_in(&footprint.data_dir).is_empty(),
        "found no cluster processes"
    );
    let began = Instant::now();
    cluster.stop().expect("stop");
    eprintln!("stopped in {:?}", began.elapsed());
    footprint.assert_gone();
}

#[test]
fn drop_leaves_no_process_and_no_directory() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    let footprint = Footprint::of(&cluster);
    drop(cluster);
    footprint.assert_gone();
}

#[test]
fn drop_cleans_up_after_a_killed_postmaster() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    let _client = postgres::Client::connect(&cluster.admin_url(), NoTls).unwrap();
    let footprint = Footprint::of(&cluster);
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(
        unsafe { libc::kill(cluster.pid() as i32, libc::SIGKILL) },
        0
    );
    drop(cluster);
    footprint.assert_gone();
}

#[test]
fn log_path_keeps_the_server_log() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let parent = empty_parent();
    let log_path = parent.path().join("logs/postgres.log");
    let options = EphemeralOptions {
        parent_dir: Some(parent.path().join("clusters")),
        log_path: Some(log_path.clone()),
        ..EphemeralOptions::default()
    };
    let cluster = Ephemeral::start(&options).expect("start");
    assert_eq!(cluster.log_path(), log_path);
    assert!(cluster
        .data_dir()
        .starts_with(parent.path().canonicalize().unwrap()));
    cluster.stop().expect("stop");
    let log = std::fs::read_to_string(&log_path).expect("log survives");
    assert!(log.contains("database system is ready"), "{log}");
    assert!(
        log.contains("Success. You can now start the database server"),
        "{log}"
    );
    assert_empty(&parent.path().join("clusters"));
}

#[test]
fn deep_parent_dir_moves_the_socket_to_tmp() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let parent = empty_parent();
    let deep = parent.path().join("d".repeat(60)).join("e".repeat(60));
    let options = EphemeralOptions {
        parent_dir: Some(deep.clone()),
        ..EphemeralOptions::default()
    };
    let cluster = Ephemeral::start(&options).expect("start");
    assert!(
        cluster.socket_dir().starts_with("/tmp"),
        "{}",
        cluster.socket_dir().display()
    );
    let mut client = cluster.connect("postgres").expect("socket connect");
    assert_eq!(query_one_i64(&mut client, "SELECT 1::int8"), 1);
    let socket_dir = cluster.socket_dir().to_path_buf();
    cluster.stop().expect("stop");
    assert!(!socket_dir.exists());
    assert_empty(&deep);
}

#[test]
fn initdb_failing_is_reported_with_its_output_and_cleaned_up() {
    check_start_failure(
        "#!/bin/sh\necho 'initdb: error: fake initdb refuses' >&2\nexit 1\n",
        "#!/bin/sh\nexit 0\n",
        Duration::from_secs(30),
        "initdb failed (exit status: 1)",
        "fake initdb refuses",
    );
}

#[test]
fn server_exiting_at_start_is_reported_with_its_log_and_cleaned_up() {
    check_start_failure(
        FAKE_INITDB,
        "#!/bin/sh\necho 'FATAL:  the fake server refuses' >&2\nexit 3\n",
        Duration::from_secs(30),
        "exited during start-up (exit status: 3)",
        "the fake server refuses",
    );
}

#[test]
fn server_never_ready_times_out_and_is_cleaned_up() {
    check_start_failure(
        FAKE_INITDB,
        "#!/bin/sh\necho 'fake server hangs'\nexec sleep 60\n",
        Duration::from_secs(2),
        "did not accept connections within the start timeout",
        "fake server hangs",
    );
}

#[test]
fn bin_dir_without_binaries_is_refused_before_anything_is_made() {
    let empty = empty_parent();
    let parent = empty_parent();
    let options = EphemeralOptions {
        bin_dir: Some(empty.path().to_path_buf()),
        parent_dir: Some(parent.path().to_path_buf()),
        ..EphemeralOptions::default()
    };
    let error = Ephemeral::start(&options).expect_err("no binaries");
    assert!(
        matches!(error, PgError::BinariesNotFound { .. }),
        "{error:?}"
    );
    assert_empty(parent.path());
}

#[test]
fn parent_dir_the_postgres_user_cannot_enter_is_refused_when_root() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let parent = empty_parent();
    let closed = parent.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let options = EphemeralOptions {
        parent_dir: Some(closed.clone()),
        ..EphemeralOptions::default()
    };
    let result = Ephemeral::start(&options);
    if !root {
        // Not root: the server runs as ourselves, who own the directory.
        result.expect("start").stop().expect("stop");
        return;
    }
    let error = result.expect_err("postgres cannot reach a root-only directory");
    assert!(matches!(error, PgError::NotTraversable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&closed.display().to_string()), "{message}");
    assert!(message.contains("parent_dir"), "{message}");
    assert_empty(&closed);
}

#[test]
fn clusters_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Ephemeral>();
    assert_send_sync::<RunDatabase>();
    assert_send_sync::<PgError>();
}

#[test]
fn create_database_returns_a_working_url_and_refuses_duplicates() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    let url = cluster.create_database("app_1").expect("create");
    assert_eq!(url, cluster.url("app_1"));
    let mut client = postgres::Client::connect(&url, NoTls).expect("connect to the new database");
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "app_1");

    let error = cluster.create_database("app_1").expect_err("duplicate");
    assert!(matches!(error, PgError::DatabaseExists { .. }), "{error:?}");
    assert!(
        error.to_string().contains("`app_1` already exists"),
        "{error}"
    );

    let error = cluster
        .create_database("app-1; DROP")
        .expect_err("bad name");
    assert!(
        matches!(error, PgError::InvalidDatabaseName { .. }),
        "{error:?}"
    );
}

/// When `RELGATE_PG_WATCHDOG_REPORT` is set, this test is the child of
/// `owner_killed_without_cleanup_is_cleaned_up_by_the_watchdog`: it starts a cluster, reports
/// it and waits to be killed. Otherwise it does nothing.
#[test]
fn watchdog_child() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let Some(report) = std::env::var_os("RELGATE_PG_WATCHDOG_REPORT") else {
        return;
    };
    let cluster = start();
    let text = format!("{}\n{}\n", cluster.pid(), cluster.data_dir().display());
    std::fs::write(PathBuf::from(&report).with_extension("tmp"), text).unwrap();
    std::fs::rename(PathBuf::from(&report).with_extension("tmp"), &report).unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn owner_killed_without_cleanup_is_cleaned_up_by_the_watchdog() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let scratch = empty_parent();
    let report = scratch.path().join("report");
    let mut owner = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "watchdog_child", "--nocapture"])
        .env("RELGATE_PG_WATCHDOG_REPORT", &report)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the owner");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !report.exists() {
        assert!(
            Instant::now() < deadline,
            "the owner never reported a cluster"
        );
        assert!(
            owner.try_wait().unwrap().is_none(),
            "the owner exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&report).unwrap();
    let mut lines = text.lines();
    let pid: i32 = lines.next().unwrap().parse().unwrap();
    let data_dir = PathBuf::from(lines.next().unwrap());
    assert!(!live_processes_in(&data_dir).is_empty());

    owner.kill().unwrap();
    owner.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    while data_dir.parent().unwrap().exists() || !live_processes_in(&data_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the watchdog did not clean up {}",
            data_dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The postmaster, orphaned, was reaped by init; its cwd is gone with it.
    assert!(std::fs::read_link(format!("/proc/{pid}/cwd")).map_or(true, |cwd| cwd != data_dir));
}

// ---------------------------------------------------------------------------------------------
// find_bin_dir

#[test]
fn find_bin_dir_honours_relgate_pg_bin() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let found = find_bin_dir().expect("PostgreSQL on this machine");
    assert!(found.join("initdb").is_file() && found.join("postgres").is_file());
    assert_eq!(find_bin_dir_with(Some(found.as_os_str())).unwrap(), found);
    // Empty counts as unset.
    assert_eq!(find_bin_dir_with(Some(OsStr::new(""))).unwrap(), found);
}

#[test]
fn find_bin_dir_refuses_a_relgate_pg_bin_without_initdb() {
    let empty = empty_parent();
    let error = find_bin_dir_with(Some(empty.path().as_os_str())).expect_err("no initdb there");
    assert!(
        matches!(error, PgError::BinariesNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    for needle in [
        format!("RELGATE_PG_BIN={}", empty.path().display()),
        "no executable initdb or postgres there".to_owned(),
        "apt-get install -y postgresql".to_owned(),
        "set RELGATE_PG_BIN to the directory holding initdb and postgres".to_owned(),
        "postgres = \"postgres://…\"".to_owned(),
    ] {
        assert!(
            message.contains(&needle),
            "{needle:?} missing from: {message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RunDatabase

#[test]
fn run_database_creates_connects_and_drops() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    let run = RunDatabase::create(&cluster.admin_url(), "run_abc", false).expect("create");
    assert_eq!(run.name(), "run_abc");
    assert_eq!(run.url(), cluster.url("run_abc"));
    let mut client = postgres::Client::connect(run.url(), NoTls).expect("connect");
    round_trip(&mut client, "t");
    assert!(database_exists(&cluster, "run_abc"));
    // An open connection does not stop the drop: WITH (FORCE).
    run.drop_now().expect("drop");
    assert!(!database_exists(&cluster, "run_abc"));
    assert!(
        client.simple_query("SELECT 1").is_err(),
        "the forced drop ends connections"
    );
}

#[test]
fn run_database_is_dropped_on_drop_unless_kept() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    let dropped = RunDatabase::create(&cluster.admin_url(), "run_dropped", false).unwrap();
    let kept = RunDatabase::create(&cluster.admin_url(), "run_kept", true).unwrap();
    assert!(database_exists(&cluster, "run_dropped") && database_exists(&cluster, "run_kept"));
    drop(dropped);
    drop(kept);
    assert!(!database_exists(&cluster, "run_dropped"));
    assert!(database_exists(&cluster, "run_kept"));

    let kept_again = RunDatabase::create(&cluster.admin_url(), "run_kept_2", true).unwrap();
    kept_again
        .drop_now()
        .expect("drop_now of a kept database does nothing");
    assert!(database_exists(&cluster, "run_kept_2"));
}

#[test]
fn run_database_keeps_the_url_parts_and_hides_passwords_in_errors() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    // Trust authentication ignores the password, so it can be checked for leaks.
    let server = format!(
        "postgres://postgres:s3cret@127.0.0.1:{}/postgres?application_name=relgate",
        cluster.port()
    );
    let run = RunDatabase::create(&server, "run_url", false).expect("create");
    assert_eq!(
        run.url(),
        format!(
            "postgres://postgres:s3cret@127.0.0.1:{}/run_url?application_name=relgate",
            cluster.port()
        )
    );
    let mut client = postgres::Client::connect(run.url(), NoTls).expect("connect");
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "run_url");

    let duplicate = RunDatabase::create(&server, "run_url", false).expect_err("duplicate");
    assert!(
        matches!(duplicate, PgError::DatabaseExists { .. }),
        "{duplicate:?}"
    );
    let message = duplicate.to_string();
    assert!(message.contains("`run_url` already exists"), "{message}");
    assert!(message.contains("postgres:***@127.0.0.1"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(
        database_exists(&cluster, "run_url"),
        "a failed duplicate must not drop the original"
    );

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = format!(
        "postgres://u:s3cret@127.0.0.1:{}/postgres",
        closed_port.port()
    );
    let error = RunDatabase::create(&unreachable, "run_x", false).expect_err("nothing listens");
    let message = error.to_string();
    assert!(
        message.contains("could not connect to postgres://u:***@127.0.0.1"),
        "{message}"
    );
    assert!(
        !message.contains("s3cret") && !format!("{error:?}").contains("s3cret"),
        "{message}"
    );
}

#[test]
fn drop_database_drops_by_name_and_ignores_missing_ones() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let cluster = start();
    let kept = RunDatabase::create(&cluster.admin_url(), "run_orphan", true).unwrap();
    drop(kept);
    assert!(database_exists(&cluster, "run_orphan"));
    drop_database(&cluster.admin_url(), "run_orphan").expect("drop");
    assert!(!database_exists(&cluster, "run_orphan"));
    drop_database(&cluster.admin_url(), "run_orphan").expect("a missing database is fine");
    let error = drop_database(&cluster.admin_url(), "x\"; --").expect_err("bad name");
    assert!(
        matches!(error, PgError::InvalidDatabaseName { .. }),
        "{error:?}"
    );
}

#[test]
fn run_database_refuses_bad_names_and_urls() {
    for name in ["", "has space", "quote\"d", &"x".repeat(64)] {
        let error = RunDatabase::create("postgres://h/db", name, false).expect_err(name);
        assert!(
            matches!(error, PgError::InvalidDatabaseName { .. }),
            "{error:?}"
        );
    }
    let error = RunDatabase::create("mysql://u:pw@h/db", "ok", false).expect_err("scheme");
    assert!(matches!(error, PgError::InvalidUrl { .. }), "{error:?}");
    assert!(!error.to_string().contains("pw@"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// redact_url

#[test]
fn redact_url_hides_passwords() {
    for (input, expected) in [
        (
            "postgres://app:hunter2@db:5432/app",
            "postgres://app:***@db:5432/app",
        ),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        (
            "postgres://db/app?password=hunter2",
            "postgres://db/app?password=***",
        ),
        ("host=db password=hunter2", "host=db password=***"),
    ] {
        assert_eq!(redact_url(input), expected);
    }
}
