//! `retries = N`: a failed check runs again, every attempt is kept in the ledger with its own
//! log, a pass after a failure is FLAKY (GO_WITH_CONDITIONS, never GO), and `gate verify`
//! holds every attempt's evidence to what the ledger recorded — real gate runs of the real
//! xtask, with commands that fail on their first run.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{output_context, run_gate, ssh_key, write_gate, xtask, Run};
use relgate::evidence::{Outcome, Record};
use serde_json::Value;

/// A gate with one check `SEC-00::flaky` that fails (printing `first`) on its first run and
/// passes (printing `second`) after, `retries = 2`, at `severity`; the marker lives in `dir`.
fn flaky_gate(dir: &Path, severity: &str) -> PathBuf {
    let mark = dir.join("mark");
    write_gate(
        dir,
        "gate.toml",
        &format!(
            "[gate]\nname = \"retries\"\n[[packet]]\nid = \"SEC-00\"\nimplementer = \"erin\"\n\
             [[packet.check]]\nid = \"flaky\"\nseverity = \"{severity}\"\nretries = 2\n\
             run = 'test -e \"{mark}\" || {{ touch \"{mark}\"; echo first; exit 1; }}; echo second'\n",
            mark = mark.display()
        ),
    )
}

/// `gate verify --out OUT` with `args`.
fn verify(out: &Path, args: &[&str]) -> Output {
    xtask()
        .args(["gate", "verify", "--out"])
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `output` exited 1 and said `needle` on stderr.
fn assert_refused(output: &Output, needle: &str) {
    let context = output_context(output);
    assert_eq!(output.status.code(), Some(1), "{context}");
    assert!(
        text(&output.stderr).contains(needle),
        "expected {needle:?}: {context}"
    );
}

fn sha256_of(path: &Path) -> String {
    relgate::evidence::sha256_file(path).unwrap().0
}

/// The attestation's statement of a run.
fn statement(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("attestation.intoto.json")).unwrap()).unwrap()
}

/// The attestation's predicate entry of check `name`.
fn attested_check(out: &Path, name: &str) -> Value {
    statement(out)["predicate"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not in the predicate"))
}

#[test]
fn a_pass_after_a_failure_is_flaky_with_both_attempts_kept() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_gate(&flaky_gate(dir.path(), "P1"), &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert_eq!(run.decision(), "GO_WITH_CONDITIONS", "{}", run.context());
    let out = run.out.path();
    let record = run.check("SEC-00::flaky");
    assert_eq!(record["outcome"], "pass");
    assert_eq!(record["log"], "logs/SEC-00/flaky.attempts/2.log");
    let attempts = record["attempts"].as_array().expect("attempts recorded");
    assert_eq!(attempts.len(), 1, "{record:#}");
    assert_eq!(
        (&attempts[0]["outcome"], &attempts[0]["exit_code"]),
        (&Value::from("fail"), &Value::from(1))
    );
    assert_eq!(attempts[0]["log"], "logs/SEC-00/flaky.log");
    for (attempt, printed) in [(&attempts[0], "first\n"), (&record, "second\n")] {
        let log = out.join(attempt["log"].as_str().unwrap());
        assert_eq!(std::fs::read_to_string(&log).unwrap(), printed);
        assert_eq!(attempt["sha256"], sha256_of(&log).as_str());
        assert_eq!(attempt["bytes"], printed.len());
    }
    assert!(
        record["notes"]
            .as_array()
            .unwrap()
            .contains(&Value::from("2 attempts ran (retries = 2): FAIL, PASS")),
        "{record:#}"
    );
    // A condition at the check's severity, listing both attempts.
    let verdict = run.ledger().pop().unwrap();
    let risks = verdict["residual_risks"].as_array().unwrap();
    assert_eq!(risks.len(), 1, "{verdict:#}");
    assert_eq!(
        (
            &risks[0]["check"],
            &risks[0]["severity"],
            &risks[0]["state"]
        ),
        (
            &Value::from("SEC-00::flaky"),
            &Value::from("P1"),
            &Value::from("flaky")
        )
    );
    assert_eq!(
        risks[0]["reason"],
        "flaky: passed only after failing (attempt 1 FAIL: exit 1 (expected 0); attempt 2 PASS: exit 0)"
    );
    // Both logs are subjects of the attestation, and its predicate covers the attempt.
    let subjects: Vec<String> = statement(out)["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|subject| subject["name"].as_str().unwrap().to_string())
        .collect();
    for log in ["logs/SEC-00/flaky.log", "logs/SEC-00/flaky.attempts/2.log"] {
        assert!(subjects.iter().any(|name| name == log), "{subjects:?}");
    }
    let attested = attested_check(out, "SEC-00::flaky");
    assert_eq!(attested["attempts"][0]["outcome"], "FAIL", "{attested:#}");
    assert_eq!(attested["attempts"][0]["exitCode"], 1);
    assert_eq!(
        attested["attempts"][0]["output"]["digest"]["sha256"],
        attempts[0]["sha256"]
    );
    let verified = verify(out, &[]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));

    // A flaky check is a condition: --deny-conditions fails the release.
    let dir = tempfile::tempdir().unwrap();
    let denied = xtask()
        .args(["gate", "--no-progress", "--deny-conditions", "--gate"])
        .arg(flaky_gate(dir.path(), "P0"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stdout));
}

#[test]
fn failing_every_time_is_a_failure_with_every_attempt_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(
        dir.path(),
        "gate.toml",
        "[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"broken\"\nretries = 2\nrun = \"echo try; exit 3\"\n",
    );
    let run = run_gate(&gate, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.decision(), "NO_GO");
    let record = run.check("SEC-00::broken");
    assert_eq!(
        (&record["outcome"], &record["exit_code"]),
        (&Value::from("fail"), &Value::from(3))
    );
    let attempts = record["attempts"].as_array().unwrap();
    let logs: Vec<&str> = attempts
        .iter()
        .chain(std::iter::once(&record))
        .map(|attempt| {
            assert_eq!(attempt["outcome"], "fail");
            attempt["log"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        logs,
        [
            "logs/SEC-00/broken.log",
            "logs/SEC-00/broken.attempts/2.log",
            "logs/SEC-00/broken.attempts/3.log"
        ]
    );
    for log in logs {
        assert_eq!(
            std::fs::read_to_string(run.out.path().join(log)).unwrap(),
            "try\n"
        );
    }
    let verified = verify(run.out.path(), &[]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
}

/// `[defaults] retries` applies to every check, a check's own `retries` wins, and an attempt
/// that printed nothing has no log (while a later one of the same check may).
#[test]
fn the_default_applies_and_a_checks_own_key_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("mark");
    let gate = write_gate(
        dir.path(),
        "gate.toml",
        &format!(
            "[defaults]\nretries = 1\n[[packet]]\nid = \"SEC-00\"\n\
             [[packet.check]]\nid = \"by-default\"\nrun = \"echo no; exit 1\"\n\
             [[packet.check]]\nid = \"own\"\nretries = 0\nrun = \"echo no; exit 1\"\n\
             [[packet.check]]\nid = \"quiet-first\"\nrun = 'test -e \"{mark}\" || {{ touch \"{mark}\"; exit 1; }}; echo late'\n\
             [[packet.check]]\nid = \"silent\"\nrun = \"exit 1\"\n",
            mark = mark.display()
        ),
    );
    let run = run_gate(&gate, &[]);
    assert_eq!(run.decision(), "NO_GO", "{}", run.context());
    let count = |name: &str| {
        let record = run.check(name);
        record["attempts"].as_array().map_or(0, Vec::len) + 1
    };
    assert_eq!(count("SEC-00::by-default"), 2);
    assert_eq!(count("SEC-00::own"), 1);
    assert!(run.check("SEC-00::own").get("attempts").is_none());
    // Attempt 1 printed nothing: no log, at its own path; attempt 2's log is where it belongs.
    let quiet = run.check("SEC-00::quiet-first");
    assert_eq!(quiet["outcome"], "pass");
    assert_eq!(quiet["attempts"][0]["log"], Value::Null);
    assert_eq!(quiet["attempts"][0]["bytes"], 0);
    assert_eq!(quiet["log"], "logs/SEC-00/quiet-first.attempts/2.log");
    assert!(!run.out.path().join("logs/SEC-00/quiet-first.log").exists());
    let silent = run.check("SEC-00::silent");
    assert_eq!(
        (&silent["log"], &silent["attempts"][0]["log"]),
        (&Value::Null, &Value::Null)
    );
    assert!(!run.out.path().join("logs/SEC-00/silent.attempts").exists());
    let verified = verify(run.out.path(), &[]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    // A log planted where a silent attempt would have written one is refused.
    std::fs::create_dir_all(run.out.path().join("logs/SEC-00/silent.attempts")).unwrap();
    std::fs::write(
        run.out.path().join("logs/SEC-00/silent.attempts/2.log"),
        "x\n",
    )
    .unwrap();
    assert_refused(
        &verify(run.out.path(), &[]),
        "logs/SEC-00/silent.attempts/2.log exists, but the record of SEC-00::silent says the check printed nothing",
    );
}

/// Without `retries` (or with 0) nothing changes: no `attempts` key in the ledger or the
/// predicate, no note, the same keys as before.
#[test]
fn retries_zero_keeps_the_records_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let body =
        "[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"c\"\nrun = \"echo no; exit 1\"\n";
    let plain = run_gate(&write_gate(dir.path(), "plain.toml", body), &[]);
    let zero = run_gate(
        &write_gate(
            dir.path(),
            "zero.toml",
            &format!("[defaults]\nretries = 0\n{body}"),
        ),
        &[],
    );
    let keys = |run: &Run| {
        let record = run.check("SEC-00::c");
        let keys: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
        (keys, record["notes"].clone(), record["log"].clone())
    };
    assert_eq!(keys(&plain), keys(&zero));
    for run in [&plain, &zero] {
        let ledger = std::fs::read_to_string(run.out.path().join("evidence.jsonl")).unwrap();
        assert!(!ledger.contains("\"attempts\""), "{ledger}");
        assert!(attested_check(run.out.path(), "SEC-00::c")
            .get("attempts")
            .is_none());
        assert!(!run.out.path().join("logs/SEC-00/c.attempts").exists());
    }
}

/// The strongest forger without a key: a ledger changed by `change` and written with relgate's
/// own code — a fresh hash chain and a fresh attestation over it (the old verdict kept).
fn rechain(gate: &Path, out: &Path, change: impl Fn(&mut relgate::evidence::CheckRecord)) {
    let mut ledger = relgate::evidence::verify(out).unwrap();
    for record in &mut ledger.records {
        if let Record::Check(check) = record {
            change(check);
        }
    }
    let gate = relgate::spec::load(gate).unwrap();
    let mut reports: Vec<PathBuf> = ["junit.xml", "tracker.md", "report.sarif", "report.html"]
        .iter()
        .map(|name| out.join(name))
        .collect();
    reports.push(ledger.write(out).unwrap());
    relgate::report::attestation::write(&gate, &ledger, &reports, out).unwrap();
}

#[test]
fn verify_refuses_an_edited_or_deleted_attempt_log_and_a_ledger_without_the_attempt() {
    type Tamper = fn(&Path, &Path);
    let attacks: [(&str, Tamper, &str); 5] = [
        (
            "the failed attempt's log edited",
            |_, out| std::fs::write(out.join("logs/SEC-00/flaky.log"), "second\n").unwrap(),
            "logs/SEC-00/flaky.log of SEC-00::flaky changed",
        ),
        (
            "the failed attempt's log deleted",
            |_, out| std::fs::remove_file(out.join("logs/SEC-00/flaky.log")).unwrap(),
            "logs/SEC-00/flaky.log of SEC-00::flaky is missing",
        ),
        (
            "the ledger line edited to drop the attempt",
            |_, out| {
                let path = out.join("evidence.jsonl");
                let ledger = std::fs::read_to_string(&path).unwrap();
                let mut lines: Vec<String> = ledger.lines().map(String::from).collect();
                let at = lines
                    .iter()
                    .position(|line| line.contains("\"name\":\"SEC-00::flaky\""))
                    .unwrap();
                let mut line: Value = serde_json::from_str(&lines[at]).unwrap();
                line.as_object_mut().unwrap().remove("attempts");
                lines[at] = line.to_string();
                std::fs::write(&path, lines.join("\n") + "\n").unwrap();
            },
            "hash chain broken",
        ),
        (
            "the ledger re-chained without the attempt",
            |gate, out| rechain(gate, out, |check| check.attempts.clear()),
            "recorded verdict is not the one recomputed",
        ),
        (
            "the ledger re-chained with the attempt flipped to a pass",
            |gate, out| {
                rechain(gate, out, |check| {
                    for attempt in &mut check.attempts {
                        attempt.outcome = Outcome::Pass;
                        attempt.exit_code = Some(0);
                    }
                })
            },
            "recorded verdict is not the one recomputed",
        ),
    ];
    for (what, tamper, needle) in attacks {
        let dir = tempfile::tempdir().unwrap();
        let gate = flaky_gate(dir.path(), "P0");
        let run = run_gate(&gate, &[]);
        assert_eq!(run.decision(), "GO_WITH_CONDITIONS", "{}", run.context());
        tamper(&gate, run.out.path());
        let refused = verify(run.out.path(), &[]);
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{what}: {}",
            text(&refused.stdout)
        );
        assert!(
            text(&refused.stderr).contains(needle),
            "{what}: expected {needle:?} in {}",
            text(&refused.stderr)
        );
    }
    // `gate report` rebuilds from the run's journal, and refuses an edited attempt log too.
    let dir = tempfile::tempdir().unwrap();
    let gate = flaky_gate(dir.path(), "P0");
    let run = run_gate(&gate, &[]);
    let report = || {
        xtask()
            .args(["gate", "report", "--gate"])
            .arg(&gate)
            .arg("--out")
            .arg(run.out.path())
            .output()
            .unwrap()
    };
    // Untouched, the journal rebuilds the same verdict with the attempt.
    let honest = report();
    assert_eq!(honest.status.code(), Some(0), "{}", text(&honest.stderr));
    assert_eq!(run.decision(), "GO_WITH_CONDITIONS");
    assert_eq!(run.check("SEC-00::flaky")["attempts"][0]["outcome"], "fail");
    std::fs::write(run.out.path().join("logs/SEC-00/flaky.log"), "second\n").unwrap();
    assert_refused(&report(), "logs/SEC-00/flaky.log");
}

/// A forger who recomputes everything — the verdict, every report, the chain and the
/// attestation — after dropping the failed attempt gets a clean GO that only the signature
/// refuses.
#[test]
fn a_recomputed_run_without_the_failed_attempt_fails_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "release") else {
        return;
    };
    let gate = flaky_gate(dir.path(), "P0");
    let run = run_gate(&gate, &[("RELGATE_SIGNING_KEY", Some(&key))]);
    assert_eq!(run.decision(), "GO_WITH_CONDITIONS", "{}", run.context());
    let out = run.out.path();
    let trusted = ["--trusted-key", public.to_str().unwrap()];
    let verified = verify(out, &trusted);
    assert!(verified.status.success(), "{}", text(&verified.stderr));

    let ledger = relgate::evidence::verify(out).unwrap();
    let checks = ledger
        .checks()
        .filter(|record| record.case_kind != relgate::evidence::CaseKind::Checklist)
        .cloned()
        .map(|mut record| {
            record.attempts.clear();
            record
        })
        .collect();
    let today =
        relgate::model::clock::parse_date(&ledger.verdict().unwrap().as_of.clone()).unwrap();
    let finished = relgate::report::finish(
        &relgate::spec::load(&gate).unwrap(),
        ledger.header().unwrap().clone(),
        ledger.services().cloned().collect(),
        checks,
        out,
        today,
    )
    .unwrap();
    assert_eq!(finished.verdict.record.decision.label(), "GO");
    assert_refused(&verify(out, &trusted), "attestation.intoto.dsse.json");
}

/// A timeout is a failure that is retried (each attempt under the check's timeout), and a
/// scan's stored report is kept per attempt: the first attempt's is never overwritten.
#[test]
fn a_timed_out_attempt_and_a_scans_reports_are_kept_per_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (slow, scanned) = (dir.path().join("slow"), dir.path().join("scanned"));
    let leaks = crate::support::fixtures().join("scans/gitleaks/leaks.json");
    let gate = write_gate(
        dir.path(),
        "gate.toml",
        &format!(
            "[[packet]]\nid = \"SEC-00\"\n\
             [[packet.check]]\nid = \"slow\"\nretries = 1\ntimeout = \"1s\"\n\
             run = 'test -e \"{slow}\" || {{ touch \"{slow}\"; sleep 30; }}; echo done'\n\
             [[packet.check]]\nid = \"leaks\"\nretries = 1\n\
             scan = {{ format = \"gitleaks\", run = 'if test -e \"{scanned}\"; then echo \"[]\" > {{report}}; else touch \"{scanned}\"; cp \"{leaks}\" {{report}}; fi' }}\n",
            slow = slow.display(),
            scanned = scanned.display(),
            leaks = leaks.display(),
        ),
    );
    let run = run_gate(&gate, &[]);
    assert_eq!(run.decision(), "GO_WITH_CONDITIONS", "{}", run.context());
    let slow = run.check("SEC-00::slow");
    assert_eq!(slow["outcome"], "pass", "{slow:#}");
    assert_eq!(slow["attempts"][0]["timed_out"], true, "{slow:#}");
    let scan = run.check("SEC-00::leaks");
    assert_eq!(scan["outcome"], "pass", "{scan:#}");
    let first = &scan["attempts"][0];
    assert_eq!(first["outcome"], "fail");
    assert!(!first["findings"].as_array().unwrap().is_empty());
    assert_eq!(
        (&first["report"], &scan["report"]),
        (
            &Value::from("reports/SEC-00/leaks.json"),
            &Value::from("reports/SEC-00/leaks.attempts/2.json")
        )
    );
    for attempt in [first, &scan] {
        let report = run.out.path().join(attempt["report"].as_str().unwrap());
        assert_eq!(attempt["report_sha256"], sha256_of(&report).as_str());
    }
    let verified = verify(run.out.path(), &[]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    // The first attempt's stored report is evidence: editing it is refused.
    std::fs::write(run.out.path().join("reports/SEC-00/leaks.json"), "[]\n").unwrap();
    assert_refused(&verify(run.out.path(), &[]), "reports/SEC-00/leaks.json");
}
