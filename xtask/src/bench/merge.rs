//! The merge of a sharded gate (issue 19): a gate of trivial checks split into 3 shards by
//! real `cargo nextest run -p gate-tests --partition slice:M/3` runs (untimed setup, once per
//! benchmark), then, interleaved and repeated: `gate merge` of the 3 shards into a fresh out
//! directory, the single-machine run of the same gate (`gate`, in process, at the default
//! `-j`), and `gate report` of one unsplit nextest run of the same gate (the same ledger and
//! reports written without joining), each from the same inputs every time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::measure::{self, median, show, Sample};
use super::{add, gate_command, workloads, Row, Scratch, Sizes};

/// How many shards the gate is split into.
const SHARDS: usize = 3;

/// Variables that would make a benchmark's nextest run something else than a plain shard: a
/// gate running the benchmark (recursion guard), a partition of the calling job, CI's.
const AMBIENT: [&str; 4] = [
    relgate::run::harness::ENV_ACTIVE_GATES,
    relgate::run::shard::ENV_PARTITION,
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
];

/// Measures the merge; rows say so when cargo-nextest is not installed.
pub(super) fn merge(
    xtask: &Path,
    scratch: &Scratch,
    sizes: &Sizes,
    cores: usize,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let checks = sizes.merge_checks;
    let work = format!("merge: {SHARDS} shards of {checks} checks `true`");
    if !nextest_available() {
        add(
            rows,
            Row::reported(work, "skipped: cargo-nextest is not installed".to_string()),
        );
        return Ok(());
    }
    let gate = scratch.write(
        &format!("independent-{checks}.toml"),
        &workloads::independent_checks(checks),
    )?;

    // Setup, untimed: the test binary built (and the gate listed) once, then each shard and
    // the unsplit run.
    nextest(&gate, &scratch.0.join("out-list"), &["list"])?;
    let clock = Instant::now();
    let mut shards = Vec::new();
    for m in 1..=SHARDS {
        let out = scratch.0.join(format!("out-shard-{m}"));
        let partition = format!("slice:{m}/{SHARDS}");
        nextest(
            &gate,
            &out,
            &["run", "--no-fail-fast", "--partition", &partition],
        )?;
        shards.push(out);
    }
    let shards_took = clock.elapsed();
    let whole = scratch.0.join("out-nextest-whole");
    let clock = Instant::now();
    nextest(&gate, &whole, &["run", "--no-fail-fast"])?;
    let whole_took = clock.elapsed();
    add(
        rows,
        Row::reported(
            format!("  setup (untimed): {SHARDS} nextest shards, then an unsplit nextest run"),
            format!("{} + {}", show(shards_took), show(whole_took)),
        ),
    );

    let merged = scratch.0.join("out-merged");
    let single = scratch.0.join("out-single");
    let reported = scratch.0.join("out-reported");
    let (mut merges, mut singles, mut reports) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..sizes.reps {
        // Every timed command writes into a directory that does not exist yet; merge reads its
        // shards without writing to them, `gate report` rewrites the directory it reads, so it
        // gets a fresh copy of the unsplit run each time.
        fresh(&single)?;
        singles.push(measure::run(
            &mut gate_command(xtask, &gate, &single, cores),
            &[0],
        )?);
        fresh(&merged)?;
        let mut command = plain(xtask);
        command
            .args(["gate", "merge"])
            .args(&shards)
            .arg("--gate")
            .arg(&gate)
            .arg("--out")
            .arg(&merged);
        merges.push(measure::run(&mut command, &[0])?);
        fresh(&reported)?;
        copy_dir(&whole, &reported)?;
        let mut command = plain(xtask);
        command
            .args(["gate", "report", "--gate"])
            .arg(&gate)
            .arg("--out")
            .arg(&reported);
        reports.push(measure::run(&mut command, &[0])?);
    }
    let wall = |samples: &[Sample]| median(samples.iter().map(|s| s.wall).collect());
    let rss = |samples: &[Sample]| samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    add(
        rows,
        Row::ratio(
            format!("{work}, vs the single-machine run (-j {cores})"),
            wall(&merges),
            wall(&singles),
            None,
        ),
    );
    add(
        rows,
        Row::rss_ratio(
            "  peak RSS: the merge vs the single-machine run's process tree".to_string(),
            rss(&merges),
            rss(&singles),
        ),
    );
    add(
        rows,
        Row::ratio(
            format!("{work}, vs gate report of an unsplit nextest run"),
            wall(&merges),
            wall(&reports),
            None,
        ),
    );
    for dir in shards.iter().chain([&whole, &merged, &single, &reported]) {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// `program` without the [`AMBIENT`] variables.
fn plain(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for key in AMBIENT {
        command.env_remove(key);
    }
    command
}

fn nextest_available() -> bool {
    plain(cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo nextest <args> -p gate-tests` on `gate` into `out`, from the workspace root; `Err`
/// with the end of its output unless it exits 0 (every trivial check passes).
fn nextest(gate: &Path, out: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = plain(cargo());
    command
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .arg("nextest")
        .args(args)
        .args(["-p", "gate-tests"])
        .env("RELGATE_GATE", gate)
        .env("RELGATE_OUT", out);
    let output = command
        .output()
        .map_err(|err| format!("cannot start {command:?}: {err}"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{command:?} ended with {}:\n{}",
        output.status,
        tail.join("\n")
    ))
}

/// Removes `dir` (a previous iteration's output) so the next command starts without it.
fn fresh(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(format!("cannot remove {}: {err}", dir.display())),
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    let fail =
        |path: &PathBuf, err: std::io::Error| format!("cannot copy {}: {err}", path.display());
    std::fs::create_dir_all(to).map_err(|err| fail(&to.to_path_buf(), err))?;
    let entries = std::fs::read_dir(from).map_err(|err| fail(&from.to_path_buf(), err))?;
    for entry in entries {
        let entry = entry.map_err(|err| fail(&from.to_path_buf(), err))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|err| fail(&source, err))?;
        if kind.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(|err| fail(&source, err))?;
        }
    }
    Ok(())
}
