//! Scanner report parsers against real report shapes (`tests/fixtures/scans/`): severity
//! defaults, overrides, empty, huge, malformed and wrong-shape reports, scanner error objects,
//! redaction for storage, fingerprint stability.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use relgate::model::Severity::{self, P0, P1, P2};
use relgate::scan::{self, Finding, Format, Overrides, ScanError};

fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/scans")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn parse(format: Format, relative: &str) -> Vec<Finding> {
    parse_with(format, relative, &Overrides::none())
}

fn parse_with(format: Format, relative: &str, overrides: &Overrides) -> Vec<Finding> {
    scan::parse(format, &fixture(relative), overrides)
        .unwrap_or_else(|err| panic!("{relative}: {err}"))
}

/// `(id, severity, scanner_severity, location)` of every finding, in report order.
fn summary(findings: &[Finding]) -> Vec<(&str, Severity, &str, Option<&str>)> {
    findings
        .iter()
        .map(|finding| {
            (
                finding.id.as_str(),
                finding.severity,
                finding.scanner_severity.as_str(),
                finding.location.as_deref(),
            )
        })
        .collect()
}

fn overrides(pairs: &[(&str, Severity)]) -> Overrides {
    Overrides(
        pairs
            .iter()
            .map(|(key, severity)| (key.to_string(), *severity))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn malformed(format: Format, bytes: &[u8]) -> String {
    match scan::parse(format, bytes, &Overrides::none()) {
        Err(ScanError::Malformed(why)) => why,
        other => panic!("{}: expected Malformed, got {other:?}", format.name()),
    }
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

// ---------------------------------------------------------------- SARIF

#[test]
fn sarif_semgrep() {
    let findings = parse(Format::Sarif, "sarif/semgrep.sarif");
    assert_eq!(
        summary(&findings),
        [
            (
                "python.lang.security.audit.formatted-sql-query.formatted-sql-query",
                P0,
                "error",
                Some("app/db.py:14")
            ),
            (
                "python.flask.security.audit.render-template-string.render-template-string",
                P0,
                "security-severity 7.5",
                Some("app/views.py:31")
            ),
            (
                "python.flask.security.audit.debug-enabled.debug-enabled",
                P2,
                "note",
                Some("app/settings.py:3")
            ),
        ]
    );
    let first = &findings[0];
    assert_eq!(first.rule, first.id);
    assert_eq!(
        first.title,
        "Detected possible formatted SQL query. Use parameterized queries instead."
    );
    // semgrep's complete fingerprint is used verbatim.
    assert!(
        first.fingerprint.starts_with("0b6e4f0d2c7a9d1e"),
        "{}",
        first.fingerprint
    );
}

#[test]
fn sarif_codeql_rules_live_in_extensions() {
    let findings = parse(Format::Sarif, "sarif/codeql.sarif");
    // js/xss carries an inSource suppression (a `codeql[js/xss]` comment): skipped.
    assert_eq!(
        summary(&findings),
        [
            (
                "js/sql-injection",
                P0,
                "security-severity 8.8",
                Some("src/routes/users.js:42")
            ),
            (
                "js/missing-rate-limiting",
                P0,
                "security-severity 7.5",
                Some("src/app.js:17")
            ),
            (
                "js/log-injection",
                P1,
                "security-severity 6.1",
                Some("src/app.js:30")
            ),
            ("js/unused-local-variable", P2, "note", Some("src/app.js:5")),
        ]
    );
    assert_eq!(
        findings[0].title,
        "This query string depends on a [user-provided value](1)."
    );
    // Partial fingerprints are hashed, not copied.
    assert!(findings
        .iter()
        .all(|finding| is_sha256_hex(&finding.fingerprint)));
}

#[test]
fn sarif_codeql_fingerprint_survives_a_line_move() {
    let original = fixture("sarif/codeql.sarif");
    let moved = String::from_utf8(original.clone())
        .unwrap()
        .replace("\"startLine\" : 42", "\"startLine\" : 50");
    let before = scan::parse(Format::Sarif, &original, &Overrides::none()).unwrap();
    let after = scan::parse(Format::Sarif, moved.as_bytes(), &Overrides::none()).unwrap();
    assert_eq!(after[0].location.as_deref(), Some("src/routes/users.js:50"));
    assert_eq!(before[0].fingerprint, after[0].fingerprint);
}

#[test]
fn sarif_eslint_rule_index_and_suppression() {
    let findings = parse(Format::Sarif, "sarif/eslint.sarif");
    assert_eq!(
        summary(&findings),
        [
            (
                "no-eval",
                P0,
                "error",
                Some("file:///home/ci/work/web/src/server.js:27")
            ),
            (
                "security/detect-non-literal-fs-filename",
                P1,
                "warning",
                Some("file:///home/ci/work/web/src/files.js:12")
            ),
            (
                "no-unused-vars",
                P1,
                "warning",
                Some("file:///home/ci/work/web/src/files.js:3")
            ),
        ]
    );
    // No fingerprint in ESLint's SARIF: sha256 of format|id|location.
    assert!(findings
        .iter()
        .all(|finding| is_sha256_hex(&finding.fingerprint)));
    assert_ne!(findings[0].fingerprint, findings[1].fingerprint);
}

#[test]
fn sarif_gitleaks_defaults_to_warning_and_never_keeps_the_snippet() {
    let findings = parse(Format::Sarif, "sarif/gitleaks.sarif");
    // gitleaks' SARIF states no level: SARIF's default `warning` applies (P1). A gate that wants
    // P0 for leaks reads gitleaks' JSON format or overrides `warning`.
    assert_eq!(
        summary(&findings),
        [
            ("aws-access-token", P1, "warning", Some("deploy/dev.env:4")),
            ("generic-api-key", P1, "warning", Some("src/config.ts:9")),
        ]
    );
    let text = serde_json::to_string(&findings).unwrap();
    assert!(!text.contains("not-real"), "{text}");
    // Empty partial fingerprints (dir mode) fall back to format|id|location; two leaks in one
    // commit do not share a fingerprint.
    assert!(findings
        .iter()
        .all(|finding| is_sha256_hex(&finding.fingerprint)));
    let overridden = parse_with(
        Format::Sarif,
        "sarif/gitleaks.sarif",
        &overrides(&[("warning", P0)]),
    );
    assert!(overridden.iter().all(|finding| finding.severity == P0));
}

#[test]
fn sarif_redact_report_removes_snippets() {
    let stored = scan::redact_report(Format::Sarif, &fixture("sarif/gitleaks.sarif"));
    let text = String::from_utf8(stored).unwrap();
    assert!(!text.contains("not-real"), "{text}");
    assert!(text.contains("[REDACTED]"));
    // Still a SARIF log that parses to the same findings.
    let again = scan::parse(Format::Sarif, text.as_bytes(), &Overrides::none()).unwrap();
    assert_eq!(again, parse(Format::Sarif, "sarif/gitleaks.sarif"));
}

#[test]
fn sarif_empty_runs_and_results() {
    for log in [
        r#"{"version":"2.1.0","runs":[]}"#,
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep"}},"results":[]}]}"#,
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep"}}}]}"#,
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep"}},"results":null}]}"#,
    ] {
        let findings = scan::parse(Format::Sarif, log.as_bytes(), &Overrides::none()).unwrap();
        assert!(findings.is_empty(), "{log}");
    }
}

#[test]
fn sarif_all_runs_are_read() {
    let log = r#"{"version":"2.1.0","runs":[
        {"tool":{"driver":{"name":"a"}},"results":[{"ruleId":"a1","level":"error","message":{"text":"x"}}]},
        {"tool":{"driver":{"name":"b"}},"results":[{"ruleId":"b1","level":"note","message":{"text":"y"}}]}
    ]}"#;
    let findings = scan::parse(Format::Sarif, log.as_bytes(), &Overrides::none()).unwrap();
    assert_eq!(
        summary(&findings),
        [("a1", P0, "error", None), ("b1", P2, "note", None)]
    );
}

#[test]
fn sarif_huge_report_parses_quickly() {
    const COUNT: usize = 50_000;
    let mut log = String::with_capacity(COUNT * 400);
    log.push_str(
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"bulk","rules":[{"id":"r0","defaultConfiguration":{"level":"error"}},{"id":"r1","properties":{"security-severity":"5.5"}}]}},"results":["#,
    );
    for index in 0..COUNT {
        if index > 0 {
            log.push(',');
        }
        log.push_str(&format!(
            r#"{{"ruleId":"r{rule}","ruleIndex":{rule},"message":{{"text":"finding {index}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/file{file}.rs","uriBaseId":"%SRCROOT%"}},"region":{{"startLine":{line},"startColumn":1,"snippet":{{"text":"let x = {index};"}}}}}}}}],"partialFingerprints":{{"primaryLocationLineHash":"{index:016x}:1"}}}}"#,
            rule = index % 2,
            file = index % 97,
            line = index + 1,
        ));
    }
    log.push_str("]}]}");
    let started = Instant::now();
    let findings = scan::parse(Format::Sarif, log.as_bytes(), &Overrides::none()).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(findings.len(), COUNT);
    assert_eq!(findings[0].severity, P0);
    assert_eq!(findings[1].severity, P1);
    assert_eq!(findings[COUNT - 1].title, format!("finding {}", COUNT - 1));
    // Generous for a debug build on a loaded machine; a quadratic parser takes minutes.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn sarif_malformed_json_says_where() {
    let why = malformed(Format::Sarif, b"{\"version\":\"2.1.0\",\n\"runs\": [ {,] }");
    assert!(why.contains("line 2 column"), "{why}");
    assert!(why.contains("not valid JSON"), "{why}");
    let why = malformed(Format::Sarif, b"{\"version\":\"2.1.0\",\"runs\":[");
    assert!(why.contains("truncated"), "{why}");
    let why = malformed(Format::Sarif, b"");
    assert!(why.contains("line 1 column 0"), "{why}");
}

#[test]
fn sarif_wrong_shape_says_what_was_expected() {
    let why = malformed(Format::Sarif, &fixture("npm/v8-vulns.json"));
    assert!(why.contains("missing field"), "{why}");
    assert!(why.contains("SARIF 2.1.0"), "{why}");
    let why = malformed(Format::Sarif, &fixture("gitleaks/leaks.json"));
    assert!(why.contains("its top level is an array"), "{why}");
    let why = malformed(Format::Sarif, br#"{"version":"2.0.0","runs":[]}"#);
    assert!(why.contains("2.0.0"), "{why}");
    let why = malformed(
        Format::Sarif,
        br#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":[{"message":{"text":"no rule"}}]}]}"#,
    );
    assert!(why.contains("runs[0].results[0]"), "{why}");
}

// ---------------------------------------------------------------- npm audit

#[test]
fn npm_v8_one_finding_per_advisory_on_the_causing_package() {
    let findings = parse(Format::NpmAudit, "npm/v8-vulns.json");
    // mkdirp is vulnerable only through minimist: no finding of its own.
    assert_eq!(
        summary(&findings),
        [
            ("GHSA-35jh-r3h4-6jhm", P0, "high", Some("lodash@<4.17.21")),
            (
                "GHSA-29mw-wpgm-hmr9",
                P1,
                "moderate",
                Some("lodash@<4.17.21")
            ),
            (
                "GHSA-xvch-5gv4-984h",
                P0,
                "critical",
                Some("minimist@<0.2.4")
            ),
            (
                "GHSA-vh95-rmgr-6w4m",
                P1,
                "moderate",
                Some("minimist@<0.2.1")
            ),
        ]
    );
    assert_eq!(findings[0].rule, "lodash");
    assert_eq!(findings[0].title, "Command Injection in lodash");
}

#[test]
fn npm_v11_vulns() {
    let findings = parse(Format::NpmAudit, "npm/v11-vulns.json");
    assert_eq!(
        summary(&findings),
        [
            (
                "GHSA-8hc4-vh64-cxmj",
                P0,
                "high",
                Some("axios@>=1.3.2 <=1.7.3")
            ),
            ("GHSA-pxg6-pf52-xh8x", P2, "low", Some("cookie@<0.7.0")),
            (
                "GHSA-c2qf-rxjj-qqgw",
                P1,
                "moderate",
                Some("semver@>=7.0.0 <7.5.2")
            ),
        ]
    );
}

#[test]
fn npm_v6_advisories() {
    let findings = parse(Format::NpmAudit, "npm/v6-advisories.json");
    assert_eq!(
        summary(&findings),
        [(
            "npm-1179",
            P2,
            "low",
            Some("minimist@<0.2.1 || >=1.0.0 <1.2.3")
        )]
    );
    assert_eq!(findings[0].title, "Prototype Pollution");
}

#[test]
fn npm_no_vulnerabilities() {
    assert!(parse(Format::NpmAudit, "npm/v10-none.json").is_empty());
}

#[test]
fn npm_source_without_github_url() {
    let report = br#"{"auditReportVersion":2,"vulnerabilities":{"left-pad":{"name":"left-pad","severity":"info","via":[{"source":42,"name":"left-pad","title":"Deprecated","url":"https://example.test/42","severity":"info","range":"*"}],"range":"*"}}}"#;
    let findings = scan::parse(Format::NpmAudit, report, &Overrides::none()).unwrap();
    assert_eq!(
        summary(&findings),
        [("npm-42", P2, "info", Some("left-pad@*"))]
    );
}

#[test]
fn npm_405_is_unavailable() {
    // Recorded from npm 11.19.1 on this machine, where the bulk advisory endpoint answers 405.
    match scan::parse(
        Format::NpmAudit,
        &fixture("npm/error-405.json"),
        &Overrides::none(),
    ) {
        Err(ScanError::Unavailable(why)) => {
            assert!(why.contains("405"), "{why}");
            assert!(why.contains("Method Not Allowed"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // SCANNERS.md's form, with the status as a string.
    let report = br#"{"message":"405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk","statusCode":"405"}"#;
    assert!(matches!(
        scan::parse(Format::NpmAudit, report, &Overrides::none()),
        Err(ScanError::Unavailable(why)) if why.contains("405")
    ));
}

#[test]
fn npm_enolock_is_unavailable() {
    // Recorded from npm 11.19.1 in a directory without a lockfile.
    match scan::parse(
        Format::NpmAudit,
        &fixture("npm/enolock.json"),
        &Overrides::none(),
    ) {
        Err(ScanError::Unavailable(why)) => {
            assert!(why.contains("ENOLOCK"), "{why}");
            assert!(why.contains("requires an existing lockfile"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn npm_malformed_and_wrong_shape() {
    let why = malformed(Format::NpmAudit, b"npm ERR! code ENOLOCK\n");
    assert!(
        why.contains("not valid JSON") && why.contains("line 1 column"),
        "{why}"
    );
    let why = malformed(Format::NpmAudit, &fixture("sarif/semgrep.sarif"));
    assert!(
        why.contains("neither `vulnerabilities` nor `advisories`"),
        "{why}"
    );
    let why = malformed(Format::NpmAudit, &fixture("gitleaks/leaks.json"));
    assert!(why.contains("its top level is an array"), "{why}");
    let why = malformed(
        Format::NpmAudit,
        br#"{"auditReportVersion":2,"vulnerabilities":{"x":{"via":"not-a-list"}}}"#,
    );
    assert!(why.contains("line 1 column"), "{why}");
}

// ---------------------------------------------------------------- cargo audit

#[test]
fn cargo_audit_real_report() {
    // Made by cargo-audit 0.22.2 (see tests/fixtures/scans/cargo-audit/README.md).
    let findings = parse(Format::CargoAudit, "cargo-audit/vulns.json");
    assert_eq!(
        summary(&findings),
        [
            ("RUSTSEC-2021-0003", P0, "cvss 9.8", Some("smallvec@1.6.0")),
            ("RUSTSEC-2020-0071", P1, "cvss 6.2", Some("time@0.1.43")),
            (
                "RUSTSEC-2021-0139",
                P2,
                "unmaintained",
                Some("ansi_term@0.12.1")
            ),
            ("RUSTSEC-2024-0375", P2, "unmaintained", Some("atty@0.2.14")),
            ("RUSTSEC-2021-0145", P1, "unsound", Some("atty@0.2.14")),
            ("yanked:hex@0.4.1", P2, "yanked", Some("hex@0.4.1")),
        ]
    );
    let rules: Vec<&str> = findings
        .iter()
        .map(|finding| finding.rule.as_str())
        .collect();
    assert_eq!(
        rules,
        [
            "vulnerability",
            "vulnerability",
            "unmaintained",
            "unmaintained",
            "unsound",
            "yanked"
        ]
    );
    assert_eq!(
        findings[0].title,
        "Buffer overflow in SmallVec::insert_many"
    );
    assert_eq!(findings[5].title, "hex 0.4.1 is yanked");
}

#[test]
fn cargo_audit_clean() {
    assert!(parse(Format::CargoAudit, "cargo-audit/clean.json").is_empty());
}

#[test]
fn cargo_audit_tool_errors() {
    // What cargo-audit prints (on stderr, stdout stays empty) without a lockfile or database.
    for stderr in [
        "cargo-audit/no-lockfile.stderr.txt",
        "cargo-audit/db-missing.stderr.txt",
    ] {
        match scan::parse(Format::CargoAudit, &fixture(stderr), &Overrides::none()) {
            Err(ScanError::Unavailable(why)) => {
                assert!(why.starts_with("cargo audit: error:"), "{why}")
            }
            other => panic!("{stderr}: {other:?}"),
        }
    }
    let why = malformed(Format::CargoAudit, b"");
    assert!(why.contains("truncated"), "{why}");
}

#[test]
fn cargo_audit_malformed_and_wrong_shape() {
    let why = malformed(Format::CargoAudit, b"{\"vulnerabilities\": {\"list\": [}\n");
    assert!(why.contains("line 1 column"), "{why}");
    let why = malformed(Format::CargoAudit, &fixture("npm/v8-vulns.json"));
    assert!(
        why.contains("vulnerabilities.list") || why.contains("missing field"),
        "{why}"
    );
    let why = malformed(
        Format::CargoAudit,
        br#"{"vulnerabilities":{"list":[{"advisory":{"id":"RUSTSEC-1","title":"t","cvss":"CVSS:3.1/AV:Q"},"package":{"name":"p","version":"1"}}]},"warnings":{}}"#,
    );
    assert!(why.contains("RUSTSEC-1"), "{why}");
}

// ---------------------------------------------------------------- gitleaks

#[test]
fn gitleaks_every_leak_is_p0_and_secrets_stay_out() {
    let findings = parse(Format::Gitleaks, "gitleaks/leaks.json");
    assert_eq!(
        summary(&findings),
        [
            ("aws-access-token", P0, "leak", Some("deploy/dev.env:4")),
            ("generic-api-key", P0, "leak", Some("src/config.ts:9")),
            ("private-key", P0, "leak", Some("ops/old/deploy_key:1")),
        ]
    );
    assert_eq!(
        findings[1].fingerprint,
        "3f1d0c9a7be2e5d4c8a6f0b1e2d3c4b5a6978877:src/config.ts:generic-api-key:9"
    );
    assert!(findings[0]
        .title
        .starts_with("Identified a pattern that may indicate AWS"));
    let text = serde_json::to_string(&findings).unwrap();
    assert!(!text.contains("not-real"), "{text}");
}

#[test]
fn gitleaks_empty() {
    let findings = scan::parse(Format::Gitleaks, b"[]", &Overrides::none()).unwrap();
    assert!(findings.is_empty());
}

#[test]
fn gitleaks_malformed_and_wrong_shape() {
    let why = malformed(Format::Gitleaks, b"[\n {\"RuleID\": \"x\",\n");
    assert!(
        why.contains("line 3 column 0") && why.contains("truncated"),
        "{why}"
    );
    let why = malformed(Format::Gitleaks, &fixture("sarif/semgrep.sarif"));
    assert!(why.contains("its top level is an object"), "{why}");
    assert!(why.contains("array of leaks"), "{why}");
    let why = malformed(Format::Gitleaks, br#"[{"RuleID":"x"}]"#);
    assert!(why.contains("missing field `File`"), "{why}");
}

#[test]
fn gitleaks_redact_report_keeps_valid_json() {
    let stored = scan::redact_report(Format::Gitleaks, &fixture("gitleaks/leaks.json"));
    let text = String::from_utf8(stored).unwrap();
    assert!(!text.contains("not-real"), "{text}");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for leak in value.as_array().unwrap() {
        assert_eq!(leak["Secret"], "[REDACTED]");
        assert_eq!(leak["Match"], "[REDACTED]");
    }
    assert_eq!(value[0]["File"], "deploy/dev.env");
    // The stored report still yields the same findings.
    let again = scan::parse(Format::Gitleaks, text.as_bytes(), &Overrides::none()).unwrap();
    assert_eq!(again, parse(Format::Gitleaks, "gitleaks/leaks.json"));
    // Not JSON: returned as it is.
    assert_eq!(scan::redact_report(Format::Gitleaks, b"[{"), b"[{");
}

#[test]
fn redact_report_leaves_audits_intact() {
    for (format, relative) in [
        (Format::NpmAudit, "npm/v8-vulns.json"),
        (Format::CargoAudit, "cargo-audit/vulns.json"),
    ] {
        let stored = scan::redact_report(format, &fixture(relative));
        let original: serde_json::Value = serde_json::from_slice(&fixture(relative)).unwrap();
        let redacted: serde_json::Value = serde_json::from_slice(&stored).unwrap();
        assert_eq!(original, redacted, "{relative}");
    }
}

// ---------------------------------------------------------------- overrides

/// Override pairs, then the expected severity of each finding of `cargo-audit/vulns.json`.
type OverrideCase = (&'static [(&'static str, Severity)], [Severity; 6]);

#[test]
fn overrides_by_id_rule_and_scanner_severity() {
    let cases: [OverrideCase; 5] = [
        (&[], [P0, P1, P2, P2, P1, P2]),
        // By id, case-insensitive.
        (&[("rustsec-2021-0003", P2)], [P2, P1, P2, P2, P1, P2]),
        // By rule: every vulnerability.
        (&[("vulnerability", P0)], [P0, P0, P2, P2, P1, P2]),
        // By scanner severity: the warning kind.
        (&[("Unmaintained", P1)], [P0, P1, P1, P1, P1, P2]),
        // id beats rule beats scanner severity.
        (
            &[
                ("RUSTSEC-2020-0071", P2),
                ("vulnerability", P0),
                ("cvss 6.2", P1),
            ],
            [P0, P2, P2, P2, P1, P2],
        ),
    ];
    for (pairs, expected) in cases {
        let findings = parse_with(
            Format::CargoAudit,
            "cargo-audit/vulns.json",
            &overrides(pairs),
        );
        let severities: Vec<Severity> = findings.iter().map(|finding| finding.severity).collect();
        assert_eq!(severities, expected, "{pairs:?}");
    }
    // By scanner severity on npm words.
    let findings = parse_with(
        Format::NpmAudit,
        "npm/v8-vulns.json",
        &overrides(&[("moderate", P0)]),
    );
    assert!(findings.iter().all(|finding| finding.severity == P0));
    // By rule on SARIF.
    let findings = parse_with(
        Format::Sarif,
        "sarif/codeql.sarif",
        &overrides(&[("JS/UNUSED-LOCAL-VARIABLE", P1)]),
    );
    assert_eq!(findings[3].severity, P1);
}

// ---------------------------------------------------------------- defaults table

#[test]
fn severity_defaults_table() {
    fn sarif_level(level: &str) -> Severity {
        let log = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"t"}}}},"results":[{{"ruleId":"r","level":"{level}","message":{{"text":"m"}}}}]}}]}}"#
        );
        scan::parse(Format::Sarif, log.as_bytes(), &Overrides::none()).unwrap()[0].severity
    }
    fn sarif_score(score: &str) -> Severity {
        let log = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"t","rules":[{{"id":"r","properties":{{"security-severity":"{score}"}}}}]}}}},"results":[{{"ruleId":"r","level":"note","message":{{"text":"m"}}}}]}}]}}"#
        );
        scan::parse(Format::Sarif, log.as_bytes(), &Overrides::none()).unwrap()[0].severity
    }
    fn npm(word: &str) -> Severity {
        let report = format!(
            r#"{{"auditReportVersion":2,"vulnerabilities":{{"p":{{"name":"p","severity":"{word}","via":[{{"source":1,"title":"t","url":"https://github.com/advisories/GHSA-aaaa-bbbb-cccc","severity":"{word}","range":"<1"}}],"range":"<1"}}}}}}"#
        );
        scan::parse(Format::NpmAudit, report.as_bytes(), &Overrides::none()).unwrap()[0].severity
    }
    fn cargo(cvss: &str) -> Severity {
        let report = format!(
            r#"{{"vulnerabilities":{{"found":true,"count":1,"list":[{{"advisory":{{"id":"RUSTSEC-0000-0000","title":"t","cvss":{cvss}}},"package":{{"name":"p","version":"1.0.0"}}}}]}},"warnings":{{}}}}"#
        );
        scan::parse(Format::CargoAudit, report.as_bytes(), &Overrides::none()).unwrap()[0].severity
    }
    fn cargo_warning(kind: &str) -> Severity {
        let report = format!(
            r#"{{"vulnerabilities":{{"found":false,"count":0,"list":[]}},"warnings":{{"{kind}":[{{"kind":"{kind}","package":{{"name":"p","version":"1.0.0"}},"advisory":null,"versions":null}}]}}}}"#
        );
        scan::parse(Format::CargoAudit, report.as_bytes(), &Overrides::none()).unwrap()[0].severity
    }

    let table: Vec<(&str, Severity, Severity)> = vec![
        ("sarif error", sarif_level("error"), P0),
        ("sarif warning", sarif_level("warning"), P1),
        ("sarif note", sarif_level("note"), P2),
        ("sarif none", sarif_level("none"), P2),
        ("sarif security-severity 9.5", sarif_score("9.5"), P0),
        ("sarif security-severity 7.0", sarif_score("7.0"), P0),
        ("sarif security-severity 6.9", sarif_score("6.9"), P1),
        ("sarif security-severity 4.0", sarif_score("4.0"), P1),
        ("sarif security-severity 3.9", sarif_score("3.9"), P2),
        ("npm critical", npm("critical"), P0),
        ("npm high", npm("high"), P0),
        ("npm moderate", npm("moderate"), P1),
        ("npm low", npm("low"), P2),
        ("npm info", npm("info"), P2),
        (
            "cargo cvss 9.8",
            cargo(r#""CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H""#),
            P0,
        ),
        (
            "cargo cvss 7.5",
            cargo(r#""CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H""#),
            P0,
        ),
        (
            "cargo cvss 5.9",
            cargo(r#""CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N""#),
            P1,
        ),
        (
            "cargo cvss 1.6",
            cargo(r#""CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N""#),
            P2,
        ),
        ("cargo no cvss", cargo("null"), P1),
        ("cargo unsound", cargo_warning("unsound"), P1),
        ("cargo unmaintained", cargo_warning("unmaintained"), P2),
        ("cargo yanked", cargo_warning("yanked"), P2),
        ("cargo notice", cargo_warning("notice"), P2),
        ("cargo future kind", cargo_warning("something-new"), P2),
    ];
    let wrong: Vec<_> = table
        .iter()
        .filter(|(_, actual, expected)| actual != expected)
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

// ---------------------------------------------------------------- fingerprints

#[test]
fn fingerprints_are_stable_across_runs() {
    for (format, relative) in [
        (Format::Sarif, "sarif/semgrep.sarif"),
        (Format::Sarif, "sarif/codeql.sarif"),
        (Format::Sarif, "sarif/eslint.sarif"),
        (Format::Sarif, "sarif/gitleaks.sarif"),
        (Format::NpmAudit, "npm/v8-vulns.json"),
        (Format::NpmAudit, "npm/v11-vulns.json"),
        (Format::CargoAudit, "cargo-audit/vulns.json"),
        (Format::Gitleaks, "gitleaks/leaks.json"),
    ] {
        let first = parse(format, relative);
        let second = parse(format, relative);
        assert_eq!(first, second, "{relative}");
        let mut fingerprints: Vec<&str> = first
            .iter()
            .map(|finding| finding.fingerprint.as_str())
            .collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        assert_eq!(
            fingerprints.len(),
            first.len(),
            "{relative}: fingerprints collide"
        );
    }
    // The fallback is sha256("cargo-audit|RUSTSEC-2021-0003|smallvec@1.6.0"), pinned so that
    // acceptances recorded by fingerprint keep matching after a refactor.
    let findings = parse(Format::CargoAudit, "cargo-audit/vulns.json");
    assert_eq!(
        findings[0].fingerprint,
        "4fb3a5c3eea5132e182e954e843da04c65ee3df288789c216f0caf11412c8c0e"
    );
}

#[test]
fn findings_round_trip_through_serde() {
    let findings = parse(Format::CargoAudit, "cargo-audit/vulns.json");
    let json = serde_json::to_string(&findings).unwrap();
    let back: Vec<Finding> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, findings);
}
