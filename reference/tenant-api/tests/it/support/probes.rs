//! What the probe proof tests share: running a relgate probe from its packets.toml text (also
//! against a tenant-api started for it, with no token, key or secret in what the probe wrote),
//! the cases it returned with assertions on them, fingerprints of tables that a probe run must
//! leave unchanged, and the configuration lines the identity probes' tests have in common.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postgres::Client;
use relgate_probes::redact::Redactor;
use relgate_probes::{Case, CaseOutcome, Context, Log};

use super::{Database, Service};

/// Cases of one probe run, by name, with the log.
pub struct Outcome {
    pub cases: Vec<Case>,
    pub log: String,
}

impl Outcome {
    /// The case called `name`; panics when there is none.
    pub fn case(&self, name: &str) -> &Case {
        self.cases
            .iter()
            .find(|case| case.name == name)
            .unwrap_or_else(|| panic!("no case {name} in {:#?}", self.cases))
    }

    /// The outcome of the case called `name`.
    pub fn outcome(&self, name: &str) -> CaseOutcome {
        self.case(name).outcome
    }

    /// Case names, in report order.
    pub fn names(&self) -> Vec<&str> {
        self.cases.iter().map(|case| case.name.as_str()).collect()
    }

    pub fn assert_all_pass(&self) {
        for case in &self.cases {
            assert_eq!(
                case.outcome,
                CaseOutcome::Pass,
                "{case:#?}\nlog:\n{}",
                self.log
            );
        }
    }

    /// The case called `name` came out as `outcome`.
    pub fn assert(&self, name: &str, outcome: CaseOutcome) {
        assert_eq!(
            self.outcome(name),
            outcome,
            "{:#?}\nlog:\n{}",
            self.case(name),
            self.log
        );
    }

    /// Exactly the cases in `failing` fail; every other case passes.
    pub fn assert_only_failing(&self, failing: &[&str]) {
        for case in &self.cases {
            let expected = if failing.contains(&case.name.as_str()) {
                CaseOutcome::Fail
            } else {
                CaseOutcome::Pass
            };
            assert_eq!(case.outcome, expected, "{case:#?}\nlog:\n{}", self.log);
        }
        for name in failing {
            self.case(name);
        }
    }

    /// None of `needles` (secrets) anywhere in the log or the cases.
    pub fn assert_hides(&self, needles: &[&str]) {
        let everything = format!("{}{:?}", self.log, self.cases);
        for needle in needles {
            assert!(!everything.contains(needle), "{needle} in:\n{everything}");
        }
    }

    /// No token (`eyJ`), no private key and none of `secrets` anywhere in the log or the cases.
    pub fn assert_hides_tokens_keys_and(&self, secrets: &[&str]) {
        self.assert_hides(&[&["eyJ", "PRIVATE KEY"][..], secrets].concat());
    }
}

/// The workspace root, where `reference/keys/…` resolve as in packets.toml.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `kind` with the check's `table` (references already substituted) from `root`.
pub fn run(kind: &str, table: &toml::Table, root: &Path) -> Outcome {
    let log = Log::new(Redactor::new());
    let context = Context {
        root,
        deadline: Instant::now() + Duration::from_secs(120),
        log: &log,
    };
    let cases = relgate_probes::run(kind, table, &context)
        .unwrap_or_else(|err| panic!("{kind} could not run: {err}\nlog:\n{}", log.text()));
    Outcome {
        cases,
        log: log.text(),
    }
}

/// Checks and runs `kind` with the packets.toml text `config` (references already
/// substituted) from `root`.
pub fn probe(kind: &str, config: &str, root: &Path) -> Outcome {
    let table: toml::Table = config.parse().expect("probe config is TOML");
    relgate_probes::configure(kind, &table).expect("probe config is valid");
    run(kind, &table, root)
}

/// [`probe`] from the workspace [`root`], asserting that no token, key or any of `secrets`
/// shows in the log or the cases.
pub fn probe_hiding(kind: &str, config: &str, secrets: &[&str]) -> Outcome {
    let outcome = probe(kind, config, &root());
    outcome.assert_hides_tokens_keys_and(secrets);
    outcome
}

/// Runs `kind` configured by `config(base)` against tenant-api started with `flaws` and extra
/// command-line `args` on a fresh database ([`probe_unchanged`]: no tenant table changes),
/// asserting that no token, key or any of `secrets` shows in the log or the cases.
pub fn against_tenant_api(
    kind: &str,
    flaws: &[&str],
    args: &[&str],
    config: impl Fn(&str) -> String,
    secrets: &[&str],
) -> Outcome {
    let (service, database) = Service::start_with_args(flaws, args);
    let outcome = probe_unchanged(kind, &config(&service.base), &database, &root());
    outcome.assert_hides_tokens_keys_and(secrets);
    outcome
}

/// The flaw→cases matrix: for each `(flaw, failing)` of `matrix`, the outcome of `run(flaw)` has
/// exactly the `failing` cases fail and every other pass. Returns the outcomes, in matrix order.
pub fn assert_each_caught(
    matrix: &[(&str, &[&str])],
    run: impl Fn(&str) -> Outcome,
) -> Vec<Outcome> {
    matrix
        .iter()
        .map(|(flaw, failing)| {
            eprintln!("--- {flaw}");
            let outcome = run(flaw);
            outcome.assert_only_failing(failing);
            outcome
        })
        .collect()
}

/// Row count and md5 of the ordered rows of every table in `tables`, as the owner.
pub fn fingerprints(owner: &mut Client, tables: &[&str]) -> BTreeMap<String, (i64, String)> {
    tables
        .iter()
        .map(|table| {
            let row = owner
                .query_one(
                    &format!(
                        "select count(*), coalesce(md5(string_agg(t::text, ',' order by t::text)), '') \
                         from {table} t"
                    ),
                    &[],
                )
                .unwrap_or_else(|err| panic!("fingerprint {table}: {err}"));
            (table.to_string(), (row.get(0), row.get(1)))
        })
        .collect()
}

/// Runs a probe against `database` and asserts no tenant table changed (and none is empty, so
/// that the comparison means something).
pub fn probe_unchanged(kind: &str, config: &str, database: &Database, root: &Path) -> Outcome {
    let tables = tenant_api::schema::TENANT_TABLES;
    let mut owner = database.owner();
    let before = fingerprints(&mut owner, &tables);
    let outcome = probe(kind, config, root);
    let after = fingerprints(&mut owner, &tables);
    assert_eq!(
        before, after,
        "{kind} changed tenant rows\nlog:\n{}",
        outcome.log
    );
    assert!(before.values().all(|(rows, _)| *rows > 0));
    outcome
}

// ---------------------------------------------------------------------------------------------
// Configuration lines the identity probes' tests share (tenant-api and the Python targets trust
// the same issuer, audience and keys, and seed the same users)

/// The lines every identity probe's configuration holds: the issuer and audience tenant-api and
/// the Python targets trust, `alg`, and the signing key in `key_file`.
fn issuer_lines(alg: &str, key_file: &str) -> String {
    format!(
        r#"issuer = "https://issuer.test"
audience = "tenant-api"
alg = "{alg}"
key = {{ file = "{key_file}" }}
"#
    )
}

/// The `jwt` probe's configuration for `url` (the whole endpoint) with `alg` (RS256 or ES256):
/// the trusted issuer key of that algorithm and its public half, claims of `admin@org-a`. Tests
/// append their own keys.
pub fn jwt_config(url: &str, alg: &str) -> String {
    let key = format!("reference/keys/issuer-{}", alg.to_lowercase());
    format!(
        r#"
url = "{url}"
{}public_key = {{ file = "{key}.pub.pem" }}
claims = {{ sub = "admin@org-a", org_id = "org-a" }}
"#,
        issuer_lines(alg, &format!("{key}.pem"))
    )
}

/// The `jwt` probe's HS256 configuration for the server at `base` (endpoint `/me`), keyed with
/// the secret in `secret_file`.
pub fn jwt_hs256_config(base: &str, secret_file: &Path) -> String {
    format!(
        r#"
url = "{base}/me"
{}claims = {{ sub = "admin@org-a" }}
"#,
        issuer_lines("HS256", &secret_file.display().to_string())
    )
}

/// The `rbac` probe's configuration for `base` up to its `matrix`: RS256 with the issuer key,
/// the admin, member and viewer of org-a, an unknown role and `GET /v1/me` as the control.
pub fn rbac_config_head(base: &str) -> String {
    format!(
        r#"
base_url = "{base}"
{}roles.admin = {{ sub = "admin@org-a", org_id = "org-a" }}
roles.member = {{ sub = "member@org-a", org_id = "org-a" }}
roles.viewer = {{ sub = "viewer@org-a", org_id = "org-a" }}
unknown_role = {{ sub = "stranger@org-a", org_id = "org-a" }}
control = {{ method = "GET", path = "/v1/me" }}
"#,
        issuer_lines("RS256", "reference/keys/issuer-rs256.pem")
    )
}

/// The `consent` probe's configuration for `base` up to `records_path`: member@org-a reading
/// the records of child-1 (consent given) and child-2 (consent revoked).
pub fn consent_config_head(base: &str) -> String {
    format!(
        r#"
url = "{base}/v1/children/{{child}}/records"
{}claims = {{ sub = "member@org-a", org_id = "org-a" }}
allowed_child = "child-1"
revoked_child = "child-2"
records_path = "/records"
"#,
        issuer_lines("RS256", "reference/keys/issuer-rs256.pem")
    )
}
