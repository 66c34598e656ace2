//! The `webhook` probe against tiny receivers over 127.0.0.1 for the schemes the reference
//! service does not speak (Stripe, GitHub, plain HMAC-SHA256). Each strict receiver verifies the
//! way the provider's own library does — Stripe: any `v1` over `{t}.{body}` keyed with the whole
//! `whsec_` secret, then `now - t <= 300`, future timestamps allowed; GitHub and plain: the
//! HMAC of the body compared in constant time — and the probe must pass against it. Each lax
//! variant drops one check, and the probe must fail, naming the case that caught it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use relgate_probes::{Case, CaseOutcome};
use sha2::Sha256;

use crate::support::{assert_failing, case, names, probe_webhook};

const STRIPE_SECRET: &str = "whsec_relgateStripeTestSecret0123456789";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const PLAIN_SECRET: &str = "relgate-plain-secret";
/// Stripe's libraries' default tolerance.
const STRIPE_TOLERANCE: i64 = 300;

#[derive(Debug, Clone, Copy)]
enum Provider {
    Stripe,
    Github,
    Plain {
        header: &'static str,
        prefix: &'static str,
    },
}

/// Which checks a receiver performs; `strict()` is what the provider's library does.
#[derive(Debug, Clone, Copy)]
struct Checks {
    signature: bool,
    tolerance: bool,
    /// Refuse a delivery id seen before (`X-GitHub-Delivery`); providers' libraries do not.
    dedupe: bool,
    /// Accept anything at all, not even parsing the body.
    accept_all: bool,
}

impl Checks {
    fn strict() -> Checks {
        Checks {
            signature: true,
            tolerance: true,
            dedupe: false,
            accept_all: false,
        }
    }

    /// `strict()` with `change` made: one check dropped (or, for `dedupe`, added).
    fn strict_but(change: impl FnOnce(&mut Checks)) -> Checks {
        let mut checks = Checks::strict();
        change(&mut checks);
        checks
    }

    fn without_signature() -> Checks {
        Checks::strict_but(|checks| checks.signature = false)
    }
}

/// A webhook receiver on 127.0.0.1 that runs until dropped.
struct Receiver {
    url: String,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(provider: Provider, secret: &'static str, checks: Checks) -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let serving = Arc::clone(&server);
        let seen = Mutex::new(HashSet::new());
        let thread = std::thread::spawn(move || {
            for mut request in serving.incoming_requests() {
                let mut body = Vec::new();
                let status = match request.as_reader().read_to_end(&mut body) {
                    Ok(_) => receive(provider, secret, checks, &request, &body, &seen),
                    Err(_) => 400,
                };
                let _ = request.respond(tiny_http::Response::empty(status));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/webhooks"),
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn header<'r>(request: &'r tiny_http::Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|header| header.field.equiv(name))
        .map(|header| header.value.as_str())
}

fn mac(secret: &str, message: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(message);
    mac
}

/// Constant-time comparison of a hex signature with the lowercase hex the provider computes, as
/// GitHub's documented check (`hmac.compare_digest` of the hex strings) and Stripe's libraries
/// (`secure_compare` of the strings) do: other letter case is another signature.
fn hex_matches(secret: &str, message: &[u8], signature: &str) -> bool {
    let expected = hex::encode(mac(secret, message).finalize().into_bytes());
    expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The status a receiver answers: 200 accepted, 400 refused.
fn receive(
    provider: Provider,
    secret: &str,
    checks: Checks,
    request: &tiny_http::Request,
    body: &[u8],
    seen: &Mutex<HashSet<String>>,
) -> u16 {
    if checks.accept_all {
        return 200;
    }
    let verified = match provider {
        Provider::Stripe => {
            verify_stripe(secret, checks, header(request, "Stripe-Signature"), body)
        }
        Provider::Github => {
            let signature = header(request, "X-Hub-Signature-256")
                .and_then(|value| value.strip_prefix("sha256="));
            !checks.signature || signature.is_some_and(|hex| hex_matches(secret, body, hex))
        }
        Provider::Plain {
            header: name,
            prefix,
        } => {
            let signature = header(request, name).and_then(|value| value.strip_prefix(prefix));
            !checks.signature || signature.is_some_and(|hex| hex_matches(secret, body, hex))
        }
    };
    if !verified || serde_json::from_slice::<serde_json::Value>(body).is_err() {
        return 400;
    }
    if checks.dedupe {
        let id = header(request, "X-GitHub-Delivery")
            .unwrap_or_default()
            .to_string();
        if !seen.lock().expect("not poisoned").insert(id) {
            return 400;
        }
    }
    200
}

/// Stripe's `verifyHeader`: parse `t=` and every `v1=`, compare each with the expected
/// signature, then bound only the age of `t`.
fn verify_stripe(secret: &str, checks: Checks, header: Option<&str>, body: &[u8]) -> bool {
    if !checks.signature {
        return true;
    }
    let Some(header) = header else {
        return false;
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    let signed = [format!("{timestamp}.").as_bytes(), body].concat();
    if !signatures
        .iter()
        .any(|hex| hex_matches(secret, &signed, hex))
    {
        return false;
    }
    !checks.tolerance || now() - timestamp <= STRIPE_TOLERANCE
}

/// Runs the probe with `check` (a packets.toml check table without `url` and `secret`)
/// against `receiver`, the secret in a file of a fresh gate root; the secret may show nowhere.
fn probe(receiver: &Receiver, secret: &str, check: &str) -> Vec<Case> {
    probe_webhook(
        &format!("url = \"{}\"\n{check}", receiver.url),
        secret,
        secret,
    )
}

/// The `scheme` lines of the checks for each kind of receiver.
const STRIPE: &str = "scheme = \"stripe\"\n";
const GITHUB: &str = "scheme = \"github\"\n";
const PLAIN: &str = "scheme = \"hmac-sha256\"\n";

/// A plain HMAC receiver with the probe's default header and no prefix.
const PLAIN_DEFAULT: Provider = Provider::Plain {
    header: "X-Signature",
    prefix: "",
};

/// Starts a receiver of `provider` with `checks` and its secret, and runs the probe with
/// `check` against it.
fn probe_receiver(provider: Provider, checks: Checks, check: &str) -> Vec<Case> {
    let secret = match provider {
        Provider::Stripe => STRIPE_SECRET,
        Provider::Github => GITHUB_SECRET,
        Provider::Plain { .. } => PLAIN_SECRET,
    };
    probe(&Receiver::start(provider, secret, checks), secret, check)
}

/// A receiver of `provider` (a hex scheme: GitHub or plain) that skips the signature, probed
/// with `check`: exactly every forgery and every mangled signature fails. Returns the cases.
fn forgeries_fail_without_signature(provider: Provider, check: &str, what: &str) -> Vec<Case> {
    let cases = probe_receiver(provider, Checks::without_signature(), check);
    assert_failing(&cases, &[&FORGERIES[..], &MANGLED].concat(), what);
    cases
}

fn outcome(cases: &[Case], name: &str) -> CaseOutcome {
    case(cases, name).outcome
}

const FORGERIES: [&str; 4] = ["unsigned", "bad-signature", "wrong-secret", "body-tampered"];
/// The correct signature mangled, for every hex scheme.
const MANGLED: [&str; 6] = [
    "empty-signature",
    "truncated-signature",
    "last-char-changed",
    "hex-case",
    "padded-signature",
    "whitespace-signature",
];
/// Stripe's version tags and its timestamp.
const STRIPE_ONLY: [&str; 4] = [
    "unknown-version",
    "several-invalid",
    "missing-timestamp",
    "non-numeric-timestamp",
];

#[test]
fn stripe_strict_receiver_refuses_every_forgery() {
    let cases = probe_receiver(Provider::Stripe, Checks::strict(), STRIPE);
    assert_eq!(
        names(&cases),
        [
            "controls",
            "unsigned",
            "bad-signature",
            "wrong-secret",
            "stale-timestamp",
            "body-tampered",
            "empty-signature",
            "truncated-signature",
            "last-char-changed",
            "hex-case",
            "unknown-version",
            "several-invalid",
            "padded-signature",
            "whitespace-signature",
            "missing-timestamp",
            "non-numeric-timestamp",
        ]
    );
    assert_failing(&cases, &[], "stripe");
    let sent = &cases[0].sent;
    assert!(sent.contains("Stripe-Signature: t="), "{sent}");
    assert!(sent.contains(",v1=[REDACTED]"), "{sent}");
}

#[test]
fn stripe_receiver_skipping_the_signature_fails_the_forgeries() {
    let cases = probe_receiver(Provider::Stripe, Checks::without_signature(), STRIPE);
    // Skipping Stripe's verification skips the timestamp too: it lives in the signed header.
    let failing = [&FORGERIES[..], &["stale-timestamp"], &MANGLED, &STRIPE_ONLY].concat();
    assert_failing(&cases, &failing, "stripe, without signature");
    assert_eq!(outcome(&cases, "unsigned"), CaseOutcome::Fail);
}

#[test]
fn stripe_receiver_without_tolerance_fails_stale_timestamp() {
    let cases = probe_receiver(
        Provider::Stripe,
        Checks::strict_but(|checks| checks.tolerance = false),
        STRIPE,
    );
    assert_failing(&cases, &["stale-timestamp"], "stripe, without tolerance");
}

#[test]
fn stripe_sdk_accepts_future_timestamps_so_the_case_is_opt_in() {
    let check = "scheme = \"stripe\"\nfuture_timestamp = true\n";
    let cases = probe_receiver(Provider::Stripe, Checks::strict(), check);
    // A millisecond timestamp lies far ahead, and the SDK accepts that too.
    assert_failing(
        &cases,
        &["future-timestamp", "millisecond-timestamp"],
        "stripe, future_timestamp",
    );
}

#[test]
fn github_strict_receiver_refuses_every_forgery() {
    let cases = probe_receiver(Provider::Github, Checks::strict(), GITHUB);
    assert_eq!(
        names(&cases),
        [
            "controls",
            "unsigned",
            "bad-signature",
            "wrong-secret",
            "body-tampered",
            "empty-signature",
            "truncated-signature",
            "last-char-changed",
            "hex-case",
            "padded-signature",
            "whitespace-signature",
        ]
    );
    assert_failing(&cases, &[], "github");
    let sent = &cases[0].sent;
    assert!(
        sent.contains("X-Hub-Signature-256: sha256=[REDACTED]"),
        "{sent}"
    );
    assert!(sent.contains("X-GitHub-Event: ping"), "{sent}");
}

#[test]
fn github_receiver_skipping_the_signature_fails_the_forgeries() {
    let cases =
        forgeries_fail_without_signature(Provider::Github, GITHUB, "github, without signature");
    assert_eq!(outcome(&cases, "wrong-secret"), CaseOutcome::Fail);
}

#[test]
fn github_replays_are_checked_when_asked() {
    let check = "scheme = \"github\"\nreplayed_id = true\n";
    let cases = probe_receiver(
        Provider::Github,
        Checks::strict_but(|checks| checks.dedupe = true),
        check,
    );
    assert_failing(&cases, &[], "github, deduping");
    let cases = probe_receiver(Provider::Github, Checks::strict(), check);
    assert_failing(&cases, &["replayed-id"], "github, not deduping");
}

#[test]
fn plain_hmac_strict_receiver_refuses_every_forgery() {
    let cases = probe_receiver(PLAIN_DEFAULT, Checks::strict(), PLAIN);
    assert_failing(&cases, &[], "hmac-sha256");

    let custom = Provider::Plain {
        header: "X-Acme-Signature",
        prefix: "sha256=",
    };
    let receiver = Receiver::start(custom, PLAIN_SECRET, Checks::strict());
    let check = "scheme = \"hmac-sha256\"\nheader = \"X-Acme-Signature\"\nprefix = \"sha256=\"\n";
    let cases = probe(&receiver, PLAIN_SECRET, check);
    assert_failing(&cases, &[], "hmac-sha256, custom header");
    // The same receiver with the prefix forgotten: the control is refused, so nothing passes.
    let cases = probe(
        &receiver,
        PLAIN_SECRET,
        "scheme = \"hmac-sha256\"\nheader = \"X-Acme-Signature\"\n",
    );
    assert!(cases
        .iter()
        .all(|case| case.outcome == CaseOutcome::Inconclusive));
}

#[test]
fn plain_hmac_receiver_skipping_the_signature_fails_the_forgeries() {
    let cases =
        forgeries_fail_without_signature(PLAIN_DEFAULT, PLAIN, "hmac-sha256, without signature");
    assert_eq!(outcome(&cases, "body-tampered"), CaseOutcome::Fail);
}

#[test]
fn a_receiver_accepting_anything_is_inconclusive() {
    let cases = probe_receiver(
        Provider::Github,
        Checks::strict_but(|checks| checks.accept_all = true),
        GITHUB,
    );
    for case in &cases {
        assert_eq!(case.outcome, CaseOutcome::Inconclusive, "{}", case.name);
        assert!(
            case.message.contains("negative control POST")
                && case.message.contains("got 200, not a refusal (4xx)"),
            "{}",
            case.message
        );
    }
}
