//! `cargo xtask bench`: runs this very binary (the build users get from `cargo xtask`) on
//! generated gates in a scratch directory and prints each figure as a ratio to a baseline
//! measured in the same run (interleaved with it, repeated, medians), next to its target from
//! issue 13, with PASS or MISS; the merge of a sharded gate (issue 19, `merge.rs`) as ratios to
//! the single-machine run. Timing never fails it: it exits non-zero only when something
//! could not run. See docs/PERFORMANCE.md.

mod measure;
mod merge;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use measure::{median, show, Sample};

/// How big a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The sizes of the targets (1,000 and 5,000 checks, 1 GiB of output…), medians of 3.
    Full,
    /// Smaller sizes, one repetition: a minute or two.
    Quick,
    /// Tiny sizes: seconds; what CI runs to see that the benchmark works.
    Smoke,
}

/// What a mode runs.
struct Sizes {
    /// Gate sizes for the per-check cost: smallest, the ratio's, largest.
    checks: [usize; 3],
    reps: usize,
    capture_bytes: u64,
    unit: Duration,
    packets: usize,
    rows: usize,
    /// Checks of the gate split into shards for the merge.
    merge_checks: usize,
}

impl Mode {
    fn sizes(self) -> Sizes {
        match self {
            Mode::Full => Sizes {
                checks: [100, 1000, 5000],
                reps: 3,
                capture_bytes: 1 << 30,
                unit: Duration::from_secs(1),
                packets: 20_000,
                rows: 10_000,
                merge_checks: 1000,
            },
            Mode::Quick => Sizes {
                checks: [100, 300, 1000],
                reps: 1,
                capture_bytes: 128 << 20,
                unit: Duration::from_millis(300),
                packets: 20_000,
                rows: 10_000,
                merge_checks: 300,
            },
            Mode::Smoke => Sizes {
                checks: [5, 10, 20],
                reps: 1,
                capture_bytes: 1 << 20,
                unit: Duration::from_millis(50),
                packets: 200,
                rows: 100,
                merge_checks: 30,
            },
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Smoke => "smoke",
        }
    }
}

/// One line of the result table.
struct Row {
    work: String,
    measured: String,
    baseline: String,
    ratio: Option<f64>,
    target: String,
    pass: Option<bool>,
}

impl Row {
    fn ratio(work: String, measured: Duration, baseline: Duration, target: Option<f64>) -> Row {
        let ratio = measured.as_secs_f64() / baseline.as_secs_f64().max(1e-9);
        Row {
            work,
            measured: show(measured),
            baseline: show(baseline),
            ratio: Some(ratio),
            target: target.map_or_else(String::new, |t| format!("<= {t}x")),
            pass: target.map(|t| ratio <= t),
        }
    }

    /// A peak RSS against a baseline's (KiB), no target.
    fn rss_ratio(work: String, measured_kib: u64, baseline_kib: u64) -> Row {
        let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
        Row {
            work,
            measured: mib(measured_kib),
            baseline: mib(baseline_kib),
            ratio: Some(measured_kib as f64 / baseline_kib.max(1) as f64),
            target: String::new(),
            pass: None,
        }
    }

    fn reported(work: String, measured: String) -> Row {
        Row {
            work,
            measured,
            baseline: String::new(),
            ratio: None,
            target: "reported".to_string(),
            pass: None,
        }
    }
}

/// A scratch directory removed at the end, whatever happens.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("relgate-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        Ok(Scratch(dir))
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.0.join(name);
        std::fs::write(&path, text)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the benchmark; returns the exit code (0 unless something could not run).
pub fn main(mode: Mode, cold_build: bool, xtask: Option<PathBuf>) -> i32 {
    match run(mode, cold_build, xtask) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("error: the benchmark could not run: {err}");
            1
        }
    }
}

fn run(mode: Mode, cold_build: bool, xtask: Option<PathBuf>) -> Result<(), String> {
    let xtask = match xtask {
        Some(xtask) => xtask,
        None => std::env::current_exe().map_err(|err| format!("cannot find this binary: {err}"))?,
    };
    let scratch = Scratch::new()?;
    let sizes = mode.sizes();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "relgate benchmark: mode {}, {} build of {}, {cores} cores, medians of {} interleaved run(s)",
        mode.label(),
        if cfg!(debug_assertions) { "debug (dev profile)" } else { "release" },
        xtask.display(),
        sizes.reps,
    );
    let mut rows = Vec::new();
    let started = Instant::now();
    print_header();
    eprintln!("bench: per-check overhead…");
    per_check(&xtask, &scratch, &sizes, &mut rows)?;
    eprintln!("bench: output capture and verify…");
    capture(&xtask, &scratch, &sizes, &mut rows)?;
    eprintln!("bench: scheduling…");
    scheduling(&xtask, &scratch, &sizes, cores, &mut rows)?;
    eprintln!("bench: loader and importer…");
    loader_and_importer(&xtask, &scratch, &sizes, &mut rows)?;
    eprintln!("bench: merge of a sharded gate…");
    merge::merge(&xtask, &scratch, &sizes, cores, &mut rows)?;
    build(&scratch, mode, cold_build, &mut rows);
    print_summary(&rows);
    println!("took {}", show(started.elapsed()));
    Ok(())
}

fn gate_command(xtask: &Path, gate: &Path, out: &Path, jobs: usize) -> Command {
    let mut command = Command::new(xtask);
    command
        .args(["gate", "--gate"])
        .arg(gate)
        .arg("--out")
        .arg(out)
        .args(["-j", &jobs.to_string()])
        // A benchmark run inside a gate's check is not a nested run of that gate.
        .env_remove(relgate::run::harness::ENV_ACTIVE_GATES);
    command
}

fn shell(line: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", line]);
    command
}

/// Per-check overhead: gates of N checks `true` at -j 1 against a shell loop spawning `true`
/// N times; and how the cost per check changes with N.
fn per_check(
    xtask: &Path,
    scratch: &Scratch,
    sizes: &Sizes,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let true_path = which("true").unwrap_or_else(|| "true".to_string());
    let mut per_check_gate = Vec::new();
    for (at, checks) in sizes.checks.into_iter().enumerate() {
        let gate = scratch.write(
            &format!("trivial-{checks}.toml"),
            &workloads::trivial_checks(checks),
        )?;
        let out = scratch.0.join(format!("out-trivial-{checks}"));
        let loop_line = format!("i=0; while [ $i -lt {checks} ]; do {true_path}; i=$((i+1)); done");
        let (mut gate_times, mut shell_times) = (Vec::new(), Vec::new());
        for _ in 0..sizes.reps {
            shell_times.push(measure::run(&mut shell(&loop_line), &[0])?.wall);
            gate_times.push(measure::run(&mut gate_command(xtask, &gate, &out, 1), &[0])?.wall);
        }
        let per = |times: Vec<Duration>| median(times) / checks as u32;
        let (gate_per, shell_per) = (per(gate_times), per(shell_times));
        per_check_gate.push(gate_per);
        add(
            rows,
            Row::ratio(
                format!("per check: {checks} checks `true`, -j 1, vs a shell loop"),
                gate_per,
                shell_per,
                (at == 1).then_some(1.5),
            ),
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    let [small, _, large] = sizes.checks;
    add(
        rows,
        Row::ratio(
            format!("per-check cost at {large} checks vs at {small}"),
            per_check_gate[2],
            per_check_gate[0],
            Some(1.2),
        ),
    );
    Ok(())
}

/// Output capture: one long line and `yes` lines, through a check vs `> file`; the peak RSS
/// of the gate's tree; then `verify` of the long line's run vs `sha256sum` of its log.
fn capture(
    xtask: &Path,
    scratch: &Scratch,
    sizes: &Sizes,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    // The run holds two copies at most (the baseline's file is removed before the gate runs,
    // whose log is removed after verify): leave room for the rest of the machine.
    let free = free_bytes(&scratch.0);
    let mut bytes = sizes.capture_bytes;
    while bytes > 1 << 20 && free < bytes.saturating_mul(3) {
        bytes /= 2;
    }
    if bytes < sizes.capture_bytes {
        println!(
            "note: {} MiB free in {}: output capture measured with {} MiB instead of {} MiB",
            free >> 20,
            scratch.0.display(),
            bytes >> 20,
            sizes.capture_bytes >> 20
        );
    }
    let size = if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    };
    let kinds = [
        (
            "one long line",
            format!("head -c {bytes} /dev/zero | tr '\\0' x"),
        ),
        ("`yes` lines", format!("yes | head -c {bytes}")),
    ];
    let baseline_file = scratch.0.join("baseline.out");
    for (kind_at, (kind, command)) in kinds.iter().enumerate() {
        let gate = scratch.write(
            &format!("capture-{kind_at}.toml"),
            &workloads::one_check(command),
        )?;
        let out = scratch.0.join(format!("out-capture-{kind_at}"));
        let baseline_line = format!("{command} > '{}'", baseline_file.display());
        let (mut gate_samples, mut shell_times) = (Vec::<Sample>::new(), Vec::new());
        for _ in 0..sizes.reps {
            shell_times.push(measure::run(&mut shell(&baseline_line), &[0])?.wall);
            let _ = std::fs::remove_file(&baseline_file);
            gate_samples.push(measure::run(
                &mut gate_command(xtask, &gate, &out, 1),
                &[0],
            )?);
        }
        let peak = gate_samples
            .iter()
            .map(|s| s.max_rss_kib)
            .max()
            .unwrap_or(0);
        add(
            rows,
            Row::ratio(
                format!("output capture: {size} as {kind}, vs `> file`"),
                median(gate_samples.iter().map(|s| s.wall).collect()),
                median(shell_times),
                Some(1.3),
            ),
        );
        let mib = peak as f64 / 1024.0;
        add(
            rows,
            Row {
                work: format!("  peak RSS of the gate's process tree ({kind})"),
                measured: format!("{mib:.1} MiB"),
                baseline: String::new(),
                ratio: None,
                target: "< 64 MiB".to_string(),
                pass: Some(mib < 64.0),
            },
        );
        if kind_at == 0 {
            verify(xtask, &out, sizes, &size, rows)?;
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    Ok(())
}

fn verify(
    xtask: &Path,
    out: &Path,
    sizes: &Sizes,
    size: &str,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let log = out.join("logs/OUT/output.log");
    let (mut verify_times, mut sha_times) = (Vec::new(), Vec::new());
    for _ in 0..sizes.reps {
        let mut sha = Command::new("sha256sum");
        sha.arg(&log);
        sha_times.push(measure::run(&mut sha, &[0])?.wall);
        let mut verify = Command::new(xtask);
        verify.args(["gate", "verify", "--out"]).arg(out);
        verify_times.push(measure::run(&mut verify, &[0])?.wall);
    }
    add(
        rows,
        Row::ratio(
            format!("verify of a run with a {size} log, vs `sha256sum` of the log"),
            median(verify_times),
            median(sha_times),
            Some(1.2),
        ),
    );
    Ok(())
}

/// Scheduling: the DAG of sleeping checks at -j 1, 2 and the core count, against its lower
/// bound max(critical path, total / j).
fn scheduling(
    xtask: &Path,
    scratch: &Scratch,
    sizes: &Sizes,
    cores: usize,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let gate = scratch.write("dag.toml", &workloads::sleeping_dag(sizes.unit))?;
    let out = scratch.0.join("out-dag");
    let mut jobs = vec![1, 2, cores];
    jobs.dedup();
    for j in jobs {
        let mut times = Vec::new();
        for _ in 0..sizes.reps {
            times.push(measure::run(&mut gate_command(xtask, &gate, &out, j), &[0])?.wall);
        }
        add(
            rows,
            Row::ratio(
                format!(
                    "scheduling: DAG of sleeping checks at -j {j}, vs max(critical path, total/j)"
                ),
                median(times),
                workloads::dag_bound(sizes.unit, j),
                Some(1.1),
            ),
        );
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

/// The loader (`gate -- --list` on a gate of many packets: load, validate, plan, list) and
/// the importer (`gate import` of a tracker with a large board) through the binary; absolute
/// targets. A run over [`SLOW`] is stopped and reported as such.
fn loader_and_importer(
    xtask: &Path,
    scratch: &Scratch,
    sizes: &Sizes,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let gate = scratch.write(
        "synthetic.toml",
        &relgate::synthetic::synthetic_gate(sizes.packets),
    )?;
    let board = scratch.write(
        "synthetic.md",
        &relgate::synthetic::synthetic_board(sizes.rows),
    )?;
    let imported = scratch.0.join("imported.toml");
    let mut load = Command::new(xtask);
    load.args(["gate", "--gate"])
        .arg(&gate)
        .args(["--", "--list"]);
    let mut import = Command::new(xtask);
    import
        .args(["gate", "import", "--force", "-o"])
        .arg(&imported)
        .arg(&board);
    let limit = Duration::from_secs(2);
    for (work, command) in [
        (
            format!("loader: {} packets (gate -- --list)", sizes.packets),
            &mut load,
        ),
        (
            format!("importer: a {}-row board (gate import)", sizes.rows),
            &mut import,
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..sizes.reps {
            match measure::run_within(command, &[0], SLOW)? {
                Some(sample) => times.push(sample.wall),
                None => break,
            }
        }
        let (measured, pass) = if times.len() < sizes.reps {
            (format!("> {}", show(SLOW)), false)
        } else {
            let took = median(times);
            (show(took), took < limit)
        };
        add(
            rows,
            Row {
                work,
                measured,
                baseline: String::new(),
                ratio: None,
                target: "< 2 s".to_string(),
                pass: Some(pass),
            },
        );
    }
    Ok(())
}

/// How long the loader or the importer may take before the benchmark stops it.
const SLOW: Duration = Duration::from_secs(60);

/// The xtask's dependency count and, when asked, its cold build time (an empty target dir).
fn build(scratch: &Scratch, mode: Mode, cold_build: bool, rows: &mut Vec<Row>) {
    if mode == Mode::Smoke {
        return;
    }
    eprintln!(
        "bench: dependencies{}…",
        if cold_build { " and cold build" } else { "" }
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tree = Command::new(&cargo)
        .args(["tree", "-p", "xtask", "-e", "normal", "--prefix", "none"])
        .current_dir(&root)
        .output();
    let count = match tree {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            let unique: std::collections::BTreeSet<&str> = text
                .lines()
                .map(|line| line.trim_end_matches(" (*)"))
                .collect();
            format!("{} crates", unique.len())
        }
        _ => "unavailable (cargo tree failed)".to_string(),
    };
    add(
        rows,
        Row::reported(
            "xtask dependencies (cargo tree -e normal, unique)".to_string(),
            count,
        ),
    );
    if !cold_build {
        return;
    }
    let target = scratch.0.join("cold-target");
    let clock = Instant::now();
    let status = Command::new(&cargo)
        .args(["build", "--quiet", "-p", "xtask"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&root)
        .status();
    let measured = match status {
        Ok(status) if status.success() => show(clock.elapsed()),
        _ => "unavailable (cargo build failed)".to_string(),
    };
    let _ = std::fs::remove_dir_all(&target);
    add(
        rows,
        Row::reported(
            "cold build: cargo build -p xtask, empty target dir".to_string(),
            measured,
        ),
    );
}

/// Bytes available to this user on the file system of `dir` (unlimited when unknown).
fn free_bytes(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return u64::MAX;
    };
    // SAFETY: an all-zero statvfs is a valid value for statvfs to overwrite; the path is a
    // NUL-terminated string that outlives the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return u64::MAX;
    }
    (stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64)
}

fn which(program: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .map(|found| found.display().to_string())
}

/// Width of the first column.
const WORK: usize = 78;

fn print_header() {
    println!();
    println!(
        "{:WORK$}  {:>12}  {:>12}  {:>8}  {:>9}  result",
        "work", "measured", "baseline", "ratio", "target"
    );
}

fn print_row(row: &Row) {
    let ratio = row.ratio.map_or_else(String::new, |r| format!("{r:.2}x"));
    let result = match row.pass {
        Some(true) => "PASS",
        Some(false) => "MISS",
        None => "",
    };
    println!(
        "{:WORK$}  {:>12}  {:>12}  {:>8}  {:>9}  {result}",
        row.work, row.measured, row.baseline, ratio, row.target
    );
}

/// Records a row and prints it at once (a full run takes minutes).
fn add(rows: &mut Vec<Row>, row: Row) {
    print_row(&row);
    rows.push(row);
}

fn print_summary(rows: &[Row]) {
    let missed = rows.iter().filter(|row| row.pass == Some(false)).count();
    let met = rows.iter().filter(|row| row.pass == Some(true)).count();
    println!("\n{met} targets met, {missed} missed (timings never fail the benchmark)");
}
