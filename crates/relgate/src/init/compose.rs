//! The gate file `init` writes for what [`super::detect`] found: the checks of
//! [`super::templates`] that apply, grouped into packets, with the tools they name. A directory
//! with nothing `init` knows gets the generic starter.

use chrono::NaiveDate;

use super::detect::Project;
use super::starter::{glob_escape, starter};
use super::templates::{self, Snippet};
use crate::output::one_line;

/// How the gate is written.
#[derive(Debug, Clone)]
pub struct GateOptions<'a> {
    /// The gate file's name (the generic starter's grep reads it).
    pub gate_file: &'a str,
    /// Today: dates the example attestation and acceptances.
    pub today: NaiveDate,
    /// How the user runs the gate (`cargo xtask gate`, `cargo gate`), for the comments.
    pub command: &'a str,
    /// Whether the xtask and gate-tests crates are (being) added to the workspace.
    pub xtask: bool,
}

/// A check chosen for the gate, rendered.
struct Chosen {
    id: &'static str,
    item: &'static str,
    text: String,
}

/// Renders `snippet` with its placeholders filled from `fills`.
fn choose(snippet: &Snippet, fills: &[(&str, String)]) -> Chosen {
    let fill = |text: &str| {
        fills.iter().fold(text.to_string(), |text, (key, value)| {
            text.replace(key, value)
        })
    };
    let mut text = String::new();
    for line in fill(snippet.why).lines() {
        text.push_str(&format!("# {line}\n"));
    }
    text.push_str(&format!(
        "[[packet.check]]\nid = \"{}\"\n{}\n",
        snippet.id,
        fill(snippet.body)
    ));
    Chosen {
        id: snippet.id,
        item: snippet.item,
        text,
    }
}

/// A TOML array of strings.
/// File names for a `#` comment: a control character (a newline would end the comment and
/// start a line of TOML) is written as its escape, the name itself stays in the gate quoted.
fn comment_list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().map(|name| one_line(name)).collect();
    shown.join(", ")
}

fn toml_array(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| toml::Value::String(item.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// The gate file for `project`.
pub fn gate(project: &Project, options: &GateOptions) -> String {
    if project.is_empty() {
        return starter(options.gate_file, options.today);
    }
    let mut found = String::new();
    let mut build = Vec::new();
    let mut risk = Vec::new();
    let mut hardening = Vec::new();
    let mut exclude = vec!["target/".to_string()];
    if let Some(cargo) = &project.cargo {
        let gate_tests = options.xtask || cargo.members.iter().any(|member| member == "gate-tests");
        found.push_str(&format!(
            "#   - a Cargo workspace ({} member{}: {}){}\n",
            cargo.members.len(),
            if cargo.members.len() == 1 { "" } else { "s" },
            cargo.members.join(", "),
            if cargo.locked {
                " with Cargo.lock"
            } else {
                ", no Cargo.lock yet"
            },
        ));
        let fills = [
            ("{LOCKED}", if cargo.locked { " --locked" } else { "" }.to_string()),
            (
                "{CARGO_TEST_EXCLUDE}",
                if gate_tests { " --exclude gate-tests" } else { "" }.to_string(),
            ),
            (
                "{CARGO_TEST_NOTE}",
                if gate_tests {
                    ", except gate-tests: that crate runs this gate, and a gate\nrefuses to run itself from one of its own checks"
                } else {
                    ""
                }
                .to_string(),
            ),
            // The xtask and gate-tests crates `--xtask` writes are relgate's one-call harnesses:
            // linting them would check-build every dependency of relgate for nothing.
            (
                "{CLIPPY_EXCLUDE}",
                if options.xtask { " --exclude xtask --exclude gate-tests" } else { "" }.to_string(),
            ),
            (
                "{CLIPPY_NOTE}",
                if options.xtask {
                    "\nThe xtask and gate-tests crates init wrote are one call into relgate each: not linted\n(that would check-build all of relgate's dependencies). Lint them once they hold code of yours."
                } else {
                    ""
                }
                .to_string(),
            ),
        ];
        build.extend(templates::CARGO.iter().map(|s| choose(s, &fills)));
        risk.push(choose(&templates::CARGO_AUDIT, &[]));
        if let Some(target) = &cargo.target_dir {
            exclude.push(format!("{}/", glob_escape(target)));
        }
    }
    if let Some(npm) = &project.npm {
        found.push_str(&format!(
            "#   - an npm project (package-lock.json{})\n",
            if npm.test_script {
                ", a test script"
            } else {
                ", no test script"
            }
        ));
        build.push(choose(&templates::NPM[0], &[]));
        if npm.test_script {
            build.push(choose(&templates::NPM[1], &[]));
        }
        risk.push(choose(&templates::NPM_AUDIT, &[]));
        exclude.push("node_modules/".to_string());
    }
    if project.go {
        found.push_str("#   - a Go module (go.mod)\n");
        build.extend(templates::GO.iter().map(|s| choose(s, &[])));
        risk.push(choose(&templates::GOVULNCHECK, &[]));
    }
    risk.insert(
        0,
        choose(&templates::SECRETS, &[("{EXCLUDE}", toml_array(&exclude))]),
    );
    if !project.dockerfiles.is_empty() {
        found.push_str(&format!(
            "#   - Dockerfiles: {}\n",
            comment_list(&project.dockerfiles)
        ));
        let files: Vec<String> = project.dockerfiles.iter().map(|f| glob_escape(f)).collect();
        let fills = [("{FILES}", toml_array(&files))];
        hardening.extend(templates::DOCKER.iter().map(|s| choose(s, &fills)));
    }
    if !project.workflows.is_empty() {
        found.push_str(&format!(
            "#   - GitHub Actions workflows: {}\n",
            comment_list(&project.workflows)
        ));
        let globs = [".github/workflows/*.yml", ".github/workflows/*.yaml"].map(String::from);
        let fills = [("{FILES}", toml_array(&globs))];
        hardening.extend(templates::WORKFLOWS.iter().map(|s| choose(s, &fills)));
    }

    let mut text = templates::HEADER
        .replace("{FOUND}", &found)
        .replace("{COMMAND}", options.command);
    let all: Vec<&Chosen> = build.iter().chain(&risk).chain(&hardening).collect();
    let tools: Vec<&(&str, &str)> = templates::TOOLS
        .iter()
        .filter(|(name, _)| {
            let named = format!("tools = [\"{name}\"]");
            all.iter().any(|check| check.text.contains(&named))
        })
        .collect();
    if !tools.is_empty() {
        text.push_str(&templates::TOOLS_WHY.replace("{COMMAND}", options.command));
        let tables: Vec<String> = tools
            .iter()
            .map(|(_, table)| format!("[[tool]]\n{table}\n"))
            .collect();
        text.push_str(&tables.join("\n"));
    }
    let mut attestation = Some(
        templates::ATTESTATION.replace("{TODAY}", &options.today.format("%Y-%m-%d").to_string()),
    );
    let packets = [
        (
            "SEC-00",
            "Builds, tests and lints",
            "# What the project's own tools say: it builds, its tests pass, its linters are clean.\n",
            build,
        ),
        (
            "SEC-01",
            "No committed secrets, no known-vulnerable dependencies",
            "# What is in the tree and in the lockfiles: no credentials, no unaccepted advisories.\n",
            risk,
        ),
        (
            "SEC-02",
            "Container and CI hardening",
            "# Greps over build and CI files for well-known risks. A grep sees lines, not meaning: each\n# check says what it proves and what it cannot see.\n",
            hardening,
        ),
    ];
    for (id, title, why, checks) in packets {
        if checks.is_empty() {
            continue;
        }
        text.push_str(
            &templates::PACKET
                .replace("{ID}", id)
                .replace("{TITLE}", title)
                .replace("{WHY}", why),
        );
        text.push_str("checklist = [\n");
        for check in &checks {
            text.push_str(&format!(
                "  {{ item = {}, by = [\"{}\"] }},\n",
                toml::Value::String(check.item.to_string()),
                check.id
            ));
        }
        if let Some(attestation) = attestation.take() {
            text.push_str(&attestation);
        }
        text.push_str("]\n");
        for check in &checks {
            text.push('\n');
            text.push_str(&check.text);
        }
    }
    if options.xtask && project.cargo.is_some() {
        let until = options.today + chrono::Days::new(180);
        for (id, reason) in templates::RELGATE_ADVISORIES {
            text.push_str(
                &templates::RELGATE_ACCEPT
                    .replace("{ID}", id)
                    .replace("{REASON}", reason)
                    .replace("{UNTIL}", &until.format("%Y-%m-%d").to_string()),
            );
        }
    }
    text
}
