//! The built-in secret rules: one stable id per kind of secret, byte regexes compiled once, a
//! keyword pre-filter, and the checks that keep placeholders (`changeme`, `${VAR}`, `xxxx`,
//! `<token>`, `…EXAMPLE`) from being reported.
//!
//! Every pattern has a named group `secret`: the part that is masked, fingerprinted and shown
//! by its first characters. Patterns run over bytes with Unicode off (ASCII `\s`, `\w`, case
//! folding), which keeps the automata small and lets non-UTF-8 files be scanned too.
//!
//! **Invariant:** this file never holds a literal that one of its own rules would report; the
//! canaries are assembled at run time.

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use regex::bytes::{Captures, Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::keywords::Keywords;
use crate::redact::MASK;

/// The Shannon entropy (bits per byte) the `generic-secret` rule requires by default.
pub(crate) const DEFAULT_GENERIC_ENTROPY: f64 = 3.5;

/// Whether and how a rule is used to redact logs and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Redact {
    /// Every regex match is masked: in a log, a false positive costs nothing.
    Always,
    /// Only matches that pass the scanner's checks (entropy, placeholders) are masked.
    Checked,
}

/// Extra checks a rule applies to a match beyond length, entropy and placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    /// `key = "value"`: the key must not name a non-secret (`token_url`, `password_file`) and
    /// the value must mix character classes.
    Assignment,
    /// `scheme://user:password@host`: the password is not the user name nor a stock one.
    DatabaseUrl,
}

/// A rule as written in the table below.
struct Spec {
    id: &'static str,
    description: &'static str,
    patterns: &'static [&'static str],
    /// At least one must occur (ASCII case-insensitively) before the patterns run.
    keywords: &'static [&'static str],
    /// Shortest secret reported.
    min_len: usize,
    /// Lowest Shannon entropy (bits per byte) of a reported secret.
    entropy: Option<f64>,
    /// Whether the scanner reports it (otherwise it only redacts).
    scan: bool,
    redact: Redact,
    check: Check,
}

/// A line break inside a private key as logs and documents spell it: a real one (or other
/// white space), a JSON escape (`\n`), a doubly escaped one (`\\n`, JSON inside JSON) or an
/// XML/HTML character reference (`&#10;`, `&#xA;`, `&#13;`, `&#xD;`).
macro_rules! line_break {
    () => {
        r"(?:\\{1,2}[rn]|\s|&#1[03];|&#[xX]0?[aAdD];)"
    };
}

/// The key names of `key = "value"` assignments the generic rule looks at.
macro_rules! secret_key {
    () => {
        r"(?P<key>[0-9a-z_.\-]*(?:password|passwd|passphrase|pwd|secret|token|api[_.\-]?key|apikey|access[_.\-]?key|auth[_.\-]?key|private[_.\-]?key|credentials?)[0-9a-z_.\-]*)"
    };
}

/// The rules, most specific first: when two matches overlap, the earlier rule wins.
const SPECS: &[Spec] = &[
    Spec {
        id: "aws-access-key-id",
        description: "AWS access key id (AKIA… long-term, ASIA… temporary)",
        patterns: &[r"(?:^|[^A-Za-z])(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})(?:[^0-9A-Za-z]|$)"],
        keywords: &["akia", "asia"],
        min_len: 20,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "aws-secret-access-key",
        description: "AWS secret access key assigned to aws_secret_access_key (or a similar name)",
        patterns: &[
            r#"(?i)aws[_.\-]?secret[_.\-]?(?:access[_.\-]?)?key["']?[ \t]*(?::=|=>|[:=])[ \t]*["']?(?P<secret>[0-9a-z/+]{40})(?:[^0-9a-z/+=]|$)"#,
        ],
        keywords: &["aws"],
        min_len: 40,
        entropy: Some(3.5),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "gcp-service-account-key",
        description: "private key of a Google Cloud service-account JSON key file",
        patterns: &[
            r#""private_key"\s*:\s*"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----(?P<secret>(?:\\[rn]|[0-9A-Za-z+/=\s])+)-----END"#,
        ],
        keywords: &["service_account"],
        min_len: 40,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "gcp-api-key",
        description: "Google API key (AIza…)",
        patterns: &[
            r"(?:^|[^0-9A-Za-z_\-])(?P<secret>AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        ],
        keywords: &["aiza"],
        min_len: 39,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "azure-storage-key",
        description: "Azure storage account key (AccountKey= of a connection string, or an azure_storage_key assignment)",
        patterns: &[
            r#"(?i)(?:\baccountkey|azure[_.\-]?storage[_.\-]?(?:account[_.\-]?)?(?:access[_.\-]?)?key["']?)[ \t]*(?::=|=>|[:=])[ \t]*["']?(?P<secret>[0-9a-z+/]{86}==)"#,
        ],
        keywords: &["accountkey", "azure"],
        min_len: 88,
        entropy: Some(3.5),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "github-token",
        description: "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        patterns: &[
            r"(?:^|[^A-Za-z_])(?P<secret>gh[pousr]_[0-9A-Za-z]{36,}|github_pat_[0-9A-Za-z_]{82,})(?:[^0-9A-Za-z_]|$)",
        ],
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        min_len: 40,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "gitlab-token",
        description: "GitLab personal access token (glpat-…)",
        patterns: &[
            r"(?:^|[^A-Za-z_\-])(?P<secret>glpat-[0-9A-Za-z_\-]{20,}(?:\.[0-9A-Za-z_\-]+)*)",
        ],
        keywords: &["glpat-"],
        min_len: 26,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "slack-token",
        description: "Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-)",
        patterns: &[
            r"(?:^|[^A-Za-z_\-])(?P<secret>xox[abprs]-[0-9A-Za-z]{8,}(?:-[0-9A-Za-z]+)+)",
        ],
        keywords: &["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"],
        min_len: 24,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "slack-webhook",
        description: "Slack incoming webhook URL (hooks.slack.com/services/…)",
        patterns: &[
            r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[0-9A-Za-z_/+\-]{40,})",
        ],
        keywords: &["hooks.slack.com"],
        min_len: 40,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "stripe-secret-key",
        description: "Stripe live secret or restricted key (sk_live_, rk_live_)",
        patterns: &[r"(?:^|[^A-Za-z_])(?P<secret>(?:sk|rk)_live_[0-9A-Za-z]{20,})"],
        keywords: &["sk_live_", "rk_live_"],
        min_len: 28,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "private-key",
        description: "PEM or OpenSSH or PGP private key block (-----BEGIN … PRIVATE KEY-----)",
        // Header lines (Proc-Type:, DEK-Info:, Version:) are skipped; the secret is the base64
        // body (on the next lines, after JSON `\n` escapes, or right after the armour), up to
        // the END line or, in a truncated text, the last base64 run.
        patterns: &[
            concat!(
                r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----",
                line_break!(),
                r"*(?:[A-Za-z][0-9A-Za-z\-]*:[^\n\\&]*",
                line_break!(),
                r"+)*(?P<secret>[0-9A-Za-z+/=]{20,}(?:",
                line_break!(),
                r"+[0-9A-Za-z+/=]+)*)"
            ),
        ],
        keywords: &["private key"],
        min_len: 40,
        entropy: Some(3.0),
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "jwt",
        description: "JSON Web Token (eyJ….eyJ….signature)",
        patterns: &[
            r"(?:^|[^0-9A-Za-z_\-])(?P<secret>eyJ[0-9A-Za-z_\-]{8,}\.eyJ[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]*)",
        ],
        keywords: &["eyj"],
        min_len: 30,
        entropy: None,
        scan: true,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "database-url-password",
        description: "database URL with a password (postgres://user:password@host, mysql, mongodb, redis, amqp, sqlserver)",
        patterns: &[
            r#"(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|cockroachdb)://(?P<user>[^:/?#@\s"'<>`]*):(?P<secret>[^@/?#\s"'<>`]+)@[^\s/?#"'<>`@]"#,
        ],
        keywords: &[
            "postgres",
            "mysql",
            "mariadb",
            "mongodb",
            "redis",
            "amqp",
            "mssql",
            "sqlserver",
            "cockroachdb",
        ],
        min_len: 1,
        entropy: None,
        scan: true,
        redact: Redact::Always,
        check: Check::DatabaseUrl,
    },
    Spec {
        id: "url-password",
        description: "password in the userinfo of any URL (scheme://user:password@host; redaction only)",
        // A non-empty user, a password that is not all digits (`http://host:8080@…` is a port),
        // and a host right after the `@`. The user holds no `&`, `,` or `;`: in JSON quoted
        // as XML (`https://issuer.test&quot;,&quot;sub&quot;:&quot;u@org`) that is not a URL.
        patterns: &[
            r#"(?i)\b[a-z][a-z0-9+.\-]{1,30}://(?P<user>[^:/?#@\s"'<>`&,;]+):(?P<secret>[^@/?#\s"'<>`]*[^0-9@/?#\s"'<>`][^@/?#\s"'<>`]*)@[0-9a-z\[]"#,
        ],
        keywords: &["://"],
        min_len: 1,
        entropy: None,
        scan: false,
        redact: Redact::Always,
        check: Check::None,
    },
    Spec {
        id: "generic-secret",
        description: "high-entropy value assigned to a password, secret, token or API-key name",
        patterns: &[
            // Quoted: `password = "…"`, `"token": "…"`, `apiKey: '…'`, `secret := "…"`.
            concat!(
                r"(?i)",
                secret_key!(),
                r#"["']?[ \t]*(?::=|=>|[:=])[ \t]*["'](?P<secret>[^"'\s]+)["']"#
            ),
            // Bare, alone on its line: `.env` files, shell exports, YAML.
            concat!(
                r"(?im)^[ \t]*(?:export[ \t]+)?",
                secret_key!(),
                // Not `::` (a path, or a test name `PACKET-secrets::checklist::item-2`).
                r#"[ \t]*[:=][ \t]*(?P<secret>[^\s"'#,;()\[\]{}<>`$\\:][^\s"'#,;()\[\]{}<>`$\\]*)[ \t\r]*(?:#[^\n]*)?$"#
            ),
        ],
        keywords: &["pass", "pwd", "secret", "token", "key", "credential"],
        min_len: 10,
        entropy: Some(DEFAULT_GENERIC_ENTROPY),
        scan: true,
        redact: Redact::Checked,
        check: Check::Assignment,
    },
    Spec {
        id: "authorization-header",
        description: "credentials of an Authorization header (redaction only)",
        patterns: &[
            r#"(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:bearer|basic|token|digest|negotiate)[ \t]+(?P<secret>[^\s"',;]+)"#,
        ],
        keywords: &["authorization"],
        min_len: 6,
        entropy: None,
        scan: false,
        redact: Redact::Always,
        check: Check::None,
    },
];

/// The ids of the rules the scanner reports, in priority order.
pub(crate) fn scan_rule_ids() -> Vec<&'static str> {
    SPECS
        .iter()
        .filter(|spec| spec.scan)
        .map(|spec| spec.id)
        .collect()
}

/// One compiled rule.
pub(crate) struct Rule {
    pub(crate) id: &'static str,
    pub(crate) description: &'static str,
    patterns: Vec<Regex>,
    min_len: usize,
    entropy: Option<f64>,
    scan: bool,
    redact: Redact,
    check: Check,
}

/// All rules, compiled once, with their keyword pre-filter.
pub(crate) struct RuleSet {
    rules: Vec<Rule>,
    /// One pattern per rule: the alternation of its keywords.
    prefilter: RegexSet,
    /// Every keyword of every rule, for the yes/no question "could any rule match here": one
    /// SIMD pass over the bytes, much faster than the set (see [`Keywords`]). `None` when a
    /// rule has no keyword (then any text may match).
    any_keyword: Option<Keywords>,
}

/// One secret found in a text: which rule and where its `secret` group lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Index of the rule in [`RuleSet::rules`].
    pub(crate) rule: usize,
    /// Byte range of the secret.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// What the scanner reports: which rules are on and the generic rule's entropy threshold.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    enabled: Vec<bool>,
    generic_entropy: f64,
}

/// The keywords of every rule, as the table lists them.
#[cfg(test)]
pub(crate) fn all_keywords() -> Vec<&'static str> {
    SPECS
        .iter()
        .flat_map(|spec| spec.keywords.iter().copied())
        .collect()
}

static RULES: LazyLock<Result<RuleSet, String>> = LazyLock::new(RuleSet::compile);

/// The compiled rules, or why they do not compile.
pub(crate) fn ruleset() -> Result<&'static RuleSet, String> {
    RULES.as_ref().map_err(Clone::clone)
}

impl RuleSet {
    fn compile() -> Result<RuleSet, String> {
        let mut rules = Vec::new();
        let mut keyword_patterns = Vec::new();
        let mut all_keywords: Vec<&str> = Vec::new();
        let mut specs_have_keywords = true;
        for spec in SPECS {
            let patterns = spec
                .patterns
                .iter()
                .map(|pattern| {
                    RegexBuilder::new(pattern)
                        .unicode(false)
                        .build()
                        .map_err(|err| format!("rule {} does not compile: {err}", spec.id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(pattern) = patterns
                .iter()
                .find(|pattern| !pattern.capture_names().any(|name| name == Some("secret")))
            {
                return Err(format!(
                    "rule {} pattern `{pattern}` has no `secret` group",
                    spec.id
                ));
            }
            specs_have_keywords &= !spec.keywords.is_empty();
            all_keywords.extend(spec.keywords.iter().copied());
            let keywords: Vec<String> = spec.keywords.iter().map(|kw| regex::escape(kw)).collect();
            keyword_patterns.push(keywords.join("|"));
            rules.push(Rule {
                id: spec.id,
                description: spec.description,
                patterns,
                min_len: spec.min_len,
                entropy: spec.entropy,
                scan: spec.scan,
                redact: spec.redact,
                check: spec.check,
            });
        }
        let any_keyword = if specs_have_keywords {
            Some(Keywords::new(&all_keywords)?)
        } else {
            None
        };
        let prefilter = RegexSetBuilder::new(&keyword_patterns)
            .case_insensitive(true)
            .unicode(false)
            .build()
            .map_err(|err| format!("the rules' keyword filter does not compile: {err}"))?;
        Ok(RuleSet {
            rules,
            prefilter,
            any_keyword,
        })
    }

    /// All rules, scanning and redaction-only.
    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The scanning rules named by `ids` (all of them when `None`), with the generic rule's
    /// entropy threshold (the default when `None`).
    pub(crate) fn select(
        &self,
        ids: Option<&[String]>,
        entropy: Option<f64>,
    ) -> Result<Selection, String> {
        let mut enabled: Vec<bool> = self
            .rules
            .iter()
            .map(|rule| rule.scan && ids.is_none())
            .collect();
        for id in ids.unwrap_or_default() {
            match self
                .rules
                .iter()
                .position(|rule| rule.scan && rule.id == id)
            {
                Some(index) => enabled[index] = true,
                None => {
                    return Err(format!(
                        "unknown rule `{id}` (expected one of {})",
                        scan_rule_ids().join(", ")
                    ));
                }
            }
        }
        Ok(Selection {
            enabled,
            generic_entropy: entropy.unwrap_or(DEFAULT_GENERIC_ENTROPY),
        })
    }

    /// The secrets in `text` that the scanner reports: every check applied, overlapping matches
    /// resolved in favour of the more specific rule, sorted by position.
    pub(crate) fn scan(&self, text: &[u8], selection: &Selection) -> Vec<Hit> {
        let mut hits = self.hits(
            text,
            |index, rule| (selection.enabled[index] && rule.scan).then_some(true),
            selection.generic_entropy,
        );
        hits.sort_by_key(|hit| (hit.start, hit.rule));
        let mut resolved: Vec<Hit> = Vec::with_capacity(hits.len());
        for hit in hits {
            match resolved.last_mut() {
                Some(last) if hit.start < last.end => {
                    // Sorted by start, so `hit` cannot reach back before `last`; keep the
                    // rule listed first in the table.
                    if hit.rule < last.rule {
                        *last = hit;
                    }
                }
                _ => resolved.push(hit),
            }
        }
        resolved
    }

    /// Byte ranges of every secret the rules recognise in `text` (redaction: every match of an
    /// `Always` rule, the checked matches of the others), sorted by start, possibly
    /// overlapping. Linear in the text: one keyword pass, then only the rules whose keywords
    /// occur.
    pub(crate) fn redact_spans(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let mut spans: Vec<(usize, usize)> = self
            .hits(
                text,
                |_, rule| Some(rule.redact == Redact::Checked),
                DEFAULT_GENERIC_ENTROPY,
            )
            .into_iter()
            .map(|hit| (hit.start, hit.end))
            .collect();
        spans.sort_unstable();
        spans
    }

    /// `text` with every secret the rules recognise replaced by [`MASK`]; borrowed when there
    /// is none.
    pub(crate) fn redact<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        crate::redact::mask_str(text, &self.redact_spans(text.as_bytes()))
    }

    /// Whether `text` holds a keyword of some rule. Every rule match holds one of its rule's
    /// keywords (`hits` skips a rule whose filter does not match; a rule without keywords has
    /// an empty filter, which matches everywhere), so `false` means no rule matches in `text`
    /// nor in any part of it.
    pub(crate) fn any_keyword(&self, text: &[u8]) -> bool {
        let Some(keywords) = &self.any_keyword else {
            return true;
        };
        keywords.is_match(text)
    }

    /// Raw matches of the rules `wanted` selects; `wanted` returns `None` to skip a rule,
    /// `Some(true)` to apply the scanner's checks, `Some(false)` to accept any match.
    fn hits(
        &self,
        text: &[u8],
        wanted: impl Fn(usize, &Rule) -> Option<bool>,
        generic_entropy: f64,
    ) -> Vec<Hit> {
        let mut hits = Vec::new();
        let present = self.prefilter.matches(text);
        for (index, rule) in self.rules.iter().enumerate() {
            if !present.matched(index) {
                continue;
            }
            let Some(checked) = wanted(index, rule) else {
                continue;
            };
            for pattern in &rule.patterns {
                // Each search resumes right after the previous secret, not after the whole
                // match: the boundary a pattern consumes after one secret (`ghp_… ghp_…`) may
                // be the boundary the next one starts with.
                let mut at = 0;
                while let Some(captures) = pattern.captures_at(text, at) {
                    let whole = captures.get(0).expect("group 0 always matches");
                    let secret = captures.name("secret");
                    at = secret
                        .map_or(whole.end(), |secret| secret.end())
                        .max(whole.start() + 1);
                    let Some(secret) = secret else {
                        continue;
                    };
                    let value = secret.as_bytes();
                    if !contains(value, MASK.as_bytes())
                        && (!checked || rule.accepts(&captures, value, generic_entropy))
                    {
                        hits.push(Hit {
                            rule: index,
                            start: secret.start(),
                            end: secret.end(),
                        });
                    }
                    if at > text.len() {
                        break;
                    }
                }
            }
        }
        hits
    }
}

impl Rule {
    /// The scanner's checks beyond the pattern: entropy, placeholders, rule-specific.
    fn accepts(&self, captures: &Captures<'_>, value: &[u8], generic_entropy: f64) -> bool {
        let threshold = match self.check {
            Check::Assignment => Some(generic_entropy),
            _ => self.entropy,
        };
        if value.len() < self.min_len {
            return false;
        }
        if threshold.is_some_and(|threshold| shannon_entropy(value) < threshold) {
            return false;
        }
        if looks_like_placeholder(value) {
            return false;
        }
        match self.check {
            Check::None => true,
            Check::Assignment => {
                let key = captures
                    .name("key")
                    .map(|key| key.as_bytes())
                    .unwrap_or_default();
                assignment_is_secret(key, value)
            }
            Check::DatabaseUrl => {
                let user = captures
                    .name("user")
                    .map(|user| user.as_bytes())
                    .unwrap_or_default();
                database_password_is_secret(user, value)
            }
        }
    }
}

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
fn looks_like_placeholder(value: &[u8]) -> bool {
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
fn assignment_is_secret(key: &[u8], value: &[u8]) -> bool {
    let key = key.to_ascii_lowercase();
    if contains(&key, b"public")
        || crate::redact::NOT_SECRET_SUFFIXES
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
fn database_password_is_secret(user: &[u8], password: &[u8]) -> bool {
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

fn percent_decoded(value: &[u8]) -> Vec<u8> {
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// A text holding one planted secret for `rule`, and that secret: the positive control. Built
/// from pieces at run time so that no source file holds a secret.
pub(crate) fn canary(rule: &str) -> Option<(String, String)> {
    let mut random = Random::seeded(rule);
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let url_safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pem_body = |random: &mut Random, separator: &str| {
        (0..4)
            .map(|_| random.string(base64, 64))
            .collect::<Vec<_>>()
            .join(separator)
    };
    let (text, secret) = match rule {
        "aws-access-key-id" => {
            let secret = format!("{}{}", ["AK", "IA"].concat(), random.string(upper, 16));
            (format!("aws_access_key_id = {secret}\n"), secret)
        }
        "aws-secret-access-key" => {
            let secret = random.string(base64, 40);
            (format!("aws_secret_{}_key = {secret}\n", "access"), secret)
        }
        "gcp-service-account-key" => {
            let body = pem_body(&mut random, "\\n");
            let secret = format!("\\n{body}\\n");
            let text = format!(
                "{{\n  \"type\": \"{}\",\n  \"private_key\": \"-----BEGIN {} KEY-----{secret}-----END {} KEY-----\\n\"\n}}\n",
                ["service", "account"].join("_"),
                "PRIVATE",
                "PRIVATE"
            );
            (text, secret)
        }
        "gcp-api-key" => {
            let secret = format!("{}{}", ["AI", "za"].concat(), random.string(url_safe, 35));
            (format!("const key = '{secret}';\n"), secret)
        }
        "azure-storage-key" => {
            let secret = format!("{}==", random.string(base64, 86));
            let text = format!(
                "DefaultEndpointsProtocol=https;AccountName=canary;{}={secret};EndpointSuffix=core.windows.net\n",
                ["Account", "Key"].concat()
            );
            (text, secret)
        }
        "github-token" => {
            let secret = format!("{}{}", ["gh", "p_"].concat(), random.string(alnum, 36));
            (format!("GITHUB_TOKEN={secret}\n"), secret)
        }
        "gitlab-token" => {
            let secret = format!("{}{}", ["gl", "pat-"].concat(), random.string(alnum, 20));
            (
                format!("git remote set-url origin https://oauth2:{secret}@gitlab.invalid/x.git\n"),
                secret,
            )
        }
        "slack-token" => {
            let digits = "0123456789";
            let secret = format!(
                "{}-{}-{}-{}",
                ["xo", "xb"].concat(),
                random.string(digits, 12),
                random.string(digits, 12),
                random.string(alnum, 24)
            );
            (format!("slack: {secret}\n"), secret)
        }
        "slack-webhook" => {
            let secret = format!(
                "T{}/B{}/{}",
                random.string(upper, 10),
                random.string(upper, 10),
                random.string(alnum, 24)
            );
            (
                format!(
                    "curl -X POST https://{}/services/{secret}\n",
                    ["hooks", "slack", "com"].join(".")
                ),
                secret,
            )
        }
        "stripe-secret-key" => {
            let secret = format!("{}{}", ["sk", "_live_"].concat(), random.string(alnum, 32));
            (format!("Stripe.api_key = {secret}\n"), secret)
        }
        "private-key" => {
            let secret = pem_body(&mut random, "\n");
            let kind = ["RSA", "PRIVATE", "KEY"].join(" ");
            (
                format!("-----BEGIN {kind}-----\n{secret}\n-----END {kind}-----\n"),
                secret,
            )
        }
        "jwt" => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
            let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"relgate-canary","exp":4102444800}"#);
            let secret = format!("{header}.{claims}.{}", random.string(url_safe, 43));
            (format!("Authorization: {secret}\n"), secret)
        }
        "database-url-password" => {
            let secret = random.string(alnum, 20);
            (
                format!(
                    "DATABASE_URL={}://app:{secret}@db.internal:5432/app\n",
                    "postgres"
                ),
                secret,
            )
        }
        "url-password" => {
            let secret = format!("{}-{}", random.string(alnum, 8), random.string(alnum, 4));
            (
                format!("git clone https://ci:{secret}@git.internal/app.git\n"),
                secret,
            )
        }
        "generic-secret" => {
            let secret = random.string(alnum, 40);
            (format!("client_{} = \"{secret}\"\n", "secret"), secret)
        }
        "authorization-header" => {
            let secret = random.string(alnum, 32);
            (format!("Authorization: Bearer {secret}\n"), secret)
        }
        _ => return None,
    };
    Some((text, secret))
}

/// A text full of placeholders and near misses that no rule may report: the negative control.
pub(crate) fn clean_sample() -> String {
    [
        "password = \"changeme\"",
        "password = \"${DB_PASSWORD}\"",
        "api_key: \"<token>\"",
        "token = \"xxxxxxxxxxxxxxxxxxxxxxxx\"",
        "secret = \"your_secret_here_123\"",
        "client_secret = \"EXAMPLE-client-secret-0123456789abcdef\"",
        "token_url = \"https://auth.example.com/oauth2/token\"",
        "password_file = \"/run/secrets/db-password\"",
        "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
        "export API_TOKEN=$API_TOKEN",
        "let token = mint_token(&claims);",
        "rotate-secrets::checklist::keys-rotated-every-90-days",
        &format!("aws_access_key_id = {}IOSFODNN7EXAMPLE", "AKIA"),
        &format!("{}_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ghp"),
        &format!(
            "url = \"{}://user:password@localhost:5432/app\"",
            "postgres"
        ),
        &format!("url = \"{}://app:app@127.0.0.1/app\"", "postgres"),
        &format!("url = \"{}://app:${{PGPASSWORD}}@db/app\"", "postgres"),
        &format!(
            "-----BEGIN {} KEY-----\n...\n-----END {} KEY-----",
            "PRIVATE", "PRIVATE"
        ),
        &format!(
            "a file starting with -----BEGIN {} KEY----- is a key",
            "PRIVATE"
        ),
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "The token is refused with 401; the password is never logged.",
    ]
    .join("\n")
}

/// A small deterministic generator: canaries must be the same on every run, and random-looking
/// enough to pass the entropy checks (the keyword filter's tests draw their cases from it too).
pub(super) struct Random(u64);

impl Random {
    pub(super) fn seeded(seed: &str) -> Random {
        // FNV-1a of the rule id.
        let mut state: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in seed.bytes() {
            state = (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Random(state)
    }

    /// splitmix64.
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn string(&mut self, alphabet: &str, len: usize) -> String {
        let alphabet = alphabet.as_bytes();
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Selection {
        ruleset().unwrap().select(None, None).unwrap()
    }

    /// The ids of what the scanner reports in `text`.
    fn scan(text: &str) -> Vec<&'static str> {
        let rules = ruleset().unwrap();
        rules
            .scan(text.as_bytes(), &all())
            .into_iter()
            .map(|hit| rules.rules()[hit.rule].id)
            .collect()
    }

    fn redact(text: &str) -> String {
        ruleset().unwrap().redact(text).into_owned()
    }

    #[test]
    fn every_rule_compiles_has_a_canary_and_a_unique_id() {
        let rules = ruleset().unwrap();
        let mut ids: Vec<&str> = rules.rules().iter().map(|rule| rule.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rules.rules().len(), "rule ids are unique");
        for rule in rules.rules() {
            assert!(canary(rule.id).is_some(), "{} has a canary", rule.id);
        }
    }

    #[test]
    fn every_canary_is_found_by_its_own_rule_with_its_exact_secret() {
        let rules = ruleset().unwrap();
        for (index, rule) in rules
            .rules()
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.scan)
        {
            let (text, secret) = canary(rule.id).unwrap();
            let hits = rules.scan(text.as_bytes(), &all());
            assert_eq!(hits.len(), 1, "{}: {hits:?}", rule.id);
            assert_eq!(
                hits[0].rule,
                index,
                "{} found by {}",
                rule.id,
                rules.rules()[hits[0].rule].id
            );
            assert_eq!(&text[hits[0].start..hits[0].end], secret, "{}", rule.id);
        }
    }

    #[test]
    fn every_canary_is_redacted() {
        for rule in ruleset().unwrap().rules() {
            let (text, secret) = canary(rule.id).unwrap();
            let redacted = redact(&text);
            assert!(!redacted.contains(&secret), "{}: {redacted}", rule.id);
            assert!(redacted.contains(MASK), "{}: {redacted}", rule.id);
        }
    }

    #[test]
    fn the_clean_sample_raises_nothing() {
        assert_eq!(scan(&clean_sample()), Vec::<&str>::new());
    }

    #[test]
    fn placeholders_and_near_misses_are_not_reported() {
        for text in clean_sample().lines() {
            assert_eq!(scan(text), Vec::<&str>::new(), "{text}");
        }
        let short = format!("{}{}", ["gh", "p_"].concat(), "aB3dE5gH7jK9mN1pQ3");
        assert_eq!(
            scan(&short),
            Vec::<&str>::new(),
            "too short for a GitHub token"
        );
        assert_eq!(
            scan("password = \"hunter2\""),
            Vec::<&str>::new(),
            "too short and plain"
        );
        assert_eq!(
            scan("secret = \"config.client_secret_value\""),
            Vec::<&str>::new()
        );
        assert_eq!(
            scan("password: \"correct horse battery staple\""),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_specific_rule_wins_over_the_generic_one() {
        let token = format!(
            "{}{}",
            ["gh", "p_"].concat(),
            Random::seeded("x").string("abcdefXYZ0123456789", 36)
        );
        assert_eq!(scan(&format!("token = \"{token}\"")), vec!["github-token"]);
    }

    #[test]
    fn generic_assignments_are_found_in_quoted_and_env_forms() {
        let value =
            Random::seeded("y").string("ABCDEFGHJKLMNPQRSTabcdefghijkmnopqrst0123456789", 24);
        assert_eq!(
            scan(&format!("\"api_key\": \"{value}\"")),
            vec!["generic-secret"]
        );
        assert_eq!(
            scan(&format!("export DB_PASSWORD={value}\n")),
            vec!["generic-secret"]
        );
        assert_eq!(
            scan(&format!("password: {value}  # prod\n")),
            vec!["generic-secret"]
        );
        assert_eq!(
            scan(&format!("let x = \"{value}\";")),
            Vec::<&str>::new(),
            "no secret name"
        );
    }

    #[test]
    fn database_url_passwords_are_masked_with_the_rest_kept() {
        let url = format!(
            "{}://app:{}@db.internal:5432/app",
            "postgres", "s3cr3t-Pw-2"
        );
        assert_eq!(
            redact(&format!("connecting to {url}")),
            "connecting to postgres://app:[REDACTED]@db.internal:5432/app"
        );
        assert_eq!(scan(&url), vec!["database-url-password"]);
        let stock = format!("{}://app:app@localhost/app", "postgres");
        assert_eq!(scan(&stock), Vec::<&str>::new());
        assert!(
            redact(&stock).contains(MASK),
            "logs mask even stock passwords"
        );
    }

    #[test]
    fn distinctive_prefixes_glued_to_a_digit_are_masked_letters_are_not() {
        let tail = Random::seeded("glued").string("abcdefXYZ0123456789", 36);
        for prefix in [
            ["gh", "p_"].concat(),
            ["xo", "xb-123456789012-"].concat(),
            ["gl", "pat-"].concat(),
            ["sk", "_live_"].concat(),
        ] {
            let token = format!("{prefix}{tail}");
            assert_eq!(redact(&format!("1{token}")), format!("1{MASK}"), "{prefix}");
            assert_eq!(
                redact(&format!("x{token}")),
                format!("x{token}"),
                "{prefix}"
            );
        }
        let aws = format!("{}{}", ["AK", "IA"].concat(), "Q3EFR4EDT2SYWB3W");
        assert_eq!(redact(&format!("7{aws}")), format!("7{MASK}"));
        assert_eq!(redact(&format!("Z{aws}")), format!("Z{aws}"));
    }

    #[test]
    fn url_passwords_of_any_scheme_are_masked_ports_are_not() {
        let password = ["Hq8zVt3", "-Wn5k"].concat();
        assert_eq!(
            redact(&format!("https://user:{password}@git.example.com/x")),
            format!("https://user:{MASK}@git.example.com/x")
        );
        for clean in [
            "http://host:8080@example.com/",
            "ssh://git@github.com/org/repo",
            "https://:nouser@host/",
            "https://user:@host/",
            "see https://example.com:443/a@b",
            // JSON claims quoted as XML (a probe's log tail in junit.xml): no URL userinfo.
            "{&quot;iss&quot;:&quot;https://issuer.test&quot;,&quot;org_id&quot;:&quot;u@org-a&quot;}",
        ] {
            assert_eq!(redact(clean), clean);
        }
        assert_eq!(
            scan(&format!("https://user:{password}@git.example.com")),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn one_line_keys_with_escaped_or_entity_line_breaks_are_masked() {
        let (_, body) = canary("private-key").unwrap();
        let armour = |word: &str| format!("-----{word} {} KEY-----", "PRIVATE");
        for separator in ["\\n", "\\r\\n", "&#10;", "&#xA;", "&#x0a;", "&#13;&#10;"] {
            let text = format!(
                "\"{}{separator}{}{separator}{}\"",
                armour("BEGIN"),
                body.replace('\n', separator),
                armour("END")
            );
            let redacted = redact(&text);
            assert_eq!(
                redacted,
                format!(
                    "\"{}{separator}{MASK}{separator}{}\"",
                    armour("BEGIN"),
                    armour("END")
                ),
                "{separator}"
            );
        }
    }

    #[test]
    fn a_jwt_and_a_pem_block_in_a_log_are_masked() {
        let (jwt_text, jwt) = canary("jwt").unwrap();
        let (pem_text, body) = canary("private-key").unwrap();
        let log = format!("GET /v1/me\n{jwt_text}200 ok\nread key:\n{pem_text}done\n");
        let redacted = redact(&log);
        assert!(!redacted.contains(&jwt), "{redacted}");
        for line in body.lines() {
            assert!(!redacted.contains(line), "{redacted}");
        }
        assert!(
            // Split so that no source line holds a whole key marker (the gate greps for them).
            redacted.contains(concat!(
                "-----BEGIN RSA PRIVATE ",
                "KEY-----\n[REDACTED]\n-----END RSA PRIVATE ",
                "KEY-----"
            )),
            "{redacted}"
        );
        assert!(
            redacted.starts_with("GET /v1/me\nAuthorization: [REDACTED]\n200 ok"),
            "{redacted}"
        );
    }

    #[test]
    fn a_truncated_pem_block_is_masked_up_to_the_cut() {
        let (pem_text, body) = canary("private-key").unwrap();
        let cut = &pem_text[..pem_text.len() / 2];
        let redacted = redact(&format!("{{\"key\": \"{}…", cut.replace('\n', "\\n")));
        assert!(!redacted.contains(&body[..40]), "{redacted}");
    }

    #[test]
    fn clean_text_is_borrowed() {
        let text = "GET http://127.0.0.1:8080/v1/me -> 401 {\"error\":\"token expired\"}\nSELECT count(*) FROM notes";
        assert!(matches!(
            ruleset().unwrap().redact(text),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn redaction_keeps_multibyte_text_intact_and_is_idempotent() {
        let value = "Zx9Qr7Lm3Kp5Wt1Vb8Nc";
        let text = format!("é password = \"{value}\" — ok ✓");
        let once = redact(&text);
        assert_eq!(once, "é password = \"[REDACTED]\" — ok ✓");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn large_logs_redact_in_one_pass() {
        let (jwt_text, _) = canary("jwt").unwrap();
        let line = "token refused: status 401 for key id 42 and password policy\n";
        let mut log = line.repeat(50_000);
        log.push_str(&jwt_text);
        let started = std::time::Instant::now();
        let redacted = redact(&log);
        assert!(redacted.ends_with("Authorization: [REDACTED]\n"));
        // Generous: a quadratic pass over 3 MB would take minutes, a linear one milliseconds.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn entropy_is_in_bits_per_byte() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_rule_ids_are_refused_with_the_known_ones() {
        let err = ruleset()
            .unwrap()
            .select(Some(&["jwt".to_string(), "aws".to_string()]), None)
            .err()
            .unwrap();
        assert!(
            err.starts_with("unknown rule `aws` (expected one of aws-access-key-id, "),
            "{err}"
        );
        let authorization = ruleset()
            .unwrap()
            .select(Some(&["authorization-header".to_string()]), None);
        assert!(
            authorization.is_err(),
            "redaction-only rules cannot be scanned for"
        );
    }
}
