//! The commands that write a gate file: `import` (a hand-kept Markdown tracker into a
//! packets.toml) and `init` (a starter gate), never over an existing file without `--force`.

use std::path::Path;

use crate::model::invocation::Invocation;
use crate::model::{clock, exit_codes};

/// `gate import`: the tracker's gate file on stdout or into `output`, notes on stderr.
pub(super) fn import_tracker(tracker: &Path, output: Option<&Path>, force: bool) -> i32 {
    if let Some(code) = output.and_then(|output| refuse_overwrite(output, force)) {
        return code;
    }
    let name = tracker.display().to_string();
    let bytes = match std::fs::read(tracker) {
        Ok(bytes) => bytes,
        Err(err) => {
            crate::output::redaction::print_error(&format!("cannot read tracker {name}: {err}"));
            return exit_codes::INVALID;
        }
    };
    let imported = match crate::import::import(&name, &bytes) {
        Ok(imported) => imported,
        Err(err) => {
            crate::output::redaction::print_error(&format!("cannot import {name}: {err}"));
            return exit_codes::INVALID;
        }
    };
    for note in &imported.notes {
        match note.line {
            Some(line) => eprintln!("{name}:{line}: {note}"),
            None => eprintln!("{name}: {note}"),
        }
    }
    let written = match output {
        // A hand-kept tracker may hold a credential someone pasted: like every file relgate
        // writes, the imported gate goes through the redactor.
        Some(path) => crate::output::redaction::write_report(path, imported.toml.as_bytes())
            .map(|()| format!(" into {}", path.display()))
            .map_err(|err| format!("cannot write {}: {err}", path.display())),
        None => write_stdout(&crate::output::redaction::redact_bytes(
            imported.toml.as_bytes(),
        ))
        .map(|()| String::new()),
    };
    let written = match written {
        Ok(written) => written,
        Err(message) => {
            crate::output::redaction::print_error(&message);
            return exit_codes::INVALID;
        }
    };
    let sum = |count: fn(&crate::import::PacketSummary) -> usize| -> usize {
        imported.packets.iter().map(count).sum()
    };
    eprintln!(
        "imported {} packets, {} checklist items and {} checks ({} commented out) from {name}{written}; {} lines kept as comments",
        imported.packets.len(),
        sum(|packet| packet.checklist),
        sum(|packet| packet.checks),
        sum(|packet| packet.commented_checks),
        imported.commented_lines,
    );
    exit_codes::OK
}

/// `bytes` on stdout; like ripgrep, a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to stdout: {err}"))
        }
        _ => Ok(()),
    }
}

/// Exit 2 for a file that exists, unless `--force` says to overwrite it.
fn refuse_overwrite(path: &Path, force: bool) -> Option<i32> {
    (path.exists() && !force).then(|| {
        eprintln!(
            "error: {} already exists\n  (hint: pass --force to overwrite it)",
            path.display()
        );
        exit_codes::INVALID
    })
}

/// `gate init`: a starter gate for the project in the gate file's directory (see
/// [`crate::init`]); with `xtask` (`Some(relgate path or None)`) the xtask pattern's crates too.
/// Nothing is written over an existing file without `--force`; the message names the command
/// as `invoked` (`cargo xtask gate` once the xtask exists).
pub(super) fn init_gate(
    gate: &Path,
    force: bool,
    xtask: Option<Option<std::path::PathBuf>>,
    invoked: Invocation,
) -> i32 {
    let relgate = xtask.map(|path| match path {
        Some(path) => crate::init::Relgate::Path(std::path::absolute(&path).unwrap_or(path)),
        None => crate::init::Relgate::this_version(),
    });
    let command = if relgate.is_some() {
        Invocation::Xtask.command()
    } else {
        invoked.command()
    };
    let done = match crate::init::init(&crate::init::Request {
        gate,
        force,
        xtask: relgate,
        command,
        today: clock::today(),
    }) {
        Ok(done) => done,
        Err(err) => {
            crate::output::redaction::print_error(&err);
            return exit_codes::INVALID;
        }
    };
    for path in &done.written {
        // `./xtask/Cargo.toml` reads as `xtask/Cargo.toml`.
        eprintln!("wrote {}", path.strip_prefix(".").unwrap_or(path).display());
    }
    if done.project.is_empty() {
        eprintln!(
            "found no Cargo workspace, package-lock.json, go.mod, Dockerfile or .github/workflows: \
             the starter's checks are placeholders to replace"
        );
    }
    if done.project.cargo.is_some() {
        eprintln!(
            "the cargo-audit check reads a local copy of the RustSec advisory database: set \
             RELGATE_ADVISORY_DB (e.g. git clone --depth 1 https://github.com/rustsec/advisory-db)"
        );
    }
    eprintln!("run it with `{command} --gate {}`", gate.display());
    exit_codes::OK
}
