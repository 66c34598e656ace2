//! A 4 MB unknown key (issue 13: 24 s and 769 MB, the "did you mean" distance table allocated
//! per character) is refused as fast as a valid file of the same size loads, with bounded
//! memory, and shown shortened. Its own test binary: the allocator below counts the bytes the
//! process holds, which other tests running alongside would disturb.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use relgate::spec::{self, SpecErrorKind};
use relgate::synthetic::thread_cpu_time;

/// The system allocator, keeping count of the bytes held and of their peak.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(held, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MB: usize = 1024 * 1024;

/// Bytes held at the peak of `work`, above what was held before it.
fn peak_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let before = HELD.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = work();
    (result, PEAK.load(Ordering::Relaxed) - before)
}

#[test]
fn a_four_megabyte_unknown_key_is_refused_quickly_with_little_memory_and_shown_short() {
    let key = "k".repeat(4 * MB);
    // The same bytes as a value: what reading a file of that size costs anyway.
    let valid = format!("[gate]\nname = \"{key}\"\n");
    let (loaded, valid_cost) = thread_cpu_time(|| spec::parse(Path::new("gate.toml"), &valid));
    assert!(loaded.is_ok());
    for (what, source) in [
        ("top level", format!("{key} = 1\n")),
        (
            "check",
            format!("[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"c\"\nrun = \"true\"\n{key} = 1\n"),
        ),
        (
            "inline table",
            format!("[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"c\"\ngrep = {{ pattern = \"x\", files = \"y\", {key} = 1 }}\n"),
        ),
    ] {
        let ((err, cost), peak) = peak_during(|| {
            thread_cpu_time(|| {
                spec::parse(Path::new("gate.toml"), &source).expect_err("an unknown key")
            })
        });
        assert_eq!(err.kind, SpecErrorKind::UnknownKey, "{what}: {err}");
        let shown = err.to_string();
        assert!(shown.len() < 600, "{what}: a {} byte message", shown.len());
        assert!(shown.contains("kkkk…"), "{what}: {shown}");
        eprintln!(
            "{what}: {cost:?} (a valid file of that size: {valid_cost:?}), peak {} MB",
            peak / MB
        );
        // The old hint alone took 24 s and 769 MB.
        assert!(
            cost < valid_cost * 4 + std::time::Duration::from_millis(200),
            "{what}: refusing the key took {cost:?}, loading a file of that size {valid_cost:?}"
        );
        assert!(peak < 160 * MB, "{what}: {} MB held at the peak", peak / MB);
    }
}
