//! Leak detection through [`crate::run::exec::run`]: every way a process can leave its command's
//! process group is caught, killed and reported; well-behaved commands pay nothing.

use std::time::{Duration, Instant};

use crate::run::exec::tests::{sha256_of_file, Fixture};
use crate::run::exec::{containment_failure, ExecResult, DEFAULT_KILL_GRACE};

/// A `sleep` whose argument no other process has, to find it in /proc.
fn marker() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("300.{}{n:03}", std::process::id())
}

/// Runs `script` (with `SLEEP` replaced by `sleep <marker>`) and asserts that it leaked
/// exactly that sleep, which is gone afterwards, and that it did so quickly.
fn assert_leak_caught(script: &str) -> ExecResult {
    let fx = Fixture::new();
    let marker = marker();
    let script = script.replace("SLEEP", &format!("sleep {marker}"));
    let clock = Instant::now();
    let result = fx.sh(&script);
    let elapsed = clock.elapsed();
    assert_eq!(
        running(&marker),
        Vec::<String>::new(),
        "{script}: left running"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "{script}: took {elapsed:?}"
    );
    let sleep = format!("sleep {marker}");
    assert!(
        result.leaked.iter().any(|l| l.command == sleep)
            && result.leaked.iter().all(|l| l.command.contains(&marker)),
        "{script}: {:?}",
        result.leaked
    );
    let log = String::from_utf8_lossy(&fx.log_bytes()).into_owned();
    let leaked = result
        .leaked
        .iter()
        .find(|l| l.command == sleep)
        .expect("sleep");
    assert!(
        log.contains("[relgate] leaky: ")
            && log.contains("still running 300ms after the command exited, killed: ")
            && log.contains(&format!("pid {} `{sleep}`", leaked.pid)),
        "{log}"
    );
    assert_eq!(result.sha256, sha256_of_file(&fx.log()));
    let failure = containment_failure(&result, Duration::from_millis(300)).expect("leaky");
    assert!(failure.starts_with("leaky: "), "{failure}");
    result
}

#[test]
fn a_setsid_background_process_is_a_leak_and_is_killed() {
    let result = assert_leak_caught("setsid SLEEP & echo started");
    assert_eq!(result.exit_code, Some(0));
}

#[test]
fn a_background_job_in_a_new_process_group_is_a_leak() {
    assert_leak_caught("bash -c 'set -m; SLEEP &'");
    assert_leak_caught(
        "python3 -c 'import subprocess, sys; subprocess.Popen(sys.argv[1:], process_group=0)' SLEEP",
    );
}

#[test]
fn a_double_fork_is_a_leak() {
    assert_leak_caught("(SLEEP &) ; exit 0");
    assert_leak_caught(
        "python3 -c 'import os, sys\nif os.fork() == 0:\n  os.setsid()\n  if os.fork() == 0: os.execvp(\"sleep\", sys.argv[1:])\n  os._exit(0)\nos.wait()' SLEEP",
    );
}

#[test]
fn a_leak_with_closed_output_is_caught_too() {
    // cargo-nextest only sees leaks that hold stdout or stderr open; this one does not.
    assert_leak_caught("setsid SLEEP </dev/null >/dev/null 2>&1 & echo started");
}

#[test]
fn a_leak_ignoring_sigterm_is_killed() {
    assert_leak_caught("setsid sh -c \"trap '' TERM; SLEEP\" >/dev/null 2>&1 & sleep 0.1");
}

#[test]
fn many_leaks_are_all_killed_and_the_message_names_the_first_ten() {
    let fx = Fixture::new();
    let marker = marker();
    let result = fx.sh(&format!(
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do setsid sleep {marker} & done"
    ));
    assert_eq!(running(&marker), Vec::<String>::new());
    assert_eq!(result.leaked.len(), 12, "{:?}", result.leaked);
    let failure = containment_failure(&result, Duration::from_millis(300)).expect("leaky");
    assert!(
        failure.starts_with("leaky: 12 processes still running 300ms after")
            && failure.ends_with(", and 2 more")
            && failure.matches(&format!("`sleep {marker}`")).count() == 10,
        "{failure}"
    );
}

#[test]
fn a_background_process_that_ends_within_the_leak_timeout_is_no_leak() {
    let fx = Fixture::new();
    let result = fx.sh("setsid sleep 0.1 & echo quick");
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.leaked, Vec::new());
    assert_eq!(containment_failure(&result, DEFAULT_KILL_GRACE), None);
    assert_eq!(fx.log_bytes(), b"quick\n");
}

#[test]
fn a_well_behaved_command_is_contained_without_delay() {
    let fx = Fixture::new();
    let clock = Instant::now();
    let result = fx.sh("true");
    let elapsed = clock.elapsed();
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.leaked, Vec::new());
    assert_eq!(result.uncontained, None);
    // Far below the 300ms leak timeout: nothing waits for it when nothing is left.
    assert!(elapsed < Duration::from_millis(250), "took {elapsed:?}");
}

#[test]
fn a_killed_supervisor_fails_containment() {
    let fx = Fixture::new();
    let result = fx.sh("sleep 0.2; kill -9 $PPID; echo after");
    let failure = containment_failure(&result, DEFAULT_KILL_GRACE).expect("uncontained");
    assert!(
        failure.contains("supervisor of this command was killed or interfered with"),
        "{failure}"
    );
}

#[test]
fn a_forged_done_report_is_caught_and_the_tree_still_dies() {
    let fx = Fixture::new();
    let marker = marker();
    // The command writes into its supervisor's report pipe, as an attacker would.
    let result = fx.sh(&format!(
        "setsid sleep {marker} & printf '%s\\n' '{{\"event\":\"exited\",\"status\":0}}' \
         '{{\"event\":\"done\"}}' > /proc/$PPID/fd/1; sleep {marker}"
    ));
    assert_interfered(&result, &marker);
}

/// Pids of processes any of whose threads runs with `needle` in its command line: a process
/// whose leader thread exited shows an empty `/proc/PID/cmdline`, but its threads do not.
fn running(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) else {
            continue;
        };
        let hit = tasks.flatten().any(|task| {
            std::fs::read(task.path().join("cmdline"))
                .is_ok_and(|raw| String::from_utf8_lossy(&raw).contains(needle))
        });
        if hit {
            found.push(entry.file_name().to_string_lossy().to_string());
        }
    }
    found
}

/// A process whose main thread called `pthread_exit`: its leader is a zombie, its other thread
/// sleeps for `argv[1]` seconds.
pub(crate) const ZOMBIE_LEADER_PY: &str = "import ctypes, threading, time, sys\n\
threading.Thread(target=lambda: time.sleep(float(sys.argv[1]))).start()\n\
time.sleep(0.05)\n\
ctypes.CDLL(None).pthread_exit(None)\n";

#[test]
fn a_process_behind_a_zombie_leader_thread_is_a_leak_and_is_killed() {
    let fx = Fixture::new();
    std::fs::write(fx.dir.path().join("zomb.py"), ZOMBIE_LEADER_PY).expect("script");
    let marker = marker();
    let clock = Instant::now();
    let result = fx.sh(&format!(
        "setsid python3 zomb.py {marker} </dev/null >/dev/null 2>&1 & sleep 0.2; exit 0"
    ));
    let elapsed = clock.elapsed();
    assert_eq!(running(&marker), Vec::<String>::new(), "left running");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.uncontained, None);
    assert!(
        result.leaked.len() == 1
            && result.leaked[0].pid > 0
            && result.leaked[0]
                .command
                .ends_with(&format!("python3 zomb.py {marker}")),
        "{:?}",
        result.leaked
    );
    let failure = containment_failure(&result, Duration::from_millis(300)).expect("leaky");
    assert!(failure.starts_with("leaky: "), "{failure}");
}

/// Asserts that `result` failed as lost containment, with nothing left of the marked sleep.
fn assert_interfered(result: &ExecResult, marker: &str) {
    assert_eq!(running(marker), Vec::<String>::new(), "left running");
    let failure = containment_failure(result, DEFAULT_KILL_GRACE)
        .unwrap_or_else(|| panic!("uncontained: {result:?}"));
    assert!(
        failure.contains("supervisor of this command was killed or interfered with"),
        "{failure}"
    );
}

#[test]
fn the_control_socket_cannot_be_opened_through_proc() {
    let fx = Fixture::new();
    let marker = marker();
    // The path a command would take to its supervisor's stdin (root may open another
    // process's /proc/PID/fd entries): a socket cannot be opened that way, so the leftover
    // stays a leftover, and is killed as one.
    let result = fx.sh(&format!(
        "setsid sh -c 'printf S > /proc/'$PPID'/fd/0 || echo refused; exec sleep {marker}' \
         </dev/null >>LOG 2>&1 & exit 0"
    )
    .replace("LOG", &fx.dir.path().join("side.log").display().to_string()));
    assert_eq!(running(&marker), Vec::<String>::new(), "left running");
    assert_eq!(result.uncontained, None, "{result:?}");
    assert!(
        result.leaked.iter().any(|l| l.command.contains(&marker)),
        "{result:?}"
    );
    let side = std::fs::read_to_string(fx.dir.path().join("side.log")).expect("side log");
    assert!(side.contains("refused"), "{side}");
}

#[test]
fn a_byte_forged_into_the_control_socket_fails_the_command() {
    for byte in [b"S", b"K", b"x"] {
        let marker = marker();
        let argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            format!("setsid sleep {marker} </dev/null >/dev/null 2>&1 & sleep 0.3"),
        ];
        let env = std::collections::BTreeMap::new();
        let launch = super::Launch {
            argv: &argv,
            cwd: std::path::Path::new("/"),
            env: &env,
            leak_timeout: Some(Duration::from_millis(300)),
            kill_grace: DEFAULT_KILL_GRACE,
        };
        let (_reader, writer) = std::io::pipe().expect("pipe");
        let mut supervised = super::Supervised::spawn(&launch, writer).expect("spawn");
        // Whoever else got hold of the socket (ptrace, pidfd_getfd) writes without the nonce.
        let control = supervised
            .process
            .as_mut()
            .and_then(|process| process.control.as_mut())
            .expect("control socket");
        std::io::Write::write_all(control, byte).expect("write");
        let finished = supervised.finish();
        assert!(finished.lost, "{}: {finished:?}", byte[0] as char);
        assert_eq!(finished.status, None);
        assert_eq!(running(&marker), Vec::<String>::new(), "left running");
    }
}

/// The pid of the supervisor that ran `script` (which prints `$PPID` first).
fn supervisor_of(fx: &Fixture, result: &ExecResult) -> i32 {
    let log = String::from_utf8_lossy(&fx.log_bytes()).into_owned();
    log.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {log:?}: {result:?}"))
}

#[test]
fn a_supervisor_that_timed_out_or_leaked_serves_no_other_command() {
    // Other tests share the pool, so only this direction is certain: after a command that
    // was sent a signal or left processes behind, its supervisor is never seen again.
    let fx = Fixture::new();
    let timed_out = fx.run(
        &["sh", "-c", "echo $PPID; exec sleep 5"],
        Duration::from_millis(200),
        DEFAULT_KILL_GRACE,
    );
    assert!(timed_out.timed_out, "{timed_out:?}");
    let mut spent = vec![supervisor_of(&fx, &timed_out)];
    let leaked = fx.sh(&format!(
        "echo $PPID; setsid sleep {} </dev/null >/dev/null 2>&1 & exit 0",
        marker()
    ));
    assert!(!leaked.leaked.is_empty(), "{leaked:?}");
    spent.push(supervisor_of(&fx, &leaked));
    for _ in 0..5 {
        let clean = fx.sh("echo $PPID");
        assert!(!spent.contains(&supervisor_of(&fx, &clean)), "{spent:?}");
    }
}
