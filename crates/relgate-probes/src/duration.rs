//! Durations as written in gate files: `90s`, `10m`, `1h30m`, `500ms`.
//!
//! One syntax for every duration of a gate file: the engine's keys (`timeout`,
//! `leak_timeout`, a tool's `timeout`, read by `relgate::spec`) and the probes' keys
//! (`connect_timeout`, `request_timeout`, `noise_floor`…, read through [`crate::Config`]).
//! It lives here, not in the engine, because it is a leaf both need and relgate-probes cannot
//! depend on the engine (the engine depends on it): this module uses nothing of the crate, and
//! `relgate::spec` re-exports [`parse_duration`] and [`format_duration`] as its own.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing but white space.
    #[error("empty duration")]
    Empty,
    /// A unit or garbage where a number must start (`rest` is what is left).
    #[error("expected a number at `{rest}`")]
    ExpectedNumber { rest: String },
    /// A number over `u64` (`text` is the whole duration).
    #[error("number too large in `{text}`")]
    TooLarge { text: String },
    /// A bare number.
    #[error("missing unit after `{value}` (use ms, s, m or h)")]
    MissingUnit { value: u64 },
    /// A unit other than ms, s, m, h.
    #[error("unknown unit `{unit}` (use ms, s, m or h)")]
    UnknownUnit { unit: String },
    /// A unit twice or after a smaller one (`1h1h`, `30m1h`).
    #[error("unit `{unit}` repeated or out of order in `{text}` (each unit once, largest first: 1h30m, 2m30s)")]
    OutOfOrder { unit: String, text: String },
    /// Zero.
    #[error("a timeout of zero would kill every check at once")]
    Zero,
}

/// Parses `500ms`, `2s`, `10m`, `1h30m`, `1h 30m`. A bare number is rejected: the unit is
/// part of the contract so that `timeout = "10"` cannot mean seconds to one reader and minutes
/// to another.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total = Duration::ZERO;
    let mut rest = compact.as_str();
    // Rank of the last unit: each unit at most once, largest first (`1h30m`, never `1h1h`).
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(DurationError::ExpectedNumber {
                rest: rest.to_string(),
            });
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::TooLarge {
                text: text.to_string(),
            })?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let (rank, part) = match unit {
            "ms" => (0, Duration::from_millis(value)),
            "s" => (1, Duration::from_secs(value)),
            "m" => (2, Duration::from_secs(value.saturating_mul(60))),
            "h" => (3, Duration::from_secs(value.saturating_mul(3600))),
            "" => return Err(DurationError::MissingUnit { value }),
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                })
            }
        };
        if rank >= last_rank {
            return Err(DurationError::OutOfOrder {
                unit: unit.to_string(),
                text: text.to_string(),
            });
        }
        last_rank = rank;
        total = total.saturating_add(part);
    }
    if total.is_zero() {
        return Err(DurationError::Zero);
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it: `2s`, `1m30s`, `500ms`, `10m`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || out.is_empty() {
        out.push_str(&format!("{seconds}s"));
    }
    let rest = millis % 1000;
    if rest > 0 {
        out.push_str(&format!("{rest}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_durations_read_back_without_loss() {
        for millis in [1, 999, 1000, 1500, 60_000, 90_000, 3_600_000, 3_661_001] {
            let duration = Duration::from_millis(millis);
            let text = format_duration(duration);
            assert_eq!(parse_duration(&text), Ok(duration), "{millis} ms as {text}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
    }

    fn check(text: &str, expected: Result<u64, &str>) {
        let got = parse_duration(text).map(|d| d.as_millis() as u64);
        match expected {
            Ok(ms) => assert_eq!(got, Ok(ms), "{text}"),
            Err(fragment) => {
                let err = got.expect_err(text).to_string();
                assert!(err.contains(fragment), "{text}: {err}");
            }
        }
    }

    #[test]
    fn parses_units() {
        check("500ms", Ok(500));
        check("2s", Ok(2000));
        check("10m", Ok(600_000));
        check("1h30m", Ok(5_400_000));
        check("1h 30m", Ok(5_400_000));
    }

    #[test]
    fn rejects_garbage() {
        check("10", Err("missing unit"));
        check("ten minutes", Err("expected a number"));
        check("5d", Err("unknown unit `d`"));
        check("", Err("empty"));
        check("0s", Err("zero"));
        // Found by fuzzing (issue 13): repeated or reordered units are ambiguous, not summed.
        check("1h1h", Err("unit `h` repeated or out of order"));
        check("30m1h", Err("unit `h` repeated or out of order"));
        check("1s500ms1s", Err("unit `s` repeated or out of order"));
        check("1h30m10s500ms", Ok(5_410_500));
    }

    #[test]
    fn formats_round_trip() {
        for text in ["500ms", "2s", "1m30s", "10m", "1h", "2h5m1s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
