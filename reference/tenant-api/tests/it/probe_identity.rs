//! Proof tests of the HTTP identity probes `jwt`, `rbac` and `consent`: each passes against the
//! hardened tenant-api, fails against every flaw it hunts with the case that should catch it
//! named, and leaves every tenant table's rows unchanged. The `jwt` probe is also shown against
//! an ES256 issuer, an `azp`-checking service, and a small HS256 server of this file (strict:
//! passes; signature check off: fails).

use crate::support;
use crate::support::probes::{self, against_tenant_api, Outcome};
use crate::support::stub::{self, Stub};
use crate::support::Service;
use relgate_probes::CaseOutcome;

/// Runs `kind` with the packets.toml text `config` (references already substituted) from the
/// workspace root; no token, key or HMAC secret may show anywhere in the log or the cases.
fn probe(kind: &str, config: &str) -> Outcome {
    probes::probe_hiding(kind, config, &[HS256_SECRET])
}

/// Runs `kind` configured by `config(base)` against tenant-api with `flaws`: no tenant table
/// may change, and no token, key or HMAC secret may show.
fn against(kind: &str, flaws: &[&str], config: impl Fn(&str) -> String) -> Outcome {
    against_tenant_api(kind, flaws, &[], config, &[HS256_SECRET])
}

// ---------------------------------------------------------------------------------------------
// jwt

fn jwt_config(url: &str) -> String {
    format!(
        "{}request_timeout = \"10s\"\n",
        probes::jwt_config(&format!("{url}/v1/me"), "RS256")
    )
}

const JWT_CASES: [&str; 20] = [
    "controls",
    "expired",
    "not-yet-valid",
    "wrong-iss",
    "wrong-aud",
    "missing-exp",
    "alg-none",
    "empty-signature",
    "flipped-signature",
    "other-key",
    "hs-public-key",
    "kid-traversal",
    "kid-injection",
    "embedded-jwk",
    "jku",
    "claims-tampered",
    "alg-same-family",
    "crit-unknown",
    "iat-future",
    "duplicate-claims",
];

fn jwt_against(flaws: &[&str]) -> Outcome {
    let (service, _database) = Service::start(flaws);
    probe("jwt", &jwt_config(&service.base))
}

#[test]
fn jwt_passes_against_the_hardened_service() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = jwt_against(&[]);
    outcome.assert_all_pass();
    assert_eq!(outcome.names(), JWT_CASES);
    let alg_none = outcome.case("alg-none");
    assert_eq!(
        alg_none.message,
        "all 4 forgeries were refused (401, 401, 401, 401)"
    );
    for spelling in ["\"none\"", "\"None\"", "\"NONE\"", "\"nOnE\""] {
        assert!(alg_none.sent.contains(spelling), "{}", alg_none.sent);
    }
    assert!(outcome
        .case("jku")
        .sent
        .contains("\"jku\":\"http://127.0.0.1:"));
    assert!(outcome.case("controls").sent.contains("Bearer [REDACTED]"));
}

/// Each jwt flaw of tenant-api and exactly the cases that must catch it.
const JWT_FLAWS: [(&str, &[&str]); 5] = [
    ("jwt-accept-expired", &["expired", "missing-exp"]),
    ("jwt-skip-aud", &["wrong-aud"]),
    ("jwt-skip-iss", &["wrong-iss"]),
    ("jwt-skip-nbf", &["not-yet-valid"]),
    ("jwt-hs-key-confusion", &["hs-public-key"]),
];

#[test]
fn jwt_catches_each_flaw() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    probes::assert_each_caught(&JWT_FLAWS, |flaw| jwt_against(&[flaw]));
}

#[test]
fn jwt_catches_accept_none() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = jwt_against(&["jwt-accept-none"]);
    outcome.assert_only_failing(&["alg-none"]);
    assert_eq!(
        outcome.case("alg-none").message.split(" got ").nth(1),
        Some("200: the forged token was accepted")
    );
}

#[test]
fn jwt_against_an_es256_issuer_also_sends_a_zero_signature() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    let config = jwt_config(&service.base)
        .replace("alg = \"RS256\"", "alg = \"ES256\"")
        .replace("issuer-rs256", "issuer-es256");
    let outcome = probe("jwt", &config);
    outcome.assert_all_pass();
    // ES256 has no other algorithm of the same key (ES384 is another curve): no
    // alg-same-family, and es256-zero-signature instead.
    assert_eq!(outcome.cases.len(), JWT_CASES.len());
    assert!(!outcome.names().contains(&"alg-same-family"));
    assert!(outcome
        .case("es256-zero-signature")
        .sent
        .contains("token signature 64 bytes"));
}

#[test]
fn jwt_checks_azp_when_configured() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let config = |base: &str| format!("{}azp = \"web-app\"\n", jwt_config(base));
    let (checking, _database) = Service::start_with_args(&[], &["--authorized-party", "web-app"]);
    probe("jwt", &config(&checking.base)).assert_all_pass();
    drop(checking);
    let (ignoring, _database) = Service::start(&[]);
    probe("jwt", &config(&ignoring.base)).assert_only_failing(&["missing-azp", "foreign-azp"]);
}

#[test]
fn jwt_is_inconclusive_when_the_positive_control_fails() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, _database) = Service::start(&[]);
    // A user the issuer key can sign for, but whose org does not exist: the endpoint says 403.
    let config = jwt_config(&service.base).replace("org_id = \"org-a\"", "org_id = \"org-x\"");
    let outcome = probe("jwt", &config);
    for case in &outcome.cases {
        assert_eq!(case.outcome, CaseOutcome::Inconclusive, "{case:#?}");
    }
    assert!(outcome
        .case("controls")
        .message
        .starts_with("inconclusive: positive control GET "));
    assert!(outcome.case("controls").message.contains("got 403"));
}

/// The HS256 secret of the in-test server; never printed by the probe.
const HS256_SECRET: &str = "hs256-secret-for-probe-tests-5521";

/// A tiny HS256-only resource server: `strict` validates like tenant-api does (signature,
/// `exp`, `iss`, `aud`, `sub`, no `crit`, `iat` not in the future); lax skips the signature
/// check (and so every check but the claims it reads).
fn hs256_server(strict: bool) -> Stub {
    Stub::start(move |request| {
        let token =
            stub::header(request, "Authorization").and_then(|value| value.strip_prefix("Bearer "));
        match token.map(|token| hs256_verify(token, strict)) {
            Some(true) => 200,
            _ => 401,
        }
    })
}

fn hs256_verify(token: &str, strict: bool) -> bool {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    if !strict {
        return hs256_verify_claims_only(token);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 10;
    // jsonwebtoken leaves `nbf` unchecked by default; the probe's not-yet-valid case found that
    // in the first version of this server.
    validation.validate_nbf = true;
    validation.set_issuer(&["https://issuer.test"]);
    validation.set_audience(&["tenant-api"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = DecodingKey::from_secret(HS256_SECRET.as_bytes());
    // jsonwebtoken checks neither `crit` nor `iat`; the probe's crit-unknown and iat-future
    // cases found that in this server.
    let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) else {
        return false;
    };
    data.header.crit.is_none()
        && data.claims["iat"]
            .as_i64()
            .is_none_or(|iat| iat <= support::now() + 10)
}

/// The lax variant: `alg` must be HS256 and the claims valid, but the signature is never
/// checked — the bug of a service that "decodes" tokens instead of verifying them.
fn hs256_verify_claims_only(token: &str) -> bool {
    let Ok(data) = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token) else {
        return false;
    };
    let claims = data.claims;
    data.header.alg == jsonwebtoken::Algorithm::HS256
        && claims["iss"] == "https://issuer.test"
        && claims["aud"] == "tenant-api"
        && claims["sub"].is_string()
        && claims["exp"]
            .as_i64()
            .is_some_and(|exp| exp + 10 >= support::now())
        && claims["nbf"]
            .as_i64()
            .is_none_or(|nbf| nbf <= support::now() + 10)
}

fn hs256_config(base: &str) -> String {
    // Written once per test binary under cargo's scratch directory for tests, never /tmp.
    static SECRET: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let secret = SECRET.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe-identity-hs256.secret");
        std::fs::write(&path, format!("{HS256_SECRET}\n")).expect("write the HS256 secret");
        path
    });
    probes::jwt_hs256_config(base, secret)
}

#[test]
fn jwt_against_a_strict_hs256_server_passes() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let server = hs256_server(true);
    let outcome = probe("jwt", &hs256_config(&server.base));
    outcome.assert_all_pass();
    assert!(!outcome
        .cases
        .iter()
        .any(|case| case.name == "hs-public-key"));
}

#[test]
fn jwt_against_an_hs256_server_that_skips_the_signature_fails() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let server = hs256_server(false);
    let outcome = probe("jwt", &hs256_config(&server.base));
    outcome.assert_only_failing(&[
        "empty-signature",
        "flipped-signature",
        "other-key",
        "kid-traversal",
        "kid-injection",
        "embedded-jwk",
        "jku",
        "claims-tampered",
        "crit-unknown",
        "iat-future",
        "duplicate-claims",
    ]);
}

// ---------------------------------------------------------------------------------------------
// rbac

fn rbac_config(base: &str) -> String {
    format!(
        r#"{}matrix = [
  {{ method = "GET", path = "/v1/projects", allow = ["admin", "member", "viewer"] }},
  {{ method = "GET", path = "/v1/projects/prj-a-1", allow = ["admin", "member", "viewer"] }},
  {{ method = "POST", path = "/v1/projects", body = "{{}}", allow = ["admin", "member"] }},
  {{ method = "PATCH", path = "/v1/projects/does-not-exist", body = '{{"name":"x"}}', allow = ["admin", "member"] }},
  {{ method = "DELETE", path = "/v1/projects/does-not-exist", allow = ["admin"] }},
  {{ method = "GET", path = "/v1/children/child-1/records", allow = ["admin", "member"] }},
]
"#,
        probes::rbac_config_head(base)
    )
}

const RBAC_CASES: [&str; 8] = [
    "controls",
    "get-v1-projects",
    "get-v1-projects-prj-a-1",
    "post-v1-projects",
    "patch-v1-projects-does-not-exist",
    "delete-v1-projects-does-not-exist",
    "get-v1-children-child-1-records",
    "unknown-role",
];

#[test]
fn rbac_passes_against_the_hardened_service_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = against("rbac", &[], rbac_config);
    outcome.assert_all_pass();
    assert_eq!(outcome.names(), RBAC_CASES);
    // Allowed writes end in 400/404 and forbidden ones in 403: authorization comes first.
    let patch = outcome.case("patch-v1-projects-does-not-exist");
    assert_eq!(patch.got.lines().collect::<Vec<_>>().len(), 3);
    assert!(patch.got.starts_with("404"), "{}", patch.got);
    assert!(patch.got.lines().nth(2).unwrap().starts_with("403"));
}

#[test]
fn rbac_catches_allow_by_default_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = against("rbac", &["rbac-allow-by-default"], rbac_config);
    outcome.assert_only_failing(&[
        "patch-v1-projects-does-not-exist",
        "delete-v1-projects-does-not-exist",
    ]);
    let patch = &outcome.case("patch-v1-projects-does-not-exist").message;
    assert!(
        patch.starts_with("viewer PATCH ") && patch.ends_with("got 404, expected 403"),
        "{patch}"
    );
    let delete = &outcome.case("delete-v1-projects-does-not-exist").message;
    assert!(delete.starts_with("member DELETE "), "{delete}");
    assert!(delete.contains("; viewer DELETE "), "{delete}");
}

// ---------------------------------------------------------------------------------------------
// consent

fn consent_config(base: &str) -> String {
    format!(
        "{}tenant_pointer = \"/org_id\"\ntenant = \"org-a\"\n",
        probes::consent_config_head(base)
    )
}

fn consent_against(flaws: &[&str]) -> Outcome {
    against("consent", flaws, consent_config)
}

#[test]
fn consent_passes_against_the_hardened_service_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = consent_against(&[]);
    outcome.assert_all_pass();
    assert_eq!(
        outcome.names(),
        ["controls", "revoked-consent", "cross-tenant-records"]
    );
    assert!(outcome
        .case("revoked-consent")
        .message
        .ends_with("for child child-2 got 403"));
}

#[test]
fn consent_catches_ignored_consent() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = consent_against(&["consent-ignored"]);
    outcome.assert_only_failing(&["revoked-consent"]);
    assert!(outcome
        .case("revoked-consent")
        .message
        .ends_with("got 200 with 1 record(s) at /records: the records of a child whose consent is revoked were returned"));
}

#[test]
fn consent_catches_a_definer_view_leaking_other_tenants_records() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = consent_against(&["rls-definer-view"]);
    outcome.assert_only_failing(&["cross-tenant-records"]);
    assert!(outcome
        .case("cross-tenant-records")
        .message
        .contains("/org_id = \"org-b\""));
}

#[test]
fn consent_without_records_path_needs_a_refusal() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let config = |base: &str| {
        consent_config(base)
            .replace("records_path = \"/records\"\n", "")
            .replace("tenant_pointer = \"/org_id\"\ntenant = \"org-a\"\n", "")
    };
    let outcome = against("consent", &["consent-ignored"], config);
    outcome.assert_only_failing(&["revoked-consent"]);
}
