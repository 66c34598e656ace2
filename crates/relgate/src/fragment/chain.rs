//! The digest chain of a run's fragments: `chain.jsonl`, one line per fragment written,
//! `{seq, prev, file, sha256}`, where `prev` is the sha256 of the previous line (the first
//! line, the run header's, has the ledger's genesis hash). Appended under an exclusive lock
//! on the chain file, so the many processes of a nextest run write one chain.
//!
//! It makes an edited, added or removed fragment visible to `gate report`. It does not stop
//! someone who rewrites the chain too: that takes a signature (see README).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::evidence::{sha256_hex, GENESIS};
use crate::flock::FileLock;

/// The chain file inside a run's fragment directory.
pub const CHAIN_FILE: &str = "chain.jsonl";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    seq: u64,
    prev: String,
    file: String,
    sha256: String,
}

/// The chain, locked for appending.
pub(super) struct Chain {
    lock: FileLock,
    /// Where the chain file was last read up to, by this process.
    key: PathBuf,
    state: Known,
}

/// What this process knows of a chain file: read up to `len` bytes of the file `inode`.
#[derive(Default)]
struct Known {
    inode: u64,
    len: u64,
    /// Files recorded so far.
    files: HashSet<String>,
    /// Hash of the last line (or the genesis hash).
    head: String,
}

/// Chains this process has read, by path: appending reads only the lines other processes
/// added since (nextest), so recording a fragment costs the same at the 5,000th check as at
/// the first.
fn known_chains() -> &'static Mutex<HashMap<PathBuf, Known>> {
    static KNOWN: OnceLock<Mutex<HashMap<PathBuf, Known>>> = OnceLock::new();
    KNOWN.get_or_init(Mutex::default)
}

impl Chain {
    /// Waits for the chain's lock and reads where it ends.
    pub(super) fn lock(run_dir: &Path) -> std::io::Result<Chain> {
        std::fs::create_dir_all(run_dir)?;
        let key = run_dir.join(CHAIN_FILE);
        let lock = FileLock::exclusive(&key)?;
        let mut file = lock.file();
        let metadata = file.metadata()?;
        let cached = known_chains()
            .lock()
            .map_err(|_| std::io::Error::other("chain cache poisoned"))?
            // Taken out (not cloned: the names grow with the run) and put back by `drop`.
            .remove(&key);
        // A file replaced or shortened since is read again from its start.
        let mut state = match cached {
            Some(known) if known.inode == metadata.ino() && known.len <= metadata.len() => known,
            _ => Known {
                inode: metadata.ino(),
                head: GENESIS.to_string(),
                ..Known::default()
            },
        };
        file.seek(SeekFrom::Start(state.len))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        // Only whole lines count (one write per line: a killed writer leaves none half).
        let whole = text.rfind('\n').map_or(0, |end| end + 1);
        for line in text[..whole].lines() {
            let link: Link = serde_json::from_str(line).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{CHAIN_FILE} is damaged: {err}"),
                )
            })?;
            state.files.insert(link.file);
            state.head = sha256_hex(line.as_bytes());
        }
        state.len += whole as u64;
        Ok(Chain { lock, key, state })
    }

    /// True before the first fragment (the header) is recorded.
    pub(super) fn is_empty(&self) -> bool {
        self.state.files.is_empty()
    }

    /// Records `file` with the digest of its bytes; a file is recorded once.
    pub(super) fn append(&mut self, file: &str, bytes: &[u8]) -> std::io::Result<()> {
        if self.state.files.contains(file) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("the fragment {file} was already recorded in this run"),
            ));
        }
        let link = Link {
            seq: self.state.files.len() as u64 + 1,
            prev: self.state.head.clone(),
            file: file.to_string(),
            sha256: sha256_hex(bytes),
        };
        let line = format!(
            "{}\n",
            serde_json::to_string(&link).map_err(std::io::Error::other)?
        );
        let mut handle = self.lock.file();
        let end = handle.seek(SeekFrom::End(0))?;
        if end != self.state.len {
            return Err(std::io::Error::other(format!(
                "{CHAIN_FILE} ends in a partial line: it was not written by relgate"
            )));
        }
        // One write: a process killed here leaves the line whole or absent.
        handle.write_all(line.as_bytes())?;
        crate::atomic::sync_data(handle)?;
        self.state.head = sha256_hex(line.trim_end_matches('\n').as_bytes());
        self.state.files.insert(link.file);
        self.state.len += line.len() as u64;
        Ok(())
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        // Remember where the chain ends, while its lock is still held.
        if let Ok(mut known) = known_chains().lock() {
            known.insert(self.key.clone(), std::mem::take(&mut self.state));
        }
    }
}

/// Checks the chain of `run_dir` and every fragment it names; returns file → sha256. `Err` says
/// what is wrong: a broken link, a digest mismatch, a missing fragment, or a fragment (any
/// `*.json` file of the directory) the chain does not name.
pub(super) fn verify(run_dir: &Path, first: &str) -> Result<BTreeMap<String, String>, String> {
    let path = run_dir.join(CHAIN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        format!(
            "cannot read the fragment chain {}: {err} (fragments without their chain are not evidence)",
            path.display()
        )
    })?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(format!("{}: the last line is incomplete", path.display()));
    }
    let mut recorded = BTreeMap::new();
    let mut prev = GENESIS.to_string();
    for (index, line) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), index + 1);
        let link: Link =
            serde_json::from_str(line).map_err(|err| format!("{at}: not a chain link: {err}"))?;
        if link.seq != index as u64 + 1 {
            return Err(format!(
                "{at}: seq {} where {} was due",
                link.seq,
                index + 1
            ));
        }
        if link.prev != prev {
            return Err(format!(
                "{at}: prev {} does not match the previous line's sha256 {prev}: the chain was edited",
                link.prev
            ));
        }
        if index == 0 && link.file != first {
            return Err(format!(
                "{at}: the chain must start with {first}, not {}",
                link.file
            ));
        }
        if link.file.contains('/') || !link.file.ends_with(".json") {
            return Err(format!("{at}: {} is not a fragment name", link.file));
        }
        if recorded.insert(link.file.clone(), link.sha256).is_some() {
            return Err(format!("{at}: {} is recorded twice", link.file));
        }
        prev = sha256_hex(line.as_bytes());
    }
    if recorded.is_empty() {
        return Err(format!("{}: the chain is empty", path.display()));
    }
    let entries = std::fs::read_dir(run_dir)
        .map_err(|err| format!("cannot read {}: {err}", run_dir.display()))?;
    for entry in entries {
        let name = entry
            .map_err(|err| format!("cannot read {}: {err}", run_dir.display()))?
            .file_name()
            .to_string_lossy()
            .to_string();
        if name.ends_with(".json") && !recorded.contains_key(&name) {
            return Err(format!(
                "{}: this fragment is not in the chain {CHAIN_FILE}",
                run_dir.join(&name).display()
            ));
        }
    }
    for (file, sha256) in &recorded {
        let bytes = std::fs::read(run_dir.join(file)).map_err(|err| {
            format!(
                "{}: named by the chain but unreadable: {err}",
                run_dir.join(file).display()
            )
        })?;
        let actual = sha256_hex(&bytes);
        if &actual != sha256 {
            return Err(format!(
                "{}: sha256 {actual} does not match the chain's {sha256}: the fragment was edited",
                run_dir.join(file).display()
            ));
        }
    }
    Ok(recorded)
}
