//! The boolean FHIRPath the profiles' invariants use: `path.exists()`, `path.empty()` and
//! `path = 'literal'`, joined by `and`, `or` and `implies`, with parentheses. Paths are
//! relative to the element the invariant sits on and walk the JSON, choice elements included
//! (`value` finds `valueQuantity`). An invariant outside this subset is refused when the
//! profile loads, never skipped quietly.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Invariant {
    Exists(Vec<String>),
    Empty(Vec<String>),
    Equals(Vec<String>, String),
    And(Box<Invariant>, Box<Invariant>),
    Or(Box<Invariant>, Box<Invariant>),
    Implies(Box<Invariant>, Box<Invariant>),
}

pub fn parse(expr: &str) -> Result<Invariant, String> {
    let e = expr.trim();
    if let Some(inner) = strip_parens(e) {
        return parse(inner);
    }
    for (op, make) in [
        (
            " implies ",
            Invariant::Implies as fn(Box<Invariant>, Box<Invariant>) -> Invariant,
        ),
        (" or ", Invariant::Or),
        (" and ", Invariant::And),
    ] {
        if let Some(at) = top_level(e, op) {
            return Ok(make(
                Box::new(parse(&e[..at])?),
                Box::new(parse(&e[at + op.len()..])?),
            ));
        }
    }
    if let Some(p) = e.strip_suffix(".exists()") {
        return Ok(Invariant::Exists(path(p)?));
    }
    if let Some(p) = e.strip_suffix(".empty()") {
        return Ok(Invariant::Empty(path(p)?));
    }
    if let Some((p, lit)) = e.split_once(" = ") {
        let lit = lit.trim();
        if let Some(s) = lit.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')) {
            return Ok(Invariant::Equals(path(p)?, s.to_string()));
        }
    }
    Err(format!(
        "'{e}' is outside the FHIRPath subset this server evaluates"
    ))
}

/// `(x)` → `x`, when the outer parentheses enclose the whole expression.
fn strip_parens(e: &str) -> Option<&str> {
    let inner = e.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0i32;
    for c in inner.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return None;
        }
    }
    Some(inner)
}

/// The last occurrence of `op` outside parentheses and quotes (left-associative).
fn top_level(e: &str, op: &str) -> Option<usize> {
    let (mut depth, mut quoted, mut found) = (0i32, false, None);
    for (i, c) in e.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ if depth == 0 && !quoted && e[i..].starts_with(op) => found = Some(i),
            _ => {}
        }
    }
    found
}

fn path(p: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = p.trim().split('.').map(str::to_string).collect();
    if parts
        .iter()
        .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        Ok(parts)
    } else {
        Err(format!("'{p}' is not a simple path"))
    }
}

/// The values a relative path selects from `node`.
fn select<'v>(node: &'v Value, path: &[String]) -> Vec<&'v Value> {
    let mut current = vec![node];
    for name in path {
        let mut next = Vec::new();
        for v in current {
            let Value::Object(obj) = v else { continue };
            for (k, child) in obj {
                let choice = k.len() > name.len()
                    && k.starts_with(name.as_str())
                    && k[name.len()..].starts_with(|c: char| c.is_ascii_uppercase());
                if k == name || choice {
                    match child {
                        Value::Array(items) => next.extend(items.iter()),
                        c => next.push(c),
                    }
                }
            }
        }
        current = next;
    }
    current
}

impl Invariant {
    pub fn holds(&self, node: &Value) -> bool {
        match self {
            Invariant::Exists(p) => !select(node, p).is_empty(),
            Invariant::Empty(p) => select(node, p).is_empty(),
            Invariant::Equals(p, lit) => {
                let found = select(node, p);
                found.len() == 1 && found[0].as_str() == Some(lit.as_str())
            }
            Invariant::And(a, b) => a.holds(node) && b.holds(node),
            Invariant::Or(a, b) => a.holds(node) || b.holds(node),
            Invariant::Implies(a, b) => !a.holds(node) || b.holds(node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_the_subset() {
        let obs6 = parse("dataAbsentReason.empty() or value.empty()").expect("parses");
        assert!(obs6.holds(&json!({"valueQuantity": {"value": 1}})));
        assert!(
            !obs6.holds(&json!({"valueQuantity": {"value": 1}, "dataAbsentReason": {"text": "x"}}))
        );
        let cp = parse("status = 'draft' or (period.start.exists())").expect("parses");
        assert!(cp.holds(&json!({"status": "draft"})));
        assert!(cp.holds(&json!({"status": "active", "period": {"start": "2024"}})));
        assert!(!cp.holds(&json!({"status": "active"})));
        let imp = parse("a.exists() implies b.exists() and c.exists()").expect("parses");
        assert!(imp.holds(&json!({})));
        assert!(!imp.holds(&json!({"a": 1, "b": 2})));
        assert!(parse("value.all(matches('x'))").is_err());
    }
}
