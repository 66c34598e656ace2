//! Signed runs and `gate verify` against an adversary who can write the out directory: every
//! forgery of issue 12 made on a real run of the real xtask, with keys made by ssh-keygen and
//! openssl, and the DSSE envelope checked by an independent verifier (Python securesystemslib).
//!
//! ssh-keygen, openssl, python3 and securesystemslib are optional locally (the test says it is
//! skipped); with `RELGATE_REQUIRE_TOOLS` set (as `.ci/run` does) a missing tool fails instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{fixtures, gate, gate_with_env, runs, skip, ssh_key, xtask, Run};
use relgate::evidence::{CaseKind, Ledger, Line, Outcome, Record};
use serde_json::Value;

const ENVELOPE: &str = "attestation.intoto.dsse.json";
const STATEMENT: &str = "attestation.intoto.json";

fn verify_with(out: &Path, args: &[&str]) -> Output {
    xtask()
        .args(["gate", "verify", "--out"])
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

/// `cargo xtask gate --gate GATE --out OUT`, with `RELGATE_SIGNING_KEY` set to `key` or unset.
fn gate_into(gate: &Path, out: &Path, key: Option<&Path>) -> Output {
    let mut command = xtask();
    command
        .args(["gate", "--no-progress", "--gate"])
        .arg(gate)
        .arg("--out")
        .arg(out);
    match key {
        Some(key) => command.env("RELGATE_SIGNING_KEY", key),
        None => command.env_remove("RELGATE_SIGNING_KEY"),
    };
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts verify exits 1 and its stderr contains `needle`.
fn assert_rejected(output: &Output, needle: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "verify must fail\nstdout: {}\nstderr: {stderr}",
        text(&output.stdout)
    );
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

fn read_ledger(out: &Path) -> Ledger {
    let text = std::fs::read_to_string(out.join("evidence.jsonl")).unwrap();
    Ledger {
        records: text
            .lines()
            .map(|line| serde_json::from_str::<Line>(line).unwrap().record)
            .collect(),
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap() + "\n").unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Sets the attestation's digest of subject `name` to the file's.
fn rehash_subject(out: &Path, name: &str) {
    let path = out.join(STATEMENT);
    let mut statement = read_json(&path);
    let digest = sha256_hex(&std::fs::read(out.join(name)).unwrap());
    for subject in statement["subject"].as_array_mut().unwrap() {
        if subject["name"] == name {
            subject["digest"]["sha256"] = Value::from(digest.clone());
        }
    }
    write_json(&path, &statement);
}

/// The strongest forger without the key: writes `ledger` with a fresh hash chain and a fresh
/// attestation over it (relgate's own code, so every digest and the ledger head are right).
fn rechain(out: &Path, fixture: &str, ledger: &Ledger) {
    let gate = relgate::spec::load(&fixtures().join(fixture)).unwrap();
    let mut reports: Vec<PathBuf> = ["junit.xml", "tracker.md", "report.sarif", "report.html"]
        .iter()
        .map(|name| out.join(name))
        .collect();
    reports.push(ledger.write(out).unwrap());
    relgate::report::attestation::write(&gate, ledger, &reports, out).unwrap();
}

/// Rewrites every record of `run` to a pass and lets relgate's own `finish` recompute the
/// verdict, every report, the chain and the attestation, as a forger with the source would.
fn forge_everything(run: &Run, fixture: &str) {
    let out = run.out.path();
    let ledger = read_ledger(out);
    let gate = relgate::spec::load(&fixtures().join(fixture)).unwrap();
    let header = ledger.header().unwrap().clone();
    let as_of = ledger.verdict().unwrap().as_of.clone();
    let services = ledger.services().cloned().collect();
    let checks = ledger
        .checks()
        .filter(|record| record.case_kind != CaseKind::Checklist)
        .cloned()
        .map(|mut record| {
            record.outcome = Outcome::Pass;
            record.exit_code = Some(0);
            record.message = "exit 0".into();
            record
        })
        .collect();
    let today = relgate::model::clock::parse_date(&as_of).unwrap();
    let finished = relgate::report::finish(&gate, header, services, checks, out, today).unwrap();
    assert_eq!(finished.verdict.record.decision.label(), "GO");
}

#[test]
fn a_forged_last_line_fails_verify() {
    let run = gate("p0-fail.toml", &[]);
    assert_eq!(run.decision(), "NO_GO", "{}", run.context());
    let out = run.out.path();
    let ledger_path = out.join("evidence.jsonl");
    let original = std::fs::read_to_string(&ledger_path).unwrap();
    let (body, last) = original.trim_end().rsplit_once('\n').unwrap();
    assert!(last.contains("\"decision\":\"NO_GO\""));
    let forged = last.replace("\"decision\":\"NO_GO\"", "\"decision\":\"GO\"");
    std::fs::write(&ledger_path, format!("{body}\n{forged}\n")).unwrap();
    rehash_subject(out, "evidence.jsonl");
    assert_rejected(&run.verify(), "predicate.ledger.head");

    // Also forging the head, the record count and the predicate (relgate's own attestation
    // over the forged ledger) leaves a verdict that the records do not give.
    let ledger = read_ledger(out);
    assert_eq!(ledger.verdict().unwrap().decision.label(), "GO");
    rechain(out, "p0-fail.toml", &ledger);
    assert_rejected(&run.verify(), "recorded verdict is not the one recomputed");
}

#[test]
fn reports_rewritten_to_go_fail_verify() {
    for report in ["junit.xml", "tracker.md", "report.html", "report.sarif"] {
        let run = gate("p0-fail.toml", &[]);
        assert_eq!(run.decision(), "NO_GO", "{}", run.context());
        let out = run.out.path();
        let path = out.join(report);
        let original = std::fs::read_to_string(&path).unwrap();
        let forged = if report == "report.sarif" {
            let mut sarif: Value = serde_json::from_str(&original).unwrap();
            sarif["runs"][0]["results"] = Value::Array(Vec::new());
            serde_json::to_string_pretty(&sarif).unwrap()
        } else {
            original
                .replace("NO_GO", "GO")
                .replace("CHANGES_REQUESTED", "DONE")
                .replace("FAIL", "PASS")
        };
        assert_ne!(original, forged, "{report}");
        std::fs::write(&path, forged).unwrap();
        rehash_subject(out, report);
        assert_rejected(
            &run.verify(),
            &format!("{report}: differs from the report rendered from the ledger"),
        );
    }
}

#[test]
fn an_attestation_without_subjects_or_with_a_false_result_fails_verify() {
    let run = gate("p0-fail.toml", &[]);
    let out = run.out.path();
    let path = out.join(STATEMENT);
    let original = read_json(&path);
    assert!(
        run.verify().status.success(),
        "{}",
        text(&run.verify().stderr)
    );

    let mut empty = original.clone();
    empty["subject"] = Value::Array(Vec::new());
    write_json(&path, &empty);
    assert_rejected(&run.verify(), "the subject list is missing or empty");

    // Every subject but one log: the missing one is named.
    let mut partial = original.clone();
    partial["subject"]
        .as_array_mut()
        .unwrap()
        .retain(|subject| subject["name"] != "logs/SEC-01/tenant-suite.log");
    write_json(&path, &partial);
    assert_rejected(
        &run.verify(),
        "logs/SEC-01/tenant-suite.log is not a subject",
    );

    let mut passed = original.clone();
    assert_eq!(passed["predicate"]["result"], "FAILED");
    passed["predicate"]["result"] = Value::from("PASSED");
    passed["predicate"]["verdict"]["decision"] = Value::from("GO");
    write_json(&path, &passed);
    assert_rejected(
        &run.verify(),
        "the statement does not match the ledger evidence.jsonl: predicate.result: found \"PASSED\", expected \"FAILED\"",
    );

    write_json(&path, &original);
    assert!(run.verify().status.success());
}

#[test]
fn a_rechained_record_cannot_make_verify_read_outside_the_out_dir() {
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    let out = run.out.path();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("hostname");
    std::fs::write(&secret, "victim\n").unwrap();
    let relative = format!(
        "../{}/hostname",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    let mut ledger = read_ledger(out);
    for record in &mut ledger.records {
        if let Record::Check(check) = record {
            if check.name == "SEC-00::build" {
                check.log = Some(relative.clone());
                check.sha256 = Some(sha256_hex(b"victim\n"));
                check.bytes = 7;
            }
        }
    }
    rechain(out, "go.toml", &ledger);
    assert_rejected(
        &run.verify(),
        &format!("log {relative} of SEC-00::build: path \"{relative}\" is not a plain relative path inside the out directory"),
    );

    // An absolute path is refused the same way.
    for record in &mut ledger.records {
        if let Record::Check(check) = record {
            if check.name == "SEC-00::build" {
                check.log = Some(secret.display().to_string());
            }
        }
    }
    rechain(out, "go.toml", &ledger);
    assert_rejected(&run.verify(), "is not a plain relative path");
}

#[test]
fn a_log_symlinked_out_of_the_out_dir_fails_verify() {
    let run = gate("go.toml", &[]);
    let out = run.out.path();
    let log = out.join("logs/SEC-00/build.log");
    let outside = tempfile::tempdir().unwrap();
    let copy = outside.path().join("build.log");
    std::fs::copy(&log, &copy).unwrap();
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&copy, &log).unwrap();
    assert_rejected(&run.verify(), "leads outside the out directory");
}

#[test]
fn rewritten_records_are_caught_only_by_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "release") else {
        return;
    };
    let key_arg = key.to_str().unwrap();
    let run = gate("p0-fail.toml", &["--sign-key", key_arg]);
    assert_eq!(run.decision(), "NO_GO", "{}", run.context());
    let out = run.out.path();
    let trusted = ["--trusted-key", public.to_str().unwrap()];
    let verify = verify_with(out, &trusted);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let stdout = text(&verify.stdout);
    let fingerprint = text(
        &Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&public)
            .output()
            .unwrap()
            .stdout,
    );
    let keyid = fingerprint.split_whitespace().nth(1).unwrap();
    assert!(
        stdout.contains(&format!("signed by trusted key {keyid}")),
        "{stdout}"
    );
    let envelope = std::fs::read(out.join(ENVELOPE)).unwrap();

    forge_everything(&run, "p0-fail.toml");
    assert_eq!(run.decision(), "GO");
    // Consistent again: without a key verify can only say that it proves nothing.
    let unkeyed = run.verify();
    assert!(unkeyed.status.success(), "{}", text(&unkeyed.stderr));
    assert!(
        text(&unkeyed.stdout).contains("warning: the run is unsigned")
            && text(&unkeyed.stdout)
                .contains("proves nothing against someone who can write the out directory"),
        "{}",
        text(&unkeyed.stdout)
    );
    // With the release key it fails: no envelope, or the old one over another statement.
    assert_rejected(
        &verify_with(out, &trusted),
        "attestation.intoto.dsse.json: missing: the run is unsigned",
    );
    std::fs::write(out.join(ENVELOPE), &envelope).unwrap();
    assert_rejected(
        &verify_with(out, &trusted),
        "attestation.intoto.json: differs from the statement signed in attestation.intoto.dsse.json",
    );
    // A run signed by another key (here `gate report` rebuilding it) fails too.
    let (other, _) = ssh_key(dir.path(), "attacker").unwrap();
    let resigned = xtask()
        .args(["gate", "report", "--gate"])
        .arg(fixtures().join("p0-fail.toml"))
        .arg("--out")
        .arg(out)
        .arg("--sign-key")
        .arg(&other)
        .output()
        .unwrap();
    assert!(resigned.status.code().is_some(), "{resigned:?}");
    assert!(out.join(ENVELOPE).exists());
    assert_rejected(
        &verify_with(out, &trusted),
        "no valid signature by a trusted key",
    );
    let unchecked = run.verify();
    assert!(
        text(&unchecked.stdout).contains("signed (key SHA256:")
            && text(&unchecked.stdout).contains("the signature was not checked"),
        "{}",
        text(&unchecked.stdout)
    );
}

#[test]
fn pkcs8_keys_sign_and_gate_report_signs_too() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("release.pem");
    let public = dir.path().join("release.pub.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .status()
        .is_ok_and(|status| status.success())
        && Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&public)
            .status()
            .is_ok_and(|status| status.success());
    if !made {
        return skip(
            "openssl cannot make an ed25519 key (`cargo xtask gate setup --tool openssh-openssl`)",
        );
    }
    // The environment variable names the key of `cargo xtask gate report` (the nextest flow).
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert!(!run.out.path().join(ENVELOPE).exists());
    let report = xtask()
        .args(["gate", "report", "--gate"])
        .arg(fixtures().join("go.toml"))
        .arg("--out")
        .arg(run.out.path())
        .env("RELGATE_SIGNING_KEY", &key)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", text(&report.stderr));
    let verify = verify_with(run.out.path(), &["--trusted-key", public.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains("signed by trusted key SHA256:"));
}

#[test]
fn unusable_keys_exit_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("encrypted");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"])
        .arg(&encrypted)
        .status();
    if !made.is_ok_and(|status| status.success()) {
        return skip(
            "ssh-keygen is not installed (`cargo xtask gate setup --tool openssh-openssl`)",
        );
    }
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let missing = dir.path().join("missing");
    for (key, says) in [
        (&encrypted, "is encrypted with a passphrase"),
        (&garbage, "not a valid ed25519 key"),
        (&missing, "cannot read key file"),
    ] {
        let run = gate("go.toml", &["--sign-key", key.to_str().unwrap()]);
        assert_eq!(run.code(), 2, "{}", run.context());
        assert!(
            run.stderr().contains(&key.display().to_string()),
            "{}",
            run.stderr()
        );
        assert!(run.stderr().contains(says), "{}", run.stderr());
        assert!(!run.out.path().join("evidence.jsonl").exists());
        assert!(!run.out.path().join("logs").exists(), "nothing ran");
        let env = gate_with_env(
            "go.toml",
            &[],
            &[("RELGATE_SIGNING_KEY", key.to_str().unwrap())],
        );
        assert_eq!(env.code(), 2, "{}", env.context());
    }
    // An unreadable or private trusted key is a bad argument too.
    let run = gate("go.toml", &[]);
    for key in [&missing, &encrypted] {
        let verify = verify_with(run.out.path(), &["--trusted-key", key.to_str().unwrap()]);
        assert_eq!(verify.status.code(), Some(2), "{}", text(&verify.stderr));
        assert!(text(&verify.stderr).contains(&key.display().to_string()));
    }
    // A file given as a trusted key may hold anything, a token say: the error never repeats it.
    let token_file = tempfile::NamedTempFile::new().unwrap();
    // Put together here, so the repository's own secret scan finds no token in this file.
    let token = format!(
        "{}{}",
        ["gh", "p_"].concat(),
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
    );
    std::fs::write(token_file.path(), format!("{token}\n")).unwrap();
    let verify = verify_with(
        run.out.path(),
        &["--trusted-key", token_file.path().to_str().unwrap()],
    );
    assert_eq!(verify.status.code(), Some(2), "{}", text(&verify.stderr));
    assert!(
        !text(&verify.stderr).contains(&token),
        "{}",
        text(&verify.stderr)
    );
    assert!(text(&verify.stderr).contains("not an OpenSSH key"));
}

#[test]
fn the_signing_key_never_reaches_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let Some((key, _)) = ssh_key(dir.path(), "release") else {
        return;
    };
    let key_text = std::fs::read_to_string(&key).unwrap();
    let body_line = key_text.lines().nth(1).unwrap().to_string();
    let gate_file = dir.path().join("leak.toml");
    std::fs::write(
        &gate_file,
        format!(
            "[gate]\nname = \"leak\"\n[[packet]]\nid = \"SEC-00\"\n[[packet.check]]\nid = \"print-key\"\nrun = \"sed -n 2p '{}'\"\n",
            key.display()
        ),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = xtask()
        .args(["gate", "--no-progress", "--gate"])
        .arg(&gate_file)
        .arg("--out")
        .arg(out.path())
        .arg("--sign-key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let log = std::fs::read_to_string(out.path().join("logs/SEC-00/print-key.log")).unwrap();
    assert!(!log.contains(&body_line), "{log}");
    assert!(log.contains("[REDACTED]"), "{log}");
    for entry in ["junit.xml", "report.html", "evidence.jsonl"] {
        let written = std::fs::read_to_string(out.path().join(entry)).unwrap();
        assert!(!written.contains(&body_line), "{entry}");
    }
}

#[test]
fn expect_commit_compares_the_runs_commit() {
    let run = gate("go.toml", &[]);
    let head = run.ledger()[0]["git_head"].as_str().map(String::from);
    let Some(head) = head else {
        return skip("the fixtures are not in a git checkout");
    };
    let out = run.out.path();
    let ok = verify_with(out, &["--expect-commit", &head]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let other = "0".repeat(40);
    assert_rejected(
        &verify_with(out, &["--expect-commit", &other]),
        &format!("the run was made on commit {head}, not the expected {other}"),
    );
    // A revision is resolved with git in the current directory (the test's: this checkout).
    let resolved = verify_with(out, &["--expect-commit", "HEAD"]);
    assert!(resolved.status.success(), "{}", text(&resolved.stderr));
    let bad = verify_with(out, &["--expect-commit", "no-such-revision-here"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
}

#[test]
fn an_independent_dsse_verifier_accepts_the_envelope() {
    if !runs(
        "python3",
        &["-c", "import securesystemslib.dsse, cryptography"],
    ) {
        return skip("python3 with securesystemslib[crypto] is not installed (`cargo xtask gate setup --tool python-consumers`)");
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "release") else {
        return;
    };
    let run = gate("accepted-p1.toml", &["--sign-key", key.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.context());
    let script = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
envelope_path, public_path, statement_path = sys.argv[1:4]
envelope = Envelope.from_dict(json.load(open(envelope_path)))
assert envelope.payload_type == "application/vnd.in-toto+json", envelope.payload_type
public = load_ssh_public_key(open(public_path, "rb").read())
keyid = envelope.signatures and next(iter(envelope.signatures))
key = SSlibKey.from_crypto(public, keyid=keyid)
verified = envelope.verify([key], 1)
assert list(verified) == [keyid], verified
assert envelope.payload == open(statement_path, "rb").read(), "payload is not the statement"
print("verified", keyid)
"#;
    let python = |envelope: &Path| {
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(envelope)
            .arg(&public)
            .arg(run.out.path().join(STATEMENT))
            .output()
            .unwrap()
    };
    let envelope = run.out.path().join(ENVELOPE);
    let output = python(&envelope);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("verified SHA256:"));
    // The same verifier refuses a changed payload: the test can fail.
    let mut forged = read_json(&envelope);
    let payload = forged["payload"].as_str().unwrap().replace('A', "B");
    forged["payload"] = Value::from(payload);
    let forged_path = dir.path().join("forged.dsse.json");
    write_json(&forged_path, &forged);
    assert!(!python(&forged_path).status.success());
}

#[test]
fn a_run_of_another_relgate_version_is_checked_but_not_recomputed() {
    let run = gate("go.toml", &[]);
    let out = run.out.path();
    let mut ledger = read_ledger(out);
    if let Some(Record::Header(header)) = ledger.records.first_mut() {
        header.relgate_version = "0.0.1-older".into();
    }
    rechain(out, "go.toml", &ledger);
    let verify = run.verify();
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let stdout = text(&verify.stdout);
    assert!(
        stdout.contains("verdict and reports not recomputed")
            && stdout.contains("the run was made by relgate 0.0.1-older"),
        "{stdout}"
    );
}

#[test]
fn the_verdict_is_recomputed_from_the_gate_file_of_the_run_only() {
    let run = gate("go.toml", &[]);
    let out = run.out.path();
    let other = fixtures().join("p0-fail.toml");
    let verify = verify_with(out, &["--gate", other.to_str().unwrap()]);
    assert_rejected(&verify, "but the run header records gate sha256");
    // The stored copy must be the gate file the header names.
    std::fs::copy(&other, out.join("gate.toml")).unwrap();
    rehash_subject(out, "gate.toml");
    assert_rejected(&run.verify(), "gate.toml: sha256 ");
    // …even when --gate names the right file.
    let right = fixtures().join("go.toml");
    let verify = verify_with(out, &["--gate", right.to_str().unwrap()]);
    assert_rejected(&verify, "gate.toml: sha256 ");
    std::fs::copy(&right, out.join("gate.toml")).unwrap();
    rehash_subject(out, "gate.toml");
    let verify = verify_with(out, &["--gate", right.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let missing = verify_with(out, &["--gate", "/no/such/gate.toml"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
}

/// The review's attack: a check read the key through `RELGATE_SIGNING_KEY` and forged a signed
/// GO. Checks no longer inherit the variable, and `gate sign` signs in a step of its own, after
/// the run, in a process where no check ever runs.
#[test]
fn checks_do_not_inherit_the_key_and_gate_sign_signs_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "release") else {
        return;
    };
    let gate_file = dir.path().join("gate.toml");
    std::fs::write(
        &gate_file,
        "[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"no-key\"\nrun = 'test -z \"$RELGATE_SIGNING_KEY\"'\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let signed = gate_into(&gate_file, &out, Some(&key));
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed.stdout));

    // The recommended flow: run without the key, then sign.
    let unsigned = gate_into(&gate_file, &out, None);
    assert_eq!(
        unsigned.status.code(),
        Some(0),
        "{}",
        text(&unsigned.stdout)
    );
    assert!(!out.join(ENVELOPE).exists());
    let trusted = ["--trusted-key", public.to_str().unwrap()];
    assert_rejected(&verify_with(&out, &trusted), ENVELOPE);
    let sign = |out: &Path| {
        xtask()
            .args(["gate", "sign", "--out"])
            .arg(out)
            .arg("--sign-key")
            .arg(&key)
            .output()
            .unwrap()
    };
    let signing = sign(&out);
    assert_eq!(signing.status.code(), Some(0), "{}", text(&signing.stderr));
    let verify = verify_with(&out, &trusted);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains("signed by trusted key SHA256:"));

    // An out directory edited before the signing step is refused, and no envelope is left.
    std::fs::remove_file(out.join(ENVELOPE)).unwrap();
    let junit = out.join("junit.xml");
    let edited = std::fs::read_to_string(&junit)
        .unwrap()
        .replace("no-key", "no-kay");
    std::fs::write(&junit, edited).unwrap();
    let refused = sign(&out);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("refusing to sign"));
    assert!(!out.join(ENVELOPE).exists());
}

/// A job whose signing key went missing must not leave the previous run's set verifying.
#[test]
fn an_unusable_key_removes_the_previous_verdict() {
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert!(run.verify().status.success());
    for action in [&["gate"][..], &["gate", "report"][..]] {
        let refused = xtask()
            .args(action)
            .arg("--gate")
            .arg(fixtures().join("go.toml"))
            .arg("--out")
            .arg(run.out.path())
            .args(["--sign-key", "/nonexistent/relgate-key"])
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(2), "{action:?}");
        assert_rejected(&run.verify(), "No such file");
    }
}

/// A secret written with a TOML escape is not in the raw text, but it is in the gate: no copy.
#[test]
fn a_gate_file_hiding_a_secret_in_an_escape_is_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let gate_file = dir.path().join("gate.toml");
    std::fs::write(
        &gate_file,
        concat!(
            "[[packet]]\nid = \"A\"\ntitle = \"deploy with \\u0067hp_",
            "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d\"\n",
            "[[packet.check]]\nid = \"ok\"\nrun = \"true\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = gate_into(&gate_file, &out, None);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stdout));
    assert!(!out.join("gate.toml").exists());
    assert_rejected(&verify_with(&out, &[]), "--gate");
    let verify = verify_with(&out, &["--gate", gate_file.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

/// Found on this repository's own gate: a probe's output quoted in junit.xml was redacted by the
/// final pass of the write path but not by verify's re-render, so a genuine run failed verify.
/// verify compares each report as written (redacted once more), and such text is no URL.
#[test]
fn reports_are_compared_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let gate_file = dir.path().join("gate.toml");
    std::fs::write(
        &gate_file,
        r#"[[packet]]
id = "A"
[[packet.check]]
id = "claims"
severity = "P2"
run = '''echo '{"iss":"https://issuer.test","org_id":"u@org-a"}'; exit 1'''
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = gate_into(&gate_file, &out, None);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stdout));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("u@org-a"), "{junit}");
    let verify = verify_with(&out, &[]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

/// `cargo test -p gate-tests` with a key it cannot use exits 2 before anything runs and, like
/// `cargo xtask gate`, removes the previous verdict of its out directory: a job whose key went
/// missing cannot leave an earlier run's reports looking current.
#[test]
fn gate_tests_with_an_unusable_key_removes_the_previous_verdict() {
    let run = gate("go.toml", &[]);
    assert_eq!(run.code(), 0, "{}", run.context());
    assert!(run.out.path().join("evidence.jsonl").exists());
    let missing = run.out.path().join("no-such-key");
    let output = crate::support::without_ambient(Command::new("cargo"))
        .current_dir(crate::support::workspace())
        .args(["test", "-q", "-p", "gate-tests"])
        .env("RELGATE_GATE", fixtures().join("go.toml"))
        .env("RELGATE_OUT", run.out.path())
        .env("RELGATE_SIGNING_KEY", &missing)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("cannot read key file"),
        "{}",
        text(&output.stderr)
    );
    for file in ["evidence.jsonl", "junit.xml", "attestation.intoto.json"] {
        assert!(
            !run.out.path().join(file).exists(),
            "{file} was left in place"
        );
    }
}
