//! DSSE (Dead Simple Signing Envelope) v1: the signed form of the run's in-toto Statement,
//! `attestation.intoto.dsse.json`, as in-toto and Sigstore tools read it:
//! `{"payloadType": "application/vnd.in-toto+json", "payload": base64(statement bytes),
//! "signatures": [{"keyid": "SHA256:…", "sig": base64(ed25519(PAE))}]}` where
//! `PAE = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{RunSigner, TrustedKey};

/// File name inside the out directory, next to the plain statement.
pub const ENVELOPE_FILE: &str = "attestation.intoto.dsse.json";

/// The payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signer's key id (the OpenSSH fingerprint for relgate's keys).
    #[serde(default)]
    pub keyid: String,
    /// base64 of the signature over the PAE.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// base64 of the payload bytes.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over the PAE.
    pub signatures: Vec<Signature>,
}

/// DSSE v1 pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `statement` (the exact bytes of the plain statement file).
pub fn sign(statement: &[u8], signer: &RunSigner) -> Envelope {
    let signature = signer.sign(&pae(PAYLOAD_TYPE, statement));
    Envelope {
        payload: STANDARD.encode(statement),
        payload_type: PAYLOAD_TYPE.to_string(),
        signatures: vec![Signature {
            keyid: signer.keyid().to_string(),
            sig: STANDARD.encode(signature),
        }],
    }
}

/// Signs `statement` and writes the envelope into `out_dir` atomically.
pub fn write(statement: &[u8], signer: &RunSigner, out_dir: &Path) -> std::io::Result<PathBuf> {
    let path = out_dir.join(ENVELOPE_FILE);
    let mut text =
        serde_json::to_string_pretty(&sign(statement, signer)).expect("an envelope serializes");
    text.push('\n');
    // Base64 and a fingerprint: nothing for the redactor. Should a rule ever match, a masked
    // envelope would be a broken one: refuse rather than write it.
    if let std::borrow::Cow::Owned(_) = crate::output::redaction::redact_bytes(text.as_bytes()) {
        return Err(std::io::Error::other(format!(
            "{}: the redactor would alter the signed envelope; not written",
            path.display()
        )));
    }
    crate::output::redaction::write_report(&path, text.as_bytes())?;
    Ok(path)
}

/// Why an envelope cannot be read or does not authenticate its payload.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The envelope file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a DSSE envelope.
    #[error("{}: not a DSSE envelope: {source}", path.display())]
    Parse {
        /// The envelope file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
    /// The payload is not base64.
    #[error("the payload is not base64: {0}")]
    Payload(#[source] base64::DecodeError),
    /// The payload is of another type than an in-toto statement.
    #[error("payloadType is {0:?}, expected {PAYLOAD_TYPE}")]
    PayloadType(String),
    /// No signature verifies with a trusted key.
    #[error("no valid signature by a trusted key ({trusted}): the envelope has {claimed}")]
    Untrusted {
        /// The trusted key ids, comma-separated.
        trusted: String,
        /// What the envelope carries: "no signature" or the key ids its signatures claim.
        claimed: String,
    },
}

/// Reads an envelope file.
pub fn read(path: &Path) -> Result<Envelope, DsseError> {
    let text = std::fs::read_to_string(path).map_err(|source| DsseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| DsseError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

impl Envelope {
    /// The payload bytes (not yet authenticated).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        STANDARD.decode(&self.payload).map_err(DsseError::Payload)
    }

    /// The key ids the envelope claims, unauthenticated.
    pub fn keyids(&self) -> Vec<&str> {
        self.signatures
            .iter()
            .map(|signature| signature.keyid.as_str())
            .collect()
    }

    /// The payload, if a signature by one of `trusted` covers it; returns it with that key's
    /// id. Every signature is tried against every key (a key id is only a hint).
    pub fn verify(&self, trusted: &[TrustedKey]) -> Result<(Vec<u8>, String), DsseError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(DsseError::PayloadType(self.payload_type.clone()));
        }
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        for signature in &self.signatures {
            let Ok(sig) = STANDARD.decode(&signature.sig) else {
                continue;
            };
            if let Some(key) = trusted.iter().find(|key| key.verifies(&message, &sig)) {
                return Ok((payload, key.keyid().to_string()));
            }
        }
        let claimed = if self.signatures.is_empty() {
            "no signature".to_string()
        } else {
            format!("signatures claiming key ids {}", self.keyids().join(", "))
        };
        let trusted: Vec<&str> = trusted.iter().map(TrustedKey::keyid).collect();
        Err(DsseError::Untrusted {
            trusted: trusted.join(", "),
            claimed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_signed_envelope_verifies_only_with_its_key_and_payload() {
        let signer = RunSigner::new(ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]));
        let other = RunSigner::new(ed25519_dalek::SigningKey::from_bytes(&[2u8; 32]));
        let envelope = sign(b"{\"a\":1}", &signer);
        let (payload, keyid) = envelope.verify(&[other.public(), signer.public()]).unwrap();
        assert_eq!(payload, b"{\"a\":1}");
        assert_eq!(keyid, signer.keyid());
        assert!(envelope.verify(&[other.public()]).is_err());
        let mut forged = envelope.clone();
        forged.payload = STANDARD.encode(b"{\"a\":2}");
        assert!(forged.verify(&[signer.public()]).is_err());
        let mut retyped = envelope;
        retyped.payload_type = "text/plain".into();
        assert!(retyped.verify(&[signer.public()]).is_err());
    }
}
