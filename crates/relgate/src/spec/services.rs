//! `[[service]]` tables and the services each check needs.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use super::error::{nearest, shorten, SpecError, SpecErrorKind};
use super::model::{CheckKind, ProcessSpec, ReadyProbe, Service, ServiceKind};
use super::raw::{RawCheck, RawService};
use super::template::{references, Reference};
use super::validate::{find_cycle, Context};

/// How long a service may take to become ready unless `ready.timeout` says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A text that may hold `${…}`, with where it was written.
struct Templated<'t> {
    text: &'t str,
    span: Range<usize>,
    key: String,
}

impl Context<'_> {
    /// Validates every `[[service]]` and returns them in start order.
    pub(super) fn services(
        &self,
        raw: &[Spanned<RawService>],
        root: &Path,
    ) -> Result<Vec<Service>, SpecError> {
        let valid_name = Regex::new(r"^[a-z][a-z0-9_-]*$").expect("static regex");
        let mut spans: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for service in raw {
            let name = &service.get_ref().name;
            if !valid_name.is_match(name.get_ref()) {
                let mut error = self.error(
                    name.span(),
                    "service.name",
                    SpecErrorKind::InvalidId,
                    format!("invalid service name `{}`", name.get_ref()),
                );
                error.hint = Some(
                    "service names are lowercase letters, digits, `_` and `-`, starting with a letter (they appear in `${name.url}`)"
                        .to_string(),
                );
                return Err(error);
            }
            self.refuse_long_id(name, "service.name", "service names")?;
            if let Some(first) = spans.get(name.get_ref()) {
                let (line, _) = self.locator.line_column(first.start);
                return Err(self.error(
                    name.span(),
                    "service.name",
                    SpecErrorKind::DuplicateId,
                    format!(
                        "duplicate service name `{}` (first defined on line {line})",
                        name.get_ref()
                    ),
                ));
            }
            spans.insert(name.get_ref().clone(), name.span());
        }
        let names: Vec<&str> = spans.keys().map(String::as_str).collect();
        let mut services = Vec::new();
        for service in raw {
            services.push(self.service(service, root, &names)?);
        }
        let nodes: Vec<(&str, &[String])> = services
            .iter()
            .map(|service| (service.name.as_str(), service.needs.as_slice()))
            .collect();
        if let Some(cycle) = find_cycle(&nodes) {
            return Err(self.error(
                spans[&cycle[0]].clone(),
                "service",
                SpecErrorKind::Cycle,
                format!("service dependency cycle: {}", cycle.join(" -> ")),
            ));
        }
        // Start order: each service after the services it references; file order otherwise.
        let mut ordered: Vec<Service> = Vec::with_capacity(services.len());
        let mut started: BTreeSet<String> = BTreeSet::new();
        while !services.is_empty() {
            let ready = services
                .iter()
                .position(|service| service.needs.iter().all(|need| started.contains(need)))
                .expect("no cycle, so some service is ready");
            let service = services.remove(ready);
            started.insert(service.name.clone());
            ordered.push(service);
        }
        Ok(ordered)
    }

    fn service(
        &self,
        raw: &Spanned<RawService>,
        root: &Path,
        names: &[&str],
    ) -> Result<Service, SpecError> {
        let service = raw.get_ref();
        let name = service.name.get_ref().clone();
        let (line, _) = self.locator.line_column(raw.span().start);
        let ready = service.ready.as_ref();
        let ready_timeout = match ready.and_then(|ready| ready.get_ref().timeout.as_ref()) {
            Some(timeout) => self.timeout(timeout, "service.ready.timeout")?,
            None => DEFAULT_READY_TIMEOUT,
        };
        let kind = match (&service.postgres, &service.run) {
            (Some(postgres), None) => self.postgres_service(service, postgres, &name)?,
            (None, Some(run)) => {
                let (argv, display) = self.command_line(run, None, "service.run")?;
                let probe = match ready.map(Spanned::get_ref) {
                    Some(ready) => match (&ready.http, &ready.tcp) {
                        (Some(path), None) => {
                            if !path.get_ref().starts_with('/') {
                                return Err(self.error(
                                    path.span(),
                                    "service.ready.http",
                                    SpecErrorKind::InvalidValue,
                                    format!(
                                        "`ready.http` is a path such as \"/healthz\", not `{}`",
                                        path.get_ref()
                                    ),
                                ));
                            }
                            ReadyProbe::Http(path.get_ref().clone())
                        }
                        (None, Some(tcp)) if !tcp.get_ref() => return Err(self.error(
                            tcp.span(),
                            "service.ready.tcp",
                            SpecErrorKind::InvalidValue,
                            "`ready.tcp = false` says nothing: leave it out, or give `ready.http`",
                        )),
                        (Some(path), Some(_)) => {
                            return Err(self.error(
                                path.span(),
                                "service.ready",
                                SpecErrorKind::InvalidValue,
                                "`ready` takes `http` or `tcp`, not both",
                            ))
                        }
                        _ => ReadyProbe::Tcp,
                    },
                    None => ReadyProbe::Tcp,
                };
                ServiceKind::Process(ProcessSpec {
                    argv,
                    display,
                    cwd: service
                        .cwd
                        .as_ref()
                        .map_or_else(|| root.to_path_buf(), |cwd| root.join(cwd)),
                    env: service
                        .env
                        .iter()
                        .map(|(key, value)| (key.clone(), value.get_ref().clone()))
                        .collect(),
                    ready: probe,
                    wants_port: false,
                })
            }
            (Some(postgres), Some(_)) => {
                return Err(self.error(
                    postgres.span(),
                    "service.postgres",
                    SpecErrorKind::InvalidValue,
                    format!(
                        "service `{name}` has both `postgres` and `run`: give each its own service"
                    ),
                ))
            }
            (None, None) => {
                let mut error = self.error(
                    service.name.span(),
                    "service",
                    SpecErrorKind::MissingKey,
                    format!("service `{name}` says nothing to start"),
                );
                error.hint = Some(
                    r#"add `postgres = "ephemeral"`, `postgres = "postgres://…"` or `run = "…"`"#
                        .to_string(),
                );
                return Err(error);
            }
        };

        // References: only process services have templates.
        let mut needs = Vec::new();
        let mut kind = kind;
        if let ServiceKind::Process(process) = &mut kind {
            let mut texts = Vec::new();
            if let Some(run) = &service.run {
                for arg in &process.argv {
                    texts.push(Templated {
                        text: arg,
                        span: run.span(),
                        key: "service.run".to_string(),
                    });
                }
            }
            for (key, value) in &service.env {
                texts.push(Templated {
                    text: value.get_ref(),
                    span: value.span(),
                    key: format!("service.env.{key}"),
                });
            }
            for reference in self.references(&texts, names)? {
                match reference {
                    Reference::OwnPort => process.wants_port = true,
                    Reference::Service { name: other, .. } if other == name => {
                        return Err(self.error(
                            service.name.span(),
                            "service",
                            SpecErrorKind::InvalidValue,
                            format!("service `{name}` refers to its own address: use `${{port}}` for the port the gate gives it"),
                        ))
                    }
                    Reference::Service { name: other, .. } => {
                        if !needs.contains(&other) {
                            needs.push(other);
                        }
                    }
                }
            }
        }
        Ok(Service {
            name,
            kind,
            needs,
            tools: Vec::new(),
            ready_timeout,
            line,
        })
    }

    fn postgres_service(
        &self,
        service: &RawService,
        postgres: &Spanned<String>,
        name: &str,
    ) -> Result<ServiceKind, SpecError> {
        let value = postgres.get_ref().trim();
        let invalid = |key: &str, span: Range<usize>, message: String| {
            Err(self.error(span, key, SpecErrorKind::InvalidValue, message))
        };
        if let Some(ready) = &service.ready {
            let ready = ready.get_ref();
            if let Some(span) = ready
                .http
                .as_ref()
                .map(Spanned::span)
                .or_else(|| ready.tcp.as_ref().map(Spanned::span))
            {
                return invalid(
                    "service.ready",
                    span,
                    format!("postgres service `{name}` is ready when it accepts connections: `ready` takes only `timeout` here"),
                );
            }
        }
        if let Some((key, span)) = [
            ("service.cwd", service.cwd.as_ref().map(|_| postgres.span())),
            (
                "service.env",
                service.env.values().next().map(Spanned::span),
            ),
        ]
        .into_iter()
        .find_map(|(key, span)| span.map(|span| (key, span)))
        {
            return invalid(
                key,
                span,
                format!(
                    "`{}` applies to `run` services, not to postgres service `{name}`",
                    key.trim_start_matches("service.")
                ),
            );
        }
        if value == "ephemeral" {
            if let Some(keep) = &service.keep {
                return invalid(
                    "service.keep",
                    keep.span(),
                    "`keep` applies to `postgres = \"postgres://…\"`: an ephemeral cluster is always removed".to_string(),
                );
            }
            return Ok(ServiceKind::PostgresEphemeral);
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            if value.contains("${") {
                return invalid(
                    "service.postgres",
                    postgres.span(),
                    "a postgres server URL cannot refer to other services".to_string(),
                );
            }
            return Ok(ServiceKind::PostgresServer {
                url: value.to_string(),
                keep: service.keep.as_ref().is_some_and(|keep| *keep.get_ref()),
            });
        }
        invalid(
            "service.postgres",
            postgres.span(),
            format!("`postgres` is \"ephemeral\" or a URL such as \"postgres://user@host:5432/postgres\", not `{value}`"),
        )
    }

    /// Every `${…}` in `texts`, each checked against the service names.
    fn references(
        &self,
        texts: &[Templated<'_>],
        names: &[&str],
    ) -> Result<Vec<Reference>, SpecError> {
        let mut found = Vec::new();
        for templated in texts {
            let parsed = references(templated.text).map_err(|why| {
                self.error(
                    templated.span.clone(),
                    &templated.key,
                    SpecErrorKind::InvalidValue,
                    why.to_string(),
                )
            })?;
            for reference in parsed {
                if let Reference::Service { name, .. } = &reference {
                    if !names.contains(&name.as_str()) {
                        let mut error = self.error(
                            templated.span.clone(),
                            &templated.key,
                            SpecErrorKind::UnknownService,
                            format!("`{reference}` names no service"),
                        );
                        error.hint = nearest(name, names)
                            .map(|known| format!("did you mean `{known}`?"))
                            .or_else(|| {
                                Some(if names.is_empty() {
                                    "declare it in a [[service]] table".to_string()
                                } else {
                                    format!("services: {}", names.join(", "))
                                })
                            });
                        return Err(error);
                    }
                }
                found.push(reference);
            }
        }
        Ok(found)
    }

    /// The services a check needs, with theirs, in start order.
    pub(super) fn check_services(
        &self,
        raw: &RawCheck,
        kind: &CheckKind,
        check: &str,
        services: &[Service],
    ) -> Result<Vec<String>, SpecError> {
        let names: Vec<&str> = services
            .iter()
            .map(|service| service.name.as_str())
            .collect();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        if let CheckKind::Probe(probe) = kind {
            let texts: Vec<Templated<'_>> = super::probe::strings(&probe.config)
                .into_iter()
                .map(|(path, text)| {
                    let top = path.split(['.', '[']).next().unwrap_or_default();
                    Templated {
                        text,
                        span: self.key_span(&raw.id.span(), top),
                        key: format!("packet.check.{path}"),
                    }
                })
                .collect();
            for reference in self.references(&texts, &names)? {
                match reference {
                    Reference::OwnPort => {
                        return Err(self.error(
                            raw.id.span(),
                            "packet.check",
                            SpecErrorKind::InvalidValue,
                            format!("check {check} says `${{port}}`, which only a service has: write `${{SERVICE.port}}`"),
                        ))
                    }
                    Reference::Service { name, .. } => {
                        wanted.insert(name);
                    }
                }
            }
        }
        let command_run = match (kind, &raw.run, &raw.scan) {
            (CheckKind::Command(command), Some(run), _) => {
                Some((command, run.span(), "packet.check.run"))
            }
            (CheckKind::Scan(scan), _, Some(raw_scan)) => Some((
                &scan.command,
                raw_scan.get_ref().run.span(),
                "packet.check.scan.run",
            )),
            _ => None,
        };
        if let Some((command, run_span, run_key)) = command_run {
            let mut texts: Vec<Templated<'_>> = command
                .argv
                .iter()
                .map(|arg| Templated {
                    text: arg,
                    span: run_span.clone(),
                    key: run_key.to_string(),
                })
                .collect();
            for (key, value) in &raw.env {
                texts.push(Templated {
                    text: value.get_ref(),
                    span: value.span(),
                    key: format!("packet.check.env.{key}"),
                });
            }
            for reference in self.references(&texts, &names)? {
                match reference {
                    Reference::OwnPort => {
                        return Err(self.error(
                            run_span.clone(),
                            run_key,
                            SpecErrorKind::InvalidValue,
                            format!("check {check} says `${{port}}`, which only a service has: write `${{SERVICE.port}}`"),
                        ))
                    }
                    Reference::Service { name, .. } => {
                        wanted.insert(name);
                    }
                }
            }
        }
        for name in raw.services.iter().flatten() {
            if !names.contains(&name.get_ref().as_str()) {
                let mut error = self.error(
                    name.span(),
                    "packet.check.services",
                    SpecErrorKind::UnknownService,
                    format!(
                        "check {check} needs unknown service `{}`",
                        shorten(name.get_ref())
                    ),
                );
                error.hint =
                    nearest(name.get_ref(), &names).map(|known| format!("did you mean `{known}`?"));
                return Err(error);
            }
            wanted.insert(name.get_ref().clone());
        }
        // Close over what the wanted services need.
        let mut stack: Vec<String> = wanted.iter().cloned().collect();
        while let Some(name) = stack.pop() {
            if let Some(service) = services.iter().find(|service| service.name == name) {
                for need in &service.needs {
                    if wanted.insert(need.clone()) {
                        stack.push(need.clone());
                    }
                }
            }
        }
        Ok(services
            .iter()
            .filter(|service| wanted.contains(&service.name))
            .map(|service| service.name.clone())
            .collect())
    }
}
