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
        Ok(self.numbered_record(check, run)?.1)
    }

    /// The lock that makes this process the one running `check` now (held until dropped).
    fn claim(&self, check: &Check) -> io::Result<FileLock> {
        let path = fragment::claim_path(self.out_dir, self.run_id, &check.packet, &check.id);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        FileLock::exclusive(&path)
    }

    /// [`Claims::record`] with the number of its attempt (1 when it ran here).
    fn numbered_record(&self, check: &Check, run: &Runner<'_>) -> io::Result<(u32, CheckRecord)> {
        if let Some(found) = self.latest(check)? {
            return Ok(found);
        }
        let dependencies = self.dependency_records(&check.packet, run)?;
        let _claim = self.claim(check)?;
        if let Some(found) = self.latest(check)? {
            return Ok(found);
        }
        let record = run(check, &dependencies, Vec::new());
        fragment::write_record(self.out_dir, self.run_id, &record)?;
        Ok((1, record))
    }

    /// The record of nextest's `attempt` (> 1) of `check`: the check runs again, its earlier
    /// record kept as its attempts, unless a process already ran this attempt or a later one
    /// (whose record then stands for this one: attempts are written in order, never k after
    /// k + 1, so the journal and [`fragment::read_latest`] agree on the latest).
    pub fn rerun(&self, check: &Check, attempt: u32, run: &Runner<'_>) -> io::Result<CheckRecord> {
        let earlier = match self.latest(check)? {
            Some((recorded, record)) if recorded >= attempt => return Ok(record),
            Some((_, record)) => record,
            None => self.record(check, run)?,
        };
        let dependencies = self.dependency_records(&check.packet, run)?;
        let _claim = self.claim(check)?;
        // Looked up again under the claim: another process may have recorded this attempt or
        // a later one meanwhile, or a later attempt than `earlier` (of another trial).
        let earlier = match self.latest(check)? {
            Some((recorded, record)) if recorded >= attempt => return Ok(record),
            Some((_, record)) => record,
            None => earlier,
        };
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
                // Retries go on from the highest attempt recorded (a retried trial may have
                // recorded one already, after a gap left by a crashed process).
                let (mut attempt, mut record) = self.numbered_record(check, run)?;
                while record.outcome.is_failure() && attempt < self.max_attempt {
                    attempt += 1;
                    record = self.rerun(check, attempt, run)?;
                }
                records.push(record);
            }
        }
        Ok(records)
    }

    /// The check's highest recorded attempt, with its number.
    fn latest(&self, check: &Check) -> io::Result<Option<(u32, CheckRecord)>> {
        fragment::read_latest(
            self.out_dir,
            self.run_id,
            &check.packet,
            &check.id,
            self.max_attempt,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::evidence::Outcome;
    use crate::run::check::skeleton;

    const GATE: &str = r#"
[[packet]]
id = "A"
[[packet.check]]
id = "a"
run = "true"

[[packet]]
id = "B"
depends_on = ["A"]
[[packet.check]]
id = "b"
run = "true"
"#;

    const RUN: &str = "run-1";

    struct Fixture {
        dir: tempfile::TempDir,
        gate: Gate,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let gate = crate::spec::parse(&dir.path().join("packets.toml"), GATE).unwrap();
            let header = crate::run::header::run_header(&gate, RUN, "nextest");
            fragment::write_header(dir.path(), &header).unwrap();
            Fixture { dir, gate }
        }

        fn claims(&self, max_attempt: u32) -> Claims<'_> {
            Claims {
                gate: &self.gate,
                out_dir: self.dir.path(),
                run_id: RUN,
                max_attempt,
            }
        }

        fn check(&self, packet: &str) -> &Check {
            let packet = self.gate.packets.iter().find(|p| p.id == packet).unwrap();
            &packet.checks[0]
        }

        /// Records attempt `attempt` of A::a with `outcome`, after the attempts given.
        fn record_a(
            &self,
            attempt: u32,
            outcome: Outcome,
            earlier: Vec<CheckRecord>,
        ) -> CheckRecord {
            let record = skeleton(self.check("A"), &format!("attempt {attempt}"), outcome)
                .after_attempts(earlier);
            fragment::write_record_attempt(self.dir.path(), RUN, &record, attempt).unwrap();
            record
        }

        fn read_run_record(&self, name: &str) -> CheckRecord {
            let run = fragment::read_run(self.dir.path(), RUN).unwrap();
            run.records.into_iter().find(|r| r.name == name).unwrap()
        }
    }

    /// A runner that must not be called.
    fn never(check: &Check, _: &[CheckRecord], _: Vec<CheckRecord>) -> CheckRecord {
        panic!("{} ran again", check.name())
    }

    #[test]
    fn a_dependency_retry_goes_on_from_the_highest_attempt_after_a_crashed_one() {
        // Attempt 1 failed; attempt 2's process died before it recorded; nextest's attempt 3
        // of the trial ran and failed. A dependent then needs A::a: every attempt is used up,
        // so nothing runs again — it ran attempt 2 after attempt 3, and the journal's latest
        // (attempt 2) and read_latest's (attempt 3) disagreed.
        let fixture = Fixture::new();
        let first = fixture.record_a(1, Outcome::Fail, Vec::new());
        let third = fixture.record_a(3, Outcome::Fail, vec![first]);
        let records = fixture.claims(3).dependency_records("B", &never).unwrap();
        assert_eq!(records, vec![third.clone()]);
        assert_eq!(fixture.read_run_record("A::a"), third);
        let read = fragment::read_latest(fixture.dir.path(), RUN, "A", "a", 3).unwrap();
        assert_eq!(read, Some((3, third)));
    }

    #[test]
    fn a_retry_finds_a_later_attempt_and_never_writes_under_it() {
        let fixture = Fixture::new();
        let first = fixture.record_a(1, Outcome::Fail, Vec::new());
        let third = fixture.record_a(3, Outcome::Pass, vec![first]);
        // nextest's attempt 2 of the trial starts late: attempt 3 stands for it.
        let record = fixture
            .claims(3)
            .rerun(fixture.check("A"), 2, &never)
            .unwrap();
        assert_eq!(record, third);
        let attempt_2 = fragment::read_record_attempt(fixture.dir.path(), RUN, "A", "a", 2);
        assert_eq!(attempt_2.unwrap(), None);
    }

    #[test]
    fn retries_of_a_failing_dependency_run_in_order_and_the_journal_agrees() {
        let fixture = Fixture::new();
        let ran = RefCell::new(Vec::new());
        let run = |check: &Check, _: &[CheckRecord], earlier: Vec<CheckRecord>| {
            let attempt = earlier
                .iter()
                .map(CheckRecord::attempt_count)
                .sum::<usize>()
                + 1;
            ran.borrow_mut().push((check.name(), attempt));
            let outcome = if attempt < 3 {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            skeleton(check, &format!("attempt {attempt}"), outcome).after_attempts(earlier)
        };
        let records = fixture.claims(4).dependency_records("B", &run).unwrap();
        assert_eq!(
            *ran.borrow(),
            [
                ("A::a".to_string(), 1),
                ("A::a".to_string(), 2),
                ("A::a".to_string(), 3)
            ]
        );
        assert_eq!(records[0].outcome, Outcome::Pass);
        assert_eq!(records[0].attempt_count(), 3);
        assert_eq!(fixture.read_run_record("A::a"), records[0]);
    }

    #[test]
    fn read_run_keeps_the_highest_attempt_wherever_it_stands_in_the_journal() {
        // A journal written before attempts were ordered: attempt 3, then attempt 2.
        let fixture = Fixture::new();
        let first = fixture.record_a(1, Outcome::Fail, Vec::new());
        let third = fixture.record_a(3, Outcome::Pass, vec![first.clone()]);
        fixture.record_a(2, Outcome::Fail, vec![first]);
        assert_eq!(fixture.read_run_record("A::a"), third);
    }
}
