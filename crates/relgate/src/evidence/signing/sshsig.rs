//! SSH signatures: the SSHSIG format `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify`
//! checks (OpenSSH's PROTOCOL.sshsig), for ed25519 keys — what reviewers sign approvals with,
//! using the key they already sign git commits with.
//!
//! A signature covers `"SSHSIG" ‖ string namespace ‖ string reserved ‖ string hash ‖ string
//! H(message)`, so a signature made for one namespace (`git`, `file`) never verifies in another.
//! The armored form is `-----BEGIN SSH SIGNATURE-----`, the base64 of `"SSHSIG" ‖ uint32 1 ‖
//! string public key ‖ string namespace ‖ string reserved ‖ string hash ‖ string signature`
//! wrapped at 70 columns, and `-----END SSH SIGNATURE-----`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};

use super::openssh::{self, Wire, ED25519};
use super::{KeyProblem, RunSigner, TrustedKey};

/// The first line of an armored signature.
pub const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
/// The last line of an armored signature.
pub const ARMOR_END: &str = "-----END SSH SIGNATURE-----";
const MAGIC: &[u8] = b"SSHSIG";
const VERSION: u32 = 1;
/// Columns of the base64 body, as ssh-keygen wraps it.
const WRAP: usize = 70;

/// The message digest a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// `sha256`.
    Sha256,
    /// `sha512`, what ssh-keygen uses by default and relgate signs with.
    Sha512,
}

impl HashAlgorithm {
    fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => Sha256::digest(message).to_vec(),
            HashAlgorithm::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Not between the armor lines, or not base64.
    #[error("not an SSH signature ({0})")]
    Armor(String),
    /// The decoded bytes are not an SSHSIG blob.
    #[error("a malformed SSH signature: {0}")]
    Malformed(String),
    /// A key type relgate cannot check.
    #[error("the signature is by a {0} key: relgate checks ed25519 signatures only")]
    KeyType(String),
    /// The key inside is broken.
    #[error("the signature's key: {0}")]
    Key(KeyProblem),
    /// A digest other than sha256 and sha512.
    #[error("the signature uses the hash `{0}` (sha256 or sha512 expected)")]
    Hash(String),
    /// Made for another purpose.
    #[error("the signature is for the namespace `{found}`, not `{expected}`")]
    Namespace {
        /// The namespace the verifier asks for.
        expected: String,
        /// The namespace it was made for.
        found: String,
    },
    /// The signature does not match the message and key: the message was changed, or the
    /// signature was.
    #[error("the signature does not match the signed bytes (they, or it, were changed)")]
    Mismatch,
}

/// A parsed SSH signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSig {
    key: TrustedKey,
    namespace: String,
    hash: HashAlgorithm,
    signature: [u8; 64],
}

/// The bytes a signature covers.
fn signed_data(namespace: &str, hash: HashAlgorithm, message: &[u8]) -> Vec<u8> {
    let mut data = MAGIC.to_vec();
    openssh::ssh_string(&mut data, namespace.as_bytes());
    openssh::ssh_string(&mut data, b"");
    openssh::ssh_string(&mut data, hash.name().as_bytes());
    openssh::ssh_string(&mut data, &hash.digest(message));
    data
}

/// Signs `message` for `namespace` with `signer`, armored as `ssh-keygen -Y sign` writes it
/// (sha512, ending in a newline).
pub fn sign(signer: &RunSigner, namespace: &str, message: &[u8]) -> String {
    let hash = HashAlgorithm::Sha512;
    let signature = signer.sign(&signed_data(namespace, hash, message));
    let mut blob = MAGIC.to_vec();
    blob.extend_from_slice(&VERSION.to_be_bytes());
    openssh::ssh_string(
        &mut blob,
        &openssh::public_blob(&signer.public().public_bytes()),
    );
    openssh::ssh_string(&mut blob, namespace.as_bytes());
    openssh::ssh_string(&mut blob, b"");
    openssh::ssh_string(&mut blob, hash.name().as_bytes());
    let mut inner = Vec::with_capacity(83);
    openssh::ssh_string(&mut inner, ED25519.as_bytes());
    openssh::ssh_string(&mut inner, &signature);
    openssh::ssh_string(&mut blob, &inner);
    let encoded = STANDARD.encode(blob);
    let mut armored = format!("{ARMOR_BEGIN}\n");
    for line in encoded.as_bytes().chunks(WRAP) {
        armored.push_str(&String::from_utf8_lossy(line));
        armored.push('\n');
    }
    armored.push_str(ARMOR_END);
    armored.push('\n');
    armored
}

impl SshSig {
    /// Reads an armored signature (whitespace around and inside the base64 is ignored).
    pub fn parse(armored: &str) -> Result<SshSig, SigError> {
        let text = armored.trim();
        let body = text
            .strip_prefix(ARMOR_BEGIN)
            .and_then(|rest| rest.strip_suffix(ARMOR_END))
            .ok_or_else(|| SigError::Armor(format!("no {ARMOR_BEGIN} … {ARMOR_END}")))?;
        let encoded: String = body.split_whitespace().collect();
        let blob = STANDARD
            .decode(encoded)
            .map_err(|err| SigError::Armor(format!("the body is not base64: {err}")))?;
        let rest = blob
            .strip_prefix(MAGIC)
            .ok_or_else(|| SigError::Malformed("no SSHSIG preamble".into()))?;
        let malformed = |problem: KeyProblem| SigError::Malformed(problem.to_string());
        let mut wire = Wire::new(rest);
        let version = wire.u32().map_err(malformed)?;
        if version != VERSION {
            return Err(SigError::Malformed(format!("version {version}, not 1")));
        }
        let public =
            openssh::public_from_blob(wire.string().map_err(malformed)?).map_err(|problem| {
                match problem {
                    KeyProblem::Unsupported(kind) => SigError::KeyType(kind),
                    other => SigError::Key(other),
                }
            })?;
        let namespace = String::from_utf8(wire.string().map_err(malformed)?.to_vec())
            .map_err(|_| SigError::Malformed("the namespace is not UTF-8".into()))?;
        let _reserved = wire.string().map_err(malformed)?;
        let hash = match wire.string().map_err(malformed)? {
            b"sha256" => HashAlgorithm::Sha256,
            b"sha512" => HashAlgorithm::Sha512,
            other => return Err(SigError::Hash(String::from_utf8_lossy(other).into_owned())),
        };
        let mut inner = Wire::new(wire.string().map_err(malformed)?);
        let kind = inner.string().map_err(malformed)?;
        if kind != ED25519.as_bytes() {
            return Err(SigError::KeyType(
                String::from_utf8_lossy(kind).into_owned(),
            ));
        }
        let signature: [u8; 64] = inner
            .string()
            .map_err(malformed)?
            .try_into()
            .map_err(|_| SigError::Malformed("an ed25519 signature has 64 bytes".into()))?;
        if !wire.is_empty() || !inner.is_empty() {
            return Err(SigError::Malformed("trailing bytes".into()));
        }
        let key = TrustedKey::from_ed25519(&public).map_err(SigError::Key)?;
        Ok(SshSig {
            key,
            namespace,
            hash,
            signature,
        })
    }

    /// The key that made the signature (not yet trusted: check it against allowed signers).
    pub fn key(&self) -> &TrustedKey {
        &self.key
    }

    /// The namespace it was made for.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether it is the signature of `message` for `namespace` by its key.
    pub fn verify(&self, namespace: &str, message: &[u8]) -> Result<(), SigError> {
        if self.namespace != namespace {
            return Err(SigError::Namespace {
                expected: namespace.to_string(),
                found: self.namespace.clone(),
            });
        }
        let data = signed_data(namespace, self.hash, message);
        if self.key.verifies(&data, &self.signature) {
            Ok(())
        } else {
            Err(SigError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn signer(seed: u8) -> RunSigner {
        RunSigner::new(SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn a_signature_verifies_for_its_namespace_and_message_only() {
        let key = signer(7);
        let armored = sign(&key, "relgate-review", b"approve SEC-01\n");
        assert!(armored.starts_with(ARMOR_BEGIN) && armored.ends_with("-----\n"));
        assert!(armored
            .lines()
            .all(|line| line.len() <= WRAP || line.starts_with("-----")));
        let parsed = SshSig::parse(&armored).unwrap();
        assert_eq!(parsed.key(), &key.public());
        assert_eq!(parsed.verify("relgate-review", b"approve SEC-01\n"), Ok(()));
        assert_eq!(
            parsed.verify("relgate-review", b"approve SEC-02\n"),
            Err(SigError::Mismatch)
        );
        assert!(matches!(
            parsed.verify("git", b"approve SEC-01\n"),
            Err(SigError::Namespace { .. })
        ));
    }

    #[test]
    fn broken_armor_and_blobs_are_refused_with_a_reason() {
        let armored = sign(&signer(1), "ns", b"m");
        assert!(matches!(SshSig::parse("hello"), Err(SigError::Armor(_))));
        let truncated = armored.replacen(ARMOR_END, "", 1);
        assert!(matches!(SshSig::parse(&truncated), Err(SigError::Armor(_))));
        // A flipped byte in the signature: still parses, no longer verifies.
        let body: String = armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let mut blob = STANDARD.decode(&body).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let forged = format!("{ARMOR_BEGIN}\n{}\n{ARMOR_END}\n", STANDARD.encode(&blob));
        assert_eq!(
            SshSig::parse(&forged).unwrap().verify("ns", b"m"),
            Err(SigError::Mismatch)
        );
        // Trailing bytes after the blob.
        blob.push(0);
        let padded = format!("{ARMOR_BEGIN}\n{}\n{ARMOR_END}\n", STANDARD.encode(&blob));
        assert!(matches!(
            SshSig::parse(&padded),
            Err(SigError::Malformed(_))
        ));
    }
}
