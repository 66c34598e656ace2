//! SHA-256 digests as the evidence writes them: lowercase hex.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The digest of no bytes: a check that printed nothing has no log file and this digest
/// (`CheckRecord::no_output`).
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// sha256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 and length of a file relgate wrote, read in chunks: only a regular file
/// (`output::containment::open_regular`), never a FIFO or device a forger put in its place.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = crate::output::containment::open_regular(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_digest_is_the_digest_of_no_bytes() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }
}
