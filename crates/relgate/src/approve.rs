//! `cargo xtask gate approve PACKET…` and `cargo xtask gate request-changes PACKET --reason …`:
//! a reviewer's decision on packets of a finished run, signed with their SSH key and written
//! into the reviews directory (to be committed like code). The run in the out directory must
//! verify, and must be of the code checked out now (the same commit, no other change), so what
//! is approved is what the reviewer has in front of them.

use std::path::PathBuf;

use crate::evidence::signing::allowed_signers::{AllowedSigners, SignersError};
use crate::evidence::signing::{KeyError, RunSigner};
use crate::evidence::{self, CheckRecord};
use crate::model::{clock, exit_codes};
use crate::review::code::{code_state, CodeState};
use crate::review::record::{
    by_name, outcomes_digest, Binding, ReviewDecision, ReviewRecord, RECORD_VERSION,
};
use crate::review::store::{self, WriteError};
use crate::review::NAMESPACE;
use crate::spec::{self, SpecError};

/// What to record.
#[derive(Debug, Clone)]
pub struct Options {
    /// The gate file.
    pub gate: PathBuf,
    /// The out directory of the run that was reviewed.
    pub out_dir: PathBuf,
    /// The reviewer's private SSH key (ed25519, unencrypted).
    pub key: PathBuf,
    /// The identity to sign as; default: the one identity the allowed signers file lists for
    /// the key.
    pub identity: Option<String>,
    /// The packets.
    pub packets: Vec<String>,
    /// Approve, or request changes.
    pub decision: ReviewDecision,
    /// The reviewer's note.
    pub note: String,
    /// Findings of a request for changes.
    pub findings: Vec<String>,
}

/// Why nothing was recorded.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    /// The gate file is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The gate file has no `[review]` section.
    #[error("{} has no [review] section: add one naming the allowed signers file (`{} init` shows how)", .0.display(), crate::model::invocation::gate_command())]
    NoReviewSection(PathBuf),
    /// A packet the gate does not have.
    #[error("unknown packet `{0}`")]
    UnknownPacket(String),
    /// The key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The allowed signers file cannot be used.
    #[error(transparent)]
    Signers(#[from] SignersError),
    /// The identity to sign as is not clear or not allowed.
    #[error("{0}")]
    Identity(String),
    /// The run does not verify.
    #[error("the run in {} does not verify: {why}", out_dir.display())]
    Unverified {
        /// The out directory.
        out_dir: PathBuf,
        /// Why.
        why: String,
    },
    /// The checkout is not the code the run ran.
    #[error("{0}")]
    OtherCode(String),
    /// The review could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl ApproveError {
    /// The exit code: 2 for what the caller got wrong (arguments, gate file, key, signers), 1
    /// for a run or checkout that cannot be approved.
    pub fn exit_code(&self) -> i32 {
        match self {
            ApproveError::Unverified { .. }
            | ApproveError::OtherCode(_)
            | ApproveError::Write(_) => exit_codes::NO_GO,
            _ => exit_codes::INVALID,
        }
    }
}

/// Records the review of each packet; returns the record files written.
pub fn approve(options: &Options) -> Result<Vec<PathBuf>, ApproveError> {
    let gate = spec::load(&options.gate)?;
    let config = gate
        .review
        .clone()
        .ok_or_else(|| ApproveError::NoReviewSection(options.gate.clone()))?;
    for id in &options.packets {
        if gate.packets.iter().all(|packet| &packet.id != id) {
            return Err(ApproveError::UnknownPacket(id.clone()));
        }
    }
    let signer = RunSigner::load(&options.key)?;
    let signers = AllowedSigners::load(&config.allowed_signers)?;
    let key = signer.public();
    let identity = identity(options, &signers, &key)?;
    let now = clock::now();
    signers
        .check(&identity, &key, NAMESPACE, now)
        .map_err(|refusal| ApproveError::Identity(refusal.to_string()))?;

    crate::verify::verify(&crate::verify::Options {
        out_dir: options.out_dir.clone(),
        trusted: Vec::new(),
        expect_commit: None,
        gate: Some(options.gate.clone()),
    })
    .map_err(|failure| ApproveError::Unverified {
        out_dir: options.out_dir.clone(),
        why: failure.to_string(),
    })?;
    let (ledger, _) =
        evidence::verify_chain(&options.out_dir).map_err(|err| ApproveError::Unverified {
            out_dir: options.out_dir.clone(),
            why: err.to_string(),
        })?;
    let header = ledger
        .header()
        .cloned()
        .ok_or_else(|| ApproveError::Unverified {
            out_dir: options.out_dir.clone(),
            why: "the ledger has no run header".into(),
        })?;
    let (commit, code) = match code_state(&gate.root, &config.dir) {
        CodeState::Clean { commit, digest } => (commit, digest),
        CodeState::Dirty { commit } => {
            return Err(ApproveError::OtherCode(format!(
                "the working tree has changes outside {} on top of {commit}: a review is of a \
                 commit; commit (or stash) them, run the gate again, then review",
                config.dir.display()
            )))
        }
        CodeState::NoRepository => {
            return Err(ApproveError::OtherCode(format!(
                "{} is not in a git repository: a review is bound to a commit",
                gate.root.display()
            )))
        }
    };
    if header.code.as_deref() != Some(code.as_str()) {
        return Err(ApproveError::OtherCode(format!(
            "the run in {} is not of the code checked out now (commit {commit}{}): run the gate \
             again on this checkout, then review",
            options.out_dir.display(),
            match (&header.git_head, header.code.is_none()) {
                (_, true) =>
                    ", and the run's working tree had changes or no [review] section".to_string(),
                (Some(head), false) if *head != commit => format!("; the run was of {head}"),
                _ => String::new(),
            }
        )));
    }
    let records: Vec<CheckRecord> = ledger.checks().cloned().collect();
    // The acceptances in force are those of the day the run's verdict was made.
    let as_of = ledger
        .verdict()
        .and_then(|verdict| clock::parse_date(&verdict.as_of))
        .unwrap_or_else(clock::today);
    let index = by_name(&records);
    let mut written = Vec::new();
    for id in &options.packets {
        let packet = gate
            .packets
            .iter()
            .find(|packet| &packet.id == id)
            .expect("checked above");
        let binding = Binding {
            code: code.clone(),
            packet: packet.definition.clone().unwrap_or_default(),
            outcomes: outcomes_digest(packet, &index, &gate.accepts, as_of),
        };
        let record = ReviewRecord {
            version: RECORD_VERSION,
            gate: gate.name.clone(),
            packet: id.clone(),
            decision: options.decision,
            reviewer: identity.clone(),
            key: key.keyid().to_string(),
            time: clock::format_timestamp(now),
            commit: commit.clone(),
            binding,
            note: options.note.clone(),
            findings: options.findings.clone(),
        };
        written.push(store::write(&config.dir, &record, &signer)?);
    }
    Ok(written)
}

/// The identity to sign as: the one given, or the only one the allowed signers file lists for
/// the key (a pattern such as `*@example.com` is no identity).
fn identity(
    options: &Options,
    signers: &AllowedSigners,
    key: &crate::evidence::signing::TrustedKey,
) -> Result<String, ApproveError> {
    if let Some(identity) = &options.identity {
        return Ok(identity.clone());
    }
    let listed: Vec<String> = signers
        .principals_of(key)
        .into_iter()
        .filter(|principal| !principal.contains(['*', '?', '!']))
        .collect();
    match &listed[..] {
        [one] => Ok(one.clone()),
        [] => Err(ApproveError::Identity(format!(
            "the allowed signers file lists no identity for the key {} (add a line for it, or \
             pass --as IDENTITY if a pattern covers you)",
            key.keyid()
        ))),
        many => Err(ApproveError::Identity(format!(
            "the key {} is listed as {}: pass --as IDENTITY",
            key.keyid(),
            many.join(", ")
        ))),
    }
}
