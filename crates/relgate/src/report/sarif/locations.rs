//! Where a SARIF result points: the gate file's line of a check, a finding's `path:line`, a
//! package in a lockfile; URIs relative to the repository root.

use std::path::Path;

use serde_json::{json, Value};

use super::{nonempty, Builder, Place, SRCROOT};
use crate::scan::lockfile::{self, normalize, relative_dir};
use crate::scan::Format;
use crate::spec::{Check, CheckKind};

impl Builder<'_> {
    /// The gate file's name relative to the gate root.
    pub(super) fn gate_file(&self) -> String {
        self.gate.source.file_name().map_or_else(
            || "packets.toml".to_string(),
            |name| name.to_string_lossy().into_owned(),
        )
    }

    pub(super) fn gate_place(&self, line: usize) -> Place {
        Place {
            path: format!("{}{}", self.tree.prefix, self.gate_file()),
            line: line.max(1),
            package: None,
        }
    }

    /// A finding's place: its file and line, or its package in a lockfile, or its scan check.
    pub(super) fn finding_place(
        &self,
        check: Option<&Check>,
        format: Option<Format>,
        location: Option<&str>,
    ) -> Place {
        let fallback = self.gate_place(check.map_or(1, |check| check.line));
        let (Some(check), Some(location)) = (check, location) else {
            return fallback;
        };
        match format {
            Some(format @ (Format::CargoAudit | Format::NpmAudit)) => {
                let (name, found) = lockfile::locate_package(
                    self.gate,
                    check,
                    format,
                    &self.tree.lockfiles,
                    location,
                );
                let package = Some((name.to_string(), location.to_string()));
                if let Some((path, line)) = found {
                    return Place {
                        path: format!("{}{path}", self.tree.prefix),
                        line,
                        package,
                    };
                }
                Place {
                    package,
                    ..fallback
                }
            }
            Some(Format::Sarif | Format::Gitleaks) => {
                let (path, line) = match location.rsplit_once(':') {
                    Some((path, line))
                        if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        (path, line.parse::<usize>().unwrap_or(1))
                    }
                    _ => (location, 1),
                };
                match self.repository_path(check, path) {
                    Some(path) => Place {
                        path,
                        line: line.max(1),
                        package: None,
                    },
                    None => fallback,
                }
            }
            None => fallback,
        }
    }

    /// A scanner's path (relative to the scan's `cwd`, absolute, or a `file:` URI) relative to
    /// the repository root; `None` when it is outside the gate root.
    pub(super) fn repository_path(&self, check: &Check, path: &str) -> Option<String> {
        let CheckKind::Scan(scan) = &check.kind else {
            return None;
        };
        let path = match path.strip_prefix("file://") {
            Some(rest) => percent_decode(rest.trim_start_matches("localhost")),
            None => path.to_string(),
        };
        let relative = if path.starts_with('/') {
            let inside = Path::new(&path).strip_prefix(&self.gate.root).ok()?;
            normalize(&inside.to_string_lossy())?
        } else {
            let cwd = relative_dir(self.gate, &scan.command.cwd)?;
            normalize(&format!("{cwd}{path}"))?
        };
        (!relative.is_empty()).then(|| format!("{}{relative}", self.tree.prefix))
    }
}

pub(super) fn location(place: &Place) -> Value {
    let mut value = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri_path(&place.path), "uriBaseId": SRCROOT },
            "region": { "startLine": place.line.max(1) },
        }
    });
    if let Some((name, qualified)) = &place.package {
        value["logicalLocations"] = json!([{
            "name": nonempty(name, qualified),
            "fullyQualifiedName": qualified,
            "kind": "package",
        }]);
    }
    value
}

/// A path as a URI reference: bytes outside the unreserved set and the sub-delimiters are
/// percent-encoded (`:` too, so that a first segment never reads as a scheme).
pub(crate) fn uri_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `%XX` escapes decoded (invalid ones kept as they are).
pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded() {
        assert_eq!(uri_path("docs/my file:1.md"), "docs/my%20file%3A1.md");
        assert_eq!(percent_decode("/tmp/my%20file%zz"), "/tmp/my file%zz");
    }
}
