//! Proof tests of the access classes of issue 17: `rbac`'s `idor-other-tenant` and
//! `mass-assignment`, `consent`'s `revoked-mid-session` and `other-child`. Each case is proven
//! twice: against tenant-api (hardened passes, each flaw caught by exactly its case, no tenant
//! row changed) and against tests/targets/access_api.py, a Python target written apart from it
//! (correct passes, each `--bug` caught by its case).

use std::process::Command;

use crate::support::probes::{self, against_tenant_api, Outcome};
use crate::support::python_target::PythonTarget;
use crate::support::stub::Stub;
use crate::support::{keys_dir, tokens};
use relgate_probes::CaseOutcome;

/// Runs `kind` against a target without a database; no token or key may show.
fn probe(kind: &str, config: &str) -> Outcome {
    probes::probe_hiding(kind, config, &[])
}

/// Runs `kind` against tenant-api started with `flaws`, asserting no tenant table changed and
/// no token or key shows.
fn against_reference(kind: &str, config: fn(&str) -> String, flaws: &[&str]) -> Outcome {
    against_tenant_api(kind, flaws, &[], config, &[])
}

// ---------------------------------------------------------------------------------------------
// The Python target

/// tests/targets/access_api.py with `bugs`, trusting the issuer's RS256 key; killed on drop.
fn start_python(bugs: &[&str]) -> PythonTarget {
    let key = keys_dir().join("issuer-rs256.pub.pem");
    PythonTarget::start(
        "access_api.py",
        &[std::ffi::OsStr::new("--public-key"), key.as_os_str()],
        bugs,
    )
}

/// `GET path` of `target` as `sub` of `org_id`: the status and the JSON body.
fn get(target: &PythonTarget, path: &str, sub: &str, org_id: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let token = tokens::token(sub, org_id);
    let mut response = agent
        .get(format!("{}{path}", target.base))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("GET the python target");
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or_default(),
    )
}

/// Python 3 with `cryptography`, which the target needs; `false` skips the test with a note.
fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        eprintln!("skipped: python3 with the cryptography package is not available");
    }
    ok
}

// ---------------------------------------------------------------------------------------------
// rbac

fn rbac_config(base: &str) -> String {
    format!(
        r#"{}matrix = [
  {{ method = "GET", path = "/v1/projects", allow = ["admin", "member", "viewer"] }},
]
idor = [
  {{ role = "member", own = "/v1/projects/prj-a-1", other = "/v1/projects/prj-b-1" }},
  {{ role = "viewer", own = "/v1/projects/prj-a-2", other = "/v1/projects/prj-b-2" }},
]
mass_assignment = [
  {{ role = "viewer", control_role = "member", method = "PATCH", path = "/v1/projects/does-not-exist", body = '{{"name":"x"}}', read = "/v1/me" }},
  {{ role = "member", method = "PATCH", path = "/v1/projects/prj-a-1", body = '{{"name":""}}', read = "/v1/projects/prj-a-1" }},
]
forbidden_fields = {{ role = "admin", org_id = "org-b", owner = "admin@org-b" }}
"#,
        probes::rbac_config_head(base)
    )
}

const RBAC_CASES: [&str; 5] = [
    "controls",
    "get-v1-projects",
    "unknown-role",
    "idor-other-tenant",
    "mass-assignment",
];

#[test]
fn rbac_access_classes_pass_against_the_hardened_service() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = against_reference("rbac", rbac_config, &[]);
    outcome.assert_all_pass();
    assert_eq!(outcome.names(), RBAC_CASES);
    let idor = outcome.case("idor-other-tenant");
    assert!(
        idor.message.contains("/v1/projects/prj-b-1 got 404"),
        "{}",
        idor.message
    );
    let mass = outcome.case("mass-assignment");
    // Two writes: read, plain, (the first: control_role), one per field (3), read.
    assert_eq!(mass.got.lines().count(), 13, "{}", mass.got);
    assert!(
        mass.message.contains("with `role` got 403"),
        "{}",
        mass.message
    );
    assert!(
        mass.sent.contains("\"owner\":\"admin@org-b\""),
        "{}",
        mass.sent
    );
}

#[test]
fn rbac_catches_each_access_flaw_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = against_reference("rbac", rbac_config, &["rbac-idor"]);
    outcome.assert_only_failing(&["idor-other-tenant"]);
    let message = &outcome.case("idor-other-tenant").message;
    assert!(
        message.contains("prj-b-1 got 200: another tenant's resource was returned"),
        "{message}"
    );

    let outcome = against_reference("rbac", rbac_config, &["rbac-mass-assignment"]);
    outcome.assert_only_failing(&["mass-assignment"]);
    let message = &outcome.case("mass-assignment").message;
    assert!(
        message.starts_with("viewer PATCH ")
            && message.ends_with(
                "/v1/projects/does-not-exist with `role` got 404, 403 without it: the target \
                 acted on the field"
            )
            && !message.contains("; "),
        "{message}"
    );
}

#[test]
fn rbac_access_classes_are_inconclusive_when_they_cannot_tell() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    // The own resource does not exist, and the read-back names a row that does not exist:
    // neither case has a control that works, so neither may pass.
    fn config(base: &str) -> String {
        rbac_config(base)
            .replace("own = \"/v1/projects/prj-a-", "own = \"/v1/projects/nope-")
            .replace(
                "read = \"/v1/projects/prj-a-1\"",
                "read = \"/v1/projects/nope\"",
            )
    }
    for flaws in [&[][..], &["rbac-idor"], &["rbac-mass-assignment"]] {
        let outcome = against_reference("rbac", config, flaws);
        outcome.assert("idor-other-tenant", CaseOutcome::Inconclusive);
        assert!(outcome
            .case("idor-other-tenant")
            .message
            .contains("positive control member GET "));
    }
    let outcome = against_reference("rbac", config, &[]);
    outcome.assert("mass-assignment", CaseOutcome::Inconclusive);
    assert!(outcome
        .case("mass-assignment")
        .message
        .contains("GET /v1/projects/nope got 404 before the writes"));
}

/// A target that knows who calls (`GET /v1/me`: 200 with any bearer token, 401 without) and
/// answers 400 to everything else: no case of this file can tell anything from it.
fn refuser() -> Stub {
    Stub::start(|request| {
        let bearer = crate::support::stub::header(request, "Authorization").is_some();
        match (request.url(), bearer) {
            (_, false) => 401,
            ("/v1/me", true) => 200,
            _ => 400,
        }
    })
}

#[test]
fn rbac_access_classes_are_inconclusive_against_a_target_that_answers_400_to_everything() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let refuser = refuser();
    let outcome = probe("rbac", &rbac_config(&refuser.base));
    outcome.assert("controls", CaseOutcome::Pass);
    outcome.assert("idor-other-tenant", CaseOutcome::Inconclusive);
    outcome.assert("mass-assignment", CaseOutcome::Inconclusive);
    let message = &outcome.case("mass-assignment").message;
    assert!(
        message.contains("the control member PATCH ")
            && message.contains("expected a 4xx other than 400 (viewer's)"),
        "{message}"
    );
}

#[test]
fn rbac_access_classes_against_the_python_target() {
    if relgate_pg::testing::skip_without_postgres() || !python_ready() {
        return;
    }
    let correct = start_python(&[]);
    let outcome = probe("rbac", &rbac_config(&correct.base));
    outcome.assert_all_pass();
    assert_eq!(outcome.names(), RBAC_CASES);
    drop(correct);

    let idor = start_python(&["idor"]);
    probe("rbac", &rbac_config(&idor.base)).assert_only_failing(&["idor-other-tenant"]);
    drop(idor);

    let escalation = start_python(&["role-from-body"]);
    let outcome = probe("rbac", &rbac_config(&escalation.base));
    outcome.assert_only_failing(&["mass-assignment"]);
    assert!(outcome
        .case("mass-assignment")
        .message
        .contains("with `role` got 404, 403 without it"));
    drop(escalation);

    // This bug writes before it validates: the probe's refused write still moved the row. The
    // probe must say so, and the target shows the change: prj-a-1 now belongs to org-b.
    let mass = start_python(&["mass-assignment"]);
    assert_eq!(
        get(&mass, "/v1/projects/prj-a-1", "member@org-a", "org-a").0,
        200
    );
    let outcome = probe("rbac", &rbac_config(&mass.base));
    outcome.assert_only_failing(&["mass-assignment"]);
    let message = &outcome.case("mass-assignment").message;
    assert!(
        message.contains(
            "the read-back member GET /v1/projects/prj-a-1 got 404 after the writes: the row \
             moved or went away"
        ),
        "{message}"
    );
    assert_eq!(
        get(&mass, "/v1/projects/prj-a-1", "member@org-a", "org-a").0,
        404
    );
    let (status, moved) = get(&mass, "/v1/projects/prj-a-1", "member@org-b", "org-b");
    assert_eq!(status, 200);
    assert_eq!(moved["org_id"], "org-b");
    // The validation-failing name was written too: the fields went in before validation ran.
    assert_eq!(moved["name"], "");
}

// ---------------------------------------------------------------------------------------------
// consent

fn consent_config(base: &str) -> String {
    format!(
        r#"{}session_claims = {{ sub = "member@org-a", org_id = "org-a", iat = {iat} }}
record_url = "{base}/v1/children/{{child}}/records/{{record}}"
allowed_record = "rec-a-1"
other_child_record = "rec-a-2"
"#,
        probes::consent_config_head(base),
        iat = crate::support::now() - 60
    )
}

const CONSENT_CASES: [&str; 4] = [
    "controls",
    "revoked-consent",
    "revoked-mid-session",
    "other-child",
];

#[test]
fn consent_access_classes_pass_against_the_hardened_service() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = against_reference("consent", consent_config, &[]);
    outcome.assert_all_pass();
    assert_eq!(outcome.names(), CONSENT_CASES);
    let session = outcome.case("revoked-mid-session");
    assert!(
        session.message.starts_with("after GET ")
            && session.message.ends_with("for child child-2 got 403"),
        "{}",
        session.message
    );
    let other = outcome.case("other-child");
    assert!(
        other.message.ends_with("under child child-1 got 404"),
        "{}",
        other.message
    );
}

#[test]
fn consent_catches_each_access_flaw_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = against_reference("consent", consent_config, &["consent-cached"]);
    outcome.assert_only_failing(&["revoked-mid-session"]);
    assert!(outcome
        .case("revoked-mid-session")
        .message
        .ends_with("consent granted earlier in the session was trusted after its revocation"));

    let outcome = against_reference("consent", consent_config, &["consent-any-child"]);
    outcome.assert_only_failing(&["other-child"]);
    assert!(outcome
        .case("other-child")
        .message
        .ends_with("got 200: consent for one child was used to read another's record"));
}

#[test]
fn consent_mid_session_is_inconclusive_when_no_token_is_refused() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    // With consent ignored, a fresh token is served too: a session cannot be blamed.
    let outcome = against_reference("consent", consent_config, &["consent-ignored"]);
    outcome.assert("revoked-consent", CaseOutcome::Fail);
    outcome.assert("revoked-mid-session", CaseOutcome::Inconclusive);
    outcome.assert("other-child", CaseOutcome::Pass);
    // A record URL whose own record does not exist: the control fails, the case cannot tell.
    fn missing_record(base: &str) -> String {
        consent_config(base).replace("allowed_record = \"rec-a-1\"", "allowed_record = \"nope\"")
    }
    let outcome = against_reference("consent", missing_record, &["consent-any-child"]);
    outcome.assert("other-child", CaseOutcome::Inconclusive);
}

#[test]
fn consent_access_classes_against_the_python_target() {
    if relgate_pg::testing::skip_without_postgres() || !python_ready() {
        return;
    }
    let correct = start_python(&[]);
    let outcome = probe("consent", &consent_config(&correct.base));
    outcome.assert_all_pass();
    assert_eq!(outcome.names(), CONSENT_CASES);
    drop(correct);

    let cached = start_python(&["consent-cached"]);
    probe("consent", &consent_config(&cached.base)).assert_only_failing(&["revoked-mid-session"]);
    drop(cached);

    let any_child = start_python(&["consent-any-child"]);
    probe("consent", &consent_config(&any_child.base)).assert_only_failing(&["other-child"]);
}
