//! The `jwt` probe's cases for token properties a signature does not settle: the algorithm
//! (another one of the configured family, RFC 8725 §3.1, or the other ECDSA size signed with a
//! second key the target trusts, `other_curve_*`), an unknown `crit` header parameter
//! (RFC 7515 §4.1.11), `iat` in the future, a claim name given twice, a token of another
//! explicit type (`typ`, RFC 8725 §3.11) or with the configured type in `cty` instead of `typ`,
//! and a key the target trusts only for another audience
//! or tenant (`kid-other-audience`). Every token here is signed with a key the target trusts,
//! so a target that accepts one has skipped exactly the check the case names.

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::{verdict, Forge, Forged, JwtError, JwtProbe};
use crate::attempt;
use crate::config::{Config, ConfigError, ConfigErrorKind, SecretSource};
use crate::probe::{Case, CaseOutcome, Context};
use crate::token::{self, Object};

/// The header parameter the `crit-unknown` case marks as critical; no JOSE extension has it.
const CRIT_PARAMETER: &str = "relgate-unknown-extension";
/// How far in the future the `iat-future` case's token says it was issued (a day).
const IAT_FUTURE_SECONDS: i64 = 86_400;
/// Types of other tokens the same issuer signs: ID tokens (`JWT`) and OpenID back-channel
/// logout tokens. `typ-confusion` sends those unlike the configured `typ`, and no `typ`.
const OTHER_TYPES: [&str; 2] = ["JWT", "logout+jwt"];

/// Cases of this module, in the order `cases()` lists them when they apply.
pub(super) const ALWAYS: [&str; 3] = ["crit-unknown", "iat-future", "duplicate-claims"];

/// The other algorithms of `alg`'s family that sign with the same key: the HMAC sizes, or the
/// RSA PKCS#1 v1.5 and PSS algorithms. None for ECDSA (each size is its own curve, so another
/// key: see [`OtherCurve`]) and EdDSA.
pub(super) fn same_family(alg: Algorithm) -> Vec<Algorithm> {
    use Algorithm::*;
    let family: &[Algorithm] = match alg {
        HS256 | HS384 | HS512 => &[HS256, HS384, HS512],
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            &[RS256, RS384, RS512, PS256, PS384, PS512]
        }
        _ => &[],
    };
    family
        .iter()
        .copied()
        .filter(|other| *other != alg)
        .collect()
}

/// Whether two `typ` values name the same type: compared without letter case, with the
/// `application/` prefix optional (RFC 7515 §4.1.9).
pub(super) fn same_type(one: &str, other: &str) -> bool {
    let bare = |text: &str| {
        let lower = text.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_string)
            .unwrap_or(lower)
    };
    bare(one) == bare(other)
}

/// Reads `typ`: the explicit type the target requires. `JWT` is refused: it is what untyped
/// tokens carry, so there is no other type to confuse it with.
pub(super) fn configure_typ(config: &mut Config<'_>) -> Result<Option<String>, ConfigError> {
    let typ = config.string("typ")?;
    if typ.as_deref().is_some_and(|typ| same_type(typ, "JWT")) {
        return Err(config.error(
            "typ",
            ConfigErrorKind::InvalidValue,
            "`typ` is the explicit type the target requires (RFC 8725 §3.11), e.g. \"at+jwt\"; \
             `JWT` is what every untyped token carries: remove the key",
        ));
    }
    Ok(typ)
}

/// A key the target trusts, but only for another audience or tenant: the
/// `other_audience_key`, `other_audience_kid` and `other_audience_claims` keys.
pub(super) struct OtherAudience {
    /// The other issuer's private key (same kind as `key`).
    key: SecretSource,
    /// The `kid` under which the target knows that key.
    kid: String,
    /// The claims that key may sign (e.g. `{ aud = "partner-api" }`), over the valid ones.
    claims: Object,
}

impl OtherAudience {
    /// Reads the three keys; all or none must be given.
    pub(super) fn configure(config: &mut Config<'_>) -> Result<Option<Self>, ConfigError> {
        let key = config.secret("other_audience_key")?;
        let kid = config.string("other_audience_kid")?;
        let claims = token::claims_table(config, "other_audience_claims")?;
        if key.is_none() && kid.is_none() && claims.is_none() {
            return Ok(None);
        }
        let missing = |name: &str| {
            config.error(
                name,
                ConfigErrorKind::MissingKey,
                "`other_audience_key`, `other_audience_kid` and `other_audience_claims` go \
                 together (the kid-other-audience case needs all three)",
            )
        };
        let key = key.ok_or_else(|| missing("other_audience_key"))?;
        let kid = kid.ok_or_else(|| missing("other_audience_kid"))?;
        let claims = claims.ok_or_else(|| missing("other_audience_claims"))?;
        if claims.is_empty() {
            return Err(config.error(
                "other_audience_claims",
                ConfigErrorKind::InvalidValue,
                "name what the other key is trusted for, e.g. { aud = \"partner-api\" }",
            ));
        }
        Ok(Some(OtherAudience { key, kid, claims }))
    }
}

/// A key of the other ECDSA curve size the target also trusts, under its `kid`: the
/// `other_curve_key` and `other_curve_kid` keys. With it `alg-same-family` covers ES256 and
/// ES384, whose sizes are different curves and so never share the configured key.
pub(super) struct OtherCurve {
    /// The other curve's private key (P-384 for ES256, P-256 for ES384).
    key: SecretSource,
    /// The `kid` under which the target knows that key.
    kid: String,
}

impl OtherCurve {
    /// Reads the two keys; both or none must be given, and only with `alg` ES256 or ES384.
    pub(super) fn configure(
        config: &mut Config<'_>,
        alg: Algorithm,
    ) -> Result<Option<Self>, ConfigError> {
        let key = config.secret("other_curve_key")?;
        let kid = config.string("other_curve_kid")?;
        if key.is_none() && kid.is_none() {
            return Ok(None);
        }
        let missing = |name: &str| {
            config.error(
                name,
                ConfigErrorKind::MissingKey,
                "`other_curve_key` and `other_curve_kid` go together (alg-same-family signs \
                 with that key under that kid)",
            )
        };
        let key = key.ok_or_else(|| missing("other_curve_key"))?;
        let kid = kid.ok_or_else(|| missing("other_curve_kid"))?;
        if other_curve_alg(alg).is_none() {
            return Err(config.error(
                "other_curve_key",
                ConfigErrorKind::InvalidValue,
                "`other_curve_key` is for `alg` ES256 or ES384 (the other size is another \
                 curve, so another key); remove it or set `alg`",
            ));
        }
        Ok(Some(OtherCurve { key, kid }))
    }

    /// Reads the key (registered as a secret) for signing under the other size of `alg`.
    pub(super) fn load(&self, context: &Context<'_>, alg: Algorithm) -> Result<Signer, JwtError> {
        let alg = other_curve_alg(alg).ok_or(JwtError::Malformed("no other curve size"))?;
        let bytes = self
            .key
            .read(context.root)
            .map_err(JwtError::OtherCurveKey)?;
        token::register_key(context, &bytes);
        Ok(Signer {
            alg,
            key: token::encoding_key(alg, &bytes)?,
            kid: self.kid.clone(),
        })
    }
}

/// The other ECDSA size of `alg`: ES384 for ES256 and back; none for any other algorithm.
pub(super) fn other_curve_alg(alg: Algorithm) -> Option<Algorithm> {
    match alg {
        Algorithm::ES256 => Some(Algorithm::ES384),
        Algorithm::ES384 => Some(Algorithm::ES256),
        _ => None,
    }
}

/// A key read for signing: its algorithm, the key and the `kid` the target knows it by.
pub(super) struct Signer {
    alg: Algorithm,
    key: jsonwebtoken::EncodingKey,
    kid: String,
}

impl JwtProbe {
    /// The forged tokens of this module's case `name`, or `None` when it is not one of them.
    pub(super) fn forge_class(
        &self,
        name: &str,
        forge: &Forge<'_>,
    ) -> Result<Option<Vec<Forged>>, JwtError> {
        let minter = forge.minter;
        let header = minter.header();
        let now = token::now();
        let forgeries = match name {
            "alg-same-family" => {
                let mut forgeries = same_family(minter.alg())
                    .into_iter()
                    .map(|alg| {
                        let name = token::algorithm_name(alg);
                        let mut header = header.clone();
                        header.insert("alg".into(), json!(name));
                        Ok(Forged::new(
                            &format!("a token signed with the issuer key under {name}"),
                            token::sign(&header, &forge.valid_claims, minter.key(), alg)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, JwtError>>()?;
                if let Some(other) = forge.other_curve {
                    let name = token::algorithm_name(other.alg);
                    let mut header = header.clone();
                    header.insert("alg".into(), json!(name));
                    header.insert("kid".into(), json!(other.kid));
                    forgeries.push(Forged::new(
                        &format!(
                            "a token signed under {name} with the other curve's key (kid {})",
                            other.kid
                        ),
                        token::sign(&header, &forge.valid_claims, &other.key, other.alg)?,
                    ));
                }
                forgeries
            }
            "crit-unknown" => {
                let mut header = header.clone();
                header.insert("crit".into(), json!([CRIT_PARAMETER]));
                header.insert(CRIT_PARAMETER.into(), json!(true));
                vec![Forged::new(
                    &format!("a token whose crit header names the unknown {CRIT_PARAMETER}"),
                    minter.sign(&header, &forge.valid_claims)?,
                )]
            }
            "iat-future" => {
                let issued = now + IAT_FUTURE_SECONDS;
                let claims = forge
                    .claims_with(json!({ "iat": issued, "exp": issued + token::LIFETIME_SECONDS }));
                vec![Forged::new(
                    "a token issued (iat) a day from now",
                    minter.sign(&header, &claims)?,
                )]
            }
            "duplicate-claims" => {
                let (past, future) = (now - 3600, now + token::LIFETIME_SECONDS);
                [(past, future), (future, past)]
                    .into_iter()
                    .map(|(first, last)| {
                        let payload = duplicated_exp(&forge.valid_claims, first, last);
                        let when = |exp: i64| {
                            if exp < now {
                                "an hour ago"
                            } else {
                                "in 5 minutes"
                            }
                        };
                        Ok(Forged::new(
                            &format!(
                                "a token naming exp twice, {} first and {} last",
                                when(first),
                                when(last)
                            ),
                            token::sign_payload(&header, &payload, minter.key(), minter.alg())?,
                        ))
                    })
                    .collect::<Result<_, JwtError>>()?
            }
            "typ-confusion" => {
                let wanted = self.typ.as_deref().unwrap_or("JWT");
                let mut forgeries: Vec<Forged> = OTHER_TYPES
                    .iter()
                    .filter(|other| !same_type(other, wanted))
                    .map(|other| {
                        let mut header = header.clone();
                        header.insert("typ".into(), json!(other));
                        Ok(Forged::new(
                            &format!("a token of type {other}"),
                            minter.sign(&header, &forge.valid_claims)?,
                        ))
                    })
                    .collect::<Result<_, JwtError>>()?;
                let mut untyped = header.clone();
                untyped.remove("typ");
                forgeries.push(Forged::new(
                    "a token without typ",
                    minter.sign(&untyped, &forge.valid_claims)?,
                ));
                forgeries
            }
            "cty-confusion" => {
                // The configured type named by `cty` (the payload's content type, RFC 7515
                // §4.1.10), while `typ`, the token's own type, says another one or nothing.
                let wanted = self.typ.as_deref().unwrap_or("JWT");
                let mut typed = header.clone();
                typed.insert("typ".into(), json!("JWT"));
                typed.insert("cty".into(), json!(wanted));
                let mut untyped = header.clone();
                untyped.remove("typ");
                untyped.insert("cty".into(), json!(wanted));
                vec![
                    Forged::new(
                        &format!("a token of type JWT whose cty says {wanted}"),
                        minter.sign(&typed, &forge.valid_claims)?,
                    ),
                    Forged::new(
                        &format!("a token without typ whose cty says {wanted}"),
                        minter.sign(&untyped, &forge.valid_claims)?,
                    ),
                ]
            }
            _ => return Ok(None),
        };
        Ok(Some(forgeries))
    }

    /// The `kid-other-audience` case. Its control, a token of the other key for what that key is
    /// trusted for, must be accepted (else the case cannot tell: inconclusive); then the valid
    /// claims signed with the other key under its `kid` must be refused.
    pub(super) fn kid_other_audience(
        &self,
        context: &Context<'_>,
        forge: &Forge<'_>,
    ) -> Result<Case, JwtError> {
        const NAME: &str = "kid-other-audience";
        let other = self
            .other_audience
            .as_ref()
            .ok_or(JwtError::Malformed("no other-audience key configured"))?;
        let bytes = other.key.read(context.root).map_err(JwtError::OtherKey)?;
        token::register_key(context, &bytes);
        let alg = forge.minter.alg();
        let key = token::encoding_key(alg, &bytes)?;
        let mut header = forge.minter.header();
        header.insert("kid".into(), json!(other.kid));
        let mut own = forge.valid_claims.clone();
        for (name, value) in &other.claims {
            own.insert(name.clone(), value.clone());
        }
        let control = Forged::new(
            &format!(
                "a token of the other key (kid {}) for what it is trusted for",
                other.kid
            ),
            token::sign(&header, &own, &key, alg)?,
        );
        let control = self.attempt(context, &control);
        if !control.reply.as_ref().is_ok_and(|reply| reply.is_success()) {
            return Ok(attempt::case(
                NAME,
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: the control {} got {}, not 2xx: the target does not accept \
                     the other key even for its own audience, so this case cannot tell",
                    control.what,
                    control.got()
                ),
                &[&control],
            ));
        }
        let forged = Forged::new(
            &format!(
                "a token of the other key (kid {}) for this target's audience and caller",
                other.kid
            ),
            token::sign(&header, &forge.valid_claims, &key, alg)?,
        );
        let forged = self.attempt(context, &forged);
        let mut case = verdict(NAME, &[&forged], &self.refused);
        let evidence = attempt::case(NAME, case.outcome, String::new(), &[&control, &forged]);
        case.sent = evidence.sent;
        case.got = evidence.got;
        Ok(case)
    }
}

/// The JSON text of `claims` without `exp`, then `exp` twice: `first` as the first member and
/// `last` as the last. serde_json would never write it; parsers disagree on what it means.
fn duplicated_exp(claims: &Object, first: i64, last: i64) -> String {
    let mut rest = claims.clone();
    rest.remove("exp");
    let inner = Value::Object(rest).to_string();
    let inner = inner.trim_start_matches('{').trim_end_matches('}');
    let middle = if inner.is_empty() {
        String::new()
    } else {
        format!("{inner},")
    };
    format!("{{\"exp\":{first},{middle}\"exp\":{last}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_hold_the_other_algorithms_of_the_same_key() {
        assert_eq!(
            same_family(Algorithm::HS256),
            [Algorithm::HS384, Algorithm::HS512]
        );
        let rsa = same_family(Algorithm::RS256);
        assert_eq!(rsa.len(), 5);
        assert!(rsa.contains(&Algorithm::PS256) && !rsa.contains(&Algorithm::RS256));
        assert!(same_family(Algorithm::ES256).is_empty());
        assert!(same_family(Algorithm::EdDSA).is_empty());
    }

    fn configure(text: &str) -> Result<Vec<String>, ConfigError> {
        let base = "url = \"${api.url}/v1/me\"\nissuer = \"https://issuer.test\"\n\
                    audience = \"tenant-api\"\nkey = { file = \"k.pem\" }\n";
        crate::configure(
            "jwt",
            &format!("{base}{text}").parse::<toml::Table>().unwrap(),
        )
    }

    #[test]
    fn the_other_curve_key_adds_alg_same_family_to_ecdsa_only() {
        assert_eq!(other_curve_alg(Algorithm::ES256), Some(Algorithm::ES384));
        assert_eq!(other_curve_alg(Algorithm::ES384), Some(Algorithm::ES256));
        assert_eq!(other_curve_alg(Algorithm::RS256), None);
        let other = "other_curve_key = { file = \"o.pem\" }\nother_curve_kid = \"es384\"\n";
        for alg in ["ES256", "ES384"] {
            let names = configure(&format!("alg = \"{alg}\"\n")).unwrap();
            assert!(!names.contains(&"alg-same-family".to_string()), "{alg}");
            let names = configure(&format!("alg = \"{alg}\"\n{other}")).unwrap();
            assert!(names.contains(&"alg-same-family".to_string()), "{alg}");
        }
        let err = configure(&format!("alg = \"RS256\"\n{other}")).unwrap_err();
        assert_eq!(err.key, "other_curve_key");
        assert!(err.message.contains("ES256 or ES384"), "{}", err.message);
        let err = configure("alg = \"ES256\"\nother_curve_kid = \"es384\"\n").unwrap_err();
        assert_eq!(err.key, "other_curve_key");
        let err =
            configure("alg = \"ES256\"\nother_curve_key = { file = \"o.pem\" }\n").unwrap_err();
        assert_eq!(err.key, "other_curve_kid");
    }

    #[test]
    fn types_compare_without_case_and_application_prefix() {
        assert!(same_type("at+jwt", "application/AT+JWT"));
        assert!(same_type("jwt", "JWT"));
        assert!(!same_type("at+jwt", "JWT"));
    }

    #[test]
    fn the_duplicated_payload_names_exp_twice_in_order() {
        let claims = json!({ "iss": "i", "exp": 5, "sub": "s" })
            .as_object()
            .unwrap()
            .clone();
        let text = duplicated_exp(&claims, 1, 9);
        assert_eq!(text, r#"{"exp":1,"iss":"i","sub":"s","exp":9}"#);
        // A last-wins parser (serde_json's map) reads the last one.
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["exp"], 9);
        assert_eq!(duplicated_exp(&Object::new(), 1, 2), r#"{"exp":1,"exp":2}"#);
    }
}
