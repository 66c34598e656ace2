//! Reading the `webhook` probe's keys that take several shapes: accepted and refused
//! [`Statuses`] (`204`, `"2xx"` or a list), the control `body` (a string or a table) and extra
//! `headers`.

use crate::config::{Config, ConfigError, ConfigErrorKind};

use super::scheme::Scheme;

/// Statuses that count as accepted or as refused: `204`, `"2xx"`, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Statuses(Vec<StatusPattern>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusPattern {
    Exact(u16),
    /// `Class(4)` is `4xx`.
    Class(u16),
}

impl Statuses {
    pub(super) fn class(hundreds: u16) -> Statuses {
        Statuses(vec![StatusPattern::Class(hundreds)])
    }

    pub(super) fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|pattern| match pattern {
            StatusPattern::Exact(exact) => *exact == status,
            StatusPattern::Class(hundreds) => status / 100 == *hundreds,
        })
    }

    /// `2xx`, `200, 204`.
    pub(super) fn describe(&self) -> String {
        let shown: Vec<String> = self
            .0
            .iter()
            .map(|pattern| match pattern {
                StatusPattern::Exact(exact) => exact.to_string(),
                StatusPattern::Class(hundreds) => format!("{hundreds}xx"),
            })
            .collect();
        shown.join(", ")
    }
}

/// `204` or `2xx`.
pub(super) fn parse_status(text: &str) -> Option<StatusPattern> {
    let text = text.trim();
    let digits = text.as_bytes();
    match digits {
        [class @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
            Some(StatusPattern::Class(u16::from(class - b'0')))
        }
        [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9'] => text.parse().ok().map(StatusPattern::Exact),
        _ => None,
    }
}

/// The raw value of `key`, marked as read. `Config`'s getters are typed, and this probe takes
/// keys of several shapes (`accepted = 204` or `["2xx", 301]`, `body` as a string or a table).
pub(super) fn raw_value<'a>(config: &mut Config<'a>, key: &'static str) -> Option<&'a toml::Value> {
    // Any typed getter records the key as read whatever its type; its result is not needed.
    let _ = config.boolean(key);
    config
        .entries()
        .into_iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
}

pub(super) fn read_statuses(
    config: &mut Config<'_>,
    key: &'static str,
) -> Result<Option<Statuses>, ConfigError> {
    let Some(value) = raw_value(config, key) else {
        return Ok(None);
    };
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.is_empty() {
        return Err(config.error(
            key,
            ConfigErrorKind::InvalidValue,
            "give at least one status",
        ));
    }
    let mut patterns = Vec::new();
    for item in items {
        let pattern = match item {
            toml::Value::Integer(status) => u16::try_from(*status)
                .ok()
                .filter(|status| (100..=599).contains(status))
                .map(StatusPattern::Exact),
            toml::Value::String(text) => parse_status(text),
            _ => None,
        };
        match pattern {
            Some(pattern) => patterns.push(pattern),
            None => {
                return Err(config.error(
                    key,
                    ConfigErrorKind::InvalidValue,
                    format!(
                        "expected an HTTP status (204), a class (\"2xx\") or an array of them, found {item}"
                    ),
                ))
            }
        }
    }
    Ok(Some(Statuses(patterns)))
}

pub(super) fn read_body(config: &mut Config<'_>) -> Result<Option<String>, ConfigError> {
    match raw_value(config, "body") {
        None => Ok(None),
        Some(toml::Value::String(text)) => {
            // `${…}` references are interpolated at run time; the JSON is checked then.
            if !text.contains("${") {
                json_object(text).map_err(|why| {
                    config.error("body", ConfigErrorKind::InvalidValue, why.to_string())
                })?;
            }
            Ok(Some(text.clone()))
        }
        Some(toml::Value::Table(table)) => serde_json::to_string(table).map(Some).map_err(|err| {
            config.error(
                "body",
                ConfigErrorKind::InvalidValue,
                format!("cannot be written as JSON: {err}"),
            )
        }),
        Some(other) => Err(config.error(
            "body",
            ConfigErrorKind::InvalidValue,
            format!(
                "expected a JSON object as a string or a table, found {}",
                other.type_str()
            ),
        )),
    }
}

pub(super) fn read_headers(
    config: &mut Config<'_>,
    scheme: &Scheme,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers: Vec<(String, String)> = scheme
        .default_headers()
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let Some(mut table) = config.table("headers")? else {
        return Ok(headers);
    };
    for (name, value) in table.entries() {
        let toml::Value::String(text) = value else {
            return Err(table.error(
                &name,
                ConfigErrorKind::InvalidValue,
                format!("expected a string, found {}", value.type_str()),
            ));
        };
        let problem = if !is_header_name(&name) {
            Some(format!("`{name}` is not a valid HTTP header name"))
        } else if has_line_break(text) {
            Some("a header value cannot hold a line break".to_string())
        } else if scheme
            .managed_headers()
            .iter()
            .any(|managed| managed.eq_ignore_ascii_case(&name))
        {
            Some(format!(
                "`{name}` is set by the {} scheme for each delivery",
                scheme.name()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(table.error(&name, ConfigErrorKind::InvalidValue, problem));
        }
        headers.retain(|(known, _)| !known.eq_ignore_ascii_case(&name));
        headers.push((name, text.clone()));
    }
    Ok(headers)
}

/// Why a webhook body is not a JSON object.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// JSON, but not an object.
    #[error("must be a JSON object (`{{…}}`)")]
    NotAnObject,
    /// Not JSON.
    #[error("is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
}

/// The body as a JSON object, or why it is not one.
pub(super) fn json_object(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, BodyError> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(err) => Err(BodyError::NotJson(err)),
    }
}

/// RFC 9110 token characters.
pub(super) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn has_line_break(text: &str) -> bool {
    text.contains(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse() {
        assert_eq!(parse_status("2xx"), Some(StatusPattern::Class(2)));
        assert_eq!(parse_status("204"), Some(StatusPattern::Exact(204)));
        for bad in ["6xx", "0xx", "20", "2040", "abc", "xx"] {
            assert_eq!(parse_status(bad), None, "{bad}");
        }
    }
}
