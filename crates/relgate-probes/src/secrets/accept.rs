//! The checks a rule match must pass beyond its regex: entropy, placeholders (`changeme`,
//! `${VAR}`, `xxxx`, `<token>`, `…EXAMPLE`), key names that only point at a secret, and real
//! database passwords.

/// Shannon entropy of `value` in bits per byte (0 for a repeated byte, at most 8).
pub(crate) fn shannon_entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &byte in value {
        counts[usize::from(byte)] += 1;
    }
    let total = value.len() as f64;
    counts
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = count as f64 / total;
            -p * p.log2()
        })
        .sum()
}

/// Template syntax and stock words that mark an example value rather than a secret.
pub(super) fn looks_like_placeholder(value: &[u8]) -> bool {
    const MARKERS: &[&str] = &[
        "${",
        "{{",
        "%(",
        "$(",
        "<",
        ">",
        "***",
        "...",
        "\u{2026}",
        "[redacted]",
    ];
    // Words are only looked for in short values: a long random secret (a key body) contains
    // some four-letter word by chance often enough to matter.
    const WORDS: &[&str] = &[
        "example",
        "changeme",
        "change_me",
        "change-me",
        "placeholder",
        "dummy",
        "sample",
        "your_",
        "your-",
        "yourtoken",
        "xxxx",
        "fake",
        "notreal",
        "not_real",
        "not-real",
        "redacted",
        "insert",
        "replace",
    ];
    let lower = value.to_ascii_lowercase();
    MARKERS
        .iter()
        .any(|marker| contains(&lower, marker.as_bytes()))
        || (lower.len() < 128 && WORDS.iter().any(|word| contains(&lower, word.as_bytes())))
}

/// Whether `key = value` (the generic rule) names a secret: the key is not a reference to one
/// (`token_url`, `password_file`, `secret_name`, `public_key`) and the value is not a plain
/// identifier (it mixes at least two of lower case, upper case and digits).
pub(super) fn assignment_is_secret(key: &[u8], value: &[u8]) -> bool {
    let key = key.to_ascii_lowercase();
    if contains(&key, b"public")
        || crate::mask::NOT_SECRET_SUFFIXES
            .iter()
            .any(|suffix| key.ends_with(suffix.as_bytes()))
    {
        return false;
    }
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    usize::from(lower) + usize::from(upper) + usize::from(digit) >= 2
}

/// Whether the password of a database URL is a real one: at least 8 bytes once
/// percent-decoded, not the user name, not a stock word (`password`, `postgres`…) and not a
/// metavariable (`PASSWORD`, `[PASSWORD]`).
pub(super) fn database_password_is_secret(user: &[u8], password: &[u8]) -> bool {
    const STOCK: &[&str] = &[
        "password", "passwd", "secret", "changeme", "postgres", "example", "username", "mysql",
        "mongodb", "rabbitmq",
    ];
    const MIN_PASSWORD_LEN: usize = 8;
    let decoded = percent_decoded(password);
    let word: Vec<u8> = decoded
        .iter()
        .filter(|byte| byte.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    let metavariable = decoded
        .iter()
        .all(|byte| byte.is_ascii_uppercase() || b"_[]{}".contains(byte));
    decoded.len() >= MIN_PASSWORD_LEN
        && password != user
        && !metavariable
        && !STOCK.iter().any(|stock| word == stock.as_bytes())
}

pub(super) fn percent_decoded(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut index = 0;
    while index < value.len() {
        let hex = value
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (value[index], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
