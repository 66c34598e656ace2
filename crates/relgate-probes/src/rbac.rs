//! The `rbac` probe: a role × method × path matrix. One token is minted per role; every role
//! not allowed on a row must get 403 (`forbidden`), every allowed role must get neither a
//! refusal nor a server error, and a token for a user with no or an unknown role must be denied
//! on every row.
//!
//! The probe never wants a write to succeed: rows should name ids that do not exist or bodies
//! that fail validation, so that an allowed write ends in 404 or 400 and a forbidden one in 403
//! — which also checks that authorization runs before lookup and validation.
//!
//! Optional cases in [`tenancy`]: `idor-other-tenant` and `mass-assignment`.

mod tenancy;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::attempt::{self, Attempt};
use crate::config::ConfigErrorKind;
use crate::config::{Config, ConfigError};
use crate::http::Request;
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};
use crate::token::{self, MintConfig, Object};

/// The `rbac` probe, configured.
pub(crate) struct RbacProbe {
    base_url: String,
    mint: MintConfig,
    roles: BTreeMap<String, Object>,
    unknown_role: Object,
    control: Row,
    rows: Vec<Row>,
    forbidden: Vec<u16>,
    refused: Vec<u16>,
    timeout: Duration,
    tenancy: tenancy::Tenancy,
}

/// One row of the matrix (or the control request).
struct Row {
    name: String,
    method: String,
    path: String,
    body: Option<String>,
    allow: Vec<String>,
}

impl RbacProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let base_url = config.required_string("base_url")?;
        let mint = MintConfig::configure(config)?;
        let roles = roles(config)?;
        let unknown_role = token::claims_table(config, "unknown_role")?;
        let unknown_role = config.require("unknown_role", unknown_role)?;
        let control = config.table("control")?;
        let mut control = config.require("control", control)?;
        let control_method = method(&mut control)?;
        let control_path = control.required_string("path")?;
        config.adopt(control);
        let control = Row {
            name: "controls".to_string(),
            method: control_method,
            path: control_path,
            body: None,
            allow: roles.keys().cloned().collect(),
        };
        let tables = config.tables("matrix")?;
        let tables = config.require("matrix", tables)?;
        if tables.is_empty() {
            return Err(config.error(
                "matrix",
                ConfigErrorKind::InvalidValue,
                "give at least one row",
            ));
        }
        let mut rows: Vec<Row> = Vec::new();
        for mut table in tables {
            let method = method(&mut table)?;
            let path = table.required_string("path")?;
            let body = table.string("body")?;
            let allow = table.strings("allow")?;
            let allow = table.require("allow", allow)?;
            if let Some(unknown) = allow.iter().find(|role| !roles.contains_key(*role)) {
                return Err(table.error(
                    "allow",
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "`{unknown}` is not one of the roles ({})",
                        roles.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            let name = match table.string("name")? {
                Some(name) if is_case_name(&name) => name,
                Some(name) => {
                    return Err(table.error(
                        "name",
                        ConfigErrorKind::InvalidValue,
                        format!("`{name}` is not a kebab-case case name"),
                    ))
                }
                None => slug(&format!("{method} {path}")),
            };
            let name = unique(&name, &rows);
            config.adopt(table);
            rows.push(Row {
                name,
                method,
                path,
                body,
                allow,
            });
        }
        let forbidden = attempt::statuses(config, "forbidden", &[403])?;
        let refused = attempt::statuses(config, "refused", &[401, 403])?;
        let timeout = attempt::request_timeout(config)?;
        let role_names: Vec<String> = roles.keys().cloned().collect();
        let tenancy = tenancy::Tenancy::configure(config, &role_names)?;
        Ok(RbacProbe {
            base_url,
            mint,
            roles,
            unknown_role,
            control,
            rows,
            forbidden,
            refused,
            timeout,
            tenancy,
        })
    }

    fn send(&self, context: &Context<'_>, row: &Row, who: Option<(&str, &str)>) -> Attempt {
        let url = format!("{}{}", self.base_url.trim_end_matches('/'), row.path);
        let mut request = Request::new(&row.method, &url);
        if let Some(body) = &row.body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.as_bytes().to_vec());
        }
        let what = match who {
            Some((role, token)) => {
                request = request.bearer(token);
                format!("{role} {} {url}", row.method)
            }
            None => format!("{} {url} without a token", row.method),
        };
        attempt::send(context, &request, self.timeout, what, "")
    }

    /// Every role on `row`: forbidden roles must get a `forbidden` status, allowed roles
    /// anything but a refusal or a server error.
    fn row_case(&self, context: &Context<'_>, row: &Row, tokens: &[(String, String)]) -> Case {
        let mut attempts = Vec::new();
        let mut problems = Vec::new();
        for (role, token) in tokens {
            let attempt = self.send(context, row, Some((role, token)));
            let allowed = row.allow.contains(role);
            let problem = match attempt.status() {
                None => None,
                Some(status) if allowed => (self.forbidden.contains(&status)
                    || self.refused.contains(&status)
                    || status >= 500)
                    .then(|| format!("{} got {status} but {role} is allowed", attempt.what)),
                Some(status) => (!self.forbidden.contains(&status)).then(|| {
                    format!(
                        "{} got {status}, expected {}",
                        attempt.what,
                        attempt::list(&self.forbidden)
                    )
                }),
            };
            problems.extend(problem);
            attempts.push(attempt);
        }
        judge(&row.name, &attempts, problems, tokens.len())
    }

    /// A user with no or an unknown role on every row: each must be denied.
    fn unknown_role_case(&self, context: &Context<'_>, token: &str) -> Case {
        let denied: Vec<u16> = self
            .forbidden
            .iter()
            .chain(&self.refused)
            .copied()
            .collect();
        let mut attempts = Vec::new();
        let mut problems = Vec::new();
        for row in &self.rows {
            let attempt = self.send(context, row, Some(("unknown-role", token)));
            if let Some(status) = attempt.status() {
                if !denied.contains(&status) {
                    problems.push(format!(
                        "{} got {status}, expected {}",
                        attempt.what,
                        attempt::list(&self.forbidden)
                    ));
                }
            }
            attempts.push(attempt);
        }
        judge("unknown-role", &attempts, problems, self.rows.len())
    }
}

impl Probe for RbacProbe {
    fn cases(&self) -> Vec<String> {
        let mut names = vec!["controls".to_string()];
        names.extend(self.rows.iter().map(|row| row.name.clone()));
        names.push("unknown-role".to_string());
        names.extend(self.tenancy.cases());
        names
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let names = self.cases();
        let minter = self.mint.load(context)?;
        let mut tokens = Vec::new();
        for (role, claims) in &self.roles {
            let token = minter.mint(claims)?;
            context.log.add_secret(&token);
            tokens.push((role.clone(), token));
        }
        let unknown = minter.mint(&self.unknown_role)?;
        context.log.add_secret(&unknown);

        // Controls: every role's token works on the control request, and no token is refused.
        let mut controls = Vec::new();
        let mut failure = None;
        for (role, token) in &tokens {
            let attempt = self.send(context, &self.control, Some((role, token)));
            let ok = matches!(&attempt.reply, Ok(reply) if reply.is_success());
            if !ok && failure.is_none() {
                failure = Some(format!(
                    "inconclusive: positive control {} got {}, expected 2xx",
                    attempt.what,
                    attempt.got()
                ));
            }
            controls.push(attempt);
        }
        let negative = self.send(context, &self.control, None);
        if failure.is_none() {
            failure = match negative.status() {
                Some(status) if self.refused.contains(&status) => None,
                _ => Some(format!(
                    "inconclusive: negative control {} got {}, expected {}",
                    negative.what,
                    negative.got(),
                    attempt::list(&self.refused)
                )),
            };
        }
        controls.push(negative);
        let evidence: Vec<&Attempt> = controls.iter().collect();
        if let Some(message) = failure {
            return Ok(attempt::all_inconclusive(&names, &message, &evidence));
        }
        let mut cases = vec![attempt::case(
            "controls",
            CaseOutcome::Pass,
            format!(
                "every role's token succeeded on {} {} and no token got {}",
                self.control.method,
                self.control.path,
                evidence.last().and_then(|a| a.status()).unwrap_or_default()
            ),
            &evidence,
        )];
        for row in &self.rows {
            cases.push(self.row_case(context, row, &tokens));
        }
        cases.push(self.unknown_role_case(context, &unknown));
        let target = tenancy::Target {
            base_url: &self.base_url,
            timeout: self.timeout,
            tokens: &tokens,
            forbidden: &self.forbidden,
        };
        cases.extend(self.tenancy.run(context, &target));
        Ok(cases)
    }
}

/// Fail with every problem, inconclusive when a request could not be sent, else pass.
fn judge(name: &str, attempts: &[Attempt], problems: Vec<String>, count: usize) -> Case {
    let evidence: Vec<&Attempt> = attempts.iter().collect();
    if !problems.is_empty() {
        return attempt::case(name, CaseOutcome::Fail, problems.join("; "), &evidence);
    }
    if let Some(broken) = attempts.iter().find(|attempt| attempt.reply.is_err()) {
        return attempt::case(
            name,
            CaseOutcome::Inconclusive,
            format!("inconclusive: {} {}", broken.what, broken.got()),
            &evidence,
        );
    }
    let statuses: Vec<String> = attempts
        .iter()
        .filter_map(|attempt| attempt.status().map(|status| status.to_string()))
        .collect();
    attempt::case(
        name,
        CaseOutcome::Pass,
        format!(
            "all {count} requests answered as the matrix says ({})",
            statuses.join(", ")
        ),
        &evidence,
    )
}

fn roles(config: &mut Config<'_>) -> Result<BTreeMap<String, Object>, ConfigError> {
    let table = config.table("roles")?;
    let mut table = config.require("roles", table)?;
    let mut roles = BTreeMap::new();
    for (name, value) in table.entries() {
        let toml::Value::Table(claims) = value else {
            return Err(table.error(
                &name,
                ConfigErrorKind::InvalidValue,
                format!(
                    "expected a table of claims for role `{name}`, found {}",
                    value.type_str()
                ),
            ));
        };
        let claims = claims
            .iter()
            .map(|(key, value)| (key.clone(), token::to_json(value)))
            .collect();
        roles.insert(name, claims);
    }
    if roles.is_empty() {
        return Err(config.error(
            "roles",
            ConfigErrorKind::InvalidValue,
            "give at least one role",
        ));
    }
    Ok(roles)
}

fn method(table: &mut Config<'_>) -> Result<String, ConfigError> {
    let method = attempt::method(table)?;
    if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(table.error(
            "method",
            ConfigErrorKind::InvalidValue,
            format!("`{method}` is not an HTTP method"),
        ));
    }
    Ok(method)
}

/// `PATCH /v1/projects/{id}` → `patch-v1-projects-id`.
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

fn is_case_name(name: &str) -> bool {
    !name.is_empty() && slug(name) == name
}

/// `name`, or `name-2`, `name-3`… when a row already has it or it is a fixed case name.
fn unique(name: &str, rows: &[Row]) -> String {
    let taken = |candidate: &str| {
        candidate == "controls"
            || candidate == "unknown-role"
            || candidate == tenancy::IDOR
            || candidate == tenancy::MASS_ASSIGNMENT
            || rows.iter().any(|row| row.name == candidate)
    };
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<Vec<String>, ConfigError> {
        crate::configure("rbac", &text.parse::<toml::Table>().unwrap())
    }

    const BASE: &str = r#"
        base_url = "${api.url}"
        issuer = "https://issuer.test"
        audience = "tenant-api"
        key = { file = "reference/keys/issuer-rs256.pem" }
        roles.admin = { sub = "admin@org-a", org_id = "org-a" }
        roles.viewer = { sub = "viewer@org-a", org_id = "org-a" }
        unknown_role = { sub = "stranger@org-a", org_id = "org-a" }
        control = { path = "/v1/me" }
    "#;

    #[test]
    fn case_names_are_unique_slugs_of_the_rows() {
        let names = configure(&format!(
            "{BASE}matrix = [\
             {{ method = \"patch\", path = \"/v1/projects/{{id}}\", allow = [\"admin\"] }},\
             {{ method = \"PATCH\", path = \"/v1/projects/{{id}}\", allow = [] }},\
             {{ path = \"/v1/me\", allow = [\"admin\", \"viewer\"], name = \"unknown-role\" }},\
             {{ path = \"/v1/x\", allow = [], name = \"who-am-i\" }}]\n"
        ))
        .unwrap();
        assert_eq!(
            names,
            [
                "controls",
                "patch-v1-projects-id",
                "patch-v1-projects-id-2",
                "unknown-role-2",
                "who-am-i",
                "unknown-role"
            ]
        );
    }

    #[test]
    fn configuration_errors_name_the_key() {
        let err = configure(&format!(
            "{BASE}matrix = [{{ path = \"/v1/me\", allow = [\"admn\"] }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "matrix[0].allow");
        assert_eq!(
            err.message,
            "`admn` is not one of the roles (admin, viewer)"
        );
        let err = configure(&format!(
            "{BASE}matrix = [{{ path = \"/v1/me\", allow = [], alow = [] }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "matrix[0].alow");
        let err = configure(&format!("{BASE}matrix = []\n")).unwrap_err();
        assert_eq!(err.key, "matrix");
        let err = configure(&format!(
            "{BASE}roles.member = \"x\"\nmatrix = [{{ path = \"/\", allow = [] }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "roles.member");
        let err = configure(&format!("{BASE}matrix = [{{ path = \"/\" }}]\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`matrix[0].allow`: missing key: this probe needs it"
        );
    }

    #[test]
    fn tenancy_cases_follow_their_keys() {
        const ROW: &str = "matrix = [{ path = \"/v1/me\", allow = [] }]\n";
        let names = configure(&format!(
            "{BASE}{ROW}idor = [{{ role = \"viewer\", own = \"/p/a\", other = \"/p/b\" }}]\n\
             mass_assignment = [{{ role = \"viewer\", method = \"patch\", path = \"/p/x\", \
             body = '{{\"name\":\"x\"}}', read = \"/v1/me\" }}]\n\
             forbidden_fields = {{ role = \"admin\", org_id = \"org-b\" }}\n"
        ))
        .unwrap();
        assert_eq!(
            names,
            [
                "controls",
                "get-v1-me",
                "unknown-role",
                "idor-other-tenant",
                "mass-assignment"
            ]
        );
        let err = configure(&format!(
            "{BASE}{ROW}idor = [{{ role = \"root\", own = \"/a\", other = \"/b\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "idor[0].role");
        let err = configure(&format!(
            "{BASE}{ROW}idor = [{{ role = \"viewer\", own = \"a\", other = \"/b\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "idor[0].own");
        let err = configure(&format!(
            "{BASE}{ROW}mass_assignment = [{{ role = \"viewer\", path = \"/p\", body = \"{{}}\" }}]\n\
             forbidden_fields = {{ role = \"admin\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`mass_assignment[0].method`: `GET` is not a write: give POST, PUT or PATCH"
        );
        let err = configure(&format!(
            "{BASE}{ROW}mass_assignment = [{{ role = \"viewer\", method = \"POST\", \
             path = \"/p\", body = \"[]\" }}]\nforbidden_fields = {{ role = \"admin\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "mass_assignment[0].body");
        let err = configure(&format!(
            "{BASE}{ROW}mass_assignment = [{{ role = \"viewer\", method = \"POST\", \
             path = \"/p\", body = \"{{}}\", read = \"/p\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "forbidden_fields");
        let err = configure(&format!(
            "{BASE}{ROW}mass_assignment = [{{ role = \"viewer\", method = \"POST\", \
             path = \"/p\", body = \"{{}}\" }}]\nforbidden_fields = {{ role = \"admin\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "mass_assignment[0].control_role");
        let err = configure(&format!(
            "{BASE}{ROW}mass_assignment = [{{ role = \"viewer\", control_role = \"root\", \
             method = \"POST\", path = \"/p\", body = \"{{}}\" }}]\n\
             forbidden_fields = {{ role = \"admin\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`mass_assignment[0].control_role`: `root` is not one of the roles (admin, viewer)"
        );
    }

    #[test]
    fn slugs_collapse_punctuation() {
        assert_eq!(
            slug("DELETE /v1/projects/does-not-exist"),
            "delete-v1-projects-does-not-exist"
        );
        assert_eq!(
            slug("GET /v1/children/{child}/records"),
            "get-v1-children-child-records"
        );
        assert!(is_case_name("get-v1-me"));
        assert!(!is_case_name("Get me"));
    }
}
