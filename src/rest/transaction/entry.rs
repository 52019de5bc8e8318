//! One Bundle entry's request (bundle.html#transaction): its method, what its URL names, its
//! resource or patch, and its conditional headers, checked before anything runs.

use serde_json::Value;

use super::super::error::RestError;
use super::super::query::QueryParams;
use super::super::update::parse_if_match;
use super::references::conditional_references;
use crate::fhir::{ResourceId, ResourceType, VersionId};
use crate::patch::Patch;
use crate::search::{parse_conditional, SearchPlan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    /// The order a transaction processes entries in (http.html#trules): deletes, creates,
    /// updates and patches, then reads.
    pub fn rank(self) -> u8 {
        match self {
            Method::Delete => 0,
            Method::Post => 1,
            Method::Put | Method::Patch => 2,
            Method::Get | Method::Head => 3,
        }
    }

    pub fn writes(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

/// What an entry's `request.url` names.
#[derive(Debug, Clone)]
pub enum Target {
    /// `Patient` (POST).
    Type(ResourceType),
    /// `Patient/123`.
    Instance(ResourceType, ResourceId),
    /// `Patient/123/_history/2`.
    Version(ResourceType, ResourceId, i64),
    /// `Patient?name=x` or `?_type=…` read as a search (GET, HEAD).
    Search(Option<ResourceType>, Vec<(String, String)>),
    /// `Patient?identifier=x` as the criteria of a conditional PUT, PATCH or DELETE.
    Conditional(ResourceType, Box<Condition>),
}

/// Search criteria that pick one resource, with the text that names them in references
/// (`Patient?identifier=…`).
#[derive(Debug, Clone)]
pub struct Condition {
    pub plan: SearchPlan,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub index: usize,
    pub full_url: Option<String>,
    pub method: Method,
    pub target: Target,
    pub resource: Option<Value>,
    /// The conditional references (`Patient?identifier=…`) its resource holds, as keys:
    /// known when the resource has moved on to be written.
    pub references: Vec<String>,
    pub patch: Option<Patch>,
    pub if_none_exist: Option<Condition>,
    pub if_match: Option<i64>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
}

impl Entry {
    pub fn res_type(&self) -> Option<&ResourceType> {
        match &self.target {
            Target::Type(t)
            | Target::Instance(t, _)
            | Target::Version(t, _, _)
            | Target::Conditional(t, _) => Some(t),
            Target::Search(t, _) => t.as_ref(),
        }
    }

    /// The criteria this entry's write depends on: If-None-Exist or a conditional URL.
    pub fn condition(&self) -> Option<&Condition> {
        match &self.target {
            Target::Conditional(_, c) => Some(c.as_ref()),
            _ => self.if_none_exist.as_ref(),
        }
    }
}

/// Reads entry `index` of a transaction or batch Bundle.
/// Takes the entry's resource (without copying it): the Bundle is not read again.
pub fn parse_entry(index: usize, entry: &mut Value, base: &str) -> Result<Entry, RestError> {
    let resource = entry.get_mut("resource").map(Value::take);
    let entry = &*entry;
    let request = entry
        .get("request")
        .ok_or_else(|| RestError::BadRequest("the entry has no request".into()))?;
    let text = |k: &str| request.get(k).and_then(Value::as_str);
    let method_text = text("method").unwrap_or_default();
    let method = Method::parse(method_text).ok_or_else(|| {
        RestError::BadRequest(format!("request.method '{method_text}' is not supported"))
    })?;
    let url =
        text("url").ok_or_else(|| RestError::BadRequest("the entry has no request.url".into()))?;
    let target = parse_url(url, method, base)?;
    let mut parsed = Entry {
        index,
        full_url: entry
            .get("fullUrl")
            .and_then(Value::as_str)
            .map(str::to_string),
        method,
        target,
        resource: None,
        references: Vec::new(),
        patch: None,
        if_none_exist: None,
        if_match: text("ifMatch").map(parse_if_match).transpose()?,
        if_none_match: text("ifNoneMatch").map(str::to_string),
        if_modified_since: text("ifModifiedSince").map(str::to_string),
    };
    match method {
        Method::Post | Method::Put => {
            let r = resource.ok_or_else(|| {
                RestError::BadRequest(format!("a {method_text} entry needs a resource"))
            })?;
            check_resource(&parsed, &r)?;
            parsed.references = conditional_references(&r);
            parsed.resource = Some(r);
        }
        Method::Patch => {
            let r = resource.ok_or_else(|| {
                RestError::BadRequest("a PATCH entry needs a Binary or Parameters resource".into())
            })?;
            parsed.patch = Some(patch_of(&r)?);
        }
        Method::Get | Method::Head | Method::Delete if resource.is_some() => {
            return Err(RestError::BadRequest(format!(
                "a {method_text} entry carries no resource"
            )))
        }
        _ => {}
    }
    if let Some(raw) = text("ifNoneExist") {
        let Target::Type(rt) = &parsed.target else {
            return Err(RestError::BadRequest(
                "ifNoneExist belongs on a POST entry".into(),
            ));
        };
        let query = raw.split_once('?').map_or(raw, |(_, q)| q);
        parsed.if_none_exist = Some(condition(rt, query, base)?);
    }
    Ok(parsed)
}

/// A conditional upsert (`PUT`) or delete built by Carebridge itself, an importer's: the
/// entry [`parse_entry`] reads from `{"request": {"method", "url"}, "resource"}`, with no
/// JSON in between. `references` are the resource's conditional references as
/// [`conditional_references`] gives them, which the caller has already collected.
pub fn conditional(
    index: usize,
    method: Method,
    url: &str,
    resource: Option<Value>,
    references: Vec<String>,
    base: &str,
) -> Result<Entry, RestError> {
    let target = parse_url(url, method, base)?;
    if !matches!(target, Target::Conditional(..)) {
        return Err(RestError::BadRequest(format!(
            "request.url '{url}' is not a conditional {method:?}"
        )));
    }
    let mut entry = Entry {
        index,
        full_url: None,
        method,
        target,
        resource: None,
        references,
        patch: None,
        if_none_exist: None,
        if_match: None,
        if_none_match: None,
        if_modified_since: None,
    };
    match (method, resource) {
        (Method::Put, Some(r)) => {
            check_resource(&entry, &r)?;
            entry.resource = Some(r);
        }
        (Method::Delete, None) => {}
        (m, r) => {
            return Err(RestError::BadRequest(format!(
                "a conditional {m:?} {} a resource",
                if r.is_some() { "carries no" } else { "needs" }
            )))
        }
    }
    Ok(entry)
}

fn condition(rt: &ResourceType, query: &str, base: &str) -> Result<Condition, RestError> {
    let pairs = QueryParams::parse(query.as_bytes()).0;
    Ok(Condition {
        plan: parse_conditional(rt.as_str(), &pairs, base)?,
        key: super::references::condition_key(rt.as_str(), query),
    })
}

/// `request.url`, relative to the base (an absolute URL on this server's base is accepted).
fn parse_url(url: &str, method: Method, base: &str) -> Result<Target, RestError> {
    let local = url
        .strip_prefix(base)
        .unwrap_or(url)
        .trim_start_matches('/');
    let (path, query) = match local.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (local, None),
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let bad = |why: &str| RestError::BadRequest(format!("request.url '{url}': {why}"));
    let rt = |name: &str| {
        ResourceType::parse(name).ok_or_else(|| bad(&format!("'{name}' is not a resource type")))
    };
    let id = |s: &str| ResourceId::parse(s).ok_or_else(|| bad(&format!("'{s}' is not a valid id")));
    let reads = matches!(method, Method::Get | Method::Head);
    let target = match (segs.as_slice(), query) {
        ([], Some(q)) if reads => Target::Search(None, QueryParams::parse(q.as_bytes()).0),
        ([t], q) if reads => Target::Search(
            Some(rt(t)?),
            q.map(|q| QueryParams::parse(q.as_bytes()).0)
                .unwrap_or_default(),
        ),
        ([t], None) if method == Method::Post => Target::Type(rt(t)?),
        ([t], Some(q)) if method != Method::Post => {
            let t = rt(t)?;
            let c = condition(&t, q, base)?;
            Target::Conditional(t, Box::new(c))
        }
        ([t, i], None) if method != Method::Post => Target::Instance(rt(t)?, id(i)?),
        ([t, i, "_history", v], None) if reads => Target::Version(
            rt(t)?,
            id(i)?,
            VersionId::parse(v).ok_or_else(|| bad("bad version id"))?.0,
        ),
        _ => {
            return Err(bad(
                "this method and URL do not make an interaction this server offers",
            ))
        }
    };
    Ok(target)
}

/// A POST or PUT resource must be of the URL's type; a PUT by id must carry that id.
fn check_resource(entry: &Entry, r: &Value) -> Result<(), RestError> {
    let body_type = r
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(t) = entry.res_type().filter(|t| t.as_str() != body_type) {
        return Err(RestError::BadRequest(format!(
            "the entry's resource is a {body_type} but its request.url names {t}"
        )));
    }
    if let Target::Instance(_, id) = &entry.target {
        let body_id = r.get("id").and_then(Value::as_str);
        if body_id != Some(id.as_str()) {
            return Err(RestError::BadRequest(format!(
                "the resource's id ({}) does not match request.url's id '{id}'",
                body_id.unwrap_or("none")
            )));
        }
    }
    Ok(())
}

/// A PATCH entry's body: a Binary holding a JSON Patch, or FHIRPath Patch Parameters.
fn patch_of(r: &Value) -> Result<Patch, RestError> {
    let interaction = |e| RestError::from(crate::interaction::InteractionError::from(e));
    match r.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => Patch::fhirpath(r).map_err(interaction),
        Some("Binary") => {
            let ct = r
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if ct != super::super::patch::JSON_PATCH {
                return Err(RestError::BadRequest(format!(
                    "a Binary patch must have contentType {}, not '{ct}'",
                    super::super::patch::JSON_PATCH
                )));
            }
            let data = r.get("data").and_then(Value::as_str).unwrap_or_default();
            let bytes = openssl::base64::decode_block(data)
                .map_err(|e| RestError::BadRequest(format!("Binary.data is not base64: {e}")))?;
            let doc = crate::fhir::json::parse_strict(&bytes).map_err(RestError::BadValue)?;
            Patch::json(&doc).map_err(interaction)
        }
        other => Err(RestError::BadRequest(format!(
            "a PATCH entry's resource must be Binary or Parameters, not {}",
            other.unwrap_or("nothing")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Everything the transaction reads of an entry, to compare two of them.
    fn shape(e: &Entry) -> String {
        format!(
            "{} {:?} {:?} {:?} {:?} {:?}",
            e.index,
            e.method,
            e.condition().map(|c| (&c.key, format!("{:?}", c.plan))),
            e.resource,
            e.references,
            (
                &e.full_url,
                &e.if_match,
                &e.if_none_match,
                &e.if_modified_since
            )
        )
    }

    #[test]
    fn a_built_conditional_entry_is_the_one_read_from_json() {
        let url = "Observation?identifier=https%3A%2F%2Fexample.org%2Fobs%7Ca%5C%7Cb";
        let resource = json!({
            "resourceType": "Observation",
            "subject": {"reference": "Patient?identifier=https%3A%2F%2Fexample.org%2Fp%7C1"}
        });
        let mut raw = json!({"request": {"method": "PUT", "url": url}, "resource": resource});
        let read = parse_entry(3, &mut raw, "http://x/fhir").expect("read");
        let refs = conditional_references(&resource);
        let built = conditional(
            3,
            Method::Put,
            url,
            Some(resource.clone()),
            refs,
            "http://x/fhir",
        )
        .expect("built");
        assert_eq!(shape(&built), shape(&read));
        assert_eq!(built.references.len(), 1);

        let mut raw = json!({"request": {"method": "DELETE", "url": url}});
        let read = parse_entry(0, &mut raw, "http://x/fhir").expect("read");
        let built =
            conditional(0, Method::Delete, url, None, Vec::new(), "http://x/fhir").expect("built");
        assert_eq!(shape(&built), shape(&read));
    }

    #[test]
    fn a_built_entry_is_checked_as_a_read_one_is() {
        let patient = json!({"resourceType": "Patient"});
        for (method, url, resource) in [
            // The resource is not of the URL's type.
            (Method::Put, "Observation?identifier=a", Some(&patient)),
            // Not a conditional URL.
            (Method::Put, "Patient/1", Some(&patient)),
            // A PUT without a resource, a DELETE with one.
            (Method::Put, "Patient?identifier=a", None),
            (Method::Delete, "Patient?identifier=a", Some(&patient)),
        ] {
            let built = conditional(
                0,
                method,
                url,
                resource.cloned(),
                Vec::new(),
                "http://x/fhir",
            );
            assert!(built.is_err(), "{method:?} {url} {resource:?}");
        }
    }
}
