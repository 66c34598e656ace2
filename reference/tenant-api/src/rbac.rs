//! Routing of the authenticated API and the permission map that guards it, deny by default.

use postgres::Transaction;
use serde::Deserialize;

use crate::flaw::{Flaw, Flaws};
use crate::jwt::Principal;
use crate::service::set_tenant;

/// An authenticated endpoint, without its path parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /v1/me`
    Me,
    /// `GET /v1/projects`
    ListProjects,
    /// `POST /v1/projects`
    CreateProject,
    /// `GET /v1/projects/{id}`
    GetProject,
    /// `PATCH /v1/projects/{id}`
    UpdateProject,
    /// `DELETE /v1/projects/{id}`
    DeleteProject,
    /// `GET /v1/children/{ref}/records`
    ChildRecords,
    /// `GET /v1/children/{ref}/records/{id}`
    ChildRecord,
}

impl Endpoint {
    /// Every endpoint; the hardened map must cover them all.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Me,
        Endpoint::ListProjects,
        Endpoint::CreateProject,
        Endpoint::GetProject,
        Endpoint::UpdateProject,
        Endpoint::DeleteProject,
        Endpoint::ChildRecords,
        Endpoint::ChildRecord,
    ];
}

/// A matched request: the endpoint and its path parameter, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The `{id}` or `{ref}` segment.
    pub param: Option<String>,
    /// The record's `{id}` after a child's `{ref}`.
    pub record: Option<String>,
}

/// Why a request matched no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMiss {
    /// No such path.
    NotFound,
    /// The path exists, the method does not.
    MethodNotAllowed,
}

/// Matches `method` and `path` (without query string) against the authenticated API.
pub fn route(method: &str, path: &str) -> Result<Route, RouteMiss> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    if let ["v1", "children", child_ref, "records", record] = segments.as_slice() {
        if method != "GET" {
            return Err(RouteMiss::MethodNotAllowed);
        }
        if child_ref.is_empty() || record.is_empty() {
            return Err(RouteMiss::NotFound);
        }
        return Ok(Route {
            endpoint: Endpoint::ChildRecord,
            param: Some((*child_ref).to_owned()),
            record: Some((*record).to_owned()),
        });
    }
    let (endpoint, param) = match (method, segments.as_slice()) {
        ("GET", ["v1", "me"]) => (Endpoint::Me, None),
        ("GET", ["v1", "projects"]) => (Endpoint::ListProjects, None),
        ("POST", ["v1", "projects"]) => (Endpoint::CreateProject, None),
        ("GET", ["v1", "projects", id]) => (Endpoint::GetProject, Some(id)),
        ("PATCH", ["v1", "projects", id]) => (Endpoint::UpdateProject, Some(id)),
        ("DELETE", ["v1", "projects", id]) => (Endpoint::DeleteProject, Some(id)),
        ("GET", ["v1", "children", child_ref, "records"]) => {
            (Endpoint::ChildRecords, Some(child_ref))
        }
        (_, ["v1", "me"] | ["v1", "projects"] | ["v1", "projects", _])
        | (_, ["v1", "children", _, "records"]) => return Err(RouteMiss::MethodNotAllowed),
        _ => return Err(RouteMiss::NotFound),
    };
    if param.is_some_and(|param| param.is_empty()) {
        return Err(RouteMiss::NotFound);
    }
    Ok(Route {
        endpoint,
        param: param.map(|param| (*param).to_owned()),
        record: None,
    })
}

/// What an endpoint demands of the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any member of the tenant (a known user with a role).
    Member,
    /// A named permission such as `projects:read`.
    Permission(&'static str),
}

/// What to do with an endpoint that has no entry in the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped {
    Deny,
    Allow,
}

/// Endpoint → requirement, consulted for every authenticated request.
#[derive(Debug, Clone)]
pub struct PermissionMap {
    entries: Vec<(Endpoint, Requirement)>,
    unmapped: Unmapped,
}

impl PermissionMap {
    /// The map for a run with `flaws`.
    ///
    /// With `rbac-allow-by-default`, the update and delete endpoints are missing from the map,
    /// as if they were added to the router later and nobody updated the map, and the fallback
    /// for unmapped endpoints is "allow" instead of "deny".
    pub fn new(flaws: &Flaws) -> Self {
        let allow_by_default = flaws.has(Flaw::RbacAllowByDefault);
        let mut entries = vec![
            (Endpoint::Me, Requirement::Member),
            (
                Endpoint::ListProjects,
                Requirement::Permission("projects:read"),
            ),
            (
                Endpoint::CreateProject,
                Requirement::Permission("projects:write"),
            ),
            (
                Endpoint::GetProject,
                Requirement::Permission("projects:read"),
            ),
            (
                Endpoint::ChildRecords,
                Requirement::Permission("records:read"),
            ),
            (
                Endpoint::ChildRecord,
                Requirement::Permission("records:read"),
            ),
        ];
        if !allow_by_default {
            entries.push((
                Endpoint::UpdateProject,
                Requirement::Permission("projects:write"),
            ));
            entries.push((
                Endpoint::DeleteProject,
                Requirement::Permission("projects:delete"),
            ));
        }
        PermissionMap {
            entries,
            unmapped: if allow_by_default {
                Unmapped::Allow
            } else {
                Unmapped::Deny
            },
        }
    }

    /// Whether a role holding `permissions` may call `endpoint`.
    pub fn allows(&self, endpoint: Endpoint, permissions: &[String]) -> bool {
        let requirement = self
            .entries
            .iter()
            .find(|(mapped, _)| *mapped == endpoint)
            .map(|(_, requirement)| *requirement);
        match requirement {
            Some(Requirement::Member) => true,
            Some(Requirement::Permission(name)) => permissions.iter().any(|held| held == name),
            None => self.unmapped == Unmapped::Allow,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Membership

/// The caller's membership in the tenant named by the token.
pub(crate) struct Member {
    /// The role's name.
    pub(crate) role: String,
    /// The role's permissions.
    pub(crate) permissions: Vec<String>,
}

/// The caller's membership in the token's tenant, if any.
pub(crate) fn load_member(
    transaction: &mut Transaction<'_>,
    principal: &Principal,
) -> Result<Option<Member>, postgres::Error> {
    let row = transaction.query_opt(
        "select r.name, coalesce(array_agg(p.name order by p.name) \
                filter (where p.name is not null), '{}') \
         from team_members tm \
         join roles r on r.id = tm.role_id \
         left join role_permissions rp on rp.role_id = r.id \
         left join permissions p on p.id = rp.permission_id \
         where tm.org_id = $1 and tm.user_id = $2 \
         group by r.name",
        &[&principal.org_id, &principal.sub],
    )?;
    Ok(row.map(|row| Member {
        role: row.get(0),
        permissions: row.get(1),
    }))
}

/// The `rbac-mass-assignment` flaw: a write body's `org_id` becomes the request's tenant (the
/// member is looked up again there) and its `role` the member's role. `None`: not a member of
/// that tenant.
pub(crate) fn assign_from_body(
    transaction: &mut Transaction<'_>,
    principal: &mut Principal,
    member: Member,
    body: &[u8],
) -> Result<Option<Member>, postgres::Error> {
    #[derive(Deserialize, Default)]
    struct Context {
        role: Option<String>,
        org_id: Option<String>,
    }
    let context: Context = serde_json::from_slice(body).unwrap_or_default();
    let mut member = Some(member);
    if let Some(org_id) = context.org_id {
        principal.org_id = org_id;
        set_tenant(transaction, &principal.org_id, &principal.sub)?;
        member = load_member(transaction, principal)?;
    }
    if let (Some(role), Some(member)) = (context.role, member.as_mut()) {
        member.permissions = transaction
            .query_one(
                "select coalesce(array_agg(p.name order by p.name) \
                        filter (where p.name is not null), '{}') \
                 from roles r \
                 left join role_permissions rp on rp.role_id = r.id \
                 left join permissions p on p.id = rp.permission_id \
                 where r.name = $1",
                &[&role],
            )?
            .get(0);
        member.role = role;
    }
    Ok(member)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn routes_match_with_parameters() {
        let route = route("GET", "/v1/children/child-1/records").unwrap();
        assert_eq!(route.endpoint, Endpoint::ChildRecords);
        assert_eq!(route.param.as_deref(), Some("child-1"));
        assert_eq!(
            super::route("PUT", "/v1/projects/x"),
            Err(RouteMiss::MethodNotAllowed)
        );
        assert_eq!(super::route("GET", "/v1/admin"), Err(RouteMiss::NotFound));
        assert_eq!(
            super::route("GET", "/v1/projects//"),
            Ok(Route {
                endpoint: Endpoint::ListProjects,
                param: None,
                record: None
            })
        );
        let record = super::route("GET", "/v1/children/child-1/records/rec-a-2").unwrap();
        assert_eq!(record.endpoint, Endpoint::ChildRecord);
        assert_eq!(record.param.as_deref(), Some("child-1"));
        assert_eq!(record.record.as_deref(), Some("rec-a-2"));
        assert_eq!(
            super::route("DELETE", "/v1/children/child-1/records/rec-a-2"),
            Err(RouteMiss::MethodNotAllowed)
        );
    }

    #[test]
    fn hardened_map_covers_every_endpoint_and_denies_missing_permissions() {
        let map = PermissionMap::new(&Flaws::none());
        for endpoint in Endpoint::ALL {
            assert!(
                map.entries.iter().any(|(mapped, _)| *mapped == endpoint),
                "{endpoint:?} is not in the permission map"
            );
        }
        let viewer = perms(&["projects:read"]);
        assert!(map.allows(Endpoint::ListProjects, &viewer));
        assert!(!map.allows(Endpoint::DeleteProject, &viewer));
        assert!(!map.allows(Endpoint::UpdateProject, &viewer));
        assert!(!map.allows(Endpoint::ChildRecords, &viewer));
    }

    #[test]
    fn allow_by_default_flaw_lets_a_viewer_delete() {
        let map = PermissionMap::new(&Flaws::from_iter([Flaw::RbacAllowByDefault]));
        assert!(map.allows(Endpoint::DeleteProject, &perms(&["projects:read"])));
        assert!(!map.allows(Endpoint::CreateProject, &perms(&["projects:read"])));
    }
}
