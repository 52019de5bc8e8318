//! `Patient/[id]/$everything` and `Patient/$everything` (patient-operation-everything.html):
//! the patient, every resource in their compartment, and the resources those reference
//! (Practitioners, Organizations, Medications, …), as one key-ordered set read a page at a
//! time. Each page is one statement with a cursor, so memory is bounded by the page size
//! however many resources the patient has.

use super::access::Access;
use super::compile::{in_list, CURRENT_COLUMNS};
use crate::store::{Bind, Query, Store, StoreError, StoredVersion};

#[derive(Debug, Clone, Default)]
pub struct Everything {
    /// One patient, or every patient when `None`.
    pub patient: Option<String>,
    /// `start` and `end`: compartment resources whose indexed dates all fall outside
    /// [start, end) are left out; those without dates stay.
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// `_since`: only resources last updated at or after this instant.
    pub since: Option<i64>,
    /// `_type`: only these types (all when empty).
    pub types: Vec<String>,
    pub count: i64,
    /// The cursor: resources after this key.
    pub after: Option<i64>,
}

pub struct Page {
    pub resources: Vec<StoredVersion>,
    /// The key the next page starts after.
    pub next: Option<i64>,
}

/// What a read of the record finds.
pub enum Record {
    Page(Page),
    /// The one patient asked for is not stored.
    Unknown,
    /// The one patient asked for is deleted.
    Deleted,
}

/// One page of the record. For one patient, its head is read in the page's own read, sparing
/// a request a second connection checkout.
pub fn everything(store: &Store, e: &Everything, access: &Access) -> Result<Record, StoreError> {
    let postgres = store.backend_name() == "postgres";
    let found = store.read(|tx| {
        if let Some(id) = &e.patient {
            match tx.head("Patient", id)? {
                None => return Ok(Err(Record::Unknown)),
                Some(h) if h.deleted => return Ok(Err(Record::Deleted)),
                Some(_) => {}
            }
        }
        Ok::<_, StoreError>(Ok(tx.search(&compile_everything(e, access, postgres))?))
    })?;
    let mut found = match found {
        Ok(found) => found,
        Err(absent) => return Ok(absent),
    };
    let more = found.len() as i64 > e.count;
    found.truncate(e.count as usize);
    let next = found.last().filter(|_| more).map(|v| v.seq);
    Ok(Record::Page(Page {
        resources: found,
        next,
    }))
}

/// The patients and their in-scope compartment members, as a subquery of keys. Keys may
/// repeat (UNION ALL): `IN` and `= ANY` need no distinct set, and making one cost a hash of
/// every key.
///
/// `after` leaves out the keys up to a page's cursor: on PostgreSQL each key left in costs a
/// seek of the resource index, even below the cursor.
fn core(e: &Everything, after: Option<i64>, q: &mut Query) {
    q.push("SELECT p.pk FROM resource p WHERE p.res_type = ?")
        .bind(Bind::Text("Patient".into()));
    if let Some(id) = &e.patient {
        q.push(" AND p.res_id = ?").bind(Bind::Text(id.clone()));
    }
    if let Some(after) = after {
        q.push(" AND p.pk > ?").bind(Bind::Int(after));
    }
    q.push(" UNION ALL SELECT m.res_pk FROM compartment_member m WHERE 1 = 1");
    if let Some(id) = &e.patient {
        q.push(" AND m.compartment = ?")
            .bind(Bind::Text(id.clone()));
    }
    if let Some(after) = after {
        q.push(" AND m.res_pk > ?").bind(Bind::Int(after));
    }
    if e.start.is_some() || e.end.is_some() {
        q.push(
            " AND (NOT EXISTS (SELECT 1 FROM idx_date d WHERE d.res_pk = m.res_pk) \
             OR EXISTS (SELECT 1 FROM idx_date d WHERE d.res_pk = m.res_pk AND d.high > ? AND d.low < ?))",
        )
        .bind(Bind::Int(e.start.unwrap_or(i64::MIN)))
        .bind(Bind::Int(e.end.unwrap_or(i64::MAX)));
    }
}

/// `IN (` a key subquery; on PostgreSQL `= ANY(ARRAY(` it, which the planner runs as a
/// lookup of those keys: for `IN` it hashed the whole reference index and scanned every
/// resource key (75 ms for a 2,000-resource record, 13–22 ms this way).
fn keys_in(postgres: bool) -> (&'static str, &'static str) {
    if postgres {
        (" = ANY(ARRAY(", "))")
    } else {
        (" IN (", ")")
    }
}

pub fn compile_everything(e: &Everything, access: &Access, postgres: bool) -> Query {
    if postgres {
        return compile_for_postgres(e, access);
    }
    let (open, close) = keys_in(false);
    let mut q = Query::new(format!(
        "SELECT {CURRENT_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk \
         AND v.version_id = r.version_id WHERE r.deleted = ? AND r.pk{open}"
    ));
    q.bind(Bind::Bool(false));
    core(e, e.after, &mut q);
    member_targets(e, false, &mut q);
    q.push(close);
    if let Some(after) = e.after {
        q.push(" AND r.pk > ?").bind(Bind::Int(after));
    }
    filters(e, access, "r", &mut q);
    q.push(" ORDER BY r.pk LIMIT ?")
        .bind(Bind::Int(e.count + 1));
    q
}

/// PostgreSQL reads each key's current version straight from `resource_version` (the
/// newest by its unique (res_pk, version_id) index; a deleted resource's has no content),
/// instead of the resource row and then the version it names: one index probe a row instead
/// of two, 5,083 → 3,066 buffer hits and 7.9 → 4.2–5.4 ms for a 1,000-resource page of a
/// 2,000-resource record (EXPLAIN ANALYZE). The keys are sorted and made distinct first,
/// so the page stops at its limit. SQLite has no LATERAL.
fn compile_for_postgres(e: &Everything, access: &Access) -> Query {
    let mut q = Query::new("SELECT k.pk AS seq, v.res_type, v.res_id, v.version_id, v.last_updated, v.method, v.content FROM (SELECT DISTINCT u.pk FROM unnest(ARRAY(");
    core(e, e.after, &mut q);
    match &e.patient {
        Some(id) if e.start.is_none() && e.end.is_none() => compartment_targets(id, &mut q),
        _ => member_targets(e, true, &mut q),
    }
    // A reference to a resource that is not stored gives a NULL key.
    q.push(")) u(pk) WHERE u.pk IS NOT NULL");
    if let Some(after) = e.after {
        q.push(" AND u.pk > ?").bind(Bind::Int(after));
    }
    q.push(
        ") k CROSS JOIN LATERAL (SELECT w.res_type, w.res_id, w.version_id, w.last_updated, \
         w.method, w.content FROM resource_version w WHERE w.res_pk = k.pk \
         ORDER BY w.version_id DESC LIMIT 1) v WHERE v.content IS NOT NULL",
    );
    filters(e, access, "v", &mut q);
    q.push(" ORDER BY k.pk LIMIT ?")
        .bind(Bind::Int(e.count + 1));
    q
}

/// `_since`, `_type` and the reader's access, on the row `alias` names (a resource row on
/// SQLite, its current version on PostgreSQL: both have `last_updated` and `res_type`).
fn filters(e: &Everything, access: &Access, alias: &str, q: &mut Query) {
    if let Some(since) = e.since {
        q.push(&format!(" AND {alias}.last_updated >= ?"))
            .bind(Bind::Int(since));
    }
    if !e.types.is_empty() {
        in_list(
            q,
            &format!("{alias}.res_type"),
            e.types.iter().map(|t| Bind::Text(t.clone())),
        );
    }
    access.restrict(q, alias);
}

/// The resources that the in-scope members reference, looked up by each member's key.
fn member_targets(e: &Everything, postgres: bool, q: &mut Query) {
    let (open, close) = keys_in(postgres);
    // PostgreSQL looks each distinct target up once (a semi-join); a plain join looked one up
    // per reference (12.5 → 6.1 ms for a 2,000-resource record).
    q.push(if postgres {
        " UNION ALL SELECT t.pk FROM resource t WHERE (t.res_type, t.res_id) IN \
         (SELECT x.target_type, x.target_id FROM idx_reference x WHERE x.res_pk"
    } else {
        " UNION ALL SELECT t.pk FROM idx_reference x JOIN resource t \
         ON t.res_type = x.target_type AND t.res_id = x.target_id WHERE x.res_pk"
    });
    // Every member's references, those below the cursor too: their targets may lie above it.
    q.push(open);
    core(e, None, q);
    q.push(close);
    if postgres {
        q.push(")");
    }
}

/// PostgreSQL, the whole compartment of one patient: the resources that the patient and its
/// compartment's members reference. A member's reference rows carry the compartment, so one
/// range of `idx_reference_by_compartment` (a PostgreSQL-only index) holds them all, where a
/// seek per member took 6 ms for a 2,000-resource record. Each distinct target is then looked
/// up by a subquery of its own, which the planner cannot turn into a scan of every resource
/// (it did for a join); a target not stored gives NULL, which matches no key. A page of 1,000
/// of that record: 16.2 → 5.2 ms to execute, 11 → 8 ms for a client (pgbench).
fn compartment_targets(patient: &str, q: &mut Query) {
    let target =
        "(SELECT t.pk FROM resource t WHERE t.res_type = x.target_type AND t.res_id = x.target_id)";
    q.push(&format!(
        " UNION ALL SELECT {target} FROM (SELECT DISTINCT target_type, target_id \
         FROM idx_reference WHERE compartment = ?) x \
         UNION ALL SELECT {target} FROM idx_reference x WHERE x.res_pk = \
         (SELECT p.pk FROM resource p WHERE p.res_type = ? AND p.res_id = ?)"
    ))
    .bind(Bind::Text(patient.to_string()))
    .bind(Bind::Text("Patient".into()))
    .bind(Bind::Text(patient.to_string()));
}
