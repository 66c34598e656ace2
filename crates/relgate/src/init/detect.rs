//! What `init` finds in a project directory: a Cargo workspace (asked of cargo through
//! [`crate::cargo_project`]), an npm project with a lockfile, a Go module, Dockerfiles and
//! GitHub Actions workflows. Only the directory itself (and, for Dockerfiles, its immediate
//! subdirectories) is looked at: a gate's commands run there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::InitError;

/// What a project directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// The Cargo workspace the directory's `Cargo.toml` belongs to.
    pub cargo: Option<Cargo>,
    /// An npm project with a `package-lock.json`.
    pub npm: Option<Npm>,
    /// A Go module (`go.mod`).
    pub go: bool,
    /// Dockerfiles, relative to the directory (`Dockerfile`, `api/Dockerfile`, `Containerfile`,
    /// `Dockerfile.prod`, `web.dockerfile`), sorted.
    pub dockerfiles: Vec<String>,
    /// Workflow files under `.github/workflows/`, relative to the directory, sorted.
    pub workflows: Vec<String>,
}

/// A Cargo workspace, as cargo describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cargo {
    /// The workspace root.
    pub workspace_root: PathBuf,
    /// The members' package names.
    pub members: Vec<String>,
    /// Whether the workspace has a `Cargo.lock`.
    pub locked: bool,
    /// cargo's target directory relative to the project directory, when it is inside it and
    /// not `target` (`.cargo/config.toml` `build.target-dir`): the secrets probe skips it.
    pub target_dir: Option<String>,
}

/// An npm project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Npm {
    /// Whether `package.json` has a `test` script other than npm's placeholder.
    pub test_script: bool,
}

impl Project {
    /// Whether nothing `init` knows was found.
    pub fn is_empty(&self) -> bool {
        self.cargo.is_none()
            && self.npm.is_none()
            && !self.go
            && self.dockerfiles.is_empty()
            && self.workflows.is_empty()
    }
}

/// Directories never searched for Dockerfiles.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "vendor"];

/// Looks at `dir`.
pub fn detect(dir: &Path) -> Result<Project, InitError> {
    let cargo = if dir.join("Cargo.toml").is_file() {
        let project =
            crate::cargo_project::load(dir, &BTreeMap::new()).map_err(InitError::Cargo)?;
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        Some(Cargo {
            target_dir: project
                .target_directory
                .strip_prefix(&canonical)
                .ok()
                .and_then(Path::to_str)
                .filter(|relative| !relative.is_empty() && *relative != "target")
                .map(str::to_string),
            locked: project.workspace_root.join("Cargo.lock").is_file(),
            members: project.members.iter().map(|m| m.name.clone()).collect(),
            workspace_root: project.workspace_root.clone(),
        })
    } else {
        None
    };
    let npm = if dir.join("package-lock.json").is_file() {
        Some(Npm {
            test_script: has_test_script(&dir.join("package.json"))?,
        })
    } else {
        None
    };
    Ok(Project {
        cargo,
        npm,
        go: dir.join("go.mod").is_file(),
        dockerfiles: dockerfiles(dir)?,
        workflows: workflows(dir)?,
    })
}

/// Whether `package.json` (if any) has a real `test` script; npm's placeholder
/// (`echo "Error: no test specified" && exit 1`) is none.
fn has_test_script(path: &Path) -> Result<bool, InitError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(InitError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| InitError::Invalid {
            path: path.to_path_buf(),
            message: format!("not JSON: {err}"),
        })?;
    Ok(json
        .pointer("/scripts/test")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|script| !script.trim().is_empty() && !script.contains("no test specified")))
}

fn is_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
}

/// Names of the entries of `dir` (none if it does not exist), with whether each is a directory.
fn entries(dir: &Path) -> Result<Vec<(String, bool)>, InitError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(InitError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in read.flatten() {
        // A name that is not UTF-8 cannot be written in TOML and is left out; one with a
        // control character is kept (the gate quotes it; `compose` escapes it in comments).
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Symbolic links are not followed: what they point at is not this project's file.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() || kind.is_file() {
            found.push((name, kind.is_dir()));
        }
    }
    found.sort();
    Ok(found)
}

fn dockerfiles(dir: &Path) -> Result<Vec<String>, InitError> {
    let mut found = Vec::new();
    for (name, is_dir) in entries(dir)? {
        if !is_dir && is_dockerfile(&name) {
            found.push(name);
        } else if is_dir && !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
            for (inner, inner_is_dir) in entries(&dir.join(&name))? {
                if !inner_is_dir && is_dockerfile(&inner) {
                    found.push(format!("{name}/{inner}"));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

fn workflows(dir: &Path) -> Result<Vec<String>, InitError> {
    Ok(entries(&dir.join(".github/workflows"))?
        .into_iter()
        .filter(|(name, is_dir)| !is_dir && (name.ends_with(".yml") || name.ends_with(".yaml")))
        .map(|(name, _)| format!(".github/workflows/{name}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cargo_project::testing::{package, write};

    #[test]
    fn finds_each_kind_of_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert!(detect(&root).unwrap().is_empty());
        package(&root, "demo");
        write(&root.join("Cargo.lock"), "version = 4\n");
        write(&root.join("package-lock.json"), "{}");
        write(
            &root.join("package.json"),
            r#"{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#,
        );
        write(&root.join("go.mod"), "module example.com/demo\n");
        write(&root.join("Dockerfile"), "FROM scratch\n");
        write(&root.join("api/Dockerfile.prod"), "FROM scratch\n");
        write(&root.join("node_modules/x/Dockerfile"), "FROM scratch\n");
        write(&root.join("target/Dockerfile"), "FROM scratch\n");
        write(&root.join(".github/workflows/ci.yml"), "on: push\n");
        write(&root.join(".github/workflows/notes.txt"), "");
        let project = detect(&root).unwrap();
        let cargo = project.cargo.as_ref().unwrap();
        assert_eq!(cargo.members, ["demo"]);
        assert!(cargo.locked);
        assert_eq!(cargo.workspace_root, root);
        assert_eq!(project.npm, Some(Npm { test_script: false }));
        assert!(project.go);
        assert_eq!(project.dockerfiles, ["Dockerfile", "api/Dockerfile.prod"]);
        assert_eq!(project.workflows, [".github/workflows/ci.yml"]);

        write(
            &root.join("package.json"),
            r#"{"scripts": {"test": "jest"}}"#,
        );
        assert_eq!(detect(&root).unwrap().npm, Some(Npm { test_script: true }));
    }

    #[test]
    fn a_broken_package_json_or_manifest_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("package-lock.json"), "{}");
        write(&dir.path().join("package.json"), "{ not json");
        let err = detect(dir.path()).unwrap_err();
        assert!(err.to_string().contains("package.json"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("Cargo.toml"), "[package\n");
        let err = detect(dir.path()).unwrap_err();
        assert!(err.to_string().contains("Cargo.toml"), "{err}");
    }
}
