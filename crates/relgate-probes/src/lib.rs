//! relgate's built-in probes. A probe attacks a running system the way an adversary would and
//! passes only when the system refuses; it first proves it can tell (positive and negative
//! controls) and never changes the target's data.
//!
//! The engine uses two calls: [`configure`] at load time (keys and types of the check's table,
//! strings may still hold `${service.url}` references) returns the probe's case names, and
//! [`run`] at run time (the table with references interpolated) returns one [`Case`] per name.
//! Everything a probe returns or logs has been through [`redact`] first.

pub mod config;
pub mod duration;
pub mod http;
pub mod redact;

mod attempt;
mod audit;
mod consent;
mod db;
mod jwt;
mod overhead;
mod rbac;
mod rls;
mod secrets;
mod token;
mod webhook;

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

pub use config::{Config, ConfigError, ConfigErrorKind, SecretSource};
pub use secrets::{scan_tree, Finding, ScanOptions, DEFAULT_MAX_FILE_SIZE};

/// The probe kinds `probe = "…"` accepts.
pub const KINDS: &[&str] = &[
    "jwt",
    "webhook",
    "rls",
    "audit-chain",
    "rbac",
    "consent",
    "rls-overhead",
    "secrets",
];

/// How one case of a probe came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseOutcome {
    /// The target refused the attack (or the property holds).
    Pass,
    /// The target accepted the attack (or the property does not hold).
    Fail,
    /// A control misbehaved or a precondition is missing: the probe cannot tell. Judged as a
    /// failure, never as a pass.
    Inconclusive,
}

/// One case of a probe: `expired`, `cross-tenant-update`, `controls`…
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Case name, one of the names [`configure`] returned.
    pub name: String,
    /// Its outcome.
    pub outcome: CaseOutcome,
    /// One line saying why (`GET /v1/me with an expired token got 401`), redacted.
    pub message: String,
    /// What was sent (method, path, headers and body with tokens and secrets redacted), or the
    /// SQL run; may span lines.
    pub sent: String,
    /// What came back (status and the first bytes of the body, or rows affected / error).
    pub got: String,
}

/// What a probe may use while it runs.
pub struct Context<'a> {
    /// The gate's root directory: relative paths (`key = { file = "…" }`, anchors) resolve here.
    pub root: &'a Path,
    /// The check's deadline; a probe stops attacking when it has passed.
    pub deadline: Instant,
    /// The probe's log: every line passes through the redactor before it is kept.
    pub log: &'a Log,
}

/// A probe's log, redacted line by line.
pub struct Log {
    redactor: redact::Redactor,
    text: Mutex<String>,
}

impl Log {
    /// A log that redacts with `redactor`.
    pub fn new(redactor: redact::Redactor) -> Log {
        Log {
            redactor,
            text: Mutex::new(String::new()),
        }
    }

    /// Adds a secret (a minted token, a key, a password) that must never appear in clear.
    pub fn add_secret(&self, secret: &str) {
        self.redactor.add_secret(secret);
    }

    /// The redactor, to redact texts that go elsewhere (case messages).
    pub fn redactor(&self) -> &redact::Redactor {
        &self.redactor
    }

    /// Appends `text` (one or more lines), redacted.
    pub fn line(&self, text: &str) {
        let redacted = self.redactor.redact(text);
        let mut log = self.text.lock().unwrap_or_else(|p| p.into_inner());
        log.push_str(&redacted);
        if !redacted.ends_with('\n') {
            log.push('\n');
        }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A configured probe.
pub(crate) trait Probe: Send + Sync {
    /// Case names, in report order; [`Probe::run`] returns exactly these.
    fn cases(&self) -> Vec<String>;
    /// Attacks the target. `Err` means the probe could not run at all (unreadable key file,
    /// unreachable database): the check is an ERROR.
    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, String>;
}

fn build(kind: &str, table: &toml::Table) -> Result<Box<dyn Probe>, ConfigError> {
    let mut config = Config::new(table);
    let probe: Box<dyn Probe> = match kind {
        "jwt" => Box::new(jwt::JwtProbe::configure(&mut config)?),
        "webhook" => Box::new(webhook::WebhookProbe::configure(&mut config)?),
        "rls" => Box::new(rls::RlsProbe::configure(&mut config)?),
        "audit-chain" => Box::new(audit::AuditProbe::configure(&mut config)?),
        "rbac" => Box::new(rbac::RbacProbe::configure(&mut config)?),
        "consent" => Box::new(consent::ConsentProbe::configure(&mut config)?),
        "rls-overhead" => Box::new(overhead::OverheadProbe::configure(&mut config)?),
        "secrets" => Box::new(secrets::SecretsProbe::configure(&mut config)?),
        other => {
            return Err(ConfigError {
                key: String::new(),
                kind: ConfigErrorKind::UnknownProbe {
                    known: KINDS.to_vec(),
                },
                message: format!("unknown probe `{other}`"),
            })
        }
    };
    config.finish()?;
    Ok(probe)
}

/// Checks a probe's configuration (the check's table without the engine's own keys) and
/// returns its case names. String values may still contain `${service.field}` references.
pub fn configure(kind: &str, table: &toml::Table) -> Result<Vec<String>, ConfigError> {
    Ok(build(kind, table)?.cases())
}

/// Runs a probe with a configuration whose references have been interpolated. Returns one case
/// per name [`configure`] gave, in that order: a case the probe did not report comes back as
/// inconclusive, so a probe can never pass by omission.
pub fn run(kind: &str, table: &toml::Table, context: &Context<'_>) -> Result<Vec<Case>, String> {
    let probe = build(kind, table).map_err(|err| err.to_string())?;
    let mut reported = probe.run(context)?;
    let mut cases = Vec::new();
    for name in probe.cases() {
        match reported.iter().position(|case| case.name == name) {
            Some(index) => cases.push(reported.swap_remove(index)),
            None => cases.push(Case {
                message: "the probe did not report this case".to_string(),
                name,
                outcome: CaseOutcome::Inconclusive,
                sent: String::new(),
                got: String::new(),
            }),
        }
    }
    let redactor = context.log.redactor();
    for case in &mut cases {
        case.message = redactor.redact(&case.message).into_owned();
        case.sent = redactor.redact(&case.sent).into_owned();
        case.got = redactor.redact(&case.got).into_owned();
    }
    Ok(cases)
}
