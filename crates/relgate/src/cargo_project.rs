//! Cargo's own view of a project: the workspace root, the target directory and the members,
//! asked of cargo (`cargo metadata --no-deps --format-version 1 --offline`, through the
//! `cargo_metadata` crate) instead of re-implementing its rules — `.cargo/config.toml`
//! `build.target-dir`, `CARGO_TARGET_DIR`, nested workspaces, `exclude`d members and globbed
//! `members` are cargo's to resolve.
//!
//! Answers are cached per directory and cargo environment for the life of the process (one
//! gate run): a gate with many cargo checks asks cargo once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A Cargo project as cargo sees it from one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The workspace root (the directory of the root manifest).
    pub workspace_root: PathBuf,
    /// Where cargo builds: `target/` of the workspace root unless configured otherwise.
    pub target_directory: PathBuf,
    /// The workspace members, in cargo's order.
    pub members: Vec<Member>,
}

/// A workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The package name.
    pub name: String,
    /// Its `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// Its targets (a library, binaries, tests, examples, benches, a build script).
    pub targets: Vec<Target>,
}

/// A target of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The target's name.
    pub name: String,
    /// Its kinds as cargo names them: `lib`, `bin`, `test`, `example`, `bench`,
    /// `custom-build`, `proc-macro`…
    pub kinds: Vec<String>,
}

impl Member {
    /// Whether the member has a target of this kind (`"lib"`, `"bin"`, `"test"`…).
    pub fn has(&self, kind: &str) -> bool {
        self.targets
            .iter()
            .any(|target| target.kinds.iter().any(|k| k == kind))
    }
}

/// Why cargo could not describe a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// cargo could not be started.
    #[error("cannot run `cargo metadata` in {}: {source}", dir.display())]
    Spawn {
        /// The directory asked about.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// cargo ran and refused (no `Cargo.toml`, a broken manifest…).
    #[error("`cargo metadata` in {} failed: {}", dir.display(), stderr.trim())]
    Cargo {
        /// The directory asked about.
        dir: PathBuf,
        /// What cargo said.
        stderr: String,
    },
    /// cargo's output could not be read.
    #[error("cannot read the output of `cargo metadata` in {}: {message}", dir.display())]
    Output {
        /// The directory asked about.
        dir: PathBuf,
        /// What was wrong with it.
        message: String,
    },
}

type Answer = Result<Arc<Project>, Arc<ProjectError>>;

/// A question: the directory and the `CARGO_*` variables added to the environment.
type Question = (PathBuf, Vec<(String, String)>);

/// One answer per question, for the life of the process.
static CACHE: Mutex<BTreeMap<Question, Answer>> = Mutex::new(BTreeMap::new());

/// The project cargo sees when started in `dir`, with `env` added to the process environment
/// (only its `CARGO_*` entries matter to cargo and are passed). Cached.
pub fn load(dir: &Path, env: &BTreeMap<String, String>) -> Answer {
    let key = (dir.to_path_buf(), cargo_env(env));
    if let Some(answer) = lock_cache().get(&key) {
        return answer.clone();
    }
    // Not under the lock: two threads asking at once both run cargo, and agree.
    let answer = ask_cargo(&key.0, &key.1).map(Arc::new).map_err(Arc::new);
    lock_cache().insert(key, answer.clone());
    answer
}

fn lock_cache() -> std::sync::MutexGuard<'static, BTreeMap<Question, Answer>> {
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`load`] without the cache: cargo's answer now (after a manifest changed in this process).
pub fn load_uncached(dir: &Path, env: &BTreeMap<String, String>) -> Result<Project, ProjectError> {
    ask_cargo(dir, &cargo_env(env))
}

/// The entries of `env` cargo reads.
fn cargo_env(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    env.iter()
        .filter(|(key, _)| key.starts_with("CARGO_"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Runs `cargo metadata` in `dir` (uncached).
fn ask_cargo(dir: &Path, env: &[(String, String)]) -> Result<Project, ProjectError> {
    let mut command = cargo_metadata::MetadataCommand::new();
    command
        .current_dir(dir)
        .no_deps()
        .other_options(vec!["--offline".to_string()]);
    for (key, value) in env {
        command.env(key, value);
    }
    let metadata = command.exec().map_err(|err| match err {
        cargo_metadata::Error::CargoMetadata { stderr } => ProjectError::Cargo {
            dir: dir.to_path_buf(),
            stderr,
        },
        cargo_metadata::Error::Io(source) => ProjectError::Spawn {
            dir: dir.to_path_buf(),
            source,
        },
        other => ProjectError::Output {
            dir: dir.to_path_buf(),
            message: other.to_string(),
        },
    })?;
    let members = metadata
        .workspace_packages()
        .into_iter()
        .map(|package| Member {
            name: package.name.to_string(),
            manifest_path: package.manifest_path.clone().into_std_path_buf(),
            targets: package
                .targets
                .iter()
                .map(|target| Target {
                    name: target.name.clone(),
                    kinds: target.kind.iter().map(|kind| kind.to_string()).collect(),
                })
                .collect(),
        })
        .collect();
    Ok(Project {
        workspace_root: metadata.workspace_root.into_std_path_buf(),
        target_directory: metadata.target_directory.into_std_path_buf(),
        members,
    })
}

/// Projects on disk for the tests of cargo's view (here, `run::cargo_lock`, `init`).
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    /// Writes `text` to `path`, creating its directory.
    pub fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A library package `name` in `dir`.
    pub fn package(dir: &Path, name: &str) {
        write(
            &dir.join("Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        );
        write(&dir.join("src/lib.rs"), "");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{package, write};
    use super::*;

    /// cargo's target directory when nothing configures one: what the process environment says,
    /// or `target/` of the root.
    fn default_target(root: &Path) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => std::path::absolute(root.join(dir)).unwrap(),
            None => root.join("target"),
        }
    }

    #[test]
    fn a_workspace_with_members_and_their_targets() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n",
        );
        package(&root.join("crates/alpha"), "alpha");
        package(&root.join("crates/beta"), "beta");
        write(&root.join("crates/beta/src/main.rs"), "fn main() {}\n");
        write(&root.join("crates/beta/tests/it.rs"), "");
        let project = load(&root.join("crates/beta/src"), &BTreeMap::new()).unwrap();
        assert_eq!(project.workspace_root, root);
        assert_eq!(project.target_directory, default_target(&root));
        let names: Vec<&str> = project.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"]);
        let beta = &project.members[1];
        assert_eq!(beta.manifest_path, root.join("crates/beta/Cargo.toml"));
        assert!(beta.has("lib") && beta.has("bin") && beta.has("test"));
        assert!(!project.members[0].has("bin"));
    }

    #[test]
    fn a_directory_without_a_manifest_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path(), &BTreeMap::new()).unwrap_err();
        assert!(matches!(*err, ProjectError::Cargo { .. }), "{err:?}");
        assert!(err.to_string().contains("Cargo.toml"), "{err}");
    }

    #[test]
    fn answers_are_cached_per_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        package(&root, "cached");
        let first = load(&root, &BTreeMap::new()).unwrap();
        // cargo would now refuse the manifest: the cached answer is the first one.
        write(&root.join("Cargo.toml"), "not toml [");
        let second = load(&root, &BTreeMap::new()).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        // Another cargo environment is another question.
        let env = BTreeMap::from([("CARGO_TARGET_DIR".to_string(), "elsewhere".to_string())]);
        assert!(load(&root, &env).is_err());
    }
}
