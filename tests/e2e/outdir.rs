//! One run per out directory, stale verdicts, fragment names and their journal, checks
//! without output, a run killed between checks, and dependency order under nextest — each an
//! attack of issue 12 (or a guarantee of issue 13's journal) that must now hold.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::Value;

/// A gate file written into `dir`.
fn gate_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn start(gate: &Path, out: &Path, env: &[(&str, &str)]) -> Child {
    let mut command = xtask();
    command
        .args(["gate", "--no-progress", "--gate"])
        .arg(gate)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

fn run_gate(gate: &Path, out: &Path) -> Output {
    start(gate, out, &[]).wait_with_output().unwrap()
}

fn verify(out: &Path) -> Output {
    xtask()
        .args(["gate", "verify", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn report(gate: &Path, out: &Path) -> Output {
    xtask()
        .args(["gate", "report", "--gate"])
        .arg(gate)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ledger(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("evidence.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn record<'a>(ledger: &'a [Value], name: &str) -> &'a Value {
    ledger
        .iter()
        .find(|line| line["kind"] == "check" && line["name"] == name)
        .unwrap_or_else(|| panic!("no record for {name}"))
}

fn decision(ledger: &[Value]) -> String {
    let last = ledger.last().unwrap();
    assert_eq!(last["kind"], "verdict");
    last["decision"].as_str().unwrap().to_string()
}

/// The fragment directory of the only run in `out`.
fn run_fragments(out: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out.join("fragments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.pop().unwrap()
}

/// The names of the records in the journal of the only run in `out`, in order.
fn journal_names(out: &Path) -> Vec<String> {
    let journal = std::fs::read_to_string(run_fragments(out).join("journal.jsonl")).unwrap();
    journal
        .lines()
        .filter_map(|line| line.split("\"name\":\"").nth(1)?.split('"').next())
        .map(String::from)
        .collect()
}

const SLOW_A: &str = "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"a\"\n\
    run = \"for i in 1 2 3 4 5 6 7 8 9 10; do echo run-A-$i; sleep 0.1; done\"\n";
const SLOW_B: &str = "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"a\"\n\
    run = \"for i in 1 2 3 4 5 6 7 8 9 10; do echo run-B-$i; sleep 0.1; done\"\n";

/// Waits until a run holds `out` and has prepared it; returns the lock file's content. The
/// first run may be `cargo test -p gate-tests`, which can spend a long time in cargo before the
/// gate starts (checking or relinking the test binary on a loaded machine: CI saw more than
/// 20 s), so the wait is long; it ends the moment the run is ready.
fn wait_for_owner(out: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let owner = std::fs::read_to_string(out.join(".relgate-lock")).unwrap_or_default();
        if owner.contains("\"ready\":true") && out.join("fragments").exists() {
            return owner;
        }
        assert!(Instant::now() < deadline, "the first run never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Measured on the old main: the second run shared the first's `.part` log, and the first
/// printed GO over the second's output. Now the second is refused at once and the first's
/// log holds only its own output.
#[test]
fn a_second_run_into_a_busy_out_dir_is_refused_and_the_first_keeps_its_own_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (gate_a, gate_b) = (
        gate_file(dir.path(), "a.toml", SLOW_A),
        gate_file(dir.path(), "b.toml", SLOW_B),
    );
    let out = dir.path().join("out");
    let mut first = start(&gate_a, &out, &[]);
    let owner: Value = serde_json::from_str(wait_for_owner(&out).trim()).unwrap();
    let second = run_gate(&gate_b, &out);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the second run must be refused at once, not after the first ended"
    );
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    let expected = format!(
        "is in use by run {} (pid {})",
        owner["run_id"].as_str().unwrap(),
        first.id()
    );
    assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    assert!(!stderr.contains("not made by relgate"), "{stderr}");
    // `gate report` is refused too while the run holds the directory.
    let busy_report = report(&gate_a, &out);
    assert_eq!(busy_report.status.code(), Some(2), "{}", text(&busy_report));

    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let log = std::fs::read_to_string(out.join("logs/P/a.log")).unwrap();
    assert!(log.contains("run-A-10") && !log.contains("run-B"), "{log}");
    assert!(verify(&out).status.success());
    let parts: Vec<_> = std::fs::read_dir(out.join("logs/P"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "{parts:?}");
}

/// `cargo test -p gate-tests` and the processes of a nextest run hold the out directory too:
/// `cargo xtask gate` and `gate report` are refused while they run.
#[test]
fn cargo_test_and_nextest_runs_hold_the_out_dir_too() {
    let dir = tempfile::tempdir().unwrap();
    let (gate_a, gate_b) = (
        gate_file(dir.path(), "a.toml", SLOW_A),
        gate_file(dir.path(), "b.toml", SLOW_B),
    );
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut runners = vec![("cargo test", {
        let mut command = without_ambient(std::process::Command::new("cargo"));
        command.args(["test", "-q", "-p", "gate-tests"]);
        command
    })];
    if nextest_available() {
        let mut command = without_ambient(std::process::Command::new("cargo"));
        command.args(["nextest", "run", "-p", "gate-tests"]);
        runners.push(("nextest", command));
    }
    for (what, mut command) in runners {
        let out = dir.path().join(what.replace(' ', "-"));
        let mut holder = command
            .current_dir(&workspace)
            .env("RELGATE_GATE", &gate_a)
            .env("RELGATE_OUT", &out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let owner: Value = serde_json::from_str(wait_for_owner(&out).trim()).unwrap();
        let refused = [run_gate(&gate_b, &out), report(&gate_a, &out)];
        assert!(
            holder.try_wait().unwrap().is_none(),
            "{what} ended too soon"
        );
        for output in refused {
            assert_eq!(output.status.code(), Some(2), "{what}: {}", text(&output));
            let expected = format!("is in use by run {}", owner["run_id"].as_str().unwrap());
            assert!(
                String::from_utf8_lossy(&output.stderr).contains(&expected),
                "{what}"
            );
        }
        assert!(holder.wait().unwrap().success(), "{what}");
        let log = std::fs::read_to_string(out.join("logs/P/a.log")).unwrap();
        assert!(
            log.contains("run-A-10") && !log.contains("run-B"),
            "{what}: {log}"
        );
    }
}

/// Two runs started at the same instant into a directory that does not exist yet: one runs,
/// the other is told the directory is in use (not that relgate did not make it).
#[test]
fn two_runs_started_together_into_a_new_out_dir_one_wins() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let (gate_a, gate_b) = (
            gate_file(dir.path(), "a.toml", SLOW_A),
            gate_file(dir.path(), "b.toml", SLOW_B),
        );
        let out = dir.path().join("out");
        let (a, b) = (start(&gate_a, &out, &[]), start(&gate_b, &out, &[]));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = (a.status.code(), b.status.code());
        let (winner, loser, mine, theirs) = match codes {
            (Some(0), Some(2)) => (&a, &b, "run-A", "run-B"),
            (Some(2), Some(0)) => (&b, &a, "run-B", "run-A"),
            _ => panic!("round {round}: {}\n{}", text(&a), text(&b)),
        };
        let stderr = String::from_utf8_lossy(&loser.stderr);
        assert!(stderr.contains("is in use by run"), "{stderr}");
        let log = std::fs::read_to_string(out.join("logs/P/a.log")).unwrap();
        assert!(log.contains(mine) && !log.contains(theirs), "{log}");
        assert!(verify(&out).status.success(), "{}", text(winner));
    }
}

const GO_GATE: &str = "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"a\"\nrun = \"echo ok\"\n";

/// Measured on the old main: a run refused for an invalid gate file left the previous GO set
/// in place and verify passed on it. Every refused invocation now removes it first.
#[test]
fn a_refused_run_leaves_no_verdict_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let good = gate_file(dir.path(), "good.toml", GO_GATE);
    let invalid = gate_file(
        dir.path(),
        "invalid.toml",
        "[[packet]]\nid = \"P\"\nbogus = 1\n",
    );
    let out = dir.path().join("out");
    let refusals: [(&str, Vec<String>); 4] = [
        (
            "invalid gate",
            vec!["--gate".into(), invalid.display().to_string()],
        ),
        (
            "unknown packet",
            vec![
                "--gate".into(),
                good.display().to_string(),
                "--packet".into(),
                "NOPE".into(),
            ],
        ),
        (
            "missing gate",
            vec![
                "--gate".into(),
                dir.path().join("none.toml").display().to_string(),
            ],
        ),
        (
            "report of an invalid gate",
            vec![
                "report".into(),
                "--gate".into(),
                invalid.display().to_string(),
            ],
        ),
    ];
    for (what, args) in refusals {
        let run = run_gate(&good, &out);
        assert_eq!(run.status.code(), Some(0), "{}", text(&run));
        assert!(verify(&out).status.success());
        let refused = xtask()
            .arg("gate")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(2), "{what}: {}", text(&refused));
        let after = verify(&out);
        assert_eq!(
            after.status.code(),
            Some(1),
            "{what}: the old GO set still verifies"
        );
        for file in [
            "evidence.jsonl",
            "attestation.intoto.json",
            "junit.xml",
            "tracker.md",
            "report.sarif",
            "report.html",
        ] {
            assert!(!out.join(file).exists(), "{what}: {file} left behind");
        }
    }
}

/// A tiny PRNG (splitmix64): the kill points are reproducible from the printed seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// After a complete GO run, 32 runs into the same out directory are SIGKILLed at random points
/// from 0 ms to after they end. Every time, `gate verify` either fails or passes on one
/// complete run whose reports and logs are all its own.
#[test]
fn a_killed_run_never_leaves_a_set_that_verifies_as_another_runs() {
    let seed = std::env::var("RELGATE_KILL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5EED_0012_u64);
    println!("kill seed {seed} (set RELGATE_KILL_SEED to replay)");
    let mut rng = SplitMix(seed);
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        "gate.toml",
        "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"a\"\nrun = \"echo token=$KILL_TOKEN\"\n\
         [[packet.check]]\nid = \"b\"\nrun = \"echo token=$KILL_TOKEN; sleep 0.05\"\n\
         [[packet]]\nid = \"Q\"\ndepends_on = [\"P\"]\n[[packet.check]]\nid = \"c\"\nrun = \"echo token=$KILL_TOKEN\"\n",
    );
    let out = dir.path().join("out");
    let began = Instant::now();
    let complete = start(&gate, &out, &[("KILL_TOKEN", "first")])
        .wait_with_output()
        .unwrap();
    let duration = began.elapsed();
    assert_eq!(complete.status.code(), Some(0), "{}", text(&complete));
    assert!(verify(&out).status.success());
    let span = duration.as_micros() as u64 * 5 / 4;
    let (mut passed, mut failed) = (0, 0);
    for round in 0..32 {
        let delay = Duration::from_micros(rng.next() % span.max(1));
        let token = format!("kill-{round}");
        let mut child = start(&gate, &out, &[("KILL_TOKEN", &token)]);
        std::thread::sleep(delay);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        let verified = verify(&out);
        if !verified.status.success() {
            failed += 1;
            continue;
        }
        passed += 1;
        let records = ledger(&out);
        let context = format!("round {round}, killed after {delay:?}");
        assert_eq!(decision(&records), "GO", "{context}");
        let checks: Vec<&Value> = records
            .iter()
            .filter(|line| line["kind"] == "check")
            .collect();
        assert_eq!(checks.len(), 3, "{context}: a complete run");
        let run_id = records[0]["run_id"].as_str().unwrap();
        let mut tokens = Vec::new();
        for check in checks {
            let log = std::fs::read_to_string(out.join(check["log"].as_str().unwrap())).unwrap();
            tokens.push(log.lines().next().unwrap().to_string());
        }
        tokens.dedup();
        assert_eq!(
            tokens.len(),
            1,
            "{context}: logs of several runs: {tokens:?}"
        );
        for report in ["junit.xml", "tracker.md", "report.html", "report.sarif"] {
            let text = std::fs::read_to_string(out.join(report)).unwrap();
            assert!(
                text.contains(run_id),
                "{context}: {report} is not run {run_id}'s"
            );
        }
    }
    println!(
        "{passed} kills left a complete run that verifies, {failed} a set that fails verify (run takes {duration:?})"
    );
}

const COLLIDING: &str =
    "[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"x__y\"\nrun = \"echo one\"\n\
    [[packet]]\nid = \"A__x\"\n[[packet.check]]\nid = \"y\"\nrun = \"echo two\"\n";

/// Measured on the old main: packet `A` check `x__y` and packet `A__x` check `y` wrote one
/// fragment file, so the all-pass gate was GO under `cargo xtask gate` and NO_GO under
/// `gate report`.
#[test]
fn fragment_names_of_ids_with_underscores_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(dir.path(), "gate.toml", COLLIDING);
    let out = dir.path().join("out");
    let run = run_gate(&gate, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(decision(&ledger(&out)), "GO");
    let names: Vec<String> = journal_names(&out)
        .into_iter()
        .filter(|name| name.starts_with("check_"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_ne!(names[0], names[1]);
    let rebuilt = report(&gate, &out);
    assert_eq!(rebuilt.status.code(), Some(0), "{}", text(&rebuilt));
    let records = ledger(&out);
    assert_eq!(decision(&records), "GO");
    assert_eq!(record(&records, "A::x__y")["outcome"], "pass");
    assert_eq!(record(&records, "A__x::y")["outcome"], "pass");
    assert!(verify(&out).status.success());
}

const FAILING: &str = "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"a\"\n\
    run = \"echo 'FAIL: cross-tenant read returned 200'; exit 3\"\n\
    [[packet.check]]\nid = \"b\"\nrun = \"echo fine\"\n";

/// A failed run whose evidence is then altered one way or another: `gate report` refuses
/// (exit 1) and leaves no verdict behind.
#[test]
fn gate_report_refuses_altered_journals_and_logs() {
    type Tamper = fn(&Path, &Path);
    /// The journal's lines, and writing them back.
    fn lines(run: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
        text.lines().map(String::from).collect()
    }
    fn rewrite(run: &Path, lines: &[String]) {
        std::fs::write(run.join("journal.jsonl"), lines.join("\n") + "\n").unwrap();
    }
    fn line_of(lines: &[String], name: &str) -> usize {
        let key = format!("\"name\":\"{name}\"");
        lines.iter().position(|line| line.contains(&key)).unwrap()
    }
    let attacks: [(&str, Tamper); 7] = [
        ("a failed check's record edited into a pass", |_, run| {
            let mut all = lines(run);
            let at = line_of(&all, "check_P_a");
            let forged = all[at]
                .replace("\"outcome\":\"fail\"", "\"outcome\":\"pass\"")
                .replace("\"exit_code\":3", "\"exit_code\":0");
            assert_ne!(all[at], forged);
            all[at] = forged;
            rewrite(run, &all);
        }),
        ("a record removed", |_, run| {
            let mut all = lines(run);
            // The first record after the header: a later line's link names it.
            all.remove(1);
            rewrite(run, &all);
        }),
        ("two records swapped", |_, run| {
            let mut all = lines(run);
            all.swap(1, 2);
            rewrite(run, &all);
        }),
        ("a record duplicated", |_, run| {
            let mut all = lines(run);
            let copy = all[1].clone();
            all.insert(2, copy);
            rewrite(run, &all);
        }),
        ("a link edited", |_, run| {
            let mut all = lines(run);
            all[1] = all[1].replace("\"seq\":2", "\"seq\":7");
            rewrite(run, &all);
        }),
        ("the journal removed", |_, run| {
            std::fs::remove_file(run.join("journal.jsonl")).unwrap();
        }),
        ("a log edited", |out, _| {
            std::fs::write(out.join("logs/P/a.log"), "all good\n").unwrap();
        }),
    ];
    for (what, tamper) in attacks {
        let dir = tempfile::tempdir().unwrap();
        let gate = gate_file(dir.path(), "gate.toml", FAILING);
        let out = dir.path().join("out");
        let run = run_gate(&gate, &out);
        assert_eq!(run.status.code(), Some(1), "{}", text(&run));
        // Untouched, the fragments rebuild the same NO_GO.
        let honest = report(&gate, &out);
        assert_eq!(honest.status.code(), Some(1), "{}", text(&honest));
        assert_eq!(decision(&ledger(&out)), "NO_GO");
        tamper(&out, &run_fragments(&out));
        let refused = report(&gate, &out);
        assert_eq!(refused.status.code(), Some(1), "{what}: {}", text(&refused));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("error:"), "{what}: {stderr}");
        assert!(!String::from_utf8_lossy(&refused.stdout).contains("verdict: GO"));
        assert!(
            !out.join("evidence.jsonl").exists(),
            "{what}: a ledger was written"
        );
        assert_eq!(verify(&out).status.code(), Some(1), "{what}");
    }
}

/// Measured on the old main: under nextest a dependent's command ran while its dependency was
/// still running (and then failed). Now, at one thread and at four, a check whose dependency
/// fails is skipped without starting — even when nextest starts it first (tests go by name:
/// the dependency `Z` sorts last) — and a check whose dependency passes starts after it ended.
#[test]
fn nextest_runs_a_check_only_after_its_dependencies_are_done() {
    if !nextest_available() {
        return;
    }
    for threads in ["1", "4"] {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("blocked-ran");
        let transitive = dir.path().join("transitive-ran");
        let allowed = dir.path().join("allowed-ran");
        let gate = gate_file(
            dir.path(),
            "gate.toml",
            &format!(
                "[[packet]]\nid = \"Z\"\n[[packet.check]]\nid = \"slow\"\nrun = \"sleep 1; exit 3\"\n\
                 [[packet]]\nid = \"B\"\ndepends_on = [\"Z\"]\nchecklist = [{{ item = \"Deployed.\", by = [\"deploy\"] }}]\n\
                 [[packet.check]]\nid = \"deploy\"\nrun = \"touch {blocked}\"\n\
                 [[packet]]\nid = \"C\"\ndepends_on = [\"B\"]\n[[packet.check]]\nid = \"after\"\nrun = \"touch {transitive}\"\n\
                 [[packet]]\nid = \"Y\"\n[[packet.check]]\nid = \"ok\"\nrun = \"sleep 0.5\"\n\
                 [[packet]]\nid = \"E\"\ndepends_on = [\"Y\"]\n[[packet.check]]\nid = \"go\"\nrun = \"touch {allowed}\"\n\
                 {COLLIDING}",
                blocked = blocked.display(),
                transitive = transitive.display(),
                allowed = allowed.display(),
            ),
        );
        let out = dir.path().join("out");
        let nextest = nextest_gate(&gate, &out, &["--test-threads", threads]);
        let context = format!("--test-threads {threads}\n{}", text(&nextest));
        assert!(!nextest.status.success(), "{context}");
        assert!(!blocked.exists(), "a blocked check ran: {context}");
        assert!(
            !transitive.exists(),
            "a transitively blocked check ran: {context}"
        );
        assert!(
            allowed.exists(),
            "a check whose dependency passed did not run: {context}"
        );

        let rebuilt = report(&gate, &out);
        assert_eq!(
            rebuilt.status.code(),
            Some(1),
            "{context}\n{}",
            text(&rebuilt)
        );
        let records = ledger(&out);
        assert_eq!(records[0]["mode"], "nextest");
        assert_eq!(record(&records, "Z::slow")["outcome"], "fail");
        for name in ["B::deploy", "C::after"] {
            let skipped = record(&records, name);
            assert_eq!(skipped["outcome"], "skipped", "{name}: {context}");
            assert!(skipped["exit_code"].is_null(), "{name} never started");
        }
        let (dep, dependent) = (record(&records, "Y::ok"), record(&records, "E::go"));
        assert_eq!(dependent["outcome"], "pass");
        assert!(
            dependent["started"].as_str() >= dep["ended"].as_str(),
            "E::go started before Y::ok ended: {dep}\n{dependent}"
        );
        assert_eq!(record(&records, "A::x__y")["outcome"], "pass");
        assert_eq!(record(&records, "A__x::y")["outcome"], "pass");
        let packet = |id: &str| {
            records
                .iter()
                .find(|line| line["kind"] == "packet" && line["packet"] == id)
                .unwrap()["status"]
                .clone()
        };
        assert_eq!(packet("B"), "BLOCKED");
        assert_eq!(packet("C"), "BLOCKED");
        assert!(verify(&out).status.success());
    }
}

/// The review's attack: a repository that commits `target/gate/.relgate-lock` as a symlink
/// would have the run write its lock record through it into any file the CI user can write.
#[test]
fn a_symlinked_lock_file_is_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        "gate.toml",
        "[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"ok\"\nrun = \"true\"\n",
    );
    let precious = dir.path().join("precious.conf");
    std::fs::write(&precious, "[core] precious=1\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&precious, out.join(".relgate-lock")).unwrap();
    let output = run_gate(&gate, &out);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "[core] precious=1\n"
    );
}

/// A check that prints nothing leaves no log file; its record says so (no log, 0 bytes, the
/// digest of no bytes), every report says "no output", and `verify` and `gate report` hold
/// the claim against the disk both ways.
#[test]
fn a_check_without_output_has_no_log_file_and_the_claim_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        "gate.toml",
        "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"quiet\"\nrun = \"true\"\n\
         [[packet.check]]\nid = \"loud\"\nrun = \"echo hello\"\n",
    );
    let out = dir.path().join("out");
    let run = run_gate(&gate, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(!out.join("logs/P/quiet.log").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("logs/P/loud.log")).unwrap(),
        "hello\n"
    );
    let records = ledger(&out);
    let quiet = record(&records, "P::quiet");
    assert!(quiet["log"].is_null(), "{quiet}");
    assert_eq!(quiet["bytes"], 0);
    assert_eq!(
        quiet["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for report in ["tracker.md", "report.html"] {
        let text = std::fs::read_to_string(out.join(report)).unwrap();
        assert!(text.contains("no output"), "{report}");
        assert!(
            !text.contains("logs/P/quiet.log"),
            "{report} links a missing log"
        );
    }
    assert!(verify(&out).status.success());

    // A log planted where the record says there was no output.
    std::fs::write(out.join("logs/P/quiet.log"), "FAIL: leaked\n").unwrap();
    let refused = verify(&out);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("says the check printed nothing"),
        "{}",
        text(&refused)
    );
    let rebuilt = report(&gate, &out);
    assert_eq!(rebuilt.status.code(), Some(1), "{}", text(&rebuilt));
    assert!(!out.join("evidence.jsonl").exists(), "{}", text(&rebuilt));
    std::fs::remove_file(out.join("logs/P/quiet.log")).unwrap();
    assert_eq!(report(&gate, &out).status.code(), Some(0));
    assert!(verify(&out).status.success());

    // And the reverse: a log the record names, removed.
    std::fs::remove_file(out.join("logs/P/loud.log")).unwrap();
    assert_eq!(verify(&out).status.code(), Some(1));
    assert_eq!(report(&gate, &out).status.code(), Some(1));
}

/// A run SIGKILLed while a check runs loses none of the records it wrote: the journal holds
/// the header and every finished check, whole, and `gate report` rebuilds from them (the
/// unfinished check has no evidence, so the verdict is not GO).
#[test]
fn a_run_killed_between_checks_keeps_every_record_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        "gate.toml",
        "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"a\"\nrun = \"echo one\"\n\
         [[packet.check]]\nid = \"b\"\nrun = \"true\"\n\
         [[packet]]\nid = \"Q\"\ndepends_on = [\"P\"]\n[[packet.check]]\nid = \"slow\"\nrun = \"sleep 37.25\"\n",
    );
    let out = dir.path().join("out");
    let mut child = xtask()
        .args(["gate", "--no-progress", "-j", "1", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sleepers("sleep 37.25").is_empty() {
        assert!(Instant::now() < deadline, "Q::slow never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let journal = std::fs::read_to_string(run_fragments(&out).join("journal.jsonl")).unwrap();
    assert!(journal.ends_with('\n'), "{journal}");
    let mut names = journal_names(&out);
    // A worker hands its job slot back before it publishes, so with -j 1 P::b may run and
    // publish while P::a is still publishing: the order of the two is not fixed.
    names[1..].sort();
    assert_eq!(names, ["header", "check_P_a", "check_P_b"], "{journal}");

    let rebuilt = report(&gate, &out);
    assert_eq!(rebuilt.status.code(), Some(1), "{}", text(&rebuilt));
    let records = ledger(&out);
    assert_eq!(record(&records, "P::a")["outcome"], "pass");
    assert_eq!(record(&records, "P::b")["outcome"], "pass");
    assert!(
        !records
            .iter()
            .any(|line| line["name"] == "Q::slow" && line["outcome"] == "pass"),
        "{records:?}"
    );
    assert_ne!(decision(&records), "GO");
    assert!(verify(&out).status.success());
}

/// A failing check that printed nothing: every report says "no output" where it would name the
/// log, and the run verifies.
#[test]
fn a_failing_check_without_output_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        "gate.toml",
        "[[packet]]\nid = \"P\"\n[[packet.check]]\nid = \"quiet\"\nrun = \"exit 3\"\n",
    );
    let out = dir.path().join("out");
    let run = run_gate(&gate, &out);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(!out.join("logs/P/quiet.log").exists());
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("--- no output ---"),
        "{}",
        text(&run)
    );
    for (report, says) in [
        ("junit.xml", "log: no output"),
        ("report.sarif", "No output"),
        ("tracker.md", "log: no output"),
        ("report.html", "no output"),
    ] {
        let body = std::fs::read_to_string(out.join(report)).unwrap();
        assert!(body.contains(says), "{report}: {body}");
        assert!(
            !body.contains("quiet.log"),
            "{report} names a log that does not exist"
        );
    }
    assert!(verify(&out).status.success(), "{}", text(&verify(&out)));
}
