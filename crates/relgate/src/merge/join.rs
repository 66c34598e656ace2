//! Joining shards: which shards may be joined, who owns each check, and the merged records.
//! Pure: the shards come in read and verified ([`Shard`]), records come out.
//!
//! Refused (exit 2): shards of another gate file or commit, shards that split the gate in
//! different ways (`slice:1/3` with `hash:2/3`, or with `slice:1/2`), one partition given
//! twice, a run given twice, a trial list that is not what the partition gives for this gate,
//! and trials in two shards. A trial of a missing partition, or one its shard did not finish,
//! is a gap: its check FAILs with "no evidence" (checklist items are judged from the checks'
//! evidence, as a single run judges them).

use std::collections::{HashMap, HashSet};

use crate::evidence::fragment::RunFragments;
use crate::evidence::{CaseOutcome, CheckRecord, MergedShard, Outcome};
use crate::model::partition::Partition;
use crate::spec::{Gate, TrialOf};

/// One shard as read: its directory (as given), its verified fragments and its partition
/// (`None`: the run was not split, it holds every trial).
pub struct Shard {
    /// The directory, as given on the command line (shown in messages).
    pub dir: String,
    /// The directory its files are read from.
    pub path: std::path::PathBuf,
    /// Its evidence, verified.
    pub run: RunFragments,
    /// Its partition.
    pub partition: Option<Partition>,
}

impl Shard {
    /// `slice:1/3`, or `whole` for a run that was not split.
    pub fn label(&self) -> String {
        self.partition
            .map_or_else(|| "whole".to_string(), |partition| partition.to_string())
    }
}

/// Why shards cannot be joined (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The joined evidence: records in gate order, with the shards that made them.
pub struct Joined {
    /// One record per check of the gate.
    pub records: Vec<CheckRecord>,
    /// Per shard, in the order given: what it was responsible for and ran.
    pub shards: Vec<MergedShard>,
    /// Trials no shard finished, with why.
    pub gaps: Vec<String>,
}

/// Which shard holds each trial of the gate: an index into the shards, as [`check`] found.
pub struct Holders(HashMap<String, usize>);

/// Checks that `shards` can be joined into one run of `gate`, and says which shard holds each
/// trial (each shard's trials are computed from the gate once, here).
pub fn check(gate: &Gate, shards: &[Shard]) -> Result<Holders, Refused> {
    let Some(first) = shards.first() else {
        return Err(Refused("no shard directories given".to_string()));
    };
    let names: Vec<String> = gate.trials().into_iter().map(|(name, _)| name).collect();
    let mut runs: HashMap<&str, &str> = HashMap::new();
    let mut partitions: HashMap<Partition, &str> = HashMap::new();
    let mut holder: HashMap<String, usize> = HashMap::new();
    for (index, shard) in shards.iter().enumerate() {
        let header = &shard.run.header;
        if header.gate_sha256 != gate.sha256 {
            return Err(Refused(format!(
                "shard {} was run with another gate file (sha256 {}), not {} (sha256 {})",
                shard.dir,
                header.gate_sha256,
                gate.source.display(),
                gate.sha256
            )));
        }
        let first_header = &first.run.header;
        if (&header.git_head, header.git_dirty, &header.code)
            != (
                &first_header.git_head,
                first_header.git_dirty,
                &first_header.code,
            )
        {
            return Err(Refused(format!(
                "shards {} and {} ran different code: commit {} (dirty: {}) and commit {} (dirty: {})",
                first.dir,
                shard.dir,
                describe(first_header.git_head.as_deref()),
                describe(first_header.git_dirty.map(|dirty| dirty.to_string()).as_deref()),
                describe(header.git_head.as_deref()),
                describe(header.git_dirty.map(|dirty| dirty.to_string()).as_deref()),
            )));
        }
        if let Some(other) = runs.insert(&shard.run.run_id, &shard.dir) {
            return Err(Refused(format!(
                "shards {other} and {} are the same run ({}): each shard once",
                shard.dir, shard.run.run_id
            )));
        }
        if let (Some(partition), Some(first_partition)) = (shard.partition, first.partition) {
            if !partition.same_split(&first_partition) {
                return Err(Refused(format!(
                    "shard {} is {partition} but shard {} is {first_partition}: every shard must come from one split of the gate",
                    shard.dir, first.dir
                )));
            }
            if let Some(other) = partitions.insert(partition, &shard.dir) {
                return Err(Refused(format!(
                    "partition {partition} is given twice ({other} and {}): each shard once",
                    shard.dir
                )));
            }
        }
        let expected = trials_in(&names, shard.partition);
        let recorded = header.shard.as_ref().map(|info| &info.trials);
        if shard.partition.is_some() && recorded != Some(&expected) {
            return Err(Refused(format!(
                "shard {}: the trials it recorded are not the trials {} gives for {}",
                shard.dir,
                shard.label(),
                gate.source.display()
            )));
        }
        for trial in expected {
            if let Some(other) = holder.insert(trial.clone(), index) {
                return Err(Refused(format!(
                    "the trial {trial} is in two shards ({} and {}): overlapping shards",
                    shards[other].dir, shard.dir
                )));
            }
        }
    }
    Ok(Holders(holder))
}

fn describe(value: Option<&str>) -> &str {
    value.unwrap_or("unknown")
}

/// The trials of `names` in `partition` (all of them for `None`), sorted.
fn trials_in(names: &[String], partition: Option<Partition>) -> Vec<String> {
    let names = names.iter().map(String::as_str);
    match partition {
        Some(partition) => partition.select(names),
        None => {
            let mut all: Vec<String> = names.map(str::to_string).collect();
            all.sort_unstable();
            all
        }
    }
}

/// Joins checked shards: each check's record is its owner's (the shard holding its check
/// trial), with the runs of the same check in other shards before it as attempts; a check or
/// probe case whose trial no shard finished FAILs with "no evidence". A shard without a
/// partition is a whole run: its records stand as they are.
pub fn join(gate: &Gate, shards: &[Shard], holders: &Holders) -> Joined {
    let holder = &holders.0;
    // Which trials each shard finished.
    let finished: Vec<HashSet<&str>> = shards
        .iter()
        .map(|shard| {
            shard
                .run
                .trials
                .iter()
                .map(|run| run.trial.as_str())
                .collect()
        })
        .collect();
    let ran = |trial: &str| -> Result<(), String> {
        match holder.get(trial) {
            None => Err(format!(
                "no evidence: {trial} is in no shard that was merged (a partition is missing)"
            )),
            Some(&index) if shards[index].partition.is_none() => Ok(()),
            Some(&index) if finished[index].contains(trial) => Ok(()),
            Some(&index) => Err(format!(
                "no evidence: shard {} ({}) did not finish {trial} (its process died, or nextest stopped early: run shards with --no-fail-fast)",
                shards[index].dir,
                shards[index].label()
            )),
        }
    };

    // Each shard's records by check name (the first of a name, as a scan would find it): one
    // lookup per check and shard instead of a scan of the shard's records.
    let by_name: Vec<HashMap<&str, &CheckRecord>> = shards
        .iter()
        .map(|shard| {
            let mut names = HashMap::with_capacity(shard.run.records.len());
            for record in &shard.run.records {
                names.entry(record.name.as_str()).or_insert(record);
            }
            names
        })
        .collect();

    let mut gaps = Vec::new();
    let mut records = Vec::new();
    for (name, trial) in gate.trials() {
        let check = match trial {
            TrialOf::Check(check) => check,
            TrialOf::Checklist(..) => {
                // Judged from the evidence of the checks it names, as in any run: no evidence
                // is lost, but the gap is said.
                if let Err(why) = ran(&name) {
                    gaps.push(format!(
                        "{why} (a checklist item: judged from its checks' evidence)"
                    ));
                }
                continue;
            }
            TrialOf::Case(..) => continue,
        };
        let mut runs: Vec<(usize, CheckRecord)> = shards
            .iter()
            .enumerate()
            .filter_map(|(index, shard)| {
                by_name[index]
                    .get(name.as_str())
                    .map(|record| (index, labelled((*record).clone(), shard)))
            })
            .collect();
        let owner = holder.get(&name).copied();
        let owned = owner.and_then(|owner| {
            let position = runs.iter().position(|(index, _)| *index == owner)?;
            Some(runs.remove(position).1)
        });
        runs.sort_by(|a, b| a.1.started.cmp(&b.1.started));
        let others: Vec<CheckRecord> = runs.into_iter().map(|(_, record)| record).collect();
        let mut record = match (owned, ran(&name)) {
            (Some(record), Ok(())) => record,
            (owned, Err(why)) => {
                gaps.push(why.clone());
                let mut gap = crate::run::check::skeleton(check, &why, Outcome::Fail);
                gap.notes
                    .push("the merge found no evidence for this trial".to_string());
                if let Some(owned) = owned {
                    gap = gap.after_attempts(vec![owned]);
                }
                gap
            }
            (None, Ok(())) => {
                let why = format!(
                    "no evidence: the shard that holds {name} finished its trial but recorded nothing for it"
                );
                gaps.push(why.clone());
                crate::run::check::skeleton(check, &why, Outcome::Fail)
            }
        };
        if !others.is_empty() {
            record = record.after_attempts(others);
        }
        for case in check.cases() {
            let case_trial = check.case_name(case);
            if let Err(why) = ran(&case_trial) {
                gaps.push(why.clone());
                fail_case(&mut record, case, &why);
            }
        }
        records.push(record);
    }
    let shards = shards
        .iter()
        .enumerate()
        .map(|(index, shard)| MergedShard {
            partition: shard.label(),
            run_id: shard.run.run_id.clone(),
            host: shard.run.header.host.clone(),
            started: shard.run.header.started.clone(),
            journal_head: shard.run.head.clone(),
            trials: holder.values().filter(|holder| **holder == index).count(),
            ran: finished[index].len(),
        })
        .collect();
    Joined {
        records,
        shards,
        gaps,
    }
}

/// A record read from `shard`'s journal was run there, attempts included, whatever it says:
/// the label decides which shard's directory its logs are copied from.
fn labelled(mut record: CheckRecord, shard: &Shard) -> CheckRecord {
    let label = shard.label();
    record.shard = Some(label.clone());
    for attempt in &mut record.attempts {
        attempt.shard = Some(label.clone());
    }
    record
}

/// A probe case whose trial no shard finished: inconclusive, and the check fails.
fn fail_case(record: &mut CheckRecord, case: &str, why: &str) {
    match record.cases.iter_mut().find(|found| found.name == case) {
        Some(found) => {
            found.outcome = CaseOutcome::Inconclusive;
            found.message = why.to_string();
        }
        None => record.cases.push(crate::evidence::ProbeCase {
            name: case.to_string(),
            outcome: CaseOutcome::Inconclusive,
            message: why.to_string(),
            sent: String::new(),
            got: String::new(),
        }),
    }
    if !record.outcome.is_failure() {
        record.outcome = Outcome::Fail;
        record.message = format!("{}; {why}", record.message);
    }
}
