//! [`Appender`]: redacted bytes appended to a log file while they are hashed, buffered, and
//! on a thread of their own once the output is large.
//!
//! Up to one buffer is written and hashed on the caller's thread. When the output outgrows it,
//! each full buffer is handed to a writer thread that writes and hashes it (SHA-256 is the
//! costliest step of a large capture) while the caller reads and redacts the next one.
//! Buffers are recycled and at most [`QUEUED`] wait for the writer, so memory stays flat
//! however much a command prints. The appender only ever sees bytes the redactor let out.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Bytes collected before they are written: one write(2) and one hand-over per buffer, not
/// per line.
const BUFFER_BYTES: usize = 256 * 1024;

/// Full buffers that may wait for the writer thread before the caller waits for it.
const QUEUED: usize = 2;

/// A log being appended to.
pub(super) struct Appender {
    /// Bytes not yet written.
    buffer: Vec<u8>,
    output: Output,
}

/// Where full buffers go.
enum Output {
    /// Written and hashed on the caller's thread (the output is still small).
    Here(Log),
    /// Handed to the writer thread.
    Thread(Writer),
    /// Nowhere: an error ended the log (returned when it happened).
    Closed,
}

impl Appender {
    /// Appends to `file` (empty).
    pub(super) fn new(file: File) -> Appender {
        Appender {
            buffer: Vec::new(),
            output: Output::Here(Log {
                file,
                hasher: Sha256::new(),
                bytes: 0,
            }),
        }
    }

    /// Adds `redacted` to the log.
    pub(super) fn write(&mut self, redacted: &[u8]) -> io::Result<()> {
        self.buffer.extend_from_slice(redacted);
        if self.buffer.len() < BUFFER_BYTES {
            return Ok(());
        }
        if matches!(self.output, Output::Here(_)) {
            // The first full buffer: the output is large, the rest goes through a writer.
            if let Output::Here(log) = std::mem::replace(&mut self.output, Output::Closed) {
                self.output = Output::Thread(Writer::start(log)?);
            }
        }
        self.flush()
    }

    /// Writes what is buffered to the file (through the writer thread, if there is one).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        match &mut self.output {
            Output::Here(log) => {
                log.append(&self.buffer)?;
                self.buffer.clear();
                return Ok(());
            }
            Output::Thread(writer) => {
                if writer.hand_over(&mut self.buffer) {
                    return Ok(());
                }
            }
            Output::Closed => return Err(closed()),
        }
        // The writer stopped on an error: that error ends the log.
        match std::mem::replace(&mut self.output, Output::Closed) {
            Output::Thread(writer) => Err(writer.finish().err().unwrap_or_else(closed)),
            _ => Err(closed()),
        }
    }

    /// Writes everything; returns the file, its size and the lowercase hex SHA-256 of its
    /// bytes.
    pub(super) fn finish(mut self) -> io::Result<(File, u64, String)> {
        self.flush()?;
        let log = match self.output {
            Output::Here(log) => log,
            Output::Thread(writer) => writer.finish()?,
            Output::Closed => return Err(closed()),
        };
        Ok((log.file, log.bytes, hex::encode(log.hasher.finalize())))
    }
}

fn closed() -> io::Error {
    io::Error::other("the log was closed by an earlier error")
}

/// The log file, its running digest and size.
struct Log {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

impl Log {
    fn append(&mut self, redacted: &[u8]) -> io::Result<()> {
        self.file.write_all(redacted)?;
        self.hasher.update(redacted);
        self.bytes += redacted.len() as u64;
        Ok(())
    }
}

/// The thread that appends full buffers to the log, and the buffers it gives back.
struct Writer {
    full: mpsc::SyncSender<Vec<u8>>,
    empty: mpsc::Receiver<Vec<u8>>,
    thread: JoinHandle<io::Result<Log>>,
}

impl Writer {
    fn start(mut log: Log) -> io::Result<Writer> {
        let (full, full_rx) = mpsc::sync_channel::<Vec<u8>>(QUEUED);
        let (empty_tx, empty) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("relgate-exec-log".to_string())
            .spawn(move || {
                for mut buffer in full_rx {
                    log.append(&buffer)?;
                    buffer.clear();
                    // The reader may be gone (it stopped on an error): then the buffer is freed.
                    let _ = empty_tx.send(buffer);
                }
                Ok(log)
            })?;
        Ok(Writer {
            full,
            empty,
            thread,
        })
    }

    /// Hands `buffer`'s bytes to the writer and leaves an empty buffer in its place (one the
    /// writer gave back, or a new one while all are in use). `false` when the writer stopped
    /// on an error (which [`Writer::finish`] returns).
    fn hand_over(&mut self, buffer: &mut Vec<u8>) -> bool {
        let spare = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUFFER_BYTES));
        let full = std::mem::replace(buffer, spare);
        self.full.send(full).is_ok()
    }

    /// Waits for the writer to append every buffer handed over; returns the log.
    fn finish(self) -> io::Result<Log> {
        drop(self.full);
        match self.thread.join() {
            Ok(log) => log,
            Err(_) => Err(io::Error::other("the log writer thread panicked")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Pieces of many sizes (empty, tiny, exactly a buffer, several buffers), with flushes
    /// between some: the file holds them in order and the digest and size are theirs, whether
    /// the log stays on the caller's thread or moves to the writer.
    #[test]
    fn the_log_is_the_bytes_written_in_order_with_their_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        for total_pieces in [0usize, 3, 40] {
            let path = dir.path().join(format!("log-{total_pieces}"));
            let mut log = Appender::new(File::create(&path).expect("create"));
            let mut expected = Vec::new();
            for at in 0..total_pieces {
                let size = [
                    0,
                    1,
                    100,
                    BUFFER_BYTES,
                    BUFFER_BYTES - 1,
                    3 * BUFFER_BYTES + 7,
                ][at % 6];
                let piece: Vec<u8> = (0..size).map(|i| (i * 31 + at) as u8).collect();
                log.write(&piece).expect("write");
                expected.extend_from_slice(&piece);
                if at % 4 == 3 {
                    log.flush().expect("flush");
                }
            }
            let (file, bytes, digest) = log.finish().expect("finish");
            drop(file);
            assert_eq!(bytes, expected.len() as u64);
            assert_eq!(digest, sha256_hex(&expected));
            assert_eq!(std::fs::read(&path).expect("read"), expected);
        }
    }

    /// A log that cannot be written (a full disk) fails with that error, on the caller's
    /// thread and through the writer thread alike, and stays failed.
    #[test]
    fn a_write_error_ends_the_log_with_that_error() {
        let full = || {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full")
        };
        // Small: written on the caller's thread at the flush.
        let mut log = Appender::new(full());
        log.write(b"hello\n").expect("buffered");
        let err = log.flush().expect_err("disk full");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
        // Large: the writer thread fails; a later hand-over or the finish reports it.
        let mut log = Appender::new(full());
        let chunk = vec![b'x'; BUFFER_BYTES];
        let err = (0..2 * QUEUED + 4)
            .map(|_| log.write(&chunk))
            .find_map(Result::err)
            .or_else(|| log.finish().err())
            .expect("disk full");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    }
}
