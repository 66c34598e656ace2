//! Running a gate: the libtest-mimic trials and the scheduler that runs the checks
//! ([`harness`]), each kind of check ([`check`]: a command through [`exec`] under a
//! [`supervisor`], grep rules, built-in probes, scanner runs), the services checks
//! need ([`service`]), the tools they need ([`setup`]), the live display ([`progress`]), Ctrl-C
//! ([`interrupt`]), the out directory's run lock ([`outdir`]), runs split across nextest
//! processes ([`nextest`]) and cargo's build lock ([`cargo_lock`]). It produces records
//! ([`crate::evidence`]) and, at the end, has the reports written ([`crate::report`]).

pub mod cargo_lock;
pub mod check;
pub mod exec;
pub mod harness;
pub mod header;
pub mod interrupt;
pub mod nextest;
pub mod outdir;
pub mod progress;
pub mod service;
pub mod setup;
pub mod shard;
pub mod supervisor;
