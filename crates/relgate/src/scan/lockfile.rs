//! Lockfile locations: where a package an audit scan names (`cargo-audit`, `npm-audit`) is
//! declared, as a 1-based line of the `Cargo.lock` / `package-lock.json` of the scan's `cwd` or
//! of the gate root. The reports point findings there (report.sarif, CI annotations).
//!
//! [`read_lockfiles`] reads the files; [`locate_package`] and [`lockfile_line`] are pure.

use std::collections::BTreeMap;
use std::path::Path;

use super::Format;
use crate::spec::{Check, CheckKind, Gate};

/// Reads the lockfiles audit findings may point into: for each `cargo-audit` or `npm-audit`
/// scan, its lockfile in the scan's `cwd` and in the gate root ([`candidates`]), by path
/// relative to the gate root. Unreadable files are left out.
pub fn read_lockfiles(gate: &Gate) -> BTreeMap<String, String> {
    let mut lockfiles = BTreeMap::new();
    for check in gate.checks() {
        for path in candidates(gate, check) {
            if lockfiles.contains_key(&path) {
                continue;
            }
            let file = gate.root.join(&path);
            // A lockfile is text of a few MiB at most; anything bigger is not one.
            let small = std::fs::metadata(&file).is_ok_and(|meta| meta.len() <= 64 << 20);
            if let Some(text) = small.then(|| std::fs::read_to_string(&file).ok()).flatten() {
                lockfiles.insert(path, text);
            }
        }
    }
    lockfiles
}

/// A package an audit finding names (`location` is `name@version` or `name`), split for the
/// reports: its name, and where it is declared in `lockfiles` (as [`read_lockfiles`] returns
/// them) as a path relative to the gate root and a 1-based line, when found. A `Cargo.lock`
/// entry must have that version; npm's versions are ranges and are not compared.
pub fn locate_package<'l>(
    gate: &Gate,
    check: &Check,
    format: Format,
    lockfiles: &BTreeMap<String, String>,
    location: &'l str,
) -> (&'l str, Option<(String, usize)>) {
    let (name, version) = match location.rsplit_once('@') {
        Some((name, version)) if !name.is_empty() => (name, Some(version)),
        _ => (location, None),
    };
    let exact = if format == Format::CargoAudit {
        version
    } else {
        None
    };
    for path in candidates(gate, check) {
        let line = lockfiles
            .get(&path)
            .and_then(|contents| lockfile_line(&path, contents, name, exact));
        if let Some(line) = line {
            return (name, Some((path, line)));
        }
    }
    (name, None)
}

/// The 1-based line of `package` in a lockfile's text: the `name = "…"` line of its
/// `[[package]]` entry in a `Cargo.lock` (of that `version` when one is given, else the first),
/// or the `"node_modules/…"` key of its entry in a `package-lock.json` (top level first; npm's
/// version is a range, so `version` is not compared there).
pub fn lockfile_line(
    file_name: &str,
    contents: &str,
    package: &str,
    version: Option<&str>,
) -> Option<usize> {
    if file_name.ends_with("package-lock.json") {
        npm_lock_line(contents, package)
    } else {
        cargo_lock_line(contents, package, version)
    }
}

fn cargo_lock_line(contents: &str, package: &str, version: Option<&str>) -> Option<usize> {
    let value = |line: &str, key: &str| {
        let rest = line
            .trim()
            .strip_prefix(key)?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    };
    let mut first = None;
    let mut entry: Option<usize> = None;
    for (index, line) in contents.lines().enumerate() {
        if line.trim() == "[[package]]" {
            entry = None;
        } else if let Some(name) = value(line, "name") {
            entry = (name == package).then_some(index + 1);
            if entry.is_some() && version.is_none() {
                return entry;
            }
            first = first.or(entry);
        } else if let (Some(line_of_name), Some(found)) = (entry, value(line, "version")) {
            if Some(found.as_str()) == version {
                return Some(line_of_name);
            }
        }
    }
    first
}

fn npm_lock_line(contents: &str, package: &str) -> Option<usize> {
    let top = format!("\"node_modules/{package}\"");
    let nested = format!("/node_modules/{package}\"");
    // lockfileVersion 1 nests packages as `"name": {` under `dependencies`.
    let v1 = format!("\"{package}\": {{");
    let find = |wanted: &dyn Fn(&str) -> bool| {
        contents
            .lines()
            .position(|line| wanted(line.trim()))
            .map(|index| index + 1)
    };
    find(&|line| line.starts_with(&top))
        .or_else(|| find(&|line| line.starts_with('"') && line.contains(&nested)))
        .or_else(|| find(&|line| line.starts_with(&v1)))
}

/// The lockfiles an audit scan's findings may be in, relative to the gate root: the scan's
/// `cwd` first, then the gate root.
pub fn candidates(gate: &Gate, check: &Check) -> Vec<String> {
    let CheckKind::Scan(scan) = &check.kind else {
        return Vec::new();
    };
    let name = match scan.format {
        Format::CargoAudit => "Cargo.lock",
        Format::NpmAudit => "package-lock.json",
        Format::Sarif | Format::Gitleaks => return Vec::new(),
    };
    let mut candidates = Vec::new();
    if let Some(cwd) = relative_dir(gate, &scan.command.cwd) {
        candidates.push(format!("{cwd}{name}"));
    }
    if !candidates.iter().any(|candidate| candidate == name) {
        candidates.push(name.to_string());
    }
    candidates
}

/// A directory below the gate root as a `/`-terminated relative path (`""` for the root).
pub fn relative_dir(gate: &Gate, dir: &Path) -> Option<String> {
    let relative = dir.strip_prefix(&gate.root).ok()?;
    let text = relative.to_string_lossy().replace('\\', "/");
    let normal = normalize(&text)?;
    Some(if normal.is_empty() {
        normal
    } else {
        format!("{normal}/")
    })
}

/// A relative `/`-path without `.`, `..` and empty segments; `None` when it leaves its base.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lock_lines_name_the_package_of_that_version() {
        let lock = "version = 3\n\n[[package]]\nname = \"rsa\"\nversion = \"0.9.7\"\n\n[[package]]\nname = \"rsa\"\nversion = \"0.9.8\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        assert_eq!(
            lockfile_line("Cargo.lock", lock, "rsa", Some("0.9.8")),
            Some(8)
        );
        assert_eq!(lockfile_line("Cargo.lock", lock, "rsa", None), Some(4));
        assert_eq!(
            lockfile_line("Cargo.lock", lock, "rsa", Some("1.0.0")),
            Some(4)
        );
        assert_eq!(lockfile_line("Cargo.lock", lock, "paste", None), None);
    }

    #[test]
    fn package_lock_lines_prefer_the_top_level_entry() {
        let lock = "{\n  \"packages\": {\n    \"node_modules/a/node_modules/@scope/b\": {\n      \"version\": \"1.0.0\"\n    },\n    \"node_modules/@scope/b\": {\n      \"version\": \"2.0.0\"\n    }\n  }\n}\n";
        assert_eq!(
            lockfile_line("package-lock.json", lock, "@scope/b", None),
            Some(6)
        );
        assert_eq!(lockfile_line("package-lock.json", lock, "b", None), None);
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalize("./tree/../ci//deploy.yml").as_deref(),
            Some("ci/deploy.yml")
        );
        assert_eq!(normalize("../outside"), None);
    }
}
