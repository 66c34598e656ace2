//! The importer's unit tests.

use super::decode::repair_mojibake;
use super::*;
use crate::spec::{CheckKind, Gate, Satisfaction};
use std::time::Duration;

/// Imports `text`, loads the result with the spec loader and checks that no line was left
/// without a place.
fn import_text(text: &str) -> (Imported, Gate) {
    import_bytes(text.as_bytes())
}

fn import_bytes(bytes: &[u8]) -> (Imported, Gate) {
    let imported = import("tracker.md", bytes).unwrap_or_else(|err| panic!("{err}"));
    let gate = crate::spec::parse(Path::new("packets.toml"), &imported.toml)
        .unwrap_or_else(|err| panic!("{err}\n{}", imported.toml));
    assert!(
        !imported
            .notes
            .iter()
            .any(|note| note.message.contains("found no place")),
        "{:?}\n{}",
        imported.notes,
        imported.toml
    );
    let again = import("tracker.md", bytes).unwrap();
    assert_eq!(again.toml, imported.toml, "deterministic");
    (imported, gate)
}

fn ids(gate: &Gate) -> Vec<&str> {
    gate.packets
        .iter()
        .map(|packet| packet.id.as_str())
        .collect()
}

fn items(gate: &Gate, packet: &str) -> Vec<String> {
    gate.packet(packet)
        .unwrap_or_else(|| panic!("no packet {packet}"))
        .checklist
        .iter()
        .map(|item| item.text.clone())
        .collect()
}

fn command<'g>(gate: &'g Gate, packet: &str, check: &str) -> &'g crate::spec::CommandSpec {
    match &gate.packet(packet).unwrap().check(check).unwrap().kind {
        CheckKind::Command(spec) => spec,
        other => panic!("{other:?}"),
    }
}

fn warned(imported: &Imported, needle: &str) -> bool {
    imported
        .notes
        .iter()
        .any(|note| note.level == NoteLevel::Warning && note.message.contains(needle))
}

const BOARD: &str = "\
# Release tracker

Linked plan: docs/plan.md

## Rules

1. Do not use destructive git commands.

## Packet Board

| Packet | Title | Status | Implementer | Reviewer |
|---|---|---|---|---|
| SEC-00 | Scope | DONE | alice | bob |
| SEC-01 | Replay | PENDING | carol | — |

## SEC-00 Checklist: Scope

- [x] Scope declared.
- [ ] Rubric documented.

### Required Commands

- [x] `cargo build` -> exit 0

## SEC-01 Checklist: Replay

Depends on: SEC-00

- [ ] Suites rerun.
";

#[test]
fn the_board_gives_packets_people_and_statuses_as_comments() {
    let (imported, gate) = import_text(BOARD);
    assert_eq!(ids(&gate), ["SEC-00", "SEC-01"]);
    assert_eq!(gate.name, "Release tracker");
    assert_eq!(gate.plan_link.as_deref(), Some("docs/plan.md"));
    let sec00 = gate.packet("SEC-00").unwrap();
    assert_eq!(sec00.title, "Scope");
    assert_eq!(sec00.implementer.as_deref(), Some("alice"));
    assert_eq!(sec00.reviewer.as_deref(), Some("bob"));
    assert_eq!(
        gate.packet("SEC-01").unwrap().reviewer,
        None,
        "a dash is nobody"
    );
    assert_eq!(gate.packet("SEC-01").unwrap().depends_on, ["SEC-00"]);
    assert_eq!(
        command(&gate, "SEC-00", "cargo-build").display,
        "cargo build"
    );
    let toml = &imported.toml;
    assert!(
        toml.contains("# 13: on the board (a hand claim, not evidence): Status: DONE"),
        "{toml}"
    );
    assert!(
        toml.contains("# 7: 1. Do not use destructive git commands."),
        "{toml}"
    );
    assert!(
        toml.contains("# 26: Depends on: SEC-00") || toml.contains("depends_on"),
        "{toml}"
    );
}

#[test]
fn details_under_a_command_are_comments_not_commands() {
    // relgate's own tracker.md nests the log and its digest under each command.
    let text = "\
## SEC-00 Checklist: Scope

- [ ] Builds.

### Required Commands

- [x] `cargo build` -> exit 0 (8.1s)
  - log: `logs/SEC-00/build.log` (228 bytes, sha256 `d85e2b41`)
- [ ] `cargo test` -> exit 0
";
    let (imported, gate) = import_text(text);
    let commands: Vec<&str> = gate
        .packet("SEC-00")
        .unwrap()
        .checks
        .iter()
        .filter(|check| check.id != PLACEHOLDER_CHECK)
        .map(|check| check.id.as_str())
        .collect();
    assert_eq!(commands, ["cargo-build", "cargo-test"]);
    assert!(
        imported
            .toml
            .contains("# 8:   - log: `logs/SEC-00/build.log`"),
        "{}",
        imported.toml
    );
}

#[test]
fn a_ticked_box_is_a_comment_and_never_satisfies_an_item() {
    let (imported, gate) = import_text(BOARD);
    let sec00 = gate.packet("SEC-00").unwrap();
    for item in &sec00.checklist {
        assert!(
            matches!(&item.satisfied_by, Satisfaction::Checks(by) if by == &[PLACEHOLDER_CHECK]),
            "{item:?}"
        );
    }
    let placeholder = command(&gate, "SEC-00", PLACEHOLDER_CHECK);
    assert_eq!(placeholder.expect_exit, [0]);
    assert!(
        placeholder.display.ends_with("exit 1"),
        "{}",
        placeholder.display
    );
    assert_eq!(
        gate.packet("SEC-00")
            .unwrap()
            .check(PLACEHOLDER_CHECK)
            .unwrap()
            .severity,
        crate::model::Severity::P0
    );
    let toml = &imported.toml;
    assert!(
        toml.contains("# 18: ticked [x] in the tracker: a hand claim, not evidence"),
        "{toml}"
    );
    assert!(toml.contains("# 19: unticked in the tracker"), "{toml}");
    assert!(
        toml.contains("# 23: - [x] `cargo build` -> exit 0\n# (ticked [x]"),
        "{toml}"
    );
}

#[test]
fn crlf_and_a_bom_are_normalised() {
    let text = BOARD.replace('\n', "\r\n");
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(text.as_bytes());
    let (imported, gate) = import_bytes(&bytes);
    assert!(!imported.toml.contains('\r'));
    assert_eq!(ids(&gate), ["SEC-00", "SEC-01"]);
    assert_eq!(
        items(&gate, "SEC-00"),
        ["Scope declared.", "Rubric documented."]
    );
    assert_eq!(imported.toml, import_text(BOARD).0.toml);
    let (old_mac, _) = import_text(&BOARD.replace('\n', "\r"));
    assert_eq!(old_mac.toml, imported.toml);
}

#[test]
fn utf16_with_a_bom_is_decoded() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "## SEC-01: Héllo\n- [ ] één\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let (_, gate) = import_bytes(&bytes);
    assert_eq!(gate.packet("SEC-01").unwrap().title, "Héllo");
    assert_eq!(items(&gate, "SEC-01"), ["één"]);
}

#[test]
fn headings_of_any_level_name_packets() {
    let text = "\
Tracker
=======

#### SEC-07 — Deep heading
- [ ] Deep item.

### P2: Short id
- [ ] Short item.

## Packet 3
- [ ] Worded item.

SEC-09 Setext packet
--------------------
- [ ] Setext item.
";
    let (imported, gate) = import_text(text);
    assert_eq!(ids(&gate), ["SEC-07", "P2", "Packet-3", "SEC-09"]);
    assert_eq!(gate.name, "Tracker");
    assert_eq!(gate.packet("SEC-07").unwrap().title, "Deep heading");
    assert_eq!(gate.packet("P2").unwrap().title, "Short id");
    assert_eq!(items(&gate, "SEC-09"), ["Setext item."]);
    assert!(warned(&imported, "no packet board"));
    assert!(
        warned(&imported, "`Packet 3` became `Packet-3`"),
        "{:?}",
        imported.notes
    );
}

#[test]
fn without_ids_each_section_with_checkboxes_is_a_packet() {
    let text = "\
# Plan

Intro text.

## Notes
Nothing to tick here.

## Backend
### Tasks
- [ ] API hardened.
  - detail one
- [x] DB migrated.
### Commands
- `make test` -> exit 0

## Frontend
- [ ] UI reviewed.
";
    let (imported, gate) = import_text(text);
    assert_eq!(ids(&gate), ["backend", "frontend"]);
    assert_eq!(items(&gate, "backend"), ["API hardened.", "DB migrated."]);
    assert_eq!(command(&gate, "backend", "make-test").display, "make test");
    let toml = &imported.toml;
    assert!(toml.contains("  # 11:   - detail one"), "{toml}");
    assert!(toml.contains("# 3: Intro text."), "{toml}");
    assert!(toml.contains("# 6: Nothing to tick here."), "{toml}");
    assert!(warned(&imported, "one packet per level-2 section"));
}

#[test]
fn emoji_stay_in_titles_and_leave_ids() {
    let text = "\
# 🚀 Launch tracker

| Packet | Title |
|---|---|
| 🔐 SEC-01 | Lock it down 🔒 |

## 🔐 SEC-01 — Lock it down 🔒
- [ ] ✅ Keys rotated 🔑
- [ ] 🔥
";
    let (imported, gate) = import_text(text);
    assert_eq!(ids(&gate), ["SEC-01"]);
    assert_eq!(gate.name, "🚀 Launch tracker");
    assert_eq!(gate.packet("SEC-01").unwrap().title, "Lock it down 🔒");
    assert_eq!(
        items(&gate, "SEC-01"),
        ["✅ Keys rotated 🔑", "🔥 (line 9)"]
    );
    assert!(
        warned(&imported, "`🔐 SEC-01` became `SEC-01`"),
        "{:?}",
        imported.notes
    );
    assert!(imported
        .toml
        .contains("# 5: the tracker writes this id `🔐 SEC-01`"));
}

#[test]
fn mojibake_is_repaired_line_by_line() {
    assert_eq!(
        repair_mojibake("Tracker â€” phase 1").as_deref(),
        Some("Tracker — phase 1")
    );
    assert_eq!(
        repair_mojibake("## ðŸ”´ Critical").as_deref(),
        Some("## 🔴 Critical")
    );
    assert_eq!(
        repair_mojibake("## ðŸŸ\u{a0}Medium").as_deref(),
        Some("## 🟠Medium")
    );
    assert_eq!(repair_mojibake("âœ… Done").as_deref(), Some("✅ Done"));
    assert_eq!(repair_mojibake("cafÃ©").as_deref(), Some("café"));
    // Encoded three times.
    assert_eq!(repair_mojibake("cafÃƒÂ©").as_deref(), Some("café"));
    let text = "# Tracker â€” SEC-001\n\n## ðŸ”´ Critical\n- [ ] **RLS** â†’ blocked\n";
    let (imported, gate) = import_text(text);
    assert_eq!(gate.name, "Tracker — SEC-001");
    assert_eq!(gate.packet("critical").unwrap().title, "🔴 Critical");
    assert_eq!(items(&gate, "critical"), ["RLS → blocked"]);
    assert!(!imported.toml.contains("â€"), "{}", imported.toml);
    assert!(warned(&imported, "double-encoded as UTF-8 (mojibake"));
}

#[test]
fn correct_utf8_with_accents_is_left_alone() {
    for line in [
        "café résumé naïve",
        "Ünïcödé — “quoted” … 100 €",
        "é",
        "Straße ß",
        "日本語 🔴",
        "plain ascii",
    ] {
        assert_eq!(repair_mojibake(line), None, "{line}");
    }
    let text = "## SEC-01: Café crème — été\n- [ ] Vérifié « oui »\n";
    let (imported, gate) = import_text(text);
    assert_eq!(gate.packet("SEC-01").unwrap().title, "Café crème — été");
    assert_eq!(items(&gate, "SEC-01"), ["Vérifié « oui »"]);
    assert!(!warned(&imported, "mojibake"));
}

#[test]
fn invalid_utf8_is_replaced_with_a_warning() {
    let (imported, gate) = import_bytes(b"## SEC-01: Bad \xff byte\n- [ ] item\n");
    assert_eq!(gate.packet("SEC-01").unwrap().title, "Bad \u{fffd} byte");
    let note = imported
        .notes
        .iter()
        .find(|note| note.message.contains("not valid UTF-8"))
        .expect("a warning");
    assert_eq!(note.line, Some(1));
}

#[test]
fn empty_and_binary_input_is_refused() {
    assert!(matches!(import("t.md", b""), Err(ImportError::Empty)));
    assert!(matches!(
        import("t.md", b" \r\n\n"),
        Err(ImportError::Empty)
    ));
    assert!(matches!(
        import("t.md", b"ab\0cd"),
        Err(ImportError::Binary)
    ));
}

#[test]
fn no_structure_at_all_is_one_packet_and_all_comments() {
    let text = "Some notes\nwithout any structure.\n";
    let (imported, gate) = import_text(text);
    assert_eq!(ids(&gate), ["tracker"]);
    let packet = gate.packet("tracker").unwrap();
    assert!(packet.checklist.is_empty());
    assert!(
        packet.check(PLACEHOLDER_CHECK).is_some(),
        "never vacuously DONE"
    );
    assert!(imported.toml.contains("# 1: Some notes"));
    assert!(imported.toml.contains("# 2: without any structure."));
    assert!(warned(&imported, "the whole tracker is one packet"));
}

#[test]
fn a_board_without_titles_takes_them_from_headings_and_keeps_its_dependency_column() {
    let text = "\
| ID | Depends on |
|---|---|
| SEC-01 | — |
| SEC-02 | SEC-01, SEC-99 |

## SEC-02 — Second
- [ ] x
";
    let (imported, gate) = import_text(text);
    assert_eq!(gate.packet("SEC-01").unwrap().title, "SEC-01");
    assert_eq!(gate.packet("SEC-02").unwrap().title, "Second");
    assert_eq!(gate.packet("SEC-02").unwrap().depends_on, ["SEC-01"]);
    assert!(
        imported.toml.contains("Depends on: SEC-01, SEC-99"),
        "{}",
        imported.toml
    );
}

#[test]
fn a_packet_without_commands_or_checklist_still_cannot_pass() {
    let text = "| Packet | Title |\n|---|---|\n| SEC-01 | Only on the board |\n";
    let (_, gate) = import_text(text);
    let packet = gate.packet("SEC-01").unwrap();
    assert_eq!(packet.title, "Only on the board");
    let ids: Vec<&str> = packet
        .checks
        .iter()
        .map(|check| check.id.as_str())
        .collect();
    assert_eq!(ids, [PLACEHOLDER_CHECK]);
}

#[test]
fn a_missing_command_section_gives_no_checks() {
    let (imported, gate) = import_text("## SEC-01: A\n- [ ] one\n- [ ] two\n");
    let packet = gate.packet("SEC-01").unwrap();
    let ids: Vec<&str> = packet
        .checks
        .iter()
        .map(|check| check.id.as_str())
        .collect();
    assert_eq!(ids, [PLACEHOLDER_CHECK]);
    assert_eq!(imported.packets[0].checks, 0);
    assert_eq!(imported.packets[0].checklist, 2);
}

#[test]
fn a_table_it_cannot_map_is_kept_as_comments() {
    let text = "\
## SEC-01: A
- [ ] one

| Risk | Likelihood |
|------|------------|
| Leak | high |

## Appendix

| Term | Meaning |
|---|---|
| RLS | row-level security |
";
    let (imported, _) = import_text(text);
    for line in [
        "# 4: | Risk | Likelihood |",
        "# 5: |------|------------|",
        "# 6: | Leak | high |",
        "# 8: ## Appendix",
        "# 10: | Term | Meaning |",
        "# 12: | RLS | row-level security |",
    ] {
        assert!(imported.toml.contains(line), "{line}\n{}", imported.toml);
    }
}

#[test]
fn expected_exit_codes_and_timeouts_are_kept() {
    let text = "\
## SEC-01: A
### Required commands
- [ ] `./audit.sh` -> exit 1
- [ ] `./lint.sh` → exit codes 0 or 2
- `./slow.sh` -> exit 0 (timeout 90 seconds)
- [ ] `./plain.sh`
- [ ] ``echo `date` `` -> exit 0
- [ ] make check -> exit 3
- [ ] run the migration by hand
```sh
$ ./fenced.sh --flag -> exit 4
# a comment in the block
./long.sh \\
  --more
```
";
    let (imported, gate) = import_text(text);
    assert_eq!(command(&gate, "SEC-01", "audit-sh").expect_exit, [1]);
    assert_eq!(command(&gate, "SEC-01", "lint-sh").expect_exit, [0, 2]);
    assert_eq!(command(&gate, "SEC-01", "plain-sh").expect_exit, [0]);
    assert_eq!(command(&gate, "SEC-01", "echo-date").display, "echo `date`");
    assert_eq!(command(&gate, "SEC-01", "make-check").expect_exit, [3]);
    assert_eq!(command(&gate, "SEC-01", "fenced-sh").expect_exit, [4]);
    assert_eq!(
        command(&gate, "SEC-01", "fenced-sh").display,
        "./fenced.sh --flag"
    );
    assert_eq!(
        command(&gate, "SEC-01", "long-sh").display,
        "./long.sh --more"
    );
    let slow = gate.packet("SEC-01").unwrap().check("slow-sh").unwrap();
    assert_eq!(slow.timeout, Duration::from_secs(90));
    assert!(
        imported.toml.contains("expect = { exit = [0, 2] }"),
        "{}",
        imported.toml
    );
    assert!(imported
        .toml
        .contains("# 9: - [ ] run the migration by hand"));
    assert!(imported.toml.contains("# 12: # a comment in the block"));
    assert!(warned(&imported, "no command in backticks"));
}

#[test]
fn a_destructive_command_is_commented_out() {
    let text = "\
## SEC-01: A
### Commands
- [ ] `git reset --hard origin/main` -> exit 0
- [ ] `make test`
";
    let (imported, gate) = import_text(text);
    let packet = gate.packet("SEC-01").unwrap();
    assert!(packet.check("git-reset").is_none());
    assert!(packet.check("make-test").is_some());
    let toml = &imported.toml;
    assert!(
        toml.contains("# run = \"git reset --hard origin/main\""),
        "{toml}"
    );
    assert!(
        toml.contains("`git reset --hard` is a destructive git command"),
        "{toml}"
    );
    assert!(!toml.contains("\nallow_destructive"), "{toml}");
    assert!(warned(&imported, "destructive git command"));
    assert_eq!(imported.packets[0].commented_checks, 1);
}

#[test]
fn ids_are_sanitised_and_deduplicated() {
    assert_eq!(sanitize_id("SEC 01"), "SEC-01");
    assert_eq!(sanitize_id("**[SEC-02](#sec-02)**"), "SEC-02");
    assert_eq!(sanitize_id("-_.x"), "x");
    assert_eq!(sanitize_id("Ünïcode/Packet #4!"), "n-code-Packet-4");
    assert_eq!(sanitize_id("🔥"), "");
    let text = "\
| ID | Title |
|---|---|
| SEC 01 | One |
| `SEC/02` | Two |
| SEC 01 | Again |
| — | Nobody |
";
    let (imported, gate) = import_text(text);
    assert_eq!(ids(&gate), ["SEC-01", "SEC-02"]);
    assert!(warned(&imported, "`SEC 01` became `SEC-01`"));
    assert!(warned(&imported, "on the board twice"));
    assert!(warned(&imported, "board row without a packet id"));
    assert!(imported.toml.contains("# 5: | SEC 01 | Again |"));
    assert!(imported.toml.contains("# 6: | — | Nobody |"));
}

#[test]
fn duplicate_items_and_check_ids_stay_apart() {
    let text = "\
## SEC-01: A
- [ ] Same.
- [ ] Same!
### Commands
- `make test`
- `make test -- --slow`
- `needs evidence`
";
    let (_, gate) = import_text(text);
    assert_eq!(items(&gate, "SEC-01"), ["Same.", "Same! (line 3)"]);
    let packet = gate.packet("SEC-01").unwrap();
    let ids: Vec<&str> = packet
        .checks
        .iter()
        .map(|check| check.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "make-test",
            "make-test-2",
            "needs-evidence-2",
            PLACEHOLDER_CHECK
        ]
    );
}

#[test]
fn dependencies_from_statements_arrows_and_ranges() {
    let text = "\
## SEC-00: Start
- [ ] a
## SEC-01: One
Depends on: SEC-00
- [ ] b
## SEC-02: Two
- [ ] c
## SEC-03: Three
- [ ] d
## Order
SEC-01 ──blocks──► SEC-02
SEC-02 -> SEC-03 -> SEC-01
Nothing in SEC-00..SEC-02 blocks SEC-03.
";
    let (imported, gate) = import_text(text);
    assert_eq!(gate.packet("SEC-01").unwrap().depends_on, ["SEC-00"]);
    assert_eq!(gate.packet("SEC-02").unwrap().depends_on, ["SEC-01"]);
    assert_eq!(
        gate.packet("SEC-03").unwrap().depends_on,
        ["SEC-00", "SEC-01", "SEC-02"]
    );
    assert!(warned(
        &imported,
        "`SEC-01 depends on SEC-03` would close a dependency cycle"
    ));
    assert!(imported.toml.contains("# 12: SEC-02 -> SEC-03 -> SEC-01"));
}

#[test]
fn service_references_in_commands_reach_the_shell_unchanged() {
    let text = "## SEC-01: A\n### Commands\n- `curl ${api.url}/x && echo ${HOME}`\n";
    let (imported, gate) = import_text(text);
    let spec = command(&gate, "SEC-01", "curl-api-url-x-echo-home");
    assert_eq!(spec.display, "curl $${api.url}/x && echo $${HOME}");
    assert!(warned(&imported, "is written `$${`"));
}

#[test]
fn checkboxes_outside_packets_are_kept_and_reported() {
    let text = "\
| Packet | Title |
|---|---|
| SEC-01 | One |

## Definition of done
- [ ] Everything green.
";
    let (imported, _) = import_text(text);
    assert!(imported.toml.contains("# 6: - [ ] Everything green."));
    assert!(warned(&imported, "checkbox outside any packet"));
}

#[test]
fn strings_are_escaped_for_toml() {
    let text = r#"## SEC-01: Say "hi" \ 'there' '''
- [ ] C:\path "quoted" \u0041 \n
### Commands
- `printf '%s\n' "a\"b"`
"#;
    let (_, gate) = import_text(text);
    assert_eq!(
        gate.packet("SEC-01").unwrap().title,
        r#"Say "hi" \ 'there' '''"#
    );
    assert_eq!(items(&gate, "SEC-01"), [r#"C:\path "quoted" \u0041 \n"#]);
    assert_eq!(
        command(&gate, "SEC-01", "printf-s-n-a-b").display,
        r#"printf '%s\n' "a\"b""#
    );
}

#[test]
fn sections_are_classified_by_whole_words() {
    assert_eq!(classify("Required Commands"), Sub::Commands);
    assert_eq!(classify("Commands run + exit codes"), Sub::Commands);
    assert_eq!(classify("Command output"), Sub::Kept);
    assert_eq!(classify("SEC-00 Review Record"), Sub::Kept);
    assert_eq!(classify("Review Gates"), Sub::Kept);
    assert_eq!(classify("Review Evidence"), Sub::Kept);
    assert_eq!(classify("Login hardening"), Sub::Main);
    assert_eq!(classify("Investigate delegated tokens"), Sub::Main);
    assert_eq!(classify("Acceptance criteria"), Sub::Main);
}

#[test]
fn control_characters_cannot_break_a_comment() {
    let (imported, _) = import_text("## SEC-01: A\u{7}\nnote\u{1b}[31m red\n- [ ] x\n");
    assert!(
        imported.toml.contains("# 2: note\u{fffd}[31m red"),
        "{}",
        imported.toml
    );
}
