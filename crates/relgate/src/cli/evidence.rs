//! The commands over a finished run's out directory: `verify` (everything recomputed and
//! compared) and `sign` (verify, sign the statement, verify the signature).

use std::path::{Path, PathBuf};

use crate::evidence::signing;
use crate::model::exit_codes;
use crate::output::redaction::print_error;
use crate::run::outdir;

/// `gate sign`: verify the out directory as it is, sign its statement, verify the signature.
pub(super) fn sign(out: PathBuf, sign_key: Option<PathBuf>, gate: Option<PathBuf>) -> i32 {
    let signer = match signing::install_from(sign_key) {
        Ok(Some(_)) => signing::installed().expect("just installed"),
        Ok(None) => {
            eprintln!(
                "error: no signing key: pass --sign-key FILE or set {}",
                signing::ENV_SIGNING_KEY
            );
            return exit_codes::INVALID;
        }
        Err(err) => {
            print_error(&err);
            return exit_codes::INVALID;
        }
    };
    if let Some(code) = missing_gate(gate.as_deref()) {
        return code;
    }
    let _lock = match take_out_dir(&out, "sign", outdir::Purpose::Sign) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    let options = |trusted: Vec<signing::TrustedKey>| crate::verify::Options {
        out_dir: out.clone(),
        trusted,
        expect_commit: None,
        gate: gate.clone(),
    };
    if let Err(err) = crate::verify::verify(&options(Vec::new())) {
        print_error(&format!(
            "refusing to sign: the out directory does not verify: {err}"
        ));
        return exit_codes::NO_GO;
    }
    let path = out.join(crate::report::attestation::ATTESTATION_FILE);
    let statement = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            print_error(&format!("cannot read {}: {err}", path.display()));
            return exit_codes::NO_GO;
        }
    };
    if let Err(err) = signing::dsse::write(&statement, signer, &out) {
        print_error(&format!("cannot write the envelope: {err}"));
        return exit_codes::NO_GO;
    }
    // What was signed is what verifies: nothing changed between the check and the signature.
    match crate::verify::verify(&options(vec![signer.public()])) {
        Ok(_) => {
            println!("signed {} with key {}", path.display(), signer.keyid());
            exit_codes::OK
        }
        Err(err) => {
            let _ = std::fs::remove_file(out.join(signing::dsse::ENVELOPE_FILE));
            eprintln!(
                "error: the signed out directory does not verify (changed while signing?): {err}"
            );
            exit_codes::NO_GO
        }
    }
}

/// The keys of every `--trusted-key` file, or the exit code of a file that holds none (its
/// error printed through the redactor: the file may be anything but a key).
pub(super) fn trusted(paths: &[PathBuf]) -> Result<Vec<signing::TrustedKey>, i32> {
    let mut trusted = Vec::new();
    for path in paths {
        match signing::TrustedKey::load(path) {
            Ok(keys) => trusted.extend(keys),
            Err(err) => {
                print_error(&format!("--trusted-key: {err}"));
                return Err(exit_codes::INVALID);
            }
        }
    }
    Ok(trusted)
}

/// `gate verify`: one line saying what matched (and warnings for what proves little), or what
/// did not.
pub(super) fn verify(
    out: PathBuf,
    trusted_keys: &[PathBuf],
    expect_commit: Option<&str>,
    gate: Option<PathBuf>,
) -> i32 {
    let trusted = match trusted(trusted_keys) {
        Ok(trusted) => trusted,
        Err(code) => return code,
    };
    let expect_commit = match expect_commit.map(resolve_commit).transpose() {
        Ok(commit) => commit,
        Err(message) => {
            print_error(&format!("--expect-commit: {message}"));
            return exit_codes::INVALID;
        }
    };
    if let Some(code) = missing_gate(gate.as_deref()) {
        return code;
    }
    let options = crate::verify::Options {
        out_dir: out,
        trusted,
        expect_commit,
        gate,
    };
    match crate::verify::verify(&options) {
        Ok(verified) => {
            print_verified(&verified);
            exit_codes::OK
        }
        Err(err) => {
            eprintln!("verify failed: {err}");
            exit_codes::NO_GO
        }
    }
}

/// What a clean `verify` prints.
fn print_verified(verified: &crate::verify::Verified) {
    let ledger = &verified.ledger;
    let decision = ledger
        .verdict()
        .map_or("none", |verdict| verdict.decision.label());
    let recomputed = match &verified.other_version {
        None => format!(
            "the verdict recomputes, {} reports re-render",
            verified.reports
        ),
        Some(_) => "verdict and reports not recomputed".to_string(),
    };
    println!(
        "ok: {} records, {} check records, every log digest matches, {} attestation subjects match, the statement matches the ledger, {recomputed}; verdict {decision}",
        ledger.records.len(),
        ledger.checks().count(),
        verified.subjects,
    );
    if let Some(version) = &verified.other_version {
        println!(
            "warning: the run was made by relgate {version}, this is {}: use that version to recompute the verdict and re-render the reports",
            env!("CARGO_PKG_VERSION")
        );
    }
    match &verified.signature {
        crate::verify::Signature::Trusted(keyid) => {
            println!("signed by trusted key {keyid}");
        }
        crate::verify::Signature::Unchecked(keyids) => println!(
            "warning: the run is signed (key {}) but no --trusted-key was given, so the signature was not checked: this proves nothing against someone who can write the out directory",
            keyids.join(", ")
        ),
        crate::verify::Signature::Unsigned => println!(
            "warning: the run is unsigned: the evidence is consistent, which proves nothing against someone who can write the out directory (sign with --sign-key or RELGATE_SIGNING_KEY, verify with --trusted-key)"
        ),
    }
}

/// A full commit id as given, or `git rev-parse --verify REV^{commit}` in the current directory.
fn resolve_commit(rev: &str) -> Result<String, String> {
    if rev.len() == 40 && rev.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(rev.to_ascii_lowercase());
    }
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|err| format!("cannot run git to resolve {rev}: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "git rev-parse cannot resolve {rev:?} to a commit here"
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Takes `out` for this invocation alone (see `outdir::acquire`); an out directory in use or
/// not relgate's is exit 2, said on stderr.
pub(super) fn take_out_dir(
    out: &Path,
    label: &str,
    purpose: outdir::Purpose,
) -> Result<outdir::OutDirLock, i32> {
    let run_id = format!("{label}-{}", outdir::new_run_id());
    outdir::acquire(out, &run_id, outdir::Sharing::Exclusive, purpose).map_err(|err| {
        print_error(&err);
        exit_codes::INVALID
    })
}

/// Exit 2 for a `--gate FILE` that does not exist.
fn missing_gate(gate: Option<&Path>) -> Option<i32> {
    let gate = gate.filter(|gate| !gate.is_file())?;
    print_error(&format!("--gate {}: no such file", gate.display()));
    Some(exit_codes::INVALID)
}
