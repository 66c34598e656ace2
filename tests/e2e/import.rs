//! End to end: `cargo xtask gate import` on both seed trackers produces a gate that loads and
//! runs to a verdict; `cargo xtask gate init` writes a starter that runs GO and is never
//! overwritten without `--force`.
//!
//! The seeds are read from `../shared/seeds/` beside the workspace, or from `RELGATE_SEEDS`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

const PROGRESS_SEED: &str = "release-security-gate-progress.md";
const IAM_SEED: &str = "iam-hardening-remediation-tracker.md";

fn seed(name: &str) -> PathBuf {
    let dir = std::env::var_os("RELGATE_SEEDS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds"),
        PathBuf::from,
    );
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "seed {} not found (set RELGATE_SEEDS)",
        path.display()
    );
    path
}

fn run_xtask(args: &[&std::ffi::OsStr]) -> Output {
    xtask().args(args).output().unwrap()
}

/// What a gate run left behind.
struct Ran {
    dir: tempfile::TempDir,
    toml: String,
    import_stderr: String,
    code: i32,
    ledger: Vec<serde_json::Value>,
}

impl Ran {
    /// (checks, checklist items) per packet, from the ledger's check records.
    fn cases(&self) -> BTreeMap<String, (usize, usize)> {
        let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for record in self
            .ledger
            .iter()
            .filter(|record| record["kind"] == "check")
        {
            let name = record["name"].as_str().unwrap();
            let (packet, rest) = name.split_once("::").unwrap();
            let entry = cases.entry(packet.to_string()).or_default();
            if rest.starts_with("checklist::") {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
        cases
    }

    fn packets(&self) -> Vec<String> {
        self.ledger
            .iter()
            .filter(|record| record["kind"] == "packet")
            .map(|record| record["packet"].as_str().unwrap().to_string())
            .collect()
    }
}

/// `gate import SEED` on stdout → `<tmp>/packets.toml` → `gate --gate it --out <tmp>/out`.
fn import_and_run(seed_name: &str) -> Ran {
    let imported = run_xtask(&[
        "gate".as_ref(),
        "import".as_ref(),
        seed(seed_name).as_os_str(),
    ]);
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        output_context(&imported)
    );
    let toml = String::from_utf8(imported.stdout.clone()).expect("the gate file is UTF-8");
    // Every check gets a bounded time; the seeds' tools are mostly absent and fail at once, but
    // a present one must not hold the test up.
    assert!(toml.contains("\ntimeout = \"10m\""), "{toml}");
    let quick = toml.replacen("\ntimeout = \"10m\"", "\ntimeout = \"20s\"", 1);
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("packets.toml");
    std::fs::write(&gate, &quick).unwrap();
    let out = dir.path().join("out");
    let run = run_xtask(&[
        "gate".as_ref(),
        "--gate".as_ref(),
        gate.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let code = run.status.code().expect("exited normally");
    assert!(
        code == 0 || code == 1,
        "the imported gate must load and run: {}\n{toml}",
        output_context(&run)
    );
    assert!(out.join("tracker.md").is_file(), "{}", output_context(&run));
    let ledger = std::fs::read_to_string(out.join("evidence.jsonl"))
        .expect("evidence.jsonl written")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect::<Vec<serde_json::Value>>();
    assert_eq!(ledger.last().unwrap()["kind"], "verdict");
    let verify = run_xtask(&[
        "gate".as_ref(),
        "verify".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(verify.status.success(), "{}", output_context(&verify));
    Ran {
        dir,
        toml,
        import_stderr: String::from_utf8_lossy(&imported.stderr).to_string(),
        code,
        ledger,
    }
}

/// The progress seed, counted by hand: per packet on the board, the checkboxes of its
/// checklist (before its first `###`) and of its "Required Commands".
fn progress_seed_counts() -> BTreeMap<String, (usize, usize)> {
    let text = std::fs::read_to_string(seed(PROGRESS_SEED)).unwrap();
    let mut counts = BTreeMap::new();
    for row in text.lines().filter(|line| line.starts_with("| SEC-")) {
        let id = row.split('|').nth(1).unwrap().trim().to_string();
        let start = text
            .find(&format!("## {id} Checklist"))
            .unwrap_or_else(|| panic!("section of {id}"));
        let section = &text[start..];
        let section = &section[..section[3..]
            .find("\n## ")
            .map_or(section.len(), |end| end + 3)];
        let checklist = section
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with("###"))
            .filter(|line| line.starts_with("- ["))
            .count();
        let commands_at = section.find("### Required Commands").unwrap();
        let commands = section[commands_at..]
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with("###"))
            .filter(|line| line.starts_with("- ["))
            .count();
        counts.insert(id, (commands, checklist));
    }
    assert_eq!(counts.len(), 5);
    counts
}

#[test]
fn the_progress_seed_imports_into_a_gate_that_runs() {
    let ran = import_and_run(PROGRESS_SEED);
    let expected = progress_seed_counts();
    assert_eq!(ran.packets(), expected.keys().cloned().collect::<Vec<_>>());
    for (packet, (commands, checklist)) in &expected {
        // Each required command is a check, plus the `needs-evidence` placeholder that keeps
        // the tracker's unproven checklist from passing.
        assert_eq!(
            ran.cases()[packet],
            (commands + 1, *checklist),
            "{packet}\n{}",
            ran.toml
        );
    }
    // Nothing the tracker ticked is taken as proven: NO_GO, and SEC-00's checklist fails.
    assert_eq!(ran.code, 1);
    assert_eq!(ran.ledger.last().unwrap()["decision"], "NO_GO");
    let item = ran
        .ledger
        .iter()
        .find(|record| {
            record["name"] == "SEC-00::checklist::scope-boundaries-and-in-scope-systems-declared"
        })
        .expect("a record for the item");
    assert_eq!(item["outcome"], "fail", "{item}");
    // The tracker's dependency order, its people, its claims and its prose.
    let toml = &ran.toml;
    for expected in [
        "plan = \"docs/architecture/release-security-gate-plan-2026-02.md\"",
        "depends_on = [\"SEC-01\", \"SEC-02\", \"SEC-03\"]",
        "implementer = \"Codex\"",
        "run = \"gitleaks detect --no-git --source .\"",
        "# 22: on the board (a hand claim, not evidence): Status: DONE; Review State: APPROVED",
        "# 32: ticked [x] in the tracker: a hand claim, not evidence",
        "# 16: 6. Do not use destructive git commands on shared worktrees.",
        "# 104: Verdict: APPROVED",
        "# 63: SEC-00 (scope freeze) ──blocks──► SEC-01 (auth/tenant replay)",
    ] {
        assert!(toml.contains(expected), "{expected}\n{toml}");
    }
    assert!(
        ran.import_stderr.contains(&format!(
            "{PROGRESS_SEED}:66: note: SEC-04 depends on SEC-01"
        )),
        "{}",
        ran.import_stderr
    );
    // Checks ran in the temp dir, the gate's root.
    let build = ran
        .ledger
        .iter()
        .find(|record| record["name"] == "SEC-00::go-build")
        .unwrap();
    assert_ne!(build["outcome"], "pass", "{build}");
    assert!(ran.dir.path().join("out/logs").is_dir());
}

#[test]
fn the_mojibake_iam_seed_imports_repaired_into_a_gate_that_runs() {
    let ran = import_and_run(IAM_SEED);
    let text = std::fs::read_to_string(seed(IAM_SEED)).unwrap();
    // One packet per `## ` section with checkboxes; its items are the top-level checkboxes.
    let mut expected: Vec<usize> = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            expected.push(0);
            in_section = true;
        } else if line.starts_with("- [") && in_section {
            *expected.last_mut().unwrap() += 1;
        }
    }
    expected.retain(|count| *count > 0);
    assert_eq!(expected, [5, 3, 3]);
    let cases = ran.cases();
    assert_eq!(
        ran.packets(),
        [
            "critical-must-fix-items",
            "high-priority",
            "medium-priority"
        ]
    );
    let counts: Vec<usize> = ran.packets().iter().map(|packet| cases[packet].1).collect();
    assert_eq!(counts, expected);
    for packet in ran.packets() {
        assert_eq!(
            cases[&packet].0, 1,
            "only needs-evidence: the seed names no command"
        );
    }
    assert_eq!(ran.code, 1);
    let toml = &ran.toml;
    assert!(!toml.contains("â€"), "{toml}");
    assert!(!toml.contains("ðŸ"), "{toml}");
    for expected in [
        "name = \"Remediation Tracker — SEC-001 Phase 1 IAM Hardening\"",
        "title = \"🔴 Critical Must-Fix Items\"",
        "{ item = \"RLS Misconfiguration\", by = [\"needs-evidence\"] },",
        "  # 13:   - CI test: attempt cross-org access → blocked.",
        "# 68: ## ✅ Definition of Done",
        "# 81: - Once all are checked, Story SEC-001 is merge-ready.",
    ] {
        assert!(toml.contains(expected), "{expected}\n{toml}");
    }
    assert!(ran
        .import_stderr
        .contains("repaired text double-encoded as UTF-8"));
}

#[test]
fn import_refuses_to_overwrite_and_names_an_unreadable_tracker() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("packets.toml");
    let tracker = seed(PROGRESS_SEED);
    let args = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "gate".into(),
            "import".into(),
            tracker.clone().into(),
            "--output".into(),
            output.clone().into(),
        ];
        args.extend(extra.iter().map(Into::into));
        args
    };
    let run = |args: Vec<std::ffi::OsString>| {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|arg| arg.as_os_str()).collect();
        run_xtask(&refs)
    };
    let first = run(args(&[]));
    assert_eq!(first.status.code(), Some(0), "{}", output_context(&first));
    assert!(
        first.stdout.is_empty(),
        "--output writes the file, not stdout"
    );
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(written.contains("id = \"SEC-04\""));

    std::fs::write(&output, "keep me").unwrap();
    let again = run(args(&[]));
    assert_eq!(again.status.code(), Some(2), "{}", output_context(&again));
    assert!(
        output_context(&again).contains("already exists"),
        "{}",
        output_context(&again)
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "keep me");
    let forced = run(args(&["--force"]));
    assert_eq!(forced.status.code(), Some(0), "{}", output_context(&forced));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), written);

    let missing = dir.path().join("no-such-tracker.md");
    let failed = run_xtask(&["gate".as_ref(), "import".as_ref(), missing.as_os_str()]);
    assert_eq!(failed.status.code(), Some(2), "{}", output_context(&failed));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("cannot read tracker") && stderr.contains("no-such-tracker.md"),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_starter_that_runs_go_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate/packets.toml");
    let init = |force: bool| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "gate".as_ref(),
            "init".as_ref(),
            "--gate".as_ref(),
            gate.as_os_str(),
        ];
        if force {
            args.push("--force".as_ref());
        }
        run_xtask(&args)
    };
    let first = init(false);
    assert_eq!(first.status.code(), Some(0), "{}", output_context(&first));
    let starter = std::fs::read_to_string(&gate).unwrap();
    for example in [
        "[[service]]",
        "probe = \"jwt\"",
        "scan = {",
        "[[accept]]",
        "attested = {",
    ] {
        assert!(starter.contains(example), "{example}\n{starter}");
    }

    let out = dir.path().join("out");
    let run = run_xtask(&[
        "gate".as_ref(),
        "--gate".as_ref(),
        gate.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", output_context(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("verdict: GO"));

    std::fs::write(&gate, "# mine\n").unwrap();
    let second = init(false);
    assert_eq!(second.status.code(), Some(2), "{}", output_context(&second));
    assert!(output_context(&second).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&gate).unwrap(), "# mine\n");
    let forced = init(true);
    assert_eq!(forced.status.code(), Some(0), "{}", output_context(&forced));
    assert_eq!(std::fs::read_to_string(&gate).unwrap(), starter);
}

/// `gate import TRACKER --output GATE`.
fn import_into(tracker: &Path, gate: &Path) -> Output {
    run_xtask(&[
        "gate".as_ref(),
        "import".as_ref(),
        tracker.as_os_str(),
        "--output".as_ref(),
        gate.as_os_str(),
    ])
}

/// `gate --gate GATE --out OUT -- --list`: the gate's tests, without running them.
fn list_tests(gate: &Path, out: &Path) -> Output {
    run_xtask(&[
        "gate".as_ref(),
        "--gate".as_ref(),
        gate.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--".as_ref(),
        "--list".as_ref(),
    ])
}

/// Found by fuzzing (issue 13): two checklist items equal in their first 60 slug characters
/// made `import` exit 2 with "a bug in the importer"; they now import into a gate that loads,
/// with a test name each.
#[test]
fn items_alike_in_their_first_60_characters_import() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = dir.path().join("tracker.md");
    let long = "Long item ".to_string() + &"a".repeat(70);
    std::fs::write(
        &tracker,
        format!("# Tracker\n\n## SEC-01 Things\n\n- [ ] {long} one\n- [ ] {long} two\n"),
    )
    .unwrap();
    let gate = dir.path().join("packets.toml");
    let imported = import_into(&tracker, &gate);
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        output_context(&imported)
    );
    let listed = list_tests(&gate, &dir.path().join("out"));
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{}", output_context(&listed));
    assert_eq!(stdout.matches("SEC-01::checklist::").count(), 2, "{stdout}");
    assert!(stdout.contains("-2: test"), "{stdout}");
}

/// Found by the fuzz harness (`tests/fuzz-corpus/trackers/regression-*`): a token in a
/// checklist item (also one that Markdown clean-up joins), and a packet named "… Secrets" whose
/// test names looked like `secrets: …` to the redactor, made `import` exit 2 with "a bug in the
/// importer". Each regression tracker now
/// imports into a gate whose tests list, with no token in it and a warning for the masked one.
#[test]
fn fuzz_corpus_tracker_regressions_import_into_gates_that_load() {
    let corpus = fixtures().join("../fuzz-corpus/trackers");
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let tracker = entry.unwrap().path();
        let name = tracker.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("regression-") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("packets.toml");
        let imported = import_into(&tracker, &gate);
        assert_eq!(
            imported.status.code(),
            Some(0),
            "{name}: {}",
            output_context(&imported)
        );
        let toml = std::fs::read_to_string(&gate).unwrap();
        // The token, as written or as Markdown clean-up joins it (`ghp_FAK__E…`).
        assert!(!toml.contains("ghp_FAKE"), "{name}: {toml}");
        if name == "regression-token-in-checklist-item.md" {
            let stderr = String::from_utf8_lossy(&imported.stderr);
            assert!(
                stderr.contains(":5: warning: masked text that looks like a secret on lines 5, 11"),
                "{stderr}"
            );
            assert!(!stderr.contains("ghp_FAKE"), "{stderr}");
        }
        let listed = list_tests(&gate, &dir.path().join("out"));
        assert_eq!(
            listed.status.code(),
            Some(0),
            "{name}: {}",
            output_context(&listed)
        );
        let stdout = String::from_utf8_lossy(&listed.stdout);
        assert!(stdout.contains("::checklist::"), "{name}: {stdout}");
    }
}
