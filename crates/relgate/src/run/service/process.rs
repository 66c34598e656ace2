//! A service that is a process: started under a supervisor, its output copied into its log
//! (watching for `listening on HOST:PORT`), waited for until ready, stopped at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use regex::Regex;

use super::error::{ReadyFailure, StartError};
use super::ready::{http_ready, tcp_ready};
use super::{interpolate, Endpoint, Handle, POLL, STOP_GRACE};
use crate::output::tail;
use crate::run::supervisor::{Launch, Supervised};
use crate::spec::{self, ProcessSpec, ReadyProbe, Service};

/// A running service process.
pub(super) struct ProcessHandle {
    /// `None` once it has been stopped.
    supervised: Option<Supervised>,
    pump: Option<std::thread::JoinHandle<()>>,
    pump_done: mpsc::Receiver<()>,
}

pub(super) fn start_process(
    service: &Service,
    process: &ProcessSpec,
    argv: Vec<String>,
    endpoints: &BTreeMap<String, Endpoint>,
    own_port: Option<u16>,
    log_path: &Path,
) -> Result<(Endpoint, Handle, Option<u64>), StartError> {
    let deadline = Instant::now() + service.ready_timeout;
    let log = std::fs::File::create(log_path).map_err(|source| StartError::Create {
        path: log_path.to_path_buf(),
        source,
    })?;
    let (reader, writer) = std::io::pipe().map_err(StartError::Pipe)?;
    let program = argv.first().ok_or(StartError::EmptyCommand)?;
    let env: BTreeMap<String, String> = process
        .env
        .iter()
        .map(|(key, value)| (key.clone(), interpolate(value, endpoints, own_port)))
        .collect();
    let launch = Launch {
        argv: &argv,
        cwd: &process.cwd,
        env: &env,
        leak_timeout: None,
        kill_grace: STOP_GRACE,
    };
    let supervised = Supervised::spawn(&launch, writer).map_err(|source| StartError::Spawn {
        program: program.clone(),
        source,
    })?;
    let (address_tx, address_rx) = mpsc::channel();
    let (done_tx, pump_done) = mpsc::channel();
    let pump = std::thread::Builder::new()
        .name(format!("relgate-service-{}", service.name))
        .spawn(move || {
            pump_log(reader, log, address_tx);
            let _ = done_tx.send(());
        })
        .map_err(StartError::LogReader)?;
    let mut handle = ProcessHandle {
        supervised: Some(supervised),
        pump: Some(pump),
        pump_done,
    };
    let result = wait_ready(
        service,
        process,
        own_port,
        &mut handle,
        &address_rx,
        deadline,
    );
    match result {
        Ok(endpoint) => Ok((endpoint, Handle::Process(handle), None)),
        Err(why) => {
            stop_process(&mut handle);
            let tail = tail::read_tail(log_path, 4096)
                .map(|bytes| tail::tail_text(&bytes, 15))
                .unwrap_or_default();
            let tail = (!tail.trim().is_empty()).then(|| tail.trim_end().to_string());
            Err(StartError::NotReady { why, tail })
        }
    }
}

/// Waits until the process says where it listens (or was given `${port}`) and its readiness
/// probe passes, or it exits, or the deadline passes.
fn wait_ready(
    service: &Service,
    process: &ProcessSpec,
    own_port: Option<u16>,
    handle: &mut ProcessHandle,
    address_rx: &mpsc::Receiver<(String, u16)>,
    deadline: Instant,
) -> Result<Endpoint, ReadyFailure> {
    let timeout = spec::format_duration(service.ready_timeout);
    let exited = |handle: &mut ProcessHandle| -> Option<ReadyFailure> {
        let supervised = handle.supervised.as_mut()?;
        match supervised.wait_exit(Duration::ZERO) {
            Some(status) => Some(ReadyFailure::Exited(status)),
            None if supervised.lost() => Some(ReadyFailure::SupervisorKilled),
            None => None,
        }
    };
    let (host, port) = match own_port {
        Some(port) => ("127.0.0.1".to_string(), port),
        None => loop {
            match address_rx.recv_timeout(POLL) {
                Ok(address) => break address,
                Err(_) => {
                    if let Some(why) = exited(handle) {
                        return Err(why);
                    }
                    if Instant::now() >= deadline {
                        return Err(ReadyFailure::NoAddress { timeout });
                    }
                }
            }
        },
    };
    loop {
        if let Some(why) = exited(handle) {
            return Err(why);
        }
        let ready = match &process.ready {
            ReadyProbe::Tcp => tcp_ready(&host, port),
            ReadyProbe::Http(path) => http_ready(&host, port, path),
        };
        match ready {
            Ok(()) => break,
            Err(source) if Instant::now() >= deadline => {
                return Err(ReadyFailure::Timeout { timeout, source })
            }
            Err(_) => std::thread::sleep(POLL * 2),
        }
    }
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Ok(Endpoint {
        url: format!("http://{url_host}:{port}"),
        host,
        port,
    })
}

/// Copies the service's output into its log, and sends the first `listening on HOST:PORT`.
fn pump_log(
    reader: std::io::PipeReader,
    mut log: std::fs::File,
    address_tx: mpsc::Sender<(String, u16)>,
) {
    let pattern =
        Regex::new(r"listening on (?:[a-z]+://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})")
            .expect("static regex");
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    let mut found = false;
    // The same line redactor as checks' logs: key blocks across lines, long lines carried over.
    let mut redactor = crate::output::redaction::LineRedactor::new();
    loop {
        line.clear();
        // Lines are bounded so that a service printing without newlines cannot grow memory.
        match (&mut reader).take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                let _ = redactor.finish(&mut |bytes| log.write_all(bytes));
                return;
            }
            Ok(_) => {}
        }
        if redactor
            .push(&line, &mut |bytes| log.write_all(bytes))
            .is_err()
        {
            return;
        }
        if !found {
            let text = String::from_utf8_lossy(&line);
            if let Some(captures) = pattern.captures(&text) {
                if let Ok(port) = captures[2].parse::<u16>() {
                    let host = captures[1].trim_matches(['[', ']']).to_string();
                    let host = if host == "0.0.0.0" {
                        "127.0.0.1".to_string()
                    } else if host == "::" {
                        "::1".to_string()
                    } else {
                        host
                    };
                    found = address_tx.send((host, port)).is_ok();
                }
            }
        }
    }
}

/// SIGTERM to every process of the service (its whole tree, not only its process group), a
/// grace period, SIGKILL to what is left; reaps and joins the log reader.
pub(super) fn stop_process(handle: &mut ProcessHandle) -> String {
    let Some(mut supervised) = handle.supervised.take() else {
        return "already stopped".to_string();
    };
    let already = supervised.wait_exit(Duration::ZERO);
    let finished = supervised.stop();
    let message = match (already, finished.forced, finished.lost) {
        (_, _, true) => "its supervisor was killed or interfered with: processes it started may have survived"
            .to_string(),
        (Some(status), false, _) => format!("had already exited ({status}) when the run ended"),
        (Some(status), true, _) => format!(
            "had already exited ({status}) when the run ended; processes it left were killed after not stopping within {}",
            spec::format_duration(STOP_GRACE)
        ),
        (None, false, _) => "stopped".to_string(),
        (None, true, _) => format!(
            "killed after not stopping within {}",
            spec::format_duration(STOP_GRACE)
        ),
    };
    if handle
        .pump_done
        .recv_timeout(Duration::from_secs(2))
        .is_ok()
    {
        if let Some(pump) = handle.pump.take() {
            let _ = pump.join();
        }
    }
    message
}
