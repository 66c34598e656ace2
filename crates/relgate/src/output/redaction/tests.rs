//! Redaction tables: input → expected output, each also fed in every split and in tiny chunks,
//! and redacted twice. Secrets are assembled at run time so this file holds none.

use std::path::Path;

use super::*;
use crate::spec::{redacted_gate, register_gate_secrets};

fn github_token() -> String {
    ["gh", "p_", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5b7"].concat()
}

fn slack_token() -> String {
    [
        "xo",
        "xb-",
        "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ]
    .concat()
}

fn pg_password() -> &'static str {
    "Pg5ecret-9xQ2wZ"
}

fn pg_url() -> String {
    format!(
        "postgres://app:{}{}",
        pg_password(),
        "@db.internal:5432/app"
    )
}

fn begin() -> String {
    ["-----BEGIN ", "PRIVATE KEY-----"].concat()
}

fn end() -> String {
    ["-----END ", "PRIVATE KEY-----"].concat()
}

const BODY: [&str; 3] = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
    "NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ",
];

fn whole(input: &[u8]) -> Vec<u8> {
    redact_bytes(input).into_owned()
}

/// What a [`LineRedactor`] writes when fed `pieces` one after the other.
fn feed<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut redactor = LineRedactor::new();
    let mut sink = |bytes: &[u8]| {
        out.extend_from_slice(bytes);
        Ok(())
    };
    for piece in pieces {
        redactor.push(piece, &mut sink).unwrap();
    }
    redactor.finish(&mut sink).unwrap();
    out
}

fn chunked(input: &[u8], size: usize) -> Vec<u8> {
    feed(input.chunks(size.max(1)))
}

fn split_at(input: &[u8], at: usize) -> Vec<u8> {
    feed([&input[..at], &input[at..]])
}

/// Asserts `input` redacts to `expected` whole, in every two-piece split, byte by byte and in
/// 7-byte chunks, and that redacting the result again changes nothing.
fn assert_table(name: &str, input: &str, expected: &str) {
    let input = input.as_bytes();
    let show = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(show(&whole(input)), expected, "{name}: whole");
    for at in 0..=input.len() {
        assert_eq!(
            show(&split_at(input, at)),
            expected,
            "{name}: split at {at}"
        );
    }
    for size in [1, 7] {
        assert_eq!(
            show(&chunked(input, size)),
            expected,
            "{name}: chunks of {size}"
        );
    }
    assert_eq!(
        show(&whole(expected.as_bytes())),
        expected,
        "{name}: not idempotent"
    );
    assert_eq!(
        redact(std::str::from_utf8(input).unwrap()),
        expected,
        "{name}: redact"
    );
}

#[test]
fn the_redaction_table() {
    let (begin, end) = (begin(), end());
    let [b0, b1, b2] = BODY;
    let cases: Vec<(&str, String, String)> = vec![
        (
            "clean text",
            "cargo test -p relgate\nok: 12 passed\n".into(),
            "cargo test -p relgate\nok: 12 passed\n".into(),
        ),
        (
            "github token in a command",
            format!("curl -H 'Authorisation-ish: {}' https://api\n", github_token()),
            "curl -H 'Authorisation-ish: [REDACTED]' https://api\n".into(),
        ),
        (
            "slack token",
            format!("SLACK={} notify\n", slack_token()),
            "SLACK=[REDACTED] notify\n".into(),
        ),
        (
            "postgres url password",
            format!("psql {} -c 'select 1'\n", pg_url()),
            "psql postgres://app:[REDACTED]@db.internal:5432/app -c 'select 1'\n".into(),
        ),
        (
            "one-line JSON-escaped PEM",
            format!("{{\"private_key\": \"{begin}\\n{b0}\\n{b1}\\n{end}\\n\"}}\n"),
            format!("{{\"private_key\": \"{begin}\\n[REDACTED]\\n{end}\\n\"}}\n"),
        ),
        (
            "body right after BEGIN on the same line",
            format!("key={begin}{b0}{b1}\nnext line\n"),
            format!("key={begin}[REDACTED]\nnext line\n"),
        ),
        (
            "body after BEGIN and a space, closed on the line",
            format!("{begin} {b0} {end} tail\n"),
            format!("{begin} [REDACTED] {end} tail\n"),
        ),
        (
            "multi-line PEM block",
            format!("{begin}\n{b0}\n{b1}\n{b2}\n{end}\nafter\n"),
            format!("{begin}\n[REDACTED]\n[REDACTED]\n[REDACTED]\n{end}\nafter\n"),
        ),
        (
            "indented PEM block with CRLF and a short last line",
            format!("  {begin}\r\n  {b0}\r\n  AB3+\r\n  {end}\r\n"),
            format!("  {begin}\r\n  [REDACTED]\r\n  [REDACTED]\r\n  {end}\r\n"),
        ),
        (
            "encrypted PEM with headers",
            format!("{}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D4E5F60718293A4B5C6D7E8F9\n\n{b0}\n{b1}\n{}\n",
                begin.replace("PRIVATE", "RSA PRIVATE"), end.replace("PRIVATE", "RSA PRIVATE")),
            format!("{}\n[REDACTED]\n[REDACTED]\n\n[REDACTED]\n[REDACTED]\n{}\n",
                begin.replace("PRIVATE", "RSA PRIVATE"), end.replace("PRIVATE", "RSA PRIVATE")),
        ),
        (
            "prose mentioning BEGIN without END keeps later lines",
            format!("hint: a key file starts with {begin}\nFAIL: cross-tenant read returned 200\nPASSED\n"),
            format!("hint: a key file starts with {begin}\nFAIL: cross-tenant read returned 200\nPASSED\n"),
        ),
        (
            "unclosed BEGIN masks the body only, then stops at prose",
            format!("{begin}\n{b0}\n{b1}\nFAIL: cross-tenant read returned 200\n{b2}\n"),
            format!("{begin}\n[REDACTED]\n[REDACTED]\nFAIL: cross-tenant read returned 200\n{b2}\n"),
        ),
        (
            "a second BEGIN on the line after an END",
            format!("{begin}\\n{b0}\\n{end} and {begin}{b1}\n"),
            format!("{begin}\\n[REDACTED]\\n{end} and {begin}[REDACTED]\n"),
        ),
        (
            "tokens in colour",
            format!("\x1b[1;31m{}\x1b[0m and \x1b[32m{}\x1b[m\n", github_token(), slack_token()),
            "\x1b[1;31m[REDACTED]\x1b[0m and \x1b[32m[REDACTED]\x1b[m\n".into(),
        ),
        (
            "no newline at the end",
            format!("token {}", github_token()),
            "token [REDACTED]".into(),
        ),
    ];
    for (name, input, expected) in &cases {
        assert_table(name, input, expected);
    }
}

fn aws_key_id() -> String {
    ["AK", "IA3EFR4EDT2SYWB3WK"].concat()
}

/// Tokens right after an escape, glued to a digit, or cut by a colour change; passwords in any
/// URL. Each case is also checked to stay JSON when it was JSON.
#[test]
fn the_redaction_table_of_escapes_and_glued_tokens() {
    let (gh, slack, aws) = (github_token(), slack_token(), aws_key_id());
    let svc = ["postgres://svc:", "Xk9wLq2-Rz7p", "@db/app"].concat();
    let cases: Vec<(&str, String, String)> = vec![
        (
            "token after a JSON \\n escape",
            format!("{{\"a\":\"x\\n{slack}\"}}\n"),
            "{\"a\":\"x\\n[REDACTED]\"}\n".into(),
        ),
        (
            "tokens after \\n and \\t escapes",
            format!("\"token follows:\\n{gh}\\t{aws}\"\n"),
            "\"token follows:\\n[REDACTED]\\t[REDACTED]\"\n".into(),
        ),
        (
            "database url after a \\n escape",
            format!("\"y\\n{svc}\"\n"),
            "\"y\\npostgres://svc:[REDACTED]@db/app\"\n".into(),
        ),
        (
            "tokens after \\r, \\\", \\u and a doubly escaped \\\\n",
            format!("\"a\\r{gh} b\\\"{aws}\\\" c\\u0020{slack} d\\\\n{gh}\"\n"),
            "\"a\\r[REDACTED] b\\\"[REDACTED]\\\" c\\u0020[REDACTED] d\\\\n[REDACTED]\"\n".into(),
        ),
        (
            "tokens after printed colour escapes",
            format!(
                "printf '\\033[31m{gh}\\033[0m' '\\e[1;31m{aws}\\e[0m' '\\x1b[31m{slack}\\x1b[0m'\n"
            ),
            "printf '\\033[31m[REDACTED]\\033[0m' '\\e[1;31m[REDACTED]\\e[0m' '\\x1b[31m[REDACTED]\\x1b[0m'\n".into(),
        ),
        (
            "tokens glued to a digit",
            format!("1{gh} 2{slack} 3{aws}\n"),
            "1[REDACTED] 2[REDACTED] 3[REDACTED]\n".into(),
        ),
        (
            "a backslash before a plain word stays",
            "C:\\Users\\build\\ghp_short and \\d+ and a\\\\b\n".into(),
            "C:\\Users\\build\\ghp_short and \\d+ and a\\\\b\n".into(),
        ),
        (
            "a token cut by a colour reset",
            format!("{}\x1b[0m{} done\n", &gh[..20], &gh[20..]),
            "[REDACTED] done\n".into(),
        ),
        (
            "a password in an https URL",
            format!("git clone https://user:{}@git.example.com/app.git\n", "Hq8zVt3-Wn5k"),
            "git clone https://user:[REDACTED]@git.example.com/app.git\n".into(),
        ),
        (
            "a port before an @ is no password",
            "GET http://host:8080@example.com/ and ssh://git@github.com/x\n".into(),
            "GET http://host:8080@example.com/ and ssh://git@github.com/x\n".into(),
        ),
    ];
    for (name, input, expected) in &cases {
        assert_table(name, input, expected);
        let line = input.trim_end();
        if serde_json::from_str::<serde_json::Value>(line).is_ok() {
            let redacted = redact(line);
            serde_json::from_str::<serde_json::Value>(&redacted)
                .unwrap_or_else(|err| panic!("{name}: {redacted}: {err}"));
        }
    }
}

/// Private keys in the shapes logs give them: each line behind a prefix (docker compose, CRI,
/// a quote), on one line with doubly escaped or XML-escaped line breaks.
#[test]
fn the_redaction_table_of_keys_in_log_shapes() {
    let (begin, end) = (begin(), end());
    let [b0, b1, b2] = BODY;
    let cases: Vec<(&str, String, String)> = vec![
        (
            "docker compose prefix",
            format!("app-1  | {begin}\napp-1  | {b0}\napp-1  | {b1}\napp-1  | {end}\napp-1  | listening\n"),
            format!("app-1  | {begin}\napp-1  | [REDACTED]\napp-1  | [REDACTED]\napp-1  | {end}\napp-1  | listening\n"),
        ),
        (
            "CRI prefix with timestamps of different lengths",
            format!("2026-12-04T12:00:00Z stderr F {begin}\n2026-12-04T12:00:00.5Z stderr F {b0}\n2026-12-04T12:00:00.25Z stderr P {b1}\n2026-12-04T12:00:01Z stderr F {end}\n"),
            format!("2026-12-04T12:00:00Z stderr F {begin}\n2026-12-04T12:00:00.5Z stderr F [REDACTED]\n2026-12-04T12:00:00.25Z stderr P [REDACTED]\n2026-12-04T12:00:01Z stderr F {end}\n"),
        ),
        (
            "quoted key",
            format!("> {begin}\n> {b0}\n> {b1}\n>\n> {b2}\n> {end}\n"),
            format!("> {begin}\n> [REDACTED]\n> [REDACTED]\n>\n> [REDACTED]\n> {end}\n"),
        ),
        (
            "prefixed block stops at prose",
            format!("app-1  | {begin}\napp-1  | {b0}\napp-1  | FAIL: read returned 200\napp-1  | {b1}\n"),
            format!("app-1  | {begin}\napp-1  | [REDACTED]\napp-1  | FAIL: read returned 200\napp-1  | {b1}\n"),
        ),
        (
            "prose after a BEGIN mentioned mid-sentence ends the block",
            format!("note: the file starts {begin}\nsee the docs here\nthe file is {b0}\n"),
            format!("note: the file starts {begin}\nsee the docs here\nthe file is {b0}\n"),
        ),
        (
            "doubly escaped one-line key",
            format!("{{\"log\":\"{{\\\"key\\\":\\\"{begin}\\\\n{b0}\\\\n{b1}\\\\n{end}\\\\n\\\"}}\"}}\n"),
            format!("{{\"log\":\"{{\\\"key\\\":\\\"{begin}\\\\n[REDACTED]\\\\n{end}\\\\n\\\"}}\"}}\n"),
        ),
        (
            "XML-escaped one-line key",
            format!("<key>{begin}&#10;{b0}&#10;{b1}&#10;{end}</key> <k>{begin}&#xA;{b2}&#xA;{end}</k>\n"),
            format!("<key>{begin}&#10;[REDACTED]&#10;{end}</key> <k>{begin}&#xA;[REDACTED]&#xA;{end}</k>\n"),
        ),
    ];
    for (name, input, expected) in &cases {
        assert_table(name, input, expected);
    }
}

#[test]
fn masking_keeps_json_valid() {
    let secret_line = format!(
        "{{\"argv\":[\"sh\",\"-c\",\"psql {} && echo \\\"{}\\\"\"],\"key\":\"{}\\n{}\\n{}\\n\"}}",
        pg_url(),
        github_token(),
        begin(),
        BODY[0],
        end()
    );
    let value: serde_json::Value = serde_json::from_str(&secret_line).expect("valid input");
    let redacted = redact(&secret_line);
    assert!(!redacted.contains(pg_password()), "{redacted}");
    assert!(!redacted.contains(&github_token()), "{redacted}");
    assert!(!redacted.contains(BODY[0]), "{redacted}");
    serde_json::from_str::<serde_json::Value>(&redacted).expect("still JSON");
    let mut walked = value;
    redact_json(&mut walked);
    assert!(!walked.to_string().contains(&github_token()));
    // A secret next to escapes: the mask never leaves half an escape behind.
    for text in [
        format!("{{\"a\":\"x\\\\{}\"}}", github_token()),
        "{\"a\":\"password=\\\"Zq8\\u0041xY7wVbN3\\\"\"}".to_string(),
    ] {
        let redacted = redact(&text);
        serde_json::from_str::<serde_json::Value>(&redacted)
            .unwrap_or_else(|err| panic!("{text} → {redacted}: {err}"));
    }
}

#[test]
fn masking_keeps_entities_whole() {
    let text = format!(
        "<p>postgres://app:ab&amp;cD3fGh9k{}</p>",
        "@db.internal/app"
    );
    let redacted = redact(&text);
    assert_eq!(redacted, "<p>postgres://app:[REDACTED]@db.internal/app</p>");
    let mut start = 9;
    let mut end = 12;
    widen_for_markup(b"<p>x &amp;secret</p>", &mut start, &mut end);
    assert_eq!((start, end), (5, 12));
}

#[test]
fn a_secret_across_the_flush_point_of_a_long_line_is_masked() {
    let token = github_token();
    let value = "Qw8eRt5yUi2oPa7sDf4gHj1k";
    let assignment = format!("client_secret = \"{value}\"");
    for (text, secret) in [
        (token.as_str(), token.as_str()),
        (assignment.as_str(), value),
    ] {
        // Place the secret across every cut the chunk sizes below produce.
        for offset in (0..text.len() + 2).step_by(3) {
            for chunk in [4096, 65_536, 100_000] {
                let cut = first_cut(chunk);
                let mut line = " ".repeat(cut - offset);
                line.push_str(text);
                line.push(' ');
                line.push_str(&"y".repeat(150_000));
                line.push('\n');
                let out = String::from_utf8(chunked(line.as_bytes(), chunk)).unwrap();
                assert!(
                    out == line.replace(secret, MASK),
                    "secret at {} (offset {offset}) with chunks of {chunk}: leaked {}",
                    cut - offset,
                    out.contains(secret)
                );
            }
        }
    }
}

/// Where the first piece of a long line fed in `chunk`-byte chunks is cut.
fn first_cut(chunk: usize) -> usize {
    let mut fed = 0;
    while fed < lines::MAX_LINE {
        fed += chunk;
    }
    fed - 8 * 1024
}

#[test]
fn long_clean_lines_and_binary_pass_unchanged() {
    let mut text = b"line one\n\xff\xfe binary\n".to_vec();
    text.extend(std::iter::repeat_n(b'a', 300_000));
    text.extend_from_slice("é".repeat(40_000).as_bytes());
    text.extend(std::iter::repeat_n(0u8, 200_000));
    for size in [1000, 4096, 70_000] {
        assert_eq!(chunked(&text, size), text, "chunks of {size}");
    }
    assert!(matches!(redact_bytes(&text), Cow::Borrowed(_)));
}

#[test]
fn known_secrets_are_masked_in_every_form() {
    register_secret("kn0wn/Secret\"value-7731");
    assert_eq!(
        redact(
            "a kn0wn/Secret\"value-7731 b kn0wn%2FSecret%22value-7731 c kn0wn/Secret\\\"value-7731"
        ),
        "a [REDACTED] b [REDACTED] c [REDACTED]"
    );
}

#[test]
fn the_writer_redacts_terminal_lines() {
    let mut out = Vec::new();
    {
        let mut writer = Writer::new(&mut out);
        write!(writer, "reason: {}", &github_token()[..10]).unwrap();
        write!(writer, "{}\nverdict: NO_GO", &github_token()[10..]).unwrap();
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "reason: [REDACTED]\nverdict: NO_GO"
    );
}

#[test]
fn secret_looking_names() {
    for name in [
        "GITHUB_TOKEN",
        "SLACK_BOT_TOKEN",
        "DB_PASSWORD",
        "PGPASSWORD",
        "MYSQL_PASSWD",
        "CLIENT_SECRET",
        "AWS_SECRET_ACCESS_KEY",
        "API_KEY",
        "apiKey",
        "STRIPE_APIKEY",
        "SERVICE_CREDENTIALS",
        "BASIC_AUTH",
        "OAUTH",
        "gpg-passphrase",
        "signing.key",
        "DB_PASS",
        "MYSQL_PWD",
        "GH_PAT",
        "dbPass",
        "SMTP_PASS",
        "PAT",
    ] {
        assert!(is_secret_name(name), "{name} should be secret");
    }
    for name in [
        "KEYBOARD",
        "MONKEY_MODE",
        "AUTHOR",
        "TOKENIZER",
        "TOKEN_URL",
        "PASSWORD_FILE",
        "SECRET_NAME",
        "KEY_PATH",
        "RUST_LOG",
        "PWD",
        "PATH",
        "HOME",
        "DATABASE_URL",
        "AUTH_MODE",
        "TOKEN_TTL",
        "GITHUB_TOKEN_ENABLED",
        "OLDPWD",
        "BYPASS",
        "SPAM_BYPASS",
        "COMPASS",
        "PATCH",
        "GIT_PATCH",
        "LD_LIBRARY_PATH",
        "PATHEXT",
        "DB_PASS_FILE",
        "GH_PAT_TTL",
    ] {
        assert!(!is_secret_name(name), "{name} should not be secret");
    }
}

#[test]
fn a_line_of_tokens_is_masked_whatever_the_chunking() {
    let line = format!("{}\n", vec![github_token(); 6000].join(" "));
    let expected = format!("{}\n", vec![MASK; 6000].join(" "));
    for chunk in [1000, 4096, 65_536, 100_000] {
        let out = String::from_utf8(chunked(line.as_bytes(), chunk)).unwrap();
        assert!(
            out == expected,
            "chunks of {chunk}: {}",
            out.matches("ghp_").count()
        );
    }
}

#[test]
fn secret_env_values_are_registered_and_reports_see_a_redacted_gate() {
    let text = format!(
        r#"[gate]
name = "Gate {gh}"

[[service]]
name = "api"
run = "serve --port ${{port}}"
env = {{ API_SIGNING_KEY = "svc-signing-Qm41x", TOKEN_URL = "https://issuer.invalid/tk" }}

[[packet]]
id = "SEC-01"
title = "Rotate {gh}"
[[packet.check]]
id = "a"
run = "deploy --url {url}"
env = {{ DEPLOY_TOKEN = "{deploy}", KEYBOARD = "layout-qwerty-us", REF_PASSWORD = "${{api.url}}" }}
"#,
        gh = github_token(),
        url = pg_url(),
        // Split so that this repository's own secret scan does not take it for a secret.
        deploy = concat!("chk-", "deploy-Wz73y"),
    );
    let gate = crate::spec::parse(Path::new("packets.toml"), &text).unwrap();
    assert!(register_gate_secrets(&gate));
    assert_eq!(
        redact("svc-signing-Qm41x chk-deploy-Wz73y layout-qwerty-us https://issuer.invalid/tk"),
        "[REDACTED] [REDACTED] layout-qwerty-us https://issuer.invalid/tk"
    );
    let shown = redacted_gate(&gate);
    assert_eq!(shown.name, "Gate [REDACTED]");
    assert_eq!(shown.packets[0].title, "Rotate [REDACTED]");
    let crate::spec::CheckKind::Command(command) = &shown.packets[0].checks[0].kind else {
        panic!("a command check");
    };
    assert!(
        !command.display.contains(pg_password()),
        "{}",
        command.display
    );
    assert_eq!(shown.packets[0].checks[0].name(), "SEC-01::a");
    // The gate that runs keeps its text.
    assert!(gate.name.contains(&github_token()));
}

#[test]
fn a_begin_early_in_an_overlong_line_opens_a_block() {
    let (begin, end) = (begin(), end());
    let input = format!(
        "{begin} {}\n{}\n{end}\nFAIL: after\n",
        "word ".repeat(20_000),
        BODY[0]
    );
    let out = String::from_utf8(chunked(input.as_bytes(), 4096)).unwrap();
    assert!(!out.contains(BODY[0]));
    assert!(
        out.ends_with(&format!("[REDACTED]\n{end}\nFAIL: after\n")),
        "{}",
        &out[out.len() - 80..]
    );
}

/// The choke points hold: outside the places listed here, no module of the engine writes a
/// file itself; a new report goes through `write_report` (or this test fails).
#[test]
fn only_the_redactor_writes_files() {
    const ALLOWED: &[(&str, &[&str])] = &[
        // write_report itself; the out-directory and recursion markers (constant texts).
        (
            "atomic::write(",
            &["output/redaction.rs", "run/harness.rs", "run/outdir.rs"],
        ),
        // Logs streamed through a LineRedactor (exec, service) or `redact` (grep).
        (
            "File::create(",
            &["run/exec.rs", "run/check/grep.rs", "run/service/process.rs"],
        ),
        // The step summary (redacted), a service's pid bookkeeping, cargo's lock (read), lock
        // files (run id, pid) and the evidence journal (opened there; its lines are redacted
        // with `redact_for`); containment opens evidence for reading only.
        (
            "OpenOptions::new()",
            &[
                "report/ci.rs",
                "run/service/mod.rs",
                "run/cargo_lock.rs",
                "output/flock.rs",
                "output/containment.rs",
            ],
        ),
        ("fs::write(", &[]),
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            // Unit-test modules of their own (`#[cfg(test)] mod tests;`) write fixtures.
            if path.file_name().is_some_and(|name| name == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests write fixtures as they like.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // Named by their path under src/ (`service/mod.rs`), not by file name alone.
            let name = path.strip_prefix(&src).unwrap().display().to_string();
            for (call, allowed) in ALLOWED {
                if code.contains(call) && !allowed.contains(&name.as_str()) {
                    found.push(format!(
                        "{} calls {call}",
                        path.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "write through redaction::write_report instead: {found:?}"
    );
}

#[test]
fn records_round_trip_with_only_their_secrets_masked() {
    use crate::evidence::{CaseKind, CheckRecord, Outcome, RunHeader};
    let record = CheckRecord {
        argv: vec![
            "sh".into(),
            "-c".into(),
            format!("deploy {}", github_token()),
        ],
        cwd: "/work".into(),
        started: "2026-01-01T00:00:00Z".into(),
        ended: "2026-01-01T00:00:01Z".into(),
        duration_ms: u64::MAX,
        exit_code: Some(3),
        log: Some("logs/SEC-01/a.log".into()),
        bytes: 12,
        sha256: Some("ab".repeat(32)),
        notes: vec![format!("{}{}{}", begin(), BODY[0], end())],
        ..CheckRecord::new(
            "SEC-01",
            "a",
            CaseKind::Checklist,
            crate::model::Severity::P0,
            Outcome::Fail,
            format!("exit 3: {}", pg_url()),
        )
    };
    let masked = redacted(&record);
    let mut expected = record.clone();
    expected.argv[2] = "deploy [REDACTED]".into();
    expected.message = "exit 3: postgres://app:[REDACTED]@db.internal:5432/app".into();
    expected.notes = vec![format!("{}[REDACTED]{}", begin(), end())];
    assert_eq!(masked, expected);
    let header = RunHeader {
        gate: format!("Gate {}", slack_token()),
        gate_file: "packets.toml".into(),
        gate_path: None,
        gate_sha256: "cd".repeat(32),
        git_head: None,
        git_dirty: Some(false),
        code: None,
        relgate_version: "0.1.0".into(),
        started: "2026-01-01T00:00:00Z".into(),
        host: "ci".into(),
        run_id: "r1".into(),
        mode: "xtask".into(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
    };
    assert_eq!(redacted(&header).gate, "Gate [REDACTED]");
}

/// Output of many short lines is redacted in blocks (issue 13: `yes` cost one rules search per
/// line): mixed with secrets, private keys and colour escapes, whatever the block sizes, the
/// result is byte for byte what line-by-line redaction (one byte per push) gives.
#[test]
fn blocks_of_lines_redact_exactly_like_line_by_line() {
    let (begin, end) = (begin(), end());
    let mut input = String::new();
    for round in 0..40 {
        for line in 0..(round * 7 % 50) {
            input.push_str(&format!("y {round} {line} nothing to see here\n"));
        }
        match round % 5 {
            0 => input.push_str(&format!("token={}\n", github_token())),
            1 => input.push_str(&format!("db at {}\n", pg_url())),
            2 => input.push_str(&format!(
                "{begin}\n{}\n{}\n{}\n{end}\n",
                BODY[0], BODY[1], BODY[2]
            )),
            3 => input.push_str(&format!("\x1b[1m{}\x1b[0m\n", slack_token())),
            _ => input.push_str(&format!("{{\"key\":\"{}\"}}\n", github_token())),
        }
    }
    let input = input.as_bytes();
    let line_by_line = chunked(input, 1);
    for size in [input.len(), 64 * 1024, 4096, 1000, 513] {
        assert_eq!(
            String::from_utf8_lossy(&chunked(input, size)),
            String::from_utf8_lossy(&line_by_line),
            "chunks of {size}"
        );
    }
    let text = String::from_utf8_lossy(&line_by_line);
    assert!(!text.contains(&github_token()) && !text.contains(&slack_token()));
    assert!(!text.contains(BODY[1]) && !text.contains(pg_password()));
    assert!(text.contains("y 7 48 nothing to see here\n"));
}

/// The keyword filter in front of the rules lowercases and searches 8 KiB blocks that overlap
/// by the longest keyword (relgate-probes `secrets::keywords`): a secret whose keyword, in any
/// case, starts anywhere around the first block boundaries — in a block of `yes` lines or in
/// a long line — is masked, fed in the 64 KiB pieces the capture uses and whole.
#[test]
fn a_secret_at_any_offset_around_the_filter_blocks_is_masked() {
    let url = pg_url().replacen("postgres", "PoStGrEs", 1);
    let token = github_token();
    for filler in [&b"y\n"[..], b"x"] {
        let filler: Vec<u8> = filler.iter().copied().cycle().take(40_000).collect();
        let offsets = (8192 - 24..8192 + 4).chain(16384 - 48..16384 - 24);
        for (at, secret) in offsets.flat_map(|at| [(at, &url), (at, &token)]) {
            let mut input = filler[..at].to_vec();
            input.extend_from_slice(format!(" {secret} ").as_bytes());
            input.extend_from_slice(&filler[at..]);
            for out in [chunked(&input, 64 * 1024), whole(&input)] {
                let text = String::from_utf8_lossy(&out);
                assert!(!text.contains(pg_password()), "at {at}");
                assert!(!text.contains(&token[4..]), "at {at}");
                assert_eq!(text.matches(MASK).count(), 1, "at {at}");
            }
        }
    }
}
