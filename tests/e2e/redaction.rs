//! Secrets never leave relgate: a gate whose failing checks print, run with and are described by
//! secrets (a GitHub token, a Slack token, a postgres password, secret `env` values, a one-line
//! JSON-escaped PEM key, a BEGIN line with its body, a token in colour, a 240 KB line of
//! tokens, tokens in the gate's own names and reasons) is run through the real xtask, and every file of the out directory, stdout, stderr
//! and the GitHub step summary are searched for the secret bytes. Secrets are assembled at run
//! time, so this file holds none (the repository's own secret scan stays clean).

use std::path::{Path, PathBuf};

use crate::support::{run_gate, xtask, Run};

fn github_token() -> String {
    ["gh", "p_", "Zr8sT1uV4wX7yA0bC3dE6fG9hJ2kL5mN8pQ1"].concat()
}

fn slack_token() -> String {
    [
        "xo",
        "xb-",
        "210987654321-3210987654321-QrStUvWxYzAbCdEfGhIjKlMn",
    ]
    .concat()
}

const PG_PASSWORD: &str = "Pq7-leak-me-not-4Xw";
const ENV_TOKEN: &str = "envtok-Kd83-never-printed";
const ENV_PASSWORD: &str = "envpw-Hs52-never-printed";
const BODY: [&str; 2] = [
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDR6u1kYz8pQmT3",
    "Xb4vN0c2rLq8sW5tYh7jK1mF9dG3aZx6Vw2EoP4iU8yTn5Re7Qw1Sx3Dc9Fv6Bg0",
];

fn begin() -> String {
    ["-----BEGIN ", "PRIVATE KEY-----"].concat()
}

fn end() -> String {
    ["-----END ", "PRIVATE KEY-----"].concat()
}

fn pg_url() -> String {
    format!("postgres://app:{PG_PASSWORD}{}", "@db.internal:5432/app")
}

/// Every secret of the gate below, as bytes that must appear nowhere; a token's prefix too,
/// so that a token cut in two (at a flush point) counts as leaked.
fn secrets() -> Vec<String> {
    vec![
        ["gh", "p_"].concat(),
        ["xo", "xb-"].concat(),
        github_token(),
        slack_token(),
        PG_PASSWORD.to_string(),
        ENV_TOKEN.to_string(),
        ENV_PASSWORD.to_string(),
        BODY[0].to_string(),
        BODY[1].to_string(),
    ]
}

/// A TOML basic string holding `text` (JSON's string escapes are TOML's).
fn toml_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

fn write_gate(dir: &Path) -> PathBuf {
    let json_pem = format!(
        "{{\"type\": \"service_account\", \"private_key\": \"{}\\n{}\\n{}\\n{}\\n\"}}",
        begin(),
        BODY[0],
        BODY[1],
        end()
    );
    let leaky = format!(
        "echo \"deploy with {gh} to {url}\"; echo \"notify {slack}\"; printf '%s\\n' '{json_pem}'; \
         echo 'key={begin}{b0}{b1}'; echo \"env says $API_TOKEN and $DB_PASSWORD\"; \
         printf '\\033[1;31m%s\\033[0m\\n' '{gh}'; t={gh}; i=0; while [ $i -lt 6000 ]; do printf '%s ' \"$t\"; i=$((i+1)); done; echo; \
         echo 'FAIL: leaky check'; exit 3",
        gh = github_token(),
        url = pg_url(),
        slack = slack_token(),
        begin = begin(),
        b0 = BODY[0],
        b1 = BODY[1],
    );
    let prose = format!(
        "echo 'hint: a key file starts with {}'; echo 'FAIL: cross-tenant read returned 200'; exit 1",
        begin()
    );
    let text = format!(
        r#"[gate]
name = {gate_name}

[[packet]]
id = "SEC-01"
title = {title}
implementer = {implementer}

[[packet.check]]
id = "leaky"
run = {leaky}
severity = "P0"
env = {{ API_TOKEN = {env_token}, DB_PASSWORD = {env_password}, KEYBOARD = "us" }}

[[packet.check]]
id = "prose"
run = {prose}
severity = "P0"

[[packet.check]]
id = "accepted"
run = {accepted}
severity = "P1"

[[accept]]
check = "SEC-01::accepted"
owner = "dana"
until = "2099-12-31"
reason = {reason}
"#,
        gate_name = toml_string(&format!("Redaction gate {}", github_token())),
        title = toml_string(&format!("Rotate {} before release", slack_token())),
        implementer = toml_string(&format!("ops via {}", pg_url())),
        leaky = toml_string(&leaky),
        env_token = toml_string(ENV_TOKEN),
        env_password = toml_string(ENV_PASSWORD),
        prose = toml_string(&prose),
        accepted = toml_string(&format!("echo 'audit via {}'; exit 1", pg_url())),
        reason = toml_string(&format!("token {} is revoked", github_token())),
    );
    let path = dir.join("packets.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Panics naming every place one of the secrets shows up.
fn assert_no_secret(places: &[(String, Vec<u8>)]) {
    let mut leaks = Vec::new();
    for (name, bytes) in places {
        let text = String::from_utf8_lossy(bytes);
        for secret in secrets() {
            if text.contains(&secret) {
                leaks.push(format!("{name} holds {}…", &secret[..secret.len().min(6)]));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

fn out_files(run: &Run) -> Vec<(String, Vec<u8>)> {
    let mut places: Vec<(String, Vec<u8>)> = files(run.out.path())
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(run.out.path())
                .unwrap()
                .display()
                .to_string();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    places.push(("stdout".into(), run.output.stdout.clone()));
    places.push(("stderr".into(), run.output.stderr.clone()));
    places
}

#[test]
fn no_secret_reaches_any_file_or_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path());
    let run = run_gate(&gate, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.decision(), "NO_GO");
    let places = out_files(&run);
    let names: Vec<&str> = places.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "evidence.jsonl",
        "junit.xml",
        "tracker.md",
        "report.sarif",
        "report.html",
        "attestation.intoto.json",
        "logs/SEC-01/leaky.log",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    assert!(
        names.iter().any(|name| name.starts_with("fragments/")),
        "{names:?}"
    );
    assert_no_secret(&places);

    // Masked, not dropped: the evidence still says what happened.
    let log = std::fs::read_to_string(run.out.path().join("logs/SEC-01/leaky.log")).unwrap();
    assert!(
        log.contains("deploy with [REDACTED] to postgres://app:[REDACTED]@db.internal"),
        "{log}"
    );
    assert!(log.contains("env says [REDACTED] and [REDACTED]"), "{log}");
    let json_line = log
        .lines()
        .find(|line| line.contains("private_key"))
        .expect("the JSON line is kept");
    assert!(
        json_line.contains(&format!("\"private_key\": \"{}", begin()))
            && json_line.contains("[REDACTED]")
            && json_line.ends_with(&format!("{}\\n\"}}", end())),
        "{json_line}"
    );
    assert!(log.contains(&format!("key={}[REDACTED]", begin())), "{log}");
    assert!(log.contains("\x1b[1;31m[REDACTED]\x1b[0m"), "{log}");
    assert!(log.contains("FAIL: leaky check"), "{log}");
    // The 240 KB line of tokens: every one masked, whatever the pipe's chunking.
    let long = log
        .lines()
        .find(|line| line.len() > 64 * 1024)
        .expect("the long line");
    assert_eq!(long.trim_end(), vec!["[REDACTED]"; 6000].join(" "));
    // Prose after a BEGIN that never ends is kept.
    let prose = std::fs::read_to_string(run.out.path().join("logs/SEC-01/prose.log")).unwrap();
    assert!(
        prose.contains("FAIL: cross-tenant read returned 200"),
        "{prose}"
    );
    let junit = run.junit();
    assert!(
        junit.contains("FAIL: cross-tenant read returned 200"),
        "{junit}"
    );

    // The JSON reports still parse, and the chain (redacted before hashing) verifies.
    for name in ["report.sarif", "attestation.intoto.json"] {
        let text = std::fs::read_to_string(run.out.path().join(name)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    // junit.xml is still well-formed XML for an independent parser.
    let parsed = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
        ])
        .arg(run.out.path().join("junit.xml"))
        .output()
        .expect("python3 runs");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(run.ledger().len(), 1 + 3 + 1 + 1);
    // The gate file holds secrets, so the run keeps no copy of it: verify recomputes the
    // verdict and re-renders the reports from the file given, redacted as the run did.
    let verify = run.verify_with_gate(&gate);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(!out_files(&run).iter().any(|(name, _)| name == "gate.toml"));
    assert_no_secret(&[(
        "verify".to_string(),
        [verify.stdout, verify.stderr].concat(),
    )]);

    // `gate report` (the nextest flow) rebuilds every report from the fragments: still clean.
    let report = xtask()
        .args(["gate", "report", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(run.out.path())
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(1), "{report:?}");
    let rebuilt = Run {
        out: run.out,
        output: report,
    };
    assert_eq!(rebuilt.decision(), "NO_GO");
    assert_no_secret(&out_files(&rebuilt));
}

/// The gate as GitHub Actions runs it: annotations on stdout, the summary appended to `summary`.
fn run_in_github_actions(gate: &Path, summary: &Path) -> Run {
    run_gate(
        gate,
        &[
            ("GITHUB_ACTIONS", Some(Path::new("true"))),
            ("GITHUB_STEP_SUMMARY", Some(summary)),
        ],
    )
}

#[test]
fn no_secret_reaches_github_annotations_or_the_step_summary() {
    let dir = tempfile::tempdir().unwrap();
    let gate = write_gate(dir.path());
    let summary = dir.path().join("step-summary.md");
    let run = run_in_github_actions(&gate, &summary);
    assert_eq!(run.code(), 1, "{}", run.context());
    let stdout = run.stdout();
    assert!(stdout.contains("::error file="), "{stdout}");
    let mut places = out_files(&run);
    let summary_text = std::fs::read(&summary).expect("step summary written");
    assert!(!summary_text.is_empty());
    places.push(("$GITHUB_STEP_SUMMARY".into(), summary_text));
    assert_no_secret(&places);
}

/// The attacks of the second review: tokens right after an escape (in the output and in the
/// command line itself, as annotations and the ledger quote it), glued to a digit or cut by a
/// colour reset; private keys behind log prefixes or with doubly escaped or XML line breaks;
/// a password in an https URL; `env` values under `DB_PASS`, `MYSQL_PWD` and `GH_PAT`.
#[test]
fn escaped_glued_split_and_prefixed_secrets_reach_no_output() {
    let token = ["gh", "o_", "Mv3nB8cX1zL6kJ4hG9fD2sA7pO5iU0yT3rE8"].concat();
    let aws = ["AS", "IAQ7W2E9R4T6Y1U3I8"].concat();
    let password = ["Hq8zVt3", "-Wn5k-e2e"].concat();
    let (db_pass, mysql_pwd) = ("dbpass-Rt61-never-printed", "mypwd-Lc29-never-printed");
    let pat = ["gh", "p_", "Wq2eR5tY8uI1oP4aS7dF0gH3jK6lZ9xC2vB5"].concat();
    // Key body lines are assembled by the shell, so the command holds no body.
    let (a, b) = ("MIIEvgIBADANBgkq", "hkiG9w0BAQEFAASC");
    let body = format!("{a}{b}{a}{b}");
    let script = format!(
        "begin='{begin}'; end='{end}'; a={a}; b={b}; k=$a$b$a$b; \
         printf '%s\\n' '{{\"a\":\"x\\n{slack}\"}}' '\"token follows:\\n{token}\\t{aws}\"'; \
         printf '\\033[31m{token}\\033[0m\\n'; echo 'shown: \\e[1;31m{aws}\\e[0m \\x1b[31m{slack}\\x1b[0m'; \
         echo \"glued 1{token} 2{aws}\"; \
         printf 'split %.20s\\033[0m%s\\n' \"$GH_PAT\" \"${{GH_PAT#????????????????????}}\"; \
         echo \"git clone https://user:{password}@git.example.com/app.git\"; \
         echo \"pass=$DB_PASS pwd=$MYSQL_PWD\"; \
         printf 'app-1  | %s\\n' \"$begin\" \"$k\" \"$k\" \"$end\" 'app ready'; \
         printf '2026-12-04T12:00:0%sZ stderr F %s\\n' 0 \"$begin\" 0.5 \"$k\" 1.25 \"$k\" 2 \"$end\"; \
         printf '> %s\\n' \"$begin\" \"$k\" \"$end\"; \
         printf '%s\\n' '{{\"log\":\"'\"$begin\"'\\\\n'\"$k\"'\\\\n'\"$end\"'\"}}' \"<k>$begin&#10;$k&#xA;$end</k>\"; \
         echo 'FAIL: leaky shapes'; exit 1",
        begin = begin(),
        end = end(),
        slack = slack_token(),
    );
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("packets.toml");
    std::fs::write(
        &gate,
        format!(
            "[[packet]]\nid = \"SEC-02\"\n[[packet.check]]\nid = \"shapes\"\nrun = {}\nseverity = \"P0\"\nenv = {{ DB_PASS = {}, MYSQL_PWD = {}, GH_PAT = {} }}\n",
            toml_string(&script),
            toml_string(db_pass),
            toml_string(mysql_pwd),
            toml_string(&pat),
        ),
    )
    .unwrap();
    let summary = dir.path().join("step-summary.md");
    let run = run_in_github_actions(&gate, &summary);
    assert_eq!(run.code(), 1, "{}", run.context());
    let log = std::fs::read_to_string(run.out.path().join("logs/SEC-02/shapes.log")).unwrap();
    let mut places = out_files(&run);
    places.push((
        "$GITHUB_STEP_SUMMARY".into(),
        std::fs::read(&summary).unwrap(),
    ));
    let secrets = [
        token.as_str(),
        aws.as_str(),
        &slack_token(),
        &password,
        db_pass,
        mysql_pwd,
        &pat[..20],
        &pat[20..],
        &body,
    ]
    .map(str::to_string);
    let mut leaks = Vec::new();
    for (name, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for secret in &secrets {
            if text.contains(secret.as_str()) {
                leaks.push(format!("{name} holds {}…", &secret[..6]));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets leaked:\n{}\n{log}",
        leaks.join("\n")
    );
    // Masked in place, the rest kept.
    for kept in [
        "{\"a\":\"x\\n[REDACTED]\"}",
        "glued 1[REDACTED] 2[REDACTED]",
        "split [REDACTED]\n",
        "https://user:[REDACTED]@git.example.com",
        "app-1  | [REDACTED]\napp-1  | [REDACTED]\napp-1  | -----END",
        "stderr F [REDACTED]\n",
        "> [REDACTED]\n",
        "FAIL: leaky shapes",
        "app-1  | app ready",
    ] {
        assert!(log.contains(kept), "{kept:?} in\n{log}");
    }
}

/// Runs the gate file `body`; its exit status and stderr.
fn refused(body: &str) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("packets.toml");
    std::fs::write(&gate, body).unwrap();
    let out = dir.path().join("out");
    let output = xtask()
        .args(["gate", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output, stderr)
}

#[test]
fn ids_that_look_like_secrets_are_refused_without_printing_them() {
    let token = github_token();
    for (body, line, key) in [
        (
            format!("[[packet]]\nid = \"SEC-01\"\n[[packet.check]]\nid = \"{token}\"\nrun = \"true\"\n"),
            4,
            "packet.check.id",
        ),
        (
            format!("[[packet]]\nid = \"{token}\"\n[[packet.check]]\nid = \"a\"\nrun = \"true\"\n"),
            2,
            "packet.id",
        ),
        (
            format!(
                "[[packet]]\nid = \"SEC-01\"\n[[packet.check]]\nid = \"a\"\nrun = \"true\"\n[[packet.checklist]]\nitem = \"rotate {token}\"\nby = [\"a\"]\n"
            ),
            7,
            "packet.checklist.item",
        ),
        (
            // An id equal to the value of a secret env entry.
            format!(
                "[[packet]]\nid = \"SEC-01\"\n[[packet.check]]\nid = \"a\"\nrun = \"true\"\nenv = {{ DEPLOY_TOKEN = \"{ENV_TOKEN}\" }}\n[[packet.check]]\nid = \"{ENV_TOKEN}\"\nrun = \"true\"\n"
            ),
            8,
            "packet.check.id",
        ),
    ] {
        let (output, stderr) = refused(&body);
        assert_eq!(output.status.code(), Some(2), "{body}\n{stderr}");
        assert!(
            stderr.contains(&format!("packets.toml:{line}:")) && stderr.contains(key),
            "{body}\n{stderr}"
        );
        assert!(stderr.contains("looks like a secret"), "{stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_no_secret(&[
            ("stderr".into(), stderr.clone().into_bytes()),
            ("stdout".into(), stdout.as_bytes().to_vec()),
        ]);
    }
}

#[test]
fn gate_file_errors_quoting_a_secret_are_redacted() {
    // A destructive command is refused with the command quoted: the token in it is masked.
    let body = format!(
        "[[packet]]\nid = \"SEC-01\"\n[[packet.check]]\nid = \"a\"\nrun = \"git push --force https://{}@github.com/o/r\"\n",
        github_token()
    );
    let (output, stderr) = refused(&body);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("packets.toml:5:"), "{stderr}");
    assert!(stderr.contains("[REDACTED]"), "{stderr}");
    assert_no_secret(&[("stderr".into(), stderr.into_bytes())]);
}

#[test]
fn an_unknown_key_named_like_a_secret_is_refused_without_printing_it() {
    // The loader names the unknown key it refuses; the key is a token pasted in the wrong place.
    let token = github_token();
    let body = format!("[gate]\nname = \"g\"\n{token} = \"x\"\n[[packet]]\nid = \"A\"\n");
    let (output, stderr) = refused(&body);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("packets.toml:3:"), "{stderr}");
    assert_no_secret(&[("stderr".into(), stderr.into_bytes())]);
    // The same through `gate merge` and `gate report`, which load the gate file too.
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("packets.toml");
    std::fs::write(&gate, &body).unwrap();
    std::fs::create_dir(dir.path().join("shard")).unwrap();
    for args in [vec!["report"], vec!["merge", "shard"]] {
        let output = xtask()
            .arg("gate")
            .args(&args)
            .arg("--gate")
            .arg(&gate)
            .arg("--out")
            .arg(dir.path().join("out"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("packets.toml:3:"), "{args:?}: {stderr}");
        assert_no_secret(&[("stderr".into(), stderr.into_bytes())]);
    }
}
