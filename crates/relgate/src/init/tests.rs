//! `init`'s tests: a gate for each kind of project and for a mix (each loaded by the gate's own
//! loader), the generic starter for an empty directory, `--xtask` on real `cargo metadata`,
//! and the refusals (existing files, a different alias, a manifest it cannot edit).

use std::path::Path;

use chrono::NaiveDate;

use super::*;
use crate::cargo_project::testing::{package, write};
use crate::spec::Gate;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

/// The gate `init` writes for `dir`, loaded: (its text, its checks as `PACKET::check`).
fn generated(dir: &Path, xtask: bool) -> (String, Vec<String>) {
    let project = detect(dir).unwrap();
    let text = gate(
        &project,
        &GateOptions {
            gate_file: "packets.toml",
            today: today(),
            command: "cargo gate",
            xtask,
        },
    );
    let gate: Gate = crate::spec::parse(&dir.join("packets.toml"), &text)
        .unwrap_or_else(|err| panic!("{err}\n{text}"));
    let checks = gate
        .packets
        .iter()
        .flat_map(|packet| {
            packet
                .checks
                .iter()
                .map(move |c| format!("{}::{}", packet.id, c.id))
        })
        .collect();
    (text, checks)
}

fn tempdir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    (dir, root)
}

#[test]
fn an_empty_directory_gets_the_generic_starter() {
    let (_dir, root) = tempdir();
    let (text, checks) = generated(&root, false);
    assert_eq!(text, starter("packets.toml", today()));
    assert_eq!(
        checks,
        [
            "SEC-00::build",
            "SEC-00::gate-declares-packets",
            "SEC-01::no-committed-secrets"
        ]
    );
}

#[test]
fn a_cargo_workspace_gets_build_tests_lints_and_cargo_audit() {
    let (_dir, root) = tempdir();
    package(&root, "demo");
    let (text, checks) = generated(&root, false);
    assert_eq!(
        checks,
        [
            "SEC-00::cargo-build",
            "SEC-00::cargo-test",
            "SEC-00::clippy",
            "SEC-00::rustfmt",
            "SEC-01::no-committed-secrets",
            "SEC-01::cargo-audit",
        ]
    );
    assert!(
        text.contains("run = \"cargo build --workspace --all-targets\"\n"),
        "{text}"
    );
    assert!(
        text.contains("run = \"cargo test --workspace\"\n"),
        "{text}"
    );
    assert!(text.contains("format = \"cargo-audit\""), "{text}");
    assert!(
        text.contains("a Cargo workspace (1 member: demo), no Cargo.lock yet"),
        "{text}"
    );
    for absent in [
        "npm",
        "go test ./...",
        "finding = ",
        "Dockerfile",
        "workflows",
    ] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
    // A lockfile adds --locked; the xtask pattern keeps gate-tests out of `cargo test` and
    // accepts relgate's own advisory.
    write(&root.join("Cargo.lock"), "version = 4\n");
    let (text, _) = generated(&root, true);
    assert!(
        text.contains("cargo build --workspace --all-targets --locked\""),
        "{text}"
    );
    assert!(
        text.contains("cargo test --workspace --exclude gate-tests\""),
        "{text}"
    );
    assert!(text.contains("finding = \"RUSTSEC-2023-0071\""), "{text}");
    assert!(text.contains("until = \"2026-08-28\""), "{text}");
}

#[test]
fn the_secrets_probe_skips_a_target_dir_cargo_config_puts_in_the_project() {
    let (_dir, root) = tempdir();
    package(&root, "configured");
    write(
        &root.join(".cargo/config.toml"),
        "[build]\ntarget-dir = \"out/cargo\"\n",
    );
    let (text, _) = generated(&root, false);
    // cargo's own answer: the process's CARGO_TARGET_DIR wins over the config, as in cargo.
    let expected = match std::env::var_os("CARGO_TARGET_DIR") {
        None => "exclude = [\"target/\", \"out/cargo/\"]",
        Some(_) => "exclude = [\"target/\"]",
    };
    assert!(text.contains(expected), "{text}");
}

#[test]
fn an_npm_project_gets_ci_its_test_script_and_npm_audit() {
    let (_dir, root) = tempdir();
    write(&root.join("package-lock.json"), "{}");
    write(
        &root.join("package.json"),
        r#"{"scripts": {"build": "tsc"}}"#,
    );
    let (text, checks) = generated(&root, false);
    assert_eq!(
        checks,
        [
            "SEC-00::npm-ci",
            "SEC-01::no-committed-secrets",
            "SEC-01::npm-audit"
        ]
    );
    assert!(
        text.contains("exclude = [\"target/\", \"node_modules/\"]"),
        "{text}"
    );
    write(
        &root.join("package.json"),
        r#"{"scripts": {"test": "node --test"}}"#,
    );
    let (_, checks) = generated(&root, false);
    assert!(
        checks.contains(&"SEC-00::npm-test".to_string()),
        "{checks:?}"
    );
}

#[test]
fn a_go_module_gets_build_test_vet_and_govulncheck() {
    let (_dir, root) = tempdir();
    write(&root.join("go.mod"), "module example.com/x\n");
    let (text, checks) = generated(&root, false);
    assert_eq!(
        checks,
        [
            "SEC-00::go-build",
            "SEC-00::go-test",
            "SEC-00::go-vet",
            "SEC-01::no-committed-secrets",
            "SEC-01::govulncheck",
        ]
    );
    assert!(
        text.contains("govulncheck -format sarif ./... > {report}"),
        "{text}"
    );
    assert!(
        !text.contains("cargo build") && !text.contains("cargo-audit"),
        "{text}"
    );
}

#[test]
fn dockerfiles_and_workflows_get_greps_that_say_what_they_prove() {
    let (_dir, root) = tempdir();
    write(&root.join("Dockerfile"), "FROM debian:latest\n");
    write(&root.join(".github/workflows/ci.yaml"), "on: push\n");
    let (text, checks) = generated(&root, false);
    assert_eq!(
        checks,
        [
            "SEC-01::no-committed-secrets",
            "SEC-02::docker-no-latest",
            "SEC-02::docker-digest-pinned",
            "SEC-02::docker-sets-user",
            "SEC-02::docker-no-root-user",
            "SEC-02::actions-pinned-by-sha",
            "SEC-02::no-pr-head-checkout",
            "SEC-02::no-pull-request-target",
        ]
    );
    assert!(text.contains("files = [\"Dockerfile\"]"), "{text}");
    assert!(text.contains("# A grep, not a container scan"), "{text}");
    assert!(!text.contains("[[tool]]"), "{text}");
}

/// A Dockerfile whose name holds a control character is still covered: the gate names it
/// quoted, the comment shows it escaped (a raw newline would start a line of TOML there), and
/// the check's grep reads it.
#[test]
fn a_dockerfile_named_with_a_control_character_is_covered_and_escaped_in_comments() {
    let (_dir, root) = tempdir();
    let name = "Dockerfile.a\n[[packet]]\u{1b}[2J";
    write(&root.join(name), "FROM node:latest\n");
    let (text, checks) = generated(&root, false);
    assert!(
        checks.contains(&"SEC-02::docker-no-latest".to_string()),
        "{checks:?}"
    );
    assert!(
        text.contains("#   - Dockerfiles: Dockerfile.a\\n[[packet]]\\u{1b}[2J\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
    let gate = crate::spec::parse(&root.join("packets.toml"), &text).unwrap();
    let check = gate
        .packets
        .iter()
        .flat_map(|p| &p.checks)
        .find(|c| c.id == "docker-no-latest")
        .unwrap();
    let crate::spec::CheckKind::Grep(grep) = &check.kind else {
        panic!("{check:?}");
    };
    let log = root.join("grep.log");
    let result = crate::run::check::grep::run(grep, &log).unwrap();
    assert_eq!((result.files, result.matches, result.passed), (1, 1, false));
    // In the check's log too the name is escaped: it cannot forge a line of its own.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "Dockerfile.a\\n[[packet]]\\u{1b}[2J:1:FROM node:latest\n"
    );
}

/// The grep patterns `init` writes, against the lines they are for.
#[test]
fn the_grep_patterns_catch_what_they_say() {
    let (_dir, root) = tempdir();
    write(&root.join("Dockerfile"), "");
    write(&root.join(".github/workflows/ci.yml"), "");
    let gate = crate::spec::parse(&root.join("packets.toml"), &generated(&root, false).0).unwrap();
    let pattern = |id: &str| {
        let check = gate
            .packets
            .iter()
            .flat_map(|p| &p.checks)
            .find(|c| c.id == id)
            .unwrap();
        match &check.kind {
            crate::spec::CheckKind::Grep(grep) => grep.pattern.clone(),
            other => panic!("{id} is {other:?}"),
        }
    };
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "docker-no-latest",
            &[
                "FROM node:latest",
                "from --platform=linux/amd64 a/b:latest AS x",
            ],
            &["FROM node:22", "FROM node"],
        ),
        (
            "docker-digest-pinned",
            &["FROM node:22", "FROM node:22 AS build"],
            &["FROM node:22@sha256:abc", "FROM build", "FROM scratch"],
        ),
        (
            "docker-sets-user",
            &["USER app", "user 1000:1000"],
            &["# USER app", "RUN useradd app"],
        ),
        (
            "docker-no-root-user",
            &["USER root", "USER 0", "USER root:root"],
            &["USER app", "USER 1000", "USER rootless"],
        ),
        (
            "actions-pinned-by-sha",
            &[
                "  - uses: actions/checkout@v4",
                "uses: 'actions/cache@main'",
                "    uses: a/b@0123456789abcdef0123456789abcdef0123456 # short",
            ],
            &[
                "  - uses: actions/checkout@0123456789abcdef0123456789abcdef01234567 # v4",
                "uses: ./.github/actions/local",
                "uses: docker://alpine:3",
            ],
        ),
        (
            "no-pr-head-checkout",
            &[
                "ref: ${{ github.event.pull_request.head.sha }}",
                "ref: refs/pull/1/merge",
            ],
            &["ref: ${{ github.sha }}"],
        ),
        (
            "no-pull-request-target",
            &["on: pull_request_target"],
            &["on: pull_request"],
        ),
    ];
    for (id, matching, not_matching) in cases {
        let regex = pattern(id);
        for line in *matching {
            assert!(regex.is_match(line), "{id} should match {line:?}");
        }
        for line in *not_matching {
            assert!(!regex.is_match(line), "{id} should not match {line:?}");
        }
    }
}

#[test]
fn a_mix_gets_every_kind_and_one_tool_table_each() {
    let (_dir, root) = tempdir();
    package(&root, "mixed");
    write(&root.join("package-lock.json"), "{}");
    write(&root.join("go.mod"), "module example.com/x\n");
    write(&root.join("deploy/Dockerfile"), "FROM scratch\n");
    write(&root.join(".github/workflows/ci.yml"), "on: push\n");
    let (text, checks) = generated(&root, false);
    assert_eq!(
        checks.len(),
        4 + 1 + 3 + 1 + 1 + 1 + 1 + 4 + 3,
        "{checks:?}"
    );
    for tool in [
        "clippy",
        "rustfmt",
        "cargo-audit",
        "npm",
        "go",
        "govulncheck",
    ] {
        assert_eq!(
            text.matches(&format!("[[tool]]\nname = \"{tool}\"\n"))
                .count(),
            1,
            "{tool}"
        );
    }
    assert!(text.contains("files = [\"deploy/Dockerfile\"]"), "{text}");
}

#[test]
fn init_writes_the_gate_and_refuses_to_overwrite_it() {
    let (_dir, root) = tempdir();
    package(&root, "demo");
    let gate = root.join("packets.toml");
    let request = Request {
        gate: &gate,
        force: false,
        xtask: None,
        command: "cargo gate",
        today: today(),
    };
    let done = init(&request).unwrap();
    assert_eq!(done.written, std::slice::from_ref(&gate));
    crate::spec::load(&gate).unwrap();
    let err = init(&request).unwrap_err();
    assert!(matches!(err, InitError::Exists { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    init(&Request {
        force: true,
        ..request
    })
    .unwrap();
}

/// A file named like a credential would be masked on the way out, and the written gate would
/// differ from the one validated (`Dockerfile.[REDACTED]` is a glob character class): init
/// refuses and writes nothing.
#[test]
fn a_file_named_like_a_secret_is_refused_not_written_masked() {
    let (_dir, root) = tempdir();
    // An AWS access key id shape, assembled at run time.
    let name = format!("Dockerfile.{}{}", "AKIA", "IOSFODNN7EXAMPLE");
    write(&root.join(&name), "FROM debian:latest\n");
    let gate = root.join("packets.toml");
    let err = init(&Request {
        gate: &gate,
        force: false,
        xtask: None,
        command: "cargo gate",
        today: today(),
    })
    .unwrap_err();
    assert!(matches!(&err, InitError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("looks like a secret"), "{err}");
    assert!(!err.to_string().contains("AKIA"), "{err}");
    assert!(!gate.exists(), "a refused init wrote the gate");
}

#[test]
fn xtask_scaffolds_a_workspace_cargo_can_read() {
    let (_dir, root) = tempdir();
    package(&root, "demo");
    write(
        &root.join(".cargo/config.toml"),
        "# ours\n[build]\njobs = 2\n",
    );
    let gate = root.join("packets.toml");
    // This crate, as a user adds relgate by path before it is published.
    let relgate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let relgate = Relgate::Path(relgate_dir.to_path_buf());
    let request = Request {
        gate: &gate,
        force: false,
        xtask: Some(relgate),
        command: "cargo xtask gate",
        today: today(),
    };
    let done = init(&request).unwrap();
    let written: Vec<String> = done
        .written
        .iter()
        .map(|path| path.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        written,
        [
            "packets.toml",
            "xtask/Cargo.toml",
            "xtask/src/main.rs",
            "gate-tests/Cargo.toml",
            "gate-tests/tests/gate.rs",
            ".cargo/config.toml",
            "Cargo.toml",
        ]
    );
    let config = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
    assert!(
        config.starts_with("# ours\n[build]\njobs = 2\n"),
        "{config}"
    );
    assert!(
        config.contains("xtask = \"run --package xtask --\""),
        "{config}"
    );
    let main = std::fs::read_to_string(root.join("xtask/src/main.rs")).unwrap();
    assert!(main.contains("relgate::cli::main()"), "{main}");
    let harness = std::fs::read_to_string(root.join("gate-tests/tests/gate.rs")).unwrap();
    assert!(
        harness.contains("relgate::harness::test_main("),
        "{harness}"
    );
    // The harnesses init wrote are not linted (that would check-build all of relgate's
    // dependencies); the user's own crates are.
    let text = std::fs::read_to_string(&gate).unwrap();
    assert!(
        text.contains("cargo clippy --workspace --all-targets --exclude xtask --exclude gate-tests -- -D warnings"),
        "{text}"
    );
    let manifest = std::fs::read_to_string(root.join("xtask/Cargo.toml")).unwrap();
    let expected = format!("relgate = {{ path = \"{}\" }}", relgate_dir.display());
    assert!(manifest.contains(&expected), "{manifest}");
    // cargo itself reads the result: three members, the new ones with their targets.
    let project = crate::cargo_project::load_uncached(&root, &Default::default()).unwrap();
    let member = |name: &str| project.members.iter().find(|m| m.name == name).unwrap();
    assert_eq!(project.members.len(), 3);
    assert!(member("demo").has("lib"));
    assert!(member("gate-tests").has("test") && member("xtask").has("bin"));

    // Again: every file exists, so nothing is written without --force.
    std::fs::remove_file(&gate).unwrap();
    let err = init(&request).unwrap_err();
    assert!(
        matches!(&err, InitError::Exists { path } if path.ends_with("xtask/Cargo.toml")),
        "{err}"
    );
    assert!(!gate.exists(), "a refused init wrote the gate");
    // With --force it rewrites the crates; the members and alias are there already.
    let done = init(&Request {
        force: true,
        ..request
    })
    .unwrap();
    assert_eq!(done.written.len(), 5);
}

#[test]
fn xtask_refuses_another_alias_and_a_member_of_another_workspace() {
    let (_dir, root) = tempdir();
    package(&root, "demo");
    write(
        &root.join(".cargo/config.toml"),
        "[alias]\nxtask = \"run -p tools --\"\n",
    );
    let gate = root.join("packets.toml");
    let request = Request {
        gate: &gate,
        force: false,
        xtask: Some(Relgate::this_version()),
        command: "cargo xtask gate",
        today: today(),
    };
    let err = init(&request).unwrap_err();
    assert!(matches!(err, InitError::AliasDiffers { .. }), "{err}");
    assert!(err.to_string().contains("run -p tools --"), "{err}");
    assert!(!gate.exists() && !root.join("xtask").exists());

    let (_dir, root) = tempdir();
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\n",
    );
    package(&root.join("app"), "app");
    let gate = root.join("app/packets.toml");
    let err = init(&Request {
        gate: &gate,
        ..request
    })
    .unwrap_err();
    assert!(matches!(err, InitError::ByHand { .. }), "{err}");
    assert!(err.to_string().contains("members by hand"), "{err}");
    assert!(!gate.exists());
}

#[test]
fn xtask_without_a_manifest_makes_a_virtual_workspace() {
    let (_dir, root) = tempdir();
    write(&root.join("go.mod"), "module example.com/x\n");
    let gate = root.join("packets.toml");
    init(&Request {
        gate: &gate,
        force: false,
        xtask: Some(Relgate::this_version()),
        command: "cargo xtask gate",
        today: today(),
    })
    .unwrap();
    let manifest = std::fs::read_to_string(root.join("xtask/Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("relgate = \"{}\"", env!("CARGO_PKG_VERSION"))));
    let project = crate::cargo_project::load_uncached(&root, &Default::default()).unwrap();
    assert_eq!(project.members.len(), 2);
}

#[test]
fn xtask_never_writes_through_a_symlink_out_of_the_project() {
    let (_outside_dir, outside) = tempdir();
    for link in [".cargo", "xtask", "gate-tests"] {
        let (_dir, root) = tempdir();
        package(&root, "demo");
        std::os::unix::fs::symlink(&outside, root.join(link)).unwrap();
        let gate = root.join("packets.toml");
        let err = init(&Request {
            gate: &gate,
            force: true,
            xtask: Some(Relgate::this_version()),
            command: "cargo xtask gate",
            today: today(),
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("leads outside the project"),
            "{link}: {err}"
        );
        assert!(!gate.exists(), "{link}: nothing is written");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{link}");
    }
}
