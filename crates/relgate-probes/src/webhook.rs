//! The `webhook` probe: unsigned, garbage-signed, wrongly keyed, stale, future, tampered and
//! replayed deliveries to a webhook receiver, each of which must be refused, after a correctly
//! signed fresh delivery has been accepted.
//!
//! Side effect: the positive control is a real delivery that the target accepts. Its default
//! body is an event type no receiver acts on (`relgate.probe`, or GitHub's `ping`), but a
//! receiver that records delivery ids (Svix's `svix-id`) keeps one more id per run, and one
//! more per attack it wrongly accepts.

mod scheme;

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::config::ConfigErrorKind;
use crate::config::{Config, ConfigError, SecretSource};
use crate::duration::format_duration;
use crate::http::{self, Reply, Request};
use crate::probe::{Case, CaseOutcome, Context, Probe};

use scheme::{Scheme, DEFAULT_PLAIN_HEADER, SCHEME_NAMES};

const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How far beyond the tolerance the stale and future timestamps lie, so that a little clock
/// skew between the probe and the target cannot make a correct receiver look lax.
const TIMESTAMP_MARGIN: Duration = Duration::from_secs(60);
/// The negative control's body: whatever a receiver does about signatures, it cannot accept
/// this as an event.
const NOT_JSON: &str = "relgate probe: this is not a webhook delivery";

/// A configured `webhook` probe.
pub(crate) struct WebhookProbe {
    url: String,
    scheme: Scheme,
    secret: SecretSource,
    /// The control delivery's JSON body; `None`: the scheme's harmless default.
    body: Option<String>,
    headers: Vec<(String, String)>,
    /// `Some` exactly when the scheme signs a timestamp.
    tolerance: Option<Duration>,
    future_timestamp: bool,
    replayed_id: bool,
    accepted: Statuses,
    refused: Statuses,
    request_timeout: Duration,
}

/// Statuses that count as accepted or as refused: `204`, `"2xx"`, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statuses(Vec<StatusPattern>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusPattern {
    Exact(u16),
    /// `Class(4)` is `4xx`.
    Class(u16),
}

/// How the target answered one delivery.
enum Answer {
    Accepted(u16),
    Refused(u16),
    Neither(u16),
    NotSent(String),
}

/// One delivery sent and what came back.
struct Attempt {
    request: Request,
    reply: Result<Reply, String>,
}

/// What one run needs besides the probe's configuration.
struct Sender<'r> {
    probe: &'r WebhookProbe,
    context: &'r Context<'r>,
    key: Vec<u8>,
    body: Vec<u8>,
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
    fn key(&self, context: &Context<'_>) -> Result<Vec<u8>, String> {
        let raw = self.secret.read(context.root)?;
        let secret = raw.trim_ascii();
        let text = String::from_utf8_lossy(secret);
        context.log.add_secret(&text);
        if let Some(encoded) = text.strip_prefix("whsec_") {
            context.log.add_secret(encoded);
        }
        self.scheme
            .key(secret)
            .map_err(|why| format!("webhook secret from {}: {why}", self.secret.describe()))
    }

    fn body(&self) -> Result<Vec<u8>, String> {
        let body = self
            .body
            .as_deref()
            .unwrap_or_else(|| self.scheme.default_body());
        json_object(body).map_err(|why| format!("`body` {why}"))?;
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
        if self.replayed_id {
            names.push("replayed-id");
        }
        names.into_iter().map(String::from).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "`url` must be an http:// or https:// URL, not `{}`",
                self.url
            ));
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

impl Sender<'_> {
    /// Every attack but the replay: case name, what is sent (after "with"), the request.
    fn attacks(&self) -> Vec<(&'static str, String, Request)> {
        let probe = self.probe;
        let body = self.body.as_slice();
        let mut attacks = vec![
            (
                "unsigned",
                "an unsigned delivery".to_string(),
                self.unsigned(body),
            ),
            (
                "bad-signature",
                "a delivery whose signature is random bytes".to_string(),
                self.garbage_signed(body),
            ),
            (
                "wrong-secret",
                "a delivery signed with another secret".to_string(),
                self.signed_with(&random_bytes(), now(), body, body),
            ),
        ];
        if let Some(tolerance) = probe.tolerance {
            let offset = tolerance + TIMESTAMP_MARGIN;
            let seconds = offset.as_secs() as i64;
            let why = format!(
                "(tolerance {} + {})",
                format_duration(tolerance),
                format_duration(TIMESTAMP_MARGIN)
            );
            attacks.push((
                "stale-timestamp",
                format!(
                    "a correctly signed delivery timestamped {} ago {why}",
                    format_duration(offset)
                ),
                self.signed(now() - seconds, body),
            ));
            if probe.future_timestamp {
                attacks.push((
                    "future-timestamp",
                    format!(
                        "a correctly signed delivery timestamped {} ahead {why}",
                        format_duration(offset)
                    ),
                    self.signed(now() + seconds, body),
                ));
            }
        }
        attacks.push((
            "body-tampered",
            "a delivery whose body was changed after signing".to_string(),
            self.signed_with(&self.key, now(), body, &tamper(body)),
        ));
        attacks
    }

    /// A fresh delivery of `body` signed with the right key at `timestamp`.
    fn signed(&self, timestamp: i64, body: &[u8]) -> Request {
        self.signed_with(&self.key, timestamp, body, body)
    }

    /// A fresh delivery of `sent` carrying the signature, with `key`, of `signed`.
    fn signed_with(&self, key: &[u8], timestamp: i64, signed: &[u8], sent: &[u8]) -> Request {
        let id = self.probe.scheme.delivery_id(&random_bytes());
        let signature = self.probe.scheme.sign(key, &id, timestamp, signed);
        self.request(&id, timestamp, Some(signature), sent)
    }

    fn garbage_signed(&self, body: &[u8]) -> Request {
        let id = self.probe.scheme.delivery_id(&random_bytes());
        let timestamp = now();
        let signature = self.probe.scheme.garbage(&random_bytes(), timestamp);
        self.request(&id, timestamp, Some(signature), body)
    }

    fn unsigned(&self, body: &[u8]) -> Request {
        let id = self.probe.scheme.delivery_id(&random_bytes());
        self.request(&id, now(), None, body)
    }

    fn request(&self, id: &str, timestamp: i64, signature: Option<String>, body: &[u8]) -> Request {
        let scheme = &self.probe.scheme;
        let mut request = Request::new("POST", &self.probe.url);
        for (name, value) in &self.probe.headers {
            request = request.header(name, value.as_str());
        }
        for (name, value) in scheme.stamp_headers(id, timestamp) {
            request = request.header(&name, value);
        }
        if let Some(signature) = signature {
            self.context.log.add_secret(scheme.mac_text(&signature));
            request = request.header(scheme.signature_header(), signature);
        }
        request.body(body.to_vec())
    }

    fn send(&self, case: &str, request: Request) -> Attempt {
        let log = self.context.log;
        log.line(&format!("{case}: {}", request.describe()));
        let reply = http::send(&request, self.probe.request_timeout, self.context.deadline);
        let attempt = Attempt { request, reply };
        log.line(&format!("{case}: -> {}", attempt.got()));
        attempt
    }
}

impl Attempt {
    fn got(&self) -> String {
        match &self.reply {
            Ok(reply) => reply.describe(),
            Err(err) => format!("not sent: {err}"),
        }
    }
}

impl Statuses {
    fn class(hundreds: u16) -> Statuses {
        Statuses(vec![StatusPattern::Class(hundreds)])
    }

    fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|pattern| match pattern {
            StatusPattern::Exact(exact) => *exact == status,
            StatusPattern::Class(hundreds) => status / 100 == *hundreds,
        })
    }

    /// `2xx`, `200, 204`.
    fn describe(&self) -> String {
        let shown: Vec<String> = self
            .0
            .iter()
            .map(|pattern| match pattern {
                StatusPattern::Exact(exact) => exact.to_string(),
                StatusPattern::Class(hundreds) => format!("{hundreds}xx"),
            })
            .collect();
        shown.join(", ")
    }
}

/// `204` or `2xx`.
fn parse_status(text: &str) -> Option<StatusPattern> {
    let text = text.trim();
    let digits = text.as_bytes();
    match digits {
        [class @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
            Some(StatusPattern::Class(u16::from(class - b'0')))
        }
        [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9'] => text.parse().ok().map(StatusPattern::Exact),
        _ => None,
    }
}

/// The raw value of `key`, marked as read. `Config`'s getters are typed, and this probe takes
/// keys of several shapes (`accepted = 204` or `["2xx", 301]`, `body` as a string or a table).
fn raw_value<'a>(config: &mut Config<'a>, key: &'static str) -> Option<&'a toml::Value> {
    // Any typed getter records the key as read whatever its type; its result is not needed.
    let _ = config.boolean(key);
    config
        .entries()
        .into_iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
}

fn read_statuses(
    config: &mut Config<'_>,
    key: &'static str,
) -> Result<Option<Statuses>, ConfigError> {
    let Some(value) = raw_value(config, key) else {
        return Ok(None);
    };
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.is_empty() {
        return Err(config.error(
            key,
            ConfigErrorKind::InvalidValue,
            "give at least one status",
        ));
    }
    let mut patterns = Vec::new();
    for item in items {
        let pattern = match item {
            toml::Value::Integer(status) => u16::try_from(*status)
                .ok()
                .filter(|status| (100..=599).contains(status))
                .map(StatusPattern::Exact),
            toml::Value::String(text) => parse_status(text),
            _ => None,
        };
        match pattern {
            Some(pattern) => patterns.push(pattern),
            None => {
                return Err(config.error(
                    key,
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "expected an HTTP status (204), a class (\"2xx\") or an array of them, found {item}"
                    ),
                ))
            }
        }
    }
    Ok(Some(Statuses(patterns)))
}

fn read_body(config: &mut Config<'_>) -> Result<Option<String>, ConfigError> {
    match raw_value(config, "body") {
        None => Ok(None),
        Some(toml::Value::String(text)) => {
            // `${…}` references are interpolated at run time; the JSON is checked then.
            if !text.contains("${") {
                json_object(text)
                    .map_err(|why| config.error("body", ConfigErrorKind::InvalidValue, why))?;
            }
            Ok(Some(text.clone()))
        }
        Some(toml::Value::Table(table)) => serde_json::to_string(table).map(Some).map_err(|err| {
            config.error(
                "body",
                ConfigErrorKind::InvalidValue,
                format!("cannot be written as JSON: {err}"),
            )
        }),
        Some(other) => Err(config.error(
            "body",
            ConfigErrorKind::InvalidValue,
            format!(
                "expected a JSON object as a string or a table, found {}",
                other.type_str()
            ),
        )),
    }
}

fn read_headers(
    config: &mut Config<'_>,
    scheme: &Scheme,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers: Vec<(String, String)> = scheme
        .default_headers()
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let Some(mut table) = config.table("headers")? else {
        return Ok(headers);
    };
    for (name, value) in table.entries() {
        let toml::Value::String(text) = value else {
            return Err(table.error(
                &name,
                ConfigErrorKind::InvalidValue,
                format!("expected a string, found {}", value.type_str()),
            ));
        };
        let problem = if !is_header_name(&name) {
            Some(format!("`{name}` is not a valid HTTP header name"))
        } else if has_line_break(text) {
            Some("a header value cannot hold a line break".to_string())
        } else if scheme
            .managed_headers()
            .iter()
            .any(|managed| managed.eq_ignore_ascii_case(&name))
        {
            Some(format!(
                "`{name}` is set by the {} scheme for each delivery",
                scheme.name()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(table.error(&name, ConfigErrorKind::InvalidValue, problem));
        }
        headers.retain(|(known, _)| !known.eq_ignore_ascii_case(&name));
        headers.push((name, text.clone()));
    }
    Ok(headers)
}

/// The body as a JSON object, or why it is not one.
fn json_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err("must be a JSON object (`{…}`)".to_string()),
        Err(err) => Err(format!("is not JSON: {err}")),
    }
}

/// The body with one more member, so that its old signature no longer covers it; still the
/// same harmless event.
fn tamper(body: &[u8]) -> Vec<u8> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).unwrap_or_default();
    object.insert(
        "relgate_tampered".to_string(),
        serde_json::Value::Bool(true),
    );
    serde_json::to_vec(&object).unwrap_or_else(|_| body.to_vec())
}

/// RFC 9110 token characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn has_line_break(text: &str) -> bool {
    text.contains(['\r', '\n'])
}

/// Seconds since the epoch.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// 32 unpredictable bytes for delivery ids, garbage signatures and the wrong secret. None of
/// them protects anything, so the standard library's per-process random hash keys, the time
/// and a counter are enough; no RNG crate needed.
fn random_bytes() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(count);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    let digest = Sha256::new()
        .chain_update(hasher.finish().to_le_bytes())
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .chain_update(count.to_le_bytes())
        .finalize();
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&digest);
    bytes
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
        let all = [
            "controls",
            "unsigned",
            "bad-signature",
            "wrong-secret",
            "stale-timestamp",
            "future-timestamp",
            "body-tampered",
            "replayed-id",
        ];
        assert_eq!(cases(SVIX), all);
        let stripe = SVIX.replace("svix", "stripe");
        assert_eq!(
            cases(&stripe),
            [&all[..5], &all[6..7]].concat(),
            "stripe: no future bound, no signed id"
        );
        let github = SVIX.replace("svix", "github");
        assert_eq!(cases(&github), [&all[..4], &all[6..7]].concat());
        let plain = format!(
            "{}replayed_id = true\n",
            SVIX.replace("svix", "hmac-sha256")
        );
        assert_eq!(cases(&plain), [&all[..4], &all[6..]].concat());
        let stripe_future = format!("{stripe}future_timestamp = true\n");
        assert_eq!(cases(&stripe_future), [&all[..7]].concat());
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

    #[test]
    fn statuses_parse() {
        assert_eq!(parse_status("2xx"), Some(StatusPattern::Class(2)));
        assert_eq!(parse_status("204"), Some(StatusPattern::Exact(204)));
        for bad in ["6xx", "0xx", "20", "2040", "abc", "xx"] {
            assert_eq!(parse_status(bad), None, "{bad}");
        }
    }

    #[test]
    fn tampering_keeps_the_event_and_changes_the_bytes() {
        let body = br#"{"type":"relgate.probe","data":{}}"#;
        let tampered = tamper(body);
        assert_ne!(tampered, body);
        let value: serde_json::Value = serde_json::from_slice(&tampered).unwrap();
        assert_eq!(value["type"], "relgate.probe");
        assert_eq!(value["relgate_tampered"], true);
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random_bytes(), random_bytes());
    }
}
