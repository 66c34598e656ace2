//! The second report fixture: the same shape as `fixture.rs` (every check kind, dependencies,
//! a blocked packet, accepted and tracked findings, expired and unused acceptances), plus a
//! signed review, a service and a record no packet claims, where every text field holds what
//! Markdown and HTML would take for markup: `|`, `<`, `>`, `&` and `&amp;`, backticks alone and
//! in runs of two and three, `*`, `_`, `[`, `\`, `#`, `~`, `$`, and line breaks; ids carry what
//! the id syntax allows (`_`, `.`). Fixed like `fixture.rs`, so reports rendered from it are
//! byte-for-byte stable (`tests/golden/tracker-nasty.md`, `tests/golden/summary-nasty.md`).

use std::path::Path;

use relgate::evidence::{
    Binding, CaseKind, CaseOutcome, CheckRecord, Ledger, Outcome, PacketReview, Record,
    ReviewDecision, ReviewRecord, RunHeader, ServiceRecord,
};
use relgate::spec::{Gate, Severity};

use super::fixture::{case, command, finding, ledger_with, record};

/// `label`, then everything that would be markup, a line break and a closing `#` run.
pub fn nasty(label: &str) -> String {
    format!("{label} <T> & a|b &amp; `1` ``2`` ```3``` *e* _u_ a\\* [l](#m) ~s~ $m$\r\nline\ntwo #")
}

/// The packets' ids: what the id syntax allows (`[A-Za-z0-9][A-Za-z0-9._-]*`).
pub const PACKETS: [&str; 3] = ["N_1_", "a__b.c", "Z9"];

/// `text` as a TOML basic string.
fn toml(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The gate file.
pub fn gate_text() -> String {
    let [one, two, three] = PACKETS;
    let t = |label: &str| toml(&nasty(label));
    format!(
        r#"
[gate]
name = {name}
plan = {plan}

[[packet]]
id = "{one}"
title = {title1}
implementer = {implementer}
reviewer = {reviewer}
checklist = [
  {{ item = {item1}, by = ["run_1_"] }},
  {{ item = {item2}, attested = {{ by = {attester}, on = "2026-02-01" }} }},
  {{ item = {item3}, by = ["probe__3"] }},
]

[[packet.check]]
id = "run_1_"
run = {run1}

[[packet.check]]
id = "grep.2_"
grep = {{ pattern = "a\\|<b>&`c`", files = {files} }}

[[packet.check]]
id = "probe__3"
probe = "secrets"
severity = "P2"

[[packet]]
id = "{two}"
title = {title2}
depends_on = ["{one}"]
implementer = {implementer}
reviewer = {reviewer}
checklist = [
  {{ item = {item4}, by = ["scan-4_"] }},
]

[[packet.check]]
id = "scan-4_"
scan = {{ run = {scan}, format = "cargo-audit" }}
severity = "P1"

[[packet.check]]
id = "cmd-5_"
run = {run5}

[[packet]]
id = "{three}"
title = {title3}
depends_on = ["{two}"]
checklist = [
  {{ item = {item5}, by = ["final"] }},
]

[[packet.check]]
id = "final"
run = ["echo", "<a|b>", "&amp;", "`x`"]

[[accept]]
finding = "F<1>&a|b"
owner = {owner1}
until = "2026-12-31"
reason = {reason1}

[[accept]]
check = "{two}::cmd-5_"
owner = {owner2}
until = "2026-01-31"
reason = {reason2}

[[accept]]
check = "{one}::run_1_"
owner = {owner3}
until = "2026-12-31"
reason = {reason3}
"#,
        name = t("Gate"),
        plan = t("docs/plan"),
        title1 = t("Title one"),
        title2 = toml(&format!("- {}", nasty("title two"))),
        title3 = toml(&format!("1. {}", nasty("title three"))),
        implementer = t("implementer"),
        reviewer = t("reviewer"),
        item1 = toml(&format!("# {}", nasty("item one"))),
        item2 = toml(&format!("> {}", nasty("item two"))),
        item3 = t("item three"),
        item4 = toml(&format!("[x] {}", nasty("item four"))),
        item5 = toml(&format!("+ {}", nasty("item five"))),
        attester = t("attester"),
        run1 = toml("printf '<%s>' 'a|b' && echo `x` ``y`` ```z``` &amp;\necho two"),
        files = toml("docs/<x>&`y`|*.md"),
        scan = toml("cargo audit --json > {report} # <s> & a|b `t` ``u``"),
        run5 = toml("test '<x>' = '&amp;' || exit 2 # `a` ``b``"),
        owner1 = t("owner one"),
        owner2 = t("owner two"),
        owner3 = t("owner three"),
        reason1 = t("reason one"),
        reason2 = t("reason two"),
        reason3 = t("reason three"),
    )
}

/// The gate, parsed.
pub fn gate() -> Gate {
    relgate::spec::parse(Path::new("packets.toml"), &gate_text()).expect("the nasty gate parses")
}

/// The run header: every free text nasty.
pub fn header() -> RunHeader {
    RunHeader {
        gate: nasty("Gate"),
        gate_file: "gates/<p>&amp;|`x`.toml".into(),
        gate_path: None,
        gate_sha256: "9f2c".repeat(16),
        git_head: Some("6ba41c7a0d5e8f1b2c3d4e5f60718293a4b5c6d7".into()),
        git_dirty: Some(false),
        code: None,
        relgate_version: "0.1.0+<b>&amp;".into(),
        started: "2026-02-09T10:00:00.000Z".into(),
        host: nasty("host"),
        run_id: "run-<1>&|`".into(),
        mode: "xtask`".into(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
    }
}

/// The check records: `N_1_` passes with a tracked P2 probe failure, `a__b.c` fails on
/// `cmd-5_` (whose acceptance expired) with an accepted and a tracked finding, `Z9` is blocked.
pub fn check_records() -> Vec<CheckRecord> {
    let [one, two, three] = PACKETS;
    let mut run = command(
        one,
        "run_1_",
        &[
            "sh",
            "-c",
            "printf '<%s>' 'a|b' && echo `x` ``y`` ```z``` &amp;\necho two",
        ],
        Some(0),
        Outcome::Pass,
        "exit 0",
    );
    run.notes = vec![nasty("note")];
    let grep = record(
        one,
        "grep.2_",
        CaseKind::Grep,
        Outcome::Pass,
        "1 matching line for /a\\|<b>&`c`/ in 1 of 1 files",
    );
    let mut probe = record(
        one,
        "probe__3",
        CaseKind::Probe,
        Outcome::Fail,
        &nasty("probe message"),
    );
    probe.severity = Severity::P2;
    probe.cases = vec![
        case("held", CaseOutcome::Pass, "held"),
        case("case<1>&|`", CaseOutcome::Fail, &nasty("case message")),
        case(
            "case``2``",
            CaseOutcome::Inconclusive,
            &nasty("inconclusive"),
        ),
    ];
    probe.log = Some("logs/N_1_/probe <3> & `x`.log".into());
    let mut scan = command(
        two,
        "scan-4_",
        &[
            "sh",
            "-c",
            "cargo audit --json > 'reports/a__b.c/scan-4_.json' # <s> & a|b `t` ``u``",
        ],
        Some(1),
        Outcome::Fail,
        &nasty("scan message"),
    );
    scan.case_kind = CaseKind::Scan;
    scan.severity = Severity::P1;
    scan.findings = vec![
        finding(
            "F<1>&a|b",
            "rule<1>",
            Severity::P1,
            &nasty("finding one"),
            &nasty("location one"),
        ),
        finding(
            "F`2`",
            "rule``2``",
            Severity::P2,
            &nasty("finding two"),
            "pkg@<2>|&amp;",
        ),
    ];
    scan.report = Some("reports/a__b.c/scan-4_.json".into());
    scan.report_sha256 = Some("ab".repeat(32));
    let mut failing = command(
        two,
        "cmd-5_",
        &["sh", "-c", "test '<x>' = '&amp;' || exit 2 # `a` ``b``"],
        Some(2),
        Outcome::Fail,
        &nasty("failure"),
    );
    failing.notes = vec![format!("> {}", nasty("quoted note"))];
    let mut blocked = command(
        three,
        "final",
        &[],
        None,
        Outcome::Skipped,
        &format!("blocked by {two}"),
    );
    blocked.log = None;
    blocked.sha256 = None;
    blocked.bytes = 0;
    blocked.duration_ms = 0;
    vec![run, grep, probe, scan, failing, blocked]
}

/// The ledger: [`check_records`] judged as `report` would (`fixture::ledger_with`), with this
/// fixture's header, a signed review requesting changes of `a__b.c`, a service, and a record
/// no packet of the gate claims.
pub fn ledger(gate: &Gate) -> Ledger {
    let mut ledger = ledger_with(gate, check_records());
    let two = PACKETS[1];
    for record in &mut ledger.records {
        match record {
            Record::Header(old) => *old = header(),
            Record::Packet(packet) if packet.packet == two => {
                packet.review = Some(review());
            }
            _ => {}
        }
    }
    let mut stray = record(
        "gone<1>",
        "old|`x`",
        CaseKind::Command,
        Outcome::Fail,
        &nasty("stray message"),
    );
    stray.name = "gone<1>::old|`x`".into();
    stray.log = Some("logs/gone/<old>&.log".into());
    let at = ledger
        .records
        .iter()
        .position(|record| matches!(record, Record::Packet(_)))
        .expect("packet records");
    ledger.records.insert(at, Record::Check(stray));
    ledger.records.insert(1, Record::Service(service()));
    ledger
}

fn review() -> PacketReview {
    PacketReview {
        state: "CHANGES_REQUESTED".into(),
        required: true,
        review: Some(ReviewRecord {
            version: 1,
            gate: nasty("Gate"),
            packet: PACKETS[1].into(),
            decision: ReviewDecision::ChangesRequested,
            reviewer: nasty("signed reviewer"),
            key: "SHA256:<k>&|`".into(),
            time: "2026-02-08T09:00:00Z".into(),
            commit: "6ba41c7a0d5e8f1b2c3d4e5f60718293a4b5c6d7".into(),
            binding: Binding {
                code: "c0de".repeat(16),
                packet: "d3f1".repeat(16),
                outcomes: "0ut5".repeat(16),
            },
            note: nasty("review note"),
            findings: vec![nasty("review finding"), format!("``` {}", nasty("fence"))],
        }),
        notes: vec![nasty("review state note")],
    }
}

fn service() -> ServiceRecord {
    ServiceRecord {
        name: "db<1>&|`".into(),
        service_kind: nasty("kind"),
        command: "postgres -c 'a|b' <x>".into(),
        url: "postgres://localhost:5432/<db>".into(),
        started: "2026-02-09T10:00:00.500Z".into(),
        ready_ms: 250,
        stopped: "2026-02-09T10:00:20.000Z".into(),
        outcome: "ready<&>".into(),
        message: nasty("service message"),
        log: Some("logs/services/db<1>.log".into()),
        bytes: 512,
        sha256: Some("cd".repeat(32)),
    }
}
