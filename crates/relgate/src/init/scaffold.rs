//! `init --xtask`: the files of the xtask pattern — the `xtask` crate (whose `main` is
//! `relgate::cli::main()`), the `gate-tests` crate (the gate as a `harness = false` test), the
//! `.cargo/config.toml` alias and the workspace members — planned as a whole, so that nothing
//! is written when any part cannot be.

use std::path::{Path, PathBuf};

use super::manifest::{self, Alias};
use super::{templates, InitError, Relgate};

/// The files to write: (path, contents).
pub type Plan = Vec<(PathBuf, String)>;

/// The relgate dependency as a TOML value.
fn dependency(relgate: &Relgate) -> String {
    match relgate {
        Relgate::Version(version) => toml::Value::String(version.clone()).to_string(),
        Relgate::Path(path) => format!(
            "{{ path = {} }}",
            toml::Value::String(path.display().to_string())
        ),
    }
}

/// Reads `path`, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, InitError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(InitError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What `--xtask` writes in `dir`, whose workspace root cargo said is `workspace_root` (`None`:
/// no `Cargo.toml`).
pub fn plan(
    dir: &Path,
    workspace_root: Option<&Path>,
    relgate: &Relgate,
    force: bool,
) -> Result<Plan, InitError> {
    let dependency = dependency(relgate);
    let mut plan: Plan = vec![
        (
            dir.join("xtask/Cargo.toml"),
            templates::XTASK_MANIFEST.replace("{RELGATE}", &dependency),
        ),
        (
            dir.join("xtask/src/main.rs"),
            templates::XTASK_MAIN.to_string(),
        ),
        (
            dir.join("gate-tests/Cargo.toml"),
            templates::GATE_TESTS_MANIFEST.replace("{RELGATE}", &dependency),
        ),
        (
            dir.join("gate-tests/tests/gate.rs"),
            templates::GATE_TESTS_MAIN.to_string(),
        ),
    ];
    for (path, _) in &plan {
        if path.exists() && !force {
            return Err(InitError::Exists { path: path.clone() });
        }
    }

    // The alias, in the config file cargo reads (the old extension-less name if only it exists).
    let mut config = dir.join(".cargo/config.toml");
    if !config.exists() && dir.join(".cargo/config").is_file() {
        config = dir.join(".cargo/config");
    }
    let text = read_optional(&config)?.unwrap_or_default();
    match manifest::add_alias(&text, templates::XTASK_ALIAS).map_err(|refused| {
        InitError::ByHand {
            path: config.clone(),
            message: refused.0,
        }
    })? {
        Alias::Add(edited) => plan.push((config, edited)),
        Alias::Present => {}
        Alias::Differs(found) => {
            return Err(InitError::AliasDiffers {
                path: config,
                found,
                wanted: templates::XTASK_ALIAS.to_string(),
            })
        }
    }

    // The workspace members.
    let root_manifest = dir.join("Cargo.toml");
    match read_optional(&root_manifest)? {
        None => plan.push((root_manifest, templates::VIRTUAL_WORKSPACE.to_string())),
        Some(text) => {
            let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            if let Some(root) = workspace_root.filter(|root| *root != canonical) {
                return Err(InitError::ByHand {
                    path: root.join("Cargo.toml"),
                    message: format!(
                        "{} is a member of the workspace at {}: add its xtask and gate-tests directories to that workspace's members by hand",
                        dir.display(),
                        root.display()
                    ),
                });
            }
            match manifest::add_members(&text) {
                Ok(Some(edited)) => plan.push((root_manifest, edited)),
                Ok(None) => {}
                Err(refused) => {
                    return Err(InitError::ByHand {
                        path: root_manifest,
                        message: refused.0,
                    })
                }
            }
        }
    }
    Ok(plan)
}
