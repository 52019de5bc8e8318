//! A [`SearchPlan`] compiled to one SQL statement over `resource r` with every value bound and
//! the access predicate ANDed in.

use super::access::Access;
use super::parse::{Clause, SearchPlan, TokenValue};
use crate::store::{Bind, Query};

/// The page of matches after the plan's cursor, in key order, one more than asked for so the
/// caller knows whether a next page exists.
pub fn compile_page(plan: &SearchPlan, access: &Access) -> Query {
    let mut q = Query::new(
        "SELECT r.pk AS seq, v.res_type, v.res_id, v.version_id, v.last_updated, v.method, v.content \
         FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version_id = r.version_id",
    );
    filters(plan, access, &mut q);
    if let Some(after) = plan.after {
        q.push(" AND r.pk > ?").bind(Bind::Int(after));
    }
    q.push(" ORDER BY r.pk LIMIT ?")
        .bind(Bind::Int(plan.count + 1));
    q
}

/// How many resources match in all.
pub fn compile_count(plan: &SearchPlan, access: &Access) -> Query {
    let mut q = Query::new("SELECT COUNT(*) AS n FROM resource r");
    filters(plan, access, &mut q);
    q
}

fn filters(plan: &SearchPlan, access: &Access, q: &mut Query) {
    q.push(" WHERE r.res_type = ? AND r.deleted = ?")
        .bind(Bind::Text(plan.res_type.clone()))
        .bind(Bind::Bool(false));
    for clause in &plan.clauses {
        match clause {
            Clause::Id(ids) => {
                q.push(" AND r.res_id IN (");
                for (i, id) in ids.iter().enumerate() {
                    q.push(if i == 0 { "?" } else { ", ?" })
                        .bind(Bind::Text(id.clone()));
                }
                q.push(")");
            }
            Clause::Token { param_hash, values } => {
                q.push(" AND EXISTS (SELECT 1 FROM idx_token t WHERE t.res_pk = r.pk AND t.param = ? AND (")
                    .bind(Bind::Int(*param_hash));
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        q.push(" OR ");
                    }
                    match v {
                        TokenValue::SystemCode(s, c) => q
                            .push("(t.code = ? AND t.system = ?)")
                            .bind(Bind::Text(c.clone()))
                            .bind(Bind::Text(s.clone())),
                        TokenValue::Code(c) => q.push("t.code = ?").bind(Bind::Text(c.clone())),
                        TokenValue::System(s) => q.push("t.system = ?").bind(Bind::Text(s.clone())),
                        TokenValue::NoSystemCode(c) => q
                            .push("(t.code = ? AND t.system IS NULL)")
                            .bind(Bind::Text(c.clone())),
                    };
                }
                q.push("))");
            }
        }
    }
    access.restrict(q);
}
