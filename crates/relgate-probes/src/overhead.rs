//! `rls-overhead`: what row-level security costs, and whether its tenant filter uses an index.
//!
//! The same query runs `runs` times as the app role with a tenant set (RLS filters) and as the
//! admin, who bypasses RLS, with the filter written out: `select * from (<query>) relgate_q
//! where relgate_q.<tenant_column> = '<tenant>'` (Postgres pushes the condition down to the
//! base table, so both sides read the same rows the same way when RLS is cheap). Runs are
//! interleaved and alternate which side goes first; each is `EXPLAIN (ANALYZE, BUFFERS,
//! VERBOSE, FORMAT JSON)` in a transaction that is rolled back, and its `Execution Time` is
//! kept. The overhead is `median(rls) / median(baseline) - 1`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{Config, ConfigError, ConfigErrorKind};
use crate::db::{self, case, quote_ident, As, DbError, Session, TableName, Target};
use crate::probe::{Case, CaseOutcome, Context, Probe, ProbeError};

const CASES: [&str; 3] = ["controls", "overhead", "tenant-index"];

/// Default `noise_floor`: an absolute difference of medians below which the ratio is not judged.
const DEFAULT_NOISE_FLOOR: std::time::Duration = std::time::Duration::from_micros(50);

pub(crate) struct OverheadProbe {
    target: Target,
    tenant_column: String,
    tenant_setting: String,
    tenant: Option<String>,
    query: String,
    tables: Option<Vec<String>>,
    runs: usize,
    budget: f64,
    noise_floor: std::time::Duration,
    index_threshold_rows: i64,
}

impl OverheadProbe {
    pub(crate) fn configure(config: &mut Config<'_>) -> Result<Self, ConfigError> {
        let (database, app_role) = Target::keys(config)?;
        let tenant_column = db::string_or(config, "tenant_column", "org_id")?;
        let tenant_setting = db::string_or(config, "tenant_setting", "app.org_id")?;
        let tenant = config.string("tenant")?;
        let query = config.required_string("query")?;
        let trimmed = query.trim().trim_end_matches(';').trim().to_string();
        if trimmed.is_empty() || trimmed.contains(';') {
            return Err(config.error(
                "query",
                ConfigErrorKind::InvalidValue,
                "give one SQL query without a tenant filter, e.g. \"select * from projects\"",
            ));
        }
        let tables = config.strings("table")?;
        let runs = config.integer("runs", 3..=10_000)?.unwrap_or(30) as usize;
        let budget = config.number("budget")?.unwrap_or(0.10);
        if !budget.is_finite() {
            return Err(config.error(
                "budget",
                ConfigErrorKind::InvalidValue,
                "expected a finite ratio such as 0.10 (+10%)",
            ));
        }
        // Below this absolute difference the ratio of two sub-millisecond medians is timer
        // noise, not a cost worth a budget.
        let noise_floor = match config.string("noise_floor")? {
            None => DEFAULT_NOISE_FLOOR,
            Some(text)
                if text.chars().any(|c| c.is_ascii_digit())
                    && text.chars().filter(char::is_ascii_digit).all(|c| c == '0') =>
            {
                std::time::Duration::ZERO
            }
            Some(_) => config
                .duration("noise_floor")?
                .unwrap_or(DEFAULT_NOISE_FLOOR),
        };
        let index_threshold_rows = config
            .integer("index_threshold_rows", 0..=i64::MAX)?
            .unwrap_or(10_000);
        Ok(OverheadProbe {
            tenant_column,
            tenant_setting,
            tenant,
            query: trimmed,
            tables,
            runs,
            budget,
            noise_floor,
            index_threshold_rows,
            target: Target::configure(config, database, app_role)?,
        })
    }
}

impl Probe for OverheadProbe {
    fn cases(&self) -> Vec<String> {
        CASES.iter().map(|name| name.to_string()).collect()
    }

    fn run(&self, context: &Context<'_>) -> Result<Vec<Case>, ProbeError> {
        let mut session = db::connect(&self.target, context)?;
        let cases = match self.measure(&mut session, context)? {
            Ok(cases) => cases,
            Err(control) => {
                let why = control.message.clone();
                vec![
                    control,
                    case("overhead", CaseOutcome::Inconclusive, &why, "", ""),
                    case("tenant-index", CaseOutcome::Inconclusive, &why, "", ""),
                ]
            }
        };
        for case in &cases {
            context.log.line(&format!(
                "case {}: {:?}: {}",
                case.name, case.outcome, case.message
            ));
        }
        Ok(cases)
    }
}

/// One EXPLAIN ANALYZE: execution time, rows returned and the plan.
struct Measurement {
    execution_ms: f64,
    rows: f64,
    plan: Value,
}

impl OverheadProbe {
    fn measure(
        &self,
        session: &mut Session,
        context: &Context<'_>,
    ) -> Result<Result<Vec<Case>, Case>, DbError> {
        let inconclusive = |message: String, sent: String, got: String| {
            case("controls", CaseOutcome::Inconclusive, message, sent, got)
        };
        let role = &self.target.app_role;
        if session.app_role_attributes()?.is_none() {
            return Ok(Err(inconclusive(
                format!("inconclusive: the app role `{role}` does not exist"),
                String::new(),
                String::new(),
            )));
        }
        if !session.admin_bypasses_rls()? {
            return Ok(Err(inconclusive(
                format!("inconclusive: negative control: the `database` role of {} is neither superuser nor BYPASSRLS, so the baseline would be filtered by RLS too", session.describe),
                String::new(),
                String::new(),
            )));
        }
        let column = quote_ident(&self.tenant_column);
        let tenant = match &self.tenant {
            Some(tenant) => tenant.clone(),
            None => {
                // The tenant in the middle of the size distribution: the largest tenant would
                // rightly get a sequential scan, the smallest says little about cost.
                let sql = format!(
                    "select relgate_q.{column}::text, count(*) from ({}) relgate_q group by 1 order by 2, 1",
                    self.query
                );
                context.log.line(&format!("sample tenant: {sql}"));
                let sampled = session.attempt(As::Admin, |tx| {
                    tx.query(&sql, &[]).map(|rows| {
                        rows.iter()
                            .map(|r| r.get::<_, Option<String>>(0))
                            .collect::<Vec<_>>()
                    })
                })?;
                match sampled {
                    Ok(tenants) => {
                        let tenants: Vec<String> = tenants.into_iter().flatten().collect();
                        match tenants.get(tenants.len() / 2) {
                            Some(tenant) => tenant.clone(),
                            None => {
                                return Ok(Err(inconclusive(
                                    "inconclusive: positive control: the query returns no row for any tenant (as the admin)".into(),
                                    sql,
                                    "0 rows".into(),
                                )))
                            }
                        }
                    }
                    Err(err) => {
                        return Ok(Err(inconclusive(
                            format!(
                                "inconclusive: the query must return the tenant column `{}`: {err}",
                                self.tenant_column
                            ),
                            sql,
                            err.to_string(),
                        )))
                    }
                }
            }
        };
        let literal: String = session.admin(|tx| {
            tx.query_one("select quote_literal($1::text)", &[&tenant])
                .map(|r| r.get(0))
        })?;
        let rls_sql = format!(
            "explain (analyze, buffers, verbose, format json) {}",
            self.query
        );
        let baseline_sql = format!(
            "explain (analyze, buffers, verbose, format json) select * from ({}) relgate_q where relgate_q.{column} = {literal}",
            self.query
        );
        let setting = self.tenant_setting.clone();
        let sent = format!(
            "as {role} with {setting} = {tenant}: {rls_sql}\nas the admin (bypasses RLS): {baseline_sql}"
        );

        if let Err(problem) = session.role_switch_control()? {
            return Ok(Err(inconclusive(
                format!("inconclusive: negative control: {problem}"),
                sent,
                String::new(),
            )));
        }
        let app = As::App {
            tenant: Some((&setting, &tenant)),
        };
        // Warm-up runs double as the positive control.
        let rls = match explain(session, app, &rls_sql)? {
            Ok(measurement) => measurement,
            Err(err) => {
                return Ok(Err(inconclusive(
                    format!("inconclusive: positive control: the query as {role} failed: {err}"),
                    sent,
                    err,
                )))
            }
        };
        let baseline = match explain(session, As::Admin, &baseline_sql)? {
            Ok(measurement) => measurement,
            Err(err) => return Ok(Err(inconclusive(format!("inconclusive: the filtered baseline failed (the query must return `{}`): {err}", self.tenant_column), sent, err))),
        };
        let got = format!(
            "{role}: {} rows; admin with filter: {} rows",
            rls.rows, baseline.rows
        );
        if rls.rows <= 0.0 {
            return Ok(Err(inconclusive(
                format!("inconclusive: positive control: as {role} with {setting} = {tenant}, the query returns no row"),
                sent,
                got,
            )));
        }
        if rls.rows != baseline.rows {
            return Ok(Err(inconclusive(
                format!("inconclusive: the query returns {} rows as {role} but {} as the admin with the tenant filter: the two sides do not do the same work", rls.rows, baseline.rows),
                sent,
                got,
            )));
        }
        let controls = case(
            "controls",
            CaseOutcome::Pass,
            format!("positive: as {role} with {setting} = {tenant} the query returns {} rows, as many as the admin's filtered baseline; negative: SET LOCAL ROLE took effect", rls.rows),
            sent.clone(),
            got,
        );

        let mut rls_times = Vec::new();
        let mut baseline_times = Vec::new();
        let mut last_plan = rls.plan;
        let mut stopped = None;
        for run in 0..self.runs {
            if session.past_deadline() {
                stopped = Some("the check's deadline passed".to_string());
                break;
            }
            let order: [bool; 2] = if run % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_rls in order {
                let (who, sql) = if is_rls {
                    (app, &rls_sql)
                } else {
                    (As::Admin, &baseline_sql)
                };
                match explain(session, who, sql)? {
                    Ok(measurement) if is_rls => {
                        rls_times.push(measurement.execution_ms);
                        last_plan = measurement.plan;
                    }
                    Ok(measurement) => baseline_times.push(measurement.execution_ms),
                    Err(err) => stopped = Some(err),
                }
            }
            if stopped.is_some() {
                break;
            }
        }
        let overhead = match stopped {
            Some(why) => case(
                "overhead",
                CaseOutcome::Inconclusive,
                format!(
                    "inconclusive: measuring stopped after {} runs: {why}",
                    rls_times.len()
                ),
                sent.clone(),
                String::new(),
            ),
            None => self.overhead_case(&rls_times, &baseline_times, &sent),
        };
        let index = self.tenant_index(session, &last_plan)?;
        Ok(Ok(vec![controls, overhead, index]))
    }

    fn overhead_case(&self, rls: &[f64], baseline: &[f64], sent: &str) -> Case {
        let median_rls = median(rls);
        let median_baseline = median(baseline);
        let got = format!(
            "RLS execution times (ms): {}\nbaseline execution times (ms): {}",
            rls.iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            baseline
                .iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if median_baseline <= 0.0 {
            return case(
                "overhead",
                CaseOutcome::Inconclusive,
                "inconclusive: the baseline's median execution time is 0 ms",
                sent,
                got,
            );
        }
        let ratio = median_rls / median_baseline - 1.0;
        let summary = format!(
            "median {median_rls:.3} ms with RLS vs {median_baseline:.3} ms baseline over {} runs: overhead {:+.1}% (budget {:+.1}%)",
            rls.len(),
            ratio * 100.0,
            self.budget * 100.0
        );
        let difference_ms = median_rls - median_baseline;
        let floor_ms = self.noise_floor.as_secs_f64() * 1000.0;
        let (outcome, summary) = if ratio <= self.budget {
            (CaseOutcome::Pass, summary)
        } else if floor_ms > 0.0 && difference_ms < floor_ms {
            (
                CaseOutcome::Pass,
                format!(
                    "{summary}; over budget, but the difference ({difference_ms:.3} ms) is under the noise floor of {floor_ms:.3} ms"
                ),
            )
        } else {
            (CaseOutcome::Fail, summary)
        };
        case("overhead", outcome, summary, sent, got)
    }

    fn tenant_index(&self, session: &mut Session, plan: &Value) -> Result<Case, DbError> {
        let mut scans: BTreeMap<TableName, Vec<Scan>> = BTreeMap::new();
        collect_scans(plan, &mut scans);
        let wanted: Vec<TableName> = match &self.tables {
            Some(tables) => tables
                .iter()
                .map(|t| TableName::parse(t, "public"))
                .collect(),
            None => scans.keys().cloned().collect(),
        };
        let sent = "the app role's plan (EXPLAIN ANALYZE VERBOSE JSON), pg_index leading column, count(*) per table";
        if wanted.is_empty() {
            return Ok(case(
                "tenant-index",
                CaseOutcome::Inconclusive,
                "inconclusive: the plan scans no table",
                sent,
                plan.to_string(),
            ));
        }
        let mut outcome = CaseOutcome::Pass;
        let mut notes = Vec::new();
        for table in &wanted {
            let count_sql = format!("select count(*) from {}", table.quoted());
            let rows: Result<i64, DbError> =
                session.admin(|tx| tx.query_one(&count_sql, &[]).map(|r| r.get(0)));
            let rows = match rows {
                Ok(rows) => rows,
                Err(err) => {
                    outcome = db::worst(outcome, CaseOutcome::Inconclusive);
                    notes.push(format!("{table}: {err}"));
                    continue;
                }
            };
            let Some(table_scans) = scans.get(table) else {
                outcome = db::worst(outcome, CaseOutcome::Inconclusive);
                notes.push(format!("{table}: not scanned by the plan"));
                continue;
            };
            let mut descriptions = Vec::new();
            let mut all_indexed = true;
            for scan in table_scans {
                let leading = match &scan.index {
                    Some(index) => {
                        let schema = table.schema.clone();
                        let index = index.clone();
                        session.admin(|tx| {
                            tx.query_opt(
                                "select a.attname::text from pg_index i \
                                 join pg_class ic on ic.oid = i.indexrelid \
                                 join pg_namespace n on n.oid = ic.relnamespace \
                                 join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0] \
                                 where ic.relname = $1 and n.nspname = $2",
                                &[&index, &schema],
                            )
                            .map(|r| r.map(|r| r.get::<_, String>(0)))
                        })?
                    }
                    None => None,
                };
                let uses_tenant_index = leading.as_deref() == Some(self.tenant_column.as_str());
                all_indexed &= uses_tenant_index;
                descriptions.push(match &scan.index {
                    Some(index) => format!(
                        "{} using {index} (leading column {})",
                        scan.node,
                        leading.unwrap_or_else(|| "?".into())
                    ),
                    None => scan.node.clone(),
                });
            }
            let how = descriptions.join(", ");
            if rows <= self.index_threshold_rows {
                notes.push(format!(
                    "{table}: {rows} rows, under the {} threshold, {how}",
                    self.index_threshold_rows
                ));
            } else if all_indexed {
                notes.push(format!("{table}: {rows} rows, {how}"));
            } else {
                outcome = db::worst(outcome, CaseOutcome::Fail);
                notes.push(format!(
                    "{table}: {rows} rows but no index on {} used: {how}",
                    self.tenant_column
                ));
            }
        }
        let message = match outcome {
            CaseOutcome::Pass => format!(
                "no table over {} rows is scanned without an index on {}: {}",
                self.index_threshold_rows,
                self.tenant_column,
                notes.join("; ")
            ),
            CaseOutcome::Fail => format!(
                "tables over {} rows scanned without an index on {}: {}",
                self.index_threshold_rows,
                self.tenant_column,
                notes.join("; ")
            ),
            CaseOutcome::Inconclusive => format!("inconclusive: {}", notes.join("; ")),
        };
        Ok(case(
            "tenant-index",
            outcome,
            message,
            sent,
            notes.join("\n"),
        ))
    }
}

/// A scan of one table in a plan.
#[derive(Debug, Clone, PartialEq)]
struct Scan {
    node: String,
    index: Option<String>,
}

/// Walks an EXPLAIN JSON plan and collects every scan of a table, with the index it used
/// (its own `Index Name`, or a `Bitmap Index Scan` below a `Bitmap Heap Scan`).
fn collect_scans(node: &Value, scans: &mut BTreeMap<TableName, Vec<Scan>>) {
    match node {
        Value::Array(items) => items.iter().for_each(|item| collect_scans(item, scans)),
        Value::Object(object) => {
            if let Some(plan) = object.get("Plan") {
                collect_scans(plan, scans);
                return;
            }
            if let Some(relation) = object.get("Relation Name").and_then(Value::as_str) {
                let schema = object
                    .get("Schema")
                    .and_then(Value::as_str)
                    .unwrap_or("public");
                let node_type = object
                    .get("Node Type")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                let index = object
                    .get("Index Name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| bitmap_index(node));
                scans
                    .entry(TableName {
                        schema: schema.to_string(),
                        name: relation.to_string(),
                    })
                    .or_default()
                    .push(Scan {
                        node: node_type.to_string(),
                        index,
                    });
            }
            if let Some(children) = object.get("Plans") {
                collect_scans(children, scans);
            }
        }
        _ => {}
    }
}

fn bitmap_index(node: &Value) -> Option<String> {
    let children = node.get("Plans")?.as_array()?;
    children.iter().find_map(|child| {
        if child.get("Node Type").and_then(Value::as_str) == Some("Bitmap Index Scan") {
            child
                .get("Index Name")
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            bitmap_index(child)
        }
    })
}

/// Runs one EXPLAIN (FORMAT JSON) in a rolled-back attempt. The plan comes back as `json`,
/// which the driver only reads as text through the simple query protocol.
fn explain(
    session: &mut Session,
    who: As<'_>,
    sql: &str,
) -> Result<Result<Measurement, String>, DbError> {
    let text = session.attempt(who, |tx| {
        let messages = tx.simple_query(sql)?;
        Ok(messages
            .iter()
            .filter_map(|message| match message {
                postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                _ => None,
            })
            .collect::<String>())
    })?;
    let text = match text {
        Ok(text) => text,
        Err(err) => return Ok(Err(err.to_string())),
    };
    Ok(parse_explain(&text))
}

fn parse_explain(text: &str) -> Result<Measurement, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| format!("EXPLAIN output is not JSON: {err}"))?;
    let top = value.get(0).ok_or("EXPLAIN output is empty")?;
    let execution_ms = top
        .get("Execution Time")
        .and_then(Value::as_f64)
        .ok_or("EXPLAIN output has no Execution Time")?;
    let rows = top
        .get("Plan")
        .and_then(|plan| plan.get("Actual Rows"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    Ok(Measurement {
        execution_ms,
        rows,
        plan: value,
    })
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn scans_and_their_indexes_are_found_in_a_plan() {
        let plan: Value = serde_json::from_str(
            r#"[{"Plan": {"Node Type": "Nested Loop", "Actual Rows": 5, "Plans": [
                {"Node Type": "Bitmap Heap Scan", "Relation Name": "projects", "Schema": "public",
                 "Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": "projects_org_id_idx"}]},
                {"Node Type": "Seq Scan", "Relation Name": "orgs", "Schema": "public"},
                {"Node Type": "Index Only Scan", "Relation Name": "events", "Schema": "app", "Index Name": "events_pkey"}
            ]}, "Execution Time": 1.5}]"#,
        )
        .unwrap();
        let mut scans = BTreeMap::new();
        collect_scans(&plan, &mut scans);
        let projects = TableName::parse("projects", "public");
        assert_eq!(
            scans[&projects][0].index.as_deref(),
            Some("projects_org_id_idx")
        );
        assert_eq!(scans[&TableName::parse("orgs", "public")][0].index, None);
        assert_eq!(
            scans[&TableName::parse("app.events", "public")][0].node,
            "Index Only Scan"
        );
        let measurement = parse_explain(&plan.to_string()).unwrap();
        assert_eq!((measurement.execution_ms, measurement.rows), (1.5, 5.0));
    }

    #[test]
    fn configuration_is_checked() {
        let configure =
            |text: &str| crate::configure("rls-overhead", &text.parse::<toml::Table>().unwrap());
        assert_eq!(configure("database = \"x\"").unwrap_err().key, "query");
        assert_eq!(
            configure("database = \"x\"\nquery = \"select 1; drop table t\"")
                .unwrap_err()
                .key,
            "query"
        );
        assert_eq!(
            configure("database = \"x\"\nquery = \"select 1\"\nruns = 1")
                .unwrap_err()
                .key,
            "runs"
        );
        let cases = configure("database = \"x\"\nquery = \"select * from projects;\"\nbudget = 0.2\ntable = [\"projects\"]").unwrap();
        assert_eq!(cases, ["controls", "overhead", "tenant-index"]);
    }

    fn probe(text: &str) -> OverheadProbe {
        let table: toml::Table = text.parse().unwrap();
        OverheadProbe::configure(&mut Config::new(&table)).unwrap()
    }

    #[test]
    fn the_ratio_is_judged_above_the_noise_floor_only() {
        let base = "database = \"x\"\nquery = \"select 1\"\n";
        // +12% of 0.035 ms is 4 µs: timer noise under the default floor of 50 µs.
        let tiny = probe(base).overhead_case(&[0.039; 5], &[0.035; 5], "");
        assert_eq!(tiny.outcome, CaseOutcome::Pass, "{}", tiny.message);
        assert!(
            tiny.message.contains("under the noise floor of 0.050 ms"),
            "{}",
            tiny.message
        );
        // The same ratio on a real query is a real cost.
        let real = probe(base).overhead_case(&[11.4; 5], &[10.0; 5], "");
        assert_eq!(real.outcome, CaseOutcome::Fail, "{}", real.message);
        // Without a floor every ratio over the budget fails.
        let strict = probe(&format!("{base}noise_floor = \"0ms\"\n")).overhead_case(
            &[0.039; 5],
            &[0.035; 5],
            "",
        );
        assert_eq!(strict.outcome, CaseOutcome::Fail, "{}", strict.message);
        let within = probe(base).overhead_case(&[10.5; 5], &[10.0; 5], "");
        assert_eq!(within.outcome, CaseOutcome::Pass, "{}", within.message);
    }
}
