//! Tidy: the invariants of docs/ARCHITECTURE.md that a reader could not check by eye, checked
//! on every `cargo test`. Each test reads the workspace's sources as text.
//!
//! - The engine's modules form layers, and an import only points down or sideways (`LAYERS`);
//!   no two modules import each other, through any chain.
//! - No production file is longer than `MAX_LINES` (test modules and test files aside), except
//!   the files in `OVERSIZED`, which may only shrink.
//! - Every Rust source file starts with a `//!` header saying what it is for.
//! - Every source file ARCHITECTURE.md names exists.
//! - The pure stages (`PURE`) do no I/O: no file, process, network, environment or clock,
//!   beside the reads `PURE_IO` allows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a production file may be.
const MAX_LINES: usize = 800;

/// Files over `MAX_LINES` when the limit came in, with their size then: they may not grow, and
/// leave this list when they are split.
const OVERSIZED: &[(&str, usize)] = &[];

/// The engine's stages that are pure functions of their inputs: paths under
/// `crates/relgate/src`, a folder or a file.
const PURE: &[&str] = &["plan.rs", "verdict/", "spec/", "scan/"];

/// The I/O the pure stages may do, each in one file: reading the gate file, and the lockfiles
/// SARIF locations point at.
const PURE_IO: &[(&str, &str)] = &[
    ("spec/validate.rs", "std::fs::read(path)"),
    ("scan/lockfile.rs", "std::fs::metadata(&file)"),
    ("scan/lockfile.rs", "std::fs::read_to_string(&file)"),
];

/// What reaches outside a pure function: files, processes, the network, the environment, the
/// clock.
const IO_CALLS: &[&str] = &[
    "std::fs",
    "fs::",
    "File::",
    "OpenOptions",
    "std::process",
    "Command::new",
    "std::net",
    "std::env",
    "env::var",
    "Utc::now",
    "Local::now",
    "SystemTime",
    "Instant::now",
    "clock::now",
    "clock::today",
];

/// The engine's top-level modules, lowest layer first. A module may import modules of its own
/// layer or below, never above.
const LAYERS: &[&[&str]] = &[
    // The shared vocabulary, and the primitives everything writes with.
    // cargo's view of a project (`cargo metadata`), imports nothing of relgate.
    &["model", "output", "cargo_project"],
    // The gate file.
    &["spec"],
    // What runs (the plan) and how scanner reports read (pure functions of the spec).
    &["plan", "scan"],
    // Evidence: records, the ledger, the run's journal, signatures; signed human reviews.
    &["evidence", "init", "review"],
    // The verdict: a pure function of the gate and the records.
    &["verdict"],
    // The reports: every writer, the attestation over them, `finish`.
    &["report"],
    // Running a gate: trials, scheduler, check kinds, commands under supervisors, services.
    &["run"],
    // The commands besides running: verify a run, import a tracker, generate a gate, merge shards.
    &["verify", "import", "synthetic", "approve", "merge"],
    // The command line: arguments, then one call into the layers below; the gate-tests harness.
    &["cli", "harness"],
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The source directories of the workspace's crates.
fn source_dirs() -> Vec<PathBuf> {
    let root = workspace();
    [
        "crates/relgate/src",
        "crates/relgate-probes/src",
        "crates/relgate-pg/src",
        "xtask/src",
        "reference/tenant-api/src",
    ]
    .iter()
    .map(|dir| root.join(dir))
    .collect()
}

/// A file of tests only: `tests.rs`, or anything under a `tests` directory.
fn is_test_file(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "tests.rs")
        || path.components().any(|part| part.as_os_str() == "tests")
}

/// The production part of a source file: up to its `#[cfg(test)] mod tests` block.
fn production(text: &str) -> &str {
    let cut = text
        .find("#[cfg(test)]\nmod tests")
        .or_else(|| text.find("#[cfg(test)]\npub(crate) mod tests"))
        .unwrap_or(text.len());
    &text[..cut]
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn no_production_file_is_over_the_size_limit_and_the_oversized_only_shrink() {
    let oversized: BTreeMap<&str, usize> = OVERSIZED.iter().copied().collect();
    let mut problems = Vec::new();
    for dir in source_dirs() {
        for path in rust_files(&dir) {
            if is_test_file(&path) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            let lines = production(&text).lines().count();
            let name = relative(&path);
            match oversized.get(name.as_str()) {
                Some(&allowed) if lines > allowed => problems.push(format!(
                    "{name}: {lines} lines, more than the {allowed} it had: split it, do not grow it"
                )),
                Some(_) => {}
                None if lines > MAX_LINES => problems.push(format!(
                    "{name}: {lines} production lines (limit {MAX_LINES}): split it at a seam"
                )),
                None => {}
            }
        }
    }
    for (name, _) in OVERSIZED {
        let text = std::fs::read_to_string(workspace().join(name)).unwrap_or_default();
        if production(&text).lines().count() <= MAX_LINES {
            problems.push(format!(
                "{name} is within {MAX_LINES} lines now (or gone): take it off OVERSIZED"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let root = workspace();
    let mut missing = Vec::new();
    let mut dirs = source_dirs();
    dirs.extend(["tests", "gate-tests"].iter().map(|dir| root.join(dir)));
    for dir in dirs {
        for path in rust_files(&dir) {
            let text = std::fs::read_to_string(&path).expect("readable source");
            if !text.trim_start().starts_with("//!") {
                missing.push(relative(&path));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without a `//!` header saying what they are for:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_source_file_architecture_md_names_exists() {
    let root = workspace();
    let text = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let files: Vec<String> = ["crates", "xtask", "gate-tests", "reference", "tests", ".ci"]
        .iter()
        .flat_map(|dir| rust_files(&root.join(dir)))
        .map(|path| relative(&path))
        .collect();
    let mut missing = Vec::new();
    for (index, quoted) in text.split('`').enumerate() {
        // Odd pieces are inside backticks.
        if index % 2 == 0 || !quoted.ends_with(".rs") || quoted.contains(char::is_whitespace) {
            continue;
        }
        let name = quoted.trim_start_matches("./");
        let exists = files
            .iter()
            .any(|file| file == name || file.ends_with(&format!("/{name}")));
        if !exists {
            missing.push(name.to_string());
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md names source files that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The top-level modules `code` names: `crate::name…` and each item of `use crate::{…}`.
fn crate_references(code: &str) -> BTreeSet<String> {
    let ident = |text: &str| -> String {
        text.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            named.extend(group.split(',').map(ident));
        } else {
            named.insert(ident(rest));
        }
    }
    named.remove("");
    named.remove("self");
    named
}

/// For each top-level module of the engine, the other top-level modules its production code
/// names (`crate::name`, `use crate::{name, …}`), comments aside.
fn engine_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = workspace().join("crates/relgate/src");
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(&src) {
        if is_test_file(&path) {
            continue;
        }
        let relative = path.strip_prefix(&src).expect("under src");
        let first = relative
            .components()
            .next()
            .expect("a path")
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        let code: String = production(&text)
            .lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = crate_references(&code);
        named.remove(&module);
        imports.entry(module).or_default().extend(named);
    }
    imports
}

#[test]
fn engine_imports_point_down_the_layers() {
    let layer: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(at, modules)| modules.iter().map(move |module| (*module, at)))
        .collect();
    let mut problems = Vec::new();
    for (module, named) in engine_imports() {
        let Some(&own) = layer.get(module.as_str()) else {
            problems.push(format!("{module}: not in tidy's LAYERS: give it a layer"));
            continue;
        };
        for other in named {
            match layer.get(other.as_str()) {
                Some(&theirs) if theirs > own => problems.push(format!(
                    "{module} (layer {own}) imports {other} (layer {theirs}): imports point down"
                )),
                Some(_) => {}
                None => problems.push(format!("{module} imports {other}, which has no layer")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_two_engine_modules_import_each_other_through_any_chain() {
    let imports = engine_imports();
    let mut cycles = Vec::new();
    for start in imports.keys() {
        // Depth-first from each module: reaching it again is a cycle.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty");
            for next in imports.get(last).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(next.clone());
                    cycles.push(cycle.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn references_are_read_from_paths_and_grouped_imports() {
    let code = "use crate::{spec, report::finish, self};\nfn f() { crate::harness::run(); }";
    let named: Vec<String> = crate_references(code).into_iter().collect();
    assert_eq!(named, ["harness", "report", "spec"]);
}

#[test]
fn the_pure_stages_do_no_io() {
    let src = workspace().join("crates/relgate/src");
    let mut problems = Vec::new();
    for path in rust_files(&src) {
        let name = path
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        if is_test_file(&path) || !PURE.iter().any(|pure| name.starts_with(pure)) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (number, line) in production(&text).lines().enumerate() {
            let mut code = line.split("//").next().unwrap_or("").to_string();
            for (file, allowed) in PURE_IO {
                if *file == name {
                    code = code.replace(allowed, "");
                }
            }
            if let Some(call) = IO_CALLS.iter().find(|call| code.contains(*call)) {
                problems.push(format!("{name}:{}: `{call}` in a pure stage", number + 1));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "plan, verdict, spec and scan are pure (docs/ARCHITECTURE.md, Layers):\n{}",
        problems.join("\n")
    );
}
