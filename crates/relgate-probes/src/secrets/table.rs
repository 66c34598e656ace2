//! The table of built-in secret rules: one stable id per kind of secret, its keywords, its
//! byte regex (with a named group `secret`: the part that is masked, fingerprinted and shown
//! by its first characters), whether the scanner reports it and how redaction uses it.
//! Compiled by `rules.rs`.
//!
//! **Invariant:** this file never holds a literal that one of its own rules would report.

/// The Shannon entropy (bits per byte) the `generic-secret` rule requires by default.
pub(crate) const DEFAULT_GENERIC_ENTROPY: f64 = 3.5;

/// Whether and how a rule is used to redact logs and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Redact {
    /// Every regex match is masked: in a log, a false positive costs nothing.
    Always,
    /// Only matches that pass the scanner's checks (entropy, placeholders) are masked.
    Checked,
}

/// Extra checks a rule applies to a match beyond length, entropy and placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    None,
    /// `key = "value"`: the key must not name a non-secret (`token_url`, `password_file`) and
    /// the value must mix character classes.
    Assignment,
    /// `scheme://user:password@host`: the password is not the user name nor a stock one.
    DatabaseUrl,
}

/// A rule as written in the table below.
pub(super) struct Spec {
    pub(super) id: &'static str,
    pub(super) description: &'static str,
    pub(super) patterns: &'static [&'static str],
    /// At least one must occur (ASCII case-insensitively) before the patterns run.
    pub(super) keywords: &'static [&'static str],
    /// Shortest secret reported.
    pub(super) min_len: usize,
    /// Lowest Shannon entropy (bits per byte) of a reported secret.
    pub(super) entropy: Option<f64>,
    /// Whether the scanner reports it (otherwise it only redacts).
    pub(super) scan: bool,
    pub(super) redact: Redact,
    pub(super) check: Check,
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
pub(super) const SPECS: &[Spec] = &[
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
