//! Routing of the authenticated API and the permission map that guards it, deny by default.

use crate::flaw::{Flaw, Flaws};

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
}

impl Endpoint {
    /// Every endpoint; the hardened map must cover them all.
    pub const ALL: [Endpoint; 7] = [
        Endpoint::Me,
        Endpoint::ListProjects,
        Endpoint::CreateProject,
        Endpoint::GetProject,
        Endpoint::UpdateProject,
        Endpoint::DeleteProject,
        Endpoint::ChildRecords,
    ];
}

/// A matched request: the endpoint and its path parameter, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The `{id}` or `{ref}` segment.
    pub param: Option<String>,
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
                param: None
            })
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
