//! Sending the `webhook` probe's deliveries: the attacks a [`Sender`] builds (signed, wrongly
//! keyed, garbage-signed, unsigned, stale, future, tampered, replayed; the mangled signatures
//! and timestamps are in `forge.rs`) and what came back.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::duration::format_duration;
use crate::http::{self, Request};

use super::state::{Attempt, Sender, TIMESTAMP_MARGIN};

impl Sender<'_> {
    /// Every attack but the replay: case name, what is sent (after "with"), the request.
    pub(super) fn attacks(&self) -> Vec<(&'static str, String, Request)> {
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
        attacks.extend(self.comparison_attacks());
        attacks
    }

    /// A fresh delivery of `body` signed with the right key at `timestamp`.
    pub(super) fn signed(&self, timestamp: i64, body: &[u8]) -> Request {
        self.signed_with(&self.key, timestamp, body, body)
    }

    /// A fresh delivery of `sent` carrying the signature, with `key`, of `signed`.
    pub(super) fn signed_with(
        &self,
        key: &[u8],
        timestamp: i64,
        signed: &[u8],
        sent: &[u8],
    ) -> Request {
        let id = self.probe.scheme.delivery_id(&random_bytes());
        let signature = self.probe.scheme.sign(key, &id, timestamp, signed);
        self.request(&id, timestamp, Some(signature), sent)
    }

    pub(super) fn garbage_signed(&self, body: &[u8]) -> Request {
        let id = self.probe.scheme.delivery_id(&random_bytes());
        let timestamp = now();
        let signature = self.probe.scheme.garbage(&random_bytes(), timestamp);
        self.request(&id, timestamp, Some(signature), body)
    }

    pub(super) fn unsigned(&self, body: &[u8]) -> Request {
        let id = self.probe.scheme.delivery_id(&random_bytes());
        self.request(&id, now(), None, body)
    }

    pub(super) fn request(
        &self,
        id: &str,
        timestamp: i64,
        signature: Option<String>,
        body: &[u8],
    ) -> Request {
        if let Some(signature) = &signature {
            let mac = self.probe.scheme.mac_text(signature);
            self.context.log.add_secret(mac);
        }
        self.stamped(id, Some(&timestamp.to_string()), signature, body)
    }

    /// A delivery whose timestamp is the text `timestamp` (`None`: no timestamp header). The
    /// caller registers the signature's MACs as secrets.
    pub(super) fn stamped(
        &self,
        id: &str,
        timestamp: Option<&str>,
        signature: Option<String>,
        body: &[u8],
    ) -> Request {
        let scheme = &self.probe.scheme;
        let mut request = Request::new("POST", &self.probe.url);
        for (name, value) in &self.probe.headers {
            request = request.header(name, value.as_str());
        }
        for (name, value) in scheme.stamp_headers(id, timestamp) {
            request = request.header(&name, value);
        }
        if let Some(signature) = signature {
            request = request.header(scheme.signature_header(), signature);
        }
        request.body(body.to_vec())
    }

    pub(super) fn send(&self, case: &str, request: Request) -> Attempt {
        let log = self.context.log;
        log.line(&format!("{case}: {}", request.describe()));
        let reply = http::send(&request, self.probe.request_timeout, self.context.deadline)
            .map_err(|err| err.to_string());
        let attempt = Attempt { request, reply };
        log.line(&format!("{case}: -> {}", attempt.got()));
        attempt
    }
}

impl Attempt {
    pub(super) fn got(&self) -> String {
        match &self.reply {
            Ok(reply) => reply.describe(),
            Err(err) => format!("not sent: {err}"),
        }
    }
}

/// The body with one more member, so that its old signature no longer covers it; still the
/// same harmless event.
pub(super) fn tamper(body: &[u8]) -> Vec<u8> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).unwrap_or_default();
    object.insert(
        "relgate_tampered".to_string(),
        serde_json::Value::Bool(true),
    );
    serde_json::to_vec(&object).unwrap_or_else(|_| body.to_vec())
}

/// Seconds since the epoch.
pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// 32 unpredictable bytes for delivery ids, garbage signatures and the wrong secret. None of
/// them protects anything, so the standard library's per-process random hash keys, the time
/// and a counter are enough; no RNG crate needed.
pub(super) fn random_bytes() -> [u8; 32] {
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
