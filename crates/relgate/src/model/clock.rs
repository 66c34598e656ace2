//! Wall-clock time and calendar dates, kept in UTC so that evidence reads the same everywhere.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// A point in time as it is written into evidence: RFC 3339, UTC, milliseconds.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a timestamp written by [`format_timestamp`].
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// The current time.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Today's date in UTC, the date acceptances and attestations are judged against.
///
/// `RELGATE_TODAY=YYYY-MM-DD` pins it, so that a report can be rebuilt as of the day it was made.
pub fn today() -> NaiveDate {
    std::env::var("RELGATE_TODAY")
        .ok()
        .and_then(|text| parse_date(&text))
        .unwrap_or_else(|| Utc::now().date_naive())
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// A duration as people read it: `850ms`, `12.3s`, `4m05s`.
pub fn human_duration(took: Duration) -> String {
    let millis = took.as_millis();
    match millis {
        0..=999 => format!("{millis}ms"),
        1000..=59_999 => format!("{:.1}s", took.as_secs_f64()),
        _ => format!("{}m{:02}s", took.as_secs() / 60, took.as_secs() % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human_duration(Duration::from_secs(245)), "4m05s");
    }
}
