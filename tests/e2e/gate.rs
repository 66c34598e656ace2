//! End to end: `cargo xtask gate --gate tests/fixtures/<name>.toml --out <tempdir>` as a real
//! child process, asserting its exit code, the JUnit file and the ledger.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

#[test]
fn all_pass_is_go() {
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert_eq!(run.decision(), "GO");
    let stdout = run.stdout_squeezed();
    assert!(stdout.contains("test SEC-00::build ... ok"), "{stdout}");
    assert!(
        stdout.contains("test SEC-03::checklist::runbook-sections-present ... ok"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: GO"), "{stdout}");
    let tracker = std::fs::read_to_string(run.out.path().join("tracker.md")).unwrap();
    assert!(tracker.contains("Status: GO"), "{tracker}");
    assert!(tracker.contains("```mermaid"), "{tracker}");

    let header = &run.ledger()[0];
    assert_eq!(header["kind"], "header");
    assert_eq!(header["prev"], "0".repeat(64));
    assert_eq!(header["gate_sha256"].as_str().unwrap().len(), 64);
    assert!(header["host"].as_str().is_some_and(|host| !host.is_empty()));

    let build = run.check("SEC-00::build");
    assert_eq!(build["outcome"], "pass");
    assert_eq!(build["exit_code"], 0);
    assert_eq!(build["argv"][0], "sh");
    assert_eq!(build["message"], "exit 0");
    let log = run.out.path().join(build["log"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "building\nwarnings to stderr\n"
    );
    assert_eq!(build["bytes"], 28);

    let grep = run.check("SEC-03::runbook-sections");
    assert_eq!(grep["outcome"], "pass");
    assert!(
        grep["message"]
            .as_str()
            .unwrap()
            .starts_with("3 matching lines"),
        "{grep}"
    );
    let grep_log =
        std::fs::read_to_string(run.out.path().join(grep["log"].as_str().unwrap())).unwrap();
    assert!(
        grep_log.starts_with("docs/ops-runbook.md:3:- rollback"),
        "{grep_log}"
    );
    assert_eq!(run.check("SEC-03::argv-form")["argv"][0], "printf");

    let junit = run.junit();
    assert!(junit.contains(r#"<testsuite name="SEC-00""#), "{junit}");
    assert!(junit.contains(r#"name="SEC-00::build""#), "{junit}");
    assert!(
        junit.contains(r#"<property name="gate.verdict" value="GO"/>"#),
        "{junit}"
    );
    assert!(run.verify().status.success());
}

#[test]
fn a_p0_failure_is_no_go() {
    let run = gate("p0-fail.toml", &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.decision(), "NO_GO");
    let failed = run.check("SEC-01::tenant-suite");
    assert_eq!(
        (failed["outcome"].as_str(), failed["exit_code"].as_i64()),
        (Some("fail"), Some(3))
    );
    assert_eq!(failed["message"], "exit 3 (expected 0)");
    assert_eq!(run.packet("SEC-01")["status"], "CHANGES_REQUESTED");
    assert_eq!(run.packet("SEC-04")["status"], "BLOCKED");
    assert_eq!(run.check("SEC-04::final")["outcome"], "skipped");
    // libtest shows the reason and the output tail.
    assert!(
        run.stdout()
            .contains("FAIL: cross-tenant read returned 200"),
        "{}",
        run.context()
    );
    let junit = run.junit();
    assert!(
        junit.contains(r#"message="exit 3 (expected 0)""#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<property name="gate.verdict" value="NO_GO"/>"#),
        "{junit}"
    );
}

#[test]
fn an_accepted_p1_failure_is_go_with_conditions() {
    let run = gate("accepted-p1.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert_eq!(run.decision(), "GO_WITH_CONDITIONS");
    let verdict = run.ledger().pop().unwrap();
    assert_eq!(verdict["residual_risks"][0]["owner"], "dana");
    assert_eq!(verdict["residual_risks"][0]["until"], "2099-12-31");
    assert!(
        run.stdout().contains(
            "residual risk: SEC-02::npm-audit (P1, accepted) owner dana until 2099-12-31"
        ),
        "{}",
        run.context()
    );
    let strict = gate("accepted-p1.toml", &["--deny-conditions"]);
    assert_eq!(strict.code(), 1, "{}", strict.context());
}

#[test]
fn under_github_actions_failures_are_annotated_and_the_summary_appended() {
    let summary = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(summary.path(), "earlier step\n").unwrap();
    // Paths are relative to the repository's root (this checkout), as in report.sarif.
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.path().to_str().unwrap()),
    ];
    let run = gate_with_env("accepted-p1.toml", &[], &env);
    assert_eq!(run.code(), 0, "{}", run.context());
    let stdout = run.stdout();
    // The accepted P1 failure is a warning at its [[packet.check]] line.
    assert!(
        stdout.contains(
            "::warning file=tests/fixtures/accepted-p1.toml,line=7,title=SEC-02%3A%3Anpm-audit P1 (accepted)::Check SEC-02::npm-audit FAIL (P1, accepted): exit 1 (expected 0)."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("::warning title=relgate verdict GO_WITH_CONDITIONS::Fixture: accepted P1: GO_WITH_CONDITIONS"),
        "{stdout}"
    );
    assert!(!stdout.contains("::error"), "{stdout}");
    let text = std::fs::read_to_string(summary.path()).unwrap();
    assert!(
        text.starts_with("earlier step\n# Fixture: accepted P1"),
        "{text}"
    );
    assert!(text.contains("## Packet Board"), "{text}");
    assert!(text.contains("Decision: **GO_WITH_CONDITIONS**"), "{text}");

    let run = gate_with_env("p0-fail.toml", &[], &env);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert!(
        run.stdout().contains(
            "::error file=tests/fixtures/p0-fail.toml,line=14,title=SEC-01%3A%3Atenant-suite P0 (blocking)::Check SEC-01::tenant-suite FAIL (P0, blocking): exit 3 (expected 0)."
        ),
        "{}",
        run.stdout()
    );
    assert!(run
        .stdout()
        .contains("::error title=relgate verdict NO_GO::"));

    // Outside GitHub Actions: no workflow commands.
    let plain = gate("p0-fail.toml", &[]);
    assert!(!plain.stdout().contains("::error"), "{}", plain.stdout());
}

/// Runs the gate on a pseudo-terminal (util-linux `script`) and returns what the terminal got.
fn on_a_terminal(fixture: &str, extra: &str) -> (String, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let command = format!(
        "{XTASK} gate --gate {} --out {} {extra}",
        fixtures().join(fixture).display(),
        out.path().display()
    );
    let output = without_ambient(Command::new("script"))
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("util-linux `script` runs");
    (
        String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
        out,
    )
}

#[test]
fn progress_is_a_live_line_on_a_terminal_and_plain_lines_elsewhere() {
    // On a terminal: a status line redrawn in place, libtest's lines intact above it, and the
    // summary after it is cleared.
    let (screen, _out) = on_a_terminal("p0-fail.toml", "");
    assert!(screen.contains("\r\x1b[2K[0:00 "), "{screen:?}");
    assert!(screen.contains("SEC-01::tenant-suite"), "{screen:?}");
    assert!(screen.contains("\x1b[2Ktest SEC-00::ok "), "{screen:?}");
    assert!(screen.contains("\nverdict: NO_GO\n"), "{screen:?}");
    assert!(!screen.contains("start SEC-00::ok"), "{screen:?}");

    // --no-progress on a terminal, and any run off a terminal: plain lines on stderr.
    let (screen, _out) = on_a_terminal("p0-fail.toml", "--no-progress");
    assert!(!screen.contains("\x1b[2K"), "{screen:?}");
    assert!(screen.contains("start SEC-00::ok"), "{screen:?}");
    let run = gate("p0-fail.toml", &[]);
    let stderr = run.stderr();
    for line in [
        "/3] start SEC-00::ok",
        "/3] PASS SEC-00::ok in ",
        "2/3] FAIL SEC-01::tenant-suite in ",
        "3/3] SKIPPED SEC-04::final: blocked by SEC-01",
    ] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    assert!(!run.stdout().contains("start SEC-00::ok"));
}

/// The in-toto statement, checked the way a third party would: every digest recomputed from the
/// files, without relgate's own verifier.
#[test]
fn the_attestation_digests_every_log_report_and_the_gate_file() {
    use sha2::{Digest, Sha256};
    let sha256 = |path: &Path| hex::encode(Sha256::digest(std::fs::read(path).unwrap()));
    let run = gate("accepted-p1.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    let out = run.out.path();
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("attestation.intoto.json")).unwrap())
            .unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    let predicate = &statement["predicate"];
    assert_eq!(predicate["result"], "WARNED");
    assert_eq!(predicate["verdict"]["decision"], "GO_WITH_CONDITIONS");
    assert_eq!(predicate["warnedTests"][0], "SEC-02::npm-audit");
    assert_eq!(
        predicate["gate"]["digest"]["sha256"],
        sha256(&fixtures().join("accepted-p1.toml"))
    );
    assert_eq!(predicate["git"]["commit"], run.ledger()[0]["git_head"]);

    // Every subject's digest is the file's; every report, the ledger and every log is a subject.
    let subjects: std::collections::BTreeMap<String, String> = statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|subject| {
            let name = subject["name"].as_str().unwrap().to_string();
            let digest = subject["digest"]["sha256"].as_str().unwrap().to_string();
            assert_eq!(digest, sha256(&out.join(&name)), "subject {name}");
            (name, digest)
        })
        .collect();
    for report in ["junit.xml", "tracker.md", "evidence.jsonl"] {
        assert!(subjects.contains_key(report), "{report} in {subjects:?}");
    }
    for check in run.ledger().iter().filter(|line| line["kind"] == "check") {
        let Some(log) = check["log"].as_str() else {
            continue;
        };
        assert_eq!(
            subjects.get(log),
            check["sha256"].as_str().map(String::from).as_ref()
        );
        let attested = predicate["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|attested| attested["name"] == check["name"])
            .unwrap_or_else(|| panic!("{} is in the predicate", check["name"]));
        assert_eq!(attested["command"], check["argv"]);
        assert_eq!(attested["exitCode"], check["exit_code"]);
        assert_eq!(attested["output"]["digest"]["sha256"], check["sha256"]);
        assert_eq!(
            attested["output"]["digest"]["sha256"],
            sha256(&out.join(log))
        );
    }
    // Digests, never output; a check that printed nothing has the digest of no bytes and no
    // file to point at.
    for attested in predicate["checks"].as_array().unwrap() {
        if let Some(output) = attested["output"].as_object() {
            let keys: Vec<&str> = output.keys().map(String::as_str).collect();
            if output["bytes"] == 0 && !output.contains_key("uri") {
                assert_eq!(keys, ["bytes", "digest"], "{attested}");
                assert_eq!(
                    output["digest"]["sha256"],
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                );
            } else {
                assert_eq!(keys, ["bytes", "digest", "uri"], "{attested}");
            }
        }
    }

    let verify = run.verify();
    assert!(verify.status.success(), "{verify:?}");
    assert!(String::from_utf8_lossy(&verify.stdout).contains("attestation subjects match"));
    std::fs::write(out.join("tracker.md"), "# all good, trust me\n").unwrap();
    let verify = run.verify();
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(stderr.contains("subject tracker.md changed"), "{stderr}");
}

#[test]
fn an_expired_acceptance_is_no_go() {
    let run = gate("expired.toml", &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.decision(), "NO_GO");
    let verdict = run.ledger().pop().unwrap();
    assert_eq!(verdict["expired_acceptances"][0]["until"], "2020-01-01");
    assert!(
        run.stdout()
            .contains("expired on 2020-01-01 and was ignored"),
        "{}",
        run.context()
    );
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let started = std::time::Instant::now();
    let run = gate("timeout.toml", &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    let hung = run.check("SEC-01::hangs");
    assert_eq!(hung["outcome"], "fail");
    assert_eq!(hung["timed_out"], true);
    assert_eq!(hung["message"], "timed out after 2s");
    assert_eq!(
        std::fs::read_to_string(run.out.path().join("logs/SEC-01/hangs.log")).unwrap(),
        "started\n"
    );
    assert!(run.junit().contains(r#"type="timeout""#), "{}", run.junit());
    assert_eq!(
        sleepers("sleep 317"),
        Vec::<String>::new(),
        "grandchild left behind"
    );
    assert_eq!(
        sleepers("sleep 318"),
        Vec::<String>::new(),
        "child left behind"
    );
}

#[test]
fn a_blocked_dependency_skips_the_checks() {
    let sentinel = tempfile::tempdir().unwrap();
    let sentinel_file = sentinel.path().join("ran");
    let run = gate_with_env(
        "blocked.toml",
        &[],
        &[("RELGATE_E2E_SENTINEL", sentinel_file.to_str().unwrap())],
    );
    assert_eq!(run.code(), 1, "{}", run.context());
    assert!(!sentinel_file.exists(), "a blocked check ran");
    let skipped = run.check("SEC-01::suites");
    assert_eq!(skipped["outcome"], "skipped");
    assert_eq!(skipped["message"], "blocked by SEC-00");
    assert_eq!(run.packet("SEC-01")["status"], "BLOCKED");
    for item in ["suites-rerun", "threat-model-reviewed"] {
        let record = run.check(&format!("SEC-01::checklist::{item}"));
        assert_eq!(record["outcome"], "skipped", "{record}");
    }
    assert!(
        run.stdout_squeezed().contains(
            "test SEC-01::checklist::threat-model-reviewed ... ignored (blocked by SEC-00)"
        ),
        "{}",
        run.context()
    );
    assert!(
        run.stdout_squeezed()
            .contains("test SEC-01::suites ... ignored (blocked by SEC-00)"),
        "{}",
        run.context()
    );
    let junit = run.junit();
    assert!(
        junit.contains(r#"<skipped message="blocked by SEC-00""#),
        "{junit}"
    );
}

/// Independent packets run at the same time (`-j 2`), one at a time under `-j 1`; a dependent
/// packet starts only after both.
#[test]
fn independent_packets_run_in_parallel_up_to_j() {
    let rendezvous = tempfile::tempdir().unwrap();
    let dir = rendezvous.path().to_str().unwrap();
    let run = gate_with_env(
        "parallel.toml",
        &["-j", "2"],
        &[("RELGATE_E2E_RENDEZVOUS", dir)],
    );
    assert_eq!(run.code(), 0, "{}", run.context());
    assert_eq!(run.check("SEC-02::after-both")["outcome"], "pass");

    let alone = tempfile::tempdir().unwrap();
    let dir = alone.path().to_str().unwrap();
    let run = gate_with_env(
        "parallel.toml",
        &["-j", "1"],
        &[("RELGATE_E2E_RENDEZVOUS", dir)],
    );
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.check("SEC-00::left")["message"], "timed out after 4s");
    assert_eq!(run.packet("SEC-02")["status"], "BLOCKED");
}

#[test]
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4 below"
)]
fn a_hundred_megabytes_of_output_stream_to_the_log() {
    let out = tempfile::tempdir().unwrap();
    let child = xtask()
        .args(["gate", "--gate"])
        .arg(fixtures().join("big-output.toml"))
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // wait4 gives the peak memory of this gate process alone (other tests run in parallel).
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: waiting for our own child; wait4 fills the struct we pass.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    let run = Run {
        out,
        output: Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(status),
            stdout: Vec::new(),
            stderr: Vec::new(),
        },
    };
    let flood = run.check("SEC-00::flood");
    assert_eq!(flood["bytes"], 100_000_000u64);
    // sha256 of 100 000 000 zero bytes, computed independently below.
    let expected = {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        let zeros = vec![0u8; 1_000_000];
        for _ in 0..100 {
            hasher.update(&zeros);
        }
        hex::encode(hasher.finalize())
    };
    assert_eq!(flood["sha256"], expected.as_str());
    // The gate's peak memory stays far below the output size.
    let max_rss_kib = unsafe { usage.assume_init() }.ru_maxrss;
    assert!(
        max_rss_kib < 40 * 1024,
        "the gate peaked at {max_rss_kib} KiB for 100 MB of output"
    );
    assert!(run.verify().status.success());
}

#[test]
fn odd_output_spawn_failures_and_signals() {
    let run = gate("odd-output.toml", &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let binary = run.check("SEC-00::binary");
    assert_eq!(binary["outcome"], "pass");
    let bytes = std::fs::read(run.out.path().join("logs/SEC-00/binary.log")).unwrap();
    assert_eq!(bytes, b"ok \xff\xfe ]]> <tag> & done\n");
    let missing = run.check("SEC-00::missing-program");
    assert_eq!(missing["outcome"], "error");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("No such file or directory"),
        "{missing}"
    );
    let killed = run.check("SEC-00::killed");
    assert_eq!(
        (killed["outcome"].as_str(), killed["signal"].as_i64()),
        (Some("fail"), Some(9))
    );
    let junit = run.junit();
    assert!(junit.contains("<error "), "{junit}");
    assert!(junit.contains("]]&gt;"), "{junit}");
    assert!(run.verify().status.success());
}

#[test]
fn a_gate_running_itself_is_refused() {
    let nested = tempfile::tempdir().unwrap();
    let run = gate_with_env(
        "recursion.toml",
        &[],
        &[
            ("RELGATE_E2E_XTASK", XTASK),
            ("RELGATE_E2E_NESTED_OUT", nested.path().to_str().unwrap()),
        ],
    );
    assert_eq!(run.code(), 1, "{}", run.context());
    let check = run.check("SEC-00::runs-itself");
    assert_eq!(check["outcome"], "fail");
    let message = check["message"].as_str().unwrap();
    assert!(
        message.starts_with("the check ran this gate again and the nested run was refused"),
        "{message}"
    );
    assert!(!nested.path().join("evidence.jsonl").exists());
}

#[test]
fn an_invalid_gate_exits_2_and_runs_nothing() {
    let run = gate("invalid.toml", &[]);
    assert_eq!(run.code(), 2, "{}", run.context());
    let stderr = run.stderr();
    assert!(
        stderr.contains("invalid.toml:9:1: unknown key `timout`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `timeout`?"), "{stderr}");
    assert!(!run.out.path().join("evidence.jsonl").exists());
    assert!(!run.out.path().join("logs").exists());
}

#[test]
fn bad_arguments_exit_2() {
    let run = gate("go.toml", &["--packet", "SEC-99"]);
    assert_eq!(run.code(), 2, "{}", run.context());
    assert!(
        run.stderr().contains("--packet SEC-99: no such packet"),
        "{}",
        run.context()
    );
    let run = gate("go.toml", &["--", "--no-such-libtest-flag"]);
    assert_eq!(run.code(), 2, "{}", run.context());
}

#[test]
fn libtest_arguments_list_filter_and_skip() {
    let list = gate("go.toml", &["--", "--list"]);
    assert_eq!(list.code(), 0, "{}", list.context());
    let stdout = list.stdout();
    for name in [
        "SEC-00::build: test",
        "SEC-00::checklist::build-passes: test",
        "SEC-03::runbook-sections: test",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
    assert!(
        !list.out.path().join("evidence.jsonl").exists(),
        "--list must not run anything"
    );

    let terse = gate("go.toml", &["--", "--list", "--format", "terse"]);
    assert!(
        terse
            .stdout()
            .lines()
            .any(|line| line == "SEC-00::build: test"),
        "{}",
        terse.context()
    );

    let exact = gate("go.toml", &["--", "--exact", "SEC-03::argv-form"]);
    assert_eq!(exact.code(), 0, "{}", exact.context());
    assert!(
        exact.stdout().contains("running 1 test"),
        "{}",
        exact.context()
    );
    assert!(
        exact.stdout().contains("partial run"),
        "{}",
        exact.context()
    );
    assert_eq!(
        exact.decision(),
        "NO_GO",
        "a partial run is never a release verdict"
    );
    let notes = exact.check("SEC-03::argv-form")["notes"].clone();
    assert_eq!(notes[0], "dependency SEC-00 is not part of this run");

    let skip = gate("go.toml", &["--", "--skip", "SEC-03"]);
    assert!(
        skip.stdout().contains("running 3 tests"),
        "{}",
        skip.context()
    );
}

#[test]
fn verify_names_the_first_tampered_line() {
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    let ledger_path = run.out.path().join("evidence.jsonl");
    let original = std::fs::read_to_string(&ledger_path).unwrap();
    let tampered = original.replacen("\"outcome\":\"pass\"", "\"outcome\":\"fail\"", 1);
    assert_ne!(original, tampered);
    std::fs::write(&ledger_path, &tampered).unwrap();
    let verify = run.verify();
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.contains("evidence.jsonl:3: hash chain broken"),
        "{stderr}"
    );

    std::fs::write(&ledger_path, &original).unwrap();
    assert!(run.verify().status.success());
    let dropped: String = original
        .lines()
        .take(4)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&ledger_path, dropped).unwrap();
    let verify = run.verify();
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stderr).contains("no verdict record"));
}

#[test]
fn verify_catches_a_tampered_log() {
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    std::fs::write(run.out.path().join("logs/SEC-00/build.log"), "building\n").unwrap();
    let verify = run.verify();
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.contains("logs/SEC-00/build.log of SEC-00::build changed"),
        "{stderr}"
    );
}

#[test]
fn report_rebuilds_the_ledger_from_fragments() {
    let run = gate("p0-fail.toml", &[]);
    let original = run.decision();
    std::fs::remove_file(run.out.path().join("evidence.jsonl")).unwrap();
    std::fs::remove_file(run.out.path().join("junit.xml")).unwrap();
    let report = xtask()
        .args(["gate", "report", "--gate"])
        .arg(fixtures().join("p0-fail.toml"))
        .arg("--out")
        .arg(run.out.path())
        .output()
        .unwrap();
    assert_eq!(
        report.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(run.decision(), original);
    assert!(run.junit().contains("SEC-01::tenant-suite"));
    assert!(run.verify().status.success());
}

#[test]
fn an_out_directory_relgate_did_not_make_is_left_alone() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("precious.txt"), "keep me").unwrap();
    let output = xtask()
        .args(["gate", "--gate"])
        .arg(fixtures().join("go.toml"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("was not made by relgate"));
    assert!(out.path().join("precious.txt").exists());
}

/// Cargo inside cargo: a check running `cargo build` in a workspace whose build lock another
/// process holds (as `cargo test` may while the gate runs) must not wait until its timeout.
#[test]
fn a_held_cargo_lock_gets_the_check_its_own_target_dir() {
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"lockprobe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();
    std::fs::write(
        root.join("gate.toml"),
        "[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"build\"\nrun = \"cargo build --offline --quiet\"\ntimeout = \"60s\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("target/debug")).unwrap();
    let lock = std::fs::File::create(root.join("target/debug/.cargo-lock")).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on our own descriptor; released when `lock` drops.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);

    let run_gate = |out: &Path, isolation: &str| {
        xtask()
            .args(["gate", "--gate"])
            .arg(root.join("gate.toml"))
            .arg("--out")
            .arg(out)
            .env_remove("CARGO_TARGET_DIR")
            .env("RELGATE_CARGO_ISOLATION", isolation)
            .output()
            .unwrap()
    };
    let out = tempfile::tempdir().unwrap();
    let output = run_gate(out.path(), "on");
    let run = Run { out, output };
    assert_eq!(run.code(), 0, "{}", run.context());
    let build = run.check("SEC-00::build");
    assert_eq!(build["outcome"], "pass");
    let note = build["notes"][0].as_str().unwrap();
    assert!(note.contains("is held by another process"), "{note}");
    assert!(note.contains("CARGO_TARGET_DIR="), "{note}");
    // Its builds go beside the held target directory, not into the evidence.
    let isolated = root.join("target/relgate-isolated");
    assert!(note.contains(&isolated.display().to_string()), "{note}");
    assert!(isolated.join("debug").is_dir(), "{note}");
    assert!(!run.out.path().join("cargo-target").exists());

    // The control: without isolation the same check waits on the lock until it times out.
    std::fs::write(
        root.join("gate.toml"),
        "[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"build\"\nrun = \"cargo build --offline\"\ntimeout = \"3s\"\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run_gate(out.path(), "off");
    let run = Run { out, output };
    assert_eq!(run.code(), 1, "{}", run.context());
    let build = run.check("SEC-00::build");
    assert_eq!(build["message"], "timed out after 3s");
    let log = std::fs::read_to_string(run.out.path().join("logs/SEC-00/build.log")).unwrap();
    assert!(log.contains("Blocking waiting for file lock"), "{log}");
    drop(lock);
}

/// Ctrl-C during a run: the checks' process groups die with the gate.
#[test]
fn sigint_to_the_gate_leaves_no_check_behind() {
    let out = tempfile::tempdir().unwrap();
    let gate_file = out.path().join("sigint.toml");
    std::fs::write(
        &gate_file,
        "[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"hangs\"\nrun = \"sleep 319 & sleep 320; wait\"\ntimeout = \"5m\"\n",
    )
    .unwrap();
    let reports = out.path().join("out");
    let mut child = xtask()
        .args(["gate", "--gate"])
        .arg(&gate_file)
        .arg("--out")
        .arg(&reports)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sleepers("sleep 320").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the check never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(sleepers("sleep 319").is_empty() && sleepers("sleep 320").is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "check processes outlived the gate"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !reports.join("evidence.jsonl").exists(),
        "an interrupted run must not look complete"
    );
}

/// `cargo nextest run -p gate-tests` runs each case in its own process; `gate report` joins
/// the fragments into the ledger and reports.
#[test]
fn nextest_fragments_join_into_a_ledger() {
    if !nextest_available() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let nextest = nextest_gate(&fixtures().join("p0-fail.toml"), out.path(), &[]);
    let stderr = String::from_utf8_lossy(&nextest.stderr).to_string();
    assert!(
        !nextest.status.success(),
        "a P0 failure must fail nextest\n{stderr}"
    );
    assert!(stderr.contains("SEC-01::tenant-suite"), "{stderr}");
    assert!(
        !out.path().join("evidence.jsonl").exists(),
        "nextest processes write fragments only"
    );

    let report = xtask()
        .args(["gate", "report", "--gate"])
        .arg(fixtures().join("p0-fail.toml"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        report.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let run = Run {
        out,
        output: report,
    };
    assert_eq!(run.decision(), "NO_GO");
    assert_eq!(run.ledger()[0]["mode"], "nextest");
    assert_eq!(run.check("SEC-01::tenant-suite")["outcome"], "fail");
    // Under nextest too, the dependent of a failed packet is skipped without running.
    assert_eq!(run.packet("SEC-04")["status"], "BLOCKED");
    assert_eq!(run.check("SEC-04::final")["outcome"], "skipped");
    assert!(run.junit().contains("SEC-00::ok"));
    assert!(run.verify().status.success());
}

/// A probe check is one test case per probe case plus the probe itself; its cases are in the
/// ledger record and in JUnit; no log the gate writes holds the secret it found, not even the
/// log of a command that printed it.
#[test]
fn a_probe_reports_every_case_and_no_log_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Built at run time so that this repository's own secret scan finds no literal key.
    let key = format!("{}{}", "AKIA", "Q7X2M4N8P1R5T3V9");
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/settings.env"),
        format!("region = eu-west-1\naws_access_key_id = {key}\n"),
    )
    .unwrap();
    let gate_file = dir.path().join("probe.toml");
    std::fs::write(
        &gate_file,
        format!(
            "[[packet]]\nid = \"SEC-00\"\n\
         [[packet.check]]\nid = \"secrets\"\nprobe = \"secrets\"\npaths = [\"src\"]\n\
         [[packet.check]]\nid = \"leak\"\nrun = \"cat src/settings.env\"\n\
         [[packet.check]]\nid = \"argv\"\nrun = [\"echo\", \"aws_access_key_id\", \"{key}\"]\n"
        ),
    )
    .unwrap();
    let run = gate(gate_file.to_str().unwrap(), &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let stdout = run.stdout_squeezed();
    for line in [
        "test SEC-00::secrets ... FAILED",
        "test SEC-00::secrets::controls ... ok",
        "test SEC-00::secrets::no-secrets ... FAILED",
        "test SEC-00::secrets::allowlist-current ... ok",
        "test SEC-00::leak ... ok",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    assert!(!stdout.contains(&key), "{stdout}");

    let record = run.check("SEC-00::secrets");
    assert_eq!(record["case_kind"], "probe");
    assert_eq!(record["outcome"], "fail");
    let cases: Vec<(String, String)> = record["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                case["name"].as_str().unwrap().to_string(),
                case["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        cases,
        [
            ("controls".to_string(), "pass".to_string()),
            ("no-secrets".to_string(), "fail".to_string()),
            ("allowlist-current".to_string(), "pass".to_string()),
        ]
    );
    assert!(
        record["message"]
            .as_str()
            .unwrap()
            .contains("src/settings.env:2 aws-access-key-id"),
        "{record}"
    );

    let junit = run.junit();
    assert!(
        junit.contains(r#"<testcase name="SEC-00::secrets::no-secrets""#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<testcase name="SEC-00::secrets::controls""#),
        "{junit}"
    );
    assert!(!junit.contains(&key), "{junit}");

    for log in ["logs/SEC-00/secrets.log", "logs/SEC-00/leak.log"] {
        let text = std::fs::read_to_string(run.out.path().join(log)).unwrap();
        assert!(!text.contains(&key), "{log}:\n{text}");
        assert!(text.contains("[REDACTED]"), "{log}:\n{text}");
    }
    let argv = run.check("SEC-00::argv")["argv"].to_string();
    assert!(
        !argv.contains(&key) && argv.contains("[REDACTED]"),
        "{argv}"
    );
    let ledger = std::fs::read_to_string(run.out.path().join("evidence.jsonl")).unwrap();
    assert!(!ledger.contains(&key), "{ledger}");
    let leak = std::fs::read_to_string(run.out.path().join("logs/SEC-00/leak.log")).unwrap();
    assert_eq!(leak, "region = eu-west-1\naws_access_key_id = [REDACTED]\n");
    // The digests in the ledger are those of the redacted logs.
    // The gate file holds a secret, so the run did not copy it: verify needs it given.
    assert!(!run.out.path().join("gate.toml").exists());
    let verify = run.verify();
    assert_eq!(verify.status.code(), Some(1), "{verify:?}");
    assert!(String::from_utf8_lossy(&verify.stderr).contains("pass --gate"));
    let verify = xtask()
        .args(["gate", "verify", "--gate"])
        .arg(&gate_file)
        .arg("--out")
        .arg(run.out.path())
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
}

/// Filtering a probe's case alone cannot pass: the probe must run for the case to be judged.
#[test]
fn a_probe_case_filtered_alone_names_the_probe_to_select() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/clean.txt"), "nothing to see\n").unwrap();
    let gate_file = dir.path().join("probe.toml");
    std::fs::write(
        &gate_file,
        "[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"secrets\"\nprobe = \"secrets\"\npaths = [\"src\"]\n",
    )
    .unwrap();
    let run = gate(
        gate_file.to_str().unwrap(),
        &["--", "--exact", "SEC-00::secrets::no-secrets"],
    );
    assert_eq!(run.code(), 1, "{}", run.context());
    assert!(
        run.stdout().contains(
            "the probe SEC-00::secrets is not part of this run: select it too (filter `SEC-00::secrets`)"
        ),
        "{}",
        run.context()
    );
    let run = gate(gate_file.to_str().unwrap(), &["--", "SEC-00::secrets"]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert!(run
        .stdout_squeezed()
        .contains("test SEC-00::secrets::no-secrets ... ok"));
}

/// The gate files of the fuzz corpus that once failed (`tests/fuzz-corpus/gates/regression-*`,
/// see `crates/relgate/tests/it/fuzz.rs`): each either loads (its tests are listed) or exits 2 with
/// one short `error: FILE:LINE:COLUMN: …` line, and runs nothing.
#[test]
fn fuzz_corpus_gate_regressions_load_or_exit_2_with_file_line_and_column() {
    let dir = fixtures().join("../fuzz-corpus/gates");
    let mut refused = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let out = tempfile::tempdir().unwrap();
        let output = xtask()
            .args(["gate", "--gate"])
            .arg(&path)
            .arg("--out")
            .arg(out.path())
            .args(["--", "--list"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!("{}: {stderr}", path.display());
        if output.status.code() == Some(0) {
            assert!(String::from_utf8_lossy(&output.stdout).contains(": test"));
            continue;
        }
        refused += 1;
        assert_eq!(output.status.code(), Some(2), "{context}");
        let first = stderr.lines().next().unwrap_or_default();
        let place = format!("error: {}:", path.display());
        let rest = first.strip_prefix(&place).expect(&context);
        let mut numbers = rest.splitn(3, ':');
        for _ in 0..2 {
            let number: usize = numbers.next().unwrap().parse().expect(&context);
            assert!(number >= 1, "{context}");
        }
        assert!(first.len() < 500, "{context}");
        assert!(!out.path().join("evidence.jsonl").exists(), "{context}");
    }
    assert!(refused >= 6, "{refused} regressions refused");
}

/// A filter that leaves a chain of packets without checks in the run: releasing the first root
/// settled the chain behind it, and the scheduler then released the middle packet a second
/// time (a panic on a count below zero, or a check queued twice).
#[test]
fn a_filter_that_empties_a_chain_of_packets_runs_the_selected_check_once() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let gate_file = dir.path().join("chain.toml");
    std::fs::write(
        &gate_file,
        format!(
            "[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"a\"\nrun = \"true\"\n\
             [[packet]]\nid = \"B\"\ndepends_on = [\"A\"]\n[[packet.check]]\nid = \"b\"\nrun = \"true\"\n\
             [[packet]]\nid = \"C\"\ndepends_on = [\"B\"]\n[[packet.check]]\nid = \"c\"\n\
             run = \"echo ran >> {}\"\n",
            count.display()
        ),
    )
    .unwrap();
    let run = gate(gate_file.to_str().unwrap(), &["--", "--exact", "C::c"]);
    assert!(!run.stderr().contains("panicked"), "{}", run.context());
    assert_eq!(
        std::fs::read_to_string(&count).unwrap_or_default(),
        "ran\n",
        "{}",
        run.context()
    );
    assert_eq!(run.check("C::c")["outcome"], "pass", "{}", run.context());
}
