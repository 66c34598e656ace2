//! The `consent` probe: reads a guarded resource on behalf of a child whose consent is revoked
//! and demands a refusal or an empty result; optionally also a child of another tenant, and
//! checks that the records returned for a consented child all belong to the caller's tenant.

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
        })
    }

    fn send(&self, context: &Context<'_>, child: &str, token: Option<&str>) -> Attempt {
        let url = self.url.replace(CHILD, child);
        let request = Request::new(&self.method, &url);
        let (request, what) = match token {
            Some(token) => (
                request.bearer(token),
                format!("{} {url} for child {child}", self.method),
            ),
            None => (request, format!("{} {url} without a token", self.method)),
        };
        attempt::send(context, &request, self.timeout, what, "")
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
        names
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let names = self.cases();
        let minter = self.mint.load(context)?;
        let token = minter.mint(&self.claims)?;
        context.log.add_secret(&token);

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

        let revoked = self.send(context, &self.revoked_child, Some(&token));
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
        Ok(cases)
    }
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
