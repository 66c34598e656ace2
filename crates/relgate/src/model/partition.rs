//! nextest's partitions of a test run (`--partition slice:M/N` or `hash:M/N`), computed the
//! way cargo-nextest 0.9 computes them, so a shard knows which of the gate's trials are its
//! own without being told by nextest (test processes are given no partition variable).
//!
//! nextest lists a binary's tests sorted by name and partitions the tests that passed every
//! other filter: `slice` deals them round-robin (the k-th test, counting from 0, goes to slice
//! `k mod N + 1`; across binaries, but gate-tests is one binary), `hash` puts a test in bucket
//! `xxh64(name, seed 0) mod N + 1` (stable within the 0.9 series). `count:M/N` (deprecated)
//! is `slice` per binary, the same for one binary.

use std::fmt;
use std::str::FromStr;

/// How tests are dealt to partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Round-robin over the sorted test names (`slice:`, and `count:` for one binary).
    Slice,
    /// By the xxh64 hash of the test name (`hash:`).
    Hash,
}

/// One partition `M` of `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    /// How tests are dealt.
    pub scheme: Scheme,
    /// `M`, from 1.
    pub index: u64,
    /// `N`.
    pub total: u64,
}

/// Why a partition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("partition `{input}`: {why} (expected slice:M/N or hash:M/N with 1 <= M <= N)")]
pub struct PartitionError {
    input: String,
    why: String,
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(input: &str) -> Result<Partition, PartitionError> {
        let error = |why: &str| PartitionError {
            input: input.chars().take(64).collect(),
            why: why.to_string(),
        };
        let (scheme, rest) = if let Some(rest) = input.strip_prefix("slice:") {
            (Scheme::Slice, rest)
        } else if let Some(rest) = input.strip_prefix("count:") {
            (Scheme::Slice, rest)
        } else if let Some(rest) = input.strip_prefix("hash:") {
            (Scheme::Hash, rest)
        } else {
            return Err(error("unknown scheme"));
        };
        let (index, total) = rest.split_once('/').ok_or_else(|| error("no `/`"))?;
        let number = |text: &str| {
            if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(error("M and N must be whole numbers"));
            }
            text.parse::<u64>().map_err(|_| error("number too large"))
        };
        let (index, total) = (number(index)?, number(total)?);
        if index == 0 || index > total {
            return Err(error("M must be between 1 and N"));
        }
        Ok(Partition {
            scheme,
            index,
            total,
        })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Slice => "slice",
            Scheme::Hash => "hash",
        };
        write!(f, "{scheme}:{}/{}", self.index, self.total)
    }
}

impl Partition {
    /// The names of `tests` (in any order) that fall in this partition, sorted by name.
    pub fn select<'t>(&self, tests: impl IntoIterator<Item = &'t str>) -> Vec<String> {
        let mut sorted: Vec<&str> = tests.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        sorted
            .into_iter()
            .enumerate()
            .filter(|(position, name)| self.bucket(*position as u64, name) == self.index)
            .map(|(_, name)| name.to_string())
            .collect()
    }

    /// The partition (`1..=N`) of the test at `position` in name order called `name`.
    fn bucket(&self, position: u64, name: &str) -> u64 {
        match self.scheme {
            Scheme::Slice => position % self.total + 1,
            Scheme::Hash => xxhash_rust::xxh64::xxh64(name.as_bytes(), 0) % self.total + 1,
        }
    }

    /// Whether `other` deals tests the same way into the same number of partitions.
    pub fn same_split(&self, other: &Partition) -> bool {
        self.scheme == other.scheme && self.total == other.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_nextest_partitions() {
        let partition: Partition = "slice:2/3".parse().unwrap();
        assert_eq!(partition.to_string(), "slice:2/3");
        assert_eq!(
            "count:1/2".parse::<Partition>().unwrap().to_string(),
            "slice:1/2"
        );
        assert_eq!(
            "hash:3/3".parse::<Partition>().unwrap().scheme,
            Scheme::Hash
        );
        for bad in [
            "slice:0/3",
            "slice:4/3",
            "hash:1",
            "ring:1/2",
            "slice:-1/2",
            "slice:1/",
            "slice: 1/2",
        ] {
            let err = bad.parse::<Partition>().unwrap_err().to_string();
            assert!(err.contains("expected slice:M/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn slices_deal_sorted_names_round_robin_and_cover_every_test_once() {
        let tests = ["b", "a", "d", "c", "e"];
        let slice = |index| {
            Partition {
                scheme: Scheme::Slice,
                index,
                total: 2,
            }
            .select(tests)
        };
        assert_eq!(slice(1), ["a", "c", "e"]);
        assert_eq!(slice(2), ["b", "d"]);
        for total in 1..6 {
            for scheme in [Scheme::Slice, Scheme::Hash] {
                let mut all: Vec<String> = (1..=total)
                    .flat_map(|index| {
                        Partition {
                            scheme,
                            index,
                            total,
                        }
                        .select(tests)
                    })
                    .collect();
                all.sort();
                assert_eq!(all, ["a", "b", "c", "d", "e"], "{scheme:?} {total}");
            }
        }
    }

    #[test]
    fn hash_buckets_are_xxh64_of_the_name_with_seed_0() {
        // xxh64("", 0) is the algorithm's published empty-input value.
        assert_eq!(xxhash_rust::xxh64::xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        let name = "SEC-00::build";
        let expected = xxhash_rust::xxh64::xxh64(name.as_bytes(), 0) % 3 + 1;
        let partition = Partition {
            scheme: Scheme::Hash,
            index: expected,
            total: 3,
        };
        assert_eq!(partition.select([name]), [name]);
    }
}
