//! Packaging checks (`cargo test -p xtask --bin xtask packaging`): the crates a user depends on
//! carry complete metadata, package in dependency order with real `cargo package`, and ship
//! their code, README and licenses — never a test, a fixture or a key.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crates users depend on or install, in dependency order; every other member is
/// `publish = false`.
const PUBLISHED: [&str; 4] = ["relgate-pg", "relgate-probes", "relgate", "cargo-gate"];

/// The most a packaged crate may weigh (compressed): the README lists the real sizes, and a
/// crate that doubles has picked up something it should not ship.
const MAX_CRATE_BYTES: u64 = 512 * 1024;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn cargo(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo {}: {}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn members() -> Vec<Value> {
    let output = cargo(&[
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--offline",
    ]);
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    metadata["packages"].as_array().expect("packages").clone()
}

/// Why a path in a package listing must not ship, if it must not.
fn forbidden(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let secret_like = [
        ".pem", ".key", ".p12", ".pfx", ".der", ".env", ".secret", ".token",
    ];
    if lower.starts_with("tests/") || lower.starts_with("benches/") {
        Some("a test")
    } else if lower.contains("fixture") || lower.contains("golden") || lower.contains("testdata") {
        Some("a fixture")
    } else if !name.ends_with(".rs")
        && (secret_like.iter().any(|ext| name.ends_with(ext))
            || name.starts_with("id_rsa")
            || name.starts_with("id_ed25519")
            || name.contains("secret"))
    {
        Some("a secret-looking file")
    } else {
        None
    }
}

/// Whether a path is one a crate of ours ships: its code, manifest, README and licenses, and
/// what cargo adds.
fn expected(path: &str) -> bool {
    matches!(
        path,
        "Cargo.toml" | "Cargo.toml.orig" | "Cargo.lock" | ".cargo_vcs_info.json" | "README.md"
    ) || path.starts_with("LICENSE-")
        || (path.starts_with("src/") && path.ends_with(".rs"))
}

#[test]
fn the_published_crates_are_exactly_these_and_the_rest_is_publish_false() {
    let members = members();
    let mut published: Vec<&str> = members
        .iter()
        .filter(|package| package["publish"] != Value::Array(Vec::new()))
        .map(|package| package["name"].as_str().unwrap())
        .collect();
    published.sort();
    let mut wanted = PUBLISHED.to_vec();
    wanted.sort();
    assert_eq!(published, wanted, "set `publish = false` on the others");
}

#[test]
fn every_published_crate_has_complete_metadata() {
    let members = members();
    for name in PUBLISHED {
        let package = members
            .iter()
            .find(|package| package["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"));
        for field in [
            "description",
            "license",
            "repository",
            "homepage",
            "readme",
            "rust_version",
        ] {
            let value = package[field].as_str().unwrap_or_default();
            assert!(!value.is_empty(), "{name}: `{field}` is missing");
        }
        for field in ["keywords", "categories"] {
            let values = package[field].as_array().map(Vec::len).unwrap_or_default();
            assert!(
                (1..=5).contains(&values),
                "{name}: `{field}` needs 1 to 5 entries"
            );
        }
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let readme = manifest
            .parent()
            .unwrap()
            .join(package["readme"].as_str().unwrap());
        assert!(readme.is_file(), "{name}: {} is missing", readme.display());
        // Path dependencies on each other need a version, or the package cannot be published.
        for dependency in package["dependencies"].as_array().unwrap() {
            if dependency["path"].is_string() && dependency["kind"].is_null() {
                assert_ne!(
                    dependency["req"], "*",
                    "{name}: the path dependency {} has no version",
                    dependency["name"]
                );
            }
        }
    }
}

#[test]
fn the_packages_ship_code_readme_and_licenses_only() {
    for name in PUBLISHED {
        let output = cargo(&[
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            name,
        ]);
        let listing = String::from_utf8(output.stdout).expect("UTF-8 listing");
        let files: Vec<&str> = listing.lines().collect();
        assert!(files.contains(&"README.md"), "{name}: {files:?}");
        assert!(files.contains(&"LICENSE-MIT") && files.contains(&"LICENSE-APACHE"));
        assert!(files.iter().any(|file| file.starts_with("src/")), "{name}");
        for file in &files {
            if let Some(why) = forbidden(file) {
                panic!("{name} would ship {file}: {why}");
            }
            assert!(
                expected(file),
                "{name} would ship {file}: not code, README or license"
            );
        }
    }
}

#[test]
fn the_crates_package_in_dependency_order_within_their_size_budget() {
    let target = tempfile::tempdir().expect("temp target dir");
    let target_dir = target.path().to_str().expect("UTF-8 temp path");
    let mut args = vec![
        "package",
        "--no-verify",
        "--allow-dirty",
        "--offline",
        "--target-dir",
        target_dir,
    ];
    for name in PUBLISHED {
        args.extend(["-p", name]);
    }
    let output = cargo(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let order: Vec<usize> = PUBLISHED
        .iter()
        .map(|name| {
            stderr
                .find(&format!("Packaging {name} v"))
                .unwrap_or_else(|| panic!("{name} was not packaged:\n{stderr}"))
        })
        .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "not in dependency order:\n{stderr}"
    );
    let version = env!("CARGO_PKG_VERSION");
    for name in PUBLISHED {
        let path = target
            .path()
            .join(format!("package/{name}-{version}.crate"));
        let bytes = std::fs::metadata(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            .len();
        eprintln!("{name}: {bytes} bytes");
        assert!(bytes <= MAX_CRATE_BYTES, "{name}.crate is {bytes} bytes");
    }
}

#[test]
fn the_path_filters_catch_tests_fixtures_and_keys() {
    for path in [
        "tests/it/main.rs",
        "src/fixtures/a.toml",
        "src/keys/issuer.pem",
        "src/id_ed25519",
        "webhook-secret.txt",
        ".env",
    ] {
        assert!(forbidden(path).is_some(), "{path}");
    }
    for path in [
        "src/lib.rs",
        "src/secrets_probe.rs",
        "README.md",
        "LICENSE-MIT",
        "Cargo.toml",
    ] {
        assert!(forbidden(path).is_none() && expected(path), "{path}");
    }
    assert!(!expected("src/report/html/page.css"));
}
