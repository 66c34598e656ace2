//! relgate's SSH signatures against OpenSSH's own: what relgate signs, `ssh-keygen -Y verify`
//! accepts; what `ssh-keygen -Y sign` writes, relgate verifies; and both refuse the same
//! allowed-signers lines (an expired key, another namespace). Keys are made here with
//! ssh-keygen; the test skips without it (and fails under `RELGATE_REQUIRE_TOOLS=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{TimeZone, Utc};
use relgate::evidence::signing::allowed_signers::{AllowedSigners, Refusal};
use relgate::evidence::signing::sshsig::{self, SigError, SshSig};
use relgate::evidence::signing::RunSigner;

const NAMESPACE: &str = "relgate-review";

fn have_ssh_keygen() -> bool {
    let found = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        relgate_pg::testing::skip("ssh-keygen is not installed (openssh-client)");
    }
    found
}

/// A fresh ed25519 key pair in `dir`: (private key path, public key line).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_string())
}

/// `ssh-keygen -Y verify`: whether OpenSSH accepts `signature` of `message` by `identity`.
fn openssh_verifies(allowed: &Path, identity: &str, signature: &Path, message: &[u8]) -> bool {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-n", NAMESPACE, "-I", identity, "-f"])
        .arg(allowed)
        .arg("-s")
        .arg(signature)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), message).unwrap();
    drop(child.stdin.take());
    child.wait().unwrap().success()
}

#[test]
fn openssh_accepts_what_relgate_signs_and_relgate_what_openssh_signs() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keygen(dir.path(), "alice");
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("alice@example.com namespaces=\"{NAMESPACE}\" {public}\n"),
    )
    .unwrap();
    let message = b"approve SEC-01 at 3f2a\n";

    // relgate signs, OpenSSH verifies.
    let signer = RunSigner::load(&private).unwrap();
    let ours = dir.path().join("ours.sig");
    std::fs::write(&ours, sshsig::sign(&signer, NAMESPACE, message)).unwrap();
    assert!(openssh_verifies(
        &allowed,
        "alice@example.com",
        &ours,
        message
    ));
    assert!(!openssh_verifies(
        &allowed,
        "alice@example.com",
        &ours,
        b"approve SEC-02\n"
    ));

    // OpenSSH signs, relgate verifies.
    let file = dir.path().join("message");
    std::fs::write(&file, message).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(&private)
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let theirs =
        SshSig::parse(&std::fs::read_to_string(file.with_extension("sig")).unwrap()).unwrap();
    assert_eq!(theirs.verify(NAMESPACE, message), Ok(()));
    assert_eq!(
        theirs.verify(NAMESPACE, b"changed"),
        Err(SigError::Mismatch)
    );
    let signers = AllowedSigners::load(&allowed).unwrap();
    let now = Utc::now();
    assert_eq!(
        signers.check("alice@example.com", theirs.key(), NAMESPACE, now),
        Ok(())
    );
    // A signature made for git's namespace is no approval.
    let commit = dir.path().join("commit");
    std::fs::write(&commit, message).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "git", "-f"])
        .arg(&private)
        .arg(&commit)
        .status()
        .unwrap();
    assert!(status.success());
    let git =
        SshSig::parse(&std::fs::read_to_string(commit.with_extension("sig")).unwrap()).unwrap();
    assert_eq!(git.namespace(), "git");
    assert!(matches!(
        git.verify(NAMESPACE, message),
        Err(SigError::Namespace { .. })
    ));
}

#[test]
fn both_refuse_an_expired_key_and_a_key_not_listed() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = keygen(dir.path(), "bob");
    let (_, other) = keygen(dir.path(), "carol");
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("bob@example.com valid-before=20200101Z {public}\ncarol@example.com {other}\n"),
    )
    .unwrap();
    let message = b"approve SEC-03\n";
    let signer = RunSigner::load(&private).unwrap();
    let signature = dir.path().join("sig");
    let armored = sshsig::sign(&signer, NAMESPACE, message);
    std::fs::write(&signature, &armored).unwrap();
    assert!(!openssh_verifies(
        &allowed,
        "bob@example.com",
        &signature,
        message
    ));
    let signers = AllowedSigners::load(&allowed).unwrap();
    let key = SshSig::parse(&armored).unwrap().key().clone();
    let now = Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap();
    assert!(matches!(
        signers.check("bob@example.com", &key, NAMESPACE, now),
        Err(Refusal::Expired { .. })
    ));
    // Bob's key cannot sign as carol.
    assert!(!openssh_verifies(
        &allowed,
        "carol@example.com",
        &signature,
        message
    ));
    assert!(matches!(
        signers.check("carol@example.com", &key, NAMESPACE, now),
        Err(Refusal::Identity { .. })
    ));
}
