//! The CI recipes end to end: this repository's composite GitHub Action (`action.yml`, run
//! step by step by `tests/ci/run_action.py` the way a runner does) and its script `ci/gate.sh`,
//! with `cargo gate` really installed into a temp root; and the GitLab template's job script.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, python_consumers};

/// A gate that passes and one with a failing P0 check, in a fresh project directory.
fn project(gate: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = match gate {
        "go" => {
            "[gate]\nname = \"ci recipe\"\n[[packet]]\nid = \"SEC-00\"\n\
             [[packet.check]]\nid = \"ok\"\nrun = \"echo fine\"\n"
        }
        "no-go" => {
            "[gate]\nname = \"ci recipe\"\n[[packet]]\nid = \"SEC-00\"\n\
             [[packet.check]]\nid = \"broken\"\nrun = \"echo broken; exit 3\"\nseverity = \"P0\"\n"
        }
        _ => "[[packet]]\nid = 42\n",
    };
    std::fs::write(dir.path().join("packets.toml"), text).unwrap();
    dir
}

/// The command that installs `cargo gate` from this checkout (as the action runs it: split on
/// whitespace).
fn install_command() -> String {
    format!("cargo {}", support::cargo_gate_install_args().join(" "))
}

struct ActionRun {
    report: Value,
    summary: String,
    stderr: String,
}

fn run_action(project: &Path, inputs: &[&str]) -> ActionRun {
    let summary = project.join("step-summary.md");
    let output = support::without_ambient(Command::new("python3"))
        .arg(support::workspace().join("tests/ci/run_action.py"))
        .arg(support::workspace().join("action.yml"))
        .arg(project)
        .args(inputs)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RELGATE_INSTALL", install_command())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "run_action.py: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)));
    ActionRun {
        report,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        stderr,
    }
}

fn step<'a>(run: &'a ActionRun, uses: &str) -> &'a Value {
    run.report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|name| name.starts_with(uses))
        })
        .unwrap_or_else(|| panic!("no {uses} step ran: {}", run.report))
}

#[test]
fn the_github_action_installs_cargo_gate_runs_the_gate_and_hands_the_reports_to_the_uploads() {
    if !python_consumers() {
        return;
    }
    // Each run installs cargo gate into its own runner.temp, as on GitHub (a fresh runner per
    // job); the build itself is shared, so only the first compiles.
    let go = project("go");
    let run = run_action(go.path(), &[]);
    assert_eq!(
        run.report["failed"], false,
        "{}\n{}",
        run.report, run.stderr
    );
    let outputs = &run.report["outputs"];
    assert_eq!(outputs["verdict"], "GO", "{}", run.report);
    assert_eq!(outputs["exit-code"], "0");
    let out = PathBuf::from(outputs["out"].as_str().unwrap());
    assert_eq!(out, go.path().join("target/gate").canonicalize().unwrap());
    let sarif = step(&run, "github/codeql-action/upload-sarif");
    assert_eq!(
        sarif["with"]["sarif_file"],
        out.join("report.sarif").display().to_string()
    );
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let artifact = step(&run, "actions/upload-artifact");
    assert_eq!(artifact["with"]["path"], out.display().to_string());
    assert_eq!(artifact["with"]["name"], "relgate");
    assert!(out.join("junit.xml").is_file());
    assert!(
        run.stderr
            .contains("running: cargo gate --gate packets.toml --out target/gate"),
        "{}",
        run.stderr
    );
    // The gate itself wrote the job summary (GITHUB_ACTIONS=true): the board and the verdict.
    assert!(run.summary.contains("SEC-00"), "{}", run.summary);
    assert!(run.summary.contains("GO"), "{}", run.summary);
    // A run that only lists the cases exits 0 and leaves that GO run's ledger in place: it has
    // no verdict of its own, and the action must not report the old one.
    let listed = run_action(go.path(), &["args=-- --list"]);
    assert_eq!(
        listed.report["outputs"]["exit-code"], "0",
        "{}",
        listed.report
    );
    assert_eq!(listed.report["outputs"]["verdict"], "", "{}", listed.report);

    let no_go = project("no-go");
    let run = run_action(no_go.path(), &["deny-conditions=true"]);
    assert_eq!(run.report["failed"], true, "{}", run.report);
    assert_eq!(run.report["outputs"]["verdict"], "NO_GO");
    assert_eq!(run.report["outputs"]["exit-code"], "1");
    // The uploads still run after a NO_GO (`always()`), with the reports of this run.
    step(&run, "github/codeql-action/upload-sarif");
    step(&run, "actions/upload-artifact");
    assert!(run.stderr.contains("--deny-conditions"), "{}", run.stderr);

    let invalid = project("invalid");
    let run = run_action(invalid.path(), &[]);
    assert_eq!(run.report["failed"], true);
    assert_eq!(run.report["outputs"]["exit-code"], "2");
    assert_eq!(run.report["outputs"]["verdict"], "");
    assert!(
        run.summary.contains("relgate: no verdict"),
        "{}",
        run.summary
    );
}

#[test]
fn the_ci_script_runs_the_projects_xtask_when_its_cargo_config_defines_the_alias() {
    let dir = project("go");
    std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
    // An alias to a package that does not exist: cargo refuses it, and the script must have
    // chosen `cargo xtask gate` (never installing cargo gate) before that.
    std::fs::write(
        dir.path().join(".cargo/config.toml"),
        "[alias]\nxtask = \"run --package relgate-ci-test-xtask --\"\n",
    )
    .unwrap();
    // RELGATE_ARGS is split on spaces only: a glob or a command substitution stays literal.
    let output = support::without_ambient(Command::new("bash"))
        .arg(support::workspace().join("ci/gate.sh"))
        .current_dir(dir.path())
        .env("RELGATE_INSTALL", "false")
        .env("RELGATE_ARGS", "--no-setup  * $(touch pwned)")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "running: cargo xtask gate --gate packets.toml --out target/gate --no-setup * $(touch pwned)"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("pwned").exists());
    assert!(!stderr.contains("installing cargo-gate"), "{stderr}");
    assert_ne!(output.status.code(), Some(0));

    let output = support::without_ambient(Command::new("bash"))
        .arg(support::workspace().join("ci/gate.sh"))
        .current_dir(dir.path())
        .env("RELGATE_COMMAND", "docker")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("must be auto, xtask or cargo-gate"));
}

#[test]
fn the_gitlab_template_runs_its_job_script_on_a_project() {
    if !python_consumers() {
        return;
    }
    // The job's script, read from the template as GitLab would, run with its variables by bash
    // with `cargo gate` installed from this checkout.
    let template = support::workspace().join("ci/gitlab/relgate.gitlab-ci.yml");
    let script = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; job=yaml.safe_load(open(sys.argv[1]))['.relgate']; \
             print(json.dumps({'script': job['script'], 'variables': job['variables'], \
             'junit': job['artifacts']['reports']['junit']}))",
        ])
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        script.status.success(),
        "{}",
        String::from_utf8_lossy(&script.stderr)
    );
    let job: Value = serde_json::from_slice(&script.stdout).unwrap();
    let root = tempfile::tempdir().unwrap();
    for (gate, code, verdict) in [("go", 0, "GO"), ("no-go", 1, "NO_GO")] {
        let dir = project(gate);
        let mut command = support::without_ambient(Command::new("bash"));
        command.arg("-e").arg("-c");
        command.arg(
            job["script"]
                .as_array()
                .unwrap()
                .iter()
                .map(|line| line.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for (name, value) in job["variables"].as_object().unwrap() {
            command.env(name, value.as_str().unwrap());
        }
        let path = format!(
            "{}:{}",
            root.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = command
            .env(
                "RELGATE_INSTALL",
                format!("{} --root {}", install_command(), root.path().display()),
            )
            .env("PATH", path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains(&format!("verdict: {verdict}")), "{stdout}");
        let junit = dir.path().join(job["junit"].as_str().unwrap());
        assert!(junit.is_file(), "{}", junit.display());
    }
}
