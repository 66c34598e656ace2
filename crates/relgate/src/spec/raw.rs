//! The gate file as written: serde types that mirror the TOML, with spans, rejecting unknown
//! keys. Nothing here is validated beyond types; see `validate.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::model::Severity;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    pub gate: Option<RawGateInfo>,
    pub defaults: Option<RawDefaults>,
    #[serde(default, rename = "packet")]
    pub packets: Vec<Spanned<RawPacket>>,
    #[serde(default, rename = "accept")]
    pub accepts: Vec<Spanned<RawAccept>>,
    #[serde(default, rename = "service")]
    pub services: Vec<Spanned<RawService>>,
    #[serde(default, rename = "tool")]
    pub tools: Vec<Spanned<RawTool>>,
    pub review: Option<Spanned<RawReview>>,
}

/// `[review]`: who may sign reviews, where they are kept, which packets need one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReview {
    pub allowed_signers: Spanned<String>,
    pub dir: Option<Spanned<String>>,
    pub require: Option<Spanned<RawRequire>>,
    pub two_person: Option<bool>,
}

/// `require = true` or `require = ["SEC-01", …]`.
#[derive(Debug, Clone)]
pub(crate) enum RawRequire {
    All(bool),
    Packets(Vec<String>),
}

impl<'de> Deserialize<'de> for RawRequire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RequireVisitor;
        impl<'de> Visitor<'de> for RequireVisitor {
            type Value = RawRequire;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"true, false or a list of packet ids such as ["SEC-01"]"#)
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<RawRequire, E> {
                Ok(RawRequire::All(value))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRequire, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(RawRequire::Packets(ids))
            }
        }
        deserializer.deserialize_any(RequireVisitor)
    }
}

/// `[[tool]]`: a program checks or services need, how to tell it is there and how to install it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTool {
    pub name: Spanned<String>,
    pub probe: Spanned<String>,
    pub install: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub name: Spanned<String>,
    pub postgres: Option<Spanned<String>>,
    pub keep: Option<Spanned<bool>>,
    pub run: Option<Spanned<RawCommand>>,
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    pub ready: Option<Spanned<RawReady>>,
    pub tools: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReady {
    pub http: Option<Spanned<String>>,
    pub tcp: Option<Spanned<bool>>,
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateInfo {
    pub name: Option<String>,
    pub plan: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub timeout: Option<Spanned<String>>,
    pub leak_timeout: Option<Spanned<String>>,
    pub severity: Option<Severity>,
    /// Any TOML value: its type and range are checked in validation, naming the key.
    pub retries: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPacket {
    pub id: Spanned<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    pub implementer: Option<String>,
    pub reviewer: Option<String>,
    #[serde(default)]
    pub checklist: Vec<Spanned<RawChecklistItem>>,
    #[serde(default, rename = "check")]
    pub checks: Vec<Spanned<RawCheck>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChecklistItem {
    pub item: Spanned<String>,
    pub by: Option<Vec<Spanned<String>>>,
    pub attested: Option<RawAttestation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAttestation {
    pub by: Spanned<String>,
    pub on: Spanned<DateText>,
}

/// A check. Not `deny_unknown_fields`: a probe check's own keys (`url`, `issuer`…) land in
/// `rest`, which validation hands to the probe, and refuses for every other kind of check.
#[derive(Debug, Deserialize)]
pub(crate) struct RawCheck {
    pub id: Spanned<String>,
    pub run: Option<Spanned<RawCommand>>,
    pub grep: Option<Spanned<RawGrep>>,
    pub probe: Option<Spanned<String>>,
    pub scan: Option<Spanned<RawScan>>,
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    pub services: Option<Vec<Spanned<String>>>,
    pub tools: Option<Vec<Spanned<String>>>,
    pub expect: Option<RawExpect>,
    pub timeout: Option<Spanned<String>>,
    pub leak_timeout: Option<Spanned<String>>,
    pub severity: Option<Severity>,
    pub allow_destructive: Option<Spanned<String>>,
    /// The engine's key on every kind of check, probes included (never handed to a probe).
    pub retries: Option<Spanned<toml::Value>>,
    #[serde(flatten)]
    pub rest: toml::Table,
}

impl RawCheck {
    /// The check's `env` table as plain strings.
    pub(crate) fn env_strings(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .map(|(key, value)| (key.clone(), value.get_ref().clone()))
            .collect()
    }
}

/// The keys a check itself knows, for "did you mean" and for telling them from probe keys.
pub(crate) const CHECK_KEYS: &[&str] = &[
    "id",
    "run",
    "grep",
    "probe",
    "scan",
    "cwd",
    "env",
    "services",
    "expect",
    "timeout",
    "leak_timeout",
    "severity",
    "allow_destructive",
    "retries",
];

/// `scan = { run = "… {report} …", format = "sarif", overrides = { … } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScan {
    pub run: Spanned<RawCommand>,
    pub format: Spanned<String>,
    #[serde(default)]
    pub overrides: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub exit: Spanned<ExitCodes>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrep {
    pub pattern: Spanned<String>,
    pub files: Spanned<Strings>,
    pub expect: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccept {
    pub check: Option<Spanned<String>>,
    pub finding: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
    pub until: Option<Spanned<DateText>>,
    pub reason: Option<Spanned<String>>,
}

/// `run = "cargo test"` (through `sh -c`) or `run = ["cargo", "test"]` (no shell).
#[derive(Debug, Clone)]
pub(crate) enum RawCommand {
    Shell(String),
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;
        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = RawCommand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a command line such as "cargo test" or an argv array such as ["cargo", "test"]"#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawCommand, E> {
                Ok(RawCommand::Shell(value.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawCommand, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Ok(RawCommand::Argv(argv))
            }
        }
        deserializer.deserialize_any(CommandVisitor)
    }
}

/// `exit = 0` or `exit = [0, 1]`.
#[derive(Debug, Clone)]
pub(crate) struct ExitCodes(pub Vec<i64>);

impl<'de> Deserialize<'de> for ExitCodes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExitVisitor;
        impl<'de> Visitor<'de> for ExitVisitor {
            type Value = ExitCodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an exit code such as 0 or a list such as [0, 1]")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<ExitCodes, E> {
                Ok(ExitCodes(vec![value]))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<ExitCodes, E> {
                i64::try_from(value)
                    .map(|value| ExitCodes(vec![value]))
                    .map_err(|_| E::custom("exit code out of range"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExitCodes, A::Error> {
                let mut codes = Vec::new();
                while let Some(code) = seq.next_element::<i64>()? {
                    codes.push(code);
                }
                Ok(ExitCodes(codes))
            }
        }
        deserializer.deserialize_any(ExitVisitor)
    }
}

/// `files = "docs/*.md"` or `files = ["a", "b"]`.
#[derive(Debug, Clone)]
pub(crate) struct Strings(pub Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;
        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a glob such as "docs/*.md" or a list of globs"#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Strings, E> {
                Ok(Strings(vec![value.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(Strings(values))
            }
        }
        deserializer.deserialize_any(StringsVisitor)
    }
}

/// A date written as `"2026-12-31"` or as a bare TOML date `2026-12-31`.
#[derive(Debug, Clone)]
pub(crate) struct DateText(pub String);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl<'de> Visitor<'de> for DateVisitor {
            type Value = DateText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a date such as "2026-12-31""#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<DateText, E> {
                Ok(DateText(value.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<DateText, A::Error> {
                let datetime =
                    toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(DateText(datetime.to_string()))
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

/// Keys accepted in each table, for "did you mean" hints.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "gate",
    "defaults",
    "packet",
    "accept",
    "name",
    "plan",
    "timeout",
    "leak_timeout",
    "severity",
    "id",
    "title",
    "depends_on",
    "implementer",
    "reviewer",
    "checklist",
    "check",
    "item",
    "by",
    "attested",
    "on",
    "run",
    "grep",
    "cwd",
    "env",
    "expect",
    "allow_destructive",
    "exit",
    "pattern",
    "files",
    "finding",
    "owner",
    "until",
    "reason",
    "service",
    "services",
    "postgres",
    "keep",
    "ready",
    "http",
    "tcp",
    "review",
    "allowed_signers",
    "dir",
    "require",
    "two_person",
    "retries",
];
