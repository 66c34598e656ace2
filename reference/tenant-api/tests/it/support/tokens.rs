//! Token minting with the test keys: proper tokens through jsonwebtoken, forged ones by hand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{keys_dir, now};

/// The issuer and audience the service trusts by default.
pub const ISSUER: &str = "https://issuer.test";
/// The audience the service trusts by default.
pub const AUDIENCE: &str = "tenant-api";

/// Valid claims for `sub` in `org_id`, expiring in five minutes.
pub fn claims(sub: &str, org_id: &str) -> Value {
    json!({
        "sub": sub,
        "org_id": org_id,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 300,
    })
}

/// `claims` with `changes` merged in; a `null` value removes the claim.
pub fn claims_with(sub: &str, org_id: &str, changes: Value) -> Value {
    let mut claims = claims(sub, org_id);
    let object = claims.as_object_mut().expect("claims are an object");
    for (name, value) in changes.as_object().expect("changes are an object") {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    claims
}

/// RS256 with the trusted issuer key.
pub fn rs256(claims: &Value) -> String {
    sign_with("issuer-rs256.pem", Algorithm::RS256, claims)
}

/// ES256 with the trusted issuer key.
pub fn es256(claims: &Value) -> String {
    sign_with("issuer-es256.pem", Algorithm::ES256, claims)
}

/// RS256 with a key the service does not trust.
pub fn rs256_other_key(claims: &Value) -> String {
    sign_with("other-rs256.pem", Algorithm::RS256, claims)
}

/// A valid RS256 token for a seeded user, e.g. `token("admin@org-a", "org-a")`.
pub fn token(sub: &str, org_id: &str) -> String {
    rs256(&claims(sub, org_id))
}

fn sign_with(key_file: &str, algorithm: Algorithm, claims: &Value) -> String {
    let pem = std::fs::read(keys_dir().join(key_file)).expect("read private key");
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("parse private key");
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).expect("sign token")
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// An unsigned token with the given `alg` text (e.g. `none`, `NONE`) and an empty signature.
pub fn unsigned(alg: &str, claims: &Value) -> String {
    format!(
        "{}.{}.",
        segment(&json!({ "alg": alg, "typ": "JWT" })),
        segment(claims)
    )
}

/// HS256 keyed with the bytes of the trusted RS256 *public* key file: the key-confusion forgery.
pub fn hs256_with_public_key(claims: &Value) -> String {
    let secret = std::fs::read(keys_dir().join("issuer-rs256.pub.pem")).expect("read public key");
    let signing_input = format!(
        "{}.{}",
        segment(&json!({ "alg": "HS256", "typ": "JWT" })),
        segment(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("any key size");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// A valid token whose payload is swapped for `claims` after signing.
pub fn tampered(original: &Value, claims: &Value) -> String {
    let token = rs256(original);
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], segment(claims), parts[2])
}

/// A valid token with its signature removed.
pub fn empty_signature(claims: &Value) -> String {
    let token = rs256(claims);
    let cut = token.rfind('.').expect("three segments");
    format!("{}.", &token[..cut])
}

/// An ES256 token whose signature is 64 zero bytes (r = s = 0).
pub fn es256_zero_signature(claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        segment(&json!({ "alg": "ES256", "typ": "JWT" })),
        segment(claims),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    )
}

/// RS256 with an embedded `jwk` header naming the attacker's own key, signed with that key.
pub fn rs256_embedded_jwk(claims: &Value) -> String {
    let pem = std::fs::read(keys_dir().join("other-rs256.pem")).expect("read private key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("parse private key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("../../../../dev/null".to_owned());
    header.jku = Some("https://attacker.test/jwks.json".to_owned());
    jsonwebtoken::encode(&header, claims, &key).expect("sign token")
}
