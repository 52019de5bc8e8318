//! Many conditions of the commonest form, one `system|code` of one token parameter
//! (`Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`), looked up in a few
//! statements instead of one search each: what an import's thousands of upserts ask.
//! The meaning is the search's: undeleted resources of the type with an index row of that
//! parameter holding exactly that system and code.

use super::access::Access;
use super::compile::{compile_by_ids, in_list};
use super::params::ParamType;
use super::parse::{Alt, Clause, Modifier, SearchPlan, SYSTEM};
use super::value::TokenValue;
use crate::store::{pieces, Bind, Query, StoreError, StoredVersion, Tx};

/// A plan's one token, (parameter key, system, code), when the plan asks for nothing else.
pub fn single_token(plan: &SearchPlan) -> Option<(i64, &str, &str)> {
    if plan.res_type == SYSTEM || plan.compartment.is_some() {
        return None;
    }
    let [Clause::Match {
        param,
        modifier: Modifier::None,
        alts,
    }] = plan.clauses.as_slice()
    else {
        return None;
    };
    match alts.as_slice() {
        [Alt::Token(TokenValue::SystemCode(system, code))]
            if param.param_type == ParamType::Token && param.stored.params == [param.hash] =>
        {
            Some((param.hash, system.as_str(), code.as_str()))
        }
        _ => None,
    }
}

/// (code, resource id) of every undeleted resource of `res_type` that `access` lets through
/// whose `param` rows hold `system` with one of `codes`.
pub fn token_matches(
    tx: &mut dyn Tx,
    res_type: &str,
    param: i64,
    system: &str,
    codes: &[&str],
    access: &Access,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in pieces(codes) {
        let mut q = Query::reusable(
            "SELECT DISTINCT x.code AS a, r.res_id AS b FROM idx_token x JOIN resource r ON r.pk = x.res_pk WHERE x.param = ? AND x.system = ? AND r.res_type = ? AND r.deleted = ?",
        );
        q.bind(Bind::Int(param))
            .bind(Bind::Text(system.to_string()))
            .bind(Bind::Text(res_type.to_string()))
            .bind(Bind::Bool(false));
        in_list(
            &mut q,
            "x.code",
            chunk.iter().map(|c| Bind::Text(c.to_string())),
        );
        access.restrict(&mut q, "r");
        out.extend(tx.pairs(&q)?);
    }
    Ok(out)
}

/// The current versions of resources of `res_type` with these ids, as a search returns
/// them, in statements of a few cached lengths.
pub fn current_versions(
    tx: &mut dyn Tx,
    res_type: &str,
    ids: &[&str],
    access: &Access,
) -> Result<Vec<StoredVersion>, StoreError> {
    let mut out = Vec::new();
    for chunk in pieces(ids) {
        let mut q = compile_by_ids(res_type, chunk, access);
        q.reusable = true;
        out.extend(tx.search(&q)?);
    }
    Ok(out)
}
