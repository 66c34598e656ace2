//! The `consent` probe: reads a guarded resource on behalf of a child whose consent is revoked
//! and demands a refusal or an empty result; optionally also a child of another tenant, and
//! checks that the records returned for a consented child all belong to the caller's tenant.
//!
//! Two optional cases hunt consent checks that look at the wrong thing. `revoked-mid-session`
//! reads the consented child and then, with the same token, the revoked one: a target that
//! checks consent once per session (token) and remembers it serves the second. Revoking consent
//! is a write, so the probe never does it; it relies on a child whose consent is already revoked
//! and a session that has just been granted access to a consented one (`session_claims` can
//! give the session token an `iat` from before the revocation). `other-child` reads, under the
//! consented child's reference, a record of another child (`record_url`): a target that checks
//! consent for the child in the path but looks the record up by its id alone serves it.
//!
//! Every token carries a fresh random `jti` (unless the claims set one), so the token of
//! `revoked-consent` has never been used before: a per-token cache cannot hide a revocation
//! from it, and only `revoked-mid-session` sees such a cache.

use std::time::Duration;

use serde_json::Value;

use crate::attempt::{self, Attempt};
use crate::config::ConfigErrorKind;
use crate::config::{Config, ConfigError};
use crate::http::Request;
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};
use crate::token::{self, MintConfig, Object};

/// The placeholder `url` must contain.
const CHILD: &str = "{child}";

/// The record placeholder `record_url` must contain (besides [`CHILD`]).
const RECORD: &str = "{record}";

/// `other-child`: a single-record URL and two records to put in it.
struct RecordUrls {
    url: String,
    allowed_record: String,
    other_child_record: String,
}

/// The `consent` probe, configured.
pub(crate) struct ConsentProbe {
    url: String,
    method: String,
    mint: MintConfig,
    claims: Object,
    allowed_child: String,
    revoked_child: String,
    other_tenant_child: Option<String>,
    records_path: Option<String>,
    tenant: Option<(String, String)>,
    refused: Vec<u16>,
    timeout: Duration,
    session_claims: Option<Object>,
    records: Option<RecordUrls>,
}

impl ConsentProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let url = config.required_string("url")?;
        if !url.contains(CHILD) {
            return Err(config.error(
                "url",
                ConfigErrorKind::InvalidValue,
                format!("the URL must contain `{CHILD}`, where the child's reference goes"),
            ));
        }
        let method = attempt::method(config)?;
        let mint = MintConfig::configure(config)?;
        let claims = token::claims_table(config, "claims")?;
        let claims = config.require("claims", claims)?;
        let allowed_child = config.required_string("allowed_child")?;
        let revoked_child = config.required_string("revoked_child")?;
        let other_tenant_child = config.string("other_tenant_child")?;
        let records_path = pointer(config, "records_path")?;
        let tenant_pointer = pointer(config, "tenant_pointer")?;
        let tenant = config.string("tenant")?;
        let tenant = match (tenant_pointer, tenant) {
            (None, None) => None,
            (Some(pointer), Some(tenant)) if records_path.is_some() => Some((pointer, tenant)),
            (Some(_), Some(_)) => {
                return Err(config.error(
                    "tenant_pointer",
                    ConfigErrorKind::InvalidValue,
                    "`tenant_pointer` needs `records_path`, the array whose records it reads",
                ))
            }
            (Some(_), None) => return Err(config.require("tenant", None::<()>).unwrap_err()),
            (None, Some(_)) => {
                return Err(config.require("tenant_pointer", None::<()>).unwrap_err())
            }
        };
        let refused = attempt::statuses(config, "refused", &[401, 403])?;
        let timeout = attempt::request_timeout(config)?;
        let session_claims = token::claims_table(config, "session_claims")?;
        let records = record_urls(config)?;
        Ok(ConsentProbe {
            url,
            method,
            mint,
            claims,
            allowed_child,
            revoked_child,
            other_tenant_child,
            records_path,
            tenant,
            refused,
            timeout,
            session_claims,
            records,
        })
    }

    fn send(&self, context: &Context<'_>, child: &str, token: Option<&str>) -> Attempt {
        let url = self.url.replace(CHILD, child);
        self.send_url(context, &url, &format!(" for child {child}"), token)
    }

    fn send_url(
        &self,
        context: &Context<'_>,
        url: &str,
        what: &str,
        token: Option<&str>,
    ) -> Attempt {
        let request = Request::new(&self.method, url);
        let (request, what) = match token {
            Some(token) => (
                request.bearer(token),
                format!("{} {url}{what}", self.method),
            ),
            None => (request, format!("{} {url} without a token", self.method)),
        };
        attempt::send(context, &request, self.timeout, what, "")
    }

    /// `revoked-mid-session`: the session reads the consented child, then the revoked one.
    /// `fresh_refused`: whether `revoked-consent` (a fresh token) was refused; when it was not,
    /// this case cannot tell a session cache from no check at all.
    fn mid_session(&self, context: &Context<'_>, session: &str, fresh_refused: bool) -> Case {
        let name = "revoked-mid-session";
        let first = self.send(context, &self.allowed_child, Some(session));
        let granted = matches!(&first.reply, Ok(reply) if reply.is_success())
            && (self.records_path.is_none()
                || self
                    .records(&first)
                    .is_some_and(|records| !records.is_empty()));
        if !granted {
            return attempt::case(
                name,
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: the session's first request {} got {}, expected 2xx with                      records",
                    first.what,
                    first.got()
                ),
                &[&first],
            );
        }
        let second = self.send(context, &self.revoked_child, Some(session));
        let judged = self.denied(
            name,
            &second,
            &[],
            "consent granted earlier in the session was trusted after its revocation",
        );
        let (outcome, message) = match judged.outcome {
            CaseOutcome::Pass if !fresh_refused => (
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: a fresh token was not refused for child {} either                      (revoked-consent), so a session cannot be told apart",
                    self.revoked_child
                ),
            ),
            CaseOutcome::Fail if !fresh_refused => (
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: {}; but a fresh token was not refused either                      (revoked-consent): not a session's doing",
                    judged.message
                ),
            ),
            outcome => (
                outcome,
                format!("after {} succeeded, {}", first.what, judged.message),
            ),
        };
        attempt::case(name, outcome, message, &[&first, &second])
    }

    /// `other-child`: a record of the consented child (control, 2xx), then a record of another
    /// child under the consented child's reference (refused or 404).
    fn other_child(&self, context: &Context<'_>, records: &RecordUrls, token: &str) -> Case {
        let name = "other-child";
        let url = |record: &str| {
            records
                .url
                .replace(CHILD, &self.allowed_child)
                .replace(RECORD, record)
        };
        let control = self.send_url(
            context,
            &url(&records.allowed_record),
            &format!(" for child {}'s record", self.allowed_child),
            Some(token),
        );
        if !matches!(&control.reply, Ok(reply) if reply.is_success()) {
            return attempt::case(
                name,
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: positive control {} got {}, expected 2xx",
                    control.what,
                    control.got()
                ),
                &[&control],
            );
        }
        let attack = self.send_url(
            context,
            &url(&records.other_child_record),
            &format!(
                " for record {} (another child's) under child {}",
                records.other_child_record, self.allowed_child
            ),
            Some(token),
        );
        let (outcome, message) = match attack.status() {
            Some(status) if self.refused.contains(&status) || status == 404 => {
                (CaseOutcome::Pass, format!("{} got {status}", attack.what))
            }
            Some(status) if (200..300).contains(&status) => (
                CaseOutcome::Fail,
                format!(
                    "{} got {status}: consent for one child was used to read another's record",
                    attack.what
                ),
            ),
            _ => (
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: {} got {}, expected {} or 404",
                    attack.what,
                    attack.got(),
                    attempt::list(&self.refused)
                ),
            ),
        };
        attempt::case(name, outcome, message, &[&control, &attack])
    }

    /// The records array of a 2xx reply, when `records_path` is set and points at an array.
    fn records(&self, attempt: &Attempt) -> Option<Vec<Value>> {
        let path = self.records_path.as_deref()?;
        let reply = attempt.reply.as_ref().ok()?;
        match reply.json()?.pointer(path)? {
            Value::Array(items) => Some(items.clone()),
            _ => None,
        }
    }

    /// Pass when `attempt` was refused (`also` counts too) or answered 2xx with no records.
    fn denied(&self, name: &str, attempt: &Attempt, also: &[u16], why: &str) -> Case {
        let status = match &attempt.reply {
            Err(err) => {
                return attempt::case(
                    name,
                    CaseOutcome::Inconclusive,
                    format!("inconclusive: {} failed: {err}", attempt.what),
                    &[attempt],
                )
            }
            Ok(reply) => reply.status,
        };
        let (outcome, message) = if self.refused.contains(&status) || also.contains(&status) {
            (CaseOutcome::Pass, format!("{} got {status}", attempt.what))
        } else if (200..300).contains(&status) {
            match (self.records(attempt), &self.records_path) {
                (Some(records), Some(path)) if records.is_empty() => (
                    CaseOutcome::Pass,
                    format!("{} got {status} with no records at {path}", attempt.what),
                ),
                (Some(records), Some(path)) => (
                    CaseOutcome::Fail,
                    format!(
                        "{} got {status} with {} record(s) at {path}: {why}",
                        attempt.what,
                        records.len()
                    ),
                ),
                (None, Some(path)) => (
                    CaseOutcome::Fail,
                    format!(
                        "{} got {status} and no array at {path} to show the result is empty",
                        attempt.what
                    ),
                ),
                (_, None) => (
                    CaseOutcome::Fail,
                    format!(
                        "{} got {status}: {why} (set `records_path` if an empty result counts \
                         as a refusal)",
                        attempt.what
                    ),
                ),
            }
        } else {
            let mut expected = self.refused.clone();
            expected.extend_from_slice(also);
            (
                CaseOutcome::Fail,
                format!(
                    "{} got {status}, expected {} or an empty result",
                    attempt.what,
                    attempt::list(&expected)
                ),
            )
        };
        attempt::case(name, outcome, message, &[attempt])
    }

    /// Every record returned for the consented child must carry the caller's tenant.
    fn own_records(&self, attempt: &Attempt, pointer: &str, tenant: &str) -> Case {
        let name = "cross-tenant-records";
        let Some(records) = self.records(attempt) else {
            return attempt::case(
                name,
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: {} got {}, not a records array",
                    attempt.what,
                    attempt.got()
                ),
                &[attempt],
            );
        };
        let foreign: Vec<String> = records
            .iter()
            .enumerate()
            .filter_map(|(index, record)| {
                let value = record.pointer(pointer);
                (value.and_then(Value::as_str) != Some(tenant)).then(|| {
                    format!(
                        "record {index} has {pointer} = {}",
                        value.map_or("nothing".to_string(), Value::to_string)
                    )
                })
            })
            .collect();
        if foreign.is_empty() {
            attempt::case(
                name,
                CaseOutcome::Pass,
                format!(
                    "{}: all {} record(s) belong to tenant {tenant}",
                    attempt.what,
                    records.len()
                ),
                &[attempt],
            )
        } else {
            attempt::case(
                name,
                CaseOutcome::Fail,
                format!(
                    "{} returned records of another tenant than {tenant}: {}",
                    attempt.what,
                    foreign.join("; ")
                ),
                &[attempt],
            )
        }
    }
}

impl Probe for ConsentProbe {
    fn cases(&self) -> Vec<String> {
        let mut names = vec!["controls".to_string(), "revoked-consent".to_string()];
        if self.other_tenant_child.is_some() {
            names.push("cross-tenant-child".to_string());
        }
        if self.tenant.is_some() {
            names.push("cross-tenant-records".to_string());
        }
        if self.session_claims.is_some() {
            names.push("revoked-mid-session".to_string());
        }
        if self.records.is_some() {
            names.push("other-child".to_string());
        }
        names
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let names = self.cases();
        let minter = self.mint.load(context)?;
        let token = minter.mint(&with_jti(&self.claims))?;
        context.log.add_secret(&token);
        let fresh = minter.mint(&with_jti(&self.claims))?;
        context.log.add_secret(&fresh);

        let positive = self.send(context, &self.allowed_child, Some(&token));
        let negative = self.send(context, &self.allowed_child, None);
        let mut summary = attempt::check_controls(&positive, &negative, &self.refused);
        if let (Ok(_), Some(path)) = (&summary, &self.records_path) {
            if self
                .records(&positive)
                .is_none_or(|records| records.is_empty())
            {
                summary = Err(format!(
                    "inconclusive: positive control {} returned no records at {path}, so an \
                     empty result could not be told from a refusal",
                    positive.what
                ));
            }
        }
        let mut cases = match attempt::controls(&names, summary, &positive, &negative) {
            Ok(cases) => cases,
            Err(inconclusive) => return Ok(inconclusive),
        };

        let revoked = self.send(context, &self.revoked_child, Some(&fresh));
        cases.push(self.denied(
            "revoked-consent",
            &revoked,
            &[],
            "the records of a child whose consent is revoked were returned",
        ));
        if let Some(child) = &self.other_tenant_child {
            let attempt = self.send(context, child, Some(&token));
            cases.push(self.denied(
                "cross-tenant-child",
                &attempt,
                &[404],
                "another tenant's child was readable",
            ));
        }
        if let Some((pointer, tenant)) = &self.tenant {
            let attempt = self.send(context, &self.allowed_child, Some(&token));
            cases.push(self.own_records(&attempt, pointer, tenant));
        }
        if let Some(claims) = &self.session_claims {
            let fresh_refused = cases
                .iter()
                .any(|case| case.name == "revoked-consent" && case.outcome == CaseOutcome::Pass);
            let session = minter.mint(&with_jti(claims))?;
            context.log.add_secret(&session);
            cases.push(self.mid_session(context, &session, fresh_refused));
        }
        if let Some(records) = &self.records {
            cases.push(self.other_child(context, records, &token));
        }
        Ok(cases)
    }
}

/// `claims` with a random `jti` unless they carry one: every token minted is a new session.
fn with_jti(claims: &Object) -> Object {
    let mut claims = claims.clone();
    if !claims.contains_key("jti") {
        let jti: String = rand::random::<[u8; 16]>()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        claims.insert("jti".to_string(), Value::String(jti));
    }
    claims
}

/// `record_url`, `allowed_record` and `other_child_record`: all three or none.
fn record_urls(config: &mut Config<'_>) -> Result<Option<RecordUrls>, ConfigError> {
    let url = config.string("record_url")?;
    let allowed_record = config.string("allowed_record")?;
    let other_child_record = config.string("other_child_record")?;
    if url.is_none() && allowed_record.is_none() && other_child_record.is_none() {
        return Ok(None);
    }
    let url = config.require("record_url", url)?;
    if !url.contains(CHILD) || !url.contains(RECORD) {
        return Err(config.error(
            "record_url",
            ConfigErrorKind::InvalidValue,
            format!("the URL must contain `{CHILD}` and `{RECORD}`"),
        ));
    }
    Ok(Some(RecordUrls {
        url,
        allowed_record: config.require("allowed_record", allowed_record)?,
        other_child_record: config.require("other_child_record", other_child_record)?,
    }))
}

/// A JSON pointer (`/records`, or empty for the whole body).
fn pointer(config: &mut Config<'_>, key: &'static str) -> Result<Option<String>, ConfigError> {
    match config.string(key)? {
        Some(pointer) if !pointer.is_empty() && !pointer.starts_with('/') => Err(config.error(
            key,
            ConfigErrorKind::InvalidValue,
            format!("`{pointer}` is not a JSON pointer (write it as `/{pointer}`)"),
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<Vec<String>, ConfigError> {
        crate::configure("consent", &text.parse::<toml::Table>().unwrap())
    }

    const BASE: &str = r#"
        url = "${api.url}/v1/children/{child}/records"
        issuer = "https://issuer.test"
        audience = "tenant-api"
        key = { file = "reference/keys/issuer-rs256.pem" }
        claims = { sub = "member@org-a", org_id = "org-a" }
        allowed_child = "child-1"
        revoked_child = "child-2"
    "#;

    #[test]
    fn optional_cases_follow_the_configuration() {
        assert_eq!(configure(BASE).unwrap(), ["controls", "revoked-consent"]);
        assert_eq!(
            configure(&format!(
                "{BASE}other_tenant_child = \"c\"\nrecords_path = \"/records\"\n\
                 tenant_pointer = \"/org_id\"\ntenant = \"org-a\"\n"
            ))
            .unwrap(),
            [
                "controls",
                "revoked-consent",
                "cross-tenant-child",
                "cross-tenant-records"
            ]
        );
    }

    #[test]
    fn session_and_record_cases_follow_their_keys() {
        assert_eq!(
            configure(&format!(
                "{BASE}session_claims = {{ sub = \"member@org-a\", iat = 1 }}\n\
                 record_url = \"${{api.url}}/v1/children/{{child}}/records/{{record}}\"\n\
                 allowed_record = \"r1\"\nother_child_record = \"r2\"\n"
            ))
            .unwrap(),
            [
                "controls",
                "revoked-consent",
                "revoked-mid-session",
                "other-child"
            ]
        );
        let err = configure(&format!("{BASE}allowed_record = \"r1\"\n")).unwrap_err();
        assert_eq!(err.key, "record_url");
        let err = configure(&format!(
            "{BASE}record_url = \"/x/{{child}}\"\nallowed_record = \"r1\"\n"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`record_url`: the URL must contain `{child}` and `{record}`"
        );
        let err = configure(&format!(
            "{BASE}record_url = \"/x/{{child}}/{{record}}\"\nallowed_record = \"r1\"\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "other_child_record");
    }

    #[test]
    fn every_token_is_a_new_session() {
        let claims: Object = serde_json::from_str(r#"{"sub":"u"}"#).unwrap();
        let (a, b) = (with_jti(&claims), with_jti(&claims));
        assert_ne!(a["jti"], b["jti"]);
        let fixed: Object = serde_json::from_str(r#"{"sub":"u","jti":"j"}"#).unwrap();
        assert_eq!(with_jti(&fixed)["jti"], "j");
    }

    #[test]
    fn configuration_errors_name_the_key() {
        let err = configure(&BASE.replace("{child}", "x")).unwrap_err();
        assert_eq!(err.key, "url");
        let err = configure(&format!("{BASE}records_path = \"records\"\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`records_path`: `records` is not a JSON pointer (write it as `/records`)"
        );
        let err = configure(&format!("{BASE}tenant_pointer = \"/org_id\"\n")).unwrap_err();
        assert_eq!(err.key, "tenant");
        let err = configure(&format!(
            "{BASE}tenant_pointer = \"/org_id\"\ntenant = \"org-a\"\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "tenant_pointer");
    }
}
