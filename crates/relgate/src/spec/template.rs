//! `${db.url}`, `${api.port}`, `${port}`: service addresses interpolated into commands and
//! environments. Only a dotted name (`${name.field}`, which no shell variable can be) and
//! `${port}` are references; `${HOME}`, `${X:-default}` and any other `$` are left alone for
//! the shell. `$${` writes a literal `${`.

use std::fmt;

/// What a service exposes to checks and to other services.
pub const SERVICE_FIELDS: &[&str] = &["url", "host", "port"];

/// One `${…}` in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `${name.field}`: another service's address.
    Service {
        /// The service.
        name: String,
        /// `url`, `host` or `port`.
        field: String,
    },
    /// `${port}`: the port the gate chose for the service being started.
    OwnPort,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Service { name, field } => write!(f, "${{{name}.{field}}}"),
            Reference::OwnPort => f.write_str("${port}"),
        }
    }
}

/// Why a text's references cannot be read; the message names the text or the reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `${` with no `}` after it.
    #[error("unclosed `${{` in `{text}`")]
    Unclosed {
        /// The whole text.
        text: String,
    },
    /// `${name.field}` with a field services do not have.
    #[error("`${{{reference}}}`: a service has no `{field}` (it has {})", SERVICE_FIELDS.join(", "))]
    UnknownField {
        /// The reference as written, trimmed (`db.user`).
        reference: String,
        /// The field (`user`).
        field: String,
    },
}

/// Every reference in `text`, in order, or what is malformed.
pub fn references(text: &str) -> Result<Vec<Reference>, TemplateError> {
    let mut found = Vec::new();
    walk(text, |piece| {
        if let Piece::Reference(inner) = piece {
            if let Some(reference) = parse_reference(inner) {
                found.push(reference?);
            }
        }
        Ok(())
    })?;
    Ok(found)
}

/// `text` with every reference replaced by `lookup(reference)`. Call only on text that
/// [`references`] accepted.
pub fn expand(text: &str, lookup: &dyn Fn(&Reference) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let result = walk(text, |piece| {
        match piece {
            Piece::Literal(literal) => out.push_str(literal),
            Piece::Reference(inner) => match parse_reference(inner) {
                Some(reference) => out.push_str(&lookup(&reference?)),
                None => {
                    out.push_str("${");
                    out.push_str(inner);
                    out.push('}');
                }
            },
        }
        Ok(())
    });
    debug_assert!(result.is_ok(), "expand on a text that failed validation");
    out
}

enum Piece<'a> {
    Literal(&'a str),
    Reference(&'a str),
}

fn walk<'a>(
    text: &'a str,
    mut visit: impl FnMut(Piece<'a>) -> Result<(), TemplateError>,
) -> Result<(), TemplateError> {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            visit(Piece::Literal(&rest[..at]))?;
            visit(Piece::Literal("${"))?;
            rest = escaped;
        } else if let Some(open) = after.strip_prefix('{') {
            visit(Piece::Literal(&rest[..at]))?;
            let close = open.find('}').ok_or_else(|| TemplateError::Unclosed {
                text: text.to_string(),
            })?;
            visit(Piece::Reference(&open[..close]))?;
            rest = &open[close + 1..];
        } else {
            visit(Piece::Literal(&rest[..=at]))?;
            rest = after;
        }
    }
    visit(Piece::Literal(rest))
}

/// `None` for what is not a reference (a shell parameter such as `${HOME:-x}`).
fn parse_reference(inner: &str) -> Option<Result<Reference, TemplateError>> {
    let trimmed = inner.trim();
    if trimmed == "port" {
        return Some(Ok(Reference::OwnPort));
    }
    let (name, field) = trimmed.split_once('.')?;
    let word = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !word(name) || !word(field) {
        return None;
    }
    Some(if SERVICE_FIELDS.contains(&field) {
        Ok(Reference::Service {
            name: name.to_string(),
            field: field.to_string(),
        })
    } else {
        Err(TemplateError::UnknownField {
            reference: trimmed.to_string(),
            field: field.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, field: &str) -> Reference {
        Reference::Service {
            name: name.to_string(),
            field: field.to_string(),
        }
    }

    #[test]
    fn finds_references_and_leaves_shell_variables_alone() {
        let text = r#"psql "${db.url}" -c "select $HOME, ${ api.port }" --port=${port} $"#;
        assert_eq!(
            references(text).unwrap(),
            [
                service("db", "url"),
                service("api", "port"),
                Reference::OwnPort
            ]
        );
    }

    #[test]
    fn expands_and_unescapes() {
        let lookup = |reference: &Reference| match reference {
            Reference::Service { name, field } => format!("<{name}:{field}>"),
            Reference::OwnPort => "5555".to_string(),
        };
        assert_eq!(
            expand("a ${db.url} b $${db.url} c $x ${port}", &lookup),
            "a <db:url> b ${db.url} c $x 5555"
        );
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        assert_eq!(
            references("x ${db.password}").unwrap_err().to_string(),
            "`${db.password}`: a service has no `password` (it has url, host, port)"
        );
        assert!(references("x ${db.url")
            .unwrap_err()
            .to_string()
            .starts_with("unclosed `${`"));
    }

    #[test]
    fn shell_parameters_are_not_references() {
        let text = "sleep ${HANG:-0}; echo ${HOME} ${#x}";
        assert_eq!(references(text).unwrap(), []);
        assert_eq!(expand(text, &|_| unreachable!()), text);
    }
}
