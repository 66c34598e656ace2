//! End to end: signed shards. With `--trusted-key` each shard must be a finished run signed
//! in its job, and its signed ledger must be made from the very journal the merge joins: a
//! shard whose journal was rewritten after signing (a record dropped or swapped, a partition
//! relabelled, a trial line removed) is tampered, and an unsigned one is refused.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    assert_refused, copy_dir, gate_with_flaky_two, journal_of, merge_trusting, rewrite_journal,
    rewrite_journal_renaming, seal, shard, split, GATE,
};
use crate::support::{nextest_available, output_context, ssh_key, write_gate};

/// Signed shards: each shard job seals its evidence with `gate report` and its key; with
/// `--trusted-key` the merge takes only shards signed by a trusted key, whose signed ledger is
/// the run their journal holds.
#[test]
fn with_trusted_keys_every_shard_must_be_signed_by_one() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "shards") else {
        return;
    };
    let Some((other_key, _)) = ssh_key(dir.path(), "other") else {
        return;
    };
    let gate = write_gate(dir.path(), "packets.toml", GATE);
    let shards = split(&gate, dir.path(), 3, &[]);
    for out in &shards {
        seal(&gate, out, &key);
    }
    let out = dir.path().join("merged");
    let merge_trusted = |dirs: &[&Path]| merge_trusting(&gate, dirs, &out, &[&public]);
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let merged = merge_trusted(&refs);
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));

    // A shard signed by another key, and one not sealed at all: refused, no verdict.
    seal(&gate, &shards[1], &other_key);
    assert_refused(&merge_trusted(&refs), 1, "does not verify", &out);
    let unsealed = dir.path().join("unsealed");
    shard(&gate, &unsealed, "slice:2/3", &[]);
    assert_refused(
        &merge_trusted(&[&shards[0], &unsealed, &shards[2]]),
        2,
        "is not signed",
        &out,
    );
    // A sealed shard whose signature was deleted is as unsigned as one never sealed.
    seal(&gate, &shards[1], &key);
    let stripped = dir.path().join("stripped");
    copy_dir(&shards[2], &stripped);
    std::fs::remove_file(stripped.join("attestation.intoto.dsse.json")).unwrap();
    assert_refused(
        &merge_trusted(&[&shards[0], &shards[1], &stripped]),
        2,
        "is not signed",
        &out,
    );
}

/// A signed shard's journal must hold every record its signed ledger holds, not only a
/// subset: dropping the dependency run in which a check failed before its retry passed made
/// the flaky check a clean pass, and the release GO.
#[test]
fn a_signed_shard_cannot_drop_a_record_its_signed_ledger_holds() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "shards") else {
        return;
    };
    let (gate, _) = gate_with_flaky_two(dir.path());
    // Shard 1 owns B::four and runs A::two (shard 2's) first: it fails, nextest's retry passes.
    let shards = split(&gate, dir.path(), 3, &["--retries", "1"]);
    for out in &shards {
        seal(&gate, out, &key);
    }
    let out = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let merge_trusted = || merge_trusting(&gate, &refs, &out, &[&public]);
    let merged = merge_trusted();
    assert_eq!(merged.status.code(), Some(0), "{}", output_context(&merged));
    let ledger = std::fs::read_to_string(out.join("evidence.jsonl")).unwrap();
    assert!(ledger.contains("GO_WITH_CONDITIONS"), "{ledger}");

    let journal = journal_of(&shards[0]);
    let original = std::fs::read(&journal).unwrap();
    rewrite_journal(&journal, |name, _| !name.starts_with("check_A_two"));
    assert_refused(&merge_trusted(), 1, "not the run its journal holds", &out);

    // Dropped, with one of the shard's own signed records put in its place (the checklist
    // record, which no check is named by): the journal held as many records as the ledger
    // signs, each equal to a signed one, and the merge was GO.
    std::fs::write(&journal, &original).unwrap();
    let signed = std::fs::read_to_string(shards[0].join("evidence.jsonl")).unwrap();
    let mut substitute: Value = signed
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|record| record["name"] == "B::checklist::three-holds")
        .expect("the shard's ledger holds the checklist record");
    for key in ["seq", "prev", "kind"] {
        substitute.as_object_mut().unwrap().remove(key);
    }
    // A::two's attempts (its first run and nextest's retry) are one line each: the first
    // becomes the substitute, the retry goes.
    rewrite_journal_renaming(&journal, |name, fragment| match name {
        "check_A_two" => {
            *fragment = substitute.clone();
            Some("check_B_checklist%3A%3Athree-holds".to_string())
        }
        _ if name.starts_with("check_A_two") => None,
        _ => Some(name.to_string()),
    });
    assert_refused(&merge_trusted(), 1, "not the run its journal holds", &out);

    // A trial line is signed too: dropping one after signing is refused, not a gap.
    std::fs::write(&journal, &original).unwrap();
    assert_eq!(merge_trusted().status.code(), Some(0));
    rewrite_journal(&journal, |name, _| !name.starts_with("trial_"));
    assert_refused(&merge_trusted(), 1, "not the run its journal holds", &out);
}

/// A signed shard's journal header must be its signed ledger's: a signed run of partition 1
/// relabelled as partition 2 (with partition 2's trials) would stand in for partition 2, its
/// dependency runs taken for the owner's records.
#[test]
fn a_signed_shard_cannot_claim_another_partition() {
    if !nextest_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((key, public)) = ssh_key(dir.path(), "shards") else {
        return;
    };
    let gate = write_gate(dir.path(), "packets.toml", GATE);
    let shards = split(&gate, dir.path(), 3, &[]);
    for out in &shards {
        seal(&gate, out, &key);
    }
    let journal = std::fs::read_to_string(journal_of(&shards[1])).unwrap();
    let first: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let second = first["fragment"]["shard"].clone();
    rewrite_journal(&journal_of(&shards[0]), |name, fragment| {
        if name == "header" {
            fragment["shard"] = second.clone();
        }
        true
    });
    let out = dir.path().join("merged");
    let merged = merge_trusting(&gate, &[&shards[0], &shards[2]], &out, &[&public]);
    assert_refused(&merged, 1, "not the run its journal holds", &out);
}
