//! The `webhook` probe's attacks on the comparison itself: the correct signature mangled the
//! way broken receivers let through (emptied, truncated, its last character changed, its
//! letter case changed, under an unknown version tag, padded with extra bytes, with whitespace
//! inside it), several
//! invalid signatures in one header, and timestamps a receiver must not take for now (missing,
//! not a number, in milliseconds). Each is a fresh delivery; only the named part is wrong.

use crate::http::Request;

use super::deliver::{now, random_bytes};
use super::state::Sender;

/// The timestamp text of the `non-numeric-timestamp` case.
pub(super) const NOT_A_NUMBER: &str = "relgate-not-a-timestamp";

/// The mangled-signature cases a scheme gets, in the order they run.
pub(super) fn signature_cases(hex: bool, versioned: bool) -> Vec<&'static str> {
    let mut names = vec![
        "empty-signature",
        "truncated-signature",
        "last-char-changed",
        if hex { "hex-case" } else { "base64-case" },
    ];
    if versioned {
        names.extend(["unknown-version", "several-invalid"]);
    }
    names.extend(["padded-signature", "whitespace-signature"]);
    names
}

/// The timestamp cases: `missing-timestamp` and `non-numeric-timestamp` for schemes that sign
/// a timestamp, `millisecond-timestamp` where the future is bounded (a millisecond count read
/// as seconds lies far ahead; Stripe's libraries, which bound only the age, accept it).
pub(super) fn timestamp_cases(signs_timestamp: bool, future: bool) -> Vec<&'static str> {
    let mut names = Vec::new();
    if signs_timestamp {
        names.extend(["missing-timestamp", "non-numeric-timestamp"]);
    }
    if signs_timestamp && future {
        names.push("millisecond-timestamp");
    }
    names
}

impl Sender<'_> {
    /// The comparison and timestamp attacks: case name, what is sent, the request.
    pub(super) fn comparison_attacks(&self) -> Vec<(&'static str, String, Request)> {
        let scheme = &self.probe.scheme;
        let hex = scheme.hex();
        let encoding = if hex { "hex" } else { "base64" };
        let mut attacks = Vec::new();
        for name in signature_cases(hex, scheme.versioned()) {
            let (what, request) = match name {
                "empty-signature" => (
                    "a signature header whose MAC is empty".to_string(),
                    self.mangled("v1", |_| vec![String::new()]),
                ),
                "truncated-signature" => (
                    format!("the correct signature cut to its first {} characters", truncated_len(hex)),
                    self.mangled("v1", |text| vec![text[..truncated_len(hex)].to_string()]),
                ),
                "last-char-changed" => (
                    format!("the correct signature with its last {encoding} digit changed"),
                    self.mangled("v1", |text| vec![last_char_changed(text, hex)]),
                ),
                "hex-case" => (
                    "the correct signature in uppercase hex (providers send lowercase)".to_string(),
                    self.mangled("v1", |text| vec![text.to_ascii_uppercase()]),
                ),
                "base64-case" => (
                    "the correct signature with the case of every base64 letter swapped (another MAC)"
                        .to_string(),
                    self.mangled("v1", |text| vec![swap_case(text)]),
                ),
                "unknown-version" => (
                    "the correct signature under the unknown version tag v2".to_string(),
                    self.mangled("v2", |text| vec![text.to_string()]),
                ),
                "several-invalid" => (
                    "a header with three well-formed v1 signatures, none of them valid".to_string(),
                    self.mangled("v1", |_| {
                        (0..3)
                            .map(|_| scheme.encode_mac(&random_bytes()))
                            .collect()
                    }),
                ),
                "padded-signature" => (
                    "the correct signature followed by four more bytes".to_string(),
                    self.padded(),
                ),
                "whitespace-signature" => (
                    if hex {
                        "the correct signature with a space before it and a tab in its middle"
                    } else {
                        "the correct signature with a tab in its middle"
                    }
                    .to_string(),
                    self.mangled("v1", |text| vec![with_whitespace(text, hex)]),
                ),
                other => unreachable!("no signature case {other}"),
            };
            attacks.push((name, what, request));
        }
        let body = self.body.as_slice();
        for name in timestamp_cases(scheme.signs_timestamp(), self.probe.future_timestamp) {
            let (what, timestamp) = match name {
                "missing-timestamp" => (
                    "a delivery without a timestamp, signed over an empty one".to_string(),
                    None,
                ),
                "non-numeric-timestamp" => (
                    format!("a delivery timestamped `{NOT_A_NUMBER}`, signed over that text"),
                    Some(NOT_A_NUMBER.to_string()),
                ),
                "millisecond-timestamp" => {
                    let millis = now() * 1000;
                    (
                        format!("a correctly signed delivery timestamped now in milliseconds ({millis})"),
                        Some(millis.to_string()),
                    )
                }
                other => unreachable!("no timestamp case {other}"),
            };
            attacks.push((name, what, self.stamped_signed(timestamp.as_deref(), body)));
        }
        attacks
    }

    /// A fresh delivery of the body whose signature header holds `mangle(correct MAC text)`
    /// under the tag `version`.
    fn mangled(&self, version: &str, mangle: impl Fn(&str) -> Vec<String>) -> Request {
        let scheme = &self.probe.scheme;
        let id = scheme.delivery_id(&random_bytes());
        let timestamp = now().to_string();
        let mac = scheme.mac(&self.key, &id, &timestamp, &self.body);
        let macs = mangle(&scheme.encode_mac(&mac));
        self.framed(&id, Some(&timestamp), version, &macs)
    }

    /// The correct MAC with four more bytes after it, encoded whole (for base64 a clean
    /// encoding of 36 bytes, so that decoding does not fail first).
    fn padded(&self) -> Request {
        let scheme = &self.probe.scheme;
        let id = scheme.delivery_id(&random_bytes());
        let timestamp = now().to_string();
        let mut mac = scheme.mac(&self.key, &id, &timestamp, &self.body);
        mac.extend_from_slice(&random_bytes()[..4]);
        self.framed(&id, Some(&timestamp), "v1", &[scheme.encode_mac(&mac)])
    }

    /// A delivery correctly signed over the timestamp text `timestamp` (`None`: no timestamp,
    /// signed over an empty one).
    fn stamped_signed(&self, timestamp: Option<&str>, body: &[u8]) -> Request {
        let scheme = &self.probe.scheme;
        let id = scheme.delivery_id(&random_bytes());
        let mac = scheme.mac(&self.key, &id, timestamp.unwrap_or_default(), body);
        self.framed(&id, timestamp, "v1", &[scheme.encode_mac(&mac)])
    }

    fn framed(&self, id: &str, timestamp: Option<&str>, version: &str, macs: &[String]) -> Request {
        for mac in macs {
            self.context.log.add_secret(mac);
            // A MAC split by whitespace shows its pieces: each is hidden too.
            for piece in mac.split_whitespace() {
                self.context.log.add_secret(piece);
            }
        }
        let value = self.probe.scheme.frame(version, macs, timestamp);
        self.stamped(id, timestamp, Some(value), &self.body)
    }
}

/// How many characters of the MAC text the truncated signature keeps: half of the hex, or 24
/// base64 characters (18 whole bytes, so that decoding succeeds and only the length is wrong).
fn truncated_len(hex: bool) -> usize {
    if hex {
        32
    } else {
        24
    }
}

/// The MAC text with a tab in its middle, after the 32nd hex digit or the 22nd base64 digit
/// (not a multiple of four: the first half alone is no base64), and for hex schemes a space
/// before it, right after the tag (`v1= `, `sha256= `). Svix separates entries with spaces, so
/// there a space after `v1,` would make an empty entry, which is `empty-signature`'s case.
pub(super) fn with_whitespace(text: &str, hex: bool) -> String {
    let middle = text.len() / 2;
    let before = if hex { " " } else { "" };
    format!("{before}{}\t{}", &text[..middle], &text[middle..])
}

/// The MAC text with its last digit changed so that the decoded MAC changes too: a hex digit's
/// lowest bit flipped, or — base64 of 32 bytes ends in one digit holding four data bits and
/// two padding bits, then `=` — that digit's lowest data bit flipped.
pub(super) fn last_char_changed(text: &str, hex: bool) -> String {
    const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digits = text.trim_end_matches('=');
    let padding = &text[digits.len()..];
    let Some(last) = digits.bytes().last() else {
        return text.to_string();
    };
    let changed = if hex {
        let value = (last as char).to_digit(16).unwrap_or(0) ^ 1;
        char::from_digit(value, 16).unwrap_or('0')
    } else {
        let value = BASE64.iter().position(|&digit| digit == last).unwrap_or(0);
        // With one `=` the last digit's two low bits are padding; flip a data bit.
        let bit = if padding.len() == 1 {
            4
        } else if padding.len() == 2 {
            16
        } else {
            1
        };
        BASE64[value ^ bit] as char
    };
    format!("{}{changed}{padding}", &digits[..digits.len() - 1])
}

/// Every ASCII letter in the other case.
pub(super) fn swap_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;

    #[test]
    fn the_last_digit_changes_the_decoded_mac() {
        for seed in 0u8..=255 {
            let mac = [seed; 32];
            let text = STANDARD.encode(mac);
            let changed = last_char_changed(&text, false);
            assert_eq!(changed.len(), text.len());
            assert_ne!(changed, text);
            let decoded = STANDARD.decode(&changed).expect("still canonical base64");
            assert_eq!(decoded[..31], mac[..31]);
            assert_ne!(decoded[31], mac[31]);
            let hex = hex::encode(mac);
            let changed = last_char_changed(&hex, true);
            assert_eq!(changed[..63], hex[..63]);
            assert_ne!(changed, hex);
            assert_eq!(hex::decode(&changed).unwrap().len(), 32);
        }
    }

    #[test]
    fn cases_depend_on_the_encoding_and_tags() {
        assert_eq!(
            signature_cases(false, true),
            [
                "empty-signature",
                "truncated-signature",
                "last-char-changed",
                "base64-case",
                "unknown-version",
                "several-invalid",
                "padded-signature",
                "whitespace-signature"
            ]
        );
        assert_eq!(
            signature_cases(true, false),
            [
                "empty-signature",
                "truncated-signature",
                "last-char-changed",
                "hex-case",
                "padded-signature",
                "whitespace-signature"
            ]
        );
        assert!(timestamp_cases(false, false).is_empty());
        assert_eq!(
            timestamp_cases(true, false),
            ["missing-timestamp", "non-numeric-timestamp"]
        );
        assert_eq!(timestamp_cases(true, true).len(), 3);
    }

    #[test]
    fn whitespace_goes_inside_the_mac() {
        let base64 = STANDARD.encode([7u8; 32]);
        let spaced = with_whitespace(&base64, false);
        assert_eq!(spaced.split('\t').next().map(str::len), Some(22));
        assert!(STANDARD.decode(&spaced[..22]).is_err());
        assert_eq!(spaced.replace('\t', ""), base64);
        let hex = hex::encode([7u8; 32]);
        let spaced = with_whitespace(&hex, true);
        assert_eq!(spaced, format!(" {}\t{}", &hex[..32], &hex[32..]));
    }

    #[test]
    fn case_swapping_swaps_only_letters() {
        assert_eq!(swap_case("aB+9/="), "Ab+9/=");
    }
}
