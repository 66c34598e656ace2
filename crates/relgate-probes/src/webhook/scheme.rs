//! Webhook signature schemes: how Svix, Stripe, GitHub and a plain HMAC-SHA256 header sign a
//! delivery. Pure functions; the probe decides what to sign and what to send.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The names `scheme = "…"` accepts.
pub(crate) const SCHEME_NAMES: &[&str] = &["svix", "stripe", "github", "hmac-sha256"];

/// The header the `hmac-sha256` scheme signs in unless `header` says otherwise.
pub(crate) const DEFAULT_PLAIN_HEADER: &str = "X-Signature";

/// How deliveries are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `svix-id`, `svix-timestamp`, `svix-signature: v1,<base64 HMAC of "{id}.{ts}.{body}">`,
    /// keyed with the base64-decoded part of the `whsec_…` secret.
    Svix,
    /// `Stripe-Signature: t=<ts>,v1=<hex HMAC of "{ts}.{body}">`, keyed with the `whsec_…`
    /// secret as it is.
    Stripe,
    /// `X-Hub-Signature-256: sha256=<hex HMAC of the body>` plus `X-GitHub-Delivery`.
    Github,
    /// `<header>: <prefix><hex HMAC of the body>`.
    Plain {
        /// Header carrying the signature.
        header: String,
        /// Text before the hex digest (`sha256=`), often empty.
        prefix: String,
    },
}

impl Scheme {
    /// The name as written in `scheme = "…"`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Scheme::Svix => "svix",
            Scheme::Stripe => "stripe",
            Scheme::Github => "github",
            Scheme::Plain { .. } => "hmac-sha256",
        }
    }

    /// Whether the signature covers a timestamp a receiver can bound.
    pub(crate) fn signs_timestamp(&self) -> bool {
        matches!(self, Scheme::Svix | Scheme::Stripe)
    }

    /// Whether the provider's own libraries refuse timestamps in the future. Svix's do; Stripe's
    /// only bound the age (`now - t > tolerance`), so demanding it of a Stripe receiver would
    /// fail every receiver built on Stripe's SDK.
    pub(crate) fn bounds_future(&self) -> bool {
        matches!(self, Scheme::Svix)
    }

    /// Whether the signature covers a delivery id the receiver is expected to remember. Only
    /// Svix signs its id; GitHub's `X-GitHub-Delivery` is not signed and Stripe sends none.
    pub(crate) fn signs_id(&self) -> bool {
        matches!(self, Scheme::Svix)
    }

    /// The header holding the signature.
    pub(crate) fn signature_header(&self) -> &str {
        match self {
            Scheme::Svix => "svix-signature",
            Scheme::Stripe => "Stripe-Signature",
            Scheme::Github => "X-Hub-Signature-256",
            Scheme::Plain { header, .. } => header,
        }
    }

    /// Headers the scheme sets for every delivery, which `headers` may therefore not set.
    pub(crate) fn managed_headers(&self) -> Vec<&str> {
        match self {
            Scheme::Svix => vec!["svix-id", "svix-timestamp", "svix-signature"],
            Scheme::Stripe => vec!["Stripe-Signature"],
            Scheme::Github => vec!["X-Hub-Signature-256", "X-GitHub-Delivery"],
            Scheme::Plain { header, .. } => vec![header.as_str()],
        }
    }

    /// Headers sent by default that `headers` may replace.
    pub(crate) fn default_headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut headers = vec![("Content-Type", "application/json")];
        if *self == Scheme::Github {
            // GitHub always names the event; `ping` is the one every receiver must tolerate.
            headers.push(("X-GitHub-Event", "ping"));
        }
        headers
    }

    /// The control delivery's body when `body` is not set: an event the target has no reason
    /// to act on.
    pub(crate) fn default_body(&self) -> &'static str {
        match self {
            Scheme::Svix => r#"{"type":"relgate.probe","data":{}}"#,
            Scheme::Stripe => {
                r#"{"id":"evt_relgate_probe","object":"event","type":"relgate.probe","data":{"object":{}}}"#
            }
            Scheme::Github => r#"{"zen":"relgate probe","hook_id":0}"#,
            Scheme::Plain { .. } => r#"{"type":"relgate.probe"}"#,
        }
    }

    /// The HMAC key for a secret (its text with surrounding whitespace already trimmed).
    pub(crate) fn key(&self, secret: &[u8]) -> Result<Vec<u8>, SchemeKeyError> {
        match self {
            Scheme::Svix => svix_key(secret),
            Scheme::Stripe | Scheme::Github | Scheme::Plain { .. } => {
                if secret.is_empty() {
                    Err(SchemeKeyError::Empty)
                } else {
                    Ok(secret.to_vec())
                }
            }
        }
    }

    /// A fresh delivery id from 32 random bytes, shaped like the provider's (`msg_…` for Svix,
    /// a UUID for GitHub); schemes without ids get one anyway, for the log.
    pub(crate) fn delivery_id(&self, random: &[u8; 32]) -> String {
        match self {
            Scheme::Github => {
                let hex = hex::encode(&random[..16]);
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }
            _ => format!("msg_relgate_{}", hex::encode(&random[..12])),
        }
    }

    /// Headers identifying one delivery (not the signature): `svix-id` and `svix-timestamp`,
    /// `X-GitHub-Delivery`; none for Stripe (its timestamp lives in the signature header) and
    /// plain HMAC.
    /// `timestamp` is its text as sent, `None` to leave it out.
    pub(crate) fn stamp_headers(&self, id: &str, timestamp: Option<&str>) -> Vec<(String, String)> {
        match self {
            Scheme::Svix => {
                let mut headers = vec![("svix-id".to_string(), id.to_string())];
                if let Some(timestamp) = timestamp {
                    headers.push(("svix-timestamp".to_string(), timestamp.to_string()));
                }
                headers
            }
            Scheme::Github => vec![("X-GitHub-Delivery".to_string(), id.to_string())],
            Scheme::Stripe | Scheme::Plain { .. } => Vec::new(),
        }
    }

    /// The signature header's value for `body` delivered as `id` at `timestamp`.
    pub(crate) fn sign(&self, key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
        let mac = self.mac(key, id, &timestamp.to_string(), body);
        self.render(&mac, timestamp)
    }

    /// The MAC of `body` delivered as `id` with the timestamp text `timestamp` (as sent, even
    /// when it is no number; empty when it is left out).
    pub(crate) fn mac(&self, key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
        let signed = match self {
            Scheme::Svix => [format!("{id}.{timestamp}.").as_bytes(), body].concat(),
            Scheme::Stripe => [format!("{timestamp}.").as_bytes(), body].concat(),
            Scheme::Github | Scheme::Plain { .. } => body.to_vec(),
        };
        hmac_sha256(key, &signed)
    }

    /// Whether the MAC is written in hex (every scheme but Svix, which writes base64).
    pub(crate) fn hex(&self) -> bool {
        !matches!(self, Scheme::Svix)
    }

    /// Whether each signature carries a version tag (`v1,` for Svix, `v1=` for Stripe), and
    /// the header may carry several signatures.
    pub(crate) fn versioned(&self) -> bool {
        matches!(self, Scheme::Svix | Scheme::Stripe)
    }

    /// A MAC written as the scheme writes it: base64 for Svix, lowercase hex otherwise.
    pub(crate) fn encode_mac(&self, mac: &[u8]) -> String {
        match self {
            Scheme::Svix => STANDARD.encode(mac),
            _ => hex::encode(mac),
        }
    }

    /// A signature header's value holding the MAC texts `macs` as they are (each under the tag
    /// `version` where the scheme has tags; schemes without tags take only the first), with
    /// Stripe's `t=` set to `timestamp` when given.
    pub(crate) fn frame(&self, version: &str, macs: &[String], timestamp: Option<&str>) -> String {
        let first = macs.first().map(String::as_str).unwrap_or_default();
        match self {
            Scheme::Svix => macs
                .iter()
                .map(|mac| format!("{version},{mac}"))
                .collect::<Vec<_>>()
                .join(" "),
            Scheme::Stripe => {
                let mut items: Vec<String> =
                    timestamp.map(|t| format!("t={t}")).into_iter().collect();
                items.extend(macs.iter().map(|mac| format!("{version}={mac}")));
                items.join(",")
            }
            Scheme::Github => format!("sha256={first}"),
            Scheme::Plain { prefix, .. } => format!("{prefix}{first}"),
        }
    }

    /// A well-formed signature value whose MAC is `garbage` (random bytes: it verifies under
    /// no key).
    pub(crate) fn garbage(&self, garbage: &[u8; 32], timestamp: i64) -> String {
        self.render(garbage, timestamp)
    }

    /// The part of a signature value that encodes the MAC (`v1,<this>`, `sha256=<this>`),
    /// registered as a secret so that evidence still shows the scheme's framing.
    pub(crate) fn mac_text<'v>(&self, value: &'v str) -> &'v str {
        let mac = match self {
            Scheme::Svix => value.strip_prefix("v1,"),
            Scheme::Stripe => value.split_once(",v1=").map(|(_, mac)| mac),
            Scheme::Github => value.strip_prefix("sha256="),
            Scheme::Plain { prefix, .. } => value.strip_prefix(prefix.as_str()),
        };
        mac.unwrap_or(value)
    }

    fn render(&self, mac: &[u8], timestamp: i64) -> String {
        match self {
            Scheme::Svix => format!("v1,{}", STANDARD.encode(mac)),
            Scheme::Stripe => format!("t={timestamp},v1={}", hex::encode(mac)),
            Scheme::Github => format!("sha256={}", hex::encode(mac)),
            Scheme::Plain { prefix, .. } => format!("{prefix}{}", hex::encode(mac)),
        }
    }
}

/// Why a secret is no key for its scheme.
#[derive(Debug, thiserror::Error)]
pub enum SchemeKeyError {
    /// An empty secret.
    #[error("the secret is empty")]
    Empty,
    /// A Svix secret whose key part is not base64.
    #[error("a svix secret is `whsec_` followed by base64, and this is not")]
    SvixNotBase64(#[source] base64::DecodeError),
    /// A Svix secret with an empty key.
    #[error("the svix secret's key is empty")]
    SvixEmpty,
}

/// The key of a Svix secret: the base64 after `whsec_` (the prefix is optional, as in Svix's
/// libraries).
fn svix_key(secret: &[u8]) -> Result<Vec<u8>, SchemeKeyError> {
    let encoded = secret.strip_prefix(b"whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(SchemeKeyError::SvixNotBase64)?;
    if key.is_empty() {
        return Err(SchemeKeyError::SvixEmpty);
    }
    Ok(key)
}

/// HMAC-SHA256 of `message` keyed with `key`.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(header: &str, prefix: &str) -> Scheme {
        Scheme::Plain {
            header: header.to_string(),
            prefix: prefix.to_string(),
        }
    }

    fn check(scheme: Scheme, secret: &str, id: &str, timestamp: i64, body: &str, expected: &str) {
        let key = scheme.key(secret.as_bytes()).unwrap();
        assert_eq!(
            scheme.sign(&key, id, timestamp, body.as_bytes()),
            expected,
            "{}",
            scheme.name()
        );
    }

    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    #[test]
    fn github_matches_the_published_vector() {
        check(
            Scheme::Github,
            "It's a Secret to Everybody",
            "",
            0,
            "Hello, World!",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        );
    }

    // https://docs.svix.com/receiving/verifying-payloads/how-manual
    #[test]
    fn svix_matches_the_published_vector() {
        check(
            Scheme::Svix,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
    }

    #[test]
    fn svix_secret_prefix_is_optional() {
        check(
            Scheme::Svix,
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
    }

    // Computed independently with python3:
    // hmac.new(b"whsec_test_secret", b'1614265330.{"id":"evt_test","object":"event"}',
    //          hashlib.sha256).hexdigest()
    #[test]
    fn stripe_keys_with_the_whole_secret() {
        check(
            Scheme::Stripe,
            "whsec_test_secret",
            "ignored",
            1614265330,
            r#"{"id":"evt_test","object":"event"}"#,
            "t=1614265330,v1=fbd6bf5496b9d6310e422a2c072578f95f5eb492111ab57a5510e9cd79c1b304",
        );
    }

    // python3: hmac.new(b"relgate-plain-secret", b'{"type":"relgate.probe"}',
    //                   hashlib.sha256).hexdigest()
    #[test]
    fn plain_is_the_hex_digest_after_the_prefix() {
        let digest = "f75d6a7dee5a83ea754302d6a52a5f6a544aaf87a1c460dd7e0c30ac1d19e326";
        let body = r#"{"type":"relgate.probe"}"#;
        check(
            plain("X-Signature", ""),
            "relgate-plain-secret",
            "",
            0,
            body,
            digest,
        );
        let prefixed = format!("sha256={digest}");
        check(
            plain("X-Sig", "sha256="),
            "relgate-plain-secret",
            "",
            0,
            body,
            &prefixed,
        );
    }

    #[test]
    fn svix_secret_must_be_base64() {
        let err = Scheme::Svix
            .key(b"whsec_not base64!")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base64"), "{err}");
        assert!(Scheme::Stripe.key(b"").is_err());
    }

    #[test]
    fn garbage_is_well_formed() {
        let garbage = [7u8; 32];
        assert!(Scheme::Svix.garbage(&garbage, 5).starts_with("v1,"));
        let stripe = Scheme::Stripe.garbage(&garbage, 5);
        assert!(stripe.starts_with("t=5,v1=0707"), "{stripe}");
        assert_eq!(Scheme::Stripe.mac_text(&stripe), "07".repeat(32));
        assert_eq!(Scheme::Svix.mac_text("v1,abc"), "abc");
        assert_eq!(
            plain("X-Signature", "sha256=").garbage(&garbage, 5),
            format!("sha256={}", "07".repeat(32))
        );
    }

    #[test]
    fn delivery_ids_look_like_the_providers() {
        let random = [0xab; 32];
        assert_eq!(
            Scheme::Svix.delivery_id(&random),
            "msg_relgate_abababababababababababab"
        );
        assert_eq!(
            Scheme::Github.delivery_id(&random),
            "abababab-abab-abab-abab-abababababab"
        );
    }
}
