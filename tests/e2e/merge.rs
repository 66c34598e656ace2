//! `gate merge` refuses shards that do not make one run, and never lets a missing or altered
//! shard pass: shards of another gate file or commit, of another split, one partition or run
//! given twice, overlapping shards, a tampered log or journal (refused), and trials nobody
//! finished (FAIL "no evidence"). Also: a check that another shard's dependency run saw
//! failing is flaky in the merged run, and its dependents there stayed blocked; nextest's own
//! retries keep every attempt. Shards are real `cargo nextest run --partition` runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{
    assert_verifies, nextest_available, nextest_gate, output_context, write_gate, xtask,
};

const GATE: &str = r#"
[gate]
name = "merge refusals"

[[packet]]
id = "A"
title = "first"

[[packet.check]]
id = "one"
run = "echo one"

[[packet.check]]
id = "two"
run = "echo two"

[[packet]]
id = "B"
title = "second"
depends_on = ["A"]
checklist = [{ item = "three holds", by = ["three"] }]

[[packet.check]]
id = "three"
run = "echo three"

[[packet.check]]
id = "four"
run = "echo four"
"#;

fn shard(gate: &Path, out: &Path, partition: &str, extra: &[&str]) {
    let mut args = vec!["--partition", partition];
    args.extend_from_slice(extra);
    let output = nextest_gate(gate, out, &args);
    assert!(
        matches!(output.status.code(), Some(0 | 100)),
        "shard {partition}:\n{}",
        output_context(&output)
    );
}

/// `s1`…`sN` in `dir`: shard `slice:M/N` of `gate` each (with `extra` nextest arguments).
fn split(gate: &Path, dir: &Path, total: usize, extra: &[&str]) -> Vec<PathBuf> {
    (1..=total)
        .map(|index| {
            let out = dir.join(format!("s{index}"));
            shard(gate, &out, &format!("slice:{index}/{total}"), extra);
            out
        })
        .collect()
}

/// `gate report --gate GATE --out OUT extra…`.
fn gate_report(gate: &Path, out: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    xtask()
        .args(["gate", "report", "--gate"])
        .arg(gate)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// Seals a shard's run in its job: `gate report` signed with `key`, exit 0, its verdict said
/// to cover one partition only.
fn seal(gate: &Path, out: &Path, key: &Path) {
    let report = gate_report(gate, out, &["--sign-key".as_ref(), key.as_os_str()]);
    assert_eq!(report.status.code(), Some(0), "{}", output_context(&report));
    assert!(String::from_utf8_lossy(&report.stdout).contains("not the release"));
}

fn merge(gate: &Path, shards: &[&Path], out: &Path) -> Output {
    merge_trusting(gate, shards, out, &[])
}

/// `gate merge SHARDS… --gate GATE --out OUT`, not yet run.
fn merge_command(gate: &Path, shards: &[&Path], out: &Path) -> Command {
    let mut command = xtask();
    command.args(["gate", "merge"]).args(shards);
    command.arg("--gate").arg(gate).arg("--out").arg(out);
    command
}

/// `gate merge` with a `--trusted-key` per key.
fn merge_trusting(gate: &Path, shards: &[&Path], out: &Path, keys: &[&Path]) -> Output {
    let mut command = merge_command(gate, shards, out);
    for key in keys {
        command.arg("--trusted-key").arg(key);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn assert_refused(output: &Output, code: i32, says: &str, out: &Path) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        output_context(output)
    );
    assert!(
        stderr(output).contains(says),
        "expected `{says}`:\n{}",
        output_context(output)
    );
    assert!(
        !out.join("evidence.jsonl").exists() && !out.join("junit.xml").exists(),
        "a refused merge leaves no verdict"
    );
}

/// Every check record of a ledger: name → record.
fn records(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("evidence.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|line| line.get("record").cloned().unwrap_or(line))
        .filter(|record| record["kind"] == "check")
        .collect()
}

fn record<'r>(records: &'r [Value], name: &str) -> &'r Value {
    records
        .iter()
        .find(|record| record["name"] == name)
        .unwrap_or_else(|| panic!("no record of {name}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn merge_refuses_shards_that_are_not_one_run_and_fails_what_nobody_ran() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path(), "packets.toml", GATE);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "packets.toml"]);
    git(dir.path(), &["commit", "-qm", "gate"]);
    let shard_dir = |name: &str| dir.path().join(name);
    let out = dir.path().join("merged");
    let [s1, s2, s3]: [PathBuf; 3] = split(&gate, dir.path(), 3, &[]).try_into().unwrap();

    // The three make one run: GO, and it verifies.
    let merged = merge(&gate, &[&s1, &s2, &s3], &out);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    assert_verifies(&out, &[]);
    assert!(records(&out)
        .iter()
        .all(|record| record["outcome"] == "pass"));

    // A gap: shard 2 (A::two, B::three) is missing, its trials FAIL "no evidence" (NO_GO),
    // never absent.
    let merged = merge(&gate, &[&s1, &s3], &out);
    assert_eq!(merged.status.code(), Some(1), "{}", output_context(&merged));
    let all = records(&out);
    for name in ["A::two", "B::three"] {
        let gap = record(&all, name);
        assert_eq!(gap["outcome"], "fail", "{gap}");
        assert!(
            gap["message"].as_str().unwrap().starts_with("no evidence"),
            "{gap}"
        );
    }
    assert_eq!(record(&all, "A::one")["outcome"], "pass");
    assert!(String::from_utf8_lossy(&merged.stdout).contains("gap: no evidence"));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("no evidence"), "{junit}");

    // Refusals, each with exit 2 and no verdict left behind.
    let other_gate = write_gate(dir.path(), "other.toml", &format!("{GATE}\n# changed\n"));
    assert_refused(
        &merge(&other_gate, &[&s1, &s2, &s3], &out),
        2,
        "another gate file",
        &out,
    );
    assert_refused(
        &merge(&gate, &[&s1, &s2, &s1], &out),
        2,
        "given twice",
        &out,
    );
    let copy = shard_dir("s1-copy");
    copy_dir(&s1, &copy);
    assert_refused(
        &merge(&gate, &[&s1, &s2, &copy], &out),
        2,
        "the same run",
        &out,
    );
    let again = shard_dir("s1-again");
    shard(&gate, &again, "slice:1/3", &[]);
    assert_refused(
        &merge(&gate, &[&s1, &s2, &again], &out),
        2,
        "given twice",
        &out,
    );
    let halves = shard_dir("half");
    shard(&gate, &halves, "slice:1/2", &[]);
    assert_refused(&merge(&gate, &[&s1, &halves], &out), 2, "one split", &out);
    let whole = shard_dir("whole");
    let output = nextest_gate(&gate, &whole, &[]);
    assert!(output.status.success(), "{}", output_context(&output));
    assert_refused(&merge(&gate, &[&whole, &s1], &out), 2, "overlapping", &out);
    assert_refused(&merge(&gate, &[&s1, &out], &out), 2, "out directory", &out);

    // Another commit.
    std::fs::write(dir.path().join("README"), "changed\n").unwrap();
    git(dir.path(), &["add", "README"]);
    git(dir.path(), &["commit", "-qm", "later"]);
    let later = shard_dir("s3-later");
    shard(&gate, &later, "slice:3/3", &[]);
    assert_refused(
        &merge(&gate, &[&s1, &s2, &later], &out),
        2,
        "different code",
        &out,
    );

    // Tampering: an edited log, an edited journal — exit 1, no verdict.
    let tampered = shard_dir("s2-tampered");
    copy_dir(&s2, &tampered);
    let log = std::fs::read_dir(tampered.join("logs/A"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(&log, "forged\n").unwrap();
    assert_refused(
        &merge(&gate, &[&s1, &tampered, &s3], &out),
        1,
        "altered",
        &out,
    );
    let forged = shard_dir("s3-forged");
    copy_dir(&s3, &forged);
    let journal = journal_of(&forged);
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, text.replacen("slice:3/3", "slice:2/3", 1)).unwrap();
    assert_refused(
        &merge(&gate, &[&s1, &s2, &forged], &out),
        1,
        "altered",
        &out,
    );
}

/// GATE where A::two fails its first run and passes every later one: (the gate, the file
/// that marks that it ran once).
fn gate_with_flaky_two(dir: &Path) -> (PathBuf, PathBuf) {
    let mark = dir.join("mark");
    let gate_text = GATE.replace(
        "run = \"echo two\"",
        &format!(
            "run = \"sh -c 'if test -e {0}; then echo two again; else touch {0}; echo two; exit 1; fi'\"",
            mark.display()
        ),
    );
    (write_gate(dir, "packets.toml", &gate_text), mark)
}

fn journal_of(out: &Path) -> PathBuf {
    let run = std::fs::read_dir(out.join("fragments"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    run.join("journal.jsonl")
}

/// The dependency rule: shard 1 owns `B::four`, needs `A::two` (shard 2's) first and runs it
/// itself; there it fails (first run), so `B::four` is blocked in shard 1. Shard 2's own run
/// of `A::two` passes: merged, `A::two` is FLAKY with both attempts, and `B::four` stays
/// blocked — NO_GO, never a GO a single run would not give. nextest's retries of a check keep
/// every attempt too.
#[test]
fn a_dependency_run_that_disagrees_makes_the_check_flaky_and_retries_keep_every_attempt() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (gate, mark) = gate_with_flaky_two(dir.path());
    let trials = [
        "A::one",
        "A::two",
        "B::checklist::three-holds",
        "B::four",
        "B::three",
    ];
    // slice:M/3 deals the sorted trials round-robin: shard 1 holds A::one and B::four.
    assert_eq!(
        trials.iter().step_by(3).copied().collect::<Vec<_>>(),
        ["A::one", "B::four"]
    );
    let shards = split(&gate, dir.path(), 3, &[]);
    let out = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let merged = merge(&gate, &refs, &out);
    assert_eq!(merged.status.code(), Some(1), "{}", output_context(&merged));
    let all = records(&out);
    let two = record(&all, "A::two");
    assert_eq!(two["outcome"], "pass", "{two}");
    assert_eq!(two["shard"], "slice:2/3");
    let attempts = two["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{two}");
    assert_eq!(attempts[0]["outcome"], "fail");
    assert_eq!(attempts[0]["shard"], "slice:1/3");
    assert_eq!(record(&all, "B::four")["outcome"], "skipped");
    let ledger = std::fs::read_to_string(out.join("evidence.jsonl")).unwrap();
    assert!(ledger.contains("\"state\":\"flaky\""), "{ledger}");
    assert_verifies(&out, &[]);

    // nextest's retries, unsplit: the first run of A::two fails, its retry passes.
    std::fs::remove_file(&mark).unwrap();
    let retried = dir.path().join("retried");
    let output = nextest_gate(&gate, &retried, &["--retries", "1"]);
    assert!(output.status.success(), "{}", output_context(&output));
    let report = gate_report(&gate, &retried, &[]);
    assert_eq!(report.status.code(), Some(0), "{}", output_context(&report));
    let all = records(&retried);
    let two = record(&all, "A::two");
    assert_eq!(two["outcome"], "pass");
    assert_eq!(two["log"], "logs/A/two.attempts/2.log");
    assert_eq!(two["attempts"][0]["outcome"], "fail");
    assert_eq!(two["attempts"][0]["log"], "logs/A/two.log");
    let ledger = std::fs::read_to_string(retried.join("evidence.jsonl")).unwrap();
    assert!(ledger.contains("GO_WITH_CONDITIONS"), "{ledger}");
}

/// `cmd`'s output, failing the test if it has not exited within a minute: a read of a FIFO
/// a forger put in place of a file would block for ever.
fn output_within_a_minute(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output().unwrap()));
    match wait.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(output) => output,
        Err(_) => {
            // SAFETY: kill(2) of the child this test spawned.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{cmd:?} did not exit within a minute");
        }
    }
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A forged shard or merged run with a FIFO where a log, the journal or the ledger belongs is
/// refused at once (a read blocked for ever); the out directory is never inside a shard (the
/// merge would write into its evidence), even through a symlink; a merged run is not a shard.
#[test]
fn a_merge_refuses_fifos_an_out_dir_inside_a_shard_and_a_merged_run() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path(), "packets.toml", GATE);
    let [s1, s2, s3]: [PathBuf; 3] = split(&gate, dir.path(), 3, &[]).try_into().unwrap();
    let out = dir.path().join("merged");

    let inside = s1.join("merged");
    assert_refused(
        &merge(&gate, &[&s1, &s2, &s3], &inside),
        2,
        "inside shard",
        &inside,
    );
    std::os::unix::fs::symlink(&s1, dir.path().join("link")).unwrap();
    let through = dir.path().join("link/merged");
    assert_refused(
        &merge(&gate, &[&s1, &s2, &s3], &through),
        2,
        "inside shard",
        &through,
    );
    assert!(!inside.exists());

    let fifo_log = dir.path().join("fifo-log");
    copy_dir(&s2, &fifo_log);
    let log = std::fs::read_dir(fifo_log.join("logs/A"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    mkfifo(&log);
    let command = merge_command(&gate, &[&s1, &fifo_log, &s3], &out);
    assert_refused(
        &output_within_a_minute(command),
        1,
        "not a regular file",
        &out,
    );
    let fifo_journal = dir.path().join("fifo-journal");
    copy_dir(&s3, &fifo_journal);
    mkfifo(&journal_of(&fifo_journal));
    let command = merge_command(&gate, &[&s1, &s2, &fifo_journal], &out);
    assert_refused(
        &output_within_a_minute(command),
        1,
        "not a regular file",
        &out,
    );

    let merged = merge(&gate, &[&s1, &s2, &s3], &out);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    let again = dir.path().join("again");
    assert_refused(
        &merge(&gate, &[&out], &again),
        2,
        "out directory of a merge",
        &again,
    );
    mkfifo(&out.join("evidence.jsonl"));
    let mut command = xtask();
    command.args(["gate", "verify", "--out"]).arg(&out);
    let verify = output_within_a_minute(command);
    assert_eq!(verify.status.code(), Some(1), "{}", output_context(&verify));
    assert!(
        stderr(&verify).contains("not a regular file"),
        "{}",
        output_context(&verify)
    );
}

/// Services start in every shard that runs a check needing them, and the merged run keeps
/// each shard's service records and logs.
#[test]
fn each_shard_starts_the_services_its_checks_need_and_the_merge_keeps_their_evidence() {
    if !nextest_available() || !crate::support::runs("python3", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "served\n").unwrap();
    let gate = write_gate(
        dir.path(),
        "packets.toml",
        r#"
[gate]
name = "services in shards"

[[service]]
name = "web"
run = "python3 -m http.server ${port} --bind 127.0.0.1"

[[packet]]
id = "A"
title = "first"

[[packet.check]]
id = "fetch"
run = "python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' ${web.url}/index.html"

[[packet]]
id = "B"
title = "second"

[[packet.check]]
id = "fetch"
run = "python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' ${web.url}/index.html"
"#,
    );
    let shards = split(&gate, dir.path(), 2, &[]);
    let out = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let merged = merge(&gate, &refs, &out);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    let all = records(&out);
    for name in ["A::fetch", "B::fetch"] {
        assert_eq!(record(&all, name)["outcome"], "pass", "{all:?}");
    }
    let ledger = std::fs::read_to_string(out.join("evidence.jsonl")).unwrap();
    let services: Vec<Value> = ledger
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|line| line.get("record").cloned().unwrap_or(line))
        .filter(|record| record["kind"] == "service")
        .collect();
    assert_eq!(services.len(), 2, "one web service per shard: {services:?}");
    for service in &services {
        let log = service["log"].as_str().unwrap();
        assert!(log.starts_with("shards/slice-"), "{log}");
        assert!(out.join(log).is_file());
    }
    assert_verifies(&out, &[]);
}

/// A shard directory holding two runs (a stale run restored from a cache, or artifacts
/// downloaded into one directory) is refused: the merge does not guess which is current by
/// file times, which a download resets. Here the stale run passed and the current one failed:
/// a guess made the release GO. A merge also leaves none of an earlier merge's shard logs.
#[test]
fn a_shard_holding_two_runs_is_refused_and_no_earlier_merge_leaves_shard_logs() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    std::fs::write(&flag, "").unwrap();
    let gate = write_gate(
        dir.path(),
        "packets.toml",
        &format!(
            r#"
[gate]
name = "stale shard"

[[packet]]
id = "A"
title = "first"

[[packet.check]]
id = "one"
run = "test -e {}"

[[packet.check]]
id = "two"
run = "echo two"
"#,
            flag.display()
        ),
    );
    let (s1, s2) = (dir.path().join("s1"), dir.path().join("s2"));
    shard(&gate, &s1, "slice:1/2", &[]);
    shard(&gate, &s2, "slice:2/2", &[]);
    let out = dir.path().join("merged");
    let merged = merge(&gate, &[&s1, &s2], &out);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    assert!(out.join("shards/slice-2-of-2/logs/A/two.log").is_file());

    // The check fails now; the old run of the partition comes back beside the new one.
    let stale = journal_of(&s1).parent().unwrap().to_path_buf();
    let kept = dir.path().join("stale-run");
    copy_dir(&stale, &kept);
    std::fs::remove_file(&flag).unwrap();
    shard(&gate, &s1, "slice:1/2", &[]);
    let restored = s1.join("fragments").join(stale.file_name().unwrap());
    copy_dir(&kept, &restored);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for path in [restored.join("journal.jsonl"), restored.clone()] {
        let file = std::fs::File::open(&path).unwrap();
        file.set_modified(later).unwrap();
    }
    let merged = merge(&gate, &[&s1, &s2], &out);
    assert_refused(&merged, 2, "runs", &out);
    assert!(
        stderr(&merged).contains(&stale.file_name().unwrap().to_string_lossy().to_string()),
        "{}",
        output_context(&merged)
    );
    assert!(
        !out.join("shards").exists(),
        "an earlier merge's shard logs stay in the out directory"
    );
}

/// What a shard's header says is printed by the merge on one line, its control characters
/// escaped: a shard's artifact cannot write lines of its own into the merge job's log (a CI
/// workflow command such as `::error::`, or terminal escapes).
#[test]
fn a_shard_cannot_print_lines_of_its_own_in_the_merge_log() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path(), "packets.toml", GATE);
    let shards = split(&gate, dir.path(), 3, &[]);
    rewrite_journal(&journal_of(&shards[0]), |name, fragment| {
        if name == "header" {
            fragment["host"] = Value::from("ci\n::error title=forged::all good\u{1b}[2J");
        }
        true
    });
    let out = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let merged = merge(&gate, &refs, &out);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    let stdout = String::from_utf8_lossy(&merged.stdout);
    assert!(
        !stdout.lines().any(|line| line.starts_with("::")) && !stdout.contains('\u{1b}'),
        "{stdout}"
    );
    assert!(stdout.contains("ci\\n::error"), "{stdout}");
}

/// `gate report` in a shard's job exits 0 whatever its partial verdict, but a partition of one
/// (`slice:1/1`) holds the whole gate: its report is the release verdict and exits with it.
#[test]
fn a_partition_of_one_reports_the_release_verdict_with_its_exit_code() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(
        dir.path(),
        "packets.toml",
        &GATE.replace("run = \"echo four\"", "run = \"sh -c 'exit 3'\""),
    );
    let out = dir.path().join("whole");
    shard(&gate, &out, "slice:1/1", &[]);
    let report = gate_report(&gate, &out, &[]);
    assert_eq!(report.status.code(), Some(1), "{}", output_context(&report));
    assert!(!String::from_utf8_lossy(&report.stdout).contains("not the release"));
    let halves = split(&gate, dir.path(), 2, &[]);
    let report = gate_report(&gate, &halves[0], &[]);
    assert_eq!(report.status.code(), Some(0), "{}", output_context(&report));
    assert!(String::from_utf8_lossy(&report.stdout).contains("not the release"));
}

/// An unsplit nextest run is a shard of one too, and `gate report` there does not make it look
/// tampered: its records carry no partition, and the merge once counted only labelled ones.
#[test]
fn an_unsplit_run_merges_after_its_report_with_the_same_verdict() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path(), "packets.toml", GATE);
    let out = dir.path().join("whole");
    let run = nextest_gate(&gate, &out, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", output_context(&run));
    let report = gate_report(&gate, &out, &[]);
    assert_eq!(report.status.code(), Some(0), "{}", output_context(&report));
    let merged_dir = dir.path().join("merged");
    let merged = merge(&gate, &[&out], &merged_dir);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    assert!(String::from_utf8_lossy(&merged.stdout).contains("verdict: GO"));
    assert_verifies(&merged_dir, &[]);
}

/// Rewrites a shard's journal with `edit` applied to each fragment (name, JSON; it returns
/// whether the fragment stays), chained again as a writer of the whole artifact could: the
/// merge must not trust what it says.
fn rewrite_journal(journal: &Path, edit: impl Fn(&str, &mut Value) -> bool) {
    rewrite_journal_renaming(journal, |name, fragment| {
        edit(name, fragment).then(|| name.to_string())
    });
}

/// [`rewrite_journal`] where `edit` may also rename a fragment (`Some(new name)` keeps it).
fn rewrite_journal_renaming(journal: &Path, edit: impl Fn(&str, &mut Value) -> Option<String>) {
    use sha2::{Digest, Sha256};
    let text = std::fs::read_to_string(journal).unwrap();
    let mut prev = "0".repeat(64);
    let mut rewritten = String::new();
    let mut seq = 0;
    for line in text.lines() {
        let link: Value = serde_json::from_str(line).unwrap();
        let mut fragment = link["fragment"].clone();
        let Some(name) = edit(link["name"].as_str().unwrap(), &mut fragment) else {
            continue;
        };
        seq += 1;
        let bytes = serde_json::to_string(&fragment).unwrap();
        let line = format!(
            "{{\"seq\":{seq},\"prev\":\"{prev}\",\"name\":\"{name}\",\"sha256\":\"{}\",\"fragment\":{bytes}}}",
            hex::encode(Sha256::digest(bytes.as_bytes()))
        );
        prev = hex::encode(Sha256::digest(line.as_bytes()));
        rewritten.push_str(&line);
        rewritten.push('\n');
    }
    std::fs::write(journal, rewritten).unwrap();
}

mod signed;
