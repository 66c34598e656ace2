//! Dependency order under `cargo nextest run`, where every test case is its own process, the
//! processes start in any order (by name, not by dependency) and run in parallel.
//!
//! A check is run at most once per run, by whoever holds its claim: an exclusive `flock` on
//! `fragments/<run>/claims/<fragment>.lock`. To get a check's record a process
//!
//! 1. returns the check's fragment if some process already wrote it;
//! 2. otherwise gets the records of every check of every packet the check's packet depends
//!    on, the same way (recursively, in topological order) — running them itself when nobody
//!    has;
//! 3. takes the check's claim (waiting while another process runs it; a dead holder's lock is
//!    released by the kernel), reads the fragment again (the holder may have just written it),
//!    and otherwise runs the check — or, when a dependency is not DONE, records it as skipped
//!    without starting its command — and writes the fragment before letting go of the claim.
//!
//! A process holds at most one claim at a time and only while running that one check, so
//! no process ever waits for a claim while holding one: no deadlock at any `--test-threads`,
//! whatever order the tests start in. A blocked check's command never starts, because step 3
//! runs only after every dependency has a fragment.
//!
//! nextest's retries: a trial retried as `NEXTEST_ATTEMPT` k > 1 runs its check again
//! ([`Claims::rerun`]) under the same claim, unless another trial's attempt k already did
//! (the fragment of attempt k, `check_<p>_<c>_<k>`, exists); the new record keeps the earlier
//! ones as its attempts, so a pass after a failure is flaky. A failed dependency is retried
//! the same way by the process that needs it, up to `NEXTEST_TOTAL_ATTEMPTS`, before it blocks
//! a dependent: nextest would retry its trial anyway, and a dependent must not be skipped on an
//! attempt that a retry overturns.

use std::io;
use std::path::Path;

use crate::evidence::fragment;
use crate::evidence::CheckRecord;
use crate::output::flock::FileLock;
use crate::spec::{Check, Gate};

/// What runs a check once its dependencies' records are known: it decides blocked or not,
/// runs or skips, and returns the record (which [`Claims`] writes as the fragment); the last
/// argument is the check's earlier attempts (empty but for a retry).
pub type Runner<'r> = dyn Fn(&Check, &[CheckRecord], Vec<CheckRecord>) -> CheckRecord + 'r;

/// The claims of one nextest run.
pub struct Claims<'a> {
    /// The validated gate.
    pub gate: &'a Gate,
    /// The out directory.
    pub out_dir: &'a Path,
    /// The nextest run id.
    pub run_id: &'a str,
    /// nextest's `NEXTEST_TOTAL_ATTEMPTS`: the most attempts a check can have.
    pub max_attempt: u32,
}

impl Claims<'_> {
    /// The record of `check` in this run, running it here if no process has (see the module
    /// documentation).
    pub fn record(&self, check: &Check, run: &Runner<'_>) -> io::Result<CheckRecord> {
        if let Some(record) = self.fragment(check)? {
            return Ok(record);
        }
        let dependencies = self.dependency_records(&check.packet, run)?;
        let claim_path = fragment::claim_path(self.out_dir, self.run_id, &check.packet, &check.id);
        if let Some(dir) = claim_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _claim = FileLock::exclusive(&claim_path)?;
        if let Some(record) = self.fragment(check)? {
            return Ok(record);
        }
        let record = run(check, &dependencies, Vec::new());
        fragment::write_record(self.out_dir, self.run_id, &record)?;
        Ok(record)
    }

    /// The record of nextest's `attempt` (> 1) of `check`: the check runs again, its earlier
    /// record kept as its attempts, unless a process already ran this attempt.
    pub fn rerun(&self, check: &Check, attempt: u32, run: &Runner<'_>) -> io::Result<CheckRecord> {
        let this_attempt = || {
            fragment::read_record_attempt(
                self.out_dir,
                self.run_id,
                &check.packet,
                &check.id,
                attempt,
            )
        };
        if let Some(record) = this_attempt()? {
            return Ok(record);
        }
        let earlier = self.record(check, run)?;
        let dependencies = self.dependency_records(&check.packet, run)?;
        let claim_path = fragment::claim_path(self.out_dir, self.run_id, &check.packet, &check.id);
        let _claim = FileLock::exclusive(&claim_path)?;
        if let Some(record) = this_attempt()? {
            return Ok(record);
        }
        // Another process may have run a later attempt of another trial meanwhile.
        let earlier = self.fragment(check)?.unwrap_or(earlier);
        let record = run(check, &dependencies, vec![earlier]);
        fragment::write_record_attempt(self.out_dir, self.run_id, &record, attempt)?;
        Ok(record)
    }

    /// The records of every check of every packet `packet_id` depends on, directly or not.
    pub fn dependency_records(
        &self,
        packet_id: &str,
        run: &Runner<'_>,
    ) -> io::Result<Vec<CheckRecord>> {
        let mut records = Vec::new();
        for packet in crate::plan::ancestors(self.gate, packet_id) {
            for check in &packet.checks {
                // With nextest's retries a failed dependency is retried here before it blocks
                // anything, as its own trial's retry would (which then finds that attempt).
                let mut record = self.record(check, run)?;
                let mut attempt = 1;
                while record.outcome.is_failure() && attempt < self.max_attempt {
                    attempt += 1;
                    record = self.rerun(check, attempt, run)?;
                }
                records.push(record);
            }
        }
        Ok(records)
    }

    fn fragment(&self, check: &Check) -> io::Result<Option<CheckRecord>> {
        fragment::read_record(
            self.out_dir,
            self.run_id,
            &check.packet,
            &check.id,
            self.max_attempt,
        )
    }
}
