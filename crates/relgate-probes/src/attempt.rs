//! One HTTP attempt of an identity probe (`jwt`, `rbac`, `consent`): sent, logged and described
//! for case evidence, plus the status lists and verdict helpers those probes share.

use std::time::Duration;

use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::http::{self, Reply, Request};
use crate::probe::{Case, CaseOutcome, Context};

/// Default per-request timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A request that was sent (or could not be) and what came back.
pub(crate) struct Attempt {
    /// What the attempt was, for messages: `GET http://…/v1/me with an expired token`.
    pub(crate) what: String,
    /// The request as described for evidence (redacted by the caller's log and `run`).
    pub(crate) sent: String,
    /// The reply, or the transport error's text ([`http::SendError`]).
    pub(crate) reply: Result<Reply, String>,
}

impl Attempt {
    /// `401 {"error":…}` or `error: connection refused`.
    pub(crate) fn got(&self) -> String {
        match &self.reply {
            Ok(reply) => reply.describe(),
            Err(err) => format!("error: {err}"),
        }
    }

    /// The status, if a reply came back.
    pub(crate) fn status(&self) -> Option<u16> {
        self.reply.as_ref().ok().map(|reply| reply.status)
    }
}

/// Sends `request`, logging it and its outcome. `what` names the attempt in messages and
/// `evidence` (e.g. the forged token's header and claims) is appended to the description.
pub(crate) fn send(
    context: &Context<'_>,
    request: &Request,
    timeout: Duration,
    what: String,
    evidence: &str,
) -> Attempt {
    let mut sent = request.describe();
    if !evidence.is_empty() {
        sent.push('\n');
        sent.push_str(evidence);
    }
    context.log.line(&format!("-> {what}\n{sent}"));
    let reply = http::send(request, timeout, context.deadline).map_err(|err| err.to_string());
    let attempt = Attempt { what, sent, reply };
    context.log.line(&format!("<- {}", attempt.got()));
    attempt
}

/// Reads `method` (default `GET`), upper-cased.
pub(crate) fn method(config: &mut Config<'_>) -> Result<String, ConfigError> {
    Ok(config
        .string("method")?
        .unwrap_or_else(|| "GET".to_string())
        .to_ascii_uppercase())
}

/// Reads `request_timeout` (default ten seconds).
pub(crate) fn request_timeout(config: &mut Config<'_>) -> Result<Duration, ConfigError> {
    Ok(config
        .duration("request_timeout")?
        .unwrap_or(DEFAULT_TIMEOUT))
}

/// Reads a list of HTTP statuses under `key` (an integer or an array), refusing 2xx: a
/// success can never count as a refusal.
pub(crate) fn statuses(
    config: &mut Config<'_>,
    key: &'static str,
    default: &[u16],
) -> Result<Vec<u16>, ConfigError> {
    let Some(values) = config.integers(key, 100..=599)? else {
        return Ok(default.to_vec());
    };
    if values.is_empty() {
        return Err(config.error(
            key,
            ConfigErrorKind::InvalidValue,
            "give at least one status",
        ));
    }
    if let Some(success) = values.iter().find(|status| (200..300).contains(*status)) {
        return Err(config.error(
            key,
            ConfigErrorKind::InvalidValue,
            format!("{success} is a success status and cannot count as a refusal"),
        ));
    }
    Ok(values.iter().map(|status| *status as u16).collect())
}

/// `401, 403` or `403`.
pub(crate) fn list(statuses: &[u16]) -> String {
    statuses
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A case with `outcome` and evidence joined from `attempts`.
pub(crate) fn case(
    name: &str,
    outcome: CaseOutcome,
    message: String,
    attempts: &[&Attempt],
) -> Case {
    Case {
        name: name.to_string(),
        outcome,
        message,
        sent: attempts
            .iter()
            .map(|attempt| attempt.sent.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        got: attempts
            .iter()
            .map(|attempt| attempt.got())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Every case of `names` inconclusive with `message`: the first carries the controls'
/// evidence, the rest say they were not attempted.
pub(crate) fn all_inconclusive(
    names: &[String],
    message: &str,
    controls: &[&Attempt],
) -> Vec<Case> {
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            if index == 0 {
                case(
                    name,
                    CaseOutcome::Inconclusive,
                    message.to_string(),
                    controls,
                )
            } else {
                Case {
                    name: name.clone(),
                    outcome: CaseOutcome::Inconclusive,
                    message: format!("not attempted: {message}"),
                    sent: String::new(),
                    got: String::new(),
                }
            }
        })
        .collect()
}

/// The cases a run starts with, from the controls' `summary` ([`check_controls`], perhaps
/// refined by the probe): `Ok` holds the passing `controls` case, to which the attack cases are
/// added; `Err` holds every case of `names` inconclusive ([`all_inconclusive`]), the whole
/// result of the run.
pub(crate) fn controls(
    names: &[String],
    summary: Result<String, String>,
    positive: &Attempt,
    negative: &Attempt,
) -> Result<Vec<Case>, Vec<Case>> {
    let evidence = [positive, negative];
    match summary {
        Ok(summary) => Ok(vec![case(
            "controls",
            CaseOutcome::Pass,
            summary,
            &evidence,
        )]),
        Err(message) => Err(all_inconclusive(names, &message, &evidence)),
    }
}

/// Checks the positive control (must be 2xx) and the negative control (must be one of
/// `refused`); `Err` is the inconclusive message naming the control that misbehaved.
pub(crate) fn check_controls(
    positive: &Attempt,
    negative: &Attempt,
    refused: &[u16],
) -> Result<String, String> {
    match &positive.reply {
        Err(err) => {
            return Err(format!(
                "inconclusive: positive control {} failed: {err}",
                positive.what
            ))
        }
        Ok(reply) if !reply.is_success() => {
            return Err(format!(
                "inconclusive: positive control {} got {}, expected 2xx",
                positive.what,
                reply.describe()
            ))
        }
        Ok(_) => {}
    }
    match &negative.reply {
        Err(err) => Err(format!(
            "inconclusive: negative control {} failed: {err}",
            negative.what
        )),
        Ok(reply) if !refused.contains(&reply.status) => Err(format!(
            "inconclusive: negative control {} got {}, expected {}",
            negative.what,
            reply.describe(),
            list(refused)
        )),
        Ok(reply) => Ok(format!(
            "{} succeeded and {} got {}",
            positive.what, negative.what, reply.status
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(what: &str, reply: Result<(u16, &str), &str>) -> Attempt {
        Attempt {
            what: what.to_string(),
            sent: format!("GET {what}"),
            reply: reply
                .map(|(status, body)| Reply {
                    status,
                    body: body.as_bytes().to_vec(),
                })
                .map_err(str::to_string),
        }
    }

    #[test]
    fn controls_name_the_one_that_misbehaved() {
        let ok = attempt("valid", Ok((200, "{}")));
        let refused = attempt("no token", Ok((401, "")));
        assert!(check_controls(&ok, &refused, &[401, 403]).is_ok());
        let down = attempt("valid", Ok((503, "down")));
        assert_eq!(
            check_controls(&down, &refused, &[401, 403]).unwrap_err(),
            "inconclusive: positive control valid got 503 down, expected 2xx"
        );
        let open = attempt("no token", Ok((200, "")));
        assert_eq!(
            check_controls(&ok, &open, &[401, 403]).unwrap_err(),
            "inconclusive: negative control no token got 200, expected 401 or 403"
        );
        let dead = attempt("valid", Err("connection refused"));
        assert!(check_controls(&dead, &refused, &[401])
            .unwrap_err()
            .ends_with("failed: connection refused"));
    }

    #[test]
    fn status_lists_refuse_successes() {
        let table: toml::Table = "a = [401, 403]\nb = 204\nc = []\nd = [\"401\"]\n"
            .parse()
            .unwrap();
        let mut config = Config::new(&table);
        assert_eq!(statuses(&mut config, "a", &[1]).unwrap(), vec![401, 403]);
        assert_eq!(
            statuses(&mut config, "b", &[1]).unwrap_err().to_string(),
            "`b`: 204 is a success status and cannot count as a refusal"
        );
        assert!(statuses(&mut config, "c", &[1]).is_err());
        assert!(statuses(&mut config, "d", &[1]).is_err());
        assert_eq!(statuses(&mut config, "e", &[403]).unwrap(), vec![403]);
    }
}
