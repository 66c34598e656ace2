//! Destructive git commands, refused at load time unless a check says why it needs one.
//!
//! The seeds' rule 6: "Do not use destructive git commands on shared worktrees". Commands are
//! matched as text, so the rule also sees them inside `sh -c '…'` strings and scripts given
//! inline: quotes are dropped and the command line is split into simple commands at `;`, `&`,
//! `|` and newlines before matching.

use std::sync::OnceLock;

use regex::Regex;

const RULES: &[(&str, &str)] = &[
    (r"\bgit\b.*\breset\b.*\s--hard\b", "git reset --hard"),
    (
        r"\bgit\b.*\bclean\b.*\s(-[a-zA-Z]*f[a-zA-Z]*|--force)\b",
        "git clean -f",
    ),
    (
        r"\bgit\b.*\bcheckout\b.*\s--(\s|$)",
        "git checkout -- <paths>",
    ),
    (
        r"\bgit\b.*\bcheckout\b\s+(\S+\s+)*\.(\s|$)",
        "git checkout .",
    ),
    (
        r"\bgit\b.*\bpush\b.*\s(--force\b|--force-with-lease\b|-[a-zA-Z]*f[a-zA-Z]*\b|\+\S+)",
        "git push --force",
    ),
    (
        r"\bgit\b.*\bbranch\b.*\s(-[a-zA-Z]*D[a-zA-Z]*\b|--delete\s+--force\b|--force\s+--delete\b)",
        "git branch -D",
    ),
    (r"\bgit\b.*\bstash\s+(drop|clear)\b", "git stash drop/clear"),
];

fn compiled() -> &'static [(Regex, &'static str)] {
    static RULES_COMPILED: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    RULES_COMPILED.get_or_init(|| {
        RULES
            .iter()
            .map(|(pattern, name)| (Regex::new(pattern).expect("built-in rule compiles"), *name))
            .collect()
    })
}

/// Returns the destructive git command a command line contains, if any.
pub fn destructive_git_command(command_line: &str) -> Option<&'static str> {
    // Every rule needs the word `git`: most commands are done without a regex search (seven
    // per command made a sizeable part of loading a large gate).
    if !command_line.contains("git") {
        return None;
    }
    let unquoted: String = command_line
        .chars()
        .map(|c| match c {
            '\'' | '"' | '`' | '(' | ')' | '{' | '}' => ' ',
            other => other,
        })
        .collect();
    let mut padded = String::new();
    for segment in unquoted.split([';', '&', '|', '\n']) {
        padded.clear();
        padded.push(' ');
        padded.push_str(segment);
        padded.push(' ');
        if let Some((_, name)) = compiled().iter().find(|(rule, _)| rule.is_match(&padded)) {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &str, expected: Option<&str>) {
        assert_eq!(destructive_git_command(command), expected, "{command}");
    }

    #[test]
    fn refuses_the_seeds_list() {
        check("git reset --hard", Some("git reset --hard"));
        check("git reset --hard HEAD~1", Some("git reset --hard"));
        check(
            "git -C repo reset --hard origin/main",
            Some("git reset --hard"),
        );
        check("git clean -fdx", Some("git clean -f"));
        check("git clean -xdf", Some("git clean -f"));
        check("git clean --force", Some("git clean -f"));
        check(
            "git checkout -- src/lib.rs",
            Some("git checkout -- <paths>"),
        );
        check("git checkout .", Some("git checkout ."));
        check("git push --force origin main", Some("git push --force"));
        check("git push -f", Some("git push --force"));
        check("git push origin +main", Some("git push --force"));
        check("git push --force-with-lease", Some("git push --force"));
        check("git branch -D feature", Some("git branch -D"));
        check("git branch --delete --force feature", Some("git branch -D"));
        check("git stash drop", Some("git stash drop/clear"));
        check("git stash clear", Some("git stash drop/clear"));
    }

    #[test]
    fn sees_inside_shells_and_chains() {
        check("sh -c 'git reset --hard'", Some("git reset --hard"));
        check("bash -c \"cd x && git clean -fd\"", Some("git clean -f"));
        check("make build; git stash drop", Some("git stash drop/clear"));
        check("true && git push -f", Some("git push --force"));
    }

    #[test]
    fn allows_the_harmless() {
        check("git status --porcelain", None);
        check("git reset --soft HEAD~1", None);
        check("git clean -n", None);
        check("git checkout main", None);
        check("git push origin main", None);
        check("git branch -d merged", None);
        check("git stash list", None);
        check("cargo test -p tenant-api", None);
        check("echo reset --hard", None);
        check("git log --format=%H | head -1; echo --hard", None);
    }
}
