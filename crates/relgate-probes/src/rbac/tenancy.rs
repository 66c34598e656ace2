//! The `rbac` probe's cases beyond the role matrix: `idor-other-tenant` (the same role reading
//! another tenant's resource by id) and `mass-assignment` (a write whose body carries fields
//! such as `role`, `org_id` or `owner` that the caller must not set).
//!
//! Neither case may change the target's data. `idor-other-tenant` only reads.
//! `mass-assignment` aims each write at something the target refuses without the forbidden
//! fields (a role that may not write, an id that does not exist, a body that fails validation)
//! and adds the fields one at a time: a correct target refuses the same way, or refuses the
//! field itself (400, 422, 403). When a field changes the answer the target acted on it, and it
//! is caught without anything having been written. `control_role` proves the refusal can
//! change at all: that role's plain write must get another 4xx (a target that answers 400 to
//! everything cannot tell, and the case is inconclusive). A target that writes before it validates is
//! caught by the read-back: the row read before and after must be the same.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::attempt::{self, Attempt};
use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::http::Request;
use crate::probe::{Case, CaseOutcome, Context};
use crate::token;

/// The case names of this module.
pub(super) const IDOR: &str = "idor-other-tenant";
/// See [`IDOR`].
pub(super) const MASS_ASSIGNMENT: &str = "mass-assignment";

/// One `idor` entry: `role` reads `own` (its tenant's resource) and `other` (another tenant's).
pub(super) struct Idor {
    role: String,
    own: String,
    other: String,
}

/// One `mass_assignment` write.
pub(super) struct Write {
    role: String,
    /// A role the target treats differently on this write (e.g. one allowed to make it).
    control_role: Option<String>,
    method: String,
    path: String,
    body: Map<String, Value>,
    read: Option<String>,
}

/// The cases of this module, configured.
pub(super) struct Tenancy {
    idor: Vec<Idor>,
    hidden: Vec<u16>,
    writes: Vec<Write>,
    fields: Map<String, Value>,
    rejected: Vec<u16>,
}

/// Where requests go and how long they may take.
pub(super) struct Target<'a> {
    pub(super) base_url: &'a str,
    pub(super) timeout: Duration,
    /// Role → token.
    pub(super) tokens: &'a [(String, String)],
    /// Statuses that mean "forbidden".
    pub(super) forbidden: &'a [u16],
}

impl Target<'_> {
    fn send(
        &self,
        context: &Context<'_>,
        role: &str,
        method: &str,
        path: &str,
        body: Option<&Map<String, Value>>,
    ) -> Attempt {
        let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let mut request = Request::new(method, &url);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(Value::Object(body.clone()).to_string().into_bytes());
        }
        if let Some((_, token)) = self.tokens.iter().find(|(name, _)| name == role) {
            request = request.bearer(token);
        }
        attempt::send(
            context,
            &request,
            self.timeout,
            format!("{role} {method} {url}"),
            "",
        )
    }
}

impl Tenancy {
    /// Reads `idor`, `hidden`, `mass_assignment`, `forbidden_fields` and `rejected`; every role
    /// named must be one of `roles`.
    pub(super) fn configure(
        config: &mut Config<'_>,
        roles: &[String],
    ) -> Result<Tenancy, ConfigError> {
        let mut idor = Vec::new();
        for mut table in config.tables("idor")?.unwrap_or_default() {
            let role = role(&mut table, roles)?;
            let own = path(&mut table, "own")?;
            let other = path(&mut table, "other")?;
            config.adopt(table);
            idor.push(Idor { role, own, other });
        }
        let hidden = attempt::statuses(config, "hidden", &[403, 404])?;
        let mut writes = Vec::new();
        for mut table in config.tables("mass_assignment")?.unwrap_or_default() {
            let role = role(&mut table, roles)?;
            let method = attempt::method(&mut table)?;
            if matches!(method.as_str(), "GET" | "HEAD") {
                return Err(table.error(
                    "method",
                    ConfigErrorKind::InvalidValue,
                    format!("`{method}` is not a write: give POST, PUT or PATCH"),
                ));
            }
            let path = path(&mut table, "path")?;
            let body = table.required_string("body")?;
            let Ok(Value::Object(body)) = serde_json::from_str::<Value>(&body) else {
                return Err(table.error(
                    "body",
                    ConfigErrorKind::InvalidValue,
                    "give a JSON object: the forbidden fields are added to it",
                ));
            };
            let read = match table.string("read")? {
                Some(_) => Some(path_of(&mut table, "read")?),
                None => None,
            };
            let control_role = match table.string("control_role")? {
                Some(_) => Some(role_at(&mut table, "control_role", roles)?),
                None => None,
            };
            if read.is_none() && control_role.is_none() {
                return Err(table.error(
                    "control_role",
                    ConfigErrorKind::InvalidValue,
                    "give `control_role` or `read` (or both): without either a refused write \
                     cannot show that a field made a difference",
                ));
            }
            config.adopt(table);
            writes.push(Write {
                role,
                control_role,
                method,
                path,
                body,
                read,
            });
        }
        let fields = match config.table("forbidden_fields")? {
            Some(mut table) => {
                // Free-form keys, all read by `entries`; like `roles`, never adopted.
                let fields: Map<String, Value> = table
                    .entries()
                    .into_iter()
                    .map(|(key, value)| (key, token::to_json(value)))
                    .collect();
                fields
            }
            None => Map::new(),
        };
        if !writes.is_empty() && fields.is_empty() {
            return Err(config.require("forbidden_fields", None::<()>).unwrap_err());
        }
        if writes.is_empty() && !fields.is_empty() {
            return Err(config.require("mass_assignment", None::<()>).unwrap_err());
        }
        let rejected = attempt::statuses(config, "rejected", &[400, 422])?;
        Ok(Tenancy {
            idor,
            hidden,
            writes,
            fields,
            rejected,
        })
    }

    /// The names of the cases configured, in report order.
    pub(super) fn cases(&self) -> Vec<String> {
        let mut names = Vec::new();
        if !self.idor.is_empty() {
            names.push(IDOR.to_string());
        }
        if !self.writes.is_empty() {
            names.push(MASS_ASSIGNMENT.to_string());
        }
        names
    }

    /// Runs the configured cases.
    pub(super) fn run(&self, context: &Context<'_>, target: &Target<'_>) -> Vec<Case> {
        let mut cases = Vec::new();
        if !self.idor.is_empty() {
            cases.push(self.idor_case(context, target));
        }
        if !self.writes.is_empty() {
            cases.push(self.mass_assignment_case(context, target));
        }
        cases
    }

    /// Each role reads its own resource (must succeed: the control) and another tenant's by
    /// id (must be one of `hidden`, never a success).
    fn idor_case(&self, context: &Context<'_>, target: &Target<'_>) -> Case {
        let mut verdict = Verdict::default();
        for entry in &self.idor {
            let own = target.send(context, &entry.role, "GET", &entry.own, None);
            let own_ok = matches!(&own.reply, Ok(reply) if reply.is_success());
            if !own_ok {
                verdict.unsure(format!(
                    "positive control {} got {}, expected 2xx",
                    own.what,
                    own.got()
                ));
                verdict.attempts.push(own);
                continue;
            }
            verdict.attempts.push(own);
            let other = target.send(context, &entry.role, "GET", &entry.other, None);
            match other.status() {
                Some(status) if (200..300).contains(&status) => verdict.fail(format!(
                    "{} got {status}: another tenant's resource was returned",
                    other.what
                )),
                Some(status) if self.hidden.contains(&status) => {
                    verdict.ok(format!("{} got {status}", other.what))
                }
                _ => verdict.unsure(format!(
                    "{} got {}, expected {}",
                    other.what,
                    other.got(),
                    attempt::list(&self.hidden)
                )),
            }
            verdict.attempts.push(other);
        }
        verdict.case(IDOR)
    }

    /// Each write: the row read before, the write as configured (must be refused), the write
    /// with each forbidden field added (must be refused alike), the row read after (unchanged).
    fn mass_assignment_case(&self, context: &Context<'_>, target: &Target<'_>) -> Case {
        let mut verdict = Verdict::default();
        for write in &self.writes {
            self.one_write(context, target, write, &mut verdict);
        }
        verdict.case(MASS_ASSIGNMENT)
    }

    fn one_write(
        &self,
        context: &Context<'_>,
        target: &Target<'_>,
        write: &Write,
        verdict: &mut Verdict,
    ) {
        let read = |verdict: &mut Verdict| {
            let path = write.read.as_deref()?;
            let attempt = target.send(context, &write.role, "GET", path, None);
            let seen = attempt
                .reply
                .as_ref()
                .ok()
                .map(|reply| (reply.status, reply.json()));
            verdict.attempts.push(attempt);
            seen
        };
        let before = read(verdict);
        if let Some(path) = &write.read {
            if !matches!(&before, Some((status, _)) if (200..300).contains(status)) {
                let got = before
                    .as_ref()
                    .map_or("no reply".to_string(), |(status, _)| status.to_string());
                verdict.unsure(format!(
                    "the read-back {} GET {path} got {got} before the writes, expected 2xx",
                    write.role
                ));
                return;
            }
        }
        let plain = target.send(
            context,
            &write.role,
            &write.method,
            &write.path,
            Some(&write.body),
        );
        let refused = match plain.status() {
            Some(status) if (400..500).contains(&status) => status,
            _ => {
                verdict.unsure(format!(
                    "{} without forbidden fields got {}, expected a refusal (4xx): aim it at \
                     a write the target refuses (a role that may not write, an id that does not \
                     exist, a body that fails validation)",
                    plain.what,
                    plain.got()
                ));
                verdict.attempts.push(plain);
                return;
            }
        };
        verdict.attempts.push(plain);
        if let Some(control_role) = &write.control_role {
            let control = target.send(
                context,
                control_role,
                &write.method,
                &write.path,
                Some(&write.body),
            );
            let problem = match control.status() {
                Some(status) if (400..500).contains(&status) && status != refused => None,
                Some(status) if (200..300).contains(&status) => Some(format!(
                    "the control {} got {status}: aim the write at something even \
                     `{control_role}` cannot change (an id that does not exist)",
                    control.what
                )),
                _ => Some(format!(
                    "the control {} got {}, expected a 4xx other than {refused} ({}'s): the \
                     target does not tell the roles apart here, so an escalation would not show",
                    control.what,
                    control.got(),
                    write.role
                )),
            };
            verdict.attempts.push(control);
            if let Some(problem) = problem {
                verdict.unsure(problem);
                return;
            }
        }
        for (field, value) in &self.fields {
            let mut body = write.body.clone();
            body.insert(field.clone(), value.clone());
            let attempt = target.send(
                context,
                &write.role,
                &write.method,
                &write.path,
                Some(&body),
            );
            let what = format!("{} with `{field}`", attempt.what);
            match attempt.status() {
                Some(status) if (200..300).contains(&status) => verdict.fail(format!(
                    "{what} got {status}: the write was accepted (refused without the field: \
                     {refused})"
                )),
                Some(status)
                    if status == refused
                        || self.rejected.contains(&status)
                        || target.forbidden.contains(&status) =>
                {
                    verdict.ok(format!("{what} got {status}"))
                }
                Some(status) if status < 500 => verdict.fail(format!(
                    "{what} got {status}, {refused} without it: the target acted on the field"
                )),
                _ => verdict.unsure(format!(
                    "{what} got {}, {refused} without it",
                    attempt.got()
                )),
            }
            verdict.attempts.push(attempt);
        }
        if let (Some(path), Some((_, body_before))) = (&write.read, &before) {
            match read(verdict) {
                Some((status, _)) if !(200..300).contains(&status) => verdict.fail(format!(
                    "the read-back {} GET {path} got {status} after the writes: the row moved \
                     or went away (a write took effect)",
                    write.role
                )),
                Some((_, body_after)) if &body_after != body_before => verdict.fail(format!(
                    "the read-back {} GET {path} changed after the writes ({}): a write \
                         took effect",
                    write.role,
                    changes(body_before.as_ref(), body_after.as_ref())
                )),
                Some(_) => verdict.ok(format!("GET {path} unchanged")),
                None => verdict.unsure(format!("the read-back GET {path} got no reply")),
            }
        }
    }
}

/// What changed between two JSON bodies, by top-level key: `/org_id: "org-a" → "org-b"`.
fn changes(before: Option<&Value>, after: Option<&Value>) -> String {
    match (before, after) {
        (Some(Value::Object(before)), Some(Value::Object(after))) => {
            let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|key| before.get(*key) != after.get(*key))
                .map(|key| {
                    let show = |value: Option<&Value>| {
                        value.map_or("nothing".to_string(), Value::to_string)
                    };
                    format!(
                        "/{key}: {} → {}",
                        show(before.get(key)),
                        show(after.get(key))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => "the body differs".to_string(),
    }
}

/// Problems and evidence gathered across a case's attempts.
#[derive(Default)]
struct Verdict {
    attempts: Vec<Attempt>,
    failures: Vec<String>,
    unsure: Vec<String>,
    passes: Vec<String>,
}

impl Verdict {
    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }

    fn unsure(&mut self, message: String) {
        self.unsure.push(message);
    }

    fn ok(&mut self, message: String) {
        self.passes.push(message);
    }

    /// Fail with every failure; else inconclusive with every doubt; else pass.
    fn case(self, name: &str) -> Case {
        let evidence: Vec<&Attempt> = self.attempts.iter().collect();
        let (outcome, message) = if !self.failures.is_empty() {
            (CaseOutcome::Fail, self.failures.join("; "))
        } else if !self.unsure.is_empty() {
            (
                CaseOutcome::Inconclusive,
                format!("inconclusive: {}", self.unsure.join("; ")),
            )
        } else {
            (CaseOutcome::Pass, self.passes.join("; "))
        };
        attempt::case(name, outcome, message, &evidence)
    }
}

fn role(table: &mut Config<'_>, roles: &[String]) -> Result<String, ConfigError> {
    role_at(table, "role", roles)
}

/// `key`'s value, which must be one of `roles`.
fn role_at(
    table: &mut Config<'_>,
    key: &'static str,
    roles: &[String],
) -> Result<String, ConfigError> {
    let role = table.required_string(key)?;
    if !roles.contains(&role) {
        return Err(table.error(
            key,
            ConfigErrorKind::InvalidValue,
            format!("`{role}` is not one of the roles ({})", roles.join(", ")),
        ));
    }
    Ok(role)
}

fn path(table: &mut Config<'_>, key: &'static str) -> Result<String, ConfigError> {
    table.required_string(key)?;
    path_of(table, key)
}

/// `key`'s value, which must be a path starting with `/` (it is appended to `base_url`).
fn path_of(table: &mut Config<'_>, key: &'static str) -> Result<String, ConfigError> {
    let value = table.required_string(key)?;
    if !value.starts_with('/') {
        return Err(table.error(
            key,
            ConfigErrorKind::InvalidValue,
            format!("`{value}` is not a path (it must start with `/`)"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_top_level_key() {
        let before = serde_json::json!({ "id": "p", "org_id": "org-a" });
        let after = serde_json::json!({ "id": "p", "org_id": "org-b", "role": "admin" });
        assert_eq!(
            changes(Some(&before), Some(&after)),
            "/org_id: \"org-a\" → \"org-b\", /role: nothing → \"admin\""
        );
        assert_eq!(changes(None, Some(&after)), "the body differs");
    }
}
