//! The setup step: make sure the `[[tool]]`s the selected checks need are installed, before
//! the first check runs.
//!
//! For each tool, in the order of the gate file: run its `probe`; when that fails and the run
//! may install, run its `install` once and probe again. The step is idempotent (a present tool
//! costs one probe) and safe to run from many processes at once (nextest's process per check,
//! `cargo xtask gate setup` beside a run): each tool is probed and installed under an
//! exclusive lock of its own. Probe and install run like checks, under a supervisor with a
//! timeout, their output redacted into `setup/TOOL.{probe,install}.log` of the out directory
//! (none for a command that printed nothing).
//! A tool still missing afterwards makes every check that needs it an ERROR naming the tool and
//! the command that installs it — never a silent pass.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::output::flock::FileLock;
use crate::run::exec::{self, ExecRequest, ExecResult};
use crate::spec::{format_duration, Gate, Tool};

/// How long a probe may run.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long processes a probe or an install left behind may live on before they are killed.
const LEAK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the setup step found for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolState {
    /// The probe passed at once.
    Present,
    /// The probe failed, `install` ran and the probe passed afterwards.
    Installed {
        /// How long `install` took.
        took: Duration,
    },
    /// Still missing: why, in one line.
    Missing {
        /// E.g. "`cargo audit --version` exited 101; `cargo install …` exited 101 (log …)".
        why: String,
    },
}

/// One tool's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolStatus {
    /// The tool's name.
    pub name: String,
    /// What the step found or did.
    pub state: ToolState,
    /// The tool's `install` command, as declared.
    pub install: Option<String>,
}

impl ToolStatus {
    /// Whether checks that need the tool can run.
    pub fn usable(&self) -> bool {
        !matches!(self.state, ToolState::Missing { .. })
    }

    /// One line for a check's notes or the setup command's output.
    pub fn describe(&self) -> String {
        match &self.state {
            ToolState::Present => format!("{}: present", self.name),
            ToolState::Installed { took } => {
                format!("{}: installed in {}", self.name, format_duration(*took))
            }
            ToolState::Missing { why } => {
                let install = match &self.install {
                    Some(install) => format!("install it with: {install}"),
                    None => "the gate file says no way to install it".to_string(),
                };
                format!("{}: MISSING ({why}); {install}", self.name)
            }
        }
    }
}

/// Whether the step may run `install` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Probe, install what is missing, probe again.
    Install,
    /// Only probe (`--no-setup`): report what is missing.
    ProbeOnly,
}

/// The tools checks need, each set up at most once per run: the first call for a tool probes
/// (and installs), later calls answer from memory.
#[derive(Debug)]
pub struct Setup {
    tools: Vec<Tool>,
    root: PathBuf,
    dir: PathBuf,
    policy: Policy,
    statuses: Mutex<BTreeMap<String, ToolStatus>>,
}

impl Setup {
    /// The setup step of `gate`, writing its logs to `dir`.
    pub fn new(gate: &Gate, dir: &Path, policy: Policy) -> Setup {
        Setup {
            tools: gate.tools.clone(),
            root: gate.root.clone(),
            dir: dir.to_path_buf(),
            policy,
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    /// Sets up the tools of `names` not set up yet, in the gate file's order (one at a time:
    /// a caller needing a tool another caller is installing waits for it), and returns the
    /// status of each of `names` in that order. `progress` hears a line before an install.
    pub fn ensure(&self, names: &[String], progress: &dyn Fn(&str)) -> Vec<ToolStatus> {
        if names.is_empty() {
            return Vec::new();
        }
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = Vec::new();
        for tool in self.tools.iter().filter(|tool| names.contains(&tool.name)) {
            let status = statuses
                .entry(tool.name.clone())
                .or_insert_with(|| set_up(tool, &self.root, &self.dir, self.policy, progress));
            found.push(status.clone());
        }
        for name in names {
            if !found.iter().any(|status| &status.name == name) {
                found.push(ToolStatus {
                    name: name.clone(),
                    state: ToolState::Missing {
                        why: "no [[tool]] of that name in the gate file".to_string(),
                    },
                    install: None,
                });
            }
        }
        found
    }
}

/// Notes for a check's record: one line naming every tool it needs with its status.
pub fn notes(statuses: &[ToolStatus]) -> Vec<String> {
    if statuses.is_empty() {
        return Vec::new();
    }
    let described: Vec<String> = statuses.iter().map(ToolStatus::describe).collect();
    vec![format!("tools: {}", described.join("; "))]
}

/// Why a check cannot run, when a tool it needs is missing.
pub fn missing(statuses: &[ToolStatus]) -> Option<String> {
    let missing: Vec<String> = statuses
        .iter()
        .filter(|status| !status.usable())
        .map(|status| format!("tool {}", status.describe()))
        .collect();
    (!missing.is_empty()).then(|| missing.join("; "))
}

fn set_up(
    tool: &Tool,
    root: &Path,
    dir: &Path,
    policy: Policy,
    progress: &dyn Fn(&str),
) -> ToolStatus {
    let status = |state| ToolStatus {
        name: tool.name.clone(),
        state,
        install: tool.install.clone(),
    };
    let log = |what: &str| dir.join(format!("{}.{what}.log", tool.name));
    if let Err(err) = std::fs::create_dir_all(dir) {
        return status(ToolState::Missing {
            why: format!("cannot create {}: {err}", dir.display()),
        });
    }
    // One process at a time per tool: a second one waits, then finds it present.
    let lock_path = dir.join(format!("{}.lock", tool.name));
    let _lock = match FileLock::exclusive(&lock_path) {
        Ok(lock) => lock,
        Err(err) => {
            return status(ToolState::Missing {
                why: format!("cannot lock {}: {err}", lock_path.display()),
            })
        }
    };
    let probe = |path: &Path| shell(&tool.probe, root, PROBE_TIMEOUT, path);
    let first = match probe(&log("probe")) {
        Ok(result) if passed(&result) => return status(ToolState::Present),
        Ok(result) => describe(&tool.probe, &result, PROBE_TIMEOUT, &log("probe")),
        Err(err) => format!("cannot run `{}`: {err}", tool.probe),
    };
    let install = match (&tool.install, policy) {
        (Some(install), Policy::Install) => install,
        (_, Policy::ProbeOnly) => {
            return status(ToolState::Missing {
                why: format!("{first}; setup is off"),
            })
        }
        (None, _) => return status(ToolState::Missing { why: first }),
    };
    progress(&format!(
        "setup: {} is missing ({first}); installing: {install}",
        tool.name
    ));
    let installed = match shell(install, root, tool.timeout, &log("install")) {
        Ok(result) if passed(&result) => result,
        Ok(result) => {
            return status(ToolState::Missing {
                why: format!(
                    "{first}; {}",
                    describe(install, &result, tool.timeout, &log("install"))
                ),
            })
        }
        Err(err) => {
            return status(ToolState::Missing {
                why: format!("{first}; cannot run `{install}`: {err}"),
            })
        }
    };
    match probe(&log("probe-after-install")) {
        Ok(result) if passed(&result) => status(ToolState::Installed {
            took: installed.duration,
        }),
        Ok(result) => status(ToolState::Missing {
            why: format!(
                "`{install}` succeeded but {}",
                describe(
                    &tool.probe,
                    &result,
                    PROBE_TIMEOUT,
                    &log("probe-after-install")
                )
            ),
        }),
        Err(err) => status(ToolState::Missing {
            why: format!("cannot run `{}`: {err}", tool.probe),
        }),
    }
}

fn shell(
    command: &str,
    cwd: &Path,
    timeout: Duration,
    log_path: &Path,
) -> std::io::Result<ExecResult> {
    let argv = ["sh".to_string(), "-c".to_string(), command.to_string()];
    exec::run(&ExecRequest {
        argv: &argv,
        cwd,
        env: &BTreeMap::new(),
        timeout,
        kill_grace: exec::DEFAULT_KILL_GRACE,
        leak_timeout: LEAK_TIMEOUT,
        log_path,
    })
}

fn passed(result: &ExecResult) -> bool {
    result.exit_code == Some(0)
        && result.spawn_error.is_none()
        && exec::containment_failure(result, LEAK_TIMEOUT).is_none()
}

fn describe(command: &str, result: &ExecResult, timeout: Duration, log: &Path) -> String {
    let mut status = exec::describe_status(result, timeout);
    // An install that leaves processes behind failed, whatever its exit code says.
    if let Some(why) = exec::containment_failure(result, LEAK_TIMEOUT) {
        status = format!("{status}; {why}");
    }
    if result.bytes == 0 {
        // Nothing printed, so no log file was written.
        return format!("`{command}`: {status} (no output)");
    }
    format!("`{command}`: {status} (log {})", log.display())
}

/// The tools the checks of a run may need: those of every packet with a trial in the run
/// (a checklist item or a probe's case can make a process run its packet's checks).
pub fn tools_of_trials(gate: &Gate, in_run: &HashSet<String>) -> Vec<String> {
    // Packet ids hold no `::` (they are test-name safe), so a trial's packet is its first part.
    let packets: HashSet<&str> = in_run
        .iter()
        .filter_map(|name| name.split("::").next())
        .collect();
    let mut tools = BTreeSet::new();
    for packet in gate
        .packets
        .iter()
        .filter(|packet| packets.contains(packet.id.as_str()))
    {
        for check in &packet.checks {
            tools.extend(check.tools.iter().cloned());
        }
    }
    tools.into_iter().collect()
}

/// Prints a line of the setup step to stderr, redacted.
pub fn announce(line: &str) {
    eprintln!("{}", crate::output::redaction::redact(line));
}

/// Where the setup step writes its logs and locks: `setup/` of the out directory.
pub fn log_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("setup")
}
