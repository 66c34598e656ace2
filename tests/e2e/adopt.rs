//! End to end: adopting relgate in a fresh project, the way a user does before relgate is
//! published. `cargo new --offline --vcs none demo` in a temp dir; this repository's xtask runs
//! `gate init --xtask --relgate-path <checkout>/crates/relgate` there (a gate for what it finds:
//! cargo build, test, clippy, fmt, cargo audit, the secrets probe; the xtask and gate-tests
//! crates; the alias; the workspace members); then `cargo xtask gate` in the demo project — its
//! own xtask, compiled from relgate by path — gets a verdict, `gate verify` accepts the run,
//! and `cargo test -p gate-tests` (the harness init wrote) reaches the same verdict.
//!
//! Offline (`CARGO_NET_OFFLINE`), with `CARGO_TARGET_DIR` the directory shared by the tests
//! that build relgate as a user does (`support::user_build_target_dir`), so relgate's crates
//! compile once across them and across runs (a cold build is a few minutes on two cores), and with the
//! offline advisory database in `RELGATE_ADVISORY_DB` (as .ci/run sets it) for the generated
//! cargo-audit scan. relgate's own dependency tree holds RUSTSEC-2023-0071 (rsa), which `init
//! --xtask` accepts in the generated gate: the verdict is GO_WITH_CONDITIONS with exactly that
//! accepted finding (GO with an advisory database that lacks it).

use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

use crate::support::*;

fn context(what: &str, output: &Output) -> String {
    format!("{what}: {}", output_context(output))
}

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(output.status.success(), "{}", context(what, &output));
    output
}

#[test]
fn a_fresh_cargo_project_adopts_relgate_with_init_xtask_and_gets_a_verdict() {
    let (Some(advisory_db), true) = (crate::scans::advisory_db(), crate::scans::cargo_audit())
    else {
        return;
    };
    if !runs("cargo", &["clippy", "--version"]) || !runs("cargo", &["fmt", "--version"]) {
        skip("clippy or rustfmt is not installed (rustup component add clippy rustfmt)");
        return;
    }
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    run(
        "cargo new",
        without_ambient(Command::new(cargo()))
            .args(["new", "--offline", "--vcs", "none", "--quiet", "demo"])
            .current_dir(temp.path()),
    );
    let demo = temp.path().join("demo");
    let relgate = workspace().join("crates/relgate");
    let init = run(
        "gate init --xtask",
        xtask()
            .args(["gate", "init", "--xtask", "--relgate-path"])
            .arg(&relgate)
            .current_dir(&demo),
    );
    let said = String::from_utf8_lossy(&init.stderr);
    for file in [
        "packets.toml",
        "xtask/Cargo.toml",
        "xtask/src/main.rs",
        "gate-tests/Cargo.toml",
        "gate-tests/tests/gate.rs",
        ".cargo/config.toml",
        "Cargo.toml",
    ] {
        assert!(said.contains(file), "init did not name {file}: {said}");
        assert!(demo.join(file).is_file(), "{file} missing");
    }
    let gate = std::fs::read_to_string(demo.join("packets.toml")).unwrap();
    for command in [
        "cargo build --workspace --all-targets",
        "cargo test --workspace --exclude gate-tests",
        "cargo clippy --workspace --all-targets --exclude xtask --exclude gate-tests -- -D warnings",
        "probe = \"secrets\"",
        "format = \"cargo-audit\"",
    ] {
        assert!(gate.contains(command), "no {command} in\n{gate}");
    }
    let after_init = started.elapsed();

    // The user's own `cargo xtask gate`, through the alias init wrote.
    // Offline, relgate's crates built once across runs, the advisory database as .ci/run has it.
    let target_dir = user_build_target_dir();
    let cargo_in_demo = |args: &[&str]| {
        let mut command = without_ambient(Command::new(cargo()));
        command
            .args(args)
            .current_dir(&demo)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_NET_OFFLINE", "true")
            .env("RELGATE_ADVISORY_DB", &advisory_db);
        command
    };
    let output = cargo_in_demo(&["xtask", "gate", "--no-progress"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let out = demo.join("target/gate");
    let ledger: Vec<Value> = std::fs::read_to_string(out.join("evidence.jsonl"))
        .unwrap_or_else(|err| {
            panic!(
                "no ledger ({err}): {}",
                context("cargo xtask gate", &output)
            )
        })
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let verdict = ledger.last().unwrap();
    let decision = verdict["decision"].as_str().unwrap();
    assert!(
        ["GO", "GO_WITH_CONDITIONS"].contains(&decision),
        "{decision}: {}",
        context("cargo xtask gate", &output)
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        context("cargo xtask gate", &output)
    );
    assert!(stdout.contains(&format!("verdict: {decision}")), "{stdout}");
    // Every generated check ran and passed, but for cargo audit's findings, each accepted.
    let checks: Vec<&Value> = ledger
        .iter()
        .filter(|line| line["kind"] == "check")
        .collect();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for name in [
        "SEC-00::cargo-build",
        "SEC-00::cargo-test",
        "SEC-00::clippy",
        "SEC-00::rustfmt",
        "SEC-01::no-committed-secrets",
        "SEC-01::cargo-audit",
    ] {
        assert!(names.contains(&name), "no record of {name}: {names:?}");
    }
    for check in &checks {
        if check["name"] != "SEC-01::cargo-audit" {
            assert_eq!(check["outcome"], "pass", "{check}\n{stdout}");
        }
    }
    for finding in verdict["findings"].as_array().unwrap() {
        assert_eq!(finding["state"], "accepted", "{finding}");
        assert_eq!(finding["id"], "RUSTSEC-2023-0071", "{finding}");
    }
    for report in [
        "junit.xml",
        "report.sarif",
        "report.html",
        "attestation.intoto.json",
    ] {
        assert!(out.join(report).is_file(), "{report} missing");
    }
    let verify = xtask()
        .args(["gate", "verify", "--out"])
        .arg(&out)
        .current_dir(&demo)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        context("gate verify", &verify)
    );

    // The same gate under `cargo test`, through the gate-tests crate init wrote (its test
    // target was built by the cargo-build check).
    let tests_out = temp.path().join("gate-tests-out");
    let output = cargo_in_demo(&["test", "-p", "gate-tests"])
        .env("RELGATE_OUT", &tests_out)
        .output()
        .unwrap();
    let what = "cargo test -p gate-tests";
    assert_eq!(output.status.code(), Some(0), "{}", context(what, &output));
    let ledger = std::fs::read_to_string(tests_out.join("evidence.jsonl")).unwrap();
    let last: Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!(last["decision"], decision, "{}", context(what, &output));
    eprintln!(
        "adopt: init in {:.1?}, then the demo's cargo xtask gate ({decision}), verify and cargo test -p gate-tests in {:.1?}",
        after_init,
        started.elapsed() - after_init
    );
}
