//! How the command line was invoked — `cargo xtask gate` (the xtask pattern) or `cargo gate`
//! (the installed binary) — so that every message telling a user what to run next names the
//! command they typed. Set once by `relgate::cli` as it parses its arguments; everything else
//! (gate-tests, the library used directly) keeps the default, `cargo xtask gate`.

use std::sync::atomic::{AtomicU8, Ordering};

/// The two ways relgate's command line is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// `cargo xtask gate …`: a workspace's xtask calls `relgate::cli::main()`.
    Xtask,
    /// `cargo gate …` (or `cargo-gate …`): the installed `cargo-gate` binary.
    CargoGate,
}

impl Invocation {
    /// The command as a user types it, e.g. in "run it with `cargo gate --gate FILE`".
    pub fn command(self) -> &'static str {
        match self {
            Invocation::Xtask => "cargo xtask gate",
            Invocation::CargoGate => "cargo gate",
        }
    }
}

/// The invocation of this process (0: xtask, 1: cargo-gate).
static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Records how this process was invoked; later messages name that command.
pub fn set(invocation: Invocation) {
    CURRENT.store(invocation as u8, Ordering::Relaxed);
}

/// How this process was invoked ([`Invocation::Xtask`] unless [`set`] said otherwise).
pub fn current() -> Invocation {
    match CURRENT.load(Ordering::Relaxed) {
        0 => Invocation::Xtask,
        _ => Invocation::CargoGate,
    }
}

/// The gate command of this process: `cargo xtask gate` or `cargo gate`.
pub fn gate_command() -> &'static str {
    current().command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_invocation_names_its_command() {
        assert_eq!(Invocation::Xtask.command(), "cargo xtask gate");
        assert_eq!(Invocation::CargoGate.command(), "cargo gate");
    }
}
