//! The benchmark in its smoke mode (tiny sizes): it runs every workload through the real
//! binary and prints every row with a target and PASS or MISS (the merge's rows, without a
//! target, with their ratio). Timings never fail it; only a crash does.
use crate::support;

#[test]
fn the_benchmark_runs_in_smoke_mode() {
    let output = support::xtask()
        .args(["bench", "--smoke"])
        .output()
        .expect("start the xtask");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the benchmark crashed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for work in [
        "per check: 10 checks `true`",
        "per-check cost at 20 checks vs at 5",
        "output capture: 1 MiB as one long line",
        "output capture: 1 MiB as `yes` lines",
        "peak RSS of the gate's process tree",
        "verify of a run with a 1 MiB log",
        "scheduling: DAG of sleeping checks at -j 1",
        "loader: 200 packets",
        "importer: a 100-row board",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(work) || line.trim_start().starts_with(work))
            .unwrap_or_else(|| panic!("no row `{work}` in:\n{stdout}"));
        assert!(
            row.ends_with("PASS") || row.ends_with("MISS"),
            "row without a result: {row}"
        );
    }
    assert!(stdout.contains("targets met"), "{stdout}");
    // The merge of a gate split into 3 real nextest shards: a ratio to the single-machine run
    // and to `gate report` of an unsplit run, and the peak RSS against the run's.
    if !support::nextest_available() {
        return;
    }
    for work in [
        "merge: 3 shards of 30 checks `true`, vs the single-machine run",
        "peak RSS: the merge vs the single-machine run's process tree",
        "merge: 3 shards of 30 checks `true`, vs gate report of an unsplit nextest run",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.trim_start().starts_with(work))
            .unwrap_or_else(|| panic!("no row `{work}` in:\n{stdout}"));
        assert!(row.trim_end().ends_with('x'), "row without a ratio: {row}");
    }
}
