//! `gate approve` and `gate request-changes` on a real repository: keys made by ssh-keygen, a
//! gate with `[review]`, a real run; what `approve` writes verifies with `ssh-keygen -Y
//! verify`, and approving a run of other code, a dirty checkout or with an unlisted key is
//! refused with the reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{skip, xtask};

const GATE: &str = r#"[gate]
name = "review e2e"

[[packet]]
id = "A"
title = "Tenancy"
implementer = "ivan@example.com"
[[packet.check]]
id = "unit"
run = "grep -q answer src/lib.rs"

[[packet]]
id = "B"
title = "Release"
depends_on = ["A"]
checklist = [{ item = "Release checks pass.", by = ["ok"] }]
[[packet.check]]
id = "ok"
run = "true"

[review]
allowed_signers = ".relgate/allowed_signers"
"#;

fn sh(dir: &Path, script: &str) {
    let status = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// A committed repository with the gate, a key for rita (listed) and one for eve (not).
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("packets.toml"), GATE).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/lib.rs"), "// the answer is 42\n").unwrap();
        sh(
            root,
            "mkdir -p keys .relgate && ssh-keygen -q -t ed25519 -N '' -C rita -f keys/rita \
                  && ssh-keygen -q -t ed25519 -N '' -C eve -f keys/eve",
        );
        let public = std::fs::read_to_string(root.join("keys/rita.pub")).unwrap();
        std::fs::write(
            root.join(".relgate/allowed_signers"),
            format!(
                "rita@example.com namespaces=\"relgate-review\" {}",
                public.trim()
            ),
        )
        .unwrap();
        std::fs::write(root.join(".gitignore"), "keys/\nout/\n").unwrap();
        sh(
            root,
            "git init -q . && git config user.email t@example.com && git config user.name t \
                  && git add . && git commit -qm start",
        );
        Repo { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn gate(&self) -> Output {
        xtask()
            .current_dir(self.root())
            .args(["gate", "--out", "out"])
            .output()
            .unwrap()
    }

    fn review(&self, args: &[&str]) -> Output {
        xtask()
            .current_dir(self.root())
            .args(["gate"])
            .args(args)
            .output()
            .unwrap()
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn have_ssh_keygen() -> bool {
    let found = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        skip("ssh-keygen is not installed (openssh-client)");
    }
    found
}

/// The review files of `packet`, record and signature.
fn reviews(repo: &Repo, packet: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(repo.root().join(".relgate/approvals").join(packet))
            .map(|dir| dir.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn approvals_are_signed_records_ssh_keygen_verifies() {
    if !have_ssh_keygen() {
        return;
    }
    let repo = Repo::new();
    assert!(repo.gate().status.success(), "the gate runs GO");
    let approved = repo.review(&[
        "approve",
        "A",
        "B",
        "--out",
        "out",
        "--key",
        "keys/rita",
        "--note",
        "read the RLS policies",
    ]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    let files = reviews(&repo, "A");
    assert_eq!(files.len(), 2, "{files:?}");
    let (record, signature) = (&files[0], &files[1]);
    assert!(signature.to_string_lossy().ends_with(".json.sig"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    assert_eq!(json["decision"], "APPROVED");
    assert_eq!(json["reviewer"], "rita@example.com");
    assert_eq!(json["note"], "read the RLS policies");
    assert_eq!(json["binding"]["code"].as_str().unwrap().len(), 64);
    // OpenSSH agrees: the record is signed by rita for the review namespace.
    let verify = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "relgate-review",
            "-I",
            "rita@example.com",
            "-f",
        ])
        .arg(repo.root().join(".relgate/allowed_signers"))
        .arg("-s")
        .arg(signature)
        .stdin(std::fs::File::open(record).unwrap())
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    // Changes requested, with findings.
    let changes = repo.review(&[
        "request-changes",
        "B",
        "--out",
        "out",
        "--key",
        "keys/rita",
        "--reason",
        "no rollback plan",
        "--reason",
        "P1 open",
    ]);
    assert_eq!(changes.status.code(), Some(0), "{}", text(&changes));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            reviews(&repo, "B")
                .iter()
                .find(|f| {
                    f.to_string_lossy().contains("changes-requested")
                        && f.extension().is_some_and(|e| e == "json")
                })
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        json["findings"],
        serde_json::json!(["no rollback plan", "P1 open"])
    );
}

#[test]
fn other_code_a_dirty_checkout_and_unlisted_keys_are_refused() {
    if !have_ssh_keygen() {
        return;
    }
    let repo = Repo::new();
    assert!(repo.gate().status.success());
    // A key the allowed signers file does not list.
    let eve = repo.review(&["approve", "A", "--out", "out", "--key", "keys/eve"]);
    assert_eq!(eve.status.code(), Some(2), "{}", text(&eve));
    assert!(
        text(&eve).contains("lists no identity for the key"),
        "{}",
        text(&eve)
    );
    let posing = repo.review(&[
        "approve",
        "A",
        "--out",
        "out",
        "--key",
        "keys/eve",
        "--as",
        "rita@example.com",
    ]);
    assert_eq!(posing.status.code(), Some(2), "{}", text(&posing));
    assert!(text(&posing).contains("is not in"), "{}", text(&posing));
    // A change not committed.
    std::fs::write(repo.root().join("src/lib.rs"), "// the answer is 43\n").unwrap();
    let dirty = repo.review(&["approve", "A", "--out", "out", "--key", "keys/rita"]);
    assert_eq!(dirty.status.code(), Some(1), "{}", text(&dirty));
    assert!(
        text(&dirty).contains("the working tree has changes"),
        "{}",
        text(&dirty)
    );
    // Committed, but the run is of the commit before.
    sh(repo.root(), "git commit -qam change");
    let stale = repo.review(&["approve", "A", "--out", "out", "--key", "keys/rita"]);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale));
    assert!(
        text(&stale).contains("is not of the code checked out now"),
        "{}",
        text(&stale)
    );
    assert!(reviews(&repo, "A").is_empty());
    // Run again on this commit: approved.
    assert!(repo.gate().status.success());
    let approved = repo.review(&["approve", "A", "--out", "out", "--key", "keys/rita"]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    // A packet the gate does not have.
    let unknown = repo.review(&["approve", "Z", "--out", "out", "--key", "keys/rita"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
}

/// The packet records of the run in `out`, by packet id.
fn packet_reviews(repo: &Repo) -> std::collections::BTreeMap<String, serde_json::Value> {
    std::fs::read_to_string(repo.root().join("out/evidence.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|record| record["kind"] == "packet")
        .map(|record| {
            (
                record["packet"].as_str().unwrap().to_string(),
                record["review"].clone(),
            )
        })
        .collect()
}

#[test]
fn the_verdict_needs_required_packets_approved_by_someone_else_for_this_code() {
    if !have_ssh_keygen() {
        return;
    }
    let repo = Repo::new();
    let root = repo.root();
    // Review is required, and ivan (A's implementer) is a listed signer too.
    sh(root, "ssh-keygen -q -t ed25519 -N '' -C ivan -f keys/ivan");
    let ivan = std::fs::read_to_string(root.join("keys/ivan.pub")).unwrap();
    let signers = std::fs::read_to_string(root.join(".relgate/allowed_signers")).unwrap();
    std::fs::write(
        root.join(".relgate/allowed_signers"),
        format!("{}\nivan@example.com {}\n", signers.trim(), ivan.trim()),
    )
    .unwrap();
    std::fs::write(
        root.join("packets.toml"),
        GATE.replace("[review]\n", "[review]\nrequire = true\n"),
    )
    .unwrap();
    sh(root, "git commit -qam 'require review'");

    // Nobody reviewed: NO_GO, and the tracker says PENDING_REVIEW.
    let run = repo.gate();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert_eq!(packet_reviews(&repo)["A"]["state"], "PENDING_REVIEW");
    let tracker = std::fs::read_to_string(root.join("out/tracker.md")).unwrap();
    assert!(tracker.contains("| PENDING_REVIEW |"), "{tracker}");

    // ivan approves his own packet: that does not count.
    let own = repo.review(&["approve", "A", "--out", "out", "--key", "keys/ivan"]);
    assert_eq!(own.status.code(), Some(0), "{}", text(&own));
    assert_eq!(repo.gate().status.code(), Some(1));
    expect_review(&repo, "A", "PENDING_REVIEW", "two-person rule");

    // rita approves both, the approvals are committed: GO, with the review record.
    let approved = repo.review(&[
        "approve",
        "A",
        "B",
        "--out",
        "out",
        "--key",
        "keys/rita",
        "--note",
        "read it",
    ]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    sh(
        root,
        "git add .relgate && git commit -qm 'review: A, B approved'",
    );
    let run = repo.gate();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let reviews = packet_reviews(&repo);
    assert_eq!(reviews["A"]["state"], "APPROVED");
    assert_eq!(reviews["A"]["review"]["reviewer"], "rita@example.com");
    let tracker = std::fs::read_to_string(root.join("out/tracker.md")).unwrap();
    let commit = reviews["A"]["review"]["commit"].as_str().unwrap();
    assert!(
        tracker.contains(&format!("Rollback: revert {commit}")),
        "{tracker}"
    );
    assert!(tracker.contains("| APPROVED |"), "{tracker}");
    // The same review in JUnit, the HTML page and the attestation.
    let junit = std::fs::read_to_string(root.join("out/junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<property name="B.review.state" value="APPROVED"/>"#),
        "{junit}"
    );
    assert!(junit.contains(r#"<property name="B.review.reviewer" value="rita@example.com"/>"#));
    let html = std::fs::read_to_string(root.join("out/report.html")).unwrap();
    assert!(html.contains("SSH signature verified"), "{html}");
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("out/attestation.intoto.json")).unwrap())
            .unwrap();
    let reviews = &statement["predicate"]["reviews"];
    assert_eq!(reviews[0]["packet"], "A", "{reviews}");
    assert_eq!(reviews[0]["state"], "APPROVED", "{reviews}");
    assert_eq!(reviews[0]["commit"], commit, "{reviews}");
    let verify = xtask()
        .current_dir(root)
        .args(["gate", "verify", "--out", "out"])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    // A byte changed in B's approval: it no longer counts.
    let record = reviews_of(&repo, "B", "approved.json");
    let original = std::fs::read(&record).unwrap();
    std::fs::write(
        &record,
        String::from_utf8_lossy(&original).replace("read it", "read It"),
    )
    .unwrap();
    assert_eq!(repo.gate().status.code(), Some(1));
    expect_review(&repo, "B", "PENDING_REVIEW", "does not match");
    std::fs::write(&record, &original).unwrap();

    // New code: the approvals are stale.
    std::fs::write(root.join("src/lib.rs"), "// the answer is 43\n").unwrap();
    sh(root, "git commit -qam change");
    assert_eq!(repo.gate().status.code(), Some(1));
    expect_review(&repo, "A", "STALE", "other code");

    // Changes requested on this code: CHANGES_REQUESTED with the findings in the tracker.
    let changes = repo.review(&[
        "request-changes",
        "B",
        "--out",
        "out",
        "--key",
        "keys/rita",
        "--reason",
        "no rollback plan",
    ]);
    assert_eq!(changes.status.code(), Some(0), "{}", text(&changes));
    sh(
        root,
        "git add .relgate && git commit -qm 'review: B changes requested'",
    );
    assert_eq!(repo.gate().status.code(), Some(1));
    assert_eq!(packet_reviews(&repo)["B"]["state"], "CHANGES_REQUESTED");
    let tracker = std::fs::read_to_string(root.join("out/tracker.md")).unwrap();
    assert!(tracker.contains("Finding: no rollback plan"), "{tracker}");
    assert!(
        tracker.contains("The reviewer requested changes: the boxes stay open"),
        "{tracker}"
    );
}

/// The one review file of `packet` whose name ends with `suffix`.
fn reviews_of(repo: &Repo, packet: &str, suffix: &str) -> PathBuf {
    reviews(repo, packet)
        .into_iter()
        .find(|file| file.to_string_lossy().ends_with(suffix))
        .unwrap()
}

/// Asserts the review state of `packet` in the run in `out`, and that its notes mention `note`.
fn expect_review(repo: &Repo, packet: &str, state: &str, note: &str) {
    let reviews = packet_reviews(repo);
    assert_eq!(reviews[packet]["state"], state, "{reviews:?}");
    assert!(
        reviews[packet]["notes"].to_string().contains(note),
        "{reviews:?}"
    );
}

#[test]
fn a_required_packet_needs_its_predecessors_approved_and_binds_its_acceptances() {
    if !have_ssh_keygen() {
        return;
    }
    let repo = Repo::new();
    let root = repo.root();
    let gate = GATE
        .replace(
            "[[packet.check]]\nid = \"ok\"\nrun = \"true\"\n",
            "[[packet.check]]\nid = \"ok\"\nrun = \"false\"\nseverity = \"P0\"\n",
        )
        .replace("[review]\n", "[review]\nrequire = [\"B\"]\n")
        + "\n[[accept]]\ncheck = \"B::ok\"\nowner = \"dana\"\nuntil = \"2099-12-31\"\nreason = \"known, fixed in the next release\"\n";
    std::fs::write(root.join("packets.toml"), &gate).unwrap();
    sh(root, "git commit -qam 'require B'");
    assert_eq!(repo.gate().status.code(), Some(1));
    expect_review(&repo, "A", "PENDING_REVIEW", "");
    // B alone is not enough: its predecessor A must be approved too.
    let b = repo.review(&["approve", "B", "--out", "out", "--key", "keys/rita"]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    sh(root, "git add .relgate && git commit -qm 'review: B'");
    let run = repo.gate();
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let verdict = std::fs::read_to_string(root.join("out/evidence.jsonl")).unwrap();
    assert!(
        verdict.contains("A is PENDING_REVIEW: [review] requires it APPROVED before B"),
        "{verdict}"
    );
    let a = repo.review(&["approve", "A", "--out", "out", "--key", "keys/rita"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    sh(root, "git add .relgate && git commit -qm 'review: A'");
    // The accepted P0 is a condition: GO_WITH_CONDITIONS (exit 0), never GO.
    let run = repo.gate();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(text(&run).contains("GO_WITH_CONDITIONS"), "{}", text(&run));
    // The approval bound the acceptance: a new reason makes B's approval stale.
    std::fs::write(
        root.join("packets.toml"),
        gate.replace("known, fixed in the next release", "known; fix planned"),
    )
    .unwrap();
    sh(root, "git commit -qam 'new reason'");
    assert_eq!(repo.gate().status.code(), Some(1));
    expect_review(&repo, "B", "STALE", "other outcomes");
}
