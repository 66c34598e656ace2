//! The shared cluster cleans up after itself inside the test process: each test's database is
//! dropped when the test ends, and the cluster is gone when the process has exited — not a
//! moment later, which a gate running this suite would rightly call a leak.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{with_cluster, Database};

/// Set by `the_cluster_is_gone_when_the_process_exits` for the child it runs.
const PRINT_DATA_DIR: &str = "TENANT_API_TEST_PRINT_DATA_DIR";

#[test]
fn a_test_database_is_dropped_with_its_value() {
    let database = Database::create();
    let name = database.name.clone();
    let exists = |name: &str| {
        with_cluster(|cluster| {
            let mut client = cluster.connect("postgres").expect("connect");
            client
                .query_one(
                    "SELECT count(*) FROM pg_database WHERE datname = $1",
                    &[&name],
                )
                .expect("count databases")
                .get::<_, i64>(0)
        })
    };
    assert_eq!(exists(&name), 1);
    // A connection left open does not keep the database alive.
    let _open = database.owner();
    drop(database);
    assert_eq!(exists(&name), 0, "{name} outlived its Database");
}

/// Run in a child process by the test below; prints the data directory of its cluster.
#[test]
fn child_prints_its_cluster() {
    if std::env::var_os(PRINT_DATA_DIR).is_none() {
        return;
    }
    let _database = Database::create();
    let data_dir = with_cluster(|cluster| cluster.data_dir().to_path_buf());
    println!("data-dir={}", data_dir.display());
}

#[test]
fn the_cluster_is_gone_when_the_process_exits() {
    let output = Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--exact",
            "cluster::child_prints_its_cluster",
            "--nocapture",
        ])
        .env(PRINT_DATA_DIR, "1")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed:\n{stdout}");
    let data_dir = stdout
        .lines()
        .find_map(|line| line.strip_prefix("data-dir="))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("child printed no data directory:\n{stdout}"));
    // Checked at once: a cleanup left to run after the exit would still be going on.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter(|entry| std::fs::read_link(entry.path().join("cwd")).ok() == Some(data_dir.clone()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.is_empty(),
        "processes still in {}: {left:?}",
        data_dir.display()
    );
    assert!(
        !data_dir.exists(),
        "{} outlived the process",
        data_dir.display()
    );
}
