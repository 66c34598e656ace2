//! The compiled secret rules: [`RuleSet`] compiles the table (`table.rs`) once, with the
//! keyword pre-filter (`keywords.rs`), and finds the matches that pass the checks of
//! `accept.rs`, for the scanner ([`RuleSet::scan`]) and for redaction
//! ([`RuleSet::redact_spans`]).
//!
//! Patterns run over bytes with Unicode off (ASCII `\s`, `\w`, case folding), which keeps the
//! automata small and lets non-UTF-8 files be scanned too.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::{Captures, Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::accept::{
    assignment_is_secret, contains, database_password_is_secret, looks_like_placeholder,
    shannon_entropy,
};
use super::error::{RuleError, ScanError};
use super::keywords::Keywords;
use super::table::{scan_rule_ids, Check, Redact, DEFAULT_GENERIC_ENTROPY, SPECS};
use crate::mask::MASK;

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

static RULES: LazyLock<Result<RuleSet, RuleError>> = LazyLock::new(RuleSet::compile);

/// The compiled rules, or why they do not compile.
pub(crate) fn ruleset() -> Result<&'static RuleSet, RuleError> {
    RULES.as_ref().map_err(Clone::clone)
}

/// Text with every match of the built-in secret rules replaced by [`crate::mask::MASK`].
pub(crate) fn redact_matches(text: &str) -> Cow<'_, str> {
    match ruleset() {
        Ok(rules) => rules.redact(text),
        // The rules are constants checked by unit tests; should they ever fail to compile,
        // the `controls` case says so and known secrets are still masked by the redactor.
        Err(_) => Cow::Borrowed(text),
    }
}

/// Byte ranges of every match of the built-in secret rules in `text` (see
/// the redactor's `Redactor::spans`).
pub(crate) fn match_spans(text: &[u8]) -> Vec<(usize, usize)> {
    match ruleset() {
        Ok(rules) => rules.redact_spans(text),
        Err(_) => Vec::new(),
    }
}

/// Whether some built-in rule could match in `text` (see [`RuleSet::any_keyword`]);
/// `true` when the rules cannot be loaded, so nothing is waved through.
pub(crate) fn may_match(text: &[u8]) -> bool {
    ruleset().map_or(true, |rules| rules.any_keyword(text))
}

impl RuleSet {
    fn compile() -> Result<RuleSet, RuleError> {
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
                        .map_err(|source| RuleError::Pattern {
                            rule: spec.id,
                            source,
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(pattern) = patterns
                .iter()
                .find(|pattern| !pattern.capture_names().any(|name| name == Some("secret")))
            {
                return Err(RuleError::NoSecretGroup {
                    rule: spec.id,
                    pattern: pattern.to_string(),
                });
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
            .map_err(RuleError::Prefilter)?;
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
    ) -> Result<Selection, ScanError> {
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
                    return Err(ScanError::UnknownRule {
                        id: id.clone(),
                        known: scan_rule_ids().join(", "),
                    });
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
        crate::mask::mask_str(text, &self.redact_spans(text.as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::super::canary::{canary, clean_sample, Random};
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
        let err = err.to_string();
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
