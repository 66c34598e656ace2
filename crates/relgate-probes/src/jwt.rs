//! The `jwt` probe: sends one endpoint a valid token (must succeed), no token (must be refused),
//! then forged tokens — expired, not yet valid, wrong issuer or audience, no `exp`, `alg: none`,
//! broken or foreign signatures, HS256 keyed with the public key, hostile `kid`, `jwk` and `jku`
//! headers, a payload changed after signing, an ES256 all-zero signature, and missing or
//! foreign `azp`/`nonce` — each of which must be refused. `classes` adds what a signature does
//! not settle: another algorithm of the family, unknown `crit`, `iat` in the future, a claim
//! named twice, another token type, and a key trusted only for another audience.
//!
//! Forged tokens that jsonwebtoken's `encode` would refuse to make are assembled by hand from
//! base64url segments and signed with `jsonwebtoken::crypto::sign` (or not at all).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

use crate::attempt::{self, Attempt};
use crate::config::{Config, ConfigError};
use crate::config::{ConfigErrorKind, SecretReadError, SecretSource};
use crate::http::Request;
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};
use crate::token::{self, MintConfig, Minter, Object, TokenError};

mod classes;

/// Why the `jwt` probe could not run: a token cannot be minted or forged, the public key cannot
/// be read, the `jku` listener cannot start.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error(transparent)]
    Token(#[from] TokenError),
    /// `public_key` cannot be read.
    #[error("cannot read the public key: {0}")]
    PublicKey(#[source] SecretReadError),
    /// `other_audience_key` cannot be read.
    #[error("cannot read the other audience's key: {0}")]
    OtherKey(#[source] SecretReadError),
    /// `other_curve_key` cannot be read.
    #[error("cannot read the other curve's key: {0}")]
    OtherCurveKey(#[source] SecretReadError),
    /// The `jku` case's JWKS listener cannot start.
    #[error("cannot listen for the jku case: {0}")]
    Listen(#[source] std::io::Error),
    /// A token the probe minted lacks a part it forges from (a bug, not the target's doing).
    #[error("{0}")]
    Malformed(&'static str),
    /// A case name the probe does not know (a bug).
    #[error("unknown case {0}")]
    UnknownCase(String),
}

crate::probe::into_probe_error!(JwtError);

/// The `alg` spellings of the `alg-none` case.
const NONE_SPELLINGS: [&str; 4] = ["none", "None", "NONE", "nOnE"];
/// `kid` of the `kid-traversal` case: a path to an empty file, so a server that reads its key
/// from the path ends up with an empty HMAC key.
const KID_TRAVERSAL: &str = "../../../../../../../../../../dev/null";
/// `kid` of the `kid-injection` case and the HMAC key it makes a vulnerable lookup return.
const KID_INJECTION_KEY: &str = "relgate-kid-injection";
/// `kid` of the attacker's own key in the `embedded-jwk` and `jku` cases.
const ATTACKER_KID: &str = "relgate-attacker";
/// Issuer of the `wrong-iss` case.
const FOREIGN_ISSUER: &str = "https://relgate-attacker.invalid/";
/// Audience of the `wrong-aud` case.
const FOREIGN_AUDIENCE: &str = "relgate-other-audience";
/// `azp` and `nonce` of the `foreign-*` cases.
const FOREIGN_VALUE: &str = "relgate-foreign-value";

/// The `jwt` probe, configured.
pub(crate) struct JwtProbe {
    url: String,
    method: String,
    mint: MintConfig,
    public_key: Option<SecretSource>,
    claims: Object,
    azp: Option<String>,
    nonce: Option<String>,
    typ: Option<String>,
    other_audience: Option<classes::OtherAudience>,
    other_curve: Option<classes::OtherCurve>,
    refused: Vec<u16>,
    timeout: Duration,
}

impl JwtProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let url = config.required_string("url")?;
        let method = attempt::method(config)?;
        let mint = MintConfig::configure(config)?;
        let public_key = config.secret("public_key")?;
        if public_key.is_some() && token::is_hmac(mint.alg()) {
            return Err(config.error(
                "public_key",
                ConfigErrorKind::InvalidValue,
                "`public_key` is for asymmetric algorithms (the hs-public-key case); remove it \
                 or set `alg` to the target's RS/PS/ES/EdDSA algorithm",
            ));
        }
        let claims = token::claims_table(config, "claims")?.unwrap_or_default();
        let azp = config.string("azp")?;
        let nonce = config.string("nonce")?;
        let typ = classes::configure_typ(config)?;
        let other_audience = classes::OtherAudience::configure(config)?;
        let other_curve = classes::OtherCurve::configure(config, mint.alg())?;
        let refused = attempt::statuses(config, "refused", &[401, 403])?;
        let timeout = attempt::request_timeout(config)?;
        Ok(JwtProbe {
            url,
            method,
            mint,
            public_key,
            claims,
            azp,
            nonce,
            typ,
            other_audience,
            other_curve,
            refused,
            timeout,
        })
    }

    /// Claims the valid token carries beyond `iss`/`aud`/`iat`/`exp`.
    fn valid_extra(&self) -> Object {
        let mut extra = self.claims.clone();
        if let Some(azp) = &self.azp {
            extra.insert("azp".into(), json!(azp));
        }
        if let Some(nonce) = &self.nonce {
            extra.insert("nonce".into(), json!(nonce));
        }
        extra
    }

    fn request(&self, token: Option<&str>) -> Request {
        let request = Request::new(&self.method, &self.url);
        match token {
            Some(token) => request.bearer(token),
            None => request,
        }
    }

    fn attempt(&self, context: &Context<'_>, forged: &Forged) -> Attempt {
        context.log.add_secret(&forged.token);
        attempt::send(
            context,
            &self.request(Some(&forged.token)),
            self.timeout,
            format!("{} {} with {}", self.method, self.url, forged.label),
            &token::describe_token(&forged.token),
        )
    }

    /// Sends every forgery of a case; the case passes when each was refused.
    fn judge(&self, context: &Context<'_>, name: &str, forgeries: &[Forged]) -> Case {
        let attempts: Vec<Attempt> = forgeries
            .iter()
            .map(|forged| self.attempt(context, forged))
            .collect();
        let evidence: Vec<&Attempt> = attempts.iter().collect();
        verdict(name, &evidence, &self.refused)
    }

    /// The forged tokens of attack case `name`.
    fn forge(&self, name: &str, forge: &Forge<'_>) -> Result<Vec<Forged>, JwtError> {
        let minter = forge.minter;
        let header = minter.header();
        let now = token::now();
        let with = |changes: Value| forge.claims_with(changes);
        let signed = |label: &str, claims: Object| -> Result<Forged, JwtError> {
            Ok(Forged::new(label, minter.sign(&header, &claims)?))
        };
        let forgeries = match name {
            "expired" => vec![signed(
                "a token that expired an hour ago",
                with(json!({ "iat": now - 7200, "exp": now - 3600 })),
            )?],
            "not-yet-valid" => vec![signed(
                "a token valid only from an hour from now (nbf)",
                with(json!({ "nbf": now + 3600, "exp": now + 7200 })),
            )?],
            "wrong-iss" => vec![signed(
                &format!("a token from issuer {FOREIGN_ISSUER}"),
                with(json!({ "iss": FOREIGN_ISSUER })),
            )?],
            "wrong-aud" => vec![signed(
                &format!("a token for audience {FOREIGN_AUDIENCE}"),
                with(json!({ "aud": FOREIGN_AUDIENCE })),
            )?],
            "missing-exp" => vec![signed("a token without exp", with(json!({ "exp": null })))?],
            "alg-none" => NONE_SPELLINGS
                .iter()
                .map(|alg| {
                    let mut header = header.clone();
                    header.insert("alg".into(), json!(alg));
                    Forged::new(
                        &format!("an unsigned token with alg `{alg}`"),
                        token::unsigned(&header, &forge.valid_claims, ""),
                    )
                })
                .collect(),
            "empty-signature" => {
                let valid = minter.sign(&header, &forge.valid_claims)?;
                let stripped = token::strip_signature(&valid)
                    .ok_or(JwtError::Malformed("token has no signature"))?;
                vec![Forged::new(
                    "a valid token with its signature removed",
                    stripped,
                )]
            }
            "flipped-signature" => {
                let valid = minter.sign(&header, &forge.valid_claims)?;
                let flipped = token::flip_signature(&valid)
                    .ok_or(JwtError::Malformed("token has no signature"))?;
                vec![Forged::new(
                    "a valid token with one bit of its signature flipped",
                    flipped,
                )]
            }
            "other-key" => {
                let attacker = token::attacker_key(minter.alg(), minter.key())?;
                vec![Forged::new(
                    &format!(
                        "a token signed with a freshly generated {} key",
                        token::algorithm_name(minter.alg())
                    ),
                    token::sign(&header, &forge.valid_claims, &attacker.key, minter.alg())?,
                )]
            }
            "hs-public-key" => {
                let public = forge
                    .public_key
                    .ok_or(JwtError::Malformed("no public key read"))?;
                let mut header = header.clone();
                header.insert("alg".into(), json!("HS256"));
                let mut keys = vec![("the public key file's bytes", public)];
                if public.trim_ascii() != public {
                    keys.push(("the public key file's trimmed bytes", public.trim_ascii()));
                }
                keys.into_iter()
                    .map(|(what, secret)| {
                        let key = EncodingKey::from_secret(secret);
                        let signed =
                            token::sign(&header, &forge.valid_claims, &key, Algorithm::HS256)?;
                        Ok(Forged::new(
                            &format!("an HS256 token keyed with {what}"),
                            signed,
                        ))
                    })
                    .collect::<Result<_, TokenError>>()?
            }
            "kid-traversal" => vec![forge.hmac_with_kid(
                "an HMAC token with kid pointing at /dev/null, keyed with nothing",
                KID_TRAVERSAL,
                b"",
            )?],
            "kid-injection" => vec![forge.hmac_with_kid(
                "an HMAC token with an SQL injection in kid, keyed with the injected value",
                &format!("{ATTACKER_KID}' UNION SELECT '{KID_INJECTION_KEY}' -- "),
                KID_INJECTION_KEY.as_bytes(),
            )?],
            "embedded-jwk" => {
                let attacker = token::attacker_key(minter.alg(), minter.key())?;
                let mut jwk = attacker.jwk.clone();
                jwk["kid"] = json!(ATTACKER_KID);
                let mut header = header.clone();
                header.insert("kid".into(), json!(ATTACKER_KID));
                header.insert("jwk".into(), jwk);
                vec![Forged::new(
                    "a token signed with the attacker's key, which the jwk header carries",
                    token::sign(&header, &forge.valid_claims, &attacker.key, minter.alg())?,
                )]
            }
            "claims-tampered" => {
                let valid = minter.sign(&header, &forge.valid_claims)?;
                let mut claims = forge.valid_claims.clone();
                claims.insert("relgate_tampered".into(), json!(true));
                let tampered = token::replace_payload(&valid, &claims)
                    .ok_or(JwtError::Malformed("token has no payload"))?;
                vec![Forged::new(
                    "a valid token whose payload was changed after signing",
                    tampered,
                )]
            }
            "es256-zero-signature" => vec![Forged::new(
                "an ES256 token whose signature is r = s = 0",
                token::unsigned(
                    &header,
                    &forge.valid_claims,
                    &URL_SAFE_NO_PAD.encode([0u8; 64]),
                ),
            )],
            "missing-azp" => vec![signed("a token without azp", with(json!({ "azp": null })))?],
            "foreign-azp" => vec![signed(
                &format!("a token for azp {FOREIGN_VALUE}"),
                with(json!({ "azp": FOREIGN_VALUE })),
            )?],
            "missing-nonce" => vec![signed(
                "a token without nonce",
                with(json!({ "nonce": null })),
            )?],
            "foreign-nonce" => vec![signed(
                &format!("a token with nonce {FOREIGN_VALUE}"),
                with(json!({ "nonce": FOREIGN_VALUE })),
            )?],
            other => match self.forge_class(other, forge)? {
                Some(forgeries) => forgeries,
                None => return Err(JwtError::UnknownCase(other.to_string())),
            },
        };
        Ok(forgeries)
    }

    /// The `jku` case: the attacker's key is served as a JWKS from a listener of this process,
    /// and the header points there. Accepting the token fails the case, and so does fetching
    /// the URL at all: that is a request to an address the token's author chose.
    fn jku(&self, context: &Context<'_>, forge: &Forge<'_>) -> Result<Case, JwtError> {
        let minter = forge.minter;
        let attacker = token::attacker_key(minter.alg(), minter.key())?;
        let mut jwk = attacker.jwk.clone();
        jwk["kid"] = json!(ATTACKER_KID);
        let server = JwksServer::start(&json!({ "keys": [jwk] }))?;
        let mut header = minter.header();
        header.insert("kid".into(), json!(ATTACKER_KID));
        header.insert("jku".into(), json!(server.url));
        let forged = Forged::new(
            &format!("a token whose jku header points at {}", server.url),
            token::sign(&header, &forge.valid_claims, &attacker.key, minter.alg())?,
        );
        let attempt = self.attempt(context, &forged);
        let fetches = server.stop();
        let mut case = verdict("jku", &[&attempt], &self.refused);
        if fetches > 0 && case.outcome == CaseOutcome::Pass {
            case.outcome = CaseOutcome::Fail;
            case.message = format!(
                "{} got {}, but the target fetched the attacker's jku URL {fetches} time(s)",
                attempt.what,
                attempt.status().unwrap_or_default()
            );
        }
        Ok(case)
    }
}

impl Probe for JwtProbe {
    fn cases(&self) -> Vec<String> {
        let mut names: Vec<&str> = vec![
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
        ];
        if self.public_key.is_some() {
            names.push("hs-public-key");
        }
        names.extend([
            "kid-traversal",
            "kid-injection",
            "embedded-jwk",
            "jku",
            "claims-tampered",
        ]);
        if !classes::same_family(self.mint.alg()).is_empty() || self.other_curve.is_some() {
            names.push("alg-same-family");
        }
        names.extend(classes::ALWAYS);
        if self.mint.alg() == Algorithm::ES256 {
            names.push("es256-zero-signature");
        }
        if self.azp.is_some() {
            names.extend(["missing-azp", "foreign-azp"]);
        }
        if self.nonce.is_some() {
            names.extend(["missing-nonce", "foreign-nonce"]);
        }
        if self.typ.is_some() {
            names.extend(["typ-confusion", "cty-confusion"]);
        }
        if self.other_audience.is_some() {
            names.push("kid-other-audience");
        }
        names.into_iter().map(str::to_string).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let names = self.cases();
        let minter = self.mint.load(context)?.with_typ(self.typ.clone());
        let public_key = match &self.public_key {
            Some(source) => Some(source.read(context.root).map_err(JwtError::PublicKey)?),
            None => None,
        };
        let other_curve = match &self.other_curve {
            Some(other) => Some(other.load(context, minter.alg())?),
            None => None,
        };
        let valid_claims = minter.claims(&self.valid_extra());
        let forge = Forge {
            minter: &minter,
            valid_claims,
            public_key: public_key.as_deref(),
            other_curve: other_curve.as_ref(),
        };

        let valid = Forged::new(
            "a valid token",
            minter.sign(&minter.header(), &forge.valid_claims)?,
        );
        let positive = self.attempt(context, &valid);
        let negative = attempt::send(
            context,
            &self.request(None),
            self.timeout,
            format!("{} {} without a token", self.method, self.url),
            "",
        );
        let summary = attempt::check_controls(&positive, &negative, &self.refused);
        let mut cases = match attempt::controls(&names, summary, &positive, &negative) {
            Ok(cases) => cases,
            Err(inconclusive) => return Ok(inconclusive),
        };
        for name in names.iter().skip(1) {
            let case = if name == "jku" {
                self.jku(context, &forge)
            } else if name == "kid-other-audience" {
                self.kid_other_audience(context, &forge)
            } else {
                self.forge(name, &forge)
                    .map(|forgeries| self.judge(context, name, &forgeries))
            };
            cases.push(case.unwrap_or_else(|why| Case {
                name: name.clone(),
                outcome: CaseOutcome::Inconclusive,
                message: format!("could not forge the token: {why}"),
                sent: String::new(),
                got: String::new(),
            }));
        }
        Ok(cases)
    }
}

/// What forging needs: the configured issuer key, the valid claims, the public key bytes and
/// the other curve's key.
struct Forge<'a> {
    minter: &'a Minter,
    valid_claims: Object,
    public_key: Option<&'a [u8]>,
    other_curve: Option<&'a classes::Signer>,
}

impl Forge<'_> {
    /// The valid claims with `changes` applied; a `null` removes the claim.
    fn claims_with(&self, changes: Value) -> Object {
        let mut claims = self.valid_claims.clone();
        if let Value::Object(changes) = changes {
            for (name, value) in changes {
                if value.is_null() {
                    claims.remove(&name);
                } else {
                    claims.insert(name, value);
                }
            }
        }
        claims
    }

    /// An HMAC token (the configured HS algorithm, else HS256) with `kid`, keyed with `secret`.
    fn hmac_with_kid(&self, label: &str, kid: &str, secret: &[u8]) -> Result<Forged, TokenError> {
        let alg = if token::is_hmac(self.minter.alg()) {
            self.minter.alg()
        } else {
            Algorithm::HS256
        };
        let mut header = self.minter.header();
        header.insert("alg".into(), json!(token::algorithm_name(alg)));
        header.insert("kid".into(), json!(kid));
        let key = EncodingKey::from_secret(secret);
        Ok(Forged::new(
            label,
            token::sign(&header, &self.valid_claims, &key, alg)?,
        ))
    }
}

/// One forged token and how messages name it.
struct Forged {
    label: String,
    token: String,
}

impl Forged {
    fn new(label: &str, token: String) -> Forged {
        Forged {
            label: label.to_string(),
            token,
        }
    }
}

/// Pass when every attempt got a refusal; fail on the first one accepted or answered with
/// another status; inconclusive when one could not be sent.
fn verdict(name: &str, attempts: &[&Attempt], refused: &[u16]) -> Case {
    for attempt in attempts {
        match &attempt.reply {
            Err(err) => {
                return attempt::case(
                    name,
                    CaseOutcome::Inconclusive,
                    format!("inconclusive: {} failed: {err}", attempt.what),
                    attempts,
                )
            }
            Ok(reply) if reply.is_success() => {
                return attempt::case(
                    name,
                    CaseOutcome::Fail,
                    format!(
                        "{} got {}: the forged token was accepted",
                        attempt.what, reply.status
                    ),
                    attempts,
                )
            }
            Ok(reply) if !refused.contains(&reply.status) => {
                return attempt::case(
                    name,
                    CaseOutcome::Fail,
                    format!(
                        "{} got {}, expected a refusal ({})",
                        attempt.what,
                        reply.status,
                        attempt::list(refused)
                    ),
                    attempts,
                )
            }
            Ok(_) => {}
        }
    }
    let statuses: Vec<String> = attempts
        .iter()
        .filter_map(|attempt| attempt.status())
        .map(|status| status.to_string())
        .collect();
    let message = match attempts {
        [one] => format!("{} got {}", one.what, statuses.join("")),
        _ => format!(
            "all {} forgeries were refused ({})",
            attempts.len(),
            statuses.join(", ")
        ),
    };
    attempt::case(name, CaseOutcome::Pass, message, attempts)
}

/// A one-route HTTP server on 127.0.0.1 that answers every request with a JWKS and counts
/// requests, for the `jku` case.
struct JwksServer {
    url: String,
    stop: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
    thread: thread::JoinHandle<()>,
}

impl JwksServer {
    fn start(jwks: &Value) -> Result<JwksServer, JwtError> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(JwtError::Listen)?;
        listener.set_nonblocking(true).map_err(JwtError::Listen)?;
        let address = listener.local_addr().map_err(JwtError::Listen)?;
        let body = jwks.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let fetches = Arc::clone(&fetches);
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            answer(stream, &body);
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Ok(JwksServer {
            url: format!("http://{address}/.well-known/jwks.json"),
            stop,
            fetches,
            thread,
        })
    }

    /// Stops listening; returns how many requests arrived.
    fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        self.fetches.load(Ordering::SeqCst)
    }
}

fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(text: &str) -> Result<Vec<String>, ConfigError> {
        crate::configure("jwt", &text.parse::<toml::Table>().unwrap())
    }

    const BASE: &str = r#"
        url = "${api.url}/v1/me"
        issuer = "https://issuer.test"
        audience = "tenant-api"
        key = { file = "reference/keys/issuer-rs256.pem" }
        claims = { sub = "admin@org-a", org_id = "org-a" }
    "#;

    #[test]
    fn optional_cases_follow_the_configuration() {
        let names = configure(BASE).unwrap();
        assert_eq!(names[0], "controls");
        assert!(!names.contains(&"hs-public-key".to_string()));
        assert!(!names.contains(&"es256-zero-signature".to_string()));
        let names = configure(&format!(
            "{BASE}public_key = {{ file = \"p.pem\" }}\nazp = \"web\"\nnonce = \"n\"\nalg = \"ES256\"\n"
        ))
        .unwrap();
        for name in [
            "hs-public-key",
            "es256-zero-signature",
            "missing-azp",
            "foreign-azp",
            "missing-nonce",
            "foreign-nonce",
        ] {
            assert!(names.contains(&name.to_string()), "{name}");
        }
    }

    #[test]
    fn configuration_errors_name_the_key() {
        let err = configure(&format!("{BASE}alg = \"RS257\"\n")).unwrap_err();
        assert_eq!(err.key, "alg");
        assert!(err.message.contains("RS256, RS384"));
        let err = configure(&format!(
            "{BASE}alg = \"HS256\"\npublic_key = {{ file = \"p.pem\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "public_key");
        let err = configure(&format!("{BASE}refused = [401, 200]\n")).unwrap_err();
        assert_eq!(err.key, "refused");
        let err = configure(&format!("{BASE}audiense = \"x\"\n")).unwrap_err();
        assert_eq!(err.key, "audiense");
        let err = configure("url = \"x\"\nissuer = \"i\"\naudience = \"a\"\n").unwrap_err();
        assert_eq!(err.to_string(), "`key`: missing key: this probe needs it");
    }

    #[test]
    fn class_cases_follow_the_configuration() {
        let names = configure(BASE).unwrap();
        for name in [
            "alg-same-family",
            "crit-unknown",
            "iat-future",
            "duplicate-claims",
        ] {
            assert!(names.contains(&name.to_string()), "{name}");
        }
        for name in ["typ-confusion", "cty-confusion", "kid-other-audience"] {
            assert!(!names.contains(&name.to_string()), "{name}");
        }
        let es = configure(&format!("{BASE}alg = \"ES256\"\n")).unwrap();
        assert!(!es.contains(&"alg-same-family".to_string()));
        let names = configure(&format!(
            "{BASE}typ = \"at+jwt\"\nother_audience_key = {{ file = \"o.pem\" }}\n\
             other_audience_kid = \"partner\"\nother_audience_claims = {{ aud = \"p\" }}\n"
        ))
        .unwrap();
        assert_eq!(
            names[names.len() - 3..],
            ["typ-confusion", "cty-confusion", "kid-other-audience"]
        );
        let err = configure(&format!("{BASE}typ = \"application/JWT\"\n")).unwrap_err();
        assert_eq!(err.key, "typ");
        let err = configure(&format!("{BASE}other_audience_kid = \"partner\"\n")).unwrap_err();
        assert_eq!(err.key, "other_audience_key");
        let err = configure(&format!(
            "{BASE}other_audience_key = {{ file = \"o.pem\" }}\nother_audience_kid = \"k\"\n\
             other_audience_claims = {{}}\n"
        ))
        .unwrap_err();
        assert_eq!(err.key, "other_audience_claims");
    }

    #[test]
    fn the_jwks_server_serves_and_counts() {
        let server = JwksServer::start(&json!({ "keys": [] })).unwrap();
        let request = Request::new("GET", &server.url);
        let reply = crate::http::send(
            &request,
            Duration::from_secs(5),
            std::time::Instant::now() + Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json().unwrap(), json!({ "keys": [] }));
        assert_eq!(server.stop(), 1);
    }
}
