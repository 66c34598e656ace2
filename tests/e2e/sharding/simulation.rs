//! The CI examples' own scripts run as the runners would: the GitHub workflow's build step's
//! `cargo nextest archive` once, each matrix partition from the archive in its own process and
//! out directory, the out directories carried to the merge job as the artifact steps would
//! (hidden files left behind, as upload-artifact does), then its merge step; the GitLab
//! pipeline's nodes likewise, hash-partitioned. The merged runs must hold the same trials,
//! verdict and per-check outcomes as one single-machine run of the same gate (in process, and
//! under nextest unpartitioned with `gate report`), and verify; a merge without one shard's
//! artifact is NO_GO, every check that shard owned failing "no evidence".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::{step, str_of, uses, yaml, GITHUB, GITLAB};
use crate::support::{
    self, assert_verifies, nextest_available, output_context, python_consumers, workspace, xtask,
    XTASK,
};

/// `${{ … }}` expressions replaced from `values` (`env.ARCHIVE`, `matrix.partition`…); any other
/// expression is an error, so the workflow cannot grow one this simulation would misread.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed expression in {text}"));
        let name = rest[start + 3..start + end].trim();
        out.push_str(
            values
                .get(name)
                .unwrap_or_else(|| panic!("the simulation does not know ${{{{ {name} }}}}")),
        );
        rest = &rest[start + end + 2..];
    }
    out + rest
}

/// The gate of the simulation: packets with dependencies, a probe (one trial per case), a grep,
/// checklists, a failing P2 check and a P1 failure an acceptance covers: GO_WITH_CONDITIONS.
const GATE: &str = r#"[gate]
name = "sharded"

[[packet]]
id = "SEC-01"
title = "Build and test"
checklist = [
  { item = "The build passes.", by = ["build"] },
  { item = "The unit tests pass.", by = ["unit"] },
]
[[packet.check]]
id = "build"
run = "echo built"
[[packet.check]]
id = "unit"
run = "echo 'test result: ok'"
[[packet.check]]
id = "style"
run = "echo 'one warning'; exit 1"
severity = "P2"

[[packet]]
id = "SEC-02"
title = "Secrets"
depends_on = ["SEC-01"]
checklist = [{ item = "No secret in the sources.", by = ["secrets"] }]
[[packet.check]]
id = "secrets"
probe = "secrets"
paths = ["src"]
[[packet.check]]
id = "runbook"
grep = { pattern = "rollback", files = "docs/*.md", expect = "match" }

[[packet]]
id = "SEC-03"
title = "Dependencies"
depends_on = ["SEC-01"]
[[packet.check]]
id = "audit"
run = "echo '1 moderate vulnerability'; exit 1"
severity = "P1"
[[packet.check]]
id = "licenses"
run = "true"

[[packet]]
id = "SEC-04"
title = "Release"
depends_on = ["SEC-02", "SEC-03"]
checklist = [{ item = "Ready to ship.", by = ["final"] }]
[[packet.check]]
id = "final"
run = "echo shipped"

[[accept]]
check = "SEC-03::audit"
owner = "dana"
until = "2099-12-31"
reason = "dev-only dependency, no exploit path"
"#;

/// A project holding [`GATE`] and the files its checks read.
fn project(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/runbook.md"), "To roll back: rollback.sh\n").unwrap();
    support::write_gate(dir, "packets.toml", GATE)
}

/// What a run says: its trials (JUnit test cases), verdict and each check's outcome.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    trials: BTreeSet<String>,
    decision: String,
    checks: BTreeMap<String, String>,
}

fn outcome(out: &Path) -> Outcome {
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let names: Vec<String> = junit
        .split("<testcase ")
        .skip(1)
        .map(|case| {
            let name = case.split("name=\"").nth(1).unwrap();
            name[..name.find('"').unwrap()].to_string()
        })
        .collect();
    let trials: BTreeSet<String> = names.iter().cloned().collect();
    // One testcase per trial: no suite or skipped entry twice, as naively merged JUnit has.
    assert_eq!(
        names.len(),
        trials.len(),
        "a trial twice in {}",
        out.display()
    );
    let ledger = ledger(out);
    let checks = ledger
        .iter()
        .filter(|line| line["kind"] == "check")
        .map(|line| {
            (
                str_of(&line["name"], "name").to_string(),
                str_of(&line["outcome"], "outcome").to_string(),
            )
        })
        .collect();
    let decision = ledger.last().unwrap()["decision"].as_str().unwrap().into();
    Outcome {
        trials,
        decision,
        checks,
    }
}

/// The lines of `out`'s ledger.
fn ledger(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("evidence.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A directory on `PATH` whose `cargo` runs `cargo xtask …` as this build's xtask (a CI job's
/// `cargo xtask` compiles it; here it is built) and everything else as the real cargo.
fn cargo_shim(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nif [ \"$1\" = xtask ]; then shift; exec '{}' \"$@\"; fi\nexec '{}' \"$@\"\n",
            XTASK,
            Path::new(&support::cargo()).display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A step's script run as the runner runs it: bash with the given environment, in `cwd`.
fn run_script(script: &str, shell: &[&str], cwd: &Path, env: &BTreeMap<String, String>) -> Output {
    let mut command = support::without_ambient(Command::new("bash"));
    command.args(shell).arg(script).current_dir(cwd).envs(env);
    command.output().unwrap()
}

/// `from` copied into `to` as an artifact upload and download would: regular files and folders,
/// without hidden files (upload-artifact leaves them out by default).
fn carry(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            carry(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn three_shards_from_one_archive_merge_into_the_single_machine_runs_trials_verdict_and_outcomes() {
    if !nextest_available() || !python_consumers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gate = project(&dir.path().join("project"));
    let gate_text = gate.display().to_string();
    let path = cargo_shim(dir.path());

    // One machine, in process.
    let single = dir.path().join("single");
    let run = xtask()
        .args(["gate", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(&single)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", output_context(&run));
    let expected = outcome(&single);
    assert_eq!(expected.decision, "GO_WITH_CONDITIONS", "{expected:?}");
    assert_eq!(expected.checks["SEC-01::style"], "fail");
    assert_eq!(expected.checks["SEC-03::audit"], "fail");
    assert_eq!(expected.checks["SEC-04::final"], "pass");
    assert!(expected.trials.contains("SEC-02::secrets::no-secrets"));
    assert_verifies(&single, &[]);

    // The GitHub workflow's build step, once: the archive every machine below runs from.
    let workflow = yaml(GITHUB);
    let mut github: BTreeMap<String, String> = workflow["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), str_of(value, name).to_string()))
        .collect();
    let archive = dir.path().join("gate.tar.zst");
    github.insert("ARCHIVE".into(), archive.display().to_string());
    github.insert("RELGATE_GATE".into(), gate_text.clone());
    github.insert("PATH".into(), path.clone());
    let bash = ["--noprofile", "--norc", "-eo", "pipefail", "-c"];
    let build = run_script(
        str_of(&step(&workflow["jobs"]["build"], "archive")["run"], "build"),
        &bash,
        &workspace(),
        &github,
    );
    assert!(build.status.success(), "{}", output_context(&build));

    // One machine under nextest, unpartitioned, from the same archive, then `gate report`.
    let nextest_out = dir.path().join("nextest");
    let nextest = support::without_ambient(Command::new(support::cargo()))
        .args(["nextest", "run", "--no-fail-fast", "--archive-file"])
        .arg(&archive)
        .arg("--workspace-remap")
        .arg(workspace())
        .current_dir(workspace())
        .env("RELGATE_GATE", &gate)
        .env("RELGATE_OUT", &nextest_out)
        .output()
        .unwrap();
    assert!(
        matches!(nextest.status.code(), Some(0 | 100)),
        "{}",
        output_context(&nextest)
    );
    let report = xtask()
        .args(["gate", "report", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(&nextest_out)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", output_context(&report));
    assert_eq!(outcome(&nextest_out), expected, "nextest vs in-process");

    // GitHub Actions: each matrix entry runs the shard step on its own "machine".
    let jobs = &workflow["jobs"];
    let matrix = jobs["shard"]["strategy"]["matrix"]["partition"]
        .as_array()
        .unwrap();
    let shard = &step(&jobs["shard"], "shard");
    let merge_dir = dir.path().join("github-merge");
    let download = str_of(
        &uses(&jobs["merge"], "actions/download-artifact")[0]["with"]["path"],
        "download path",
    );
    let mut shards = Vec::new();
    for partition in matrix {
        let m = partition.as_u64().unwrap().to_string();
        let mut values: BTreeMap<String, String> = github
            .iter()
            .map(|(name, value)| (format!("env.{name}"), value.clone()))
            .collect();
        values.insert("matrix.partition".into(), m.clone());
        values.insert("strategy.job-total".into(), matrix.len().to_string());
        let mut env = github.clone();
        let machine = dir.path().join(format!("github-shard-{m}"));
        env.insert(
            "SHARD_OUT".into(),
            machine.join("shard-out").display().to_string(),
        );
        for (name, value) in shard["env"].as_object().unwrap() {
            env.insert(name.clone(), substitute(str_of(value, name), &values));
        }
        let upload = &uses(&jobs["shard"], "actions/upload-artifact")[0]["with"];
        let artifact = substitute(str_of(&upload["name"], "artifact name"), &values);
        let script = str_of(&shard["run"], "shard step").to_string();
        let spawned = std::thread::spawn(move || {
            let output = run_script(&script, &bash, &workspace(), &env);
            (output, env)
        });
        shards.push((m, artifact, machine, spawned));
    }
    for (m, artifact, machine, spawned) in shards {
        let (output, env) = spawned.join().unwrap();
        assert!(
            output.status.success(),
            "shard {m} ({}): {}",
            env["PARTITION"],
            output_context(&output)
        );
        carry(
            &machine.join("shard-out"),
            &merge_dir.join(download).join(artifact),
        );
    }
    // The merge step signs with the repository secret's content (a key file's text), which
    // only this job sees; without ssh-keygen the merge runs unsigned.
    let mut env = github.clone();
    let runner_temp = dir.path().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    env.insert("RUNNER_TEMP".into(), runner_temp.display().to_string());
    let key = support::ssh_key(dir.path(), "release");
    if let Some((private, _)) = &key {
        env.insert(
            "SIGNING_KEY".into(),
            std::fs::read_to_string(private).unwrap(),
        );
    }
    let merged = run_script(
        str_of(&step(&jobs["merge"], "merge")["run"], "merge"),
        &bash,
        &merge_dir,
        &env,
    );
    let out = merge_dir.join(&github["RELGATE_OUT_DIR"]);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    assert_eq!(outcome(&out), expected, "3 GitHub shards vs one machine");
    assert_merged(&out, "slice", matrix.len(), expected.trials.len());
    // The merge job's artifact is the whole out directory: a download of it verifies.
    let downloaded = dir.path().join("release-gate");
    carry(&out, &downloaded);
    match &key {
        Some((_, public)) => {
            assert!(out.join("attestation.intoto.dsse.json").is_file());
            assert_verifies(&out, &[public]);
            assert_verifies(&downloaded, &[public]);
        }
        None => assert_verifies(&downloaded, &[]),
    }

    // A shard job that died before its upload: the merge job (`if: always()`) still runs on
    // the others and says NO_GO, each check the missing shard owned failing "no evidence".
    let partial = dir.path().join("github-merge-partial");
    let last = format!("gate-shard-{}", matrix.len());
    for entry in std::fs::read_dir(merge_dir.join(download)).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_str() != Some(last.as_str()) {
            carry(
                &entry.path(),
                &partial.join(download).join(entry.file_name()),
            );
        }
    }
    env.remove("SIGNING_KEY");
    let merged = run_script(
        str_of(&step(&jobs["merge"], "merge")["run"], "merge"),
        &bash,
        &partial,
        &env,
    );
    assert_eq!(merged.status.code(), Some(1), "{}", output_context(&merged));
    let incomplete = partial.join(&github["RELGATE_OUT_DIR"]);
    assert_eq!(outcome(&incomplete).decision, "NO_GO");
    let missing = format!("slice:{0}/{0}", matrix.len());
    let owned: Vec<String> = ledger(&out)
        .into_iter()
        .filter(|record| record["kind"] == "check" && record["shard"] == missing.as_str())
        .map(|record| str_of(&record["name"], "name").to_string())
        .collect();
    assert!(!owned.is_empty(), "{missing} ran no check");
    let records = ledger(&incomplete);
    for name in &owned {
        let record = records
            .iter()
            .find(|record| record["kind"] == "check" && record["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no record of {name}"));
        assert_eq!(record["outcome"], "fail", "{record}");
        assert!(
            str_of(&record["message"], "message").starts_with("no evidence"),
            "{record}"
        );
    }
    assert_verifies(&incomplete, &[]);

    // GitLab, hash-partitioned: `parallel: N` nodes, then the merge job with every artifact.
    let pipeline = yaml(GITLAB);
    let total = pipeline["gate-shard"]["parallel"].as_u64().unwrap();
    let mut gitlab: BTreeMap<String, String> = pipeline["variables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), str_of(value, name).to_string()))
        .collect();
    gitlab.insert("ARCHIVE".into(), archive.display().to_string());
    gitlab.insert("PARTITIONING".into(), "hash".into());
    gitlab.insert("RELGATE_GATE".into(), gate_text);
    gitlab.insert("PATH".into(), path);
    gitlab.insert("CI_NODE_TOTAL".into(), total.to_string());
    let merge_dir = dir.path().join("gitlab-merge");
    let shards_dir = gitlab["SHARDS_DIR"].clone();
    let job_script = |job: &str| {
        pipeline[job]["script"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| str_of(line, job).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let script = job_script("gate-shard");
    let nodes: Vec<_> = (1..=total)
        .map(|node| {
            let machine = dir.path().join(format!("gitlab-shard-{node}"));
            let mut env = gitlab.clone();
            env.insert("CI_NODE_INDEX".into(), node.to_string());
            env.insert(
                "SHARDS_DIR".into(),
                machine.join(&shards_dir).display().to_string(),
            );
            let script = script.clone();
            let spawned =
                std::thread::spawn(move || run_script(&script, &["-e", "-c"], &workspace(), &env));
            (node, machine, spawned)
        })
        .collect();
    for (node, machine, spawned) in nodes {
        let output = spawned.join().unwrap();
        assert!(
            output.status.success(),
            "node {node}: {}",
            output_context(&output)
        );
        // The job's artifact is `shards/`; the merge job gets every node's side by side.
        carry(&machine.join(&shards_dir), &merge_dir.join(&shards_dir));
    }
    let merged = run_script(
        &job_script("gate-merge"),
        &["-e", "-c"],
        &merge_dir,
        &gitlab,
    );
    let out = merge_dir.join(&gitlab["RELGATE_OUT_DIR"]);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    assert_eq!(
        outcome(&out),
        expected,
        "3 GitLab hash shards vs one machine"
    );
    assert_merged(&out, "hash", total as usize, expected.trials.len());
    assert_verifies(&out, &[]);
}

/// The merged ledger names the `count` shards of `kind` it joined, responsible between them for
/// each of the `trials` once, and every record of a check that ran names the shard that ran it
/// (an earlier attempt too: a dependency run in another shard); checklist items are judged by
/// the merge itself.
fn assert_merged(out: &Path, kind: &str, count: usize, trials: usize) {
    let ledger = ledger(out);
    let header = &ledger[0];
    assert_eq!(header["mode"], "merge", "{header}");
    let merged = header["merged"]
        .as_array()
        .unwrap_or_else(|| panic!("no merged shards: {header}"));
    let partitions: Vec<&str> = merged
        .iter()
        .map(|shard| str_of(&shard["partition"], "partition"))
        .collect();
    let wanted: Vec<String> = (1..=count).map(|m| format!("{kind}:{m}/{count}")).collect();
    assert_eq!(partitions, wanted, "{header}");
    let responsible: u64 = merged
        .iter()
        .map(|shard| shard["trials"].as_u64().unwrap())
        .sum();
    assert_eq!(responsible, trials as u64, "{header}");
    for record in &ledger {
        if record["kind"] != "check" || record["case_kind"] == "checklist" {
            continue;
        }
        let attempts = record["attempts"].as_array().cloned().unwrap_or_default();
        for run in attempts.iter().chain([record]) {
            let shard = str_of(&run["shard"], "the shard of a merged record");
            assert!(wanted.iter().any(|want| want == shard), "{record}");
        }
    }
}
