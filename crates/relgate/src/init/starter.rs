//! The generic starter: what `init` writes in a directory where it finds no project it knows.
//!
//! The starter shows each kind of entry a gate file has — a command check, a grep check, a
//! probe, checklist items satisfied by checks and by an attestation, a dependency, a severity —
//! and, commented out, services, a probe against a service, a scan, a tool and a risk acceptance. It
//! loads as it is and runs green in any directory, so a team starts from GO and replaces the
//! placeholders with its own checks.

use chrono::NaiveDate;

/// The starter gate file for a gate file named `gate_file` (its file name: the grep check reads
/// the gate file itself); `today` dates the example attestation.
pub fn starter(gate_file: &str, today: NaiveDate) -> String {
    let files = toml::Value::String(glob_escape(gate_file)).to_string();
    STARTER
        .replace("{GATE_FILE_GLOB}", &files)
        .replace("{TODAY}", &today.format("%Y-%m-%d").to_string())
}

/// A file name as a glob that matches only itself.
pub fn glob_escape(name: &str) -> String {
    let mut glob = String::new();
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            glob.push('[');
            glob.push(c);
            glob.push(']');
        } else {
            glob.push(c);
        }
    }
    glob
}

const STARTER: &str = r#"# The release security gate of this project, run by relgate.
#
#   cargo xtask gate                    run every check: verdict GO, GO_WITH_CONDITIONS or NO_GO
#   cargo xtask gate -- --list          list the test cases without running anything
#   cargo xtask gate --packet SEC-00    one packet only (a partial run is not a release verdict)
#
# Evidence and reports go to target/gate/: evidence.jsonl (the hash-chained ledger), junit.xml,
# tracker.md, report.html, report.sarif, attestation.intoto.json and logs/. Exit codes: 0 GO or
# GO_WITH_CONDITIONS, 1 NO_GO, 2 this file is invalid (nothing ran). Unknown keys, unknown checks and dependency cycles are refused with their line.
#
# Every check below passes anywhere: replace them with your project's real checks.

[gate]
name = "Release Security Gate"
# plan = "docs/release-plan.md"     # optional: a document the reports link to

[defaults]
timeout = "10m"    # a check that runs longer fails; durations: 500ms, 90s, 10m, 1h30m
severity = "P0"    # P0 blocks the release, P1 needs an [[accept]], P2 is tracked only

# A packet is a unit of work: checks (each one a test case, SEC-00::build) and a checklist.
# It is DONE when its blocking checks pass and every checklist item holds.
[[packet]]
id = "SEC-00"                       # letters, digits, . _ -
title = "Scope freeze"
# implementer = "alice"
# reviewer = "bob"
checklist = [
  # An item holds when every check it names passes...
  { item = "The workspace builds.", by = ["build"] },
  { item = "The gate declares its packets.", by = ["gate-declares-packets"] },
  # ...or when a person attests it, on a date that is not in the future. Put the reviewer's
  # name here, or bind the item to a check instead.
  { item = "Threat model reviewed.", attested = { by = "the reviewer", on = "{TODAY}" } },
]

# A command check: a string runs through `sh -c` in this file's directory and passes when it
# exits 0 (or with a code `expect` lists).
[[packet.check]]
id = "build"
run = "echo 'replace with your build, e.g. cargo build --workspace --locked'"
# run = ["cargo", "build", "--locked"]    # an array runs without a shell
# cwd = "services/api"                    # relative to this file's directory
# env = { RUST_LOG = "info" }
# expect = { exit = [0, 1] }
# timeout = "20m"
# severity = "P1"                         # this check only; the default comes from [defaults]

# A grep check: passes when the pattern (a regex) matches a line of the files (globs relative
# to this file's directory); expect = "no-match" passes when no line matches.
[[packet.check]]
id = "gate-declares-packets"
grep = { pattern = '^\[\[packet\]\]', files = {GATE_FILE_GLOB} }

[[packet]]
id = "SEC-01"
title = "No committed secrets"
depends_on = ["SEC-00"]             # runs only once SEC-00 is DONE
checklist = [
  { item = "No credential is committed outside the reviewed allowlist.", by = ["no-committed-secrets"] },
]

# A probe attacks instead of asserting: this one scans the tree (honouring .gitignore) with
# relgate's built-in secret rules and passes only when it finds nothing.
[[packet.check]]
id = "no-committed-secrets"
probe = "secrets"
exclude = ["target/"]
# allowlist = ".relgate/secrets.allow"    # reviewed fingerprints, one a line
severity = "P0"

# Services a check needs are started before the first check that names them and stopped when
# the run ends. ${name.url}, ${name.host} and ${name.port} put their address into commands.
#
# [[service]]
# name = "db"
# postgres = "ephemeral"            # a throwaway cluster from the local PostgreSQL binaries
#
# [[service]]
# name = "api"
# run = "cargo run --quiet -p my-api -- --listen 127.0.0.1:${port}"
# env = { DATABASE_URL = "${db.url}" }
# ready = { http = "/healthz", timeout = "60s" }

# A probe against a running service: forged bearer tokens must all be refused. Add it under a
# packet (after its [[packet]] line); see the README for every probe and its keys.
#
# [[packet.check]]
# id = "jwt-forgery"
# probe = "jwt"
# url = "${api.url}/v1/me"
# issuer = "https://issuer.example"
# audience = "my-api"
# alg = "RS256"
# key = { file = "keys/test-issuer.pem" }       # a test key the service trusts

# A scan: a scanner writes {report}, relgate parses the findings and triages each by severity.
#
# [[packet.check]]
# id = "dependency-audit"
# scan = { run = "cargo audit --json > {report}", format = "cargo-audit" }
# tools = ["cargo-audit"]

# Tools checks need: before the first check that names one, the gate runs its probe and, when
# that fails, its install (once), then probes again; still missing = that check is an ERROR
# naming it. `cargo xtask gate setup` installs them all (e.g. in CI).
#
# [[tool]]
# name = "cargo-audit"
# probe = "cargo audit --version"
# install = "cargo install --locked cargo-audit"

# A risk acceptance lets a failing check or a scanner finding through, until a date, as a
# condition: the verdict is then GO_WITH_CONDITIONS at best (a P0 too, never GO).
#
# [[accept]]
# check = "SEC-01::dependency-audit"            # or finding = "RUSTSEC-2026-0001"
# owner = "dana"
# until = "2026-12-31"                          # inclusive; afterwards it is ignored and reported
# reason = "no fixed release yet, tracked in #123"

# Human review: reviewers approve packets of a run with the SSH key they sign commits with
# (`cargo xtask gate approve SEC-01 --key ~/.ssh/id_ed25519`), into .relgate/approvals/ (commit
# it). The allowed signers file is git's: one line per reviewer, made from their public key:
#   echo "rita@example.com namespaces=\"relgate-review\" $(cat ~/.ssh/id_ed25519.pub)" >> .relgate/allowed_signers
#
# [review]
# allowed_signers = ".relgate/allowed_signers"
# require = true          # GO needs every packet APPROVED (or a list: ["SEC-01"])
# two_person = true       # a packet's implementer cannot approve it
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
    }

    #[test]
    fn the_starter_loads() {
        let text = starter("packets.toml", date());
        let gate = crate::spec::parse(Path::new("packets.toml"), &text).expect("starter loads");
        let ids: Vec<&str> = gate
            .packets
            .iter()
            .map(|packet| packet.id.as_str())
            .collect();
        assert_eq!(ids, ["SEC-00", "SEC-01"]);
        assert!(text.contains(r#"on = "2026-03-01""#), "{text}");
        assert!(text.contains(r#"files = "packets.toml""#), "{text}");
        // The commented [review] section, uncommented, loads too.
        let reviewed = text
            .replace("# [review]", "[review]")
            .replace("# allowed_signers =", "allowed_signers =")
            .replace("# require = true ", "require = true ")
            .replace("# two_person = true ", "two_person = true ");
        let gate = crate::spec::parse(Path::new("packets.toml"), &reviewed).expect("loads");
        let review = gate.review.expect("a [review] section");
        assert_eq!(review.required, ["SEC-00", "SEC-01"]);
    }

    #[test]
    fn the_grep_reads_the_gate_file_whatever_its_name() {
        let text = starter("gate [v2].toml", date());
        assert!(text.contains(r#"files = "gate [[]v2[]].toml""#), "{text}");
        crate::spec::parse(Path::new("gate [v2].toml"), &text).expect("starter loads");
    }
}
