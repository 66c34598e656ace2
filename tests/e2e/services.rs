//! End to end: `[[service]]` — an ephemeral Postgres, a database on an existing server, and
//! processes found by `${port}` or by their `listening on` line — started for the checks that
//! need them and always stopped: after a failed check, after a service that does not start,
//! and after Ctrl-C, with no process and no data directory left behind.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// A temp dir the gate uses as TMPDIR, traversable by the `postgres` user (clusters made by
/// root run as that user).
fn shared_tmp() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn leftovers(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.ends_with("announce.pid"))
        .collect()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn pid_in(file: &Path) -> i32 {
    std::fs::read_to_string(file)
        .unwrap_or_else(|err| panic!("{}: {err}", file.display()))
        .trim()
        .parse()
        .unwrap()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn service_record(run: &Run, name: &str) -> serde_json::Value {
    run.ledger()
        .into_iter()
        .find(|line| line["kind"] == "service" && line["name"] == name)
        .unwrap_or_else(|| panic!("no service record for {name}:\n{}", run.context()))
}

#[test]
fn services_start_for_their_checks_and_stop_at_the_end() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let tmp = shared_tmp();
    let pid_file = tmp.path().join("announce.pid");
    let run = gate_with_env(
        "services.toml",
        &[],
        &[
            ("TMPDIR", tmp.path().to_str().unwrap()),
            ("PID_FILE", pid_file.to_str().unwrap()),
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.context());
    assert_eq!(run.decision(), "GO");

    let query = run.check("SEC-00::db-query");
    let log = std::fs::read_to_string(run.out.path().join(query["log"].as_str().unwrap())).unwrap();
    assert!(log.contains("42"), "{log}");
    assert!(
        query["argv"][2]
            .as_str()
            .unwrap()
            .contains("postgres://postgres@127.0.0.1:"),
        "{query}"
    );
    assert_eq!(run.check("SEC-00::api-sees-db")["outcome"], "pass");

    let kinds: Vec<(String, String)> = run
        .ledger()
        .into_iter()
        .filter(|line| line["kind"] == "service")
        .map(|line| {
            (
                line["name"].as_str().unwrap().to_string(),
                line["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(
        kinds.iter().all(|(_, outcome)| outcome == "ready"),
        "{kinds:?}"
    );
    // db is referenced by api, so it starts first.
    let position = |name: &str| kinds.iter().position(|(n, _)| n == name).unwrap();
    assert!(position("db") < position("api"), "{kinds:?}");

    let web = service_record(&run, "web");
    assert!(web["command"].as_str().unwrap().contains("http.server"));
    assert!(web["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert!(
        web["message"].as_str().unwrap().starts_with("stopped"),
        "{web}"
    );
    let api = service_record(&run, "api");
    let api_log =
        std::fs::read_to_string(run.out.path().join(api["log"].as_str().unwrap())).unwrap();
    assert!(api_log.contains("listening on 127.0.0.1:"), "{api_log}");
    assert!(api_log.contains("request: \"GET / HTTP"), "{api_log}");
    let db = service_record(&run, "db");
    assert_eq!(db["service_kind"], "postgres-ephemeral");
    assert!(db["bytes"].as_u64().unwrap() > 0, "{db}");

    // Nothing is left: the announcing service is gone, the cluster's directory too.
    assert!(
        !alive(pid_in(&pid_file)),
        "the api service outlived the gate"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<PathBuf>::new());
    // Service logs are in the chain: verify re-hashes them.
    assert!(run.verify().status.success());
    std::fs::write(run.out.path().join(api["log"].as_str().unwrap()), "edited").unwrap();
    let verify = run.verify();
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("services/api.log"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn a_service_that_does_not_start_fails_only_the_checks_that_need_it() {
    let run = gate("service-fails.toml", &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let needs = run.check("SEC-00::needs-api");
    assert_eq!(needs["outcome"], "error");
    let message = needs["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "service `api` did not start: exited (exit status: 3) before it was ready"
        ),
        "{message}"
    );
    assert!(message.contains("refusing to start"), "{message}");
    assert_eq!(run.check("SEC-00::independent")["outcome"], "pass");
    let api = service_record(&run, "api");
    assert_eq!(api["outcome"], "failed");
    assert!(run.verify().status.success());
}

#[test]
fn services_stop_after_a_failed_check() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let tmp = shared_tmp();
    let pid_file = tmp.path().join("announce.pid");
    let run = gate_with_env(
        "service-cleanup.toml",
        &[],
        &[
            ("TMPDIR", tmp.path().to_str().unwrap()),
            ("PID_FILE", pid_file.to_str().unwrap()),
            ("HANG_SECONDS", "0"),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.check("SEC-00::fails")["outcome"], "fail");
    assert!(
        !alive(pid_in(&pid_file)),
        "the api service outlived the gate"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<PathBuf>::new());
}

#[test]
fn sigint_stops_services_and_removes_the_cluster() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let tmp = shared_tmp();
    let pid_file = tmp.path().join("announce.pid");
    let out = tempfile::tempdir().unwrap();
    let mut child = xtask()
        .args(["gate", "--gate"])
        .arg(fixtures().join("service-cleanup.toml"))
        .arg("--out")
        .arg(out.path())
        .env("TMPDIR", tmp.path())
        .env("PID_FILE", &pid_file)
        .env("HANG_SECONDS", "331")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the hanging check", Duration::from_secs(60), || {
        !sleepers("sleep 331").is_empty()
    });
    let api = pid_in(&pid_file);
    assert!(alive(api));
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    wait_until("the api service to die", Duration::from_secs(5), || {
        !alive(api)
    });
    wait_until("the check to die", Duration::from_secs(5), || {
        sleepers("sleep 331").is_empty()
    });
    assert_eq!(leftovers(tmp.path()), Vec::<PathBuf>::new());
    assert!(!out.path().join("evidence.jsonl").exists());
}

/// `postgres = "postgres://…"`: a fresh database per run on the server, dropped afterwards
/// unless `keep = true`.
#[test]
fn an_existing_server_gets_a_database_per_run() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let tmp = shared_tmp();
    let server = relgate_pg::Ephemeral::start(&relgate_pg::EphemeralOptions {
        parent_dir: Some(tmp.path().to_path_buf()),
        ..relgate_pg::EphemeralOptions::default()
    })
    .unwrap();
    let databases = || -> Vec<String> {
        let output = Command::new("psql")
            .arg(server.admin_url())
            .args([
                "-Atc",
                "select datname from pg_database where datname like 'relgate_%' order by 1",
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    for keep in [false, true] {
        let gate_file = dir.path().join(format!("server-{keep}.toml"));
        std::fs::write(
            &gate_file,
            format!(
                "[[service]]\nname = \"db\"\npostgres = \"{}\"\nkeep = {keep}\n\
                 [[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"q\"\n\
                 run = \"psql \\\"${{db.url}}\\\" -v ON_ERROR_STOP=1 -Atc 'create table t(x int); select current_database()'\"\n",
                server.admin_url()
            ),
        )
        .unwrap();
        let out = dir.path().join(format!("out-{keep}"));
        let output = xtask()
            .args(["gate", "--gate"])
            .arg(&gate_file)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let log = std::fs::read_to_string(out.join("logs/SEC-00/q.log")).unwrap();
        // psql prints the command tag (`CREATE TABLE`) before the query's row.
        let database = log.lines().last().unwrap_or_default();
        assert!(database.starts_with("relgate_"), "{log}");
        if keep {
            assert_eq!(databases(), [database.to_string()]);
        } else {
            assert_eq!(databases(), Vec::<String>::new());
        }
    }
}
