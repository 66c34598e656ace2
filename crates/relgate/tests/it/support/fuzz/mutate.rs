//! Mutations of corpus entries: byte flips, interesting bytes, insertions and deletions, line
//! duplication, deletion and swaps, splices from other entries, deep nesting, huge keys,
//! invalid UTF-8 and words of the target's own language.

use super::Gen;

/// A mutated input never grows past this (the harness looks for wrong answers, not for the
/// loader's speed on megabytes, which has its own tests).
pub const MAX_LEN: usize = 256 * 1024;

/// What a target's inputs are made of: words to insert and how deep nesting is written.
pub struct Language<'a> {
    /// Tokens inserted at random places (keys, headers, markers, numbers, quotes).
    pub words: &'a [&'a str],
    /// Opening and closing text of one nesting level, e.g. (`[`, `]`) or (`a = {`, `}`).
    pub nest: &'a [(&'a str, &'a str)],
}

/// Bytes that break parsers: quotes, brackets, separators, controls, lone UTF-8 lead and
/// continuation bytes.
const INTERESTING: &[u8] = b"\0\t\n\r \"'#=[]{},.:\\|`-*>\x7f\x80\xbf\xc0\xc3\xe2\xed\xef\xf0\xff";

/// Byte sequences that are not UTF-8 (overlong, surrogate, truncated, out of range) or are odd
/// UTF-8 (BOM, zero-width joiner, right-to-left mark, a combining accent, an emoji).
const ODD_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xe2\x82",
    b"\xf4\x90\x80\x80",
    b"\xef\xbb\xbf",
    "\u{200d}".as_bytes(),
    "\u{202e}".as_bytes(),
    "e\u{301}".as_bytes(),
    "\u{1f512}".as_bytes(),
    b"\xc3\xa2\xe2\x82\xac\xe2\x80\x9d",
];

/// `input` changed by one to six mutations; `pool` holds other entries to splice from.
pub fn mutate(gen: &mut Gen, input: &[u8], pool: &[&[u8]], language: &Language) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..gen.between(1, 6) {
        mutate_once(gen, &mut bytes, pool, language);
        bytes.truncate(MAX_LEN);
    }
    bytes
}

fn mutate_once(gen: &mut Gen, bytes: &mut Vec<u8>, pool: &[&[u8]], language: &Language) {
    let at = gen.below(bytes.len() + 1);
    match gen.below(14) {
        0 if !bytes.is_empty() => {
            let index = gen.below(bytes.len());
            bytes[index] ^= 1 << gen.below(8);
        }
        1 if !bytes.is_empty() => {
            let index = gen.below(bytes.len());
            bytes[index] = *gen.pick(INTERESTING);
        }
        2 => {
            let count = gen.between(1, 8);
            let inserted: Vec<u8> = (0..count).map(|_| gen.byte()).collect();
            bytes.splice(at..at, inserted);
        }
        3 => {
            let end = (at + gen.between(1, 64)).min(bytes.len());
            bytes.drain(at..end);
        }
        4 => {
            let word = gen.pick(language.words).as_bytes();
            bytes.splice(at..at, word.iter().copied());
        }
        5 => {
            let odd = gen.pick(ODD_UTF8);
            bytes.splice(at..at, odd.iter().copied());
        }
        6 => lines(gen, bytes, |gen, lines| {
            let index = gen.below(lines.len());
            let copies = if gen.chance(1, 8) {
                gen.between(2, 50)
            } else {
                1
            };
            for _ in 0..copies {
                lines.insert(index, lines[index].clone());
            }
        }),
        7 => lines(gen, bytes, |gen, lines| {
            let index = gen.below(lines.len());
            lines.remove(index);
        }),
        8 => lines(gen, bytes, |gen, lines| {
            let (a, b) = (gen.below(lines.len()), gen.below(lines.len()));
            lines.swap(a, b);
        }),
        9 if !pool.is_empty() => {
            let other = *gen.pick(pool);
            let start = gen.below(other.len());
            let end = (start + gen.between(1, 400)).min(other.len());
            bytes.splice(at..at, other[start..end].iter().copied());
        }
        10 if !language.nest.is_empty() => {
            let (open, close) = gen.pick(language.nest);
            let depth = gen.between(20, 400);
            let mut nested = Vec::new();
            nested.extend(open.repeat(depth).bytes());
            if gen.chance(1, 2) {
                nested.extend(close.repeat(depth).bytes());
            }
            nested.push(b'\n');
            bytes.splice(at..at, nested);
        }
        11 => {
            let length = gen.between(1_000, 64 * 1024);
            let mut key = vec![*gen.pick(b"kxyz_-"); length];
            let ends: [&[u8]; 4] = [b" = 1\n", b"\n", b"", b": x\n"];
            let end = *gen.pick(&ends);
            key.extend_from_slice(end);
            bytes.splice(at..at, key);
        }
        12 => bytes.truncate(at),
        _ => {
            // A line start: most formats care about what opens a line.
            let start = bytes[..at]
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |newline| newline + 1);
            let word = gen.pick(language.words).as_bytes();
            bytes.splice(start..start, word.iter().copied().chain([b'\n']));
        }
    }
}

/// Applies `change` to the lines of `bytes` (split after each `\n`), when there is one.
fn lines(gen: &mut Gen, bytes: &mut Vec<u8>, change: impl FnOnce(&mut Gen, &mut Vec<Vec<u8>>)) {
    let mut lines: Vec<Vec<u8>> = bytes
        .split_inclusive(|byte| *byte == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.is_empty() {
        return;
    }
    change(gen, &mut lines);
    *bytes = lines.concat();
}
