//! Bearer token validation: RS256 and ES256 only, each with its own configured key; `exp`,
//! `iss`, `aud` and `sub` required; `nbf` checked when present; a small leeway.
//!
//! The hardened path is jsonwebtoken's `decode` with an allow-list of exactly the header's
//! algorithm. Two flaws add hand-written paths in front of it (alg `none`, HS256 keyed with
//! the RSA public key), the way such bugs are written in real services.

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
    accept_expired: bool,
    skip_aud: bool,
    skip_iss: bool,
    skip_nbf: bool,
    accept_none: bool,
    hs_key_confusion: bool,
}

#[derive(Deserialize)]
struct IdentityClaims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    azp: Option<String>,
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
        Ok(TokenVerifier {
            settings,
            rs256,
            es256,
            accept_expired: flaws.has(Flaw::JwtAcceptExpired),
            skip_aud: flaws.has(Flaw::JwtSkipAud),
            skip_iss: flaws.has(Flaw::JwtSkipIss),
            skip_nbf: flaws.has(Flaw::JwtSkipNbf),
            accept_none: flaws.has(Flaw::JwtAcceptNone),
            hs_key_confusion: flaws.has(Flaw::JwtHsKeyConfusion),
        })
    }

    /// Validates `token` and returns the caller it identifies.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let alg = header_alg(token)?;
        if self.accept_none && alg.eq_ignore_ascii_case("none") {
            return self.verify_unsigned(token);
        }
        if self.hs_key_confusion && alg == "HS256" {
            // The classic confusion bug: "verify with the algorithm the token names, using our
            // key" — and our key for RS256 is a public PEM anyone can download.
            let key = DecodingKey::from_secret(&self.settings.rs256_public_pem);
            return self.decode(token, Algorithm::HS256, &key);
        }
        match alg.as_str() {
            "RS256" => self.decode(token, Algorithm::RS256, &self.rs256),
            "ES256" => self.decode(token, Algorithm::ES256, &self.es256),
            _ => Err(TokenError::AlgorithmNotAccepted(alg)),
        }
    }

    fn decode(
        &self,
        token: &str,
        algorithm: Algorithm,
        key: &DecodingKey,
    ) -> Result<Principal, TokenError> {
        let validation = self.validation(algorithm);
        let data = jsonwebtoken::decode::<IdentityClaims>(token, key, &validation)?;
        self.identity(data.claims)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
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
            validation.set_audience(&[&self.settings.audience]);
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
        let mut segments = token.split('.');
        let payload = match (segments.next(), segments.next()) {
            (Some(_), Some(payload)) => payload,
            _ => return Err(TokenError::Malformed),
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
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
        if !self.skip_aud && !audience_contains(claims.get("aud"), &self.settings.audience) {
            return Err(TokenError::Claim("aud"));
        }
        let identity: IdentityClaims =
            serde_json::from_value(claims).map_err(|_| TokenError::Malformed)?;
        self.identity(identity)
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

/// Reads `alg` from the header without trusting anything else in it.
fn header_alg(token: &str) -> Result<String, TokenError> {
    let header = token.split('.').next().ok_or(TokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    header
        .get("alg")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenError::Malformed)
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
