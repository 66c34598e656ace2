//! A shard: one partition of a gate whose trials are split across CI machines with
//! `cargo nextest run -p gate-tests --partition slice:M/N` (or `hash:M/N`), each machine
//! writing its own out directory, later joined by `gate merge` (`crate::merge`).
//!
//! nextest tells a test process its run id and attempt, not its partition, so the shard reads
//! the partition from nextest's command line (the test process's parent) and from
//! [`ENV_PARTITION`]; when both are there they must agree. The trials it is responsible for are
//! computed from the gate the way nextest deals them ([`crate::model::partition`]) and
//! recorded in the run header, so the merge can tell a gap (a trial nobody ran) from a
//! partition that was never meant to run it.
//!
//! Who runs what (the dependency rule, see the book's "Splitting a gate across machines"):
//! - a check is **owned** by the shard whose partition holds its check trial `PACKET::check`;
//!   only the owner runs it for its own trials, and its record is the check's record;
//! - a shard never runs a check whose dependency packets' outcome it does not know: before a
//!   check it owns, it gets the records of every check its packet depends on the way a
//!   nextest run always does — by running them itself when no process of this shard has —
//!   so a dependency owned by another shard runs here too, as a *dependency run*. The merge
//!   keeps that run as an attempt of the owner's record: if the two disagree, the check is
//!   flaky (a pass after a failure) or failed, never silently the better of the two;
//! - a probe case or checklist item whose check another shard owns is not judged here: the
//!   trial is reported ignored and the merge judges it from the owner's record.

use std::collections::HashSet;

use crate::evidence::ShardInfo;
use crate::model::partition::{Partition, PartitionError};
use crate::spec::{Gate, Satisfaction, TrialOf};

/// Environment variable naming the partition of a shard (`slice:M/N`, `hash:M/N`), for runs
/// whose nextest command line relgate cannot see, and `cargo xtask gate`.
pub const ENV_PARTITION: &str = "RELGATE_PARTITION";

/// Why a shard's partition cannot be known.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// A partition that does not parse.
    #[error("{origin}: {source}")]
    Invalid {
        /// Where it was read.
        origin: &'static str,
        /// Why it does not parse.
        #[source]
        source: PartitionError,
    },
    /// [`ENV_PARTITION`] outside nextest.
    #[error("{ENV_PARTITION}={0} is set, but a gate is split into shards by nextest: `cargo nextest run -p gate-tests --partition {0}` (unset it to run the whole gate here)")]
    NotNextest(String),
    /// nextest's `--partition` and [`ENV_PARTITION`] disagree.
    #[error("{ENV_PARTITION}={env} but nextest runs --partition {nextest}: set them to the same partition (or leave {ENV_PARTITION} unset)")]
    Disagree {
        /// From the environment.
        env: Partition,
        /// From nextest's command line.
        nextest: Partition,
    },
}

/// The partition of this run, if it is a shard: [`ENV_PARTITION`], and under nextest the
/// `--partition` of the nextest process running this test process.
pub fn detect(under_nextest: bool) -> Result<Option<Partition>, ShardError> {
    let env = match std::env::var(ENV_PARTITION) {
        Ok(value) if !value.is_empty() && !under_nextest => {
            return Err(ShardError::NotNextest(value.chars().take(64).collect()))
        }
        Ok(value) if !value.is_empty() => {
            Some(value.parse().map_err(|source| ShardError::Invalid {
                origin: ENV_PARTITION,
                source,
            })?)
        }
        _ => None,
    };
    let nextest = if under_nextest {
        nextest_partition()
            .map(|value| {
                value.parse().map_err(|source| ShardError::Invalid {
                    origin: "nextest's --partition",
                    source,
                })
            })
            .transpose()?
    } else {
        None
    };
    match (env, nextest) {
        (Some(env), Some(nextest)) if env != nextest => Err(ShardError::Disagree { env, nextest }),
        (env, nextest) => Ok(nextest.or(env)),
    }
}

/// The value of `--partition` on the command line of this process's parent when it is a
/// nextest process.
fn nextest_partition() -> Option<String> {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let cmdline = std::fs::read(format!("/proc/{parent}/cmdline")).ok()?;
    partition_argument(&cmdline)
}

/// `--partition X` or `--partition=X` in a NUL-separated command line of a nextest process.
fn partition_argument(cmdline: &[u8]) -> Option<String> {
    let args: Vec<String> = cmdline
        .split(|&byte| byte == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    if !args.iter().any(|arg| arg.contains("nextest")) {
        return None;
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            return None;
        }
        if arg == "--partition" {
            return args.next().cloned();
        }
        if let Some(value) = arg.strip_prefix("--partition=") {
            return Some(value.to_string());
        }
    }
    None
}

/// A shard of a run: its partition and the trials in it.
#[derive(Debug)]
pub struct Shard {
    /// The partition.
    pub partition: Partition,
    /// Its trials, sorted by name.
    pub trials: Vec<String>,
    own: HashSet<String>,
}

impl Shard {
    /// The shard of `gate` in `partition`.
    pub fn new(gate: &Gate, partition: Partition) -> Shard {
        let names: Vec<String> = gate.trials().into_iter().map(|(name, _)| name).collect();
        let trials = partition.select(names.iter().map(String::as_str));
        Shard {
            partition,
            own: trials.iter().cloned().collect(),
            trials,
        }
    }

    /// What the run header records.
    pub fn info(&self) -> ShardInfo {
        ShardInfo {
            partition: self.partition.to_string(),
            trials: self.trials.clone(),
        }
    }

    /// Whether the trial `name` is in this shard.
    pub fn has_trial(&self, name: &str) -> bool {
        self.own.contains(name)
    }

    /// Whether this shard owns the check `PACKET::check` (holds its check trial).
    pub fn owns_check(&self, check_name: &str) -> bool {
        self.own.contains(check_name)
    }

    /// For a trial of this shard: `None` when it is judged here, or the reason it is left to
    /// the merge (a case or checklist item whose check another shard owns).
    pub fn judged_elsewhere(&self, trial: &TrialOf<'_>) -> Option<String> {
        let foreign = |check_name: String| {
            (!self.owns_check(&check_name)).then(|| {
                format!(
                    "{check_name} runs in the shard that holds its trial, not in {}: `gate merge` judges this from its record",
                    self.partition
                )
            })
        };
        match trial {
            TrialOf::Check(_) => None,
            TrialOf::Case(check, _) => foreign(check.name()),
            TrialOf::Checklist(packet, item) => match &item.satisfied_by {
                Satisfaction::Checks(ids) => ids
                    .iter()
                    .find_map(|id| foreign(format!("{}::{id}", packet.id))),
                Satisfaction::Attested { .. } => None,
            },
        }
    }
}

/// nextest's attempt of this test process (`NEXTEST_ATTEMPT`, 1 when unset).
pub fn nextest_attempt() -> u32 {
    std::env::var("NEXTEST_ATTEMPT")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|attempt| *attempt >= 1)
        .unwrap_or(1)
}

/// nextest's `NEXTEST_TOTAL_ATTEMPTS` (1 when unset): retries + 1.
pub fn nextest_total_attempts() -> u32 {
    std::env::var("NEXTEST_TOTAL_ATTEMPTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|attempts| *attempts >= 1)
        .unwrap_or(1)
        .max(nextest_attempt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmdline(args: &[&str]) -> Vec<u8> {
        args.join("\0").into_bytes()
    }

    #[test]
    fn the_partition_is_read_from_a_nextest_command_line_only() {
        let run = |args: &[&str]| partition_argument(&cmdline(args));
        assert_eq!(
            run(&[
                "/usr/bin/cargo-nextest",
                "nextest",
                "run",
                "--partition",
                "slice:2/3"
            ]),
            Some("slice:2/3".to_string())
        );
        assert_eq!(
            run(&[
                "cargo-nextest",
                "nextest",
                "run",
                "--partition=hash:1/2",
                "-p",
                "gate-tests"
            ]),
            Some("hash:1/2".to_string())
        );
        assert_eq!(
            run(&["cargo-nextest", "nextest", "run", "-p", "gate-tests"]),
            None
        );
        assert_eq!(
            run(&["cargo-nextest", "nextest", "run", "--", "--partition", "x"]),
            None
        );
        assert_eq!(run(&["cargo", "test", "--partition", "slice:1/2"]), None);
    }
}
