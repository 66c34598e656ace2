//! Running a gate: the libtest-mimic trials and the scheduler that runs the checks
//! ([`harness`]), each kind of check (a command through [`exec`] under a [`supervisor`],
//! [`grep`] rules, built-in [`probes`], scanner runs judged by [`scanning`]), the services checks
//! need ([`service`]), the tools they need ([`setup`]), the live display ([`progress`]), Ctrl-C
//! ([`interrupt`]), the out directory's run lock ([`outdir`]), runs split across nextest
//! processes ([`nextest`]) and cargo's build lock ([`cargo_lock`]). It produces records
//! ([`crate::evidence`]) and, at the end, has the reports written ([`crate::report`]).

pub mod cargo_lock;
pub mod exec;
pub mod grep;
pub mod harness;
pub mod interrupt;
pub mod nextest;
pub mod outdir;
pub mod probes;
pub mod progress;
pub mod scanning;
pub mod service;
pub mod setup;
pub mod supervisor;
