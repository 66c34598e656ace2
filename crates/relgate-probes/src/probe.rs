//! The probe contract: what a probe reports ([`Case`], [`CaseOutcome`]), what it may use while
//! it runs ([`Context`], its redacted [`Log`]) and the two methods every probe has ([`Probe`]:
//! `cases` at load time, `run` at run time). Every probe module builds on this; it knows none
//! of them.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use crate::redact;

/// Why a probe could not run at all (the check is an ERROR, never a pass or a failure). Each
/// probe family has its own error type with `#[source]` chains (`DbError`, `AuditError`,
/// `TokenError`, `JwtError`, `WebhookError`, `ScanError`, `ConfigError`); this carries one of
/// them unchanged, its message and its chain, so the contract knows no probe.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ProbeError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl ProbeError {
    /// Wraps a family's error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> ProbeError {
        ProbeError(Box::new(error))
    }

    /// The family's error, to match on with `downcast_ref`.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

/// `impl From<$type> for ProbeError`, so a probe's `run` can use `?` on its family's errors.
macro_rules! into_probe_error {
    ($($type:ty),+ $(,)?) => {
        $(impl From<$type> for $crate::probe::ProbeError {
            fn from(error: $type) -> $crate::probe::ProbeError {
                $crate::probe::ProbeError::new(error)
            }
        })+
    };
}
pub(crate) use into_probe_error;

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
    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError>;
}
