//! The live progress display of `cargo xtask gate`: which packet, which check, how long.
//!
//! [`Style::Live`] (stdout and stderr are both a terminal, no `--no-progress`, `TERM` is not
//! `dumb`): one status line at the bottom of stderr, redrawn five times a second, showing the
//! running checks with their elapsed time and the count done. libtest's own lines still appear:
//! while the display is live, stdout is a pipe that a thread copies to the terminal above the
//! status line, so the two never tear each other. [`Style::Plain`]: one line on stderr when a
//! check starts, one when it ends (outcome and duration), and a heartbeat every 30 s naming what
//! still runs — readable in a CI log. [`Style::Off`]: nothing (under `cargo test` / nextest,
//! which show their own progress).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::evidence::Outcome;
use crate::model::clock::human_duration;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A redrawn status line on a terminal.
    Live,
    /// Start and end lines plus a heartbeat.
    Plain,
    /// Nothing.
    Off,
}

impl Style {
    /// Live on a terminal, plain otherwise, or plain when `no_progress` asks for it.
    pub fn detect(no_progress: bool) -> Style {
        let tty = |fd| unsafe { libc::isatty(fd) } == 1;
        let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
        if !no_progress && !dumb && tty(libc::STDOUT_FILENO) && tty(libc::STDERR_FILENO) {
            Style::Live
        } else {
            Style::Plain
        }
    }
}

/// How often a plain display says what still runs.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// How often the live line is redrawn.
const FRAME: Duration = Duration::from_millis(200);

struct State {
    started: Instant,
    total: usize,
    done: usize,
    failed: usize,
    /// Running checks by name, with their start.
    running: BTreeMap<String, Instant>,
    stopped: bool,
    /// Whether the live status line is currently drawn.
    drawn: bool,
}

struct Shared {
    style: Style,
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn new(style: Style, total: usize) -> Arc<Shared> {
        Arc::new(Shared {
            style,
            state: Mutex::new(State {
                started: Instant::now(),
                total,
                done: 0,
                failed: 0,
                running: BTreeMap::new(),
                stopped: false,
                drawn: false,
            }),
            wake: Condvar::new(),
        })
    }
}

/// The progress display of one run; `Progress::off()` when nothing should be shown.
pub struct Progress {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    capture: Mutex<Option<Capture>>,
}

impl Progress {
    /// A display that shows nothing.
    pub fn off() -> Progress {
        Progress::new(Style::Off, 0)
    }

    /// Starts a display for `total` checks.
    pub fn new(style: Style, total: usize) -> Progress {
        let shared = Shared::new(style, total);
        let capture = match style {
            Style::Live => Capture::start(Arc::clone(&shared)),
            _ => None,
        };
        // Without the pipe, a live line would tear libtest's output: fall back to plain lines.
        let shared = if style == Style::Live && capture.is_none() {
            Shared::new(Style::Plain, total)
        } else {
            shared
        };
        let ticker = match shared.style {
            Style::Off => None,
            _ => {
                let shared = Arc::clone(&shared);
                Some(std::thread::spawn(move || tick(&shared)))
            }
        };
        Progress {
            shared,
            ticker: Mutex::new(ticker),
            capture: Mutex::new(capture),
        }
    }

    /// A check started.
    pub fn started(&self, name: &str) {
        if self.shared.style == Style::Off {
            return;
        }
        let mut state = self.shared.state.lock().expect("progress lock");
        state.running.insert(name.to_string(), Instant::now());
        if self.shared.style == Style::Plain {
            let line = format!(
                "[{} {:>3}/{}] start {name}",
                clock(state.started.elapsed()),
                state.done,
                state.total
            );
            eprintln!("{line}");
        } else {
            draw(&mut state);
        }
    }

    /// A check ended with `outcome` (or was skipped without starting).
    pub fn finished(&self, name: &str, outcome: Outcome, message: &str) {
        if self.shared.style == Style::Off {
            return;
        }
        let mut state = self.shared.state.lock().expect("progress lock");
        let took = state
            .running
            .remove(name)
            .map(|start| format!(" in {}", human_duration(start.elapsed())))
            .unwrap_or_default();
        state.done += 1;
        if outcome.is_failure() {
            state.failed += 1;
        }
        if self.shared.style == Style::Plain {
            let why = match outcome {
                Outcome::Pass => String::new(),
                _ => format!(": {}", crate::output::redaction::redact(message)),
            };
            let line = format!(
                "[{} {:>3}/{}] {} {name}{took}{why}",
                clock(state.started.elapsed()),
                state.done,
                state.total,
                outcome.label()
            );
            eprintln!("{line}");
        } else {
            draw(&mut state);
        }
    }

    /// Stops the display: clears the live line and gives stdout back. Idempotent.
    pub fn finish(&self) {
        {
            let mut state = self.shared.state.lock().expect("progress lock");
            state.stopped = true;
            clear(&mut state);
        }
        self.shared.wake.notify_all();
        if let Some(ticker) = self.ticker.lock().expect("progress lock").take() {
            let _ = ticker.join();
        }
        if let Some(capture) = self.capture.lock().expect("progress lock").take() {
            capture.stop();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn tick(shared: &Shared) {
    let mut state = shared.state.lock().expect("progress lock");
    let mut last_beat = Instant::now();
    while !state.stopped {
        let period = match shared.style {
            Style::Live => FRAME,
            _ => HEARTBEAT,
        };
        state = shared
            .wake
            .wait_timeout(state, period)
            .expect("progress lock")
            .0;
        if state.stopped {
            break;
        }
        match shared.style {
            Style::Live => draw(&mut state),
            Style::Plain if last_beat.elapsed() >= HEARTBEAT && !state.running.is_empty() => {
                last_beat = Instant::now();
                eprintln!(
                    "[{} {:>3}/{}] running: {}",
                    clock(state.started.elapsed()),
                    state.done,
                    state.total,
                    running_list(&state, usize::MAX)
                );
            }
            _ => {}
        }
    }
}

/// `SEC-01::suite 1m02s, SEC-02::audit 3s (+2 more)`, longest-running first.
fn running_list(state: &State, limit: usize) -> String {
    let mut running: Vec<(&String, Duration)> = state
        .running
        .iter()
        .map(|(name, start)| (name, start.elapsed()))
        .collect();
    running.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = running
        .iter()
        .take(limit)
        .map(|(name, took)| format!("{name} {}", human_duration(*took)))
        .collect();
    let more = running.len().saturating_sub(limit);
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Draws the live status line on stderr, cut to the terminal's width.
fn draw(state: &mut State) {
    if state.stopped {
        return;
    }
    let failed = if state.failed > 0 {
        format!(", {} failed", state.failed)
    } else {
        String::new()
    };
    let running = if state.running.is_empty() {
        "waiting".to_string()
    } else {
        running_list(state, 2)
    };
    let line = format!(
        "[{} {}/{}{failed}] {running}",
        clock(state.started.elapsed()),
        state.done,
        state.total
    );
    let width = terminal_width().saturating_sub(1).max(20);
    let line: String = line.chars().take(width).collect();
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r\x1b[2K{line}");
    let _ = stderr.flush();
    state.drawn = true;
}

fn clear(state: &mut State) {
    if state.drawn {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
        state.drawn = false;
    }
}

fn terminal_width() -> usize {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// `m:ss` since the run started.
fn clock(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// stdout redirected into a pipe whose lines a thread copies to the real stdout, clearing the
/// live status line first and redrawing it after.
struct Capture {
    saved: RawFd,
    stop: Arc<AtomicBool>,
    copier: JoinHandle<()>,
    /// The interrupt clean-up that gives the terminal back if the gate is killed.
    on_interrupt: u64,
}

impl Capture {
    fn start(shared: Arc<Shared>) -> Option<Capture> {
        let _ = std::io::stdout().flush();
        let mut fds = [0 as RawFd; 2];
        // SAFETY: plain fd syscalls on fds this function owns; failures are checked.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return None;
            }
            let saved = libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 0);
            if saved < 0 || libc::dup2(fds[1], libc::STDOUT_FILENO) < 0 {
                libc::close(fds[0]);
                libc::close(fds[1]);
                if saved >= 0 {
                    libc::close(saved);
                }
                return None;
            }
            libc::close(fds[1]);
            let stop = Arc::new(AtomicBool::new(false));
            let reader = fds[0];
            let shared_for_interrupt = Arc::clone(&shared);
            let copier = {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || copy(reader, saved, &stop, &shared))
            };
            // Ctrl-C: give the terminal back and stop drawing. `saved` is never closed, so this
            // can run at any time, even after `stop`.
            let on_interrupt = crate::run::interrupt::on_interrupt(move || {
                libc::dup2(saved, libc::STDOUT_FILENO);
                for _ in 0..20 {
                    if let Ok(mut state) = shared_for_interrupt.state.try_lock() {
                        clear(&mut state);
                        state.stopped = true;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            Some(Capture {
                saved,
                stop,
                copier,
                on_interrupt,
            })
        }
    }

    fn stop(self) {
        crate::run::interrupt::forget(self.on_interrupt);
        let _ = std::io::stdout().flush();
        // SAFETY: restores the saved terminal fd onto stdout; the pipe's write end closes with
        // it, so the copier sees end of file (or the stop flag, if a child still holds it).
        // `saved` stays open for the life of the process: an interrupt clean-up that already
        // started may still restore it, and a closed number could be reused by a report file.
        unsafe {
            libc::dup2(self.saved, libc::STDOUT_FILENO);
        }
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.copier.join();
    }
}

/// How long the copier keeps draining the pipe once asked to stop (a process that inherited the
/// write end could otherwise keep it busy forever).
const DRAIN: Duration = Duration::from_millis(200);

fn copy(reader: RawFd, saved: RawFd, stop: &AtomicBool, shared: &Shared) {
    // SAFETY: `reader` is the pipe's read end, owned by this thread from here on; `saved` is
    // borrowed (ManuallyDrop) and never closed.
    let mut input = unsafe { std::fs::File::from_raw_fd(reader) };
    let mut output = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(saved) });
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    let mut deadline: Option<Instant> = None;
    loop {
        if deadline.is_none() && stop.load(Ordering::SeqCst) {
            deadline = Some(Instant::now() + DRAIN);
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        let mut poll = libc::pollfd {
            fd: reader,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready == 0 {
            if deadline.is_some() {
                break;
            }
            continue;
        }
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        let read = match std::io::Read::read(&mut input, &mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        pending.extend_from_slice(&buffer[..read]);
        if let Some(end) = pending.iter().rposition(|byte| *byte == b'\n') {
            let lines: Vec<u8> = pending.drain(..=end).collect();
            let mut state = shared.state.lock().expect("progress lock");
            clear(&mut state);
            let _ = output.write_all(&lines);
            let _ = output.flush();
            draw(&mut state);
        }
    }
    if !pending.is_empty() {
        let _ = output.write_all(&pending);
        let _ = output.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_elapsed_clock_reads_minutes_and_seconds() {
        assert_eq!(clock(Duration::from_secs(62)), "1:02");
    }

    #[test]
    fn the_running_list_names_the_longest_first_and_counts_the_rest() {
        let now = Instant::now();
        let state = State {
            started: now,
            total: 5,
            done: 1,
            failed: 0,
            running: BTreeMap::from([
                ("SEC-01::a".to_string(), now - Duration::from_secs(3)),
                ("SEC-01::b".to_string(), now - Duration::from_secs(70)),
                ("SEC-02::c".to_string(), now - Duration::from_secs(1)),
            ]),
            stopped: false,
            drawn: false,
        };
        let list = running_list(&state, 2);
        assert!(list.starts_with("SEC-01::b 1m1"), "{list}");
        assert!(list.contains(", SEC-01::a 3."), "{list}");
        assert!(list.ends_with("(+1 more)"), "{list}");
    }
}
