//! The property/fuzz harness's machinery: a fixed, replayable list of cases per target (arbtest
//! seeds), the corpus in the repository, and inputs kept when a case fails.
//!
//! Budget: each target runs its default number of cases (a fixed seed list, the same on every
//! run). `RELGATE_FUZZ_CASES=N` runs N cases instead; `RELGATE_FUZZ_SECONDS=S` keeps going with
//! further seeds of the same list until S seconds have passed (at least the case count when both
//! are set). `RELGATE_FUZZ_SEED=0x…` replays the one case a failure printed. A failing case
//! writes its input to `target/fuzz-failures/<target>-<seed>` so it can become a named corpus file.

pub mod generate;
pub mod mutate;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbtest::arbitrary::Unstructured;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Entropy each case gets: enough for a dozen mutations and a generated document.
const CASE_BYTES: u64 = 16 * 1024;

/// Runs `property` over the target's case list; each case gets a [`Gen`] seeded from the
/// target's name and the case number, so a failure replays exactly.
pub fn cases(target: &str, default_cases: u64, mut property: impl FnMut(&mut Gen<'_, '_>)) {
    let mut run_one = |seed: u64| {
        arbtest::arbtest(|u| {
            let mut gen = Gen { u, target, seed };
            property(&mut gen);
            Ok(())
        })
        .seed(seed)
        .run();
    };
    if let Some(seed) = env_number("RELGATE_FUZZ_SEED") {
        run_one(seed);
        return;
    }
    let seconds = env_number("RELGATE_FUZZ_SECONDS").map(Duration::from_secs);
    let cases = env_number("RELGATE_FUZZ_CASES").unwrap_or(if seconds.is_some() {
        0
    } else {
        default_cases
    });
    let start = Instant::now();
    let mut case = 0;
    let mut slowest = (Duration::ZERO, 0);
    while case < cases || seconds.is_some_and(|budget| start.elapsed() < budget) {
        let seed = seed(target, case);
        let started = Instant::now();
        run_one(seed);
        slowest = slowest.max((started.elapsed(), seed));
        case += 1;
    }
    eprintln!(
        "fuzz {target}: {case} cases in {:.2?}, slowest {:.2?} (seed 0x{:016x})",
        start.elapsed(),
        slowest.0,
        slowest.1
    );
}

/// The seed of case `case` of `target`: arbtest's encoding (entropy length in the low half,
/// the generator's state in the high half, never zero).
pub fn seed(target: &str, case: u64) -> u64 {
    let name = target
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut state = name ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    state = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    state = (state ^ (state >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    state ^= state >> 31;
    (state | 1 << 32) & !0xffff_ffff | CASE_BYTES
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number")))
}

/// One case's source of choices: an arbtest `Unstructured` whose choices never fail (when its
/// bytes run out every choice is the smallest).
pub struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    target: &'a str,
    seed: u64,
}

impl Gen<'_, '_> {
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        self.u.int_in_range(0..=n - 1).unwrap_or(0)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// True `num` times in `den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'c, T>(&mut self, items: &'c [T]) -> &'c T {
        &items[self.below(items.len())]
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.u.int_in_range(0..=255).unwrap_or(0)
    }

    /// Keeps `input` under `target/fuzz-failures/` if the case panics from here on.
    pub fn keep_on_panic<'i>(&self, input: &'i [u8]) -> KeepOnPanic<'i> {
        KeepOnPanic {
            name: format!("{}-{:016x}", self.target, self.seed),
            input,
        }
    }
}

/// Writes its input to `target/fuzz-failures/` when dropped while panicking, and says how to
/// replay the case.
pub struct KeepOnPanic<'i> {
    name: String,
    input: &'i [u8],
}

impl Drop for KeepOnPanic<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let dir = workspace().join("target/fuzz-failures");
        let path = dir.join(&self.name);
        let kept = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, self.input));
        let seed = self.name.rsplit('-').next().unwrap_or_default();
        eprintln!(
            "fuzz case failed; input {} ({:?}); replay: RELGATE_FUZZ_SEED=0x{seed} cargo test -p relgate --test it fuzz::",
            path.display(),
            kept.map(|()| self.input.len()),
        );
    }
}

/// One corpus entry: its name (path relative to the workspace) and bytes.
pub struct Entry {
    /// Where it came from, relative to the workspace.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The corpus of a target: every file below `tests/fuzz-corpus/<target>/` plus the fixtures
/// the target also takes as seeds (`seed_dirs`, files ending with one of `extensions`), sorted
/// by name.
pub fn corpus(target: &str, seed_dirs: &[&str], extensions: &[&str]) -> Vec<Entry> {
    let root = workspace();
    let mut files = Vec::new();
    collect(
        &root.join("tests/fuzz-corpus").join(target),
        &[],
        &mut files,
    );
    for dir in seed_dirs {
        collect(&root.join(dir), extensions, &mut files);
    }
    let mut entries: Vec<Entry> = files
        .into_iter()
        .map(|path| Entry {
            name: path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string(),
            bytes: std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display())),
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!entries.is_empty(), "the {target} corpus is empty");
    entries
}

fn collect(dir: &Path, extensions: &[&str], files: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if extensions.is_empty() {
                collect(&path, extensions, files);
            }
        } else if name != "README.md"
            && (extensions.is_empty() || extensions.iter().any(|ext| name.ends_with(ext)))
        {
            files.push(path);
        }
    }
}

/// Runs `check` and fails if it took longer than `limit` (a hang or a blow-up, not a
/// benchmark: the limits are generous for a debug build on a busy machine).
pub fn timed<T>(what: &str, limit: Duration, check: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = check();
    let took = start.elapsed();
    assert!(took <= limit, "{what} took {took:.2?} (limit {limit:.2?})");
    result
}
