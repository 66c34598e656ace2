//! [`LineRedactor`]: a byte stream redacted line by line, with the state a private-key block
//! needs across lines and a bounded carry-over for lines longer than [`MAX_LINE`].

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::Regex;

use super::{line_spans, MASK};

/// Longest run without a newline held before part of it is written. Longer lines are written
/// in pieces, each cut where no secret straddles it, carrying [`OVERLAP`] bytes over.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// Bytes of a long line carried over at each cut: longer than any secret the rules match
/// (tokens are a few hundred bytes, a one-line PEM key a few KiB), so a secret straddling the
/// cut is always whole in the buffer and masked.
const OVERLAP: usize = 8 * 1024;

/// Bytes before the cut that stay in the buffer (already written) as left context: a rule that
/// needs a key name or an armour line before the secret still sees it.
const CONTEXT: usize = 1024;

/// Where the stream is relative to a private-key block.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Pem {
    /// Not in a block.
    #[default]
    Outside,
    /// After a `-----BEGIN … PRIVATE KEY-----` line that did not close the block: headers
    /// (`Proc-Type:`, `DEK-Info:`…) or the first body line may follow.
    Opened,
    /// Inside the base64 body.
    Body,
}

/// Redacts a byte stream line by line.
#[derive(Debug, Default)]
pub struct LineRedactor {
    /// The current, unfinished line (with up to [`CONTEXT`] bytes already written before it).
    pending: Vec<u8>,
    /// How many leading bytes of `pending` were already written.
    written: usize,
    pem: Pem,
    /// How many white-space-separated fields stood before the `-----BEGIN` of the open block
    /// on its line (a log prefix: `app-1  |`, `<time> stderr F`, `>`): the body lines are
    /// read after as many fields, and those stay.
    prefix_fields: usize,
    /// The last of those fields (`|`, `F`, `>`): a line that is that prefix alone is a blank
    /// line of the block.
    prefix_tail: Vec<u8>,
}

impl LineRedactor {
    /// A redactor at the start of a stream.
    pub fn new() -> LineRedactor {
        LineRedactor::default()
    }

    /// Feeds `chunk`; every complete line (and the safe part of an overlong one) goes to
    /// `out`, redacted.
    pub fn push(
        &mut self,
        chunk: &[u8],
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut rest = chunk;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            if self.pending.is_empty() && self.pem == Pem::Outside {
                // Whole lines from here to the chunk's last newline: redacted as a block.
                let last = memchr::memrchr(b'\n', rest).unwrap_or(newline);
                self.push_lines(&rest[..=last], out)?;
                rest = &rest[last + 1..];
                continue;
            }
            self.pending.extend_from_slice(&rest[..=newline]);
            rest = &rest[newline + 1..];
            self.flush_line(out)?;
        }
        self.pending.extend_from_slice(rest);
        while self.pending.len() - self.written >= MAX_LINE {
            self.flush_part(out)?;
        }
        Ok(())
    }

    /// Writes `lines` (whole lines, nothing pending before them). A block in which nothing can
    /// be masked ([`is_clean`]) is written as it is, in one piece; otherwise it is halved at a
    /// line boundary until the pieces are clean or small, and small ones go line by line. So
    /// output of many short lines (`yes`) costs a few searches per 64 KiB, not one per line,
    /// and is redacted exactly as line by line would.
    fn push_lines(
        &mut self,
        lines: &[u8],
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if self.pem == Pem::Outside && lines.len() >= SMALL_BLOCK && is_clean(lines) {
            self.prefix_fields = 0;
            self.prefix_tail.clear();
            return out(lines);
        }
        let middle = lines.len() / 2;
        match memchr::memrchr(b'\n', &lines[..middle]) {
            Some(cut) if lines.len() >= SMALL_BLOCK => {
                self.push_lines(&lines[..=cut], out)?;
                self.push_lines(&lines[cut + 1..], out)
            }
            _ => {
                for line in lines.split_inclusive(|byte| *byte == b'\n') {
                    self.pending.extend_from_slice(line);
                    self.flush_line(out)?;
                }
                Ok(())
            }
        }
    }

    /// Writes what is left (a last line without newline).
    pub fn finish(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if self.pending.len() > self.written {
            self.flush_line(out)?;
        }
        self.pending.clear();
        self.written = 0;
        Ok(())
    }

    /// Writes the pending (complete or last) line.
    fn flush_line(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let result = if self.written == 0 {
            let line = std::mem::take(&mut self.pending);
            let result = match self.redact_line(&line) {
                Cow::Borrowed(_) => out(&line),
                Cow::Owned(redacted) => out(&redacted),
            };
            self.pending = line;
            result
        } else {
            // The rest of an overlong line: never a PEM body line.
            let spans = piece_spans(&self.pending);
            self.pem = armour_state(&self.pending[self.written..], self.pem);
            self.prefix_fields = 0;
            self.prefix_tail.clear();
            out(&masked_range(
                &self.pending,
                &spans,
                self.written,
                self.pending.len(),
            ))
        };
        self.pending.clear();
        self.written = 0;
        result
    }

    /// Writes the front of an overlong line, up to a cut no secret straddles.
    fn flush_part(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let spans = piece_spans(&self.pending);
        let mut cut = self.pending.len() - OVERLAP;
        if let Some(&(start, _)) = spans.iter().find(|(start, end)| *start < cut && *end > cut) {
            // A secret straddles the cut: keep it whole for the next piece, unless it is so
            // long that keeping it would stall (then its front is masked here).
            if start > self.written + OVERLAP {
                cut = start;
            }
        }
        while cut > self.written && is_continuation(&self.pending, cut) {
            cut -= 1;
        }
        if self.written == 0 {
            // An overlong line is no line of a key body: a block in progress ends here.
            self.pem = Pem::Outside;
        }
        self.pem = armour_state(&self.pending[self.written..cut], self.pem);
        self.prefix_fields = 0;
        self.prefix_tail.clear();
        out(&masked_range(&self.pending, &spans, self.written, cut))?;
        let keep_from = cut.saturating_sub(CONTEXT);
        self.pending.drain(..keep_from);
        self.written = cut - keep_from;
        Ok(())
    }

    /// One whole line, redacted; borrowed when unchanged.
    fn redact_line<'l>(&mut self, line: &'l [u8]) -> Cow<'l, [u8]> {
        let (content, ending) = split_ending(line);
        if self.pem != Pem::Outside {
            if content.trim_ascii().is_empty() {
                return Cow::Borrowed(line);
            }
            // A line with fewer fields than the BEGIN line's prefix is no line of the block.
            if let Some((prefix, candidate)) = after_fields(content, self.prefix_fields) {
                let trimmed = candidate.trim_ascii();
                if trimmed.is_empty() && content.trim_ascii().ends_with(&self.prefix_tail) {
                    // The prefix alone (`app-1  |`, `>`): a blank line of the block.
                    return Cow::Borrowed(line);
                }
                if !trimmed.is_empty() && !is_end_armour(trimmed) {
                    if let Some(next) = pem_line(trimmed, self.pem) {
                        self.pem = next;
                        let indent = candidate.len() - candidate.trim_ascii_start().len();
                        let mut masked = content[..prefix + indent].to_vec();
                        masked.extend_from_slice(MASK.as_bytes());
                        masked.extend_from_slice(ending);
                        return Cow::Owned(masked);
                    }
                }
            }
            // The END line, or a line that is no key material: the block is over.
            self.pem = Pem::Outside;
        }
        self.pem = armour_state(content, Pem::Outside);
        let prefix: Vec<&[u8]> = match rfind_armour(content, b"-----BEGIN") {
            Some(begin) if self.pem == Pem::Opened => content[..begin]
                .split(u8::is_ascii_whitespace)
                .filter(|field| !field.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        self.prefix_fields = prefix.len();
        self.prefix_tail = prefix.last().map(|tail| tail.to_vec()).unwrap_or_default();
        let spans = line_spans(line);
        if spans.is_empty() {
            return Cow::Borrowed(line);
        }
        masked_range(line, &spans, 0, line.len())
    }
}

/// Blocks smaller than this go line by line.
const SMALL_BLOCK: usize = 512;

/// Whether no line of `lines` has anything to mask, nor changes the private-key state: no
/// armour marker, no ANSI escape (whose removal could join a secret, see `views`), no keyword
/// of any rule and no known secret.
pub(super) fn is_clean(lines: &[u8]) -> bool {
    nothing_to_mask(lines) && !contains(lines, b"-----")
}

/// Whether [`line_spans`] finds nothing in `text`: no ANSI escape (the view without them
/// could join a keyword), no rule keyword, no known secret. One fast search, where the rules
/// proper take several passes.
fn nothing_to_mask(text: &[u8]) -> bool {
    memchr::memchr(0x1b, text).is_none() && !super::may_match(text)
}

/// The spans to mask in a piece of an overlong line.
fn piece_spans(text: &[u8]) -> Vec<(usize, usize)> {
    if nothing_to_mask(text) {
        return Vec::new();
    }
    line_spans(text)
}

/// `text[from..to]` with the parts of `spans` inside it masked; borrowed when none is.
fn masked_range<'t>(
    text: &'t [u8],
    spans: &[(usize, usize)],
    from: usize,
    to: usize,
) -> Cow<'t, [u8]> {
    if spans.iter().all(|&(start, end)| end <= from || start >= to) {
        return Cow::Borrowed(&text[from..to]);
    }
    let clipped: Vec<(usize, usize)> = spans
        .iter()
        .map(|&(start, end)| (start.max(from) - from, end.min(to).saturating_sub(from)))
        .filter(|(start, end)| start < end)
        .collect();
    Cow::Owned(relgate_probes::redact::mask(&text[from..to], &clipped))
}

fn is_continuation(text: &[u8], index: usize) -> bool {
    text.get(index).is_some_and(|byte| byte & 0xC0 == 0x80)
}

/// Where the text after the first `fields` white-space-separated fields of `line` starts, and
/// that text (`line` itself when `fields` is 0); `None` when the line has fewer fields.
fn after_fields(line: &[u8], fields: usize) -> Option<(usize, &[u8])> {
    let mut at = 0;
    for _ in 0..fields {
        while line.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        if at == line.len() {
            return None;
        }
        while line.get(at).is_some_and(|byte| !byte.is_ascii_whitespace()) {
            at += 1;
        }
    }
    Some((at, &line[at..]))
}

/// The line without its `\n` or `\r\n`, and that ending.
fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let cut = if line.ends_with(b"\r\n") {
        line.len() - 2
    } else if line.ends_with(b"\n") {
        line.len() - 1
    } else {
        line.len()
    };
    line.split_at(cut)
}

/// Header names of PEM (RFC 1421) and OpenPGP armour.
const PEM_HEADERS: &[&[u8]] = &[
    b"Proc-Type:",
    b"DEK-Info:",
    b"Version:",
    b"Comment:",
    b"Hash:",
    b"Charset:",
];

/// Shortest line taken for the first body line of a key (PEM wraps at 64, OpenSSH at 70).
const MIN_BODY_LINE: usize = 16;

/// The state after `line` (trimmed) if it is key material in state `pem`: a header right after
/// the BEGIN line, or a line of the base64 alphabet shaped like a body line. `None` for
/// anything else, prose above all.
fn pem_line(line: &[u8], pem: Pem) -> Option<Pem> {
    if pem == Pem::Opened && PEM_HEADERS.iter().any(|header| line.starts_with(header)) {
        return Some(Pem::Opened);
    }
    if !line
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || b"+/=".contains(byte))
    {
        return None;
    }
    let long = line.len() >= MIN_BODY_LINE;
    // The last line of a body may be short; a short word of prose has no digit, `+`, `/`
    // or `=` padding.
    let short_tail = pem == Pem::Body
        && line
            .iter()
            .any(|byte| byte.is_ascii_digit() || b"+/=".contains(byte));
    (long || short_tail).then_some(Pem::Body)
}

fn is_end_armour(line: &[u8]) -> bool {
    line.starts_with(b"-----END") && contains(line, b"PRIVATE KEY")
}

/// The state after `text`: [`Pem::Opened`] when its last private-key armour is a BEGIN,
/// [`Pem::Outside`] when it is an END, `current` when it has none.
fn armour_state(text: &[u8], current: Pem) -> Pem {
    // One forward (SIMD) search spares the two reverse ones in the common case.
    if !contains(text, b"-----") {
        return current;
    }
    let last_begin = rfind_armour(text, b"-----BEGIN");
    let last_end = rfind_armour(text, b"-----END");
    match (last_begin, last_end) {
        (Some(begin), Some(end)) if begin > end => Pem::Opened,
        (Some(_), None) => Pem::Opened,
        (_, Some(_)) => Pem::Outside,
        (None, None) => current,
    }
}

/// Position of the last `marker` (`-----BEGIN`, `-----END`) that starts a private-key armour.
fn rfind_armour(text: &[u8], marker: &'static [u8]) -> Option<usize> {
    static ARMOUR_TAIL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^ [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----").expect("static regex")
    });
    finder_rev(marker)
        .rfind_iter(text)
        .find(|&at| ARMOUR_TAIL.is_match(&text[at + marker.len()..]))
}

fn contains(haystack: &[u8], needle: &'static [u8]) -> bool {
    finder(needle).find(haystack).is_some()
}

/// A searcher for one of this module's markers, built once (building one per line costs more
/// than the search).
fn finder(needle: &'static [u8]) -> &'static memchr::memmem::Finder<'static> {
    static FINDERS: LazyLock<Vec<memchr::memmem::Finder<'static>>> =
        LazyLock::new(|| MARKERS.iter().map(memchr::memmem::Finder::new).collect());
    &FINDERS[marker_index(needle)]
}

/// The reverse searcher of a marker, built once.
fn finder_rev(needle: &'static [u8]) -> &'static memchr::memmem::FinderRev<'static> {
    static FINDERS: LazyLock<Vec<memchr::memmem::FinderRev<'static>>> =
        LazyLock::new(|| MARKERS.iter().map(memchr::memmem::FinderRev::new).collect());
    &FINDERS[marker_index(needle)]
}

const MARKERS: [&[u8]; 4] = [b"-----", b"-----BEGIN", b"-----END", b"PRIVATE KEY"];

fn marker_index(needle: &[u8]) -> usize {
    MARKERS
        .iter()
        .position(|marker| *marker == needle)
        .expect("a marker of this module")
}
