//! Svix-style webhook verification, as Clerk sends them.
//!
//! The signed content is `{svix-id}.{svix-timestamp}.{body}`; `svix-signature` holds one or
//! more space-separated `v1,<base64 HMAC-SHA256>` entries (several during a key rotation); the
//! key is the base64 part of the `whsec_…` secret. Each entry is decoded and compared with the
//! whole MAC in constant time. The timestamp must be an integer number of seconds within five
//! minutes of now in either direction. Replays are refused by the caller, which records every
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
    /// `svix-timestamp`: seconds since the epoch, as text, if sent.
    pub timestamp: Option<&'a str>,
    /// `svix-signature`, if sent.
    pub signature: Option<&'a str>,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `svix-timestamp` is missing or not an integer.
    #[error("missing or malformed svix-timestamp")]
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
    flaws: Flaws,
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
            flaws: flaws.clone(),
        })
    }

    /// Checks timestamp and signature of one delivery received at `now` (epoch seconds).
    pub fn verify(
        &self,
        headers: SvixHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let parsed = headers
            .timestamp
            .and_then(|text| text.trim().parse::<i64>().ok());
        let timestamp = match parsed {
            Some(seconds)
                if self.flaws.has(Flaw::WebhookMillisecondTimestamp)
                    && seconds > 100_000_000_000 =>
            {
                seconds / 1000
            }
            Some(seconds) => seconds,
            None if self.flaws.has(Flaw::WebhookLenientTimestamp) => now,
            None => return Err(WebhookError::MalformedTimestamp),
        };
        if self.check_timestamp && (now - timestamp).abs() > TOLERANCE_SECONDS {
            return Err(WebhookError::OutsideTolerance);
        }
        if !self.check_signature {
            return Ok(());
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(headers.id.as_bytes());
        mac.update(b".");
        mac.update(headers.timestamp.unwrap_or_default().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        let header = headers.signature.unwrap_or_default();
        let compact: String;
        let entries: Vec<&str> = if self.flaws.has(Flaw::WebhookStripWhitespace) {
            // "Normalise" the header: drop every space and tab, then find the entries by their
            // `v1,` tags (base64 has no comma) — whitespace inside a signature is lost.
            compact = header.split_whitespace().collect();
            compact
                .split("v1,")
                .filter(|entry| !entry.is_empty())
                .collect()
        } else {
            header
                .split_whitespace()
                .filter_map(|entry| self.v1(entry))
                .collect()
        };
        if self.flaws.has(Flaw::WebhookSeveralFormatOnly) && entries.len() > 1 {
            // The loop checks that each entry decodes to a MAC, and forgets the comparison.
            let well_formed = entries
                .iter()
                .all(|encoded| STANDARD.decode(encoded).is_ok_and(|mac| mac.len() == 32));
            if well_formed {
                return Ok(());
            }
        }
        if entries
            .iter()
            .any(|encoded| self.matches(encoded, &expected))
        {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    /// The encoded signature of a `v1,<base64>` entry (with `webhook-any-version`, of any
    /// `<tag>,<base64>`).
    fn v1<'e>(&self, entry: &'e str) -> Option<&'e str> {
        if self.flaws.has(Flaw::WebhookAnyVersion) {
            entry.split_once(',').map(|(_, encoded)| encoded)
        } else {
            entry.strip_prefix("v1,")
        }
    }

    /// Whether one encoded signature is the expected MAC: in constant time, over the whole
    /// MAC, unless a flaw says otherwise.
    fn matches(&self, encoded: &str, expected: &[u8]) -> bool {
        if self.flaws.has(Flaw::WebhookCaseInsensitive) {
            return encoded.eq_ignore_ascii_case(&STANDARD.encode(expected));
        }
        let Ok(given) = STANDARD.decode(encoded) else {
            return false;
        };
        if self.flaws.has(Flaw::WebhookPrefixCompare) {
            return expected.starts_with(&given);
        }
        if self.flaws.has(Flaw::WebhookTrailingIgnored) {
            return given.starts_with(expected);
        }
        if given.len() != expected.len() {
            return false;
        }
        let compared = if self.flaws.has(Flaw::WebhookOffByOne) {
            expected.len() - 1
        } else {
            expected.len()
        };
        given[..compared]
            .iter()
            .zip(&expected[..compared])
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
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
            timestamp: Some(timestamp),
            signature: Some(signature),
        }
    }

    #[test]
    fn accepts_a_signature_among_several() {
        let verifier = WebhookVerifier::new(SECRET, &Flaws::none()).unwrap();
        let good = sign(SECRET, "msg_1", "1000", b"{}").unwrap();
        let both = format!("v1,AAAA {good}");
        assert_eq!(verifier.verify(headers("1000", &both), b"{}", 1000), Ok(()));
        let stripping: Flaws = [Flaw::WebhookStripWhitespace].into_iter().collect();
        let verifier = WebhookVerifier::new(SECRET, &stripping).unwrap();
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
    fn a_missing_timestamp_is_malformed_unless_lenient() {
        let good = sign(SECRET, "msg_1", "", b"{}").unwrap();
        let missing = SvixHeaders {
            id: "msg_1",
            timestamp: None,
            signature: Some(&good),
        };
        let verifier = WebhookVerifier::new(SECRET, &Flaws::none()).unwrap();
        let refused = verifier.verify(missing, b"{}", 1000);
        assert_eq!(refused, Err(WebhookError::MalformedTimestamp));
        let lenient: Flaws = [Flaw::WebhookLenientTimestamp].into_iter().collect();
        let verifier = WebhookVerifier::new(SECRET, &lenient).unwrap();
        assert_eq!(verifier.verify(missing, b"{}", 1000), Ok(()));
    }

    #[test]
    fn comparison_flaws_accept_their_mangled_signature_only() {
        let good = sign(SECRET, "msg_1", "1000", b"{}").unwrap();
        let mac = STANDARD.decode(&good[3..]).unwrap();
        let truncated = format!("v1,{}", &good[3..27]);
        let padded = format!("v1,{}", STANDARD.encode([&mac[..], &[1, 2, 3, 4]].concat()));
        let swapped: String = good[3..]
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let swapped = format!("v1,{swapped}");
        let version = good.replacen("v1,", "v2,", 1);
        let tabbed = format!("{}\t{}", &good[..25], &good[25..]);
        for (flaw, signature) in [
            (Flaw::WebhookPrefixCompare, "v1,".to_string()),
            (Flaw::WebhookPrefixCompare, truncated),
            (Flaw::WebhookTrailingIgnored, padded),
            (Flaw::WebhookCaseInsensitive, swapped),
            (Flaw::WebhookAnyVersion, version),
            (Flaw::WebhookStripWhitespace, tabbed),
        ] {
            let refused = WebhookVerifier::new(SECRET, &Flaws::none()).unwrap();
            let result = refused.verify(headers("1000", &signature), b"{}", 1000);
            assert_eq!(result, Err(WebhookError::BadSignature), "{signature}");
            let flawed: Flaws = [flaw].into_iter().collect();
            let flawed = WebhookVerifier::new(SECRET, &flawed).unwrap();
            assert_eq!(
                flawed.verify(headers("1000", &signature), b"{}", 1000),
                Ok(()),
                "{flaw}"
            );
        }
    }

    #[test]
    fn secret_needs_the_whsec_prefix() {
        assert!(WebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &Flaws::none()).is_err());
    }
}
