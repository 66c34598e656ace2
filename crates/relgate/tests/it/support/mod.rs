//! What the relgate integration tests share: the report fixtures and the SARIF consumer checks.
// Each test binary uses part of it.
#![allow(dead_code)]

pub mod fixture;
pub mod fuzz;
pub mod nasty;
pub mod sarif_consumer;

use std::path::{Path, PathBuf};

/// `tests/golden/<name>` of the workspace.
pub fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden")
        .join(name)
}

/// The golden file `tests/golden/<name>` of the workspace and its text. With `UPDATE_GOLDEN`
/// set, writes `rendered` there instead and returns `None`: the caller has nothing to compare.
pub fn golden(name: &str, rendered: &str) -> Option<(PathBuf, String)> {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rendered).unwrap();
        return None;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run with UPDATE_GOLDEN=1 to write it",
            path.display()
        )
    });
    Some((path, golden))
}
