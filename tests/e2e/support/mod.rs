//! What the end-to-end tests share: running the real `xtask` binary on a fixture and reading
//! back its exit code, stdout, JUnit and ledger; for the target suites, a `[[service]]` line
//! running a Python target of tests/targets, and assertions on a probe check's cases and logs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// Variables of the environment the tests run in that would change what the gate does: the
/// recursion guard of a gate that runs these tests, and GitHub Actions' (annotations, job
/// summary) when the tests themselves run on a GitHub runner.
pub const AMBIENT: [&str; 3] = [
    "RELGATE_ACTIVE_GATES",
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
];

/// The xtask binary as a command, without [`AMBIENT`] variables.
pub fn xtask() -> Command {
    without_ambient(Command::new(XTASK))
}

/// `command` without [`AMBIENT`] variables.
pub fn without_ambient(mut command: Command) -> Command {
    for key in AMBIENT {
        command.env_remove(key);
    }
    command
}

/// Says why a test that needs an optional tool cannot run. Under `RELGATE_REQUIRE_TOOLS=1` (set
/// by `.ci/run`) that is a failure, so CI cannot go green by skipping.
pub fn skip(why: &str) {
    relgate_pg::testing::skip(why);
}

/// Whether `program args…` runs and exits 0.
pub fn runs(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The target directory of the tests that build relgate the way a user does (`cargo install`
/// of cargo-gate, a fresh project adopting relgate): one for all of them, so relgate is compiled
/// there once, and beside this workspace's, so their builds never hold the build lock that the
/// tests running cargo in this workspace (`cargo test -p gate-tests`, nextest) wait on.
pub fn user_build_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("e2e-user-builds")
}

/// `cargo install` arguments for `cargo gate` from this checkout: a debug build, offline and
/// locked, into [`user_build_target_dir`] (the caller adds `--root`, or lets cargo choose).
pub fn cargo_gate_install_args() -> Vec<String> {
    let install = [
        "install",
        "--debug",
        "--locked",
        "--offline",
        "--target-dir",
        &user_build_target_dir().display().to_string(),
        "--path",
        &workspace().join("crates/cargo-gate").display().to_string(),
    ];
    install.map(String::from).to_vec()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A gate run in its own temp out directory.
pub struct Run {
    pub out: tempfile::TempDir,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().expect("xtask exited normally")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).to_string()
    }
    /// Stdout with runs of spaces collapsed, so libtest's name padding does not matter.
    pub fn stdout_squeezed(&self) -> String {
        squeeze_spaces(&self.stdout())
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).to_string()
    }
    pub fn junit(&self) -> String {
        std::fs::read_to_string(self.out.path().join("junit.xml")).expect("junit.xml written")
    }
    pub fn ledger(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out.path().join("evidence.jsonl"))
            .expect("evidence.jsonl written")
            .lines()
            .map(|line| serde_json::from_str(line).expect("ledger line is JSON"))
            .collect()
    }
    pub fn check(&self, name: &str) -> Value {
        self.ledger()
            .into_iter()
            .find(|line| line["kind"] == "check" && line["name"] == name)
            .unwrap_or_else(|| panic!("no record for {name}"))
    }
    /// A probe check's cases as `(name, outcome)`, in the order its record lists them.
    pub fn cases(&self, name: &str) -> Vec<(String, String)> {
        self.check(name)["cases"]
            .as_array()
            .expect("the probe record lists its cases")
            .iter()
            .map(|case| {
                (
                    case["name"].as_str().unwrap().to_string(),
                    case["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
    pub fn packet(&self, id: &str) -> Value {
        self.ledger()
            .into_iter()
            .find(|line| line["kind"] == "packet" && line["packet"] == id)
            .unwrap_or_else(|| panic!("no record for packet {id}"))
    }
    pub fn decision(&self) -> String {
        let ledger = self.ledger();
        let last = ledger.last().expect("ledger not empty");
        assert_eq!(last["kind"], "verdict");
        last["decision"].as_str().unwrap().to_string()
    }
    pub fn verify(&self) -> Output {
        xtask()
            .args(["gate", "verify", "--out"])
            .arg(self.out.path())
            .output()
            .unwrap()
    }
    /// `verify --gate FILE`: for a gate file that holds a secret, which the run does not copy
    /// into the out directory.
    pub fn verify_with_gate(&self, gate: &Path) -> Output {
        xtask()
            .args(["gate", "verify", "--out"])
            .arg(self.out.path())
            .arg("--gate")
            .arg(gate)
            .output()
            .unwrap()
    }
    /// The cases of probe check `name` that did not pass, as `"<case> <outcome>"`, in order.
    pub fn failing(&self, name: &str) -> Vec<String> {
        self.cases(name)
            .into_iter()
            .filter(|(_, outcome)| outcome != "pass")
            .map(|(case, outcome)| format!("{case} {outcome}"))
            .collect()
    }
    /// Every case of probe check `name` passed, and each of `expected` is among them.
    pub fn assert_all_pass_with(&self, name: &str, expected: &[&str]) {
        let cases = self.cases(name);
        for (case, outcome) in &cases {
            assert_eq!(outcome, "pass", "{name} {case}: {}", self.context());
        }
        for wanted in expected {
            assert!(
                cases.iter().any(|(case, _)| case == wanted),
                "{name} {wanted}"
            );
        }
    }
    /// The cases of probe check `name` that did not pass are exactly `failing`
    /// (`"<case> <outcome>"`, in order).
    pub fn assert_failing(&self, name: &str, failing: &[&str]) {
        assert_eq!(self.failing(name), failing, "{name}: {}", self.context());
    }
    /// Stdout, with runs of spaces collapsed, holds `text`.
    pub fn assert_stdout_has(&self, text: &str) {
        assert!(
            self.stdout_squeezed().contains(text),
            "{text}: {}",
            self.context()
        );
    }
    /// The log of each probe check of `checks` (`PACKET::check`) shows `redacted` and none of
    /// `secrets`, and neither does stdout.
    pub fn assert_logs_hide(&self, checks: &[&str], redacted: &str, secrets: &[&str]) {
        let stdout = self.stdout();
        for check in checks {
            let path = self
                .out
                .path()
                .join(format!("logs/{}.log", check.replace("::", "/")));
            let log = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            assert!(log.contains(redacted), "{check}: {log}");
            for secret in secrets {
                assert!(!log.contains(secret), "{secret} in the {check} log:\n{log}");
                assert!(!stdout.contains(secret), "{secret} on stdout");
            }
        }
    }
    pub fn context(&self) -> String {
        output_context(&self.output)
    }
}

/// A child's exit status, stdout and stderr, for an assertion message.
pub fn output_context(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The cargo running these tests (`CARGO`), else the one on `PATH`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace root, canonical (gate files name the targets and keys by absolute path).
pub fn workspace() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .unwrap()
}

/// A gate file's `[[service]]` table named `name` that runs tests/targets/`script` under
/// python3 with `args`, then `--bug BUG` for each of `bugs`, ready when `/healthz` answers
/// (within `timeout`).
pub fn python_service(
    name: &str,
    script: &str,
    args: &[&str],
    bugs: &[&str],
    timeout: &str,
) -> String {
    let script = workspace().join("tests/targets").join(script);
    let script = script.display().to_string();
    let run: Vec<String> = ["python3", script.as_str()]
        .iter()
        .chain(args)
        .copied()
        .chain(bugs.iter().flat_map(|bug| ["--bug", *bug]))
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!(
        "[[service]]\nname = \"{name}\"\nrun = [{}]\nready = {{ http = \"/healthz\", timeout = \"{timeout}\" }}\n",
        run.join(", ")
    )
}

/// Writes the gate file `name` with `text` into `dir`; returns its path.
pub fn write_gate(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

pub fn squeeze_spaces(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split(' ')
                .filter(|word| !word.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn gate(fixture: &str, extra: &[&str]) -> Run {
    gate_with_env(fixture, extra, &[])
}

pub fn gate_with_env(fixture: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut command = xtask();
    command
        .args(["gate", "--gate"])
        .arg(fixtures().join(fixture))
        .arg("--out")
        .arg(out.path())
        .args(extra);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    Run { out, output }
}

/// Runs the gate file `gate` into a fresh out directory; `env` sets (`Some`) or removes
/// (`None`) variables.
pub fn run_gate(gate: &Path, env: &[(&str, Option<&Path>)]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut command = xtask();
    command
        .args(["gate", "--gate"])
        .arg(gate)
        .arg("--out")
        .arg(out.path());
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command.output().unwrap();
    Run { out, output }
}

/// Pids of processes whose command line is exactly `marker`.
pub fn sleepers(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.trim() == marker {
                found.push(entry.file_name().to_string_lossy().to_string());
            }
        }
    }
    found
}

/// True when `cargo nextest` can run. Without it a test says why and is skipped, except under
/// `RELGATE_REQUIRE_TOOLS` (set by `.ci/run`), where CI cannot go green by skipping.
pub fn nextest_available() -> bool {
    let available = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        skip("cargo-nextest is not installed (`cargo xtask gate setup --tool cargo-nextest`)");
    }
    available
}

/// `cargo nextest run -p gate-tests` on `gate` into `out`, from the workspace root.
pub fn nextest_gate(gate: &Path, out: &Path, extra: &[&str]) -> Output {
    without_ambient(Command::new("cargo"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["nextest", "run", "--no-fail-fast", "-p", "gate-tests"])
        .args(extra)
        .env("RELGATE_GATE", gate)
        .env("RELGATE_OUT", out)
        .output()
        .unwrap()
}

/// A pinned npm consumer of `tests/consumers` (`node_modules/.bin/<name>`), or `None` after
/// [`skip`] says how to install it.
pub fn node_consumer(name: &str) -> Option<PathBuf> {
    let bin = fixtures().join("../consumers/node_modules/.bin").join(name);
    if bin.is_file() {
        return Some(bin);
    }
    skip(&format!(
        "{} is not installed: run `cargo xtask gate setup --tool node-consumers`",
        bin.display()
    ));
    None
}

/// Whether the pinned Python consumers of `tests/consumers/requirements.txt` are installed;
/// when not, [`skip`] says how to install them.
pub fn python_consumers() -> bool {
    let requirements = fixtures().join("../consumers/requirements.txt");
    let pinned = fixtures().join("../../scripts/pinned.py");
    let ok = Command::new("python3")
        .arg(&pinned)
        .arg(&requirements)
        .output()
        .is_ok_and(|output| output.status.success());
    if !ok {
        skip("the Python consumers are not installed at their pins: run `cargo xtask gate setup --tool python-consumers`");
    }
    ok
}

/// A fresh unencrypted ed25519 key pair from ssh-keygen: (private, public).
pub fn ssh_key(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    let key = dir.join(name);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "relgate-test", "-f"])
        .arg(&key)
        .output();
    match made {
        Ok(output) if output.status.success() => Some((key.clone(), key.with_extension("pub"))),
        _ => {
            skip("ssh-keygen is not installed (`cargo xtask gate setup --tool openssh-openssl`)");
            None
        }
    }
}

/// `gate verify` passes on `out`, with `--trusted-key` for each of `keys`.
pub fn assert_verifies(out: &Path, keys: &[&Path]) {
    let mut verify = xtask();
    verify.args(["gate", "verify", "--out"]).arg(out);
    for key in keys {
        verify.arg("--trusted-key").arg(key);
    }
    let verify = verify.output().unwrap();
    assert!(
        verify.status.success(),
        "{}: {}",
        out.display(),
        output_context(&verify)
    );
}
