//! The `audit-chain` anchor file: the head of the chain (table, id, hash) as TOML, read and
//! written atomically.

use std::path::Path;

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Anchor {
    pub(super) table: String,
    pub(super) id: String,
    pub(super) hash: String,
}

/// Why the `audit-chain` probe cannot use its anchor file: the run is an ERROR.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The file exists and cannot be read.
    #[error("cannot read anchor file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not an anchor.
    #[error("anchor file {path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: AnchorFormatError,
    },
    /// The anchor's directory cannot be created.
    #[error("cannot create {dir}: {source}")]
    CreateDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    /// The anchor cannot be written (or renamed into place).
    #[error("cannot write anchor file {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with an anchor file's text.
#[derive(Debug, thiserror::Error)]
pub enum AnchorFormatError {
    /// Not TOML at all.
    #[error("not TOML: {0}")]
    NotToml(#[source] toml::de::Error),
    /// A key is missing or not a string.
    #[error("missing string `{0}`")]
    MissingString(String),
}

pub(super) fn parse_anchor(text: &str) -> Result<Anchor, AnchorFormatError> {
    let table: toml::Table = text.parse().map_err(AnchorFormatError::NotToml)?;
    let get = |key: &str| {
        table
            .get(key)
            .and_then(|value| value.as_str())
            .map(str::to_string)
            .ok_or_else(|| AnchorFormatError::MissingString(key.to_string()))
    };
    Ok(Anchor {
        table: get("table")?,
        id: get("id")?,
        hash: get("hash")?,
    })
}

fn anchor_text(table: &str, id: &str, hash: &str) -> String {
    let mut out = toml::Table::new();
    out.insert("table".into(), toml::Value::String(table.to_string()));
    out.insert("id".into(), toml::Value::String(id.to_string()));
    out.insert("hash".into(), toml::Value::String(hash.to_string()));
    format!(
        "# relgate audit-chain anchor: the head of the chain at the last passing run.\n# Commit it with the release; the next run requires this row unchanged.\n{out}"
    )
}

/// Writes the anchor atomically: a temporary file in the same directory, synced, renamed.
pub(super) fn write_anchor(
    path: &Path,
    table: &str,
    id: &str,
    hash: &str,
) -> Result<(), AnchorError> {
    let shown = path.display();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| AnchorError::CreateDir {
            dir: parent.display().to_string(),
            source,
        })?;
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "anchor".to_string());
    let temporary = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(anchor_text(table, id, hash).as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        AnchorError::Write {
            path: shown.to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_files_round_trip_and_are_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/anchor.toml");
        write_anchor(&path, "public.audit_events", "42", "ab\"c").unwrap();
        let anchor = parse_anchor(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            anchor,
            Anchor {
                table: "public.audit_events".into(),
                id: "42".into(),
                hash: "ab\"c".into()
            }
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        assert!(parse_anchor("id = 1").is_err());
    }
}
