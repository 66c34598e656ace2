//! Ctrl-C, SIGTERM and SIGHUP: the process groups of running checks and services die with the
//! gate, and services' data directories and databases are removed.
//!
//! Each check and service runs under a supervisor in its own process group, so the terminal's
//! SIGINT reaches only the gate. The handler sends SIGTERM to every registered supervisor, which
//! kills everything below it, and kills every other registered group (a Postgres cluster) with
//! SIGKILL (async-signal-safe: atomics and `kill`). Should the gate die before they are done,
//! the supervisors see their control pipe close and finish the job. Clean-ups that are not async-signal-safe (removing a temp directory, dropping a
//! database) run on a watcher thread the handler wakes through a pipe; when they are done, or
//! after [`CLEANUP_LIMIT`], the watcher restores the default action and re-raises the signal,
//! so the gate exits as interrupted. A second signal during clean-up exits at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long clean-ups may take after a signal before the gate exits anyway.
pub const CLEANUP_LIMIT: Duration = Duration::from_secs(15);

const SLOTS: usize = 512;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static SUPERVISORS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Write end of the watcher's pipe, or -1 before the watcher exists.
static WAKE: AtomicI32 = AtomicI32::new(-1);
static CLEANING: AtomicBool = AtomicBool::new(false);
static NEXT_CLEANUP: AtomicU64 = AtomicU64::new(1);

type Cleanup = Box<dyn FnOnce() + Send>;
static CLEANUPS: Mutex<BTreeMap<u64, Cleanup>> = Mutex::new(BTreeMap::new());

/// Installs the signal handler once per process.
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
    claim(&GROUPS, pgid)
}

/// Forgets a process group once it has been reaped.
pub fn unregister(slot: Option<usize>) {
    release(&GROUPS, slot);
}

/// Registers a running supervisor (see [`crate::run::supervisor`]), which a signal to the gate
/// tells to kill everything below it (with SIGTERM, which it handles); returns its slot for
/// [`unregister_supervisor`]. Must be unregistered before it is reaped.
pub fn register_supervisor(pid: i32) -> Option<usize> {
    claim(&SUPERVISORS, pid)
}

/// Forgets a supervisor before it is reaped.
pub fn unregister_supervisor(slot: Option<usize>) {
    release(&SUPERVISORS, slot);
}

/// Stores `pid` in the first free slot of `slots`; `None` when all are taken.
fn claim(slots: &[AtomicI32], pid: i32) -> Option<usize> {
    slots.iter().position(|slot| {
        slot.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

fn release(slots: &[AtomicI32], slot: Option<usize>) {
    if let Some(slot) = slot {
        slots[slot].store(0, Ordering::SeqCst);
    }
}

/// Runs `cleanup` if the gate is interrupted before [`forget`] is called with the returned
/// token. Process groups are already dead when it runs.
pub fn on_interrupt(cleanup: impl FnOnce() + Send + 'static) -> u64 {
    start_watcher();
    let token = NEXT_CLEANUP.fetch_add(1, Ordering::SeqCst);
    CLEANUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(token, Box::new(cleanup));
    token
}

/// Drops a clean-up registered with [`on_interrupt`] (the normal path did the work).
pub fn forget(token: u64) {
    CLEANUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(&token);
}

fn start_watcher() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe fills two descriptors we own from here on.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        let [read_fd, write_fd] = fds;
        let spawned = std::thread::Builder::new()
            .name("relgate-interrupt".to_string())
            .spawn(move || {
                let mut signal = 0u8;
                loop {
                    // SAFETY: reading one byte into a local from our own pipe.
                    let n = unsafe { libc::read(read_fd, (&mut signal as *mut u8).cast(), 1) };
                    if n == 1 {
                        break;
                    }
                    if n == 0 {
                        return;
                    }
                }
                run_cleanups_then_die(i32::from(signal));
            });
        if spawned.is_ok() {
            WAKE.store(write_fd, Ordering::SeqCst);
        }
    });
}

fn run_cleanups_then_die(signal: i32) {
    // Whatever happens to the clean-ups, the gate dies within the limit.
    let _ = std::thread::Builder::new()
        .name("relgate-interrupt-limit".to_string())
        .spawn(move || {
            std::thread::sleep(CLEANUP_LIMIT);
            die(signal);
        });
    let cleanups = std::mem::take(
        &mut *CLEANUPS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    for (_, cleanup) in cleanups.into_iter().rev() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(cleanup));
    }
    die(signal);
}

fn die(signal: i32) {
    // SAFETY: restoring the default action and re-raising.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    // A signal whose default action does not end the process (none of ours): exit anyway.
    std::process::exit(128 + signal);
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
    for slot in &SUPERVISORS {
        let pid = slot.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: as above; the supervisor kills its whole subtree and exits.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
    let wake = WAKE.load(Ordering::SeqCst);
    if wake >= 0 && !CLEANING.swap(true, Ordering::SeqCst) {
        let byte = signal as u8;
        // SAFETY: write is async-signal-safe; the watcher runs the clean-ups and re-raises.
        if unsafe { libc::write(wake, (&byte as *const u8).cast(), 1) } == 1 {
            return;
        }
    }
    // SAFETY: restoring the default action and re-raising are async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
