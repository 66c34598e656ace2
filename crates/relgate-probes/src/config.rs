//! A probe's keys: typed access to the check's table that remembers what was read, so that
//! [`Config::finish`] can refuse every key no probe asked for.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What is wrong with a probe's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// A key the probe does not know; `known` lists the keys it does (for "did you mean").
    UnknownKey {
        /// Keys valid at that level.
        known: Vec<&'static str>,
    },
    /// A required key is absent.
    MissingKey,
    /// A key has the wrong type or an invalid value.
    InvalidValue,
    /// `probe = "…"` names no probe.
    UnknownProbe {
        /// The probe kinds there are.
        known: Vec<&'static str>,
    },
}

/// A configuration error: the dotted key relative to the check (`key.file`, `roles.admin`),
/// what is wrong, and the keys that were meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path relative to the check; empty for the probe as a whole.
    pub key: String,
    /// What kind of error.
    pub kind: ConfigErrorKind,
    /// One sentence.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where a key or secret comes from: `{ file = "path" }` (relative to the gate's root) or
/// `{ env = "NAME" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file, relative to the gate's root unless absolute.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

/// Why a secret (`key = { file = … }` or `{ env = … }`) cannot be read. Names the source,
/// never the content.
#[derive(Debug, thiserror::Error)]
pub enum SecretReadError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The environment variable is not set.
    #[error("environment variable {name} is not set")]
    EnvUnset { name: String },
}

impl SecretSource {
    /// Reads the secret. The error names the source, never the content.
    pub fn read(&self, root: &Path) -> Result<Vec<u8>, SecretReadError> {
        match self {
            SecretSource::File(path) => {
                let path = root.join(path);
                std::fs::read(&path).map_err(|source| SecretReadError::File {
                    path: path.display().to_string(),
                    source,
                })
            }
            SecretSource::Env(name) => std::env::var_os(name)
                .map(|value| value.into_encoded_bytes())
                .ok_or_else(|| SecretReadError::EnvUnset { name: name.clone() }),
        }
    }

    /// `file reference/keys/issuer.pem` or `env JWT_KEY`, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::File(path) => format!("file {}", path.display()),
            SecretSource::Env(name) => format!("env {name}"),
        }
    }
}

/// Typed, tracked access to one table of a probe's configuration.
pub struct Config<'a> {
    table: &'a toml::Table,
    prefix: String,
    read: BTreeSet<&'static str>,
    children: Vec<Config<'a>>,
}

impl<'a> Config<'a> {
    /// Access to `table` (the check's keys minus the engine's own).
    pub fn new(table: &'a toml::Table) -> Config<'a> {
        Config::nested(table, String::new())
    }

    fn nested(table: &'a toml::Table, prefix: String) -> Config<'a> {
        Config {
            table,
            prefix,
            read: BTreeSet::new(),
            children: Vec::new(),
        }
    }

    /// The dotted path of `key` relative to the check.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// An error about `key` of this table.
    pub fn error(
        &self,
        key: &str,
        kind: ConfigErrorKind,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            key: self.path(key),
            kind,
            message: message.into(),
        }
    }

    fn invalid(&self, key: &str, expected: &str, value: &toml::Value) -> ConfigError {
        self.error(
            key,
            ConfigErrorKind::InvalidValue,
            format!("expected {expected}, found {}", value.type_str()),
        )
    }

    fn get(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.read.insert(key);
        self.table.get(key)
    }

    /// Fails with a "missing key" error when `value` is `None`.
    pub fn require<T>(&self, key: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| {
            self.error(
                key,
                ConfigErrorKind::MissingKey,
                "missing key: this probe needs it",
            )
        })
    }

    /// A string.
    pub fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.invalid(key, "a string", other)),
        }
    }

    /// A required string.
    pub fn required_string(&mut self, key: &'static str) -> Result<String, ConfigError> {
        let value = self.string(key)?;
        self.require(key, value)
    }

    /// A string or an array of strings.
    pub fn strings(&mut self, key: &'static str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(vec![text.clone()])),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(text) => Ok(text.clone()),
                    other => Err(self.invalid(key, "an array of strings", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.invalid(key, "a string or an array of strings", other)),
        }
    }

    /// An integer within `range`.
    pub fn integer(
        &mut self,
        key: &'static str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(value)) if range.contains(value) => Ok(Some(*value)),
            Some(toml::Value::Integer(value)) => Err(self.error(
                key,
                ConfigErrorKind::InvalidValue,
                format!(
                    "{value} is out of range ({}..={})",
                    range.start(),
                    range.end()
                ),
            )),
            Some(other) => Err(self.invalid(key, "an integer", other)),
        }
    }

    /// An integer or an array of integers, each within `range` (HTTP statuses: `[401, 403]`).
    pub fn integers(
        &mut self,
        key: &'static str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<Vec<i64>>, ConfigError> {
        let items: Vec<&toml::Value> = match self.get(key) {
            None => return Ok(None),
            Some(toml::Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
        };
        items
            .into_iter()
            .map(|item| match item {
                toml::Value::Integer(value) if range.contains(value) => Ok(*value),
                toml::Value::Integer(value) => Err(self.error(
                    key,
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "{value} is out of range ({}..={})",
                        range.start(),
                        range.end()
                    ),
                )),
                other => Err(self.invalid(key, "an integer or an array of integers", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A number (integer or float).
    pub fn number(&mut self, key: &'static str) -> Result<Option<f64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(value)) => Ok(Some(*value as f64)),
            Some(toml::Value::Float(value)) => Ok(Some(*value)),
            Some(other) => Err(self.invalid(key, "a number", other)),
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(value)) => Ok(Some(*value)),
            Some(other) => Err(self.invalid(key, "true or false", other)),
        }
    }

    /// A duration such as `"5s"` or `"5m"`.
    pub fn duration(&mut self, key: &'static str) -> Result<Option<Duration>, ConfigError> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => crate::duration::parse_duration(&text)
                .map(Some)
                .map_err(|why| self.error(key, ConfigErrorKind::InvalidValue, why.to_string())),
        }
    }

    /// `{ file = "…" }` or `{ env = "…" }`.
    pub fn secret(&mut self, key: &'static str) -> Result<Option<SecretSource>, ConfigError> {
        let Some(mut table) = self.table(key)? else {
            return Ok(None);
        };
        let file = table.string("file")?;
        let env = table.string("env")?;
        table.finish_keys(&["file", "env"])?;
        match (file, env) {
            (Some(file), None) => Ok(Some(SecretSource::File(PathBuf::from(file)))),
            (None, Some(env)) => Ok(Some(SecretSource::Env(env))),
            _ => Err(self.error(
                key,
                ConfigErrorKind::InvalidValue,
                "give exactly one of `{ file = \"…\" }` or `{ env = \"…\" }`",
            )),
        }
    }

    /// A nested table, read through its own [`Config`] (finished together with this one).
    pub fn table(&mut self, key: &'static str) -> Result<Option<Config<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Table(table)) => Ok(Some(Config::nested(table, self.path(key)))),
            Some(other) => Err(self.invalid(key, "a table", other)),
        }
    }

    /// An array of tables (`[[packet.check.roles]]` or `roles = [{…}, {…}]`).
    pub fn tables(&mut self, key: &'static str) -> Result<Option<Vec<Config<'a>>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    toml::Value::Table(table) => Ok(Config::nested(
                        table,
                        format!("{}[{index}]", self.path(key)),
                    )),
                    other => Err(self.invalid(key, "an array of tables", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.invalid(key, "an array of tables", other)),
        }
    }

    /// The keys of this table, for maps with free-form keys (`roles = { admin = … }`). Every
    /// key is then considered read.
    pub fn entries(&mut self) -> Vec<(String, &'a toml::Value)> {
        self.table
            .iter()
            .map(|(key, value)| (key.clone(), value))
            .collect()
    }

    /// Declares a nested config finished by the caller; use after reading a nested table's keys
    /// to refuse keys nobody read, naming `known` as the valid ones.
    pub fn finish_keys(&self, known: &[&'static str]) -> Result<(), ConfigError> {
        for key in self.table.keys() {
            if !known.contains(&key.as_str()) {
                return Err(self.error(
                    key,
                    ConfigErrorKind::UnknownKey {
                        known: known.to_vec(),
                    },
                    format!("unknown key `{key}`"),
                ));
            }
        }
        Ok(())
    }

    /// Keeps a nested config so that [`Config::finish`] also checks it.
    pub fn adopt(&mut self, child: Config<'a>) {
        self.children.push(child);
    }

    /// Refuses every key of this table (and of adopted nested tables) that was never read.
    pub fn finish(self) -> Result<(), ConfigError> {
        let known: Vec<&'static str> = self.read.iter().copied().collect();
        self.finish_keys(&known)?;
        for child in self.children {
            child.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_errors_keep_their_text_and_their_source_chain() {
        let dir = tempfile::tempdir().unwrap();
        let err = SecretSource::File("missing.pem".into())
            .read(dir.path())
            .unwrap_err();
        let path = dir.path().join("missing.pem").display().to_string();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read {path}: ")),
            "{err}"
        );
        let wrapped = crate::ProbeError::new(crate::TokenError::ReadKey { source: err });
        assert!(
            wrapped.to_string().starts_with(&format!(
                "cannot read the signing key: cannot read {path}: "
            )),
            "{wrapped}"
        );
        // ProbeError is transparent: its source is the token error's, the unreadable secret,
        // whose source is the I/O error.
        let secret = std::error::Error::source(&wrapped).unwrap();
        assert!(secret.downcast_ref::<SecretReadError>().is_some());
        let io = secret.source().unwrap();
        assert_eq!(
            io.downcast_ref::<std::io::Error>().unwrap().kind(),
            std::io::ErrorKind::NotFound
        );
        assert!(wrapped
            .get_ref()
            .downcast_ref::<crate::TokenError>()
            .is_some());
    }

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn unread_keys_are_refused_with_the_known_ones() {
        let table = table("url = \"x\"\nisuer = \"y\"\n");
        let mut config = Config::new(&table);
        assert_eq!(config.string("url").unwrap().as_deref(), Some("x"));
        assert_eq!(config.string("issuer").unwrap(), None);
        let err = config.finish().unwrap_err();
        assert_eq!(err.key, "isuer");
        assert_eq!(
            err.kind,
            ConfigErrorKind::UnknownKey {
                known: vec!["issuer", "url"]
            }
        );
    }

    #[test]
    fn secrets_are_a_file_or_an_env_variable() {
        let table = table("a = { file = \"k.pem\" }\nb = { env = \"K\" }\nc = { file = \"x\", env = \"y\" }\nd = { fil = \"x\" }\n");
        let mut config = Config::new(&table);
        assert_eq!(
            config.secret("a").unwrap(),
            Some(SecretSource::File("k.pem".into()))
        );
        assert_eq!(
            config.secret("b").unwrap(),
            Some(SecretSource::Env("K".into()))
        );
        assert_eq!(config.secret("c").unwrap_err().key, "c");
        let err = config.secret("d").unwrap_err();
        assert_eq!(err.key, "d.fil");
        assert!(matches!(err.kind, ConfigErrorKind::UnknownKey { .. }));
    }

    #[test]
    fn types_and_missing_keys_name_the_dotted_path() {
        let table = table("n = \"3\"\n[t]\nx = 1\n");
        let mut config = Config::new(&table);
        let err = config.integer("n", 0..=10).unwrap_err();
        assert_eq!(err.to_string(), "`n`: expected an integer, found string");
        let mut nested = config.table("t").unwrap().unwrap();
        let err = nested.required_string("y").unwrap_err();
        assert_eq!(err.to_string(), "`t.y`: missing key: this probe needs it");
    }
}
