//! The text `init` writes for a project: the gate file's header, each check it may generate
//! (with the comment saying why it is there and what it proves), the tools they need, and the
//! files of the xtask pattern. [`super::compose`] chooses among them; nothing here decides.

/// A check `init` may write: its checklist item, the comment above it and its TOML keys after
/// `id` (one per line).
pub struct Snippet {
    /// The check id (unique in the generated gate).
    pub id: &'static str,
    /// The checklist item the check holds.
    pub item: &'static str,
    /// Why the check is there and what a pass proves, as comment lines (without `# `).
    pub why: &'static str,
    /// The keys after `id`; `{CARGO_TEST_EXCLUDE}`, `{LOCKED}` and `{FILES}` are filled in.
    pub body: &'static str,
}

/// The top of a generated gate: `{FOUND}` lists what init found, `{COMMAND}` how to run it.
pub const HEADER: &str = r#"# The release security gate of this project, run by relgate. `init` wrote it from what it found
# here:
{FOUND}#
#   {COMMAND}                    run every check: verdict GO, GO_WITH_CONDITIONS or NO_GO
#   {COMMAND} -- --list          list the test cases without running anything
#   {COMMAND} --packet SEC-00    one packet only (a partial run is not a release verdict)
#
# Evidence and reports go to target/gate/ (the hash-chained ledger evidence.jsonl, junit.xml,
# tracker.md, report.html, report.sarif, the attestation, logs/). Exit codes: 0 GO or
# GO_WITH_CONDITIONS, 1 NO_GO, 2 this file is invalid (nothing ran).
#
# Every check below runs a real command of this project; each says why it is here. Add your
# own checks (probes against a running service, more scans) and fill in the reviewers.

[gate]
name = "Release Security Gate"

[defaults]
timeout = "20m"    # a check that runs longer fails; durations: 500ms, 90s, 10m, 1h30m
severity = "P0"    # P0 blocks the release, P1 needs an [[accept]], P2 is tracked only
"#;

/// The lines of a packet before its checklist: `{ID}`, `{TITLE}`, `{WHY}` (comment lines).
pub const PACKET: &str = r#"
{WHY}[[packet]]
id = "{ID}"
title = "{TITLE}"
# implementer = "alice"             # who did the work
# reviewer = "bob"                  # who reviews it (see the book's "Review and sign-off")
"#;

/// The commented attestation every generated gate offers: a person vouching, on a date.
pub const ATTESTATION: &str = r#"  # A person can hold an item instead of a check, on a date that is not in the future:
  # { item = "Threat model reviewed.", attested = { by = "the reviewer", on = "{TODAY}" } },
"#;

/// The build, tests and lints of a Cargo workspace.
pub const CARGO: &[Snippet] = &[
    Snippet {
        id: "cargo-build",
        item: "The Cargo workspace builds (every target).",
        why: "Every member and target (tests, examples, benches) compiles; with Cargo.lock, --locked\nalso proves the lockfile is current, so what was audited is what was built.",
        body: "run = \"cargo build --workspace --all-targets{LOCKED}\"",
    },
    Snippet {
        id: "cargo-test",
        item: "The Rust test suite passes.",
        why: "The workspace's own tests{CARGO_TEST_NOTE}.",
        body: "run = \"cargo test --workspace{CARGO_TEST_EXCLUDE}\"",
    },
    Snippet {
        id: "clippy",
        item: "Lints clean (clippy, warnings denied).",
        why: "clippy's default lints, warnings denied: catches bug patterns a build accepts. P1: a\nlint finding needs a fix or an [[accept]], it does not stop a fix release by itself.{CLIPPY_NOTE}",
        body: "run = \"cargo clippy --workspace --all-targets{CLIPPY_EXCLUDE} -- -D warnings\"\ntools = [\"clippy\"]\nseverity = \"P1\"",
    },
    Snippet {
        id: "rustfmt",
        item: "The code is formatted (rustfmt).",
        why: "The workspace's members are formatted (not --all, which would also check path\ndependencies). Formatting proves nothing about security; it keeps reviews about the code.\nP2: tracked.",
        body: "run = \"cargo fmt -- --check\"\ntools = [\"rustfmt\"]\nseverity = \"P2\"",
    },
];

/// The dependency audit of a Cargo.lock.
pub const CARGO_AUDIT: Snippet = Snippet {
    id: "cargo-audit",
    item: "No unaccepted RustSec advisory in Cargo.lock (cargo audit).",
    why: "cargo-audit reads Cargo.lock against the RustSec advisory database and the gate judges its\nJSON report (not its exit code): P0/P1 findings block unless accepted. {advisory_db} is the\ndirectory in RELGATE_ADVISORY_DB, a local copy of https://github.com/rustsec/advisory-db\n(git clone --depth 1 it and refresh it in CI): the gate never downloads it, so the evidence\nnames the database the verdict used. To let cargo-audit fetch it at each run instead:\nrun = \"cargo audit --json > {report}\".",
    body: "scan = { run = \"cargo audit --no-fetch --db {advisory_db} --json > {report}\", format = \"cargo-audit\" }\ntools = [\"cargo-audit\"]\ntimeout = \"5m\"",
};

/// The build and tests of an npm project.
pub const NPM: &[Snippet] = &[
    Snippet {
        id: "npm-ci",
        item: "The npm dependencies install exactly from package-lock.json.",
        why: "npm ci installs exactly what package-lock.json pins and fails when it disagrees with\npackage.json. It runs the packages' install scripts and needs the registry.",
        body: "run = \"npm ci --no-audit --no-fund\"\ntools = [\"npm\"]",
    },
    Snippet {
        id: "npm-test",
        item: "The npm test script passes.",
        why: "package.json's own `test` script.",
        body: "run = \"npm test\"\ntools = [\"npm\"]",
    },
];

/// The dependency audit of a package-lock.json.
pub const NPM_AUDIT: Snippet = Snippet {
    id: "npm-audit",
    item: "No unaccepted npm advisory in package-lock.json (npm audit).",
    why: "npm audit asks the registry's advisory endpoint about package-lock.json; the gate judges its\nJSON report: critical/high are P0, moderate P1, low/info P2. A registry that refuses the audit\n(an error object instead of a report) fails the check as `scanner unavailable`, never passes.",
    body: "scan = { run = \"npm audit --json > {report}\", format = \"npm-audit\" }\ntools = [\"npm\"]\ntimeout = \"5m\"",
};

/// The build, tests and vet of a Go module.
pub const GO: &[Snippet] = &[
    Snippet {
        id: "go-build",
        item: "The Go module builds.",
        why: "Every package of the module compiles.",
        body: "run = \"go build ./...\"\ntools = [\"go\"]",
    },
    Snippet {
        id: "go-test",
        item: "The Go tests pass.",
        why: "The module's own tests.",
        body: "run = \"go test ./...\"\ntools = [\"go\"]",
    },
    Snippet {
        id: "go-vet",
        item: "go vet finds nothing.",
        why: "go vet's analyzers (printf misuse, copied locks, unreachable code…). P1.",
        body: "run = \"go vet ./...\"\ntools = [\"go\"]\nseverity = \"P1\"",
    },
];

/// The vulnerability scan of a Go module.
pub const GOVULNCHECK: Snippet = Snippet {
    id: "govulncheck",
    item: "No unaccepted Go vulnerability reachable from the code (govulncheck).",
    why: "govulncheck reports known vulnerabilities in the module's dependencies and standard\nlibrary, and whether the code calls them; it writes SARIF, which the gate judges (by\nsecurity-severity or level). It needs the vuln.go.dev database (network).",
    body: "scan = { run = \"govulncheck -format sarif ./... > {report}\", format = \"sarif\" }\ntools = [\"govulncheck\"]\ntimeout = \"10m\"",
};

/// The secrets probe over the repository.
pub const SECRETS: Snippet = Snippet {
    id: "no-committed-secrets",
    item: "No credential is committed outside the reviewed allowlist.",
    why: "relgate's built-in secret rules (cloud keys, tokens, private keys, passwords in URLs…) over\nthe whole tree, honouring .gitignore; build output is excluded. A finding is fixed, or its\nfingerprint goes into a reviewed allowlist: allowlist = \".relgate/secrets.allow\".",
    body: "probe = \"secrets\"\nexclude = {EXCLUDE}",
};

/// Grep rules over Dockerfiles.
pub const DOCKER: &[Snippet] = &[
    Snippet {
        id: "docker-no-latest",
        item: "No base image is taken at `:latest`.",
        why: "A grep, not a container scan (relgate runs no docker here): fails when a FROM line names an\nimage at :latest, which changes under the same Dockerfile. It does not see an untagged image\n(also latest) nor prove a tag is immutable; only a digest pins (the next check).",
        body: r#"grep = { pattern = '(?i)^\s*FROM\s+(--platform=\S+\s+)?\S+:latest(\s|$)', files = {FILES}, expect = "no-match" }
severity = "P1""#,
    },
    Snippet {
        id: "docker-digest-pinned",
        item: "Tagged base images are pinned by digest.",
        why: "A grep: fails when a FROM line names a tagged image without @sha256: (image:tag@sha256:…\npins the exact bytes). Untagged names are not seen (they may be build stages). P2: tracked.",
        body: r#"grep = { pattern = '(?i)^\s*FROM\s+(--platform=\S+\s+)?[^\s@]+:[^\s@]+(\s+AS\s+\S+)?\s*$', files = {FILES}, expect = "no-match" }
severity = "P2""#,
    },
    Snippet {
        id: "docker-sets-user",
        item: "The image declares a USER.",
        why: "A grep: passes when a Dockerfile has a USER line, so the process need not run as root. It\ndoes not prove the last USER is not root (next check) nor how the container is started.",
        body: r#"grep = { pattern = '(?i)^\s*USER\s+\S', files = {FILES} }
severity = "P1""#,
    },
    Snippet {
        id: "docker-no-root-user",
        item: "No USER line names root.",
        why: "A grep: fails on USER root or USER 0 (by name or uid 0, with or without a group).",
        body: r#"grep = { pattern = '(?i)^\s*USER\s+(root|0)(:\S*)?\s*$', files = {FILES}, expect = "no-match" }
severity = "P1""#,
    },
];

/// Grep rules over GitHub Actions workflows.
pub const WORKFLOWS: &[Snippet] = &[
    Snippet {
        id: "actions-pinned-by-sha",
        item: "Every third-party action is pinned to a full commit SHA.",
        why: "A grep: fails on a `uses: owner/action@ref` whose ref is not a 40-hex commit SHA: a tag or\nbranch can be moved to other code after review. Local (./) and docker:// actions are not\nseen; it cannot tell whether the SHA belongs to the repository named.",
        body: r#"grep = { pattern = '''^\s*(-\s*)?uses:\s*["']?[^\s"'@#]+@([0-9a-f]{0,39}|[0-9a-f]{41,}|[^\s"'#]*[^0-9a-f\s"'#][^\s"'#]*)["']?\s*(#.*)?$''', files = {FILES}, expect = "no-match" }
severity = "P1""#,
    },
    Snippet {
        id: "no-pr-head-checkout",
        item: "No workflow checks out the pull request's head by ref.",
        why: "A grep: fails where a workflow names the PR head (github.event.pull_request.head.*,\ngithub.head_ref, refs/pull/). Under pull_request_target or workflow_run that runs a fork's\ncode with this repository's secrets; under plain pull_request it is harmless — accept it then\n(a grep cannot see which trigger a line runs under).",
        body: r#"grep = { pattern = 'github\.event\.pull_request\.head\.(sha|ref)|github\.head_ref|refs/pull/', files = {FILES}, expect = "no-match" }
severity = "P1""#,
    },
    Snippet {
        id: "no-pull-request-target",
        item: "No workflow runs on pull_request_target.",
        why: "A grep: fails on any pull_request_target trigger (it runs with secrets and a write token on\nevents from forks). A deliberate one that never runs the PR's code: accept it with a reason.",
        body: r#"grep = { pattern = 'pull_request_target', files = {FILES}, expect = "no-match" }
severity = "P2""#,
    },
];

/// The `[[tool]]` tables checks may name: (name, table).
pub const TOOLS: &[(&str, &str)] = &[
    (
        "clippy",
        "name = \"clippy\"\nprobe = \"cargo clippy --version\"\ninstall = \"rustup component add clippy\"",
    ),
    (
        "rustfmt",
        "name = \"rustfmt\"\nprobe = \"cargo fmt --version\"\ninstall = \"rustup component add rustfmt\"",
    ),
    (
        "cargo-audit",
        "name = \"cargo-audit\"\nprobe = \"cargo audit --version\"\ninstall = \"cargo install --locked cargo-audit\"",
    ),
    (
        "npm",
        "name = \"npm\"\nprobe = \"npm --version\"                  # install Node.js and npm yourself",
    ),
    (
        "go",
        "name = \"go\"\nprobe = \"go version\"                     # install Go yourself",
    ),
    (
        "govulncheck",
        "name = \"govulncheck\"\nprobe = \"govulncheck -version\"\ninstall = \"go install golang.org/x/vuln/cmd/govulncheck@latest\"",
    ),
];

/// The comment above the tools.
pub const TOOLS_WHY: &str = r#"
# Tools the checks need: before the first check that names one, the gate runs its probe and,
# when that fails, its install (once); still missing = that check is an ERROR naming it.
# `{COMMAND} setup` installs them all (e.g. in CI); --no-setup only probes.
"#;

/// Advisories relgate itself brings into a Cargo.lock through the xtask and gate-tests crates
/// (`--xtask`): (id, why it does not reach the project's own product).
pub const RELGATE_ADVISORIES: &[(&str, &str)] = &[(
    "RUSTSEC-2023-0071",
    "rsa (Marvin timing attack on RSA decryption; no fixed release) comes in with relgate, a development tool of the xtask and gate-tests crates: it signs forged test tokens and never decrypts with a private key",
)];

/// The acceptance of one of [`RELGATE_ADVISORIES`]: `{ID}`, `{REASON}`, `{UNTIL}`.
pub const RELGATE_ACCEPT: &str = r#"
# The xtask and gate-tests crates bring relgate's own dependencies into Cargo.lock, and with
# them this advisory; it is not in your product's dependencies. Accepted as a condition (the
# verdict is at best GO_WITH_CONDITIONS while it is there), until a relgate release drops it.
[[accept]]
finding = "{ID}"
owner = "the reviewer"
until = "{UNTIL}"
reason = "{REASON}"
"#;

/// `xtask/Cargo.toml`: `{RELGATE}` is the dependency's value.
pub const XTASK_MANIFEST: &str = r#"[package]
name = "xtask"
version = "0.1.0"
edition = "2021"
publish = false

# `cargo xtask gate …` (the alias is in .cargo/config.toml): relgate's command line.
[dependencies]
relgate = {RELGATE}
"#;

/// `xtask/src/main.rs`.
pub const XTASK_MAIN: &str = r#"//! `cargo xtask gate …`: the release security gate's command line (relgate).

fn main() -> std::process::ExitCode {
    relgate::cli::main()
}
"#;

/// `gate-tests/Cargo.toml`: `{RELGATE}` is the dependency's value.
pub const GATE_TESTS_MANIFEST: &str = r#"[package]
name = "gate-tests"
version = "0.1.0"
edition = "2021"
publish = false

# `cargo test -p gate-tests` (or `cargo nextest run -p gate-tests`) runs the gate's checks as
# test cases.
[dependencies]
relgate = {RELGATE}

[[test]]
name = "gate"
path = "tests/gate.rs"
harness = false
"#;

/// `gate-tests/tests/gate.rs`: the harness, as this repository's own gate-tests has it.
pub const GATE_TESTS_MAIN: &str = r#"//! The release gate as a test binary: `cargo test -p gate-tests` runs every check of
//! `packets.toml` as a test case (`cargo nextest run -p gate-tests` runs each in its own
//! process). `RELGATE_GATE` and `RELGATE_OUT` point it at another gate file or out directory;
//! `RELGATE_SIGNING_KEY` signs the run.

fn main() {
    relgate::harness::test_main(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap(),
    )
}
"#;

/// The alias `.cargo/config.toml` gets.
pub const XTASK_ALIAS: &str = "run --package xtask --";

/// A new root manifest for a project that had none.
pub const VIRTUAL_WORKSPACE: &str =
    "[workspace]\nresolver = \"2\"\nmembers = [\"xtask\", \"gate-tests\"]\n";
