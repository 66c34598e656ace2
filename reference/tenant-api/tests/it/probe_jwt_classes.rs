//! Proof tests of the `jwt` probe's cases for what a signature does not settle
//! (`alg-same-family`, `crit-unknown`, `iat-future`, `duplicate-claims`, `typ-confusion`,
//! `cty-confusion`, `kid-other-audience`), twice: against tenant-api (hardened: all pass; each flaw: exactly its
//! case fails; no tenant row changed) and against tests/targets/jwt_verifier.py, a verifier
//! written independently in Python (strict: all pass; each `--bug`: exactly its case fails).
//! `alg-same-family` is proven for ES256 too, with tenant-api trusting a P-384 key by `kid`
//! (`--extra-ec-key`); the Python verifier is HS/RS only, where its RSA family covers the class.

use crate::support::probes::{self, against_tenant_api, Outcome};
use crate::support::python_target::PythonTarget;
use relgate_probes::CaseOutcome;

/// The cases this file proves, in the order the probe lists them.
const CLASS_CASES: [&str; 7] = [
    "alg-same-family",
    "crit-unknown",
    "iat-future",
    "duplicate-claims",
    "typ-confusion",
    "cty-confusion",
    "kid-other-audience",
];

/// The HMAC secret of the Python target's HS256 runs, assembled at run time.
fn hs256_secret() -> String {
    ["py", "verifier", "hmac", "7731"].join("-")
}

/// [`probes::probe_hiding`]: no token, key or the HMAC secret may show.
fn probe(config: &str) -> Outcome {
    probes::probe_hiding("jwt", config, &[&hs256_secret()])
}

/// The jwt probe's configuration for `url`: RS256 with the issuer key, `typ = "at+jwt"`, and
/// `other-rs256` as the key trusted (under kid `partner`) only for audience `partner-api`.
fn config(url: &str) -> String {
    format!(
        r#"{}typ = "at+jwt"
other_audience_key = {{ file = "reference/keys/other-rs256.pem" }}
other_audience_kid = "partner"
other_audience_claims = {{ aud = "partner-api" }}
"#,
        probes::jwt_config(url, "RS256")
    )
}

/// tenant-api's flags for the same: the explicit type and the partner key.
fn partner_args() -> Vec<String> {
    let key = crate::support::keys_dir().join("other-rs256.pub.pem");
    vec![
        "--token-type".into(),
        "at+jwt".into(),
        "--partner-key".into(),
        key.display().to_string(),
    ]
}

/// The jwt probe configured by `config(endpoint)` against tenant-api's `/v1/me` with `flaws`
/// and `args`: no tenant row may change, no token, key or secret show.
fn jwt_against_tenant_api(flaws: &[&str], args: &[String], config: fn(&str) -> String) -> Outcome {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = |base: &str| config(&format!("{base}/v1/me"));
    against_tenant_api("jwt", flaws, &args, config, &[&hs256_secret()])
}

#[test]
fn jwt_classes_pass_against_the_hardened_service_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = jwt_against_tenant_api(&[], &partner_args(), config);
    outcome.assert_all_pass();
    let names = outcome.names();
    assert_eq!(&names[names.len() - CLASS_CASES.len()..], CLASS_CASES);
    let family = outcome.case("alg-same-family");
    for alg in ["RS384", "RS512", "PS256", "PS384", "PS512"] {
        assert!(family.sent.contains(&format!("\"alg\":\"{alg}\"")), "{alg}");
    }
    assert!(outcome
        .case("duplicate-claims")
        .message
        .starts_with("all 2 forgeries were refused"));
    let other = outcome.case("kid-other-audience");
    assert!(other.got.starts_with("200"), "the control: {}", other.got);
    assert!(other.sent.contains("\"kid\":\"partner\""), "{}", other.sent);
}

/// Each flaw of tenant-api for these classes and the cases that must catch it: a verifier that
/// checks no type at all fails both type cases.
const FLAWS: [(&str, &[&str]); 7] = [
    ("jwt-alg-from-header", &["alg-same-family"]),
    ("jwt-ignore-crit", &["crit-unknown"]),
    ("jwt-no-iat-check", &["iat-future"]),
    ("jwt-last-duplicate-claim", &["duplicate-claims"]),
    ("jwt-any-typ", &["typ-confusion", "cty-confusion"]),
    ("jwt-typ-from-cty", &["cty-confusion"]),
    ("jwt-kid-any-audience", &["kid-other-audience"]),
];

#[test]
fn jwt_classes_catch_each_flaw_without_changing_rows() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcomes = probes::assert_each_caught(&FLAWS, |flaw| {
        jwt_against_tenant_api(&[flaw], &partner_args(), config)
    });
    for ((flaw, cases), outcome) in FLAWS.iter().zip(&outcomes) {
        for case in *cases {
            assert!(
                outcome
                    .case(case)
                    .message
                    .ends_with(": the forged token was accepted"),
                "{flaw}: {:#?}",
                outcome.case(case)
            );
        }
    }
}

#[test]
fn jwt_kid_other_audience_is_inconclusive_when_the_other_key_is_not_trusted() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    // No --partner-key: the control token is refused, so a refusal of the forgery says nothing.
    let args = vec!["--token-type".to_string(), "at+jwt".to_string()];
    let outcome = jwt_against_tenant_api(&[], &args, config);
    for case in &outcome.cases {
        let expected = if case.name == "kid-other-audience" {
            CaseOutcome::Inconclusive
        } else {
            CaseOutcome::Pass
        };
        assert_eq!(case.outcome, expected, "{case:#?}");
    }
    assert!(outcome
        .case("kid-other-audience")
        .message
        .starts_with("inconclusive: the control "));
}

// ---------------------------------------------------------------------------------------------
// ES256: the other curve size, signed with a second EC key tenant-api looks up by kid

/// The jwt probe's ES256 configuration with `issuer-es384` as the other curve's key (kid es384).
fn es256_config(url: &str) -> String {
    format!(
        r#"{}other_curve_key = {{ file = "reference/keys/issuer-es384.pem" }}
other_curve_kid = "es384"
"#,
        probes::jwt_config(url, "ES256")
    )
}

/// tenant-api's flags for the same: the P-384 public key, trusted under kid `es384`.
fn extra_ec_args() -> Vec<String> {
    let key = crate::support::keys_dir().join("issuer-es384.pub.pem");
    vec![
        "--extra-ec-key".into(),
        key.display().to_string(),
        "--extra-ec-kid".into(),
        "es384".into(),
    ]
}

fn es256_against_tenant_api(flaws: &[&str]) -> Outcome {
    jwt_against_tenant_api(flaws, &extra_ec_args(), es256_config)
}

#[test]
fn jwt_es256_alg_same_family_sends_es384_and_passes_against_the_hardened_service() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = es256_against_tenant_api(&[]);
    outcome.assert_all_pass();
    let family = outcome.case("alg-same-family");
    assert!(family.sent.contains("\"alg\":\"ES384\""), "{}", family.sent);
    assert!(family.sent.contains("\"kid\":\"es384\""), "{}", family.sent);
    assert!(family.message.ends_with("got 401"), "{}", family.message);
}

#[test]
fn jwt_es256_alg_same_family_catches_alg_from_header_with_the_other_curve() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let outcome = es256_against_tenant_api(&["jwt-alg-from-header"]);
    outcome.assert_only_failing(&["alg-same-family"]);
    let family = outcome.case("alg-same-family");
    assert!(
        family.message.ends_with(": the forged token was accepted")
            && family.message.contains("under ES384"),
        "{family:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The independent Python verifier

fn key(name: &str) -> String {
    crate::support::keys_dir().join(name).display().to_string()
}

/// The Python verifier for RS256 with the same trust as tenant-api above, and `bugs`.
fn rs256_verifier(bugs: &[&str]) -> PythonTarget {
    let mut args: Vec<String> = [
        "--alg",
        "RS256",
        "--issuer",
        "https://issuer.test",
        "--audience",
        "tenant-api",
        "--typ",
        "at+jwt",
        "--partner-kid",
        "partner",
        "--partner-audience",
        "partner-api",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["--key-file".into(), key("issuer-rs256.pub.pem")]);
    args.extend(["--partner-key-file".into(), key("other-rs256.pub.pem")]);
    PythonTarget::start("jwt_verifier.py", &args, bugs)
}

fn against_python(bugs: &[&str]) -> Outcome {
    let verifier = rs256_verifier(bugs);
    probe(&config(&format!("{}/me", verifier.base)))
}

#[test]
fn jwt_passes_against_the_strict_python_verifier() {
    let outcome = against_python(&[]);
    outcome.assert_all_pass();
    let names = outcome.names();
    assert_eq!(&names[names.len() - CLASS_CASES.len()..], CLASS_CASES);
}

/// Each bug of the Python verifier and the cases that must catch it.
const PY_BUGS: [(&str, &[&str]); 7] = [
    ("alg-from-header", &["alg-same-family"]),
    ("ignore-crit", &["crit-unknown"]),
    ("no-iat-check", &["iat-future"]),
    ("last-duplicate-wins", &["duplicate-claims"]),
    ("any-typ", &["typ-confusion", "cty-confusion"]),
    ("typ-from-cty", &["cty-confusion"]),
    ("kid-any-audience", &["kid-other-audience"]),
];

#[test]
fn jwt_catches_each_bug_of_the_python_verifier() {
    probes::assert_each_caught(&PY_BUGS, |bug| against_python(&[bug]));
}

/// The HS256 form of the Python verifier: the secret in a file under cargo's test scratch dir.
fn hs256_verifier(bugs: &[&str]) -> (PythonTarget, String) {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("jwt-classes-hs256.secret");
    std::fs::write(&path, format!("{}\n", hs256_secret())).expect("write the HS256 secret");
    let mut args: Vec<String> = ["--alg", "HS256", "--issuer", "https://issuer.test"]
        .map(String::from)
        .to_vec();
    args.extend(["--audience".into(), "tenant-api".into()]);
    args.extend(["--key-file".into(), path.display().to_string()]);
    let verifier = PythonTarget::start("jwt_verifier.py", &args, bugs);
    let config = probes::jwt_hs256_config(&verifier.base, &path);
    (verifier, config)
}

#[test]
fn jwt_against_the_python_verifier_with_hs256_catches_the_hmac_family() {
    let (strict, config) = hs256_verifier(&[]);
    let outcome = probe(&config);
    outcome.assert_all_pass();
    assert!(outcome.case("alg-same-family").sent.contains("\"HS512\""));
    assert!(!outcome.names().contains(&"typ-confusion"));
    assert!(!outcome.names().contains(&"cty-confusion"));
    drop(strict);
    let (lax, config) = hs256_verifier(&["alg-from-header"]);
    let outcome = probe(&config);
    outcome.assert_only_failing(&["alg-same-family"]);
    drop(lax);
}
