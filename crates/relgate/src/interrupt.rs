//! Ctrl-C and SIGTERM: the process groups of running checks die with the gate.
//!
//! Each check runs in its own process group, so the terminal's SIGINT reaches only the gate.
//! The handler kills every registered group with SIGKILL, then restores the default action and
//! re-raises the signal, so the gate exits as interrupted and leaves no orphan behind.
//! Everything the handler touches is async-signal-safe: atomics, `kill`, `signal`, `raise`.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

const SLOTS: usize = 512;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGINT/SIGTERM handler once per process.
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `on_signal` only performs async-signal-safe operations.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Registers a running process group; returns its slot for [`unregister`].
pub fn register(pgid: i32) -> Option<usize> {
    GROUPS.iter().position(|slot| {
        slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// Forgets a process group once it has been reaped.
pub fn unregister(slot: Option<usize>) {
    if let Some(slot) = slot {
        GROUPS[slot].store(0, Ordering::SeqCst);
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill is async-signal-safe; a group that is gone gives ESRCH, ignored.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    // SAFETY: restoring the default action and re-raising are async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
