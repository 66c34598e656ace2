//! Unit tests of the command line's argv handling: which command was invoked, the `gate` word
//! cargo adds, help naming the command as invoked, exit code 2 for bad arguments.

use super::*;
use std::path::PathBuf;

fn argv(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

fn parsed(invoked: Invocation, words: &[&str]) -> GateCommand {
    parse(invoked, argv(words)).unwrap_or_else(|err| panic!("{words:?}: {err}"))
}

#[test]
fn the_program_name_says_how_the_command_line_was_invoked() {
    for program in [
        "cargo-gate",
        "/home/dev/.cargo/bin/cargo-gate",
        "./cargo-gate",
    ] {
        assert_eq!(
            invocation_of(&argv(&[program, "gate"])),
            Invocation::CargoGate,
            "{program}"
        );
    }
    for program in [
        "xtask",
        "/work/target/debug/xtask",
        "cargo-gatekeeper",
        "gate",
    ] {
        assert_eq!(
            invocation_of(&argv(&[program, "gate"])),
            Invocation::Xtask,
            "{program}"
        );
    }
    assert_eq!(invocation_of(&[]), Invocation::Xtask);
}

#[test]
fn cargo_gate_reads_the_same_with_and_without_the_gate_word_cargo_adds() {
    for words in [
        &[
            "cargo-gate",
            "gate",
            "--gate",
            "g.toml",
            "-j",
            "3",
            "--",
            "--list",
        ][..],
        &["cargo-gate", "--gate", "g.toml", "-j", "3", "--", "--list"][..],
    ] {
        let command = parsed(Invocation::CargoGate, words);
        assert!(command.action.is_none(), "{words:?}");
        assert_eq!(command.run.gate, PathBuf::from("g.toml"));
        assert_eq!(command.run.jobs, Some(3));
        assert_eq!(command.run.libtest, ["--list"]);
    }
    for words in [
        &["cargo-gate", "gate", "verify", "--out", "o"][..],
        &["cargo-gate", "verify", "--out", "o"][..],
    ] {
        match parsed(Invocation::CargoGate, words).action {
            Some(GateAction::Verify { out, .. }) => assert_eq!(out, PathBuf::from("o")),
            other => panic!("{words:?}: {other:?}"),
        }
    }
}

#[test]
fn the_xtask_pattern_needs_the_gate_subcommand_and_reads_the_same_flags() {
    let command = parsed(
        Invocation::Xtask,
        &["xtask", "gate", "--gate", "g.toml", "--packet", "SEC-01"],
    );
    assert_eq!(command.run.gate, PathBuf::from("g.toml"));
    assert_eq!(command.run.packets, ["SEC-01"]);
    match parsed(Invocation::Xtask, &["xtask", "gate", "init", "--force"]).action {
        Some(GateAction::Init { gate, force, .. }) => {
            assert_eq!(gate, PathBuf::from("packets.toml"));
            assert!(force);
        }
        other => panic!("{other:?}"),
    }
    let err = parse(Invocation::Xtask, argv(&["xtask", "--gate", "g.toml"])).unwrap_err();
    assert!(err.use_stderr(), "{err}");
}

#[test]
fn help_and_usage_name_the_command_as_it_was_invoked() {
    let help = |invoked, words: &[&str]| {
        let err = parse(invoked, argv(words)).expect_err("--help is clap's error");
        assert!(!err.use_stderr(), "help goes to stdout: {err}");
        err.render().to_string()
    };
    for words in [
        &["cargo-gate", "gate", "--help"][..],
        &["cargo-gate", "--help"],
    ] {
        let text = help(Invocation::CargoGate, words);
        assert!(text.contains("Usage: cargo gate [OPTIONS]"), "{text}");
        assert!(!text.contains("xtask"), "{text}");
    }
    let text = help(
        Invocation::CargoGate,
        &["cargo-gate", "gate", "verify", "--help"],
    );
    assert!(
        text.contains("Usage: cargo gate verify [OPTIONS]"),
        "{text}"
    );
    let text = help(Invocation::Xtask, &["xtask", "gate", "--help"]);
    assert!(text.contains("Usage: cargo xtask gate [OPTIONS]"), "{text}");
    let err = parse(
        Invocation::CargoGate,
        argv(&["cargo-gate", "--no-such-flag"]),
    )
    .unwrap_err();
    assert!(err.use_stderr());
    assert!(
        err.render().to_string().contains("Usage: cargo gate"),
        "{err}"
    );
}

#[test]
fn both_command_lines_have_the_same_subcommands_and_flags() {
    let xtask = <XtaskCli as clap::CommandFactory>::command();
    let xtask_gate = xtask.find_subcommand("gate").expect("gate").clone();
    let cargo_gate = args::cargo_gate_command();
    let names = |command: &clap::Command| {
        let mut names: Vec<String> = command
            .get_subcommands()
            .map(|sub| {
                let flags: Vec<String> = sub
                    .get_arguments()
                    .map(|arg| arg.get_id().to_string())
                    .collect();
                format!("{} {flags:?}", sub.get_name())
            })
            .chain(command.get_arguments().map(|arg| arg.get_id().to_string()))
            .filter(|name| name != "version")
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&xtask_gate), names(&cargo_gate));
    assert!(names(&cargo_gate)
        .iter()
        .any(|name| name.starts_with("init ")));
}

#[test]
fn bad_arguments_exit_2_and_help_exits_0() {
    assert_eq!(
        run(["xtask", "gate", "--no-such-flag"]),
        ExitCode::from(exit_codes::INVALID as u8)
    );
    assert_eq!(
        run(["xtask", "gate", "verify", "--jobs", "2"]),
        ExitCode::from(2)
    );
    assert_eq!(run(["xtask", "gate", "--help"]), ExitCode::from(0));
    assert_eq!(run(["xtask", "bench"]), ExitCode::from(2));
}
