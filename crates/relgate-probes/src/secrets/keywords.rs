//! [`Keywords`]: whether a text holds one of the rules' keywords, ASCII case-insensitively.
//!
//! This question is asked of every byte relgate writes (the redactor's "is this block clean"),
//! so it has a fast path: the text is lowercased (ASCII letters only, exactly what
//! case-insensitive matching folds) block by block into a small buffer on the stack, and the
//! lowercased keywords are searched there with aho-corasick's packed SIMD searcher (Teddy:
//! SSSE3 or AVX2 on x86-64, NEON on aarch64), about ten times faster than the
//! case-insensitive DFA on the original text (measured: 8 vs 0.6 GB/s on clean text). Blocks
//! overlap by one byte less than the longest keyword, so every occurrence lies whole in some
//! block. Where no packed searcher can be built, the DFA answers. Both give the same answer
//! for every text (tested against each other below and in the redaction tests).

use super::error::RuleError;
use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind};

/// Bytes lowercased and searched at a time: small enough for the stack and the L1 cache,
/// large enough that the searcher's per-call cost does not show (measured: 4 KiB blocks
/// 3 % slower than 8 KiB, 16 KiB no faster).
const BLOCK: usize = 8 * 1024;

/// The keywords of the rules, compiled for the yes/no question "does any occur".
#[derive(Debug)]
pub(crate) struct Keywords {
    /// Every keyword, in one ASCII-case-insensitive DFA: the reference answer, and the
    /// answer where `packed` is `None`.
    dfa: AhoCorasick,
    /// The lowercased keywords that contain no other keyword (`accountkey` holds `key`: any
    /// text with the one has the other), for the SIMD searcher over lowercased blocks.
    packed: Option<packed::Searcher>,
    /// Length of the longest keyword `packed` searches: consecutive blocks overlap by one
    /// byte less.
    longest: usize,
}

impl Keywords {
    /// The searcher for `keywords`.
    pub(crate) fn new(keywords: &[&str]) -> Result<Keywords, RuleError> {
        let dfa = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(keywords)
            .map_err(RuleError::Keywords)?;
        let minimal = minimal(keywords);
        let longest = minimal.iter().map(Vec::len).max().unwrap_or(1);
        // An empty keyword occurs in every text (the DFA says so); more than a block's worth
        // of keyword would leave no progress between blocks.
        let packed = if minimal.iter().all(|keyword| !keyword.is_empty()) && longest < BLOCK / 2 {
            packed::Config::new().builder().extend(&minimal).build()
        } else {
            None
        };
        Ok(Keywords {
            dfa,
            packed,
            longest,
        })
    }

    /// Whether some keyword occurs in `text`, ASCII case-insensitively.
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        match &self.packed {
            Some(packed) => self.packed_match(packed, text),
            None => self.dfa.is_match(text),
        }
    }

    /// [`Keywords::is_match`] through the DFA alone (the reference for tests).
    #[cfg(test)]
    pub(crate) fn dfa_match(&self, text: &[u8]) -> bool {
        self.dfa.is_match(text)
    }

    /// Whether the SIMD searcher is in use on this machine.
    #[cfg(test)]
    pub(crate) fn is_packed(&self) -> bool {
        self.packed.is_some()
    }

    fn packed_match(&self, packed: &packed::Searcher, text: &[u8]) -> bool {
        let mut block = [0u8; BLOCK];
        let step = BLOCK - (self.longest - 1);
        let mut at = 0;
        loop {
            let end = text.len().min(at + BLOCK);
            let lower = &mut block[..end - at];
            for (to, from) in lower.iter_mut().zip(&text[at..end]) {
                *to = from.to_ascii_lowercase();
            }
            if packed.find(&*lower).is_some() {
                return true;
            }
            if end == text.len() {
                return false;
            }
            at += step;
        }
    }
}

/// The keywords lowercased, without duplicates and without those that contain another one:
/// a text holds some keyword exactly when it holds one of these.
fn minimal(keywords: &[&str]) -> Vec<Vec<u8>> {
    let mut lower: Vec<Vec<u8>> = keywords
        .iter()
        .map(|keyword| keyword.as_bytes().to_ascii_lowercase())
        .collect();
    lower.sort();
    lower.dedup();
    let holds = |outer: &[u8], inner: &[u8]| {
        outer.len() > inner.len()
            && (inner.is_empty() || outer.windows(inner.len()).any(|window| window == inner))
    };
    lower
        .iter()
        .filter(|keyword| !lower.iter().any(|other| holds(keyword, other)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::canary::Random;

    /// A number below `n` (the same cases on every run).
    fn below(rng: &mut Random, n: usize) -> usize {
        (rng.next() % n as u64) as usize
    }

    fn keywords() -> Vec<&'static str> {
        super::super::rules::all_keywords()
    }

    fn searcher() -> Keywords {
        Keywords::new(&keywords()).expect("keywords compile")
    }

    /// `keyword` with each letter in a random case.
    fn mixed_case(rng: &mut Random, keyword: &str) -> Vec<u8> {
        keyword
            .bytes()
            .map(|byte| {
                if below(rng, 2) == 0 {
                    byte.to_ascii_uppercase()
                } else {
                    byte.to_ascii_lowercase()
                }
            })
            .collect()
    }

    /// Random filler: mostly letters of both cases (the near misses: `ghp`, `ey`, `xox`…),
    /// punctuation, control and high bytes, among them those a careless case folding (`| 0x20`)
    /// would take for keyword characters (`\x7f` for `_`, `\x1a` for `:`…).
    fn filler(rng: &mut Random, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] =
            b"aAeEgGhHkKpPsSxXyYjJoOtT_-:/. \n\r\t\x7f\x1a\x0f\x0c\x00\xc3\xa9\xff@`[{0123456789";
        (0..len)
            .map(|_| {
                if below(rng, 8) == 0 {
                    rng.next() as u8
                } else {
                    ALPHABET[below(rng, ALPHABET.len())]
                }
            })
            .collect()
    }

    #[test]
    fn the_packed_searcher_is_used_where_the_cpu_has_simd() {
        let searcher = searcher();
        if cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("ssse3") {
            assert!(searcher.is_packed(), "Teddy is available on this CPU");
        }
    }

    #[test]
    fn an_empty_keyword_matches_everything() {
        let searcher = Keywords::new(&["token", ""]).expect("compiles");
        assert!(searcher.is_match(b"") && searcher.is_match(b"clean text"));
    }

    #[test]
    fn minimal_keywords_drop_those_holding_another() {
        let minimal = minimal(&["AccountKey", "key", "KEY", "token", "eyj", "monkeys"]);
        assert_eq!(
            minimal,
            vec![b"eyj".to_vec(), b"key".to_vec(), b"token".to_vec()]
        );
        // Every rule keyword is one of them or holds one of them.
        let rules = minimal_of_rules();
        for keyword in keywords() {
            let lower = keyword.to_ascii_lowercase();
            assert!(
                rules
                    .iter()
                    .any(|kept| lower.as_bytes().windows(kept.len()).any(|w| w == &kept[..])),
                "{keyword}"
            );
        }
    }

    fn minimal_of_rules() -> Vec<Vec<u8>> {
        minimal(&keywords())
    }

    #[test]
    fn every_keyword_is_found_in_any_case_at_every_block_boundary() {
        let searcher = searcher();
        let mut rng = Random::seeded("boundaries");
        let step = BLOCK - (searcher.longest - 1);
        for keyword in keywords() {
            // Starting just before, on and after each of the first block boundaries and the
            // overlap's edges, in texts of the exact length and longer.
            for boundary in [BLOCK, step, 2 * step, BLOCK + step] {
                for shift in 0..keyword.len() + 2 {
                    let start = boundary.saturating_sub(shift);
                    let mut text = vec![b'x'; start];
                    text.extend(mixed_case(&mut rng, keyword));
                    for tail in [0, 1, 100] {
                        let mut text = text.clone();
                        text.extend(std::iter::repeat_n(b'y', tail));
                        assert!(searcher.is_match(&text), "{keyword} at {start}+{tail}");
                        assert!(searcher.dfa_match(&text));
                    }
                    // Cut by one byte, it is no keyword (unless its rest holds another).
                    let cut = &text[..text.len() - 1];
                    assert_eq!(searcher.is_match(cut), searcher.dfa_match(cut));
                }
            }
        }
    }

    #[test]
    fn the_fast_answer_is_the_dfa_answer_on_random_text() {
        let searcher = searcher();
        let keywords = keywords();
        let mut rng = Random::seeded("random text");
        let (mut found, mut clean) = (0, 0);
        for case in 0..3_000 {
            let len = match case % 4 {
                0 => below(&mut rng, 64),
                1 => below(&mut rng, 2 * BLOCK),
                _ => BLOCK - 64 + below(&mut rng, 3 * BLOCK),
            };
            let mut text = filler(&mut rng, len);
            // Half the cases get keywords, some near the block boundaries, some cut short.
            if case % 2 == 0 {
                for _ in 0..below(&mut rng, 3) + 1 {
                    let keyword = keywords[below(&mut rng, keywords.len())];
                    let mut planted = mixed_case(&mut rng, keyword);
                    if below(&mut rng, 4) == 0 {
                        planted.truncate(planted.len() - 1);
                    }
                    let near = [BLOCK, BLOCK - (searcher.longest - 1)][below(&mut rng, 2)];
                    let at = if below(&mut rng, 2) == 0 {
                        near.saturating_sub(below(&mut rng, planted.len() + 1))
                    } else {
                        below(&mut rng, text.len() + 1)
                    }
                    .min(text.len());
                    text.splice(at..at, planted);
                }
            }
            let expected = searcher.dfa_match(&text);
            assert_eq!(searcher.is_match(&text), expected, "case {case}: {text:?}");
            if expected {
                found += 1;
            } else {
                clean += 1;
            }
        }
        // Both answers were exercised.
        assert!(found > 500 && clean > 500, "{found} found, {clean} clean");
    }
}
