//! What the probe proof tests share: running a relgate probe from its packets.toml text,
//! the cases it returned with assertions on them, and fingerprints of tables that a probe run
//! must leave unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postgres::Client;
use relgate_probes::redact::Redactor;
use relgate_probes::{Case, CaseOutcome, Context, Log};

use super::Database;

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
