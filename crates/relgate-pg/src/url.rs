//! PostgreSQL connection URLs: redaction, swapping the database, and database-name rules.
//!
//! Only as much of the URL is parsed as these operations need, following libpq's reading of
//! `postgres[ql]://[userinfo@]host[:port][,…]/dbname?params`: the authority ends at the first
//! `/` or `?`.

use crate::error::PgError;

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes); longer ones are truncated,
/// which would make the dropped database differ from the created one.
const MAX_NAME_LEN: usize = 63;

const SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// Replaces any password in a PostgreSQL connection string with `***`.
///
/// Handles the URL form (`postgres://user:secret@host/db`, and a `password=` query parameter)
/// and the key/value form (`host=h password=secret`). Anything else is returned unchanged.
pub fn redact_url(url: &str) -> String {
    // Any scheme, not just postgres: a mistyped URL must not leak through an error either.
    let Some((scheme, rest)) = split_any_scheme(url) else {
        return redact_key_value(url);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The last `@` ends the userinfo: an unencoded `@` in a password must not leak its tail.
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key == "password" => format!("{key}=***"),
                    _ => param.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

/// `server_url` with its database replaced by `database`; user, password, hosts, ports and
/// query parameters are kept, except a `dbname` parameter, which would override the path.
pub(crate) fn with_database(server_url: &str, database: &str) -> Result<String, PgError> {
    let Some((scheme, rest)) = split_scheme(server_url) else {
        return Err(PgError::InvalidUrl {
            url: redact_url(server_url),
            reason: "it does not start with postgres:// or postgresql://".to_owned(),
        });
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.is_empty() {
        return Err(PgError::InvalidUrl {
            url: redact_url(server_url),
            reason: "it names no host".to_owned(),
        });
    }
    let query: Vec<&str> = match tail.split_once('?') {
        Some((_, query)) => query
            .split('&')
            .filter(|param| !param.is_empty())
            .filter(|param| param.split_once('=').map_or(*param, |(key, _)| key) != "dbname")
            .collect(),
        None => Vec::new(),
    };
    let database = percent_encode(database);
    Ok(if query.is_empty() {
        format!("{scheme}{authority}/{database}")
    } else {
        format!("{scheme}{authority}/{database}?{}", query.join("&"))
    })
}

/// Checks that `name` is 1 to 63 ASCII letters, digits and underscores.
pub(crate) fn validate_database_name(name: &str) -> Result<(), PgError> {
    let reason = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.len() > MAX_NAME_LEN {
        format!(
            "it is {} bytes long, PostgreSQL keeps at most {MAX_NAME_LEN}",
            name.len()
        )
    } else if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        format!("it contains {bad:?}")
    } else {
        return Ok(());
    };
    Err(PgError::InvalidDatabaseName {
        name: name.to_owned(),
        reason,
    })
}

/// `name` as a quoted SQL identifier. Callers validate names first; quoting still doubles any
/// `"` so that no name can break out of the identifier.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn split_scheme(url: &str) -> Option<(&str, &str)> {
    SCHEMES.iter().find_map(|scheme| {
        let head = url.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| (head, &url[scheme.len()..]))
    })
}

/// `("scheme://", rest)` for any URL-like `scheme://`.
fn split_any_scheme(url: &str) -> Option<(&str, &str)> {
    let end = url.find("://")? + "://".len();
    let scheme = &url[..end - "://".len()];
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| url.split_at(end))
}

/// Redacts `password=value` in a key/value connection string (value bare or single-quoted).
fn redact_key_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = find_password_key(rest) {
        let (before, after_key) = rest.split_at(found.value_start);
        out.push_str(before);
        out.push_str("***");
        rest = &after_key[value_len(after_key)..];
    }
    out.push_str(rest);
    out
}

struct PasswordKey {
    value_start: usize,
}

/// The next `password = ` key (at the start or after whitespace) and where its value starts.
fn find_password_key(text: &str) -> Option<PasswordKey> {
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find("password") {
        let key_start = search_from + offset;
        let at_word_start = text[..key_start]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let after_key = &text[key_start + "password".len()..];
        let trimmed = after_key.trim_start();
        if at_word_start {
            if let Some(value) = trimmed.strip_prefix('=') {
                let value = value.trim_start();
                return Some(PasswordKey {
                    value_start: text.len() - value.len(),
                });
            }
        }
        search_from = key_start + "password".len();
    }
    None
}

/// The length of a key/value value: up to whitespace, or a single-quoted string with `\'`.
fn value_len(value: &str) -> usize {
    let Some(quoted) = value.strip_prefix('\'') else {
        return value.find(char::is_whitespace).unwrap_or(value.len());
    };
    let mut escaped = false;
    for (index, c) in quoted.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => return 1 + index + 1,
            _ => {}
        }
    }
    value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_redact(input: &str, expected: &str) {
        assert_eq!(redact_url(input), expected, "redact_url({input:?})");
    }

    #[test]
    fn redacts_url_password() {
        check_redact(
            "postgres://u:secret@h:5432/db",
            "postgres://u:***@h:5432/db",
        );
    }

    #[test]
    fn redacts_password_with_at_sign() {
        check_redact("postgres://u:se@cret@h/db", "postgres://u:***@h/db");
    }

    #[test]
    fn keeps_url_without_password() {
        check_redact("postgresql://u@h/db?x=1", "postgresql://u@h/db?x=1");
    }

    #[test]
    fn redacts_query_password() {
        check_redact(
            "postgres://h/db?user=u&password=secret&sslmode=disable",
            "postgres://h/db?user=u&password=***&sslmode=disable",
        );
    }

    #[test]
    fn redacts_key_value_password() {
        check_redact(
            "host=h password=secret user=u",
            "host=h password=*** user=u",
        );
        check_redact(
            "host=h password = 'se cr\\'et' user=u",
            "host=h password = *** user=u",
        );
        check_redact("password=secret", "password=***");
    }

    #[test]
    fn redacts_other_schemes() {
        check_redact("mysql://u:pw@h/db", "mysql://u:***@h/db");
    }

    #[test]
    fn leaves_other_keys_alone() {
        check_redact("host=h mypassword=x", "host=h mypassword=x");
    }

    fn check_with_database(server: &str, expected: &str) {
        assert_eq!(with_database(server, "run_1").unwrap(), expected);
    }

    #[test]
    fn swaps_the_database() {
        check_with_database("postgres://u:p@h:5/postgres", "postgres://u:p@h:5/run_1");
        check_with_database("postgres://u@h", "postgres://u@h/run_1");
        check_with_database(
            "postgres://h/?sslmode=disable",
            "postgres://h/run_1?sslmode=disable",
        );
        check_with_database(
            "postgresql://h1:1,h2:2/x?dbname=x&application_name=a",
            "postgresql://h1:1,h2:2/run_1?application_name=a",
        );
    }

    #[test]
    fn refuses_non_urls() {
        let error = with_database("host=h password=secret", "x").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("postgres://"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn database_names() {
        assert!(validate_database_name("run_42_abc").is_ok());
        assert!(validate_database_name(&"a".repeat(63)).is_ok());
        for bad in ["", "a-b", "a\"b", "ümlaut", &"a".repeat(64)] {
            assert!(validate_database_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
