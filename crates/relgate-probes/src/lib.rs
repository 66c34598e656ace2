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
pub mod mask;
pub mod redact;

mod attempt;
mod audit;
mod consent;
mod db;
mod jwt;
mod overhead;
mod probe;
mod rbac;
mod rls;
mod secrets;
mod secrets_probe;
mod token;
mod webhook;

pub use audit::{AnchorError, AnchorFormatError, AuditError};
pub use config::{Config, ConfigError, ConfigErrorKind, SecretReadError, SecretSource};
pub use db::{DbError, SqlError};
pub use jwt::JwtError;
use probe::Probe;
pub use probe::{Case, CaseOutcome, Context, Log, ProbeError};
pub use secrets::{scan_tree, Finding, RuleError, ScanError, ScanOptions, DEFAULT_MAX_FILE_SIZE};
pub use secrets_probe::AllowlistError;
pub use token::TokenError;
pub use webhook::{BodyError, SchemeKeyError, WebhookError};

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
        "secrets" => Box::new(secrets_probe::SecretsProbe::configure(&mut config)?),
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
pub fn run(
    kind: &str,
    table: &toml::Table,
    context: &Context<'_>,
) -> Result<Vec<Case>, ProbeError> {
    let probe = build(kind, table).map_err(ProbeError::new)?;
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
