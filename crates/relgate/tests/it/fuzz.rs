//! The property/fuzz harness (issue 13): the loader, the importer, the ledger reader and the
//! scanner report parsers, fed mutated corpus entries and generated inputs.
//!
//! Properties:
//! - nothing panics or hangs;
//! - a gate file that does not load gets a typed `SpecError` naming the file, a line and a
//!   column inside the text, printed as `FILE:LINE:COLUMN: message` (what the CLI prints before
//!   exiting 2), not echoing megabytes back nor any part of a secret; one that loads is planned
//!   (each packet after its dependencies) and is no GO without records;
//! - the importer either returns a gate file that loads, or refuses the tracker as empty or
//!   binary: never "a bug in the importer"; the gate file and the notes hold no secret;
//! - a ledger changed in any byte fails `verify` (also when the hash chain is recomputed after a
//!   change of meaning);
//! - scanner reports parse to findings or to a typed error with a message, no field of a
//!   finding is larger than the report (plus a bounded title), and the redacted copy of a report
//!   still parses to as many findings.
//!
//! The corpus is `tests/fuzz-corpus/` (plus the fixtures named below); each default run is a
//! fixed seed list (a few seconds in all). `RELGATE_FUZZ_CASES` / `RELGATE_FUZZ_SECONDS` run
//! longer, `RELGATE_FUZZ_SEED` replays one case (see `support/fuzz/mod.rs`).

use crate::support;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::fuzz::mutate::{mutate, Language};
use crate::support::fuzz::{cases, corpus, generate, timed, Entry, Gen};
use relgate::evidence::{self, LEDGER_FILE};
use relgate::import::{self, ImportError};
use relgate::model::digest::sha256_hex;
use relgate::output::redaction;
use relgate::scan::{self, Format, Overrides, ScanError};
use relgate::spec::{self, SpecError, SpecErrorKind};

/// A part of the fake GitHub token the generators and the corpus plant (`ghp_FAKE0123…`; the
/// repository's secret scan takes `FAKE` for a placeholder, the redactor masks it all the same).
const PLANTED_TOKEN_PART: &str = "FAKE0123456789abcdef";

/// Whether `input` holds the planted token, every trace of it whole and standing alone, so
/// that the redactor masks each (a mutated, cut token is no secret, and may be echoed).
fn planted_tokens_whole(input: &[u8]) -> bool {
    static WHOLE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let whole = WHOLE.get_or_init(|| {
        regex::Regex::new(
            r"(?:^|[^A-Za-z_])ghp_FAKE0123456789abcdefghijklmnopqrstuv(?:[^0-9A-Za-z_]|$)",
        )
        .unwrap()
    });
    let text = String::from_utf8_lossy(input);
    let traces = text.matches(PLANTED_TOKEN_PART).count();
    traces > 0 && whole.find_iter(&text).count() == traces
}

/// `output` (what the CLI prints for a gate file) holds no part of a planted token that `input`
/// held whole: shortening a quoted value must not leave a cut secret.
fn assert_no_planted_token(input: &[u8], output: &str) {
    if planted_tokens_whole(input) {
        assert!(
            !output.contains(PLANTED_TOKEN_PART),
            "part of a planted token: {output}"
        );
    }
}

/// How long one input may take before the case fails: hangs and blow-ups, not benchmarks.
const LIMIT: Duration = Duration::from_secs(10);

fn pool(entries: &[Entry]) -> Vec<&[u8]> {
    entries.iter().map(|entry| entry.bytes.as_slice()).collect()
}

/// A mutated corpus entry.
fn mutated(gen: &mut Gen, entries: &[Entry], language: &Language) -> Vec<u8> {
    let base = &gen.pick(entries).bytes;
    mutate(gen, base, &pool(entries), language)
}

// ---------------------------------------------------------------------------------------------
// The loader
// ---------------------------------------------------------------------------------------------

fn gate_corpus() -> Vec<Entry> {
    // The workspace's own TOML files (Cargo.toml…) are not gates: good seeds all the same.
    corpus(
        "gates",
        &["tests/fixtures", "tests/fixtures/reports", "."],
        &[".toml"],
    )
}

/// Loads `bytes` as the gate file `dir/packets.toml`; an error must be located and printable.
fn check_gate_file(dir: &Path, bytes: &[u8]) {
    let path = dir.join("packets.toml");
    let result = match std::str::from_utf8(bytes) {
        Ok(text) => timed("parse", LIMIT, || spec::parse(&path, text)),
        Err(utf8) => {
            std::fs::write(&path, bytes).unwrap();
            let err = spec::load(&path).expect_err("a gate file that is not UTF-8 loaded");
            let before = &bytes[..utf8.valid_up_to()];
            let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
            assert_eq!(err.line, line, "{err}: the invalid byte is on line {line}");
            Err(err)
        }
    };
    match result {
        Err(err) => assert_located(&err, &path, bytes),
        Ok(gate) => check_planned(&gate),
    }
}

/// A gate that loads is one the planner and the verdict take: every packet once, after its
/// dependencies; a verdict without records is no GO.
fn check_planned(gate: &spec::Gate) {
    let order = relgate::plan::topological(gate);
    assert_eq!(order.len(), gate.packets.len());
    for (index, packet) in order.iter().enumerate() {
        for dep in &packet.depends_on {
            let placed = order[..index].iter().any(|before| &before.id == dep);
            assert!(
                placed,
                "{} is planned before its dependency {dep}",
                packet.id
            );
        }
    }
    let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap();
    let verdict = relgate::verdict::decide(gate, &[], today, relgate::verdict::Stage::Final);
    let checks = gate
        .packets
        .iter()
        .map(|packet| packet.checks.len())
        .sum::<usize>();
    if checks > 0 {
        assert_ne!(
            verdict.record.decision,
            evidence::Decision::Go,
            "GO without evidence"
        );
    }
}

fn assert_located(err: &SpecError, path: &Path, bytes: &[u8]) {
    let shown = err.to_string();
    assert_ne!(err.kind, SpecErrorKind::Io, "{shown}");
    assert_eq!(err.file, path, "{shown}");
    assert!(
        err.line >= 1 && err.column >= 1,
        "no line and column: {shown}"
    );
    let lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
    assert!(
        err.line <= lines.len(),
        "line {} of {}: {shown}",
        err.line,
        lines.len()
    );
    let columns = String::from_utf8_lossy(lines[err.line - 1]).chars().count() + 1;
    assert!(
        err.column <= columns,
        "column {} of {columns}: {shown}",
        err.column
    );
    let place = format!("{}:{}:{}: ", path.display(), err.line, err.column);
    assert!(shown.starts_with(&place), "{shown}");
    assert!(!err.message.trim().is_empty(), "{shown}");
    // What the CLI prints holds no secret, nor the part of one that shortening leaves (which
    // the redactor would no longer recognise: so look for the planted token's own digits).
    assert_eq!(redaction::redact(&shown), shown);
    assert_no_planted_token(bytes, &shown);
    assert!(
        shown.chars().count() <= 2_000,
        "a message of {} characters",
        shown.len()
    );
}

#[test]
fn loader_mutated_gate_files() {
    let entries = gate_corpus();
    let dir = tempfile::tempdir().unwrap();
    cases("loader-mutated", 300, |gen| {
        let bytes = mutated(gen, &entries, &generate::TOML);
        let _keep = gen.keep_on_panic(&bytes);
        check_gate_file(dir.path(), &bytes);
    });
}

#[test]
fn loader_generated_gate_files() {
    let entries = gate_corpus();
    let dir = tempfile::tempdir().unwrap();
    cases("loader-generated", 300, |gen| {
        let mut bytes = generate::gate(gen).into_bytes();
        if gen.chance(1, 3) {
            bytes = mutate(gen, &bytes, &pool(&entries), &generate::TOML);
        }
        let _keep = gen.keep_on_panic(&bytes);
        check_gate_file(dir.path(), &bytes);
    });
}

#[test]
fn loader_corpus() {
    let dir = tempfile::tempdir().unwrap();
    for entry in gate_corpus() {
        eprintln!("{}", entry.name);
        check_gate_file(dir.path(), &entry.bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// The importer
// ---------------------------------------------------------------------------------------------

fn tracker_corpus() -> Vec<Entry> {
    corpus("trackers", &["tests/fixtures/docs"], &[".md"])
}

/// Imports `bytes`: the gate file must load, or the tracker is refused as empty or binary.
fn check_tracker(bytes: &[u8]) {
    match timed("import", LIMIT, || import::import("tracker.md", bytes)) {
        Ok(imported) => {
            if let Err(err) = spec::parse(Path::new("packets.toml"), &imported.toml) {
                panic!("the imported gate does not load: {err}\n{}", imported.toml);
            }
            // No secret reaches the gate file or the notes printed on stderr.
            assert_eq!(redaction::redact(&imported.toml), imported.toml);
            for note in &imported.notes {
                assert_eq!(redaction::redact(&note.message), note.message);
            }
        }
        Err(ImportError::Invalid(message)) => panic!("a bug in the importer: {message}"),
        Err(ImportError::Empty | ImportError::Binary) => {}
    }
}

#[test]
fn importer_mutated_trackers() {
    let entries = tracker_corpus();
    cases("importer-mutated", 80, |gen| {
        let bytes = mutated(gen, &entries, &generate::MARKDOWN);
        let _keep = gen.keep_on_panic(&bytes);
        check_tracker(&bytes);
    });
}

#[test]
fn importer_generated_trackers() {
    let entries = tracker_corpus();
    cases("importer-generated", 120, |gen| {
        let mut bytes = generate::tracker(gen).into_bytes();
        if gen.chance(1, 3) {
            bytes = mutate(gen, &bytes, &pool(&entries), &generate::MARKDOWN);
        }
        let _keep = gen.keep_on_panic(&bytes);
        check_tracker(&bytes);
    });
}

#[test]
fn importer_corpus() {
    for entry in tracker_corpus() {
        eprintln!("{}", entry.name);
        check_tracker(&entry.bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// The ledger reader
// ---------------------------------------------------------------------------------------------

/// Writes the log and stored report `record` names under `out`, and records their digests.
fn write_evidence(out: &Path, record: &mut relgate::evidence::CheckRecord) {
    if let Some(log) = &record.log {
        let text = format!("output of {}\n", record.name);
        let path = out.join(log);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        record.sha256 = Some(sha256_hex(text.as_bytes()));
        record.bytes = text.len() as u64;
    }
    if let Some(report) = &record.report {
        let text = b"{\"vulnerabilities\": {\"list\": []}}\n";
        let path = out.join(report);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        record.report_sha256 = Some(sha256_hex(text));
    }
}

/// A finished run of the report fixture in `dir/out`, with its logs and stored report on disk:
/// it verifies. Returns the out directory and its ledger's bytes.
fn finished_run(dir: &Path) -> (PathBuf, Vec<u8>) {
    use support::fixture;
    let gate_path = dir.join("packets.toml");
    std::fs::write(&gate_path, fixture::GATE).unwrap();
    let gate = spec::parse(&gate_path, fixture::GATE).unwrap();
    let out = dir.join("out");
    let mut records = fixture::check_records();
    for record in &mut records {
        // Earlier attempts keep logs of their own, which verification reads too.
        for attempt in &mut record.attempts {
            write_evidence(&out, attempt);
        }
        write_evidence(&out, record);
    }
    let mut header = fixture::header();
    header.gate_file = gate_path.display().to_string();
    header.gate_sha256 = gate.sha256.clone();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 9).unwrap();
    relgate::report::finish(&gate, header, Vec::new(), records, &out, today).unwrap();
    verify(&out).expect("the untouched run verifies");
    let ledger = std::fs::read(out.join(LEDGER_FILE)).unwrap();
    (out, ledger)
}

fn verify(out: &Path) -> Result<relgate::verify::Verified, relgate::verify::Failure> {
    timed("verify", LIMIT, || {
        relgate::verify::verify(&relgate::verify::Options {
            out_dir: out.to_path_buf(),
            ..Default::default()
        })
    })
}

/// The ledger `bytes` in `out`: unless they are the run's own, `verify` must fail. Returns
/// whether they were an edit.
fn check_ledger(out: &Path, original: &[u8], bytes: &[u8]) -> bool {
    std::fs::write(out.join(LEDGER_FILE), bytes).unwrap();
    // The reader alone must not panic either.
    let _ = evidence::verify_chain(out);
    let verified = verify(out);
    if bytes == original {
        verified.expect("the run's own ledger verifies");
    } else if let Ok(verified) = verified {
        panic!(
            "an edited ledger verified ({} records)",
            verified.ledger.records.len()
        );
    }
    bytes != original
}

/// Most cases of a ledger target must be edits, or the target tests nothing.
fn assert_mostly_edits(target: &str, edits: usize, cases: usize) {
    eprintln!("fuzz {target}: {edits} of {cases} cases were edits, all refused");
    assert!(
        edits * 4 >= cases * 3,
        "{target}: only {edits} of {cases} cases were edits"
    );
}

/// Each line's `prev` set to the hash of the line before and `seq` to its number, as a forger
/// who edits a record and re-chains the rest would do (lines that are not JSON objects stay).
fn rechain(bytes: &[u8]) -> Vec<u8> {
    let mut prev = evidence::GENESIS.to_string();
    let mut out = Vec::new();
    for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        if index > 0 {
            out.push(b'\n');
        }
        let line = match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.insert("seq".into(), serde_json::json!(index + 1));
                map.insert("prev".into(), serde_json::json!(prev));
                serde_json::to_vec(&map).unwrap()
            }
            _ => line.to_vec(),
        };
        prev = sha256_hex(&line);
        out.extend_from_slice(&line);
    }
    out
}

fn ledger_corpus() -> Vec<Entry> {
    corpus("ledgers", &[], &[])
}

#[test]
fn ledger_byte_edits_fail_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (out, original) = finished_run(dir.path());
    let entries = ledger_corpus();
    let mut pool = pool(&entries);
    pool.push(&original);
    let (mut edits, mut total) = (0, 0);
    cases("ledger-bytes", 120, |gen| {
        let mut bytes = mutate(gen, &original, &pool, &generate::JSON);
        if gen.chance(1, 3) {
            bytes = rechain(&bytes);
        }
        let _keep = gen.keep_on_panic(&bytes);
        edits += usize::from(check_ledger(&out, &original, &bytes));
        total += 1;
    });
    assert_mostly_edits("ledger-bytes", edits, total);
}

#[test]
fn ledger_meaning_edits_fail_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (out, original) = finished_run(dir.path());
    let records = evidence::verify(&out).unwrap().records;
    let (mut edits, mut total) = (0, 0);
    cases("ledger-meaning", 120, |gen| {
        // A forger's edit: one record's meaning changed (a value, a member removed), the
        // ledger written again the way the run writes it, hash chain and all.
        let mut records = records.clone();
        let index = gen.below(records.len());
        let mut value = serde_json::to_value(&records[index]).unwrap();
        generate::change_json(gen, &mut value);
        let bytes = match serde_json::from_value(value.clone()) {
            Ok(record) => {
                records[index] = record;
                evidence::Ledger { records }.to_jsonl().into_bytes()
            }
            // No longer a record: the line written as it is, the chain recomputed around it.
            Err(_) => {
                let mut lines: Vec<&[u8]> = original.split(|byte| *byte == b'\n').collect();
                let line = serde_json::to_vec(&value).unwrap();
                lines[index] = &line;
                rechain(&lines.join(&b'\n'))
            }
        };
        let _keep = gen.keep_on_panic(&bytes);
        edits += usize::from(check_ledger(&out, &original, &bytes));
        total += 1;
    });
    assert_mostly_edits("ledger-meaning", edits, total);
}

#[test]
fn ledger_corpus_of_other_runs_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (out, original) = finished_run(dir.path());
    for entry in ledger_corpus() {
        eprintln!("{}", entry.name);
        assert!(check_ledger(&out, &original, &entry.bytes));
    }
}

// ---------------------------------------------------------------------------------------------
// The scanner report parsers
// ---------------------------------------------------------------------------------------------

const FORMATS: [(Format, &str); 4] = [
    (Format::Sarif, "sarif"),
    (Format::NpmAudit, "npm"),
    (Format::CargoAudit, "cargo-audit"),
    (Format::Gitleaks, "gitleaks"),
];

fn report_corpus() -> Vec<(Format, Vec<Entry>)> {
    FORMATS
        .iter()
        .map(|(format, dir)| {
            let fixtures = format!("tests/fixtures/scans/{dir}");
            let target = format!("reports/{}", format.name());
            (*format, corpus(&target, &[&fixtures], &[".json", ".sarif"]))
        })
        .collect()
}

/// Parses `bytes` as a `format` report: findings or a typed error with a message; redaction
/// keeps a JSON report JSON, with as many findings.
fn check_report(format: Format, bytes: &[u8]) {
    let parsed = timed("scan::parse", LIMIT, || {
        scan::parse(format, bytes, &Overrides::none())
    });
    if let Err(ScanError::Malformed(message) | ScanError::Unavailable(message)) = &parsed {
        assert!(!message.trim().is_empty(), "an error without a message");
    }
    // No amplification: no field of a finding holds more text than the report (plus a bounded
    // title); one string may stand in several fields (a gitleaks RuleID is id and rule).
    for finding in parsed.iter().flatten() {
        let location = finding.location.as_deref().unwrap_or("");
        for field in [&finding.title, &finding.id, &finding.rule, location] {
            assert!(
                field.len() <= bytes.len() + 4_096,
                "a field of {} bytes",
                field.len()
            );
        }
    }
    let redacted = scan::redact_report(format, bytes);
    if serde_json::from_slice::<serde_json::Value>(bytes).is_err() {
        assert_eq!(
            redacted, bytes,
            "a report that is not JSON is returned as it is"
        );
        return;
    }
    serde_json::from_slice::<serde_json::Value>(&redacted).expect("the redacted report is JSON");
    if let Ok(findings) = parsed {
        let again = scan::parse(format, &redacted, &Overrides::none())
            .unwrap_or_else(|err| panic!("the redacted report does not parse: {err}"));
        assert_eq!(again.len(), findings.len(), "findings lost by redaction");
    }
}

#[test]
fn report_parsers_mutated() {
    let corpus = report_corpus();
    cases("reports-mutated", 400, |gen| {
        let (format, entries) = gen.pick(&corpus);
        let bytes = mutated(gen, entries, &generate::JSON);
        let _keep = gen.keep_on_panic(&bytes);
        check_report(*format, &bytes);
    });
}

#[test]
fn report_parsers_generated() {
    let corpus = report_corpus();
    cases("reports-generated", 400, |gen| {
        let (format, entries) = gen.pick(&corpus);
        // A corpus report with one value changed (a CVSS vector, a severity, a rule index…)
        // or a document of random shape.
        let mut value =
            serde_json::from_slice(&gen.pick(entries).bytes).unwrap_or(serde_json::Value::Null);
        for _ in 0..gen.between(1, 4) {
            generate::change_json(gen, &mut value);
        }
        if gen.chance(1, 4) {
            value = generate::json(gen, 5);
        }
        let bytes = serde_json::to_vec(&value).unwrap();
        let _keep = gen.keep_on_panic(&bytes);
        check_report(*format, &bytes);
    });
}

#[test]
fn report_parsers_corpus() {
    for (format, entries) in report_corpus() {
        for entry in entries {
            eprintln!("{}", entry.name);
            check_report(format, &entry.bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: each input the harness (or issue 13's fuzzing) found, a named corpus file
// ---------------------------------------------------------------------------------------------

fn corpus_file(name: &str) -> (PathBuf, Vec<u8>) {
    let path = support::fuzz::workspace()
        .join("tests/fuzz-corpus")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    (path, bytes)
}

/// Loads the corpus gate `name` as the loader does (`spec::load`, a file).
fn load_corpus_gate(name: &str) -> Result<spec::Gate, SpecError> {
    let (path, bytes) = corpus_file(name);
    let result = spec::load(&path);
    if let Err(err) = &result {
        assert_located(err, &path, &bytes);
    }
    result
}

/// Imports the corpus tracker `name`; the result and the checklist of its first packet, which
/// must load.
fn imported_items(name: &str) -> (import::Imported, Vec<String>) {
    let (_, tracker) = corpus_file(&format!("trackers/{name}"));
    let imported = import::import("tracker.md", &tracker).unwrap();
    let gate = spec::parse(Path::new("packets.toml"), &imported.toml).unwrap();
    let items = gate.packets[0]
        .checklist
        .iter()
        .map(|item| item.text.clone())
        .collect();
    (imported, items)
}

#[test]
fn regression_long_keys_and_values_in_messages_are_shortened() {
    // Found by this harness: the key of a syntax error (what stands before `=`), an invalid
    // timeout and an invalid id were printed whole, 5,000 characters and more.
    for (name, line, start) in [
        ("long-key-in-syntax-error", 3, "(key `-----"),
        ("long-invalid-timeout", 2, "invalid timeout `1h30myyy"),
        ("long-invalid-id", 5, "invalid id `-----"),
    ] {
        let err = load_corpus_gate(&format!("gates/regression-{name}.toml")).unwrap_err();
        let shown = err.to_string();
        assert_eq!(err.line, line, "{shown}");
        assert!(shown.contains(start) && shown.contains("…`"), "{shown}");
        assert!(shown.len() < 500, "{shown}");
    }
}

#[test]
fn regression_invalid_utf8_names_line_and_column() {
    let err = load_corpus_gate("gates/regression-invalid-utf8.toml").unwrap_err();
    assert_eq!((err.line, err.column), (2, 14), "{err}");
    assert!(err.to_string().contains("not UTF-8: byte 0xff"), "{err}");
}

#[test]
fn regression_deep_nesting_names_line_and_column() {
    let err = load_corpus_gate("gates/regression-nested-150-deep.toml").unwrap_err();
    assert_eq!(err.line, 6, "{err}");
    assert!(err.column > 1 && err.message.contains("recursion"), "{err}");
}

#[test]
fn regression_an_unknown_table_after_gate_is_named_by_its_header() {
    let err = load_corpus_gate("gates/regression-unknown-table-after-gate.toml").unwrap_err();
    assert_eq!(err.kind, SpecErrorKind::UnknownKey, "{err}");
    assert_eq!((err.line, err.key.as_deref()), (4, Some("t")), "{err}");
}

#[test]
fn regression_a_timeout_of_1h1h_is_refused() {
    let err = load_corpus_gate("gates/regression-timeout-1h1h.toml").unwrap_err();
    assert_eq!(
        (err.kind, err.line),
        (SpecErrorKind::InvalidTimeout, 10),
        "{err}"
    );
}

#[test]
fn regression_items_alike_in_60_characters_get_unique_slugs() {
    let gate = load_corpus_gate("gates/regression-items-alike-in-60-characters.toml").unwrap();
    let slugs: Vec<&str> = gate.packets[0]
        .checklist
        .iter()
        .map(|item| item.slug.as_str())
        .collect();
    assert_eq!(slugs.len(), 2);
    assert_ne!(slugs[0], slugs[1]);

    let (_, tracker) = corpus_file("trackers/regression-items-alike-in-60-characters.md");
    let imported = import::import("tracker.md", &tracker).unwrap();
    let gate = spec::parse(Path::new("packets.toml"), &imported.toml).unwrap();
    let mut slugs: Vec<&str> = gate.packets[0]
        .checklist
        .iter()
        .map(|item| item.slug.as_str())
        .collect();
    assert_eq!(slugs.len(), 3, "{}", imported.toml);
    slugs.dedup();
    assert_eq!(slugs.len(), 3, "{}", imported.toml);
}

#[test]
fn regression_a_token_in_a_tracker_is_masked_not_a_bug_in_the_importer() {
    // Found by this harness: a checklist item holding a token became an item the loader
    // refuses (test names are printed unredacted), and the import failed as "a bug in the
    // importer"; the token was also copied into the gate file's comments.
    let (imported, items) = imported_items("regression-token-in-checklist-item.md");
    assert!(!imported.toml.contains("ghp_"), "{}", imported.toml);
    assert_eq!(items, ["[REDACTED] rotated", "No credential committed."]);
    let warning = imported
        .notes
        .iter()
        .find(|note| note.message.contains("looks like a secret"))
        .expect("a warning about the masked token");
    assert_eq!(warning.line, Some(5));
    assert!(
        warning.message.contains("lines 5, 11"),
        "{}",
        warning.message
    );
}

#[test]
fn regression_a_packet_named_secrets_keeps_its_checklist() {
    // Found by this harness: the test name `rotate-secrets::checklist::…-90-days` looked like
    // `secrets: <value>` to the redactor's generic assignment rule, so the loader refused a
    // plain gate ("this name looks like a secret"), and `gate import` failed as a bug.
    let gate = load_corpus_gate("gates/regression-packet-named-secrets.toml").unwrap();
    let names: Vec<String> = gate.packets[0]
        .checklist
        .iter()
        .map(|item| gate.packets[0].checklist_name(item))
        .collect();
    assert_eq!(
        names,
        ["rotate-secrets::checklist::keys-rotated-every-90-days"]
    );

    let (_, tracker) = corpus_file("trackers/regression-packet-named-secrets.md");
    let imported = import::import("tracker.md", &tracker).unwrap();
    let gate = spec::parse(Path::new("packets.toml"), &imported.toml).unwrap();
    assert_eq!(gate.packets[0].checklist.len(), 2, "{}", imported.toml);
}

#[test]
fn regression_a_token_joined_by_markdown_cleanup_is_masked() {
    // Found by this harness: `ghp_FAK__E…` is no token as written, but the importer removes
    // `__` (Markdown emphasis) and the item became one, refused by the loader ("a bug in the
    // importer"). Every string and id the importer writes is checked by the redactor too.
    let (_, tracker) = corpus_file("trackers/regression-token-joined-by-markdown-cleanup.md");
    let imported = import::import("tracker.md", &tracker).unwrap();
    assert_eq!(redaction::redact(&imported.toml), imported.toml);
    let gate = spec::parse(Path::new("packets.toml"), &imported.toml).unwrap();
    assert_eq!(gate.packets[0].id, "packet-3", "{}", imported.toml);
    assert_eq!(gate.packets[0].checklist[0].text, "[REDACTED] rotated");
}

#[test]
fn regression_sarif_message_arguments_do_not_amplify() {
    // Found while writing this harness: `{0}` replaced by an argument holding `{1}`, replaced
    // again by one holding `{2}`…: this 1.4 KB report asked for 4.9 GB (40^6 copies).
    let (_, bytes) = corpus_file("reports/sarif/regression-message-arguments-amplify.sarif");
    let findings = timed("scan::parse", Duration::from_secs(2), || {
        scan::parse(Format::Sarif, &bytes, &Overrides::none())
    })
    .unwrap();
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0].title.starts_with("{1}{1}{1}"),
        "{}",
        findings[0].title
    );
    assert_eq!(findings[0].title.chars().count(), 1_001);
}

#[test]
fn regression_items_differing_in_a_token_stay_two_items() {
    // Found by this harness: two items that differ only in a token were both masked to
    // `[REDACTED] rotated`, which the loader refuses as one item written twice.
    let (_, items) = imported_items("regression-items-differing-in-a-token.md");
    assert_eq!(items, ["[REDACTED] rotated", "[REDACTED] rotated (line 6)"]);
}
