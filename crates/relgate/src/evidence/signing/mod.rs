//! Signed runs: the ed25519 key a run signs its attestation with, the public keys `verify`
//! trusts, and the DSSE envelope ([`dsse`]).
//!
//! Private keys: OpenSSH (`ssh-keygen -t ed25519 -N ''`, unencrypted) or PKCS#8 PEM
//! (`openssl genpkey -algorithm ed25519`). Public keys: an OpenSSH `ssh-ed25519 AAAA…` line or
//! a PEM SubjectPublicKeyInfo (`openssl pkey -pubout`). A key's id is its OpenSSH fingerprint
//! (`SHA256:…`, as `ssh-keygen -l` prints it).
//!
//! The signing key of the process is installed once by the caller ([`install`], the xtask
//! after reading `--sign-key` / [`ENV_SIGNING_KEY`]), so that the report writer signs whatever
//! it finishes without every caller threading a key through.

pub mod allowed_signers;
pub mod dsse;
pub mod openssh;
pub mod sshsig;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

// PEM labels, split so that no source line looks like a key (this repository's gate greps its
// sources for private-key headers).
const PKCS8_BEGIN: &str = concat!("-----BEGIN ", "PRIVATE KEY-----");
const ENCRYPTED_BEGIN: &str = concat!("-----BEGIN ENCRYPTED ", "PRIVATE KEY-----");

/// The environment variable naming the signing key file.
pub const ENV_SIGNING_KEY: &str = "RELGATE_SIGNING_KEY";

/// What is wrong with a key file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Encrypted with a passphrase.
    #[error("the key is encrypted with a passphrase: relgate reads unencrypted keys only (keep the key file secret instead, e.g. as a CI secret; `ssh-keygen -p -N '' -f FILE` removes the passphrase of a copy)")]
    Encrypted,
    /// Another algorithm than ed25519.
    #[error("{0} keys are not supported: use an ed25519 key (`ssh-keygen -t ed25519`)")]
    Unsupported(String),
    /// Not a key of any format relgate reads, or a broken one.
    #[error("not a valid ed25519 key: {0}")]
    Malformed(String),
}

/// A key file that cannot be used, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read. The path is shown through the redactor: a key pasted where
    /// its file's path belongs (`RELGATE_SIGNING_KEY=${{ secrets.KEY }}`) is not repeated.
    #[error(
        "cannot read key file {}: {source}",
        crate::output::redaction::redact(&path.display().to_string())
    )]
    Unreadable {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's content is not a usable key.
    #[error("key file {}: {problem}", path.display())]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        problem: KeyProblem,
    },
}

/// The key a run signs with.
pub struct RunSigner {
    key: SigningKey,
    keyid: String,
}

impl std::fmt::Debug for RunSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSigner")
            .field("keyid", &self.keyid)
            .finish_non_exhaustive()
    }
}

impl RunSigner {
    /// Reads a private key file (OpenSSH or PKCS#8 PEM) and registers its material with the
    /// redactor, so that it can never reach a report.
    pub fn load(path: &Path) -> Result<RunSigner, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        // The body lines, not the armor: a registered BEGIN line would be masked before the
        // redactor's private-key block rule could see it in another key's output.
        for line in text.lines().filter(|line| !line.contains("-----")) {
            crate::output::redaction::register_secret(line);
        }
        let key = parse_private(&text).map_err(|problem| KeyError::Invalid {
            path: path.to_path_buf(),
            problem,
        })?;
        let seed = key.to_bytes();
        crate::output::redaction::register_secret(
            &base64::engine::general_purpose::STANDARD.encode(seed),
        );
        crate::output::redaction::register_secret(&hex::encode(seed));
        Ok(RunSigner::new(key))
    }

    /// A signer from a key.
    pub fn new(key: SigningKey) -> RunSigner {
        let keyid = openssh::fingerprint(key.verifying_key().as_bytes());
        RunSigner { key, keyid }
    }

    /// The key id written into signatures: the OpenSSH fingerprint of the public key.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The public half.
    pub fn public(&self) -> TrustedKey {
        TrustedKey::new(self.key.verifying_key())
    }

    /// An ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

fn parse_private(text: &str) -> Result<SigningKey, KeyProblem> {
    if text.contains(openssh::PRIVATE_BEGIN) {
        return openssh::parse_private(text).map(|seed| SigningKey::from_bytes(&seed));
    }
    if text.contains(ENCRYPTED_BEGIN) {
        return Err(KeyProblem::Encrypted);
    }
    if text.contains(PKCS8_BEGIN) {
        return SigningKey::from_pkcs8_pem(text.trim()).map_err(|err| {
            KeyProblem::Malformed(format!(
                "a PKCS#8 key that is not ed25519 or is broken ({err})"
            ))
        });
    }
    if text.contains("PRIVATE KEY-----") {
        return Err(KeyProblem::Unsupported(
            "this PEM private key type".to_string(),
        ));
    }
    Err(KeyProblem::Malformed(
        "expected an OpenSSH private key (`ssh-keygen -t ed25519 -N ''`) or a PKCS#8 PEM key (`openssl genpkey -algorithm ed25519`)".to_string(),
    ))
}

/// A public key `verify` trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    key: VerifyingKey,
    keyid: String,
}

impl TrustedKey {
    fn new(key: VerifyingKey) -> TrustedKey {
        let keyid = openssh::fingerprint(key.as_bytes());
        TrustedKey { key, keyid }
    }

    /// Reads a public key file: one or more `ssh-ed25519 …` lines (blank lines and `#` comments
    /// are skipped), or a PEM `PUBLIC KEY`.
    pub fn load(path: &Path) -> Result<Vec<TrustedKey>, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        parse_public(&text).map_err(|problem| KeyError::Invalid {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// An ed25519 public key from its 32 bytes.
    pub fn from_ed25519(bytes: &[u8; 32]) -> Result<TrustedKey, KeyProblem> {
        VerifyingKey::from_bytes(bytes)
            .map(TrustedKey::new)
            .map_err(|err| KeyProblem::Malformed(format!("not an ed25519 point ({err})")))
    }

    /// The key's 32 bytes.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The OpenSSH fingerprint.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// Whether `signature` is this key's signature of `message` (strict verification).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes))
            .is_ok()
    }
}

fn parse_public(text: &str) -> Result<Vec<TrustedKey>, KeyProblem> {
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        let key = VerifyingKey::from_public_key_pem(text.trim()).map_err(|err| {
            KeyProblem::Malformed(format!(
                "a PEM public key that is not ed25519 or is broken ({err})"
            ))
        })?;
        return Ok(vec![TrustedKey::new(key)]);
    }
    if text.contains("PRIVATE KEY-----") {
        return Err(KeyProblem::Malformed(
            "this is a private key: give verify the public key (`ssh-keygen -y -f KEY` or `openssl pkey -pubout -in KEY`)".to_string(),
        ));
    }
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let public = openssh::parse_public_line(line)?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|err| KeyProblem::Malformed(format!("not an ed25519 point ({err})")))?;
        keys.push(TrustedKey::new(key));
    }
    if keys.is_empty() {
        return Err(KeyProblem::Malformed(
            "expected an `ssh-ed25519 AAAA…` line or a PEM PUBLIC KEY".to_string(),
        ));
    }
    Ok(keys)
}

static SIGNER: OnceLock<RunSigner> = OnceLock::new();

/// Makes `signer` the key every run of this process signs with. Only the first call counts.
pub fn install(signer: RunSigner) {
    let _ = SIGNER.set(signer);
}

/// The installed signer, if any.
pub fn installed() -> Option<&'static RunSigner> {
    SIGNER.get()
}

/// Loads and installs the key named by `flag`, else by [`ENV_SIGNING_KEY`]; returns its key id,
/// or `None` when no key is named.
pub fn install_from(flag: Option<PathBuf>) -> Result<Option<String>, KeyError> {
    let Some(path) = key_path(flag, &|key| std::env::var(key).ok()) else {
        return Ok(None);
    };
    let signer = RunSigner::load(&path)?;
    let keyid = signer.keyid().to_string();
    install(signer);
    conceal();
    Ok(Some(keyid))
}

/// Once the key is in memory: checks do not inherit [`ENV_SIGNING_KEY`], and the process is
/// made non-dumpable, so that other processes of the same (non-root) user cannot read its
/// memory, environment or descriptors through /proc or ptrace. A check can still read the key
/// file itself if it knows the path: to keep the key from checks, sign in a step of its own
/// (`cargo xtask gate sign`, see docs/SECURITY.md).
fn conceal() {
    // Called from `main` before any thread starts (xtask, gate-tests).
    std::env::remove_var(ENV_SIGNING_KEY);
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// The key file named by `flag`, else by [`ENV_SIGNING_KEY`] (an empty value counts as unset).
pub fn key_path(flag: Option<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    flag.or_else(|| {
        env(ENV_SIGNING_KEY)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_where_its_path_belongs_is_not_repeated() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let pem = SigningKey::from_bytes(&[7u8; 32])
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let body = pem.lines().nth(1).unwrap().to_string();
        let err = RunSigner::load(Path::new(pem.as_str())).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("cannot read key file"), "{shown}");
        assert!(!shown.contains(&body), "the key was repeated: {shown}");
    }

    #[test]
    fn pkcs8_keys_round_trip_and_encrypted_ones_are_refused() {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let parsed = parse_private(&pem).unwrap();
        assert_eq!(parsed.to_bytes(), key.to_bytes());
        let public = key
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let trusted = parse_public(&public).unwrap();
        let signer = RunSigner::new(key);
        assert_eq!(trusted, vec![signer.public()]);
        assert!(trusted[0].verifies(b"m", &signer.sign(b"m")));
        assert!(!trusted[0].verifies(b"n", &signer.sign(b"m")));
        assert_eq!(
            parse_private(&format!("{ENCRYPTED_BEGIN}\nAAAA\n")).unwrap_err(),
            KeyProblem::Encrypted
        );
        assert!(matches!(
            parse_private("hello"),
            Err(KeyProblem::Malformed(_))
        ));
        assert!(matches!(
            parse_public(&pem),
            Err(KeyProblem::Malformed(message)) if message.contains("private key")
        ));
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let env = |key: &str| (key == ENV_SIGNING_KEY).then(|| "from-env".to_string());
        assert_eq!(
            key_path(Some("flag".into()), &env),
            Some(PathBuf::from("flag"))
        );
        assert_eq!(key_path(None, &env), Some(PathBuf::from("from-env")));
        assert_eq!(key_path(None, &|_| Some(String::new())), None);
    }
}
