//! The run header: what a run ran (the gate file and its digest), from which tree (the git
//! commit, whether it was dirty, the gate file's path in the repository, the code digest that
//! reviews bind to), by which relgate, where and when.

use crate::evidence::RunHeader;
use crate::model::clock;
use crate::spec::Gate;

/// The run header for a run of `gate`.
pub fn run_header(gate: &Gate, run_id: &str, mode: &str) -> RunHeader {
    let git = |args: &[&str]| -> Option<String> {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(&gate.root)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        output.status.success().then(|| {
            String::from_utf8_lossy(&output.stdout)
                .trim_end()
                .to_string()
        })
    };
    let git_head = git(&["rev-parse", "HEAD"]);
    let gate_path = gate.source.file_name().and_then(|name| {
        let prefix = git(&["rev-parse", "--show-prefix"])?;
        Some(format!("{prefix}{}", name.to_string_lossy()))
    });
    let git_dirty = git_head
        .as_ref()
        .and_then(|_| git(&["status", "--porcelain"]))
        .map(|status| !status.is_empty());
    let code = gate.review.as_ref().and_then(|review| {
        match crate::review::code::code_state(&gate.root, &review.dir) {
            crate::review::code::CodeState::Clean { digest, .. } => Some(digest),
            _ => None,
        }
    });
    RunHeader {
        gate: gate.name.clone(),
        gate_file: gate.source.display().to_string(),
        gate_path,
        gate_sha256: gate.sha256.clone(),
        git_head,
        git_dirty,
        code,
        relgate_version: env!("CARGO_PKG_VERSION").to_string(),
        started: clock::format_timestamp(clock::now()),
        host: host_name(),
        run_id: run_id.to_string(),
        mode: mode.to_string(),
        shard: None,
        merged: Vec::new(),
        journal_head: None,
    }
}

fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return "unknown".to_string();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).to_string()
}
