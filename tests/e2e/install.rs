//! End to end: the installed command. `cargo install --path crates/cargo-gate` into a temp root
//! (into the target directory the tests that build relgate as a user does share), that root's
//! `bin` first on `PATH`, then from a temp project: `cargo gate --help` names `cargo gate`,
//! `cargo gate init` writes the starter, and `cargo gate` gives the same exit code, verdict,
//! records and out-directory files as `cargo xtask gate` on the same gate — for the starter
//! (GO), a P0 failure (NO_GO) and an invalid gate file (exit 2). Each verifies the other's run.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

/// `cargo install` of cargo-gate from this checkout into `root`.
fn install(root: &Path) {
    let output = Command::new(cargo())
        .args(cargo_gate_install_args())
        .arg("--root")
        .arg(root)
        .output()
        .expect("run cargo install");
    assert!(
        output.status.success(),
        "cargo install failed: {}",
        output_context(&output)
    );
    assert!(root.join("bin/cargo-gate").is_file());
}

/// A temp project with the installed root's `bin` first on `PATH`.
struct Project {
    dir: tempfile::TempDir,
    path: OsString,
}

impl Project {
    fn new(root: &Path) -> Project {
        let mut dirs = vec![root.join("bin")];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Project {
            dir: tempfile::tempdir().unwrap(),
            path: std::env::join_paths(dirs).unwrap(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `program args…` in the project, as a user's shell would run it.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = without_ambient(Command::new(program));
        command.current_dir(self.dir.path()).env("PATH", &self.path);
        command
    }

    /// `cargo gate args…`: cargo finds `cargo-gate` on PATH and runs `cargo-gate gate args…`.
    fn cargo_gate(&self, args: &[&std::ffi::OsStr]) -> Output {
        let mut command = self.command(cargo());
        command.arg("gate").args(args);
        command.output().expect("run cargo gate")
    }

    /// `cargo xtask gate args…` as the other e2e tests run it: this workspace's xtask binary.
    fn xtask_gate(&self, args: &[&std::ffi::OsStr]) -> Output {
        let mut command = self.command(XTASK);
        command.arg("gate").args(args);
        command.output().expect("run the xtask")
    }
}

/// The files of an out directory, relative, with the run id in `fragments/<run-id>/` masked.
fn files(out: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(out)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let masked = match relative.strip_prefix("fragments/") {
                Some(rest) => format!(
                    "fragments/<run>/{}",
                    rest.split_once('/').map_or(rest, |(_, file)| file)
                ),
                None => relative,
            };
            found.insert(masked);
        }
    }
    found
}

/// The ledger's records as (kind, name or packet, outcome or decision): what a run decided,
/// without its timings and digests.
fn outcomes(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("evidence.jsonl")).expect("evidence.jsonl");
    text.lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{} {} {} {}",
                record["kind"],
                record
                    .get("name")
                    .or(record.get("packet"))
                    .unwrap_or(&"-".into()),
                record.get("outcome").unwrap_or(&"-".into()),
                record.get("decision").unwrap_or(&"-".into()),
            )
        })
        .collect()
}

/// Runs `gate` both ways into `out-gate-<label>` and `out-xtask-<label>`: the same exit code,
/// verdict, records and files; each run verifies with the other command. Returns the exit code.
fn same_run(project: &Project, gate: &Path, label: &str) -> i32 {
    let out_gate = project.file(&format!("out-gate-{label}"));
    let out_xtask = project.file(&format!("out-xtask-{label}"));
    let run = |out: &Path, xtask: bool| {
        let args = [
            "--gate".as_ref(),
            gate.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        if xtask {
            project.xtask_gate(&args)
        } else {
            project.cargo_gate(&args)
        }
    };
    let by_gate = run(&out_gate, false);
    let by_xtask = run(&out_xtask, true);
    let code = by_gate.status.code().expect("cargo gate exited");
    assert_eq!(
        Some(code),
        by_xtask.status.code(),
        "{label}: cargo gate:\n{}\ncargo xtask gate:\n{}",
        output_context(&by_gate),
        output_context(&by_xtask)
    );
    if code == 2 {
        // Nothing ran: the same error, naming the command each way was invoked.
        let text = |output: &Output| String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(text(&by_gate), text(&by_xtask), "{label}");
        return code;
    }
    assert_eq!(
        files(&out_gate),
        files(&out_xtask),
        "{label}: out directories"
    );
    assert_eq!(
        outcomes(&out_gate),
        outcomes(&out_xtask),
        "{label}: ledgers"
    );
    for (out, xtask) in [(&out_gate, true), (&out_xtask, false)] {
        let args = ["verify".as_ref(), "--out".as_ref(), out.as_os_str()];
        let verified = if xtask {
            project.xtask_gate(&args)
        } else {
            project.cargo_gate(&args)
        };
        assert!(
            verified.status.success(),
            "{label}: {}",
            output_context(&verified)
        );
    }
    let marker = |out: &Path| std::fs::read_to_string(out.join(".relgate-out")).unwrap();
    assert!(
        marker(&out_gate).contains("`cargo gate` rewrites"),
        "{}",
        marker(&out_gate)
    );
    assert!(marker(&out_xtask).contains("`cargo xtask gate` rewrites"));
    code
}

#[test]
fn the_installed_cargo_gate_runs_like_cargo_xtask_gate() {
    let root = tempfile::tempdir().unwrap();
    install(root.path());
    let project = Project::new(root.path());

    let help = project.cargo_gate(&["--help".as_ref()]);
    let stdout = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{}", output_context(&help));
    assert!(stdout.contains("Usage: cargo gate [OPTIONS]"), "{stdout}");
    for command in [
        "verify", "report", "sign", "approve", "import", "setup", "init",
    ] {
        assert!(
            stdout.contains(&format!("\n  {command} ")),
            "{command}: {stdout}"
        );
    }
    assert!(!stdout.contains("xtask"), "{stdout}");

    // cargo runs `cargo-gate gate …`; run directly, the binary takes the same arguments alone.
    let bad = project
        .command("cargo-gate")
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", output_context(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Usage: cargo gate"));

    let gate = project.file("packets.toml");
    let init = project.cargo_gate(&["init".as_ref(), "--gate".as_ref(), gate.as_os_str()]);
    assert!(init.status.success(), "{}", output_context(&init));
    let said = String::from_utf8_lossy(&init.stderr);
    assert!(
        said.contains(&format!(
            "run it with `cargo gate --gate {}`",
            gate.display()
        )),
        "{said}"
    );
    let again = project.cargo_gate(&["init".as_ref(), "--gate".as_ref(), gate.as_os_str()]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "init never overwrites: {}",
        output_context(&again)
    );

    let list = |output: Output| {
        assert!(output.status.success(), "{}", output_context(&output));
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let list_args = [
        "--gate".as_ref(),
        gate.as_os_str(),
        "--".as_ref(),
        "--list".as_ref(),
    ];
    let direct = project
        .command("cargo-gate")
        .args(list_args)
        .output()
        .unwrap();
    assert_eq!(list(direct), list(project.xtask_gate(&list_args)));

    assert_eq!(same_run(&project, &gate, "starter"), 0);
    assert_eq!(
        same_run(&project, &fixtures().join("p0-fail.toml"), "p0"),
        1
    );
    let invalid = fixtures().join("invalid.toml");
    assert_eq!(same_run(&project, &invalid, "invalid"), 2);
}
