//! CVSS base scores from vector strings: the v3.0/v3.1 base-score formula of the FIRST
//! specification (section 7.1 and Appendix A's `Roundup`), and a v3-equivalent approximation of
//! v4.0 vectors (see the module docs of `scan`).

/// A scored vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Score {
    /// A v3.0 or v3.1 base score, exact.
    V3(f64),
    /// A v4.0 vector read as v3.1 metrics: an approximation, not the v4.0 score.
    V4Approx(f64),
}

/// Why a vector has no score; the message quotes the vector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CvssError {
    /// `CVSS:3.1` with nothing after it.
    #[error("cvss vector `{vector}` has no metrics")]
    NoMetrics { vector: String },
    /// A part that is not `METRIC:VALUE`.
    #[error("cvss vector `{vector}`: `{part}` is not METRIC:VALUE")]
    NotAPair { vector: String, part: String },
    /// A metric given twice.
    #[error("cvss vector `{vector}` repeats `{metric}`")]
    Repeated { vector: String, metric: String },
    /// A base metric missing.
    #[error("cvss vector `{vector}` lacks the base metric `{metric}`")]
    Missing { vector: String, metric: String },
    /// A value the specification does not define for its metric.
    #[error("cvss vector `{vector}`: `{metric}:{value}` is not a valid value")]
    BadValue {
        vector: String,
        metric: String,
        value: String,
    },
    /// A version other than 3.0, 3.1 and 4.0.
    #[error("cvss vector `{vector}` has unsupported version `{version}`")]
    Version { vector: String, version: String },
}

/// The score of `vector` (`CVSS:3.1/AV:N/…`, `CVSS:3.0/…`, `CVSS:4.0/…`; a vector without the
/// `CVSS:` prefix is read as 3.1). Temporal and environmental metrics are ignored.
pub(crate) fn score(vector: &str) -> Result<Score, CvssError> {
    let (version, metrics) = match vector.strip_prefix("CVSS:") {
        Some(rest) => match rest.split_once('/') {
            Some((version, metrics)) => (version, metrics),
            None => {
                return Err(CvssError::NoMetrics {
                    vector: vector.to_string(),
                })
            }
        },
        None => ("3.1", vector),
    };
    let mut pairs = Vec::new();
    for part in metrics.split('/') {
        let Some((key, value)) = part.split_once(':') else {
            return Err(CvssError::NotAPair {
                vector: vector.to_string(),
                part: part.to_string(),
            });
        };
        if pairs.iter().any(|(seen, _)| *seen == key) {
            return Err(CvssError::Repeated {
                vector: vector.to_string(),
                metric: key.to_string(),
            });
        }
        pairs.push((key, value));
    }
    let get = |key: &str| -> Result<&str, CvssError> {
        pairs
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
            .ok_or_else(|| CvssError::Missing {
                vector: vector.to_string(),
                metric: key.to_string(),
            })
    };
    match version {
        "3.0" | "3.1" => {
            let metrics = V3Metrics {
                attack_vector: get("AV")?,
                attack_complexity: get("AC")?,
                privileges: get("PR")?,
                user_interaction: get("UI")?,
                scope_changed: match get("S")? {
                    "U" => false,
                    "C" => true,
                    other => return Err(bad(vector, "S", other)),
                },
                confidentiality: get("C")?,
                integrity: get("I")?,
                availability: get("A")?,
            };
            v3_base_score(&metrics, version == "3.1")
                .map(Score::V3)
                .map_err(|(metric, value)| bad(vector, metric, value))
        }
        "4.0" => {
            // Subsequent-system impact is what v3 calls a scope change.
            let subsequent = ["SC", "SI", "SA"]
                .iter()
                .map(|key| get(key))
                .collect::<Result<Vec<_>, _>>()?;
            let metrics = V3Metrics {
                attack_vector: get("AV")?,
                // Attack requirements make exploitation harder, as v3's high complexity does.
                attack_complexity: match (get("AC")?, get("AT")?) {
                    ("L", "N") => "L",
                    _ => "H",
                },
                privileges: get("PR")?,
                user_interaction: match get("UI")? {
                    "N" => "N",
                    "P" | "A" => "R",
                    other => return Err(bad(vector, "UI", other)),
                },
                scope_changed: subsequent.iter().any(|value| *value != "N"),
                confidentiality: max_impact(get("VC")?, subsequent[0]),
                integrity: max_impact(get("VI")?, subsequent[1]),
                availability: max_impact(get("VA")?, subsequent[2]),
            };
            v3_base_score(&metrics, true)
                .map(Score::V4Approx)
                .map_err(|(metric, value)| bad(vector, metric, value))
        }
        other => Err(CvssError::Version {
            vector: vector.to_string(),
            version: other.to_string(),
        }),
    }
}

fn bad(vector: &str, metric: &str, value: &str) -> CvssError {
    CvssError::BadValue {
        vector: vector.to_string(),
        metric: metric.to_string(),
        value: value.to_string(),
    }
}

fn max_impact<'a>(vulnerable: &'a str, subsequent: &'a str) -> &'a str {
    let rank = |value: &str| match value {
        "H" => 2,
        "L" => 1,
        _ => 0,
    };
    if rank(subsequent) > rank(vulnerable) {
        subsequent
    } else {
        vulnerable
    }
}

struct V3Metrics<'a> {
    attack_vector: &'a str,
    attack_complexity: &'a str,
    privileges: &'a str,
    user_interaction: &'a str,
    scope_changed: bool,
    confidentiality: &'a str,
    integrity: &'a str,
    availability: &'a str,
}

/// The v3 base score; `Err((metric, value))` for a value outside the specification.
fn v3_base_score<'a>(
    metrics: &V3Metrics<'a>,
    v31_roundup: bool,
) -> Result<f64, (&'static str, &'a str)> {
    let attack_vector = match metrics.attack_vector {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        other => return Err(("AV", other)),
    };
    let attack_complexity = match metrics.attack_complexity {
        "L" => 0.77,
        "H" => 0.44,
        other => return Err(("AC", other)),
    };
    let privileges = match (metrics.privileges, metrics.scope_changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        (other, _) => return Err(("PR", other)),
    };
    let user_interaction = match metrics.user_interaction {
        "N" => 0.85,
        "R" => 0.62,
        other => return Err(("UI", other)),
    };
    let impact_weight = |metric: &'static str, value: &'a str| match value {
        "H" => Ok(0.56),
        "L" => Ok(0.22),
        "N" => Ok(0.0),
        other => Err((metric, other)),
    };
    let confidentiality = impact_weight("C", metrics.confidentiality)?;
    let integrity = impact_weight("I", metrics.integrity)?;
    let availability = impact_weight("A", metrics.availability)?;

    let impact_sub_score: f64 =
        1.0 - (1.0 - confidentiality) * (1.0 - integrity) * (1.0 - availability);
    let impact = if metrics.scope_changed {
        7.52 * (impact_sub_score - 0.029) - 3.25 * (impact_sub_score - 0.02).powi(15)
    } else {
        6.42 * impact_sub_score
    };
    let exploitability = 8.22 * attack_vector * attack_complexity * privileges * user_interaction;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let raw = if metrics.scope_changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Ok(if v31_roundup {
        roundup_v31(raw)
    } else {
        (raw * 10.0).ceil() / 10.0
    })
}

/// CVSS v3.1 Appendix A: the smallest number with one decimal that is ≥ `value`, computed on
/// integers so that floating-point noise (4.000000000000001) does not round up.
fn roundup_v31(value: f64) -> f64 {
    let int_input = (value * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v3(vector: &str) -> f64 {
        match score(vector) {
            Ok(Score::V3(value)) => value,
            other => panic!("{vector}: {other:?}"),
        }
    }

    #[test]
    fn known_v31_vectors() {
        // Values from the FIRST calculator and NVD.
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 6.2),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:L/I:L/A:N", 4.8),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:L/I:L/A:N", 5.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            // Temporal metrics are ignored.
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O", 9.8),
            ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ];
        for (vector, expected) in cases {
            assert_eq!(v3(vector), expected, "{vector}");
        }
    }

    #[test]
    fn known_v30_vectors() {
        assert_eq!(v3("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
        assert_eq!(v3("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"), 6.5);
        assert_eq!(v3("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H"), 8.8);
    }

    #[test]
    fn roundup_ignores_float_noise() {
        assert_eq!(roundup_v31(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup_v31(4.02), 4.1);
        assert_eq!(roundup_v31(10.0), 10.0);
    }

    #[test]
    fn v4_vectors_are_approximated() {
        let critical = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
        assert_eq!(score(critical), Ok(Score::V4Approx(9.8)));
        let local = "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:A/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N";
        match score(local) {
            Ok(Score::V4Approx(value)) => assert!(value < 4.0, "{value}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_vectors_are_errors() {
        for vector in [
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "CVSS:3.1",
            "CVSS:3.1/garbage",
            "",
        ] {
            assert!(score(vector).is_err(), "{vector}");
        }
    }
}
