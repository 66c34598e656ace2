//! The child-records handlers and the consent check that guards them.
//!
//! Hardened: every request checks `has_active_consent(sub, child)` for the child named in the
//! path, and records are read through `visible_child_records` (which checks consent again, per
//! record) filtered by that same child. The consent flaws each break one of these steps.

use std::collections::HashSet;
use std::sync::Mutex;

use postgres::Transaction;
use serde_json::json;

use crate::flaw::{Flaw, Flaws};
use crate::jwt::Principal;
use crate::service::{query_json, query_opt_json, Reply};

/// How consent is enforced for one run.
pub(crate) struct Consent {
    /// `consent-ignored`: no check, records straight from the table.
    ignored: bool,
    /// `consent-any-child`: a single record is read by its id alone.
    any_child: bool,
    /// `consent-cached`: tokens whose consent was checked once; later requests skip the check.
    checked: Option<Mutex<HashSet<String>>>,
}

/// The record columns as one JSON object.
const RECORD_JSON: &str =
    "json_build_object('id', id, 'org_id', org_id, 'child_ref', child_ref, 'body', body)";

impl Consent {
    /// The enforcement for a run with `flaws`.
    pub(crate) fn new(flaws: &Flaws) -> Consent {
        Consent {
            ignored: flaws.has(Flaw::ConsentIgnored),
            any_child: flaws.has(Flaw::ConsentAnyChild),
            checked: flaws
                .has(Flaw::ConsentCached)
                .then(|| Mutex::new(HashSet::new())),
        }
    }

    /// `Ok(Some(table))` to read records from when the caller may read `child_ref`'s records,
    /// `Ok(None)` when consent is missing. `session` is the bearer token.
    fn check(
        &self,
        transaction: &mut Transaction<'_>,
        principal: &Principal,
        child_ref: &str,
        session: &str,
    ) -> Result<Option<&'static str>, postgres::Error> {
        if self.ignored {
            // The flaw: straight from the table, as if consent were somebody else's concern.
            return Ok(Some("child_records"));
        }
        if let Some(checked) = &self.checked {
            // The flaw: a token that passed the check once is trusted for its whole life, and
            // its requests take the fast path that skips the consent view.
            if checked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .contains(session)
            {
                return Ok(Some("child_records"));
            }
        }
        let consented: bool = transaction
            .query_one(
                "select has_active_consent($1, $2)",
                &[&principal.sub, &child_ref],
            )?
            .get(0);
        if !consented {
            return Ok(None);
        }
        if let Some(checked) = &self.checked {
            checked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(session.to_owned());
        }
        Ok(Some("visible_child_records"))
    }
}

fn known_child(
    transaction: &mut Transaction<'_>,
    child_ref: &str,
) -> Result<bool, postgres::Error> {
    Ok(transaction
        .query_one(
            "select exists (select 1 from children where child_ref = $1)",
            &[&child_ref],
        )?
        .get(0))
}

/// `GET /v1/children/{ref}/records`: the child's records, when the caller has consent.
pub(crate) fn child_records(
    consent: &Consent,
    transaction: &mut Transaction<'_>,
    principal: &Principal,
    child_ref: &str,
    session: &str,
) -> Result<Reply, postgres::Error> {
    if !known_child(transaction, child_ref)? {
        return Ok(Reply::error(404, "not found"));
    }
    let Some(table) = consent.check(transaction, principal, child_ref, session)? else {
        return Ok(Reply::error(403, "forbidden").noted("no active consent"));
    };
    let records = query_json(
        transaction,
        &format!(
            "select coalesce(json_agg({RECORD_JSON} order by id), '[]')::text \
             from {table} where child_ref = $1"
        ),
        &[&child_ref],
    )?;
    Ok(Reply::json(
        200,
        json!({ "child_ref": child_ref, "records": records }),
    ))
}

/// `GET /v1/children/{ref}/records/{id}`: one record of the child, when the caller has consent.
pub(crate) fn child_record(
    consent: &Consent,
    transaction: &mut Transaction<'_>,
    principal: &Principal,
    child_ref: &str,
    record_id: &str,
    session: &str,
) -> Result<Reply, postgres::Error> {
    if !known_child(transaction, child_ref)? {
        return Ok(Reply::error(404, "not found"));
    }
    let Some(table) = consent.check(transaction, principal, child_ref, session)? else {
        return Ok(Reply::error(403, "forbidden").noted("no active consent"));
    };
    let record = if consent.any_child {
        // The flaw: consent was checked for the child in the path, but the record is looked up
        // by its id alone, so any record of the tenant is served under that consent.
        query_opt_json(
            transaction,
            &format!("select {RECORD_JSON}::text from child_records where id = $1"),
            &[&record_id],
        )?
    } else {
        query_opt_json(
            transaction,
            &format!("select {RECORD_JSON}::text from {table} where id = $1 and child_ref = $2"),
            &[&record_id, &child_ref],
        )?
    };
    Ok(match record {
        Some(record) => Reply::json(200, record),
        None => Reply::error(404, "not found"),
    })
}
