//! The journal of a run: `journal.jsonl`, one line per fragment (the run header, then each
//! finished check and stopped service),
//! `{"seq":N,"prev":"<sha256>","name":"<name>","sha256":"<sha256>","fragment":{…}}`, where
//! `prev` is the sha256 of the previous line without its newline ([`GENESIS`] for the first,
//! the header's) and `sha256` that of the fragment's bytes as written. Appended under an
//! exclusive `flock` on the file, one `write` per line, so the many processes of a nextest run
//! write one journal. A writer killed in the middle of a line (one that spans a page can be
//! cut) leaves it partial: the next appender cuts it off (that record was never recorded),
//! [`verify`] refuses it.
//!
//! It makes an edited, inserted, reordered, duplicated or removed record visible to
//! `gate report`, except the removal of the last lines, which leaves a shorter journal
//! (as removing the last links of the digest chain with their fragment files did before):
//! the checks they recorded then have no evidence, which never passes. It does not stop
//! someone who rewrites the journal consistently: that takes a signature (see README).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::evidence::GENESIS;
use crate::model::digest::sha256_hex;
use crate::output::flock::{open_lock_file, Locked};

/// The journal file inside a run's fragment directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// What separates a line's link from its fragment, which is the rest of the line but its
/// closing brace. Names are percent-encoded and the other fields hex or digits, so this is
/// the first occurrence in any line relgate wrote.
const FRAGMENT_KEY: &[u8] = b",\"fragment\":";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    seq: u64,
    prev: String,
    name: String,
    sha256: String,
}

/// Why a line is not a journal line.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// It holds no `"fragment":` key.
    #[error("not a journal line (no fragment)")]
    NoFragment,
    /// It does not end with the object's closing brace.
    #[error("not a journal line (it does not end with `}}`)")]
    Unterminated,
    /// Its link fields do not parse.
    #[error("not a journal line: {0}")]
    Link(#[source] serde_json::Error),
    /// Its name holds bytes a fragment name cannot.
    #[error("{0:?} is not a fragment name")]
    Name(String),
}

/// Why a run's journal does not verify: every message names the journal file, and the line.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The journal cannot be read.
    #[error("cannot read the evidence journal {}: {source}", path.display())]
    Unreadable {
        /// The journal.
        path: PathBuf,
        /// What reading it said.
        #[source]
        source: io::Error,
    },
    /// The last line has no newline: a writer was killed mid-line.
    #[error("{}: the last line is incomplete", path.display())]
    Incomplete {
        /// The journal.
        path: PathBuf,
    },
    /// No line at all.
    #[error("{}: the journal is empty", path.display())]
    Empty {
        /// The journal.
        path: PathBuf,
    },
    /// One line is wrong.
    #[error("{at}: {problem}")]
    Line {
        /// `path:line`.
        at: String,
        /// What is wrong with it.
        problem: LineProblem,
    },
}

/// What is wrong with one line of a journal.
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    /// It is not a journal line.
    #[error(transparent)]
    Unreadable(#[from] LineError),
    /// Its sequence number is not the next one.
    #[error("seq {seq} where {due} was due (a record was removed, inserted or moved)")]
    OutOfSequence {
        /// The number it holds.
        seq: u64,
        /// The number due.
        due: u64,
    },
    /// Its link is not the digest of the line before.
    #[error(
        "prev {prev} does not match the previous line's sha256 {expected}: the journal was edited"
    )]
    Unlinked {
        /// The link it holds.
        prev: String,
        /// The previous line's digest.
        expected: String,
    },
    /// The first record is not the one a journal starts with.
    #[error("the journal must start with {first}, not {found}")]
    First {
        /// The name due.
        first: String,
        /// The name found.
        found: String,
    },
    /// The fragment's bytes do not hash to the digest recorded beside them.
    #[error("the fragment {name} hashes to {actual}, not the recorded {recorded}: it was edited")]
    Digest {
        /// The fragment.
        name: String,
        /// Its digest now.
        actual: String,
        /// The digest recorded.
        recorded: String,
    },
    /// A name recorded twice.
    #[error("{0} is recorded twice")]
    Twice(String),
}

/// A line taken apart: its link and its fragment's bytes.
fn parse_line(line: &[u8]) -> Result<(Link, &[u8]), LineError> {
    let at = line
        .windows(FRAGMENT_KEY.len())
        .position(|window| window == FRAGMENT_KEY)
        .ok_or(LineError::NoFragment)?;
    if line.last() != Some(&b'}') {
        return Err(LineError::Unterminated);
    }
    let mut head = line[..at].to_vec();
    head.push(b'}');
    let link: Link = serde_json::from_slice(&head).map_err(LineError::Link)?;
    let valid_name = !link.name.is_empty()
        && link
            .name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._%".contains(&byte));
    if !valid_name {
        return Err(LineError::Name(link.name));
    }
    Ok((link, &line[at + FRAGMENT_KEY.len()..line.len() - 1]))
}

/// What this process knows of one journal: its open file and what was read of it.
struct Known {
    file: File,
    inode: u64,
    state: State,
}

#[derive(Default)]
struct State {
    /// Bytes of whole lines read.
    len: u64,
    /// Whether the file continues past `len` with a partial line.
    partial: bool,
    /// Lines read.
    seq: u64,
    /// sha256 of the last line ([`GENESIS`] before the first).
    head: String,
    /// Every name recorded, with the offset and length of its fragment in the file.
    names: HashMap<String, (u64, usize)>,
}

type Slot = Arc<Mutex<Option<Known>>>;

/// The journals this process has opened, by path (a process writes one per run: a list,
/// newest first, is cheaper to search than a map is to hash into). Each stays open and
/// remembers where it was read up to, so appending a record reads only the lines other
/// processes added since (nextest) and costs the same at the 5,000th check as at the first.
fn journals() -> &'static Mutex<Vec<(PathBuf, Slot)>> {
    static JOURNALS: OnceLock<Mutex<Vec<(PathBuf, Slot)>>> = OnceLock::new();
    JOURNALS.get_or_init(Mutex::default)
}

/// The slot of the journal at `path`, added when this process has not used it yet.
fn slot(path: &Path) -> io::Result<Slot> {
    let mut journals = journals().lock().map_err(poisoned)?;
    if let Some((_, slot)) = journals
        .iter()
        .find(|(known, _)| known.as_os_str() == path.as_os_str())
    {
        return Ok(Arc::clone(slot));
    }
    let slot = Slot::default();
    journals.insert(0, (path.to_path_buf(), Arc::clone(&slot)));
    Ok(slot)
}

fn poisoned<T>(_: T) -> io::Error {
    io::Error::other("the journal cache is poisoned")
}

/// A journal, locked (against this process's other threads, then by `flock` against other
/// processes) and read to its end.
pub(super) struct Journal<'a> {
    file: &'a File,
    state: &'a mut State,
}

/// Runs `work` on the journal of `run_dir` (created with its directory when missing), locked.
pub(super) fn locked<T>(
    run_dir: &Path,
    work: impl FnOnce(&mut Journal<'_>) -> io::Result<T>,
) -> io::Result<T> {
    let path = run_dir.join(JOURNAL_FILE);
    let slot = slot(&path)?;
    let mut held = slot.lock().map_err(poisoned)?;
    // The file held open must still be the one at `path` (a journal replaced since is read
    // again from its start).
    let inode = match std::fs::metadata(&path) {
        Ok(metadata) => Some(metadata.ino()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    if held.as_ref().is_none_or(|known| Some(known.inode) != inode) {
        let file = match open_lock_file(&path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(run_dir)?;
                open_lock_file(&path)?
            }
            result => result?,
        };
        let inode = file.metadata()?.ino();
        *held = Some(Known {
            file,
            inode,
            state: State {
                head: GENESIS.to_string(),
                ..State::default()
            },
        });
    }
    let known = held.as_mut().expect("opened above");
    let _lock = Locked::exclusive(&known.file)?;
    let mut journal = Journal {
        file: &known.file,
        state: &mut known.state,
    };
    journal.catch_up()?;
    work(&mut journal)
}

impl Journal<'_> {
    /// Reads the lines appended since this process last read the journal.
    fn catch_up(&mut self) -> io::Result<()> {
        let result = self.read_new_lines();
        if result.is_err() {
            // Next time from the start, not from a state that took some of the lines.
            *self.state = State {
                head: GENESIS.to_string(),
                ..State::default()
            };
        }
        result
    }

    fn read_new_lines(&mut self) -> io::Result<()> {
        let mut text = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            let offset = self.state.len + text.len() as u64;
            match self.file.read_at(&mut buffer, offset) {
                Ok(0) => break,
                Ok(n) => text.extend_from_slice(&buffer[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        let whole = text
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(0, |end| end + 1);
        let damaged = |message: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{JOURNAL_FILE} is damaged: {message}"),
            )
        };
        let mut start = 0;
        while start < whole {
            let end = start
                + text[start..]
                    .iter()
                    .position(|&byte| byte == b'\n')
                    .unwrap_or(0);
            let line = &text[start..end];
            let (link, fragment) = parse_line(line).map_err(|err| damaged(err.to_string()))?;
            if link.seq != self.state.seq + 1 || link.prev != self.state.head {
                return Err(damaged(format!("line {} is out of sequence", link.seq)));
            }
            // The fragment ends just before the line's closing brace.
            let offset = self.state.len + (end - 1 - fragment.len()) as u64;
            if self
                .state
                .names
                .insert(link.name, (offset, fragment.len()))
                .is_some()
            {
                return Err(damaged(format!("line {} records a name twice", link.seq)));
            }
            self.state.seq = link.seq;
            self.state.head = sha256_hex(line);
            start = end + 1;
        }
        self.state.len += whole as u64;
        self.state.partial = text.len() > whole;
        Ok(())
    }

    /// True before the first fragment (the header) is recorded.
    pub(super) fn is_empty(&self) -> bool {
        self.state.seq == 0
    }

    /// The fragment recorded under `name`, if any.
    pub(super) fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(&(offset, len)) = self.state.names.get(name) else {
            return Ok(None);
        };
        let mut bytes = vec![0u8; len];
        self.file.read_exact_at(&mut bytes, offset)?;
        Ok(Some(bytes))
    }

    /// Appends `fragment` (one line of JSON) under `name`; a name is recorded once.
    pub(super) fn append(&mut self, name: &str, fragment: &[u8]) -> io::Result<()> {
        if self.state.names.contains_key(name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("the fragment {name} was already recorded in this run"),
            ));
        }
        if self.state.partial {
            // Only a writer killed in the middle of its line leaves one (writers hold the
            // lock while they write, and we hold it now): that record was never recorded, and
            // cutting it off lets the rest of the run record theirs.
            self.file.set_len(self.state.len)?;
            self.state.partial = false;
        }
        if fragment.contains(&b'\n') {
            return Err(io::Error::other(format!(
                "the fragment {name} is not one line"
            )));
        }
        let seq = self.state.seq + 1;
        let mut line = format!(
            "{{\"seq\":{seq},\"prev\":\"{}\",\"name\":\"{name}\",\"sha256\":\"{}\"",
            self.state.head,
            sha256_hex(fragment)
        )
        .into_bytes();
        line.extend_from_slice(FRAGMENT_KEY);
        let offset = self.state.len + line.len() as u64;
        line.extend_from_slice(fragment);
        line.extend_from_slice(b"}\n");
        // One write: a process killed here leaves the line whole or absent.
        self.file.write_all_at(&line, self.state.len)?;
        crate::output::atomic::sync_data(self.file)?;
        self.state.head = sha256_hex(&line[..line.len() - 1]);
        self.state
            .names
            .insert(name.to_string(), (offset, fragment.len()));
        self.state.seq = seq;
        self.state.len += line.len() as u64;
        Ok(())
    }
}

/// Checks the journal of `run_dir` and returns its fragments, `(name, bytes)` in order. `Err`
/// says what is wrong: a line that is not a journal line, a broken link or sequence, a
/// fragment whose digest does not match, a name recorded twice, a partial last line, or a
/// first record that is not `first`.
/// A verified journal: its fragments in order and the head of its chain.
#[derive(Debug)]
pub(super) struct Verified {
    /// `(name, fragment bytes)` per line.
    pub(super) lines: Vec<(String, Vec<u8>)>,
    /// sha256 of the last line.
    pub(super) head: String,
}

pub(super) fn verify(run_dir: &Path, first: &str) -> Result<Verified, JournalError> {
    let path = run_dir.join(JOURNAL_FILE);
    let text = match crate::output::containment::read_regular(&path) {
        Ok(text) => text,
        Err(source) => return Err(JournalError::Unreadable { path, source }),
    };
    if !text.is_empty() && !text.ends_with(b"\n") {
        return Err(JournalError::Incomplete { path });
    }
    let mut fragments = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut prev = GENESIS.to_string();
    for (index, line) in text.split_inclusive(|&byte| byte == b'\n').enumerate() {
        let line = &line[..line.len() - 1];
        let wrong = |problem: LineProblem| JournalError::Line {
            at: format!("{}:{}", path.display(), index + 1),
            problem,
        };
        let (link, fragment) = parse_line(line).map_err(|err| wrong(err.into()))?;
        if link.seq != index as u64 + 1 {
            return Err(wrong(LineProblem::OutOfSequence {
                seq: link.seq,
                due: index as u64 + 1,
            }));
        }
        if link.prev != prev {
            return Err(wrong(LineProblem::Unlinked {
                prev: link.prev,
                expected: prev,
            }));
        }
        if index == 0 && link.name != first {
            return Err(wrong(LineProblem::First {
                first: first.to_string(),
                found: link.name,
            }));
        }
        let actual = sha256_hex(fragment);
        if actual != link.sha256 {
            return Err(wrong(LineProblem::Digest {
                name: link.name,
                actual,
                recorded: link.sha256,
            }));
        }
        if !seen.insert(link.name.clone()) {
            return Err(wrong(LineProblem::Twice(link.name)));
        }
        prev = sha256_hex(line);
        fragments.push((link.name, fragment.to_vec()));
    }
    if fragments.is_empty() {
        return Err(JournalError::Empty { path });
    }
    Ok(Verified {
        lines: fragments,
        head: prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal with a header and `names`, each fragment `{"n":"<name>"}`.
    fn journal(names: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("fragments/run");
        for name in std::iter::once(&"header").chain(names) {
            let fragment = format!("{{\"n\":\"{name}\"}}");
            locked(&run, |journal| journal.append(name, fragment.as_bytes())).unwrap();
        }
        (dir, run)
    }

    fn lines(run: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(run.join(JOURNAL_FILE)).unwrap();
        text.lines().map(String::from).collect()
    }

    fn rewrite(run: &Path, lines: &[String]) {
        std::fs::write(run.join(JOURNAL_FILE), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn records_read_back_in_order_and_by_name() {
        let (_dir, run) = journal(&["check_A_a", "check_A_b"]);
        let fragments = verify(&run, "header").unwrap().lines;
        let names: Vec<&str> = fragments.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["header", "check_A_a", "check_A_b"]);
        assert_eq!(fragments[2].1, b"{\"n\":\"check_A_b\"}");
        let read = locked(&run, |journal| journal.read("check_A_a")).unwrap();
        assert_eq!(read.unwrap(), b"{\"n\":\"check_A_a\"}");
        assert!(locked(&run, |journal| journal.read("check_A_c"))
            .unwrap()
            .is_none());
        // A name is recorded once.
        let again = locked(&run, |journal| journal.append("check_A_a", b"{}"));
        assert_eq!(again.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn lines_other_writers_append_are_read_before_appending() {
        let (_dir, run) = journal(&["check_A_a"]);
        // Another process's line, written behind this process's back.
        let mut all = lines(&run);
        let (link, _) = parse_line(all[1].as_bytes()).unwrap();
        assert_eq!(link.seq, 2);
        let fragment = b"{\"n\":\"other\"}";
        all.push(format!(
            "{{\"seq\":3,\"prev\":\"{}\",\"name\":\"check_B_x\",\"sha256\":\"{}\",\"fragment\":{}}}",
            sha256_hex(all[1].as_bytes()),
            sha256_hex(fragment),
            String::from_utf8_lossy(fragment)
        ));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(run.join(JOURNAL_FILE))
            .unwrap();
        io::Write::write_all(&mut file, format!("{}\n", all[2]).as_bytes()).unwrap();
        let read = locked(&run, |journal| journal.read("check_B_x")).unwrap();
        assert_eq!(read.unwrap(), fragment);
        locked(&run, |journal| journal.append("check_A_b", b"{}")).unwrap();
        assert_eq!(verify(&run, "header").unwrap().lines.len(), 4);
    }

    #[test]
    fn every_edit_is_refused() {
        type Edit = fn(&mut Vec<String>);
        let edits: [(&str, Edit, &str); 7] = [
            (
                "a record edited",
                |lines| {
                    lines[1] = lines[1].replace("check_A_a\"}", "check_A_z\"}");
                },
                "it was edited",
            ),
            (
                "the last record edited",
                |lines| {
                    let last = lines.len() - 1;
                    lines[last] = lines[last].replace("check_A_c\"}", "check_A_z\"}");
                },
                "it was edited",
            ),
            (
                "a record removed",
                |lines| {
                    lines.remove(2);
                },
                "was due",
            ),
            ("two records swapped", |lines| lines.swap(1, 2), "was due"),
            (
                "a record duplicated",
                |lines| {
                    let copy = lines[1].clone();
                    lines.insert(2, copy);
                },
                "was due",
            ),
            (
                "a link edited",
                |lines| {
                    lines[2] = lines[2].replace("\"seq\":3", "\"seq\":3 ");
                },
                "does not match",
            ),
            (
                "a field added",
                |lines| {
                    lines[1] = lines[1].replace(",\"fragment\"", ",\"x\":1,\"fragment\"");
                },
                "unknown field",
            ),
        ];
        for (what, edit, expected) in edits {
            let (_dir, run) = journal(&["check_A_a", "check_A_b", "check_A_c"]);
            let mut all = lines(&run);
            edit(&mut all);
            rewrite(&run, &all);
            let err = verify(&run, "header").expect_err(what);
            assert!(err.to_string().contains(expected), "{what}: {err}");
        }
    }

    #[test]
    fn a_partial_last_line_is_refused_by_verify_and_cut_off_by_the_next_appender() {
        let (_dir, run) = journal(&["check_A_a"]);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(run.join(JOURNAL_FILE))
            .unwrap();
        io::Write::write_all(&mut file, b"{\"seq\":3,\"prev\":\"").unwrap();
        assert!(verify(&run, "header")
            .unwrap_err()
            .to_string()
            .contains("incomplete"));
        locked(&run, |journal| journal.append("check_A_b", b"{}")).unwrap();
        let names: Vec<String> = verify(&run, "header")
            .unwrap()
            .lines
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["header", "check_A_a", "check_A_b"]);
    }

    #[test]
    fn a_replaced_journal_is_read_again_from_its_start() {
        let (_dir, run) = journal(&["check_A_a"]);
        let all = lines(&run);
        std::fs::remove_file(run.join(JOURNAL_FILE)).unwrap();
        rewrite(&run, &all[..1]);
        assert!(locked(&run, |journal| journal.read("check_A_a"))
            .unwrap()
            .is_none());
        locked(&run, |journal| journal.append("check_A_b", b"{}")).unwrap();
        assert_eq!(verify(&run, "header").unwrap().lines.len(), 2);
    }
}
