//! The `webhook` probe: unsigned, garbage-signed, wrongly keyed, stale, future, tampered and
//! replayed deliveries to a webhook receiver, and the correct signature mangled the way broken
//! comparisons let through (empty, truncated, last character changed, letter case, unknown
//! version, several invalid, padded, whitespace inside) or sent with a missing, non-numeric or millisecond
//! timestamp, each of which must be refused, after a correctly signed fresh delivery has been
//! accepted.
//!
//! Side effect: the positive control is a real delivery that the target accepts. Its default
//! body is an event type no receiver acts on (`relgate.probe`, or GitHub's `ping`), but a
//! receiver that records delivery ids (Svix's `svix-id`) keeps one more id per run, and one
//! more per attack it wrongly accepts.

mod deliver;
mod forge;
mod keys;
mod scheme;
mod state;

use std::time::Duration;

use crate::config::ConfigErrorKind;
use crate::config::{Config, ConfigError, SecretReadError};
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};

use deliver::now;
pub use keys::BodyError;
use keys::{
    has_line_break, is_header_name, json_object, read_body, read_headers, read_statuses, Statuses,
};
pub use scheme::SchemeKeyError;
use scheme::{Scheme, DEFAULT_PLAIN_HEADER, SCHEME_NAMES};
pub(crate) use state::WebhookProbe;
use state::{Attempt, Sender};

const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The negative control's body: whatever a receiver does about signatures, it cannot accept
/// this as an event.
const NOT_JSON: &str = "relgate probe: this is not a webhook delivery";

/// Why the `webhook` probe could not run: its secret or body is unusable, or its URL is not
/// HTTP.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret cannot be read.
    #[error(transparent)]
    Secret(#[from] SecretReadError),
    /// The secret is no key for the scheme (`from` names its source).
    #[error("webhook secret from {from}: {source}")]
    Key {
        from: String,
        #[source]
        source: SchemeKeyError,
    },
    /// The control body (after interpolation) is not a JSON object.
    #[error("`body` {0}")]
    Body(#[source] BodyError),
    /// `url` (after interpolation) is not an http:// or https:// URL.
    #[error("`url` must be an http:// or https:// URL, not `{url}`")]
    NotHttp { url: String },
}

crate::probe::into_probe_error!(WebhookError);

/// How the target answered one delivery.
enum Answer {
    Accepted(u16),
    Refused(u16),
    Neither(u16),
    NotSent(String),
}

impl WebhookProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let url = config.required_string("url")?;
        let scheme_name = config.required_string("scheme")?;
        let header = config.string("header")?;
        let prefix = config.string("prefix")?;
        let scheme = match scheme_name.as_str() {
            "svix" => Scheme::Svix,
            "stripe" => Scheme::Stripe,
            "github" => Scheme::Github,
            "hmac-sha256" => Scheme::Plain {
                header: header
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PLAIN_HEADER.to_string()),
                prefix: prefix.clone().unwrap_or_default(),
            },
            other => {
                return Err(config.error(
                    "scheme",
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "unknown scheme `{other}` (expected one of {})",
                        SCHEME_NAMES.join(", ")
                    ),
                ))
            }
        };
        let plain = matches!(scheme, Scheme::Plain { .. });
        for (key, given) in [("header", &header), ("prefix", &prefix)] {
            if given.is_some() && !plain {
                return Err(config.error(
                    key,
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "only the hmac-sha256 scheme takes `{key}`; the {} scheme signs in {}",
                        scheme.name(),
                        scheme.signature_header()
                    ),
                ));
            }
        }
        if let Some(header) = &header {
            if !is_header_name(header) {
                return Err(config.error(
                    "header",
                    ConfigErrorKind::InvalidValue,
                    format!("`{header}` is not a valid HTTP header name"),
                ));
            }
        }
        if prefix.as_deref().is_some_and(has_line_break) {
            return Err(config.error(
                "prefix",
                ConfigErrorKind::InvalidValue,
                "a header value cannot hold a line break",
            ));
        }
        let secret = config.secret("secret")?;
        let secret = config.require("secret", secret)?;
        let body = read_body(config)?;
        let headers = read_headers(config, &scheme)?;

        let tolerance = config.duration("tolerance")?;
        let future_timestamp = config.boolean("future_timestamp")?;
        let replayed_id = config.boolean("replayed_id")?;
        let tolerance = if scheme.signs_timestamp() {
            Some(tolerance.unwrap_or(DEFAULT_TOLERANCE))
        } else {
            for (key, given) in [
                ("tolerance", tolerance.is_some()),
                ("future_timestamp", future_timestamp == Some(true)),
            ] {
                if given {
                    return Err(config.error(
                        key,
                        ConfigErrorKind::InvalidValue,
                        format!(
                            "the {} scheme signs no timestamp, so there is none to bound; remove `{key}`",
                            scheme.name()
                        ),
                    ));
                }
            }
            None
        };
        let future_timestamp =
            tolerance.is_some() && future_timestamp.unwrap_or(scheme.bounds_future());
        let replayed_id = replayed_id.unwrap_or(scheme.signs_id());

        let accepted = read_statuses(config, "accepted")?.unwrap_or(Statuses::class(2));
        let refused = read_statuses(config, "refused")?.unwrap_or(Statuses::class(4));
        if let Some(both) = (100..=599).find(|s| accepted.contains(*s) && refused.contains(*s)) {
            return Err(config.error(
                "refused",
                ConfigErrorKind::InvalidValue,
                format!("status {both} would count as both accepted and refused"),
            ));
        }
        let request_timeout = config
            .duration("request_timeout")?
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        Ok(WebhookProbe {
            url,
            scheme,
            secret,
            body,
            headers,
            tolerance,
            future_timestamp,
            replayed_id,
            accepted,
            refused,
            request_timeout,
        })
    }

    /// The HMAC key, after registering the secret with the log.
    fn key(&self, context: &Context<'_>) -> Result<Vec<u8>, WebhookError> {
        let raw = self.secret.read(context.root)?;
        let secret = raw.trim_ascii();
        let text = String::from_utf8_lossy(secret);
        context.log.add_secret(&text);
        if let Some(encoded) = text.strip_prefix("whsec_") {
            context.log.add_secret(encoded);
        }
        self.scheme.key(secret).map_err(|source| WebhookError::Key {
            from: self.secret.describe(),
            source,
        })
    }

    fn body(&self) -> Result<Vec<u8>, WebhookError> {
        let body = self
            .body
            .as_deref()
            .unwrap_or_else(|| self.scheme.default_body());
        json_object(body).map_err(WebhookError::Body)?;
        Ok(body.as_bytes().to_vec())
    }

    fn answer(&self, attempt: &Attempt) -> Answer {
        match &attempt.reply {
            Err(err) => Answer::NotSent(err.clone()),
            Ok(reply) if self.accepted.contains(reply.status) => Answer::Accepted(reply.status),
            Ok(reply) if self.refused.contains(reply.status) => Answer::Refused(reply.status),
            Ok(reply) => Answer::Neither(reply.status),
        }
    }

    /// The `controls` case, and `Err(why)` when a control misbehaved.
    fn controls(&self, positive: &Attempt, negative: &Attempt) -> (Case, Result<(), String>) {
        let positive_what = format!(
            "positive control POST {} with a correctly signed fresh delivery",
            self.url
        );
        let negative_what = format!(
            "negative control POST {} with an unsigned delivery whose body is not JSON",
            self.url
        );
        let problem = match (self.answer(positive), self.answer(negative)) {
            (Answer::Accepted(accepted), Answer::Refused(refused)) => Ok(format!(
                "{positive_what} got {accepted}: accepted; {negative_what} got {refused}: refused"
            )),
            (Answer::NotSent(err), _) => Err(format!("{positive_what} could not be sent: {err}")),
            (Answer::Refused(status) | Answer::Neither(status), _) => Err(format!(
                "{positive_what} got {status}, not accepted ({}): check `url`, `scheme` and `secret`",
                self.accepted.describe()
            )),
            (Answer::Accepted(_), Answer::NotSent(err)) => {
                Err(format!("{negative_what} could not be sent: {err}"))
            }
            (Answer::Accepted(_), Answer::Accepted(status) | Answer::Neither(status)) => {
                Err(format!(
                    "{negative_what} got {status}, not a refusal ({}): the URL may accept anything",
                    self.refused.describe()
                ))
            }
        };
        let (outcome, message, verdict) = match problem {
            Ok(message) => (CaseOutcome::Pass, message, Ok(())),
            Err(why) => (
                CaseOutcome::Inconclusive,
                format!("inconclusive: {why}"),
                Err(why),
            ),
        };
        let case = Case {
            name: "controls".to_string(),
            outcome,
            message,
            sent: format!(
                "{}\n\n{}",
                positive.request.describe(),
                negative.request.describe()
            ),
            got: format!("positive: {}\nnegative: {}", positive.got(), negative.got()),
        };
        (case, verdict)
    }

    /// The case for an attack delivery that must be refused.
    fn attack_case(&self, name: &str, what: &str, attempt: &Attempt) -> Case {
        let what = format!("POST {} with {what}", self.url);
        let (outcome, message) = match self.answer(attempt) {
            Answer::Refused(status) => (CaseOutcome::Pass, format!("{what} got {status}: refused")),
            Answer::Accepted(status) => {
                (CaseOutcome::Fail, format!("{what} got {status}: accepted"))
            }
            Answer::Neither(status) => (
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: {what} got {status}, neither accepted ({}) nor refused ({})",
                    self.accepted.describe(),
                    self.refused.describe()
                ),
            ),
            Answer::NotSent(err) => (
                CaseOutcome::Inconclusive,
                format!("inconclusive: {what} could not be sent: {err}"),
            ),
        };
        Case {
            name: name.to_string(),
            outcome,
            message,
            sent: attempt.request.describe(),
            got: attempt.got(),
        }
    }
}

impl Probe for WebhookProbe {
    fn cases(&self) -> Vec<String> {
        let mut names = vec!["controls", "unsigned", "bad-signature", "wrong-secret"];
        if self.tolerance.is_some() {
            names.push("stale-timestamp");
        }
        if self.future_timestamp {
            names.push("future-timestamp");
        }
        names.push("body-tampered");
        names.extend(forge::signature_cases(
            self.scheme.hex(),
            self.scheme.versioned(),
        ));
        names.extend(forge::timestamp_cases(
            self.scheme.signs_timestamp(),
            self.future_timestamp,
        ));
        if self.replayed_id {
            names.push("replayed-id");
        }
        names.into_iter().map(String::from).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(WebhookError::NotHttp {
                url: self.url.clone(),
            }
            .into());
        }
        let sender = Sender {
            probe: self,
            context,
            key: self.key(context)?,
            body: self.body()?,
        };
        let positive = sender.send("controls", sender.signed(now(), &sender.body));
        let negative = sender.send("controls", sender.unsigned(NOT_JSON.as_bytes()));
        let (controls, verdict) = self.controls(&positive, &negative);
        let mut cases = vec![controls];
        if let Err(why) = verdict {
            for name in self.cases().into_iter().skip(1) {
                cases.push(Case {
                    name,
                    outcome: CaseOutcome::Inconclusive,
                    message: format!("inconclusive: {why}"),
                    sent: String::new(),
                    got: String::new(),
                });
            }
            return Ok(cases);
        }

        // The replay goes first, while the control's timestamp is surely within tolerance: a
        // refusal for staleness would prove nothing about replays.
        if self.replayed_id {
            let attempt = sender.send("replayed-id", positive.request.clone());
            cases.push(self.attack_case(
                "replayed-id",
                "the positive control's accepted delivery again, unchanged (same id, timestamp and signature)",
                &attempt,
            ));
        }
        let attacks = sender.attacks();
        for (name, what, request) in attacks {
            let attempt = sender.send(name, request);
            cases.push(self.attack_case(name, &what, &attempt));
        }
        Ok(cases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<WebhookProbe, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        let mut config = Config::new(&table);
        let probe = WebhookProbe::configure(&mut config)?;
        config.finish()?;
        Ok(probe)
    }

    fn cases(text: &str) -> Vec<String> {
        configure(text).unwrap().cases()
    }

    fn error(text: &str) -> String {
        match configure(text) {
            Ok(_) => panic!("configured: {text}"),
            Err(err) => err.to_string(),
        }
    }

    const SVIX: &str =
        "url = \"${api.url}/webhooks/clerk\"\nscheme = \"svix\"\nsecret = { file = \"k\" }\n";

    #[test]
    fn cases_depend_on_the_scheme() {
        let forgeries = ["controls", "unsigned", "bad-signature", "wrong-secret"];
        let mangled = [
            "empty-signature",
            "truncated-signature",
            "last-char-changed",
        ];
        let tagged = [
            "unknown-version",
            "several-invalid",
            "padded-signature",
            "whitespace-signature",
        ];
        let timestamps = ["missing-timestamp", "non-numeric-timestamp"];
        let svix = [
            &forgeries[..],
            &["stale-timestamp", "future-timestamp", "body-tampered"],
            &mangled,
            &["base64-case"],
            &tagged,
            &timestamps,
            &["millisecond-timestamp", "replayed-id"],
        ]
        .concat();
        assert_eq!(cases(SVIX), svix);
        let stripe = SVIX.replace("svix", "stripe");
        assert_eq!(
            cases(&stripe),
            [
                &forgeries[..],
                &["stale-timestamp", "body-tampered"],
                &mangled,
                &["hex-case"],
                &tagged,
                &timestamps,
            ]
            .concat(),
            "stripe: no future bound (so no millisecond case), no signed id"
        );
        let untagged = [
            &forgeries[..],
            &["body-tampered"],
            &mangled,
            &["hex-case", "padded-signature", "whitespace-signature"],
        ]
        .concat();
        let github = SVIX.replace("svix", "github");
        assert_eq!(cases(&github), untagged);
        let plain = format!(
            "{}replayed_id = true\n",
            SVIX.replace("svix", "hmac-sha256")
        );
        assert_eq!(cases(&plain), [&untagged[..], &["replayed-id"]].concat());
        let stripe_future = format!("{stripe}future_timestamp = true\n");
        assert_eq!(
            cases(&stripe_future),
            [
                &forgeries[..],
                &["stale-timestamp", "future-timestamp", "body-tampered"],
                &mangled,
                &["hex-case"],
                &tagged,
                &timestamps,
                &["millisecond-timestamp"],
            ]
            .concat()
        );
    }

    #[test]
    fn configuration_errors_name_the_key() {
        for (extra, expected) in [
            ("scheme2 = 1\n", "`scheme2`: unknown key"),
            ("tolerance = \"5\"\n", "`tolerance`: missing unit"),
            ("accepted = [200, \"3xx\", 99]\n", "`accepted`: expected an HTTP status (204), a class (\"2xx\") or an array of them, found 99"),
            ("accepted = []\n", "`accepted`: give at least one status"),
            ("refused = \"2xx\"\n", "`refused`: status 200 would count as both"),
            ("body = \"{not json\"\n", "`body`: is not JSON"),
            ("body = \"[1]\"\n", "`body`: must be a JSON object"),
            ("body = 3\n", "`body`: expected a JSON object as a string or a table, found integer"),
            ("header = \"X-Sig\"\n", "`header`: only the hmac-sha256 scheme takes `header`; the svix scheme signs in svix-signature"),
            ("headers = { svix-id = \"x\" }\n", "`headers.svix-id`: `svix-id` is set by the svix scheme"),
            ("headers = { \"bad header\" = \"x\" }\n", "`headers.bad header`: `bad header` is not a valid HTTP header name"),
            ("headers = { X-A = 1 }\n", "`headers.X-A`: expected a string, found integer"),
        ] {
            let got = error(&format!("{SVIX}{extra}"));
            assert!(got.starts_with(expected), "{extra}: {got}");
        }
        let github = SVIX.replace("svix", "github");
        let got = error(&format!("{github}tolerance = \"5m\"\n"));
        assert_eq!(got, "`tolerance`: the github scheme signs no timestamp, so there is none to bound; remove `tolerance`");
        let got = error(&SVIX.replace("svix", "svx"));
        assert_eq!(
            got,
            "`scheme`: unknown scheme `svx` (expected one of svix, stripe, github, hmac-sha256)"
        );
        let got = error("url = \"x\"\nscheme = \"svix\"\n");
        assert_eq!(got, "`secret`: missing key: this probe needs it");
    }

    #[test]
    fn keys_of_every_shape_are_read() {
        let probe = configure(&format!(
            "{}header = \"X-Sig\"\nprefix = \"sha256=\"\naccepted = [200, \"204\"]\nrefused = [\"4xx\", 503]\nbody = {{ type = \"x\", data = {{ n = 1 }} }}\nheaders = {{ Content-Type = \"application/cloudevents+json\", X-Extra = \"1\" }}\nrequest_timeout = \"3s\"\nreplayed_id = false\n",
            SVIX.replace("svix", "hmac-sha256")
        ))
        .unwrap();
        assert!(probe.accepted.contains(204) && !probe.accepted.contains(201));
        assert!(probe.refused.contains(401) && probe.refused.contains(503));
        assert_eq!(probe.refused.describe(), "4xx, 503");
        assert_eq!(
            probe.body.as_deref(),
            Some(r#"{"data":{"n":1},"type":"x"}"#)
        );
        assert_eq!(
            probe.headers,
            [
                (
                    "Content-Type".to_string(),
                    "application/cloudevents+json".to_string()
                ),
                ("X-Extra".to_string(), "1".to_string())
            ]
        );
        assert_eq!(
            probe.scheme,
            Scheme::Plain {
                header: "X-Sig".to_string(),
                prefix: "sha256=".to_string()
            }
        );
        assert_eq!(probe.request_timeout, Duration::from_secs(3));
    }

    #[test]
    fn bodies_with_references_are_checked_at_run_time() {
        assert!(configure(&format!("{SVIX}body = \"{{\\\"org\\\": ${{org.id}}\"\n")).is_ok());
    }
}
