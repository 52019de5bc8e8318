//! A [`SearchPlan`] compiled to SQL over `resource r`: each criterion is `r.pk [NOT] IN
//! (SELECT res_pk FROM idx_… WHERE …)`, so the most selective index drives the query; every
//! value is bound; the access predicate is ANDed into every statement, includes and chains
//! alike.

use super::access::Access;
use super::params::{ParamType, Stored};
use super::parse::{Alt, Clause, Modifier, SearchPlan, Sort, SortKey, SYSTEM};
use super::value::{Prefix, QuantityValue, ReferenceValue, TokenValue};
use crate::interaction::now_micros;
use crate::store::{Bind, Query};

/// Columns of a stored version, for a resource aliased `r` joined to its current version `v`;
/// `seq` carries the resource key.
pub const CURRENT_COLUMNS: &str =
    "r.pk AS seq, v.res_type, v.res_id, v.version_id, v.last_updated, v.method, v.content";
const FROM_CURRENT: &str =
    " FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version_id = r.version_id";

/// The page of matches after the plan's cursor, in order, one more than asked for so the
/// caller knows whether a next page exists.
pub fn compile_page(plan: &SearchPlan, access: &Access) -> Query {
    let mut q = Query::new(format!("SELECT {CURRENT_COLUMNS}"));
    from(plan, access, &mut q, FROM_CURRENT);
    filters(plan, access, &mut q);
    if let Some(after) = plan.after {
        q.push(" AND r.pk > ?").bind(Bind::Int(after));
    }
    order_by(&plan.sort, &mut q);
    q.push(" LIMIT ?").bind(Bind::Int(plan.count + 1));
    q
}

/// Every matching key in order (up to `limit`), for a sorted search's snapshot.
pub fn compile_keys(plan: &SearchPlan, access: &Access, limit: i64) -> Query {
    let mut q = Query::new("SELECT r.pk AS n");
    from(plan, access, &mut q, " FROM resource r");
    filters(plan, access, &mut q);
    order_by(&plan.sort, &mut q);
    q.push(" LIMIT ?").bind(Bind::Int(limit));
    q
}

/// How many resources match in all.
pub fn compile_count(plan: &SearchPlan, access: &Access) -> Query {
    let mut q = Query::new("SELECT COUNT(*) AS n");
    from(plan, access, &mut q, " FROM resource r");
    filters(plan, access, &mut q);
    q
}

/// The criterion whose index rows drive the query: the one that pins a patient if there is
/// one, else the first positive match or chain. Without one, resources are scanned in key
/// order (the plain `GET [type]` and `_count` pages).
fn driver(plan: &SearchPlan) -> Option<usize> {
    plan.clauses
        .iter()
        .position(|c| pinned_patient(&plan.res_type, c).is_some())
        .or_else(|| plan.clauses.iter().position(drivable))
}

fn drivable(c: &Clause) -> bool {
    matches!(c, Clause::Match { modifier, .. } if *modifier != Modifier::Not)
        || matches!(c, Clause::Chain { .. })
}

/// `FROM`: either the resource table alone, or the driving criterion's matching keys joined
/// to it. The CROSS JOIN keeps SQLite from choosing to walk every resource of the type in key
/// order instead (PostgreSQL plans it freely).
fn from(plan: &SearchPlan, access: &Access, q: &mut Query, plain: &str) {
    let Some(i) = driver(plan) else {
        q.push(plain);
        return;
    };
    let hint = plan.compartment.clone().or_else(|| compartment_hint(plan));
    q.push(" FROM (");
    subquery_sql(&plan.clauses[i], access, hint.as_deref(), q, 0, true);
    q.push(") d CROSS JOIN resource r");
    if plain.contains("resource_version") {
        q.push(" JOIN resource_version v ON v.res_pk = r.pk AND v.version_id = r.version_id");
    }
}

/// Current versions of the given keys (order is the caller's to restore).
pub fn compile_by_keys(keys: &[i64], access: &Access) -> Query {
    let mut q = Query::new(format!(
        "SELECT {CURRENT_COLUMNS}{FROM_CURRENT} WHERE r.deleted = ?"
    ));
    q.bind(Bind::Bool(false));
    in_list(&mut q, "r.pk", keys.iter().map(|k| Bind::Int(*k)));
    access.restrict(&mut q, "r");
    q
}

/// Current versions of resources of one type by id (for `_include`, and the matches of
/// conditions looked up together).
pub fn compile_by_ids(res_type: &str, ids: &[impl AsRef<str>], access: &Access) -> Query {
    let mut q = Query::new(format!(
        "SELECT {CURRENT_COLUMNS}{FROM_CURRENT} WHERE r.res_type = ? AND r.deleted = ?"
    ));
    q.bind(Bind::Text(res_type.to_string()))
        .bind(Bind::Bool(false));
    in_list(
        &mut q,
        "r.res_id",
        ids.iter().map(|i| Bind::Text(i.as_ref().to_string())),
    );
    access.restrict(&mut q, "r");
    q
}

/// What the given resources reference through some parameters: `SELECT target_type AS
/// res_type, target_id AS res_id`.
pub fn compile_targets(keys: &[i64], params: &[&Stored]) -> Query {
    let mut q = Query::new(
        "SELECT DISTINCT x.target_type AS res_type, x.target_id AS res_id FROM idx_reference x WHERE x.target_id IS NOT NULL",
    );
    in_list(&mut q, "x.res_pk", keys.iter().map(|k| Bind::Int(*k)));
    q.push(" AND ");
    param_rows(&mut q, "x", params);
    q
}

/// Resources of `source_type` that reference any of `targets` (type, id) through `params`
/// (for `_revinclude`), at most `limit`.
pub fn compile_referencing(
    source_type: &str,
    params: &[&Stored],
    target_type: &str,
    target_ids: &[String],
    access: &Access,
    limit: i64,
) -> Query {
    let mut q = Query::new(format!(
        "SELECT {CURRENT_COLUMNS}{FROM_CURRENT} WHERE r.res_type = ? AND r.deleted = ? AND r.pk IN (SELECT x.res_pk FROM idx_reference x WHERE x.target_type = ?"
    ));
    q.bind(Bind::Text(source_type.to_string()))
        .bind(Bind::Bool(false))
        .bind(Bind::Text(target_type.to_string()));
    q.push(" AND ");
    param_rows(&mut q, "x", params);
    in_list(
        &mut q,
        "x.target_id",
        target_ids.iter().map(|i| Bind::Text(i.clone())),
    );
    q.push(")");
    access.restrict(&mut q, "r");
    q.push(" ORDER BY r.pk LIMIT ?").bind(Bind::Int(limit));
    q
}

/// The rows of these parameters in the index table aliased `x`: `x.param = ?` for a
/// parameter stored as itself; for a derived one its bases' rows, narrowed to its target
/// type (`params::Stored`). Alternatives are ORed; none matches nothing.
pub fn param_rows(q: &mut Query, x: &str, params: &[&Stored]) {
    let mut plain: Vec<i64> = params
        .iter()
        .filter(|s| s.target_type.is_none())
        .flat_map(|s| s.params.iter().copied())
        .collect();
    plain.sort_unstable();
    plain.dedup();
    let narrowed: Vec<(&[i64], &str)> = params
        .iter()
        .filter_map(|s| Some((s.params.as_slice(), s.target_type.as_deref()?)))
        .collect();
    let terms = usize::from(!plain.is_empty()) + narrowed.len();
    if terms == 0 {
        q.push("1 = 0");
        return;
    }
    let keys = |q: &mut Query, hashes: &[i64]| match hashes {
        [one] => {
            q.push(&format!("{x}.param = ?")).bind(Bind::Int(*one));
        }
        many => {
            q.push(&format!("{x}.param IN ("));
            for (i, h) in many.iter().enumerate() {
                q.push(if i > 0 { ", ?" } else { "?" }).bind(Bind::Int(*h));
            }
            q.push(")");
        }
    };
    q.push(if terms > 1 { "(" } else { "" });
    if !plain.is_empty() {
        keys(q, &plain);
    }
    for (i, (hashes, target)) in narrowed.into_iter().enumerate() {
        if i > 0 || !plain.is_empty() {
            q.push(" OR ");
        }
        q.push(if terms > 1 { "(" } else { "" });
        keys(q, hashes);
        q.push(&format!(" AND {x}.target_type = ?"))
            .bind(Bind::Text(target.to_string()));
        q.push(if terms > 1 { ")" } else { "" });
    }
    q.push(if terms > 1 { ")" } else { "" });
}

/// ` AND col IN (?, …)`; an empty list matches nothing.
pub fn in_list(q: &mut Query, column: &str, binds: impl Iterator<Item = Bind>) {
    let mut first = true;
    for b in binds {
        q.push(if first { " AND " } else { ", " });
        if first {
            q.push(column).push(" IN (");
            first = false;
        }
        q.push("?").bind(b);
    }
    if first {
        q.push(" AND 1 = 0");
    } else {
        q.push(")");
    }
}

fn filters(plan: &SearchPlan, access: &Access, q: &mut Query) {
    let driving = driver(plan);
    q.push(" WHERE r.deleted = ?").bind(Bind::Bool(false));
    if driving.is_some() {
        q.push(" AND r.pk = d.res_pk");
    }
    if plan.res_type == SYSTEM {
        if !plan.types.is_empty() {
            in_list(
                q,
                "r.res_type",
                plan.types.iter().map(|t| Bind::Text(t.clone())),
            );
        }
    } else {
        q.push(" AND r.res_type = ?")
            .bind(Bind::Text(plan.res_type.clone()));
    }
    if let Some(patient) = &plan.compartment {
        q.push(" AND r.pk IN (SELECT m.res_pk FROM compartment_member m WHERE m.compartment = ?)")
            .bind(Bind::Text(patient.clone()));
    }
    let hint = plan.compartment.clone().or_else(|| compartment_hint(plan));
    for (i, clause) in plan.clauses.iter().enumerate() {
        if Some(i) != driving {
            clause_sql(clause, access, "r", hint.as_deref(), q, 0);
        }
    }
    access.restrict(q, "r");
}

/// A criterion that pins the search to one patient (`Observation?patient=p1`): every index
/// row of a resource in that patient's compartment carries the id, so the other criteria can
/// seek on (param, compartment, value) instead of the whole table.
fn compartment_hint(plan: &SearchPlan) -> Option<String> {
    plan.clauses
        .iter()
        .find_map(|c| pinned_patient(&plan.res_type, c))
}

/// The patient a criterion pins its resource to: one `Patient/id` value of a parameter that
/// puts the resource in that patient's compartment (a compartment parameter, or `patient`,
/// which HL7 defines as the subject or patient element restricted to Patient).
fn pinned_patient(res_type: &str, c: &Clause) -> Option<String> {
    let registry = super::params::Registry::r4();
    let members = registry.compartment_params(res_type);
    let Clause::Match {
        param,
        alts,
        modifier,
    } = c
    else {
        return None;
    };
    let member = members.contains(&param.code) || (param.code == "patient" && !members.is_empty());
    if !member || !matches!(modifier, Modifier::None | Modifier::Type(_)) {
        return None;
    }
    match alts.as_slice() {
        [Alt::Reference(ReferenceValue::Local {
            target_type: Some(t),
            id,
        })] if t == "Patient" => Some(id.clone()),
        _ => None,
    }
}

fn table_of(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "idx_string",
        ParamType::Token => "idx_token",
        ParamType::Date => "idx_date",
        ParamType::Number => "idx_number",
        ParamType::Quantity => "idx_quantity",
        ParamType::Reference => "idx_reference",
        ParamType::Uri => "idx_uri",
        ParamType::Composite => "idx_composite",
        ParamType::Special => "idx_token",
    }
}

/// Appends ` AND <alias>.pk [NOT] IN (SELECT …)` for one clause. `depth` names nested aliases.
/// Nested resources (of chains and `_has`) get the access predicate too: matching on what the
/// requester may not see would tell them it exists.
fn clause_sql(
    clause: &Clause,
    access: &Access,
    alias: &str,
    hint: Option<&str>,
    q: &mut Query,
    depth: usize,
) {
    let x = format!("x{depth}");
    match clause {
        Clause::Id(ids) => in_list(
            q,
            &format!("{alias}.res_id"),
            ids.iter().map(|i| Bind::Text(i.clone())),
        ),
        Clause::LastUpdated(alts) => {
            q.push(" AND (");
            for (i, (p, low, high)) in alts.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("(");
                let col = format!("{alias}.last_updated");
                date_sql(*p, *low, *high, &col, &format!("({col} + 1)"), q);
                q.push(")");
            }
            q.push(")");
        }
        Clause::Missing { param, missing } => {
            q.push(&format!(
                " AND {alias}.pk {}IN (",
                if *missing { "NOT " } else { "" },
            ));
            let table = table_of(param.param_type);
            rows_sql(q, "SELECT", &x, table, &param.stored, None, &|_, _| {});
            q.push(")");
        }
        Clause::Match { modifier, .. } => {
            let negate = *modifier == Modifier::Not;
            q.push(&format!(
                " AND {alias}.pk {}IN (",
                if negate { "NOT " } else { "" }
            ));
            subquery_sql(clause, access, hint.filter(|_| !negate), q, depth, false);
            q.push(")");
        }
        Clause::Chain { .. } => {
            q.push(&format!(" AND {alias}.pk IN ("));
            subquery_sql(clause, access, None, q, depth, false);
            q.push(")");
        }
        Clause::Has {
            source_type,
            param,
            inner,
        } => {
            let r2 = format!("r{}", depth + 1);
            q.push(&format!(
                " AND {alias}.res_id IN (SELECT {x}.target_id FROM idx_reference {x} JOIN resource {r2} ON {r2}.pk = {x}.res_pk WHERE "
            ));
            param_rows(q, &x, &[&param.stored]);
            q.push(&format!(
                " AND {x}.target_type = {alias}.res_type AND {r2}.res_type = ? AND {r2}.deleted = ?"
            ))
            .bind(Bind::Text(source_type.clone()))
            .bind(Bind::Bool(false));
            clause_sql(inner, access, &r2, None, q, depth + 1);
            access.restrict(q, &r2);
            q.push(")");
        }
    }
}

/// `SELECT [DISTINCT] x.res_pk FROM idx_… x WHERE …`: the keys a match or chain selects.
fn subquery_sql(
    clause: &Clause,
    access: &Access,
    hint: Option<&str>,
    q: &mut Query,
    depth: usize,
    distinct: bool,
) {
    let x = format!("x{depth}");
    let select = if distinct {
        "SELECT DISTINCT"
    } else {
        "SELECT"
    };
    match clause {
        Clause::Match {
            param,
            modifier,
            alts,
        } => {
            // `:identifier` rows are keyed by the parameter itself, derived or not.
            let identifier = Stored {
                params: vec![param.identifier_hash],
                target_type: None,
                joined: Vec::new(),
            };
            let (table, stored) = match modifier {
                Modifier::Identifier => ("idx_token", &identifier),
                _ => (table_of(param.param_type), &param.stored),
            };
            rows_sql(q, select, &x, table, stored, hint, &|q, joined| {
                q.push(" AND (");
                for (i, alt) in alts.iter().enumerate() {
                    if i > 0 {
                        q.push(" OR ");
                    }
                    q.push("(");
                    match (joined, alt) {
                        (Some(y), Alt::Composite(code, second)) => {
                            token_sql(code, &format!("{x}.system"), &format!("{x}.code"), q);
                            q.push(" AND ");
                            alt_sql(second, &Modifier::None, y, q);
                        }
                        _ => alt_sql(alt, modifier, &x, q),
                    }
                    q.push(")");
                }
                q.push(")");
            });
        }
        Clause::Chain { param, targets } => {
            let r2 = format!("r{}", depth + 1);
            q.push(&format!(
                "{select} {x}.res_pk FROM idx_reference {x} WHERE "
            ));
            param_rows(q, &x, &[&param.stored]);
            q.push(" AND (");
            for (i, (target, inner)) in targets.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push(&format!(
                    "({x}.target_type = ? AND {x}.target_id IN (SELECT {r2}.res_id FROM resource {r2} WHERE {r2}.res_type = ? AND {r2}.deleted = ?"
                ))
                .bind(Bind::Text(target.clone()))
                .bind(Bind::Text(target.clone()))
                .bind(Bind::Bool(false));
                clause_sql(inner, access, &r2, None, q, depth + 1);
                access.restrict(q, &r2);
                q.push("))");
            }
            q.push(")");
        }
        // Not drivable: callers use clause_sql for these.
        _ => {
            q.push(&format!(
                "{select} {x}.res_pk FROM idx_token {x} WHERE 1 = 0"
            ));
        }
    }
}

/// `SELECT x.res_pk …` from the rows that answer a parameter (`params::Stored`): its own or
/// its bases', then, in a UNION, each composite answered by a join: its first component's
/// rows (`x`) joined by resource to its second's. `cond` adds what a row must match, given
/// the second component's alias in a join.
fn rows_sql(
    q: &mut Query,
    select: &str,
    x: &str,
    table: &str,
    stored: &Stored,
    hint: Option<&str>,
    cond: &dyn Fn(&mut Query, Option<&str>),
) {
    let pinned = |q: &mut Query| {
        if let Some(h) = hint {
            q.push(&format!(" AND {x}.compartment = ?"))
                .bind(Bind::Text(h.to_string()));
        }
    };
    let own = !stored.params.is_empty() || stored.joined.is_empty();
    if own {
        q.push(&format!("{select} {x}.res_pk FROM {table} {x} WHERE "));
        param_rows(q, x, &[stored]);
        pinned(q);
        cond(q, None);
    }
    for (i, join) in stored.joined.iter().enumerate() {
        if own || i > 0 {
            q.push(" UNION ");
        }
        let y = format!("{x}j{i}");
        let [(first, first_key), (second, second_key)] = join.parts;
        q.push(&format!(
            "{select} {x}.res_pk FROM {} {x} JOIN {} {y} ON {y}.res_pk = {x}.res_pk AND {y}.param = ? WHERE {x}.param = ?",
            table_of(first),
            table_of(second)
        ))
        .bind(Bind::Int(second_key))
        .bind(Bind::Int(first_key));
        pinned(q);
        cond(q, Some(&y));
    }
}

/// `LIKE` pattern text with its wildcards escaped (used with `ESCAPE '\'`).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn alt_sql(alt: &Alt, modifier: &Modifier, x: &str, q: &mut Query) {
    match alt {
        Alt::String(s) => {
            let norm = super::normalize::normalize(s);
            match modifier {
                Modifier::Exact => {
                    q.push(&format!("{x}.value_exact = ?"))
                        .bind(Bind::Text(s.clone()));
                }
                Modifier::Contains => {
                    q.push(&format!("{x}.value_norm LIKE ? ESCAPE '\\'"))
                        .bind(Bind::Text(format!("%{}%", like_escape(&norm))));
                }
                Modifier::Text => {
                    q.push(&format!("{x}.text_norm LIKE ? ESCAPE '\\'"))
                        .bind(Bind::Text(format!("{}%", like_escape(&norm))));
                }
                _ => {
                    // A range the index can seek, and LIKE for the exact starts-with meaning.
                    q.push(&format!("{x}.value_norm >= ? AND {x}.value_norm < ? AND {x}.value_norm LIKE ? ESCAPE '\\'"))
                        .bind(Bind::Text(norm.clone()))
                        .bind(Bind::Text(format!("{norm}\u{10FFFF}")))
                        .bind(Bind::Text(format!("{}%", like_escape(&norm))));
                }
            }
        }
        Alt::Token(t) => token_sql(t, &format!("{x}.system"), &format!("{x}.code"), q),
        Alt::Date(p, low, high) => date_sql(
            *p,
            *low,
            *high,
            &format!("{x}.low"),
            &format!("{x}.high"),
            q,
        ),
        Alt::Number(p, v, low, high) => number_sql(*p, *v, *low, *high, &format!("{x}.value"), q),
        Alt::Quantity(qv) => quantity_sql(qv, x, "value", "system", "code", q),
        Alt::Reference(r) => match r {
            ReferenceValue::Local { target_type, id } => {
                q.push(&format!("{x}.target_id = ?"))
                    .bind(Bind::Text(id.clone()));
                if let Some(t) = target_type {
                    q.push(&format!(" AND {x}.target_type = ?"))
                        .bind(Bind::Text(t.clone()));
                }
            }
            ReferenceValue::Url(u) => {
                q.push(&format!("{x}.url = ?")).bind(Bind::Text(u.clone()));
            }
        },
        Alt::Uri(u) => match modifier {
            Modifier::Below => {
                q.push(&format!("{x}.value LIKE ? ESCAPE '\\'"))
                    .bind(Bind::Text(format!("{}%", like_escape(u))));
            }
            Modifier::Above => {
                q.push(&format!("? LIKE {x}.value || '%'"))
                    .bind(Bind::Text(u.clone()));
            }
            _ => {
                q.push(&format!("{x}.value = ?"))
                    .bind(Bind::Text(u.clone()));
            }
        },
        Alt::Composite(code, second) => {
            token_sql(code, &format!("{x}.code_system"), &format!("{x}.code"), q);
            q.push(" AND ");
            match &**second {
                Alt::Token(t) => token_sql(
                    t,
                    &format!("{x}.value_system"),
                    &format!("{x}.value_code"),
                    q,
                ),
                Alt::Quantity(qv) => quantity_sql(qv, x, "number", "value_system", "value_code", q),
                Alt::Date(p, low, high) => date_sql(
                    *p,
                    *low,
                    *high,
                    &format!("{x}.date_low"),
                    &format!("{x}.date_high"),
                    q,
                ),
                Alt::String(s) => {
                    q.push(&format!("{x}.text_norm LIKE ? ESCAPE '\\'"))
                        .bind(Bind::Text(format!(
                            "{}%",
                            like_escape(&super::normalize::normalize(s))
                        )));
                }
                _ => {
                    q.push("1 = 0");
                }
            }
        }
    }
}

fn token_sql(t: &TokenValue, system: &str, code: &str, q: &mut Query) {
    match t {
        TokenValue::SystemCode(s, c) => q
            .push(&format!("{code} = ? AND {system} = ?"))
            .bind(Bind::Text(c.clone()))
            .bind(Bind::Text(s.clone())),
        TokenValue::Code(c) => q.push(&format!("{code} = ?")).bind(Bind::Text(c.clone())),
        TokenValue::System(s) => q.push(&format!("{system} = ?")).bind(Bind::Text(s.clone())),
        TokenValue::NoSystemCode(c) => q
            .push(&format!("{code} = ? AND {system} IS NULL"))
            .bind(Bind::Text(c.clone())),
    };
}

/// Range semantics of search.html#prefix: the resource's [lo, hi) against the value's
/// [low, high).
fn date_sql(p: Prefix, low: i64, high: i64, lo: &str, hi: &str, q: &mut Query) {
    let i = Bind::Int;
    match p {
        Prefix::Eq => q
            .push(&format!("{lo} >= ? AND {hi} <= ?"))
            .bind(i(low))
            .bind(i(high)),
        Prefix::Ne => q
            .push(&format!("NOT ({lo} >= ? AND {hi} <= ?)"))
            .bind(i(low))
            .bind(i(high)),
        Prefix::Gt => q.push(&format!("{hi} > ?")).bind(i(high)),
        Prefix::Lt => q.push(&format!("{lo} < ?")).bind(i(low)),
        Prefix::Ge => q
            .push(&format!("({hi} > ? OR ({lo} >= ? AND {hi} <= ?))"))
            .bind(i(high))
            .bind(i(low))
            .bind(i(high)),
        Prefix::Le => q
            .push(&format!("({lo} < ? OR ({lo} >= ? AND {hi} <= ?))"))
            .bind(i(low))
            .bind(i(low))
            .bind(i(high)),
        Prefix::Sa => q.push(&format!("{lo} >= ?")).bind(i(high)),
        Prefix::Eb => q.push(&format!("{hi} <= ?")).bind(i(low)),
        Prefix::Ap => {
            // Within 10% of the distance from now, and at least a day, either side.
            let width = ((now_micros() - low).abs() / 10).max(86_400_000_000);
            q.push(&format!("{lo} < ? AND {hi} > ?"))
                .bind(i(high.saturating_add(width)))
                .bind(i(low.saturating_sub(width)))
        }
    };
}

/// A stored number against a value whose precision gives [low, high).
fn number_sql(p: Prefix, v: f64, low: f64, high: f64, col: &str, q: &mut Query) {
    let f = Bind::Float;
    match p {
        Prefix::Eq => q
            .push(&format!("{col} >= ? AND {col} < ?"))
            .bind(f(low))
            .bind(f(high)),
        Prefix::Ne => q
            .push(&format!("NOT ({col} >= ? AND {col} < ?)"))
            .bind(f(low))
            .bind(f(high)),
        Prefix::Gt | Prefix::Sa => q.push(&format!("{col} > ?")).bind(f(v)),
        Prefix::Lt | Prefix::Eb => q.push(&format!("{col} < ?")).bind(f(v)),
        Prefix::Ge => q.push(&format!("{col} >= ?")).bind(f(v)),
        Prefix::Le => q.push(&format!("{col} <= ?")).bind(f(v)),
        Prefix::Ap => {
            let d = (v * 0.1).abs().max(high - low);
            q.push(&format!("{col} >= ? AND {col} <= ?"))
                .bind(f(v - d))
                .bind(f(v + d))
        }
    };
}

fn quantity_sql(qv: &QuantityValue, x: &str, value: &str, system: &str, code: &str, q: &mut Query) {
    number_sql(
        qv.prefix,
        qv.value,
        qv.low,
        qv.high,
        &format!("{x}.{value}"),
        q,
    );
    match (&qv.system, &qv.code) {
        (Some(s), Some(c)) => {
            q.push(&format!(" AND {x}.{system} = ? AND {x}.{code} = ?"))
                .bind(Bind::Text(s.clone()))
                .bind(Bind::Text(c.clone()));
        }
        (None, Some(c)) if code == "code" => {
            q.push(&format!(" AND ({x}.code = ? OR {x}.unit = ?)"))
                .bind(Bind::Text(c.clone()))
                .bind(Bind::Text(c.clone()));
        }
        (None, Some(c)) => {
            q.push(&format!(" AND {x}.{code} = ?"))
                .bind(Bind::Text(c.clone()));
        }
        (Some(s), None) => {
            q.push(&format!(" AND {x}.{system} = ?"))
                .bind(Bind::Text(s.clone()));
        }
        (None, None) => {}
    }
}

/// ORDER BY the sort keys (missing values last on both databases), then the key.
fn order_by(sort: &[Sort], q: &mut Query) {
    q.push(" ORDER BY ");
    for s in sort {
        let dir = if s.descending { "DESC" } else { "ASC" };
        match &s.key {
            SortKey::Id => {
                q.push(&format!("r.res_id {dir}, "));
            }
            SortKey::LastUpdated => {
                q.push(&format!("r.last_updated {dir}, "));
            }
            SortKey::Param(p) => {
                let (agg, col) = sort_column(p.param_type, s.descending);
                let sub = |q: &mut Query| {
                    q.push(&format!(
                        "(SELECT {agg}(s.{col}) FROM {} s WHERE s.res_pk = r.pk AND ",
                        table_of(p.param_type)
                    ));
                    param_rows(q, "s", &[&p.stored]);
                    q.push(")");
                };
                sub(q);
                q.push(" IS NULL, ");
                sub(q);
                q.push(&format!(" {dir}, "));
            }
        }
    }
    q.push("r.pk");
}

fn sort_column(t: ParamType, descending: bool) -> (&'static str, &'static str) {
    let agg = if descending { "MAX" } else { "MIN" };
    let col = match t {
        ParamType::String => "value_norm",
        ParamType::Token => "code",
        ParamType::Date => {
            if descending {
                "high"
            } else {
                "low"
            }
        }
        ParamType::Number | ParamType::Quantity => "value",
        ParamType::Reference => "target_id",
        ParamType::Uri => "value",
        _ => "param",
    };
    (agg, col)
}

/// The SQL of the keys a snapshot page holds, in position order.
pub fn compile_snapshot_page(id: &str, offset: i64, count: i64) -> Query {
    let mut q = Query::new(
        "SELECT res_pk AS n FROM search_snapshot WHERE id = ? AND pos >= ? ORDER BY pos LIMIT ?",
    );
    q.bind(Bind::Text(id.to_string()))
        .bind(Bind::Int(offset))
        .bind(Bind::Int(count));
    q
}
