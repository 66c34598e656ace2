//! Processes cannot escape a check or outlive the gate: leak detection end to end through the
//! real xtask, and a SIGKILL of the gate with checks and a service running.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{fixtures, gate_with_env, xtask, Run};

/// A number no other process has in its command line: `300.<test pid><n>`.
fn mark(n: u32) -> String {
    format!("300.{}{n}", std::process::id())
}

/// Pids and command lines of live processes one of whose threads has `needle` in its command
/// line (a process whose leader thread exited shows an empty `/proc/PID/cmdline`).
fn running(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) else {
            continue;
        };
        let text = tasks.flatten().find_map(|task| {
            let cmdline = std::fs::read(task.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(needle).then_some(text)
        });
        if let Some(text) = text {
            found.push(format!("{} {text}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

fn wait_until_gone(needle: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = running(needle);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leaked(run: &Run, name: &str) -> Vec<String> {
    run.check(name)["leaked"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|entry| entry.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_way_out_of_the_process_group_is_a_leaky_failure_and_nothing_survives() {
    let mark = mark(1);
    let clock = Instant::now();
    let run = gate_with_env("leaks.toml", &["-j", "4"], &[("MARK", &mark)]);
    let elapsed = clock.elapsed();
    let context = run.context();
    assert_eq!(
        wait_until_gone(&mark, Duration::from_secs(1)),
        Vec::<String>::new()
    );
    assert_eq!(run.code(), 1, "{context}");
    assert_eq!(run.decision(), "NO_GO", "{context}");
    // Leaks are killed after their 300ms, not after some long drain timeout.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let cases = [
        ("setsid", 1, "P0"),
        ("new-pgid", 2, "P0"),
        ("set-m", 3, "P0"),
        ("double-fork", 4, "P0"),
        ("closed-output", 5, "P0"),
        ("ignores-term", 6, "P0"),
        ("secret-argv", 7, "P1"),
    ];
    for (check, n, severity) in cases {
        let name = format!("LEAK::{check}");
        let record = run.check(&name);
        let sleep = format!("`sleep {mark}{n}`");
        assert_eq!(record["outcome"], "fail", "{name}: {record}");
        assert_eq!(record["severity"], severity, "{name}");
        assert_eq!(record["exit_code"], 0, "{name}: {record}");
        let message = record["message"].as_str().unwrap();
        assert!(message.starts_with("exit 0; leaky: "), "{name}: {message}");
        assert!(message.contains(&sleep), "{name}: {message}");
        // Attributed to the right check although four ran at once: only its own processes.
        let leaked = leaked(&run, &name);
        assert!(
            leaked.iter().any(|entry| entry.ends_with(&sleep))
                && leaked
                    .iter()
                    .all(|entry| entry.contains(&format!("{mark}{n}"))),
            "{name}: {leaked:?}"
        );
        let log =
            std::fs::read_to_string(run.out.path().join(format!("logs/LEAK/{check}.log"))).unwrap();
        assert!(
            log.lines()
                .any(|line| line.starts_with("[relgate] leaky: ") && line.contains(&sleep)),
            "{name}: {log}"
        );
    }
    assert!(
        run.check("LEAK::secret-argv")["message"]
            .as_str()
            .unwrap()
            .contains("still running 200ms after"),
        "{context}"
    );
    let clean = run.check("CLEAN::waits-for-its-children");
    assert_eq!(clean["outcome"], "pass", "{clean}");
    assert!(clean.get("leaked").is_none(), "{clean}");
    assert_eq!(run.packet("CLEAN")["status"], "DONE", "{context}");
    // The leaked command line held a token: no file of the run keeps it.
    for file in ["evidence.jsonl", "junit.xml", "logs/LEAK/secret-argv.log"] {
        let text = std::fs::read_to_string(run.out.path().join(file)).unwrap();
        assert!(!text.contains("ghp_R3lgateLeakTestToken"), "{file}: {text}");
    }
    assert!(!run.stdout().contains("ghp_R3lgateLeakTestToken"));
    let verify = run.verify();
    assert!(verify.status.success(), "{verify:?}\n{context}");
}

#[test]
fn stopping_a_service_stops_every_process_it_started() {
    let mark = mark(3);
    let run = gate_with_env("service-tree.toml", &[], &[("MARK", &mark)]);
    let context = run.context();
    assert_eq!(
        wait_until_gone(&mark, Duration::from_secs(1)),
        Vec::<String>::new(),
        "{context}"
    );
    assert_eq!(run.code(), 0, "{context}");
    // The helper ignores SIGTERM: it was there during the run, and needed SIGKILL at the end.
    assert_eq!(
        run.check("USES::helper-runs")["outcome"],
        "pass",
        "{context}"
    );
    let service = run
        .ledger()
        .into_iter()
        .find(|line| line["kind"] == "service")
        .expect("service record");
    assert!(
        service["message"]
            .as_str()
            .unwrap()
            .starts_with("killed after not stopping within 5s"),
        "{service}"
    );
}

#[test]
fn an_invalid_leak_timeout_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key, line) in [
        (
            "[[packet]]\nid = \"A\"\n[[packet.check]]\nid = \"x\"\nrun = \"true\"\nleak_timeout = \"soon\"\n",
            "packet.check.leak_timeout",
            6,
        ),
        (
            "[defaults]\nleak_timeout = \"5 parsecs\"\n[[packet]]\nid = \"A\"\n",
            "defaults.leak_timeout",
            2,
        ),
    ] {
        let gate = dir.path().join("gate.toml");
        std::fs::write(&gate, text).unwrap();
        let output = xtask()
            .args(["gate", "--gate"])
            .arg(&gate)
            .arg("--out")
            .arg(dir.path().join("out"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("gate.toml:{line}")) && stderr.contains(key),
            "{stderr}"
        );
    }
}

#[test]
fn sigkill_of_the_gate_leaves_no_check_or_service_process_behind() {
    if relgate_pg::testing::skip_without_postgres() {
        return;
    }
    let mark = mark(2);
    let out = tempfile::tempdir().unwrap();
    // The cluster's data directory goes here; traversable by the `postgres` user (as root).
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = xtask()
        .args(["gate", "--no-progress", "-j", "4", "--gate"])
        .arg(fixtures().join("sigkill.toml"))
        .arg("--out")
        .arg(out.path())
        .env("MARK", &mark)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let all_up = |left: &[String]| {
        (1..=5).all(|n| left.iter().any(|p| p.contains(&format!("sleep {mark}{n}"))))
            && left
                .iter()
                .any(|p| p.contains(&format!("zombie_leader.py {mark}6")))
    };
    while !all_up(&running(&mark)) {
        assert!(
            Instant::now() < deadline,
            "not all started: {:?}",
            running(&mark)
        );
        assert!(child.try_wait().unwrap().is_none(), "the gate ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_some(),
        "the cluster runs in TMPDIR"
    );
    // zombie_leader.py ends its main thread 50ms after it started.
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: SIGKILL to our own child, the gate.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    child.wait().unwrap();
    assert_eq!(
        wait_until_gone(&mark, Duration::from_secs(5)),
        Vec::<String>::new(),
        "outlived the gate"
    );
    // relgate-pg's watchdog stops the cluster (SIGINT, up to 10 s) and removes its directory.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(tmp.path()).unwrap().next().is_some() {
        assert!(Instant::now() < deadline, "the cluster outlived the gate");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing that looks like a finished run.
    assert!(!Path::new(&out.path().join("evidence.jsonl")).exists());
}

#[test]
fn zero_parallel_trials_is_refused_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["-j", "0"][..], &["--", "--test-threads", "0"][..]] {
        let mut child = xtask()
            .args(["gate", "--no-progress", "--gate"])
            .arg(fixtures().join("go.toml"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{args:?}: hangs");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("must be at least 1"), "{stderr}");
    }
}

#[test]
fn a_supervisor_serves_the_next_check_only_after_a_clean_one() {
    let mark = mark(5);
    let run = gate_with_env("supervisor-reuse.toml", &["-j", "1"], &[("MARK", &mark)]);
    let context = run.context();
    assert_eq!(
        wait_until_gone(&mark, Duration::from_secs(1)),
        Vec::<String>::new()
    );
    let supervisor = |check: &str| -> i32 {
        let log = std::fs::read_to_string(run.out.path().join(format!("logs/{check}.log")))
            .unwrap_or_else(|err| panic!("{check}: {err}\n{context}"));
        log.lines()
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("{log}"))
    };
    // One exec per worker, not per check: the clean check's supervisor runs the next one.
    assert_eq!(supervisor("A/clean"), supervisor("A/leaks"), "{context}");
    // A check that leaked, or was signalled on its timeout, hands nothing on.
    assert_ne!(
        supervisor("A/leaks"),
        supervisor("B/after-leak"),
        "{context}"
    );
    assert_eq!(
        supervisor("B/after-leak"),
        supervisor("B/times-out"),
        "{context}"
    );
    assert_ne!(
        supervisor("B/times-out"),
        supervisor("C/after-timeout"),
        "{context}"
    );
    assert_eq!(
        supervisor("C/after-timeout"),
        supervisor("C/last"),
        "{context}"
    );
    assert_eq!(run.check("A::leaks")["outcome"], "fail", "{context}");
    assert_eq!(run.check("B::times-out")["outcome"], "fail", "{context}");
    for check in ["A::clean", "B::after-leak", "C::after-timeout", "C::last"] {
        assert_eq!(run.check(check)["outcome"], "pass", "{check}: {context}");
    }
    // The gate retires its idle supervisors before it exits.
    for check in ["A/clean", "B/after-leak", "C/last"] {
        let pid = supervisor(check);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).starts_with("relgate-supervisor"),
            "supervisor {pid} of {check} outlived the gate"
        );
    }
    assert!(run.verify().status.success(), "{context}");
}
