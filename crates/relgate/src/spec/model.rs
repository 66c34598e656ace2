//! The validated gate: what the planner, the runner and the verdict work from.

use crate::model::Severity;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use regex::Regex;

/// A validated gate file.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The gate file, as given on the command line.
    pub source: PathBuf,
    /// The directory commands run in by default: the gate file's directory.
    pub root: PathBuf,
    /// sha256 of the gate file's bytes.
    pub sha256: String,
    /// `[gate] name`.
    pub name: String,
    /// `[gate] plan`: an optional link shown in reports.
    pub plan_link: Option<String>,
    /// Packets in file order.
    pub packets: Vec<Packet>,
    /// `[[accept]]` entries in file order.
    pub accepts: Vec<Acceptance>,
    /// Services, in start order (a service comes after the services it references).
    pub services: Vec<Service>,
    /// `[[tool]]` entries in file order: what the setup step makes sure is installed.
    pub tools: Vec<Tool>,
    /// `[review]`: signed human review of packets; `None` without the section.
    pub review: Option<ReviewConfig>,
}

/// `[review]`: who may sign reviews, where they are kept, and which packets need an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewConfig {
    /// The allowed signers file (git's format), resolved against the gate file's directory.
    pub allowed_signers: PathBuf,
    /// Where reviews are kept, resolved against the gate file's directory.
    pub dir: PathBuf,
    /// The packets GO needs APPROVED (ids in file order); empty: review state is shown but
    /// does not change the verdict.
    pub required: Vec<String>,
    /// An approval by the packet's implementer does not count (on unless `two_person = false`).
    pub two_person: bool,
    /// Line of `[review]` in the gate file.
    pub line: usize,
}

/// A program checks or services need: the setup step runs `probe`, and when it fails runs
/// `install` and probes again, before the first check that needs it.
#[derive(Debug, Clone)]
pub struct Tool {
    /// `[a-z0-9][a-z0-9._+-]*`, named by `tools = [...]` of checks and services.
    pub name: String,
    /// A shell command that exits 0 when the tool is usable.
    pub probe: String,
    /// A shell command that installs the tool (idempotent); `None`: it cannot be installed
    /// by the gate, only reported missing.
    pub install: Option<String>,
    /// How long `install` may run.
    pub timeout: Duration,
    /// Line of `[[tool]]` in the gate file.
    pub line: usize,
}

/// A database or process the gate starts before the first check that needs it and stops when
/// the run ends.
#[derive(Debug, Clone)]
pub struct Service {
    /// `[a-z][a-z0-9_-]*`, used in `${name.url}`.
    pub name: String,
    /// What to start.
    pub kind: ServiceKind,
    /// Services this one references, directly.
    pub needs: Vec<String>,
    /// Tools it needs (`tools = [...]`).
    pub tools: Vec<String>,
    /// How long starting may take, until ready.
    pub ready_timeout: Duration,
    /// Line of `[[service]]` in the gate file.
    pub line: usize,
}

/// The kinds of service.
#[derive(Debug, Clone)]
pub enum ServiceKind {
    /// `postgres = "ephemeral"`: a throwaway cluster from the local binaries.
    PostgresEphemeral,
    /// `postgres = "postgres://…"`: a fresh database on an existing server, dropped at the end
    /// unless `keep`.
    PostgresServer {
        /// The server URL as written (may hold a password: never print it unredacted).
        url: String,
        /// Keep the run's database.
        keep: bool,
    },
    /// `run = "…"`: a process; its address comes from `${port}` or its `listening on` line.
    Process(ProcessSpec),
}

/// A service process.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Program and arguments, before interpolation.
    pub argv: Vec<String>,
    /// The command as written.
    pub display: String,
    /// Working directory.
    pub cwd: PathBuf,
    /// Extra environment, before interpolation.
    pub env: BTreeMap<String, String>,
    /// How readiness is decided.
    pub ready: ReadyProbe,
    /// Whether the command or its environment says `${port}` (the gate picks the port).
    pub wants_port: bool,
}

/// Readiness of a service process, once its address is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyProbe {
    /// `GET <path>` answers 2xx.
    Http(String),
    /// A TCP connection is accepted.
    Tcp,
}

impl Service {
    /// `postgres-ephemeral`, `postgres-server`, `process`: for records and messages.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            ServiceKind::PostgresEphemeral => "postgres-ephemeral",
            ServiceKind::PostgresServer { .. } => "postgres-server",
            ServiceKind::Process(_) => "process",
        }
    }
}

/// A packet of work: checks, checklist items and the packets it depends on.
#[derive(Debug, Clone)]
pub struct Packet {
    /// `SEC-01`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Packets that must be DONE before this one runs.
    pub depends_on: Vec<String>,
    /// Who implements the packet (reports only).
    pub implementer: Option<String>,
    /// Who reviews the packet (reports only).
    pub reviewer: Option<String>,
    /// Checks in file order.
    pub checks: Vec<Check>,
    /// Checklist items in file order.
    pub checklist: Vec<ChecklistItem>,
    /// With `[review]`: the digest of the packet's definition (its `[[packet]]` table in a
    /// canonical form, see `spec/definition.rs`), which reviews are bound to.
    pub definition: Option<String>,
}

/// One check of a packet.
#[derive(Debug, Clone)]
pub struct Check {
    /// The packet it belongs to.
    pub packet: String,
    /// `api-suites`.
    pub id: String,
    /// Severity of a failure.
    pub severity: Severity,
    /// How long the check may run before it is killed and failed.
    pub timeout: Duration,
    /// How long processes a command started may outlive it before they are killed and the
    /// check fails as leaky.
    pub leak_timeout: Duration,
    /// What the check does.
    pub kind: CheckKind,
    /// Services this check needs (named in `services` or referenced as `${name.…}`), with the
    /// services those need, in start order.
    pub services: Vec<String>,
    /// Tools the check needs: its own `tools = [...]` and those of its services, in the
    /// order of the `[[tool]]` tables.
    pub tools: Vec<String>,
    /// Line of the check's `[[packet.check]]` table in the gate file (reports point there).
    pub line: usize,
    /// How many more times a failed attempt is run (`retries`, default `[defaults] retries`,
    /// else 0); a pass after a failed attempt is flaky, a condition of the release.
    pub retries: u32,
}

impl Check {
    /// The test-case name: `PACKET::check`.
    pub fn name(&self) -> String {
        format!("{}::{}", self.packet, self.id)
    }

    /// The probe's case names (empty for other checks).
    pub fn cases(&self) -> &[String] {
        match &self.kind {
            CheckKind::Probe(probe) => &probe.cases,
            _ => &[],
        }
    }

    /// The test-case name of one case of a probe: `PACKET::check::case`.
    pub fn case_name(&self, case: &str) -> String {
        format!("{}::{}::{case}", self.packet, self.id)
    }
}

/// What a check does.
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// Run a command and judge its exit code.
    Command(CommandSpec),
    /// Search files with a regular expression.
    Grep(GrepSpec),
    /// Attack a running system with a built-in probe.
    Probe(ProbeSpec),
    /// Run a scanner and judge the findings of its report.
    Scan(ScanSpec),
}

/// A scan check: a scanner command writing a report the gate parses into findings.
#[derive(Debug, Clone)]
pub struct ScanSpec {
    /// The scanner command; its argv holds `{report}` (and maybe `{advisory_db}`).
    pub command: CommandSpec,
    /// The report's format.
    pub format: super::scan::Format,
    /// Severity overrides by finding id, rule or scanner severity.
    pub overrides: super::scan::Overrides,
}

/// A probe check: `probe = "jwt"` and the probe's own keys.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// The probe kind (`jwt`, `rls`…).
    pub kind: String,
    /// The probe's keys as written (strings may hold `${service.field}` references).
    pub config: toml::Table,
    /// Its case names, in report order.
    pub cases: Vec<String>,
    /// Directory relative paths (key files, anchors) resolve against.
    pub root: PathBuf,
}

/// A command check.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The program and its arguments. A `run = "…"` string becomes `["sh", "-c", "…"]`.
    pub argv: Vec<String>,
    /// The command as written in the gate file, for reports.
    pub display: String,
    /// Absolute working directory.
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Exit codes that count as a pass (default `[0]`).
    pub expect_exit: Vec<i32>,
}

/// A grep check.
#[derive(Debug, Clone)]
pub struct GrepSpec {
    /// The compiled pattern.
    pub pattern: Regex,
    /// Glob patterns, relative to `root`.
    pub files: Vec<String>,
    /// Whether a match passes or fails.
    pub expect: GrepExpect,
    /// Directory the globs are relative to.
    pub root: PathBuf,
}

/// What a grep check demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrepExpect {
    /// At least one line must match (and at least one file must exist).
    Match,
    /// No line may match.
    NoMatch,
}

/// One checklist item.
#[derive(Debug, Clone)]
pub struct ChecklistItem {
    /// The item's text, as in the tracker.
    pub text: String,
    /// Slug used in the test name `PACKET::checklist::<slug>`.
    pub slug: String,
    /// What satisfies it.
    pub satisfied_by: Satisfaction,
}

/// What satisfies a checklist item.
#[derive(Debug, Clone)]
pub enum Satisfaction {
    /// These checks of the same packet (ids) passed, or their failure is accepted or tracked.
    Checks(Vec<String>),
    /// A person attests it.
    Attested {
        /// Who attests.
        by: String,
        /// When.
        on: NaiveDate,
    },
}

/// A risk acceptance: turns a failure into a condition until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    /// What is accepted.
    pub target: AcceptTarget,
    /// Who owns the risk.
    pub owner: String,
    /// Last day the acceptance is valid (inclusive).
    pub until: NaiveDate,
    /// Why the risk is accepted.
    pub reason: String,
    /// Line of the entry in the gate file, for reports.
    pub line: usize,
}

/// What an acceptance covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptTarget {
    /// A check by test name, `SEC-02::npm-audit`.
    Check(String),
    /// A scanner finding by id, rule or fingerprint.
    Finding(String),
}

impl AcceptTarget {
    /// `check SEC-02::npm-audit` or `finding RUSTSEC-…`.
    pub fn describe(&self) -> String {
        match self {
            AcceptTarget::Check(name) => format!("check {name}"),
            AcceptTarget::Finding(id) => format!("finding {id}"),
        }
    }
}

impl Gate {
    /// Finds a packet by id.
    pub fn packet(&self, id: &str) -> Option<&Packet> {
        self.packets.iter().find(|packet| packet.id == id)
    }

    /// Every check of every packet, in file order.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.packets.iter().flat_map(|packet| packet.checks.iter())
    }

    /// A service by name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.name == name)
    }

    /// Every test trial of the gate with what it is about, in file order: per packet, one per
    /// check, one per case of each probe, one per checklist item (the trials a run lists).
    pub fn trials(&self) -> Vec<(String, TrialOf<'_>)> {
        let mut trials = Vec::new();
        for packet in &self.packets {
            trials.extend(
                packet
                    .checks
                    .iter()
                    .map(|check| (check.name(), TrialOf::Check(check))),
            );
            for check in &packet.checks {
                trials.extend(
                    check
                        .cases()
                        .iter()
                        .map(|case| (check.case_name(case), TrialOf::Case(check, case))),
                );
            }
            trials.extend(packet.checklist.iter().map(|item| {
                (
                    packet.checklist_name(item),
                    TrialOf::Checklist(packet, item),
                )
            }));
        }
        trials
    }
}

/// What one test trial is about.
#[derive(Debug, Clone, Copy)]
pub enum TrialOf<'g> {
    /// A check (`PACKET::check`).
    Check(&'g Check),
    /// A case of a probe check (`PACKET::check::case`).
    Case(&'g Check, &'g str),
    /// A checklist item (`PACKET::checklist::<slug>`).
    Checklist(&'g Packet, &'g ChecklistItem),
}

impl TrialOf<'_> {
    /// The check whose record the trial reports (none for a checklist item).
    pub fn check(&self) -> Option<&Check> {
        match self {
            TrialOf::Check(check) | TrialOf::Case(check, _) => Some(check),
            TrialOf::Checklist(..) => None,
        }
    }
}

impl Packet {
    /// Finds a check of this packet by id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.id == id)
    }

    /// The test-case name of a checklist item: `PACKET::checklist::<slug>`.
    pub fn checklist_name(&self, item: &ChecklistItem) -> String {
        super::secret_names::packet_checklist_name(&self.id, &item.slug)
    }
}
