//! Svix-style webhook verification, as Clerk sends them.
//!
//! The signed content is `{svix-id}.{svix-timestamp}.{body}`; `svix-signature` holds one or
//! more space-separated `v1,<base64 HMAC-SHA256>` entries (several during a key rotation); the
//! key is the base64 part of the `whsec_…` secret. The timestamp must be within five minutes
//! of now in either direction. Replays are refused by the caller, which records every
//! delivered `svix-id` in a table with a unique key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::flaw::{Flaw, Flaws};

/// Largest accepted distance between `svix-timestamp` and now, in seconds.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The three Svix headers of one delivery.
#[derive(Debug, Clone, Copy)]
pub struct SvixHeaders<'a> {
    /// `svix-id`: unique per message, reused on retries.
    pub id: &'a str,
    /// `svix-timestamp`: seconds since the epoch, as text.
    pub timestamp: &'a str,
    /// `svix-signature`, if sent.
    pub signature: Option<&'a str>,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `svix-timestamp` is not an integer.
    #[error("malformed svix-timestamp")]
    MalformedTimestamp,
    /// The timestamp is outside the tolerance.
    #[error("timestamp outside the {TOLERANCE_SECONDS} s tolerance")]
    OutsideTolerance,
    /// No `v1` signature matched.
    #[error("no valid signature")]
    BadSignature,
}

impl WebhookError {
    /// The HTTP status for this refusal: 400 for a malformed request, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::MalformedTimestamp => 400,
            WebhookError::OutsideTolerance | WebhookError::BadSignature => 401,
        }
    }
}

/// The secret file does not hold a `whsec_<base64>` secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook secret is not of the form whsec_<base64>")]
pub struct BadSecret;

/// Verifies deliveries with one secret, minus the checks the flaws switch off.
pub struct WebhookVerifier {
    key: Vec<u8>,
    check_signature: bool,
    check_timestamp: bool,
}

impl WebhookVerifier {
    /// Decodes `secret` (`whsec_<base64>`, surrounding whitespace ignored).
    pub fn new(secret: &str, flaws: &Flaws) -> Result<Self, BadSecret> {
        let encoded = secret.trim().strip_prefix("whsec_").ok_or(BadSecret)?;
        let key = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
        if key.is_empty() {
            return Err(BadSecret);
        }
        Ok(WebhookVerifier {
            key,
            check_signature: !flaws.has(Flaw::WebhookSkipSignature),
            check_timestamp: !flaws.has(Flaw::WebhookNoTolerance),
        })
    }

    /// Checks timestamp and signature of one delivery received at `now` (epoch seconds).
    pub fn verify(
        &self,
        headers: SvixHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let timestamp: i64 = headers
            .timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::MalformedTimestamp)?;
        if self.check_timestamp && (now - timestamp).abs() > TOLERANCE_SECONDS {
            return Err(WebhookError::OutsideTolerance);
        }
        if !self.check_signature {
            return Ok(());
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(headers.id.as_bytes());
        mac.update(b".");
        mac.update(headers.timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let matches = headers
            .signature
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
            .any(|signature| mac.clone().verify_slice(&signature).is_ok());
        if matches {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

/// Signs a delivery the way Svix does; returns the `svix-signature` value (`v1,<base64>`).
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> Result<String, BadSecret> {
    let encoded = secret.trim().strip_prefix("whsec_").ok_or(BadSecret)?;
    let key = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key size");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn headers<'a>(timestamp: &'a str, signature: &'a str) -> SvixHeaders<'a> {
        SvixHeaders {
            id: "msg_1",
            timestamp,
            signature: Some(signature),
        }
    }

    #[test]
    fn accepts_a_signature_among_several() {
        let verifier = WebhookVerifier::new(SECRET, &Flaws::none()).unwrap();
        let good = sign(SECRET, "msg_1", "1000", b"{}").unwrap();
        let both = format!("v1,AAAA {good}");
        assert_eq!(verifier.verify(headers("1000", &both), b"{}", 1000), Ok(()));
    }

    #[test]
    fn refuses_tampered_body_stale_and_future() {
        let verifier = WebhookVerifier::new(SECRET, &Flaws::none()).unwrap();
        let good = sign(SECRET, "msg_1", "1000", b"{}").unwrap();
        let tampered = verifier.verify(headers("1000", &good), b"{ }", 1000);
        assert_eq!(tampered, Err(WebhookError::BadSignature));
        let stale = verifier.verify(headers("1000", &good), b"{}", 1000 + 301);
        assert_eq!(stale, Err(WebhookError::OutsideTolerance));
        let future = verifier.verify(headers("1000", &good), b"{}", 1000 - 301);
        assert_eq!(future, Err(WebhookError::OutsideTolerance));
    }

    #[test]
    fn secret_needs_the_whsec_prefix() {
        assert!(WebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &Flaws::none()).is_err());
    }
}
