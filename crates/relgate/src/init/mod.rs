//! `gate init`: a starter gate for the project it runs in. [`detect`] looks at the directory of
//! the gate file (a Cargo workspace through `cargo metadata`, a `package-lock.json`, a
//! `go.mod`, Dockerfiles, `.github/workflows`), [`compose`] writes a gate with the real commands
//! for what it found (the generic [`starter`] when it finds nothing it knows), and with
//! `--xtask` `scaffold` adds the `xtask` and `gate-tests` crates, the cargo alias and the
//! workspace members. The text is in `templates`; `manifest` edits existing files safely.
//! Everything is planned first and checked (the gate loads, nothing is overwritten without
//! `force`, manifests stay valid); then each file is written atomically.

pub mod compose;
pub mod detect;
mod manifest;
mod scaffold;
mod starter;
mod templates;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

pub use compose::{gate, GateOptions};
pub use detect::{detect, Project};
pub use starter::starter;

/// Where the `relgate` dependency of the xtask crates comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relgate {
    /// A version from crates.io (`relgate = "0.1.0"`).
    Version(String),
    /// A local checkout of `crates/relgate` (`relgate = { path = "…" }`).
    Path(PathBuf),
}

impl Relgate {
    /// This crate's own version, from crates.io.
    pub fn this_version() -> Self {
        Relgate::Version(env!("CARGO_PKG_VERSION").to_string())
    }
}

/// What to initialise.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The gate file to write; its directory is the project looked at.
    pub gate: &'a Path,
    /// Overwrite existing files.
    pub force: bool,
    /// Also scaffold the xtask pattern, with this relgate dependency.
    pub xtask: Option<Relgate>,
    /// How the user runs the gate (`cargo xtask gate`, `cargo gate`), for the comments.
    pub command: &'a str,
    /// Today's date.
    pub today: NaiveDate,
}

/// What `init` did.
#[derive(Debug, Clone)]
pub struct Done {
    /// What it found.
    pub project: Project,
    /// The files written (created or edited), the gate file first.
    pub written: Vec<PathBuf>,
}

/// Why `init` wrote nothing. Every case is exit 2 and names the file.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// cargo could not describe the project.
    #[error("{0}")]
    Cargo(Arc<crate::cargo_project::ProjectError>),
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file did not hold what it should.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The gate path names no file.
    #[error("--gate {} does not name a file", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// A file exists and `force` was not given.
    #[error("{} already exists\n  (hint: pass --force to overwrite it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// An existing file cannot be edited safely.
    #[error("cannot edit {} safely: {message}", path.display())]
    ByHand {
        /// The file.
        path: PathBuf,
        /// What to add by hand.
        message: String,
    },
    /// `.cargo/config.toml` has another `xtask` alias.
    #[error("{} already has the alias xtask = {found}; relgate's xtask needs xtask = \"{wanted}\": change it by hand (or remove it and run init again)", path.display())]
    AliasDiffers {
        /// The config file.
        path: PathBuf,
        /// Its alias.
        found: String,
        /// The alias relgate needs.
        wanted: String,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The part of `path` that exists and resolves outside `base` (through a symlink), if any:
/// `path` itself when it is a symlink, else its deepest existing ancestor.
fn leads_outside(base: &Path, path: &Path) -> Option<PathBuf> {
    let base = std::fs::canonicalize(base).ok()?;
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink()) {
        return Some(path.to_path_buf());
    }
    let existing = crate::output::containment::existing_part(path.parent()?)?;
    let resolved = std::fs::canonicalize(existing).ok()?;
    (!resolved.starts_with(&base)).then(|| existing.to_path_buf())
}

/// Looks at the project, writes its gate file (and with `xtask` the crates and settings of the
/// xtask pattern). Nothing is written unless everything can be.
pub fn init(request: &Request) -> Result<Done, InitError> {
    let gate_path = request.gate;
    let Some(file_name) = gate_path.file_name().and_then(|name| name.to_str()) else {
        return Err(InitError::NotAFile {
            path: gate_path.to_path_buf(),
        });
    };
    let dir = match gate_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if gate_path.exists() && !request.force {
        return Err(InitError::Exists {
            path: gate_path.to_path_buf(),
        });
    }
    let project = detect(dir)?;
    let text = gate(
        &project,
        &GateOptions {
            gate_file: file_name,
            today: request.today,
            command: request.command,
            xtask: request.xtask.is_some(),
        },
    );
    // What init writes must load: a refusal here is a bug of init, reported, never written.
    if let Err(err) = crate::spec::parse(gate_path, &text) {
        return Err(InitError::Invalid {
            path: gate_path.to_path_buf(),
            message: format!("the generated gate does not load (a bug of relgate init): {err}"),
        });
    }
    let mut plan = vec![(gate_path.to_path_buf(), text)];
    if let Some(relgate) = &request.xtask {
        let root = project
            .cargo
            .as_ref()
            .map(|cargo| cargo.workspace_root.as_path());
        let scaffold = scaffold::plan(dir, root, relgate, request.force)?;
        // The crates and settings go into the project, never through a symlinked `.cargo`,
        // `xtask` or `gate-tests` folder to somewhere else.
        let base = root.unwrap_or(dir);
        for (path, _) in &scaffold {
            if let Some(outside) = leads_outside(base, path) {
                return Err(InitError::Invalid {
                    path: path.clone(),
                    message: format!(
                        "{} leads outside the project ({}): a symlink? relgate writes only inside {}",
                        outside.display(),
                        std::fs::canonicalize(&outside)
                            .unwrap_or_else(|_| outside.clone())
                            .display(),
                        base.display()
                    ),
                });
            }
        }
        plan.extend(scaffold);
    }
    // Every file goes through the redactor; one it would change (a project file named like a
    // credential) would be written other than validated — `[REDACTED]` in a glob is a
    // character class — so nothing is written and the user is told why.
    for (path, contents) in &plan {
        if crate::output::redaction::redact(contents) != contents.as_str() {
            return Err(InitError::Invalid {
                path: path.clone(),
                message: "it would name something that looks like a secret (a file of this \
                          project named like a credential?): relgate writes nothing its redactor \
                          would mask; rename the file or write that check by hand"
                    .to_string(),
            });
        }
    }
    let mut written = Vec::new();
    for (path, contents) in plan {
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            crate::output::redaction::write_report(&path, contents.as_bytes())
        };
        write().map_err(|source| InitError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(Done { project, written })
}

#[cfg(test)]
mod tests;
