//! The setup step (`[[tool]]`): a tool is probed, installed once when missing (whatever the
//! number of runs or processes asking), and a check that needs a tool still missing is an ERROR
//! naming the tool and the command that installs it — never a silent pass.

use crate::support;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{run_gate, xtask, Run};

/// A gate in `dir`: `widget` installs by creating `bin/widget` and counting its installs in
/// `installs`; `unobtainable` cannot be installed (no registry).
fn write_gate(dir: &Path) -> PathBuf {
    gate_file(
        dir,
        r#"
[[tool]]
name = "widget"
probe = "test -x bin/widget"
install = "echo install >> installs; sleep 0.3; mkdir -p bin && printf '#!/bin/sh\necho widget 1.0\n' > bin/widget && chmod +x bin/widget"

[[tool]]
name = "unobtainable"
probe = "command -v unobtainable-tool-xyz"
install = "echo 'cannot reach the registry' >&2; exit 7"

[[packet]]
id = "P"

[[packet.check]]
id = "uses-widget"
run = "bin/widget"
tools = ["widget"]

[[packet.check]]
id = "uses-unobtainable"
run = "unobtainable-tool-xyz --version"
tools = ["unobtainable"]

[[packet.check]]
id = "plain"
run = "true"
"#,
    )
}

/// Writes `text` as `dir/packets.toml` and returns its path.
fn gate_file(dir: &Path, text: &str) -> PathBuf {
    let gate = dir.join("packets.toml");
    std::fs::write(&gate, text).unwrap();
    gate
}

fn installs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("installs"))
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

fn setup(gate: &Path, logs: &Path, extra: &[&str]) -> Output {
    xtask()
        .args(["gate", "setup", "--gate"])
        .arg(gate)
        .arg("--logs")
        .arg(logs)
        .args(extra)
        .output()
        .unwrap()
}

fn message(run: &Run, name: &str) -> String {
    run.check(name)["message"].as_str().unwrap().to_string()
}

#[test]
fn a_missing_tool_is_installed_once_and_an_uninstallable_one_is_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path());

    let first = run_gate(&gate, &[]);
    assert_eq!(first.code(), 1, "{}", first.context());
    assert_eq!(installs(dir.path()), 1, "{}", first.context());
    let widget = first.check("P::uses-widget");
    assert_eq!(widget["outcome"], "pass", "{}", first.context());
    let notes = widget["notes"].to_string();
    assert!(notes.contains("widget: installed in"), "{notes}");
    // The install was announced before the checks ran.
    assert!(
        first.stderr().contains("setup: widget is missing"),
        "{}",
        first.context()
    );

    let missing = first.check("P::uses-unobtainable");
    assert_eq!(missing["outcome"], "error", "{}", first.context());
    let text = message(&first, "P::uses-unobtainable");
    assert!(text.contains("tool unobtainable: MISSING"), "{text}");
    assert!(text.contains("exit 7"), "{text}");
    assert!(
        text.contains("install it with: echo 'cannot reach the registry' >&2; exit 7"),
        "{text}"
    );
    // The check never ran: no command output, no exit code.
    assert!(missing["exit_code"].is_null(), "{missing}");
    assert!(first.stdout().contains("P::uses-unobtainable"));
    assert_eq!(first.check("P::plain")["outcome"], "pass");
    assert_eq!(first.decision(), "NO_GO");
    let junit = first.junit();
    assert!(junit.contains("<error"), "{junit}");
    let verified = first.verify();
    assert!(verified.status.success(), "{verified:?}");

    // Idempotent: the second run only probes.
    let second = run_gate(&gate, &[]);
    assert_eq!(installs(dir.path()), 1, "{}", second.context());
    let notes = second.check("P::uses-widget")["notes"].to_string();
    assert!(notes.contains("widget: present"), "{notes}");
    assert!(!second.stderr().contains("setup: widget is missing"));
}

#[test]
fn setup_alone_installs_once_even_from_processes_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path());
    let out = dir.path().join("setup-logs");
    let children: Vec<_> = (0..3)
        .map(|_| {
            xtask()
                .args(["gate", "setup", "--tool", "widget", "--gate"])
                .arg(&gate)
                .arg("--logs")
                .arg(&out)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            stdout.contains("widget: installed in") || stdout.contains("widget: present"),
            "{stdout}"
        );
    }
    assert_eq!(installs(dir.path()), 1);

    // All tools: exit 1, the missing one named with its install command; the present one too.
    let all = setup(&gate, &out, &[]);
    assert_eq!(all.status.code(), Some(1), "{all:?}");
    let stdout = String::from_utf8_lossy(&all.stdout).to_string();
    assert!(stdout.contains("widget: present"), "{stdout}");
    assert!(
        stdout.contains("unobtainable: MISSING") && stdout.contains("install it with:"),
        "{stdout}"
    );
    assert_eq!(installs(dir.path()), 1);

    // An unknown tool is a usage error.
    let unknown = setup(&gate, &out, &["--tool", "nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--tool nope"));
}

#[test]
fn no_setup_only_probes_and_names_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path());
    let out = tempfile::tempdir().unwrap();
    let output = xtask()
        .args(["gate", "--no-setup", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let run = Run { out, output };
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(installs(dir.path()), 0, "--no-setup installed something");
    let text = message(&run, "P::uses-widget");
    assert!(text.contains("tool widget: MISSING"), "{text}");
    assert!(text.contains("setup is off"), "{text}");
    assert!(
        text.contains("install it with: echo install >> installs"),
        "{text}"
    );
    assert_eq!(run.check("P::uses-widget")["outcome"], "error");

    // `gate setup --check` only probes too.
    let probe_only = setup(&gate, &dir.path().join("setup-logs"), &["--check"]);
    assert_eq!(probe_only.status.code(), Some(1), "{probe_only:?}");
    assert_eq!(installs(dir.path()), 0, "--check installed something");
}

#[test]
fn an_unknown_tool_in_a_check_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(dir.path(), "[[tool]]\nname = \"widget\"\nprobe = \"true\"\n\n[[packet]]\nid = \"P\"\n\n[[packet.check]]\nid = \"c\"\nrun = \"true\"\ntools = [\"widgte\"]\n");
    let run = run_gate(&gate, &[]);
    assert_eq!(run.code(), 2, "{}", run.context());
    let stderr = run.stderr();
    assert!(stderr.contains(":11:"), "{stderr}");
    assert!(stderr.contains("packet.check.tools"), "{stderr}");
    assert!(stderr.contains("unknown tool `widgte`"), "{stderr}");
    assert!(stderr.contains("did you mean `widget`?"), "{stderr}");
}

#[test]
fn a_service_passes_its_tools_to_the_checks_that_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        r#"
[[tool]]
name = "unobtainable"
probe = "command -v unobtainable-tool-xyz"

[[service]]
name = "svc"
run = "echo started > service-started; sleep 30"
tools = ["unobtainable"]
ready = { timeout = "5s" }

[[packet]]
id = "P"

[[packet.check]]
id = "uses-service"
run = "true"
services = ["svc"]
"#,
    );
    let run = run_gate(&gate, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let record = run.check("P::uses-service");
    assert_eq!(record["outcome"], "error", "{}", run.context());
    let text = message(&run, "P::uses-service");
    assert!(text.contains("tool unobtainable: MISSING"), "{text}");
    assert!(
        text.contains("the gate file says no way to install it"),
        "{text}"
    );
    assert!(
        !dir.path().join("service-started").exists(),
        "the service started although its tool is missing"
    );
}

/// The setup step of a machine is no run: `gate setup` leaves the default out directory alone,
/// so the run after it can take it (a run refuses a directory relgate did not make).
#[test]
fn setup_then_a_run_in_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path());
    let setup = xtask()
        .current_dir(dir.path())
        .args(["gate", "setup", "--tool", "widget"])
        .output()
        .unwrap();
    assert!(setup.status.success(), "{setup:?}");
    // Its lock (the install printed nothing: no log file).
    assert!(dir.path().join("target/gate-setup/widget.lock").exists());
    assert!(!dir.path().join("target/gate").exists());
    let run = xtask()
        .current_dir(dir.path())
        .args(["gate", "--gate"])
        .arg(&gate)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        dir.path().join("target/gate/evidence.jsonl").exists(),
        "{run:?}"
    );
}

/// An install that leaves a process behind fails, however it exits: the process is killed and
/// the tool is missing, the leak named.
#[test]
fn an_install_that_leaves_a_process_behind_is_a_failed_install() {
    let dir = tempfile::tempdir().unwrap();
    let gate = gate_file(
        dir.path(),
        r#"
[[tool]]
name = "daemonising"
probe = "test -f installed"
install = "touch installed; (sleep 307.25 &); echo done"

[[packet]]
id = "P"

[[packet.check]]
id = "c"
run = "true"
tools = ["daemonising"]
"#,
    );
    let run = run_gate(&gate, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let text = message(&run, "P::c");
    assert!(text.contains("tool daemonising: MISSING"), "{text}");
    assert!(text.contains("still running"), "{text}");
    assert!(
        support::sleepers("sleep 307.25").is_empty(),
        "the install's process survived"
    );
}
