//! Proof for relgate's `webhook` probe against the reference service: every case passes against
//! the hardened Svix receiver, each webhook flaw makes the cases that should catch it fail, a
//! wrong secret makes the probe inconclusive instead of passing, and a run changes no table but
//! `webhook_deliveries` (the positive control's one delivery, the documented side effect).

use std::collections::BTreeMap;

use crate::support::probes::{self, fingerprints, root, Outcome};
use crate::support::{webhook_secret, Database, Service};
use relgate_probes::CaseOutcome;

/// Every table of the service but `webhook_deliveries`, which the control delivery grows.
const UNCHANGED_TABLES: [&str; 11] = [
    "team_members",
    "projects",
    "children",
    "consents",
    "child_records",
    "audit_events",
    "orgs",
    "roles",
    "permissions",
    "role_permissions",
    "audit_chain_head",
];

const ALL_CASES: [&str; 19] = [
    "controls",
    "unsigned",
    "bad-signature",
    "wrong-secret",
    "stale-timestamp",
    "future-timestamp",
    "body-tampered",
    "empty-signature",
    "truncated-signature",
    "last-char-changed",
    "base64-case",
    "unknown-version",
    "several-invalid",
    "padded-signature",
    "whitespace-signature",
    "missing-timestamp",
    "non-numeric-timestamp",
    "millisecond-timestamp",
    "replayed-id",
];

/// The cases that send a correctly timestamped delivery whose signature is not the correct one:
/// a receiver that skips the signature accepts every one of them.
const WRONG_SIGNATURES: [&str; 12] = [
    "unsigned",
    "bad-signature",
    "wrong-secret",
    "body-tampered",
    "empty-signature",
    "truncated-signature",
    "last-char-changed",
    "base64-case",
    "unknown-version",
    "several-invalid",
    "padded-signature",
    "whitespace-signature",
];

/// The check's table as a user writes it, with `${api.url}` already interpolated.
fn check(api_url: &str, secret_file: &str) -> toml::Table {
    format!(
        r#"
url = "{api_url}/webhooks/clerk"
scheme = "svix"
secret = {{ file = "{secret_file}" }}
tolerance = "5m"
"#
    )
    .parse()
    .expect("check table parses")
}

fn run_probe(service: &Service, secret_file: &str) -> Outcome {
    probes::run("webhook", &check(&service.base, secret_file), &root())
}

const SECRET_FILE: &str = "reference/keys/webhook-secret.txt";

/// Row count and checksum of every table that must not change, read as the owner: the
/// throwaway cluster's superuser, whom even forced row-level security does not filter.
fn snapshot(database: &Database) -> BTreeMap<String, (i64, String)> {
    fingerprints(&mut database.owner(), &UNCHANGED_TABLES)
}

fn deliveries(database: &Database) -> Vec<String> {
    database
        .owner()
        .query("select id from webhook_deliveries order by id", &[])
        .expect("read webhook_deliveries")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Runs the probe against the service with `flaws` and checks that it changed nothing but
/// `webhook_deliveries`, which gains exactly `accepted` new `msg_relgate_…` ids.
fn probe_against(flaws: &[&str], accepted: usize) -> Outcome {
    let (service, database) = Service::start(flaws);
    let before = snapshot(&database);
    let deliveries_before = deliveries(&database);
    let run = run_probe(&service, SECRET_FILE);
    assert_eq!(snapshot(&database), before, "a probe run changed a table");
    let new: Vec<String> = deliveries(&database)
        .into_iter()
        .filter(|id| !deliveries_before.contains(id))
        .collect();
    assert_eq!(new.len(), accepted, "new webhook_deliveries: {new:?}");
    assert!(
        new.iter().all(|id| id.starts_with("msg_relgate_")),
        "{new:?}"
    );
    assert_eq!(run.names(), ALL_CASES);
    run
}

#[test]
fn hardened_service_refuses_every_forged_delivery() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let run = probe_against(&[], 1);
    run.assert_only_failing(&[]);

    let secret = webhook_secret();
    let encoded = secret.strip_prefix("whsec_").expect("whsec_ secret");
    run.assert_hides(&[encoded]);
    let controls = run.case("controls");
    assert!(
        controls.sent.contains("svix-signature: v1,[REDACTED]"),
        "{}",
        controls.sent
    );
    assert!(
        run.case("stale-timestamp")
            .message
            .contains("6m ago (tolerance 5m + 1m)"),
        "{}",
        run.case("stale-timestamp").message
    );
    assert!(run.log.contains("replayed-id: -> 400"), "{}", run.log);
}

#[test]
fn flaw_webhook_skip_signature_is_caught() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    // The twelve unsigned or wrongly signed deliveries are accepted besides the control; the
    // malformed timestamps are still refused, before any signature is looked at.
    let run = probe_against(&["webhook-skip-signature"], 13);
    run.assert_only_failing(&WRONG_SIGNATURES);
    assert_eq!(run.outcome("unsigned"), CaseOutcome::Fail);
    assert_eq!(run.outcome("body-tampered"), CaseOutcome::Fail);
    assert!(
        run.case("unsigned")
            .message
            .ends_with("with an unsigned delivery got 204: accepted"),
        "{}",
        run.case("unsigned").message
    );
}

#[test]
fn flaw_webhook_no_tolerance_is_caught() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    // A millisecond timestamp is far ahead: without a tolerance it is accepted too.
    let run = probe_against(&["webhook-no-tolerance"], 4);
    run.assert_only_failing(&[
        "stale-timestamp",
        "future-timestamp",
        "millisecond-timestamp",
    ]);
    assert_eq!(run.outcome("stale-timestamp"), CaseOutcome::Fail);
    assert_eq!(run.outcome("future-timestamp"), CaseOutcome::Fail);
}

#[test]
fn a_wrong_secret_is_inconclusive_not_a_pass() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let (service, database) = Service::start(&[]);
    let file = std::env::temp_dir().join(format!(
        "relgate-probe-webhook-other-secret-{}.txt",
        std::process::id()
    ));
    std::fs::write(&file, "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==\n").expect("write secret");
    let run = run_probe(&service, file.to_str().expect("utf-8 temp path"));
    let _ = std::fs::remove_file(&file);
    for case in &run.cases {
        assert_eq!(case.outcome, CaseOutcome::Inconclusive, "{}", case.name);
        assert!(
            case.message
                .starts_with("inconclusive: positive control POST http://127.0.0.1:")
                && case
                    .message
                    .contains("with a correctly signed fresh delivery got 401"),
            "{}: {}",
            case.name,
            case.message
        );
    }
    assert!(deliveries(&database).is_empty(), "nothing was accepted");
}

/// Runs the probe against the service with `flaw` alone and checks that exactly `failing`
/// fail: each accepted attack adds one delivery besides the control's.
fn assert_caught_by(flaw: &str, failing: &[&str]) {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let run = probe_against(&[flaw], 1 + failing.len());
    run.assert_only_failing(failing);
    for name in failing {
        assert_eq!(run.outcome(name), CaseOutcome::Fail, "{flaw}: {name}");
        assert!(
            run.case(name).message.ends_with("got 204: accepted"),
            "{flaw}: {}",
            run.case(name).message
        );
    }
}

/// One test per flaw: `name: "flaw" => [cases]` is the test `name`, [`assert_caught_by`] with
/// that flaw and those cases.
macro_rules! caught_by {
    ($($test:ident: $flaw:literal => [$($case:literal),+ $(,)?];)+) => {
        $(
            #[test]
            fn $test() {
                assert_caught_by($flaw, &[$($case),+]);
            }
        )+
    };
}

caught_by! {
    flaw_webhook_prefix_compare_is_caught:
        "webhook-prefix-compare" => ["empty-signature", "truncated-signature"];
    flaw_webhook_trailing_ignored_is_caught: "webhook-trailing-ignored" => ["padded-signature"];
    flaw_webhook_off_by_one_is_caught: "webhook-off-by-one" => ["last-char-changed"];
    flaw_webhook_case_insensitive_is_caught: "webhook-case-insensitive" => ["base64-case"];
    flaw_webhook_any_version_is_caught: "webhook-any-version" => ["unknown-version"];
    flaw_webhook_several_format_only_is_caught:
        "webhook-several-format-only" => ["several-invalid"];
    flaw_webhook_lenient_timestamp_is_caught:
        "webhook-lenient-timestamp" => ["missing-timestamp", "non-numeric-timestamp"];
    flaw_webhook_millisecond_timestamp_is_caught:
        "webhook-millisecond-timestamp" => ["millisecond-timestamp"];
    flaw_webhook_strip_whitespace_is_caught:
        "webhook-strip-whitespace" => ["whitespace-signature"];
}
