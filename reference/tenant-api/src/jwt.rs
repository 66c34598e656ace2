//! Bearer token validation: RS256 and ES256 only, each with its own configured key; `exp`,
//! `iss`, `aud` and `sub` required; `nbf` checked when present and `iat` must not be in the
//! future; a small leeway. A `crit` header is refused (no extension is understood), `typ` must
//! be `--token-type` when one is set, the partner key (`--partner-key`, under its `kid`)
//! signs only for the partner audience, and an extra EC key (`--extra-ec-key`, under its `kid`)
//! is looked up by `kid` but still verifies ES256 only.
//!
//! The hardened path is jsonwebtoken's `decode` with an allow-list of exactly the header's
//! algorithm (it refuses a claim named twice). Flaws add hand-written paths in front of it
//! (alg `none`, HS256 keyed with the RSA public key, any RSA algorithm, claims checked on a JSON
//! map) or skip one check, the way such bugs are written in real services.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::flaw::{Flaw, Flaws};

/// Seconds of clock skew tolerated for `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 10;

/// What the service trusts, read from the command line and key files.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud` (one of the token's audiences).
    pub audience: String,
    /// Required `azp`, when set.
    pub authorized_party: Option<String>,
    /// PEM bytes of the RS256 public key.
    pub rs256_public_pem: Vec<u8>,
    /// PEM bytes of the ES256 public key.
    pub es256_public_pem: Vec<u8>,
    /// Required `typ` header (an explicit type such as `at+jwt`), when set.
    pub token_type: Option<String>,
    /// A second RS256 key, trusted only for its own audience, when set.
    pub partner: Option<PartnerKey>,
    /// A second EC key selected by `kid` (e.g. a P-384 key), when set. Only ES256 tokens are
    /// verified with it, so a key of another curve size verifies nothing unless a flaw lets the
    /// header choose the algorithm.
    pub extra_ec: Option<ExtraEcKey>,
}

/// A second EC public key the service looks up by `kid`.
#[derive(Debug, Clone)]
pub struct ExtraEcKey {
    /// The `kid` that selects it.
    pub kid: String,
    /// PEM bytes of its EC public key.
    pub public_pem: Vec<u8>,
}

/// A key of another issuer the service trusts for another audience only.
#[derive(Debug, Clone)]
pub struct PartnerKey {
    /// The `kid` that selects it.
    pub kid: String,
    /// The only `aud` its tokens may have.
    pub audience: String,
    /// PEM bytes of its RS256 public key.
    pub public_pem: Vec<u8>,
}

/// The authenticated caller, taken from a validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The `sub` claim: the user id.
    pub sub: String,
    /// The `org_id` claim: the tenant.
    pub org_id: String,
}

/// Why a token was refused. Never carries the token itself.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url segments with a JSON header.
    #[error("malformed token")]
    Malformed,
    /// The header's `alg` is not on the allow-list.
    #[error("algorithm `{0}` is not accepted")]
    AlgorithmNotAccepted(String),
    /// Signature or registered claims failed validation.
    #[error("token rejected: {0}")]
    Rejected(#[from] jsonwebtoken::errors::Error),
    /// A registered claim failed a hand-written check.
    #[error("claim `{0}` is missing or invalid")]
    Claim(&'static str),
    /// A header parameter is refused (`crit`) or not the required value (`typ`).
    #[error("header parameter `{0}` is not accepted")]
    Header(&'static str),
    /// `sub` or `org_id` is missing or empty.
    #[error("token has no subject or tenant")]
    MissingIdentity,
    /// `azp` is missing or not the configured authorized party.
    #[error("authorized party mismatch")]
    AuthorizedParty,
}

/// Failure to load the configured public keys.
#[derive(Debug, thiserror::Error)]
#[error("failed to load the {which} public key")]
pub struct KeyError {
    which: &'static str,
    #[source]
    source: jsonwebtoken::errors::Error,
}

/// Validates bearer tokens according to the settings and the switched-on flaws.
pub struct TokenVerifier {
    settings: JwtSettings,
    rs256: DecodingKey,
    es256: DecodingKey,
    partner: Option<DecodingKey>,
    extra_ec: Option<DecodingKey>,
    accept_expired: bool,
    skip_aud: bool,
    skip_iss: bool,
    skip_nbf: bool,
    accept_none: bool,
    hs_key_confusion: bool,
    alg_from_header: bool,
    ignore_crit: bool,
    no_iat_check: bool,
    last_duplicate_claim: bool,
    any_typ: bool,
    typ_from_cty: bool,
    kid_any_audience: bool,
}

/// The key a token is verified with and the audience it must name.
struct Selected<'a> {
    algorithm: Algorithm,
    key: &'a DecodingKey,
    audiences: Vec<&'a str>,
}

#[derive(Deserialize)]
struct IdentityClaims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    iat: Option<Value>,
}

impl TokenVerifier {
    /// Parses the public keys and records which checks the flaws switch off.
    pub fn new(settings: JwtSettings, flaws: &Flaws) -> Result<Self, KeyError> {
        let rs256 =
            DecodingKey::from_rsa_pem(&settings.rs256_public_pem).map_err(|source| KeyError {
                which: "RS256",
                source,
            })?;
        let es256 =
            DecodingKey::from_ec_pem(&settings.es256_public_pem).map_err(|source| KeyError {
                which: "ES256",
                source,
            })?;
        let partner = match &settings.partner {
            Some(partner) => Some(DecodingKey::from_rsa_pem(&partner.public_pem).map_err(
                |source| KeyError {
                    which: "partner RS256",
                    source,
                },
            )?),
            None => None,
        };
        let extra_ec = match &settings.extra_ec {
            Some(extra) => Some(
                DecodingKey::from_ec_pem(&extra.public_pem).map_err(|source| KeyError {
                    which: "extra EC",
                    source,
                })?,
            ),
            None => None,
        };
        Ok(TokenVerifier {
            settings,
            rs256,
            es256,
            partner,
            extra_ec,
            accept_expired: flaws.has(Flaw::JwtAcceptExpired),
            skip_aud: flaws.has(Flaw::JwtSkipAud),
            skip_iss: flaws.has(Flaw::JwtSkipIss),
            skip_nbf: flaws.has(Flaw::JwtSkipNbf),
            accept_none: flaws.has(Flaw::JwtAcceptNone),
            hs_key_confusion: flaws.has(Flaw::JwtHsKeyConfusion),
            alg_from_header: flaws.has(Flaw::JwtAlgFromHeader),
            ignore_crit: flaws.has(Flaw::JwtIgnoreCrit),
            no_iat_check: flaws.has(Flaw::JwtNoIatCheck),
            last_duplicate_claim: flaws.has(Flaw::JwtLastDuplicateClaim),
            any_typ: flaws.has(Flaw::JwtAnyTyp),
            typ_from_cty: flaws.has(Flaw::JwtTypFromCty),
            kid_any_audience: flaws.has(Flaw::JwtKidAnyAudience),
        })
    }

    /// Validates `token` and returns the caller it identifies.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = header(token)?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(TokenError::Malformed)?;
        if self.accept_none && alg.eq_ignore_ascii_case("none") {
            return self.verify_unsigned(token);
        }
        if self.hs_key_confusion && alg == "HS256" {
            // The classic confusion bug: "verify with the algorithm the token names, using our
            // key" — and our key for RS256 is a public PEM anyone can download.
            let key = DecodingKey::from_secret(&self.settings.rs256_public_pem);
            let audiences = vec![self.settings.audience.as_str()];
            return self.decode(token, Algorithm::HS256, &key, &audiences);
        }
        self.check_header(&header)?;
        let selected = self.select(&header, &alg)?;
        if self.last_duplicate_claim {
            return self.decode_by_hand(token, &selected);
        }
        self.decode(token, selected.algorithm, selected.key, &selected.audiences)
    }

    /// `crit` names extensions this verifier would have to understand: it understands none
    /// (RFC 7515 §4.1.11). `typ` must be the configured explicit type (RFC 8725 §3.11).
    fn check_header(&self, header: &Value) -> Result<(), TokenError> {
        if !self.ignore_crit && header.get("crit").is_some() {
            return Err(TokenError::Header("crit"));
        }
        if let Some(wanted) = &self.settings.token_type {
            let named = |parameter: &str| {
                header
                    .get(parameter)
                    .and_then(Value::as_str)
                    .is_some_and(|value| same_type(value, wanted))
            };
            let typed = named("typ") || (self.typ_from_cty && named("cty"));
            if !self.any_typ && !typed {
                return Err(TokenError::Header("typ"));
            }
        }
        Ok(())
    }

    /// The key and audiences for the header's `alg` and `kid`: the partner key signs for the
    /// partner audience only, the issuer keys for ours; the extra EC key replaces the ES256
    /// issuer key when its `kid` is named.
    fn select(&self, header: &Value, alg: &str) -> Result<Selected<'_>, TokenError> {
        let kid = header.get("kid").and_then(Value::as_str);
        let partner = match (&self.settings.partner, &self.partner) {
            (Some(settings), Some(key)) if Some(settings.kid.as_str()) == kid => {
                Some((settings, key))
            }
            _ => None,
        };
        let ours = self.settings.audience.as_str();
        let (rsa, audiences) = match partner {
            Some((settings, key)) if self.kid_any_audience => {
                (key, vec![ours, settings.audience.as_str()])
            }
            Some((settings, key)) => (key, vec![settings.audience.as_str()]),
            None => (&self.rs256, vec![ours]),
        };
        let ec = match (&self.settings.extra_ec, &self.extra_ec) {
            (Some(settings), Some(key)) if Some(settings.kid.as_str()) == kid => key,
            _ => &self.es256,
        };
        let (algorithm, key) = match alg {
            "RS256" => (Algorithm::RS256, rsa),
            "ES256" if partner.is_none() => (Algorithm::ES256, ec),
            // The same mistake for ECDSA: the other size, with whatever EC key `kid` picked.
            "ES384" if partner.is_none() && self.alg_from_header => (Algorithm::ES384, ec),
            // "Verify with the algorithm the token names", trusting the key to limit it to
            // its family: the allow-list is the key type, not the configured algorithm.
            "RS384" | "RS512" | "PS256" | "PS384" | "PS512" if self.alg_from_header => {
                let algorithm = alg
                    .parse()
                    .map_err(|_| TokenError::AlgorithmNotAccepted(alg.to_owned()))?;
                (algorithm, rsa)
            }
            _ => return Err(TokenError::AlgorithmNotAccepted(alg.to_owned())),
        };
        Ok(Selected {
            algorithm,
            key,
            audiences,
        })
    }

    fn decode(
        &self,
        token: &str,
        algorithm: Algorithm,
        key: &DecodingKey,
        audiences: &[&str],
    ) -> Result<Principal, TokenError> {
        let validation = self.validation(algorithm, audiences);
        let data = jsonwebtoken::decode::<IdentityClaims>(token, key, &validation)?;
        self.check_iat(data.claims.iat.as_ref())?;
        self.identity(data.claims)
    }

    /// `iat` in the future (beyond the leeway) means a broken or forged issuer clock.
    fn check_iat(&self, iat: Option<&Value>) -> Result<(), TokenError> {
        if self.no_iat_check {
            return Ok(());
        }
        match iat {
            None => Ok(()),
            Some(iat) => match iat.as_f64() {
                Some(iat) if iat <= (now_seconds() + LEEWAY_SECONDS) as f64 => Ok(()),
                _ => Err(TokenError::Claim("iat")),
            },
        }
    }

    /// The `jwt-last-duplicate-claim` path: the signature is verified, then the claims are read
    /// into a JSON map — where the last of two equal names silently wins — and checked by hand.
    fn decode_by_hand(
        &self,
        token: &str,
        selected: &Selected<'_>,
    ) -> Result<Principal, TokenError> {
        let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        if !jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            selected.key,
            selected.algorithm,
        )? {
            return Err(TokenError::Claim("signature"));
        }
        let claims = payload(token)?;
        self.check_claims(&claims, &selected.audiences)?;
        let identity: IdentityClaims =
            serde_json::from_value(claims).map_err(|_| TokenError::Malformed)?;
        self.identity(identity)
    }

    fn validation(&self, algorithm: Algorithm, audiences: &[&str]) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = !self.accept_expired;
        validation.validate_nbf = !self.skip_nbf;
        validation.validate_aud = !self.skip_aud;
        let mut required = vec!["sub"];
        if !self.accept_expired {
            required.push("exp");
        }
        if !self.skip_aud {
            required.push("aud");
            validation.set_audience(audiences);
        }
        if !self.skip_iss {
            required.push("iss");
            validation.set_issuer(&[&self.settings.issuer]);
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// The `jwt-accept-none` path: claims are checked by hand, the signature not at all.
    fn verify_unsigned(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = payload(token)?;
        self.check_claims(&claims, &[&self.settings.audience])?;
        let identity: IdentityClaims =
            serde_json::from_value(claims).map_err(|_| TokenError::Malformed)?;
        self.identity(identity)
    }

    /// The registered claims checked by hand, for the paths that do not use `decode`.
    fn check_claims(&self, claims: &Value, audiences: &[&str]) -> Result<(), TokenError> {
        let now = now_seconds();
        let number = |name| claims.get(name).and_then(Value::as_u64);
        if !self.accept_expired {
            match number("exp") {
                Some(exp) if exp + LEEWAY_SECONDS >= now => {}
                _ => return Err(TokenError::Claim("exp")),
            }
        }
        if !self.skip_nbf && number("nbf").is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
            return Err(TokenError::Claim("nbf"));
        }
        if !self.skip_iss
            && claims.get("iss").and_then(Value::as_str) != Some(&self.settings.issuer)
        {
            return Err(TokenError::Claim("iss"));
        }
        if !self.skip_aud
            && !audiences
                .iter()
                .any(|wanted| audience_contains(claims.get("aud"), wanted))
        {
            return Err(TokenError::Claim("aud"));
        }
        self.check_iat(claims.get("iat"))
    }

    fn identity(&self, claims: IdentityClaims) -> Result<Principal, TokenError> {
        if claims.sub.is_empty() || claims.org_id.is_empty() {
            return Err(TokenError::MissingIdentity);
        }
        if let Some(wanted) = &self.settings.authorized_party {
            if claims.azp.as_deref() != Some(wanted.as_str()) {
                return Err(TokenError::AuthorizedParty);
            }
        }
        Ok(Principal {
            sub: claims.sub,
            org_id: claims.org_id,
        })
    }
}

/// The header, parsed; nothing in it is trusted yet.
fn header(token: &str) -> Result<Value, TokenError> {
    segment(token, 0)
}

/// The payload, parsed into a JSON map (the last of two equal names wins).
fn payload(token: &str) -> Result<Value, TokenError> {
    segment(token, 1)
}

fn segment(token: &str, index: usize) -> Result<Value, TokenError> {
    let part = token.split('.').nth(index).ok_or(TokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    value
        .is_object()
        .then_some(value)
        .ok_or(TokenError::Malformed)
}

/// Whether two `typ` values name the same media type: no letter case, `application/` optional.
fn same_type(one: &str, other: &str) -> bool {
    let bare = |text: &str| {
        let lower = text.to_ascii_lowercase();
        match lower.strip_prefix("application/") {
            Some(rest) => rest.to_owned(),
            None => lower,
        }
    };
    bare(one) == bare(other)
}

fn audience_contains(aud: Option<&Value>, wanted: &str) -> bool {
    match aud {
        Some(Value::String(single)) => single == wanted,
        Some(Value::Array(many)) => many.iter().any(|one| one.as_str() == Some(wanted)),
        _ => false,
    }
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
