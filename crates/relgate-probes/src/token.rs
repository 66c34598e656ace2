//! Tokens for the HTTP identity probes (`jwt`, `rbac`, `consent`): the minting keys they all
//! read, valid tokens signed with the configured issuer key, and the raw pieces the `jwt` probe
//! forges with by hand (segments, signatures over any header, fresh attacker keys).
//!
//! Every token leaves this module through [`Minter`] or the forging helpers as plain text; the
//! caller registers it with `Log::add_secret` before it is sent or described.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};

use crate::config::SecretReadError;
use crate::config::{Config, ConfigError, ConfigErrorKind, SecretSource};
use crate::probe::Context;

/// Why a token cannot be minted or forged: the probe cannot run (the check is an ERROR).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The signing key cannot be read.
    #[error("cannot read the signing key: {source}")]
    ReadKey {
        #[source]
        source: SecretReadError,
    },
    /// The signing key was read and is unusable (`key` says where it came from).
    #[error("cannot use the signing key ({key}): {source}")]
    UseKey {
        key: String,
        #[source]
        source: Box<TokenError>,
    },
    /// The bytes are not a PEM private key for the algorithm.
    #[error("not a PEM private key for {alg}: {source}")]
    NotPem {
        alg: &'static str,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// Signing failed.
    #[error("cannot sign with {alg}: {source}")]
    Sign {
        alg: &'static str,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// An attacker key cannot be made (`what` is the step: `generate a 2048-bit RSA key`…).
    #[error("cannot {what}: {source}")]
    AttackerKey {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No attacker key exists for the algorithm.
    #[error("no attacker key for {alg}")]
    NoAttackerKey { alg: String },
    /// The attacker's JWK does not serialize.
    #[error(transparent)]
    Json(serde_json::Error),
}

impl TokenError {
    fn key(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TokenError {
        TokenError::AttackerKey {
            what: what.into(),
            source: source.into(),
        }
    }
}

crate::probe::into_probe_error!(TokenError);

/// Lifetime of a minted token, in seconds.
pub(crate) const LIFETIME_SECONDS: i64 = 300;

/// The algorithms `alg = "…"` accepts, in the order error messages list them.
pub(crate) const ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

/// JSON object of claims or header fields.
pub(crate) type Object = Map<String, Value>;

/// The keys every identity probe reads to mint tokens: `issuer`, `audience`, `alg`, `key`, `kid`.
#[derive(Debug, Clone)]
pub(crate) struct MintConfig {
    issuer: String,
    audience: String,
    alg: Algorithm,
    key: SecretSource,
    kid: Option<String>,
}

impl MintConfig {
    /// Reads the minting keys of `config`.
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<MintConfig, ConfigError> {
        let issuer = config.required_string("issuer")?;
        let audience = config.required_string("audience")?;
        let alg = match config.string("alg")? {
            None => Algorithm::RS256,
            Some(text) => parse_algorithm(&text).ok_or_else(|| {
                config.error(
                    "alg",
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "unknown algorithm `{text}` (expected one of {})",
                        ALGORITHMS.join(", ")
                    ),
                )
            })?,
        };
        let key = config.secret("key")?;
        let key = config.require("key", key)?;
        let kid = config.string("kid")?;
        Ok(MintConfig {
            issuer,
            audience,
            alg,
            key,
            kid,
        })
    }

    /// The configured algorithm.
    pub(crate) fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Reads and parses the key, registering it as a secret.
    pub(crate) fn load(&self, context: &Context<'_>) -> Result<Minter, TokenError> {
        let bytes = self
            .key
            .read(context.root)
            .map_err(|source| TokenError::ReadKey { source })?;
        register_key(context, &bytes);
        let key = encoding_key(self.alg, &bytes).map_err(|source| TokenError::UseKey {
            key: self.key.describe(),
            source: Box::new(source),
        })?;
        Ok(Minter {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            alg: self.alg,
            key,
            kid: self.kid.clone(),
            typ: None,
        })
    }
}

/// Signs tokens with the configured issuer key.
pub(crate) struct Minter {
    issuer: String,
    audience: String,
    alg: Algorithm,
    key: EncodingKey,
    kid: Option<String>,
    /// `typ` of the header; `JWT` when `None`.
    typ: Option<String>,
}

impl Minter {
    /// The same minter with `typ` as the header's type (an explicit type such as `at+jwt`).
    pub(crate) fn with_typ(mut self, typ: Option<String>) -> Minter {
        self.typ = typ;
        self
    }

    /// The configured algorithm.
    pub(crate) fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The configured key.
    pub(crate) fn key(&self) -> &EncodingKey {
        &self.key
    }

    /// Valid claims: `iss`, `aud`, `iat`, `exp` (five minutes), then `extra` (which may
    /// override any of them).
    pub(crate) fn claims(&self, extra: &Object) -> Object {
        let now = now();
        let mut claims = Object::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("aud".into(), json!(self.audience));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + LIFETIME_SECONDS));
        for (name, value) in extra {
            claims.insert(name.clone(), value.clone());
        }
        claims
    }

    /// The header of a valid token: `alg`, `typ` (`JWT` unless set) and the configured `kid`.
    pub(crate) fn header(&self) -> Object {
        let mut header = Object::new();
        header.insert("alg".into(), json!(algorithm_name(self.alg)));
        header.insert("typ".into(), json!(self.typ.as_deref().unwrap_or("JWT")));
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), json!(kid));
        }
        header
    }

    /// A valid token carrying [`Minter::claims`] of `extra`.
    pub(crate) fn mint(&self, extra: &Object) -> Result<String, TokenError> {
        self.sign(&self.header(), &self.claims(extra))
    }

    /// `header` and `claims` signed with the configured key and algorithm, whatever the header
    /// says.
    pub(crate) fn sign(&self, header: &Object, claims: &Object) -> Result<String, TokenError> {
        sign(header, claims, &self.key, self.alg)
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// `RS256` → [`Algorithm::RS256`]; names are case-sensitive, as in a JWT header.
pub(crate) fn parse_algorithm(text: &str) -> Option<Algorithm> {
    ALGORITHMS
        .iter()
        .position(|name| *name == text)
        .and_then(|_| text.parse().ok())
}

/// The header name of `alg`.
pub(crate) fn algorithm_name(alg: Algorithm) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|name| name.parse() == Ok(alg))
        .copied()
        .unwrap_or("unsupported")
}

/// Whether `alg` is an HMAC algorithm (shared secret rather than a key pair).
pub(crate) fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// base64url (no padding) of the JSON text of `value`.
pub(crate) fn segment(value: &impl serde::Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// `header.claims.signature` with the signature computed by `alg` over the first two segments.
pub(crate) fn sign(
    header: &Object,
    claims: &Object,
    key: &EncodingKey,
    alg: Algorithm,
) -> Result<String, TokenError> {
    let payload = serde_json::to_string(claims).map_err(TokenError::Json)?;
    sign_payload(header, &payload, key, alg)
}

/// `header.payload.signature` over `payload` exactly as given (JSON text that a serializer
/// would not produce, such as a member name twice), signed by `alg`.
pub(crate) fn sign_payload(
    header: &Object,
    payload: &str,
    key: &EncodingKey,
    alg: Algorithm,
) -> Result<String, TokenError> {
    let input = format!("{}.{}", segment(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).map_err(|source| {
        TokenError::Sign {
            alg: algorithm_name(alg),
            source,
        }
    })?;
    Ok(format!("{input}.{signature}"))
}

/// `header.claims.` followed by `signature` (already encoded; may be empty).
pub(crate) fn unsigned(header: &Object, claims: &Object, signature: &str) -> String {
    format!("{}.{}.{signature}", segment(header), segment(claims))
}

/// `token` with one bit of its signature flipped (the middle byte, so that both halves of an
/// ECDSA `r || s` signature and every RSA length stay plausible).
pub(crate) fn flip_signature(token: &str) -> Option<String> {
    let cut = token.rfind('.')?;
    let mut signature = URL_SAFE_NO_PAD.decode(&token[cut + 1..]).ok()?;
    if signature.is_empty() {
        return None;
    }
    let middle = signature.len() / 2;
    signature[middle] ^= 0x01;
    Some(format!(
        "{}.{}",
        &token[..cut],
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// `token` with its payload replaced by `claims`, signature kept.
pub(crate) fn replace_payload(token: &str, claims: &Object) -> Option<String> {
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{header}.{}.{signature}", segment(claims)))
}

/// `token` with an empty signature segment.
pub(crate) fn strip_signature(token: &str) -> Option<String> {
    let cut = token.rfind('.')?;
    Some(format!("{}.", &token[..cut]))
}

/// A key the target has never seen, of the same kind as the configured one, and its public
/// half as a JWK (for HMAC: the secret as an `oct` JWK).
pub(crate) struct AttackerKey {
    /// Signs with the configured algorithm.
    pub(crate) key: EncodingKey,
    /// The public JWK (with `alg`), for `jwk` headers and a served JWKS.
    pub(crate) jwk: Value,
}

/// A freshly generated key for `alg`. RSA keys match the size of `like` (the configured key)
/// and are cached per size for the life of the process, because generating one takes seconds.
pub(crate) fn attacker_key(alg: Algorithm, like: &EncodingKey) -> Result<AttackerKey, TokenError> {
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(&rand::random::<[u8; 32]>())
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            use rsa::pkcs1::DecodeRsaPrivateKey as _;
            use rsa::traits::PublicKeyParts as _;
            let bits = rsa::RsaPrivateKey::from_pkcs1_der(like.as_bytes())
                .map(|key| key.size() * 8)
                .unwrap_or(2048);
            EncodingKey::from_rsa_der(&fresh_rsa_der(bits)?)
        }
        Algorithm::ES256 => {
            let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
            let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret)
                .map_err(|err| TokenError::key("encode a P-256 key", err))?;
            EncodingKey::from_ec_der(der.as_bytes())
        }
        Algorithm::ES384 => {
            let secret = p384::SecretKey::random(&mut rand::rngs::OsRng);
            let der = p384::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret)
                .map_err(|err| TokenError::key("encode a P-384 key", err))?;
            EncodingKey::from_ec_der(der.as_bytes())
        }
        Algorithm::EdDSA => {
            // PKCS#8 v1 of an Ed25519 seed (RFC 8410): a fixed 16-byte prefix and the 32-byte
            // seed, the form jsonwebtoken expects (it refuses v2 with the public key inside).
            let mut der = ED25519_PKCS8_PREFIX.to_vec();
            der.extend_from_slice(&rand::random::<[u8; 32]>());
            EncodingKey::from_ed_der(&der)
        }
        other => {
            return Err(TokenError::NoAttackerKey {
                alg: format!("{other:?}"),
            })
        }
    };
    let jwk = Jwk::from_encoding_key(&key, alg)
        .map_err(|err| TokenError::key("describe the attacker key as a JWK", err))?;
    let jwk = serde_json::to_value(jwk).map_err(TokenError::Json)?;
    Ok(AttackerKey { key, jwk })
}

const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn fresh_rsa_der(bits: usize) -> Result<Vec<u8>, TokenError> {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    static CACHE: OnceLock<Mutex<HashMap<usize, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(der) = cache.get(&bits) {
        return Ok(der.clone());
    }
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|err| TokenError::key(format!("generate a {bits}-bit RSA key"), err))?;
    let der = key
        .to_pkcs1_der()
        .map_err(|err| TokenError::key(format!("encode a {bits}-bit RSA key"), err))?
        .as_bytes()
        .to_vec();
    cache.insert(bits, der.clone());
    Ok(der)
}

/// The configured key as jsonwebtoken wants it for `alg`: PEM private keys for key pairs, the
/// raw bytes (surrounding whitespace trimmed) for HMAC secrets.
pub(crate) fn encoding_key(alg: Algorithm, bytes: &[u8]) -> Result<EncodingKey, TokenError> {
    let parsed = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return Ok(EncodingKey::from_secret(bytes.trim_ascii()))
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(bytes),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(bytes),
        _ => EncodingKey::from_rsa_pem(bytes),
    };
    parsed.map_err(|source| TokenError::NotPem {
        alg: algorithm_name(alg),
        source,
    })
}

/// Registers a key read from its source as a secret: the whole text, the trimmed text and each
/// long line of a PEM body, so that no fragment of it reaches a log.
pub(crate) fn register_key(context: &Context<'_>, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    context.log.add_secret(&text);
    for line in text.lines() {
        let line = line.trim();
        if line.len() >= 16 && !line.starts_with("-----") {
            context.log.add_secret(line);
        }
    }
}

/// A TOML value as JSON (dates become strings).
pub(crate) fn to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(number) => json!(number),
        toml::Value::Float(number) => json!(number),
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.clone(), to_json(value)))
                .collect(),
        ),
    }
}

/// A free-form table of claims (`claims = { sub = "…", org_id = "…" }`) as a JSON object.
/// Its keys are not checked: any claim name is valid.
pub(crate) fn claims_table(
    config: &mut Config<'_>,
    key: &'static str,
) -> Result<Option<Object>, ConfigError> {
    let Some(mut table) = config.table(key)? else {
        return Ok(None);
    };
    Ok(Some(
        table
            .entries()
            .into_iter()
            .map(|(name, value)| (name, to_json(value)))
            .collect(),
    ))
}

/// The header of a token, parsed, for case evidence (`{"alg":"none","typ":"JWT"}`).
pub(crate) fn describe_token(token: &str) -> String {
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| {
        part.and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|| "?".to_string())
    };
    let header = decode(parts.next());
    let claims = decode(parts.next());
    let signature = match parts.next() {
        None | Some("") => "empty".to_string(),
        Some(part) => format!(
            "{} bytes",
            URL_SAFE_NO_PAD.decode(part).map_or(0, |s| s.len())
        ),
    };
    format!("token header {header}\ntoken claims {claims}\ntoken signature {signature}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn keys_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../reference/keys")
    }

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(keys_dir().join(name)).unwrap()
    }

    fn header(alg: &str) -> Object {
        json!({ "alg": alg, "typ": "JWT" })
            .as_object()
            .unwrap()
            .clone()
    }

    fn claims() -> Object {
        json!({ "sub": "admin@org-a", "iss": "i", "aud": "a", "exp": now() + 60 })
            .as_object()
            .unwrap()
            .clone()
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&["i"]);
        validation.set_audience(&["a"]);
        validation
    }

    fn verifies(token: &str, key: &DecodingKey, alg: Algorithm) -> bool {
        jsonwebtoken::decode::<Value>(token, key, &validation(alg)).is_ok()
    }

    #[test]
    fn signed_tokens_verify_with_the_public_key() {
        let rs = encoding_key(Algorithm::RS256, &read("issuer-rs256.pem")).unwrap();
        let public = DecodingKey::from_rsa_pem(&read("issuer-rs256.pub.pem")).unwrap();
        for alg in [Algorithm::RS256, Algorithm::PS512] {
            let mut h = header(algorithm_name(alg));
            h.insert("kid".into(), json!("k1"));
            let token = sign(&h, &claims(), &rs, alg).unwrap();
            assert!(verifies(&token, &public, alg), "{alg:?}");
        }
        let es = encoding_key(Algorithm::ES256, &read("issuer-es256.pem")).unwrap();
        let es_public = DecodingKey::from_ec_pem(&read("issuer-es256.pub.pem")).unwrap();
        let token = sign(&header("ES256"), &claims(), &es, Algorithm::ES256).unwrap();
        assert!(verifies(&token, &es_public, Algorithm::ES256));
    }

    #[test]
    fn hmac_secrets_are_trimmed() {
        let key = encoding_key(Algorithm::HS256, b"  s3cret-value\n").unwrap();
        let token = sign(&header("HS256"), &claims(), &key, Algorithm::HS256).unwrap();
        let decoding = DecodingKey::from_secret(b"s3cret-value");
        assert!(verifies(&token, &decoding, Algorithm::HS256));
    }

    #[test]
    fn forgeries_no_longer_verify() {
        let rs = encoding_key(Algorithm::RS256, &read("issuer-rs256.pem")).unwrap();
        let public = DecodingKey::from_rsa_pem(&read("issuer-rs256.pub.pem")).unwrap();
        let token = sign(&header("RS256"), &claims(), &rs, Algorithm::RS256).unwrap();
        let flipped = flip_signature(&token).unwrap();
        assert_ne!(flipped, token);
        assert_eq!(flipped.len(), token.len());
        assert!(!verifies(&flipped, &public, Algorithm::RS256));
        let stripped = strip_signature(&token).unwrap();
        assert!(stripped.ends_with('.'));
        assert!(!verifies(&stripped, &public, Algorithm::RS256));
        let mut changed = claims();
        changed.insert("sub".into(), json!("someone-else"));
        let tampered = replace_payload(&token, &changed).unwrap();
        assert_eq!(tampered.rsplit('.').next(), token.rsplit('.').next());
        assert!(!verifies(&tampered, &public, Algorithm::RS256));
        assert_eq!(
            unsigned(&header("none"), &claims(), ""),
            format!("{}.{}.", segment(&header("none")), segment(&claims()))
        );
    }

    #[test]
    fn attacker_keys_sign_but_are_not_the_issuer() {
        let es = encoding_key(Algorithm::ES256, &read("issuer-es256.pem")).unwrap();
        let es_public = DecodingKey::from_ec_pem(&read("issuer-es256.pub.pem")).unwrap();
        let attacker = attacker_key(Algorithm::ES256, &es).unwrap();
        assert_eq!(attacker.jwk["kty"], "EC");
        let token = sign(&header("ES256"), &claims(), &attacker.key, Algorithm::ES256).unwrap();
        assert!(!verifies(&token, &es_public, Algorithm::ES256));
        let own = DecodingKey::from_jwk(&serde_json::from_value(attacker.jwk).unwrap()).unwrap();
        assert!(verifies(&token, &own, Algorithm::ES256));

        for alg in [Algorithm::ES384, Algorithm::EdDSA, Algorithm::HS512] {
            let attacker = attacker_key(alg, &es).unwrap();
            let token = sign(&header(algorithm_name(alg)), &claims(), &attacker.key, alg).unwrap();
            let own =
                DecodingKey::from_jwk(&serde_json::from_value(attacker.jwk).unwrap()).unwrap();
            assert!(verifies(&token, &own, alg), "{alg:?}");
        }
    }

    #[test]
    fn rsa_attacker_keys_match_the_configured_size() {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let rs = encoding_key(Algorithm::RS256, &read("issuer-rs256.pem")).unwrap();
        let attacker = attacker_key(Algorithm::RS256, &rs).unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs1_der(attacker.key.as_bytes()).unwrap();
        assert_eq!(key.size(), 256);
        assert_eq!(attacker.jwk["kty"], "RSA");
        let public = DecodingKey::from_rsa_pem(&read("issuer-rs256.pub.pem")).unwrap();
        let token = sign(&header("RS256"), &claims(), &attacker.key, Algorithm::RS256).unwrap();
        assert!(!verifies(&token, &public, Algorithm::RS256));
    }

    #[test]
    fn algorithm_names_round_trip_and_are_case_sensitive() {
        for name in ALGORITHMS {
            assert_eq!(algorithm_name(parse_algorithm(name).unwrap()), *name);
        }
        assert_eq!(parse_algorithm("rs256"), None);
        assert_eq!(parse_algorithm("none"), None);
    }

    #[test]
    fn descriptions_show_header_and_claims_not_the_token() {
        let text = describe_token(&unsigned(&header("none"), &claims(), ""));
        assert!(text.contains("token header {\"alg\":\"none\",\"typ\":\"JWT\"}"));
        assert!(text.contains("token signature empty"));
    }
}
