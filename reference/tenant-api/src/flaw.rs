//! The known weaknesses that `--flaw NAME` switches on, one small change each.
//!
//! A flaw is never visible as a flag: no endpoint, header or table says which flaws are on. It
//! only shows as behaviour (a forged token accepted, another tenant's row returned) or as the
//! catalog state a careful reviewer would notice (a table without `FORCE ROW LEVEL SECURITY`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One known weakness of the reference service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flaw {
    /// Tokens are accepted without an `exp` check (expired or missing `exp`).
    JwtAcceptExpired,
    /// The `aud` claim is not checked.
    JwtSkipAud,
    /// The `iss` claim is not checked.
    JwtSkipIss,
    /// A hand-written path accepts unsigned tokens whose `alg` is `none` in any letter case.
    JwtAcceptNone,
    /// The `nbf` claim is not checked.
    JwtSkipNbf,
    /// HS256 tokens are accepted, verified with the RSA public key PEM bytes as HMAC secret.
    JwtHsKeyConfusion,
    /// Webhook deliveries are accepted without verifying `svix-signature`.
    WebhookSkipSignature,
    /// Webhook timestamps are not checked against the 5-minute tolerance.
    WebhookNoTolerance,
    /// Webhook signatures are compared only over the length the sender gave (empty or
    /// truncated signatures pass).
    WebhookPrefixCompare,
    /// Webhook signatures are compared only over the expected length (bytes appended pass).
    WebhookTrailingIgnored,
    /// The webhook signature comparison loop stops one byte short.
    WebhookOffByOne,
    /// Webhook signatures are compared as base64 text, ignoring letter case.
    WebhookCaseInsensitive,
    /// The version tag of a webhook signature is ignored (`v2,…` counts as `v1,…`).
    WebhookAnyVersion,
    /// With several webhook signatures in the header only their format is checked.
    WebhookSeveralFormatOnly,
    /// A missing or non-numeric `svix-timestamp` is taken as now.
    WebhookLenientTimestamp,
    /// A `svix-timestamp` above 10^11 is read as milliseconds.
    WebhookMillisecondTimestamp,
    /// Webhook signature headers have all whitespace removed before they are read.
    WebhookStripWhitespace,
    /// Tenant tables have RLS enabled but not forced, so the table owner bypasses it.
    RlsNotForced,
    /// `projects` has RLS disabled and no policy.
    RlsMissingPolicy,
    /// The app role is given `BYPASSRLS`.
    RlsAppRoleBypass,
    /// The consent view runs with its owner's rights instead of `security_invoker`.
    RlsDefinerView,
    /// `audit_events` has no UPDATE/DELETE guard trigger and the app role may UPDATE/DELETE.
    AuditUpdateAllowed,
    /// `audit_events` has no TRUNCATE guard trigger and the app role may TRUNCATE.
    AuditTruncateAllowed,
    /// Routes missing from the permission map are allowed; update and delete are missing.
    RbacAllowByDefault,
    /// The child-records handler reads `child_records` directly, ignoring consent.
    ConsentIgnored,
    /// `projects` gains a second, permissive `FOR UPDATE USING (true)` policy.
    RlsPermissiveUpdate,
    /// `projects` gains a second, permissive `FOR DELETE USING (true)` policy.
    RlsPermissiveDelete,
    /// `projects` gains an UPDATE policy whose `WITH CHECK` is `true`: a row can be moved to another tenant.
    RlsNoWithCheck,
    /// `projects` gains a second permissive SELECT policy (`name like 'Shared:%'`), OR-combined with the tenant policy.
    RlsOrPolicy,
    /// A SECURITY DEFINER function the app role may call counts any tenant's projects.
    RlsDefinerFunction,
    /// The audit chain's hash omits the `actor` column.
    AuditHashPartial,
    /// The audit hash leaves out `prev_hash`: each row is hashed alone, so a rewritten row keeps every later hash.
    AuditRewritable,
    /// The audit trigger keeps a client-supplied `occurred_at`; the seed imports a backdated event.
    AuditBackdated,
    /// RSA tokens are verified with the algorithm their header names, any of the RSA family;
    /// EC tokens under ES384 too, with the EC key their `kid` selects.
    JwtAlgFromHeader,
    /// The `crit` header parameter is ignored instead of refused.
    JwtIgnoreCrit,
    /// `iat` in the future is not refused.
    JwtNoIatCheck,
    /// After the signature check, claims are read into a JSON map (the last duplicate wins) and checked by hand.
    JwtLastDuplicateClaim,
    /// The `typ` header is not checked against `--token-type`.
    JwtAnyTyp,
    /// The required type is also taken from the `cty` header when `typ` names another one.
    JwtTypFromCty,
    /// The partner key is looked up by `kid`, but the audience is checked against every trusted audience.
    JwtKidAnyAudience,
    /// A project looked up by id through the owner's connection, without the tenant filter.
    RbacIdor,
    /// A write's body may carry `role` and `org_id`, which replace the caller's.
    RbacMassAssignment,
    /// Consent is checked on a token's first child-records request only, then remembered.
    ConsentCached,
    /// A child's single record is read by its id alone, not by the consented child's.
    ConsentAnyChild,
}

impl Flaw {
    /// Every flaw, in the order `--list-flaws` prints them.
    pub const ALL: [Flaw; 44] = [
        Flaw::JwtAcceptExpired,
        Flaw::JwtSkipAud,
        Flaw::JwtSkipIss,
        Flaw::JwtAcceptNone,
        Flaw::JwtSkipNbf,
        Flaw::JwtHsKeyConfusion,
        Flaw::WebhookSkipSignature,
        Flaw::WebhookNoTolerance,
        Flaw::WebhookPrefixCompare,
        Flaw::WebhookTrailingIgnored,
        Flaw::WebhookOffByOne,
        Flaw::WebhookCaseInsensitive,
        Flaw::WebhookAnyVersion,
        Flaw::WebhookSeveralFormatOnly,
        Flaw::WebhookLenientTimestamp,
        Flaw::WebhookMillisecondTimestamp,
        Flaw::WebhookStripWhitespace,
        Flaw::RlsNotForced,
        Flaw::RlsMissingPolicy,
        Flaw::RlsAppRoleBypass,
        Flaw::RlsDefinerView,
        Flaw::AuditUpdateAllowed,
        Flaw::AuditTruncateAllowed,
        Flaw::RbacAllowByDefault,
        Flaw::ConsentIgnored,
        Flaw::RlsPermissiveUpdate,
        Flaw::RlsPermissiveDelete,
        Flaw::RlsNoWithCheck,
        Flaw::RlsOrPolicy,
        Flaw::RlsDefinerFunction,
        Flaw::AuditHashPartial,
        Flaw::AuditRewritable,
        Flaw::AuditBackdated,
        Flaw::JwtAlgFromHeader,
        Flaw::JwtIgnoreCrit,
        Flaw::JwtNoIatCheck,
        Flaw::JwtLastDuplicateClaim,
        Flaw::JwtAnyTyp,
        Flaw::JwtTypFromCty,
        Flaw::JwtKidAnyAudience,
        Flaw::RbacIdor,
        Flaw::RbacMassAssignment,
        Flaw::ConsentCached,
        Flaw::ConsentAnyChild,
    ];

    /// The name used on the command line, e.g. `jwt-accept-none`.
    pub fn name(self) -> &'static str {
        match self {
            Flaw::JwtAcceptExpired => "jwt-accept-expired",
            Flaw::JwtSkipAud => "jwt-skip-aud",
            Flaw::JwtSkipIss => "jwt-skip-iss",
            Flaw::JwtAcceptNone => "jwt-accept-none",
            Flaw::JwtSkipNbf => "jwt-skip-nbf",
            Flaw::JwtHsKeyConfusion => "jwt-hs-key-confusion",
            Flaw::WebhookSkipSignature => "webhook-skip-signature",
            Flaw::WebhookNoTolerance => "webhook-no-tolerance",
            Flaw::WebhookPrefixCompare => "webhook-prefix-compare",
            Flaw::WebhookTrailingIgnored => "webhook-trailing-ignored",
            Flaw::WebhookOffByOne => "webhook-off-by-one",
            Flaw::WebhookCaseInsensitive => "webhook-case-insensitive",
            Flaw::WebhookAnyVersion => "webhook-any-version",
            Flaw::WebhookSeveralFormatOnly => "webhook-several-format-only",
            Flaw::WebhookLenientTimestamp => "webhook-lenient-timestamp",
            Flaw::WebhookMillisecondTimestamp => "webhook-millisecond-timestamp",
            Flaw::WebhookStripWhitespace => "webhook-strip-whitespace",
            Flaw::RlsNotForced => "rls-not-forced",
            Flaw::RlsMissingPolicy => "rls-missing-policy",
            Flaw::RlsAppRoleBypass => "rls-app-role-bypass",
            Flaw::RlsDefinerView => "rls-definer-view",
            Flaw::AuditUpdateAllowed => "audit-update-allowed",
            Flaw::AuditTruncateAllowed => "audit-truncate-allowed",
            Flaw::RbacAllowByDefault => "rbac-allow-by-default",
            Flaw::ConsentIgnored => "consent-ignored",
            Flaw::RlsPermissiveUpdate => "rls-permissive-update",
            Flaw::RlsPermissiveDelete => "rls-permissive-delete",
            Flaw::RlsNoWithCheck => "rls-no-with-check",
            Flaw::RlsOrPolicy => "rls-or-policy",
            Flaw::RlsDefinerFunction => "rls-definer-function",
            Flaw::AuditHashPartial => "audit-hash-partial",
            Flaw::AuditRewritable => "audit-rewritable",
            Flaw::AuditBackdated => "audit-backdated",
            Flaw::JwtAlgFromHeader => "jwt-alg-from-header",
            Flaw::JwtIgnoreCrit => "jwt-ignore-crit",
            Flaw::JwtNoIatCheck => "jwt-no-iat-check",
            Flaw::JwtLastDuplicateClaim => "jwt-last-duplicate-claim",
            Flaw::JwtAnyTyp => "jwt-any-typ",
            Flaw::JwtTypFromCty => "jwt-typ-from-cty",
            Flaw::JwtKidAnyAudience => "jwt-kid-any-audience",
            Flaw::RbacIdor => "rbac-idor",
            Flaw::RbacMassAssignment => "rbac-mass-assignment",
            Flaw::ConsentCached => "consent-cached",
            Flaw::ConsentAnyChild => "consent-any-child",
        }
    }

    /// A one-line description of the weakness.
    pub fn description(self) -> &'static str {
        match self {
            Flaw::JwtAcceptExpired => {
                "tokens are accepted without an exp check (expired or missing exp)"
            }
            Flaw::JwtSkipAud => "the aud claim is not checked",
            Flaw::JwtSkipIss => "the iss claim is not checked",
            Flaw::JwtAcceptNone => "unsigned tokens with alg none/None/NONE are accepted",
            Flaw::JwtSkipNbf => "the nbf claim is not checked (not-yet-valid tokens accepted)",
            Flaw::JwtHsKeyConfusion => {
                "HS256 tokens are accepted, keyed with the RSA public key PEM bytes"
            }
            Flaw::WebhookSkipSignature => {
                "webhook deliveries are accepted without a valid signature"
            }
            Flaw::WebhookNoTolerance => {
                "webhook timestamps are not checked (stale/future accepted)"
            }
            Flaw::WebhookPrefixCompare => {
                "webhook signatures are compared over the sender's length (empty/truncated pass)"
            }
            Flaw::WebhookTrailingIgnored => {
                "webhook signatures are compared over the expected length (appended bytes pass)"
            }
            Flaw::WebhookOffByOne => "the webhook signature comparison skips the last byte",
            Flaw::WebhookCaseInsensitive => {
                "webhook signatures are compared as base64 text ignoring letter case"
            }
            Flaw::WebhookAnyVersion => "the webhook signature version tag is ignored (v2 = v1)",
            Flaw::WebhookSeveralFormatOnly => {
                "with several webhook signatures only their format is checked"
            }
            Flaw::WebhookLenientTimestamp => {
                "a missing or non-numeric webhook timestamp is taken as now"
            }
            Flaw::WebhookMillisecondTimestamp => {
                "webhook timestamps above 10^11 are read as milliseconds"
            }
            Flaw::WebhookStripWhitespace => {
                "the webhook signature header has all whitespace removed before it is read"
            }
            Flaw::RlsNotForced => "tenant tables have RLS enabled but not forced",
            Flaw::RlsMissingPolicy => {
                "projects has RLS disabled and no policy (cross-org reads leak)"
            }
            Flaw::RlsAppRoleBypass => "the app role has BYPASSRLS",
            Flaw::RlsDefinerView => {
                "the consent view is not security_invoker and runs with its owner's rights"
            }
            Flaw::AuditUpdateAllowed => "audit_events can be updated and deleted by the app role",
            Flaw::AuditTruncateAllowed => "audit_events can be truncated by the app role",
            Flaw::RbacAllowByDefault => {
                "routes missing from the permission map are allowed (viewer can update/delete)"
            }
            Flaw::ConsentIgnored => "child records are read without checking consent",
            Flaw::RlsPermissiveUpdate => "projects has an extra permissive FOR UPDATE USING (true) policy (blanket updates reach every tenant)",
            Flaw::RlsPermissiveDelete => "projects has an extra permissive FOR DELETE USING (true) policy (blanket deletes reach every tenant)",
            Flaw::RlsNoWithCheck => "projects has an UPDATE policy with WITH CHECK (true): a row can be moved to another tenant",
            Flaw::RlsOrPolicy => "projects has a second permissive SELECT policy without the tenant column, OR-combined with the tenant one",
            Flaw::RlsDefinerFunction => "a SECURITY DEFINER function callable by the app role reads projects of any tenant",
            Flaw::AuditHashPartial => "the audit chain hash does not cover the actor column (actor can be rewritten unnoticed)",
            Flaw::AuditRewritable => "the audit hash does not cover prev_hash (a rewritten history keeps the head hash, so an anchor cannot see it)",
            Flaw::AuditBackdated => "the audit trigger keeps a client-supplied occurred_at (time runs backwards in the log)",
            Flaw::JwtAlgFromHeader => {
                "RSA and EC tokens are verified with the algorithm their header names (RS384/RS512/PS256/PS384/PS512, ES384 with the EC key kid selects), not only RS256/ES256"
            }
            Flaw::JwtIgnoreCrit => {
                "tokens with a crit header naming an unknown extension are accepted"
            }
            Flaw::JwtNoIatCheck => {
                "tokens issued (iat) in the future are accepted"
            }
            Flaw::JwtLastDuplicateClaim => {
                "claims are checked by hand on a JSON map: of a claim named twice the last one wins"
            }
            Flaw::JwtAnyTyp => {
                "the typ header is not checked even when --token-type requires one"
            }
            Flaw::JwtTypFromCty => {
                "the type --token-type requires is accepted from the cty header as well as typ"
            }
            Flaw::JwtKidAnyAudience => {
                "the partner key (--partner-key) may sign tokens for this service's audience too"
            }
            Flaw::RbacIdor => {
                "a project is read by id on the owner's connection, without the tenant filter"
            }
            Flaw::RbacMassAssignment => {
                "a POST/PATCH body's role and org_id replace the caller's (escalation)"
            }
            Flaw::ConsentCached => {
                "consent is checked once per token, then remembered (revocation ignored)"
            }
            Flaw::ConsentAnyChild => {
                "a child's record is read by its id alone (another child's record is served)"
            }
        }
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given to `--flaw` is not a known flaw.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown flaw `{0}`\n(hint: `tenant-api --list-flaws` lists the known flaws)")]
pub struct UnknownFlaw(pub String);

impl FromStr for Flaw {
    type Err = UnknownFlaw;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Flaw::ALL
            .into_iter()
            .find(|flaw| flaw.name() == name)
            .ok_or_else(|| UnknownFlaw(name.to_owned()))
    }
}

/// The set of flaws switched on for one run; empty means fully hardened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flaws(BTreeSet<Flaw>);

impl Flaws {
    /// No flaw: the hardened service.
    pub fn none() -> Self {
        Flaws::default()
    }

    /// Whether `flaw` is switched on.
    pub fn has(&self, flaw: Flaw) -> bool {
        self.0.contains(&flaw)
    }

    /// The flaws switched on, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Flaw> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Flaw> for Flaws {
    fn from_iter<I: IntoIterator<Item = Flaw>>(iter: I) -> Self {
        Flaws(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let names: BTreeSet<&str> = Flaw::ALL.iter().map(|flaw| flaw.name()).collect();
        assert_eq!(names.len(), Flaw::ALL.len());
        for flaw in Flaw::ALL {
            assert_eq!(flaw.name().parse::<Flaw>(), Ok(flaw));
            assert!(!flaw.description().contains('\t'));
        }
    }

    #[test]
    fn unknown_name_is_an_error_with_a_hint() {
        let error = "jwt-accept-everything".parse::<Flaw>().unwrap_err();
        assert!(error.to_string().contains("--list-flaws"), "{error}");
    }
}
