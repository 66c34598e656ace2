//! A Python target of `tests/targets/` as a child process on 127.0.0.1: started with its
//! arguments and one `--bug` per bug, ready once it prints `listening on 127.0.0.1:PORT` (or
//! `listening on http://127.0.0.1:PORT`), killed when dropped. The one starter of the relgate-probes
//! and the tenant-api proof tests (tenant-api's `support` includes this file by `#[path]`).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `python3 tests/targets/<script>`; killed when dropped.
pub struct PythonTarget {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl PythonTarget {
    /// Starts `python3 tests/targets/<script> --port 0 <args> --bug <bug>…` and waits for its
    /// `listening on` line, which must name a port of 127.0.0.1.
    pub fn start(script: &str, args: &[impl AsRef<OsStr>], bugs: &[&str]) -> PythonTarget {
        // Both crates that include this file sit two folders below the workspace root.
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/targets")
            .join(script);
        let mut command = Command::new("python3");
        command
            .arg(&path)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for bug in bugs {
            command.arg("--bug").arg(bug);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start python3 {}: {error}", path.display()));
        let mut target = PythonTarget {
            child,
            base: String::new(),
        };
        let mut line = String::new();
        BufReader::new(target.child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("read the listening line");
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{script} did not start: first line {line:?}"));
        let address = address.strip_prefix("http://").unwrap_or(address);
        assert!(address.starts_with("127.0.0.1:"), "{script}: {address}");
        target.base = format!("http://{address}");
        target
    }
}

impl Drop for PythonTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
