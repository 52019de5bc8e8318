//! FHIRPath Patch (hl7.org/fhir/R4/fhirpatch.html): a Parameters resource of `operation`s,
//! each an add, insert, delete, replace or move at a FHIRPath location.

use serde_json::{Map, Value};

use super::locate::{context_of, locate, Location, Seg};
use crate::fhir::elements::ElementModel;
use crate::search::fhirpath::{Expression, Path, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Insert,
    Delete,
    Replace,
    Move,
}

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Insert => "insert",
            Kind::Delete => "delete",
            Kind::Replace => "replace",
            Kind::Move => "move",
        }
    }
}

/// A value from a `value[x]` part, with its type suffix (`Boolean` from `valueBoolean`), or
/// built from nested parts (no suffix).
#[derive(Debug, Clone)]
struct Typed {
    value: Value,
    suffix: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    kind: Kind,
    path: Path,
    path_text: String,
    name: Option<String>,
    value: Option<Typed>,
    index: Option<usize>,
    source: Option<usize>,
    destination: Option<usize>,
}

/// Reads the operations of a FHIRPath Patch Parameters resource.
pub fn parse(params: &Value) -> Result<Vec<Operation>, String> {
    if params.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err("a FHIRPath Patch is a Parameters resource".into());
    }
    let list = params
        .get("parameter")
        .and_then(Value::as_array)
        .ok_or("the Parameters hold no operation")?;
    list.iter()
        .enumerate()
        .map(|(i, p)| parse_operation(p).map_err(|e| format!("parameter[{i}]: {e}")))
        .collect()
}

fn parse_operation(p: &Value) -> Result<Operation, String> {
    if p.get("name").and_then(Value::as_str) != Some("operation") {
        return Err("each parameter must be named 'operation'".into());
    }
    let parts = p
        .get("part")
        .and_then(Value::as_array)
        .ok_or("an operation needs parts")?;
    let part = |name: &str| {
        parts
            .iter()
            .find(|x| x.get("name").and_then(Value::as_str) == Some(name))
    };
    let text = |name: &str| {
        part(name).and_then(|x| {
            ["valueString", "valueCode", "valueUri"]
                .iter()
                .find_map(|k| x.get(*k).and_then(Value::as_str))
                .map(str::to_string)
        })
    };
    let int = |name: &str| -> Result<Option<usize>, String> {
        match part(name) {
            None => Ok(None),
            Some(x) => x
                .get("valueInteger")
                .and_then(Value::as_u64)
                .map(|n| Some(n as usize))
                .ok_or(format!("'{name}' must be a non-negative valueInteger")),
        }
    };
    let kind = match text("type").as_deref() {
        Some("add") => Kind::Add,
        Some("insert") => Kind::Insert,
        Some("delete") => Kind::Delete,
        Some("replace") => Kind::Replace,
        Some("move") => Kind::Move,
        Some(other) => return Err(format!("unknown operation type '{other}'")),
        None => return Err("the operation has no type".into()),
    };
    let path_text = text("path").ok_or("the operation has no path")?;
    let expr = Expression::parse(&path_text).map_err(|e| format!("path '{path_text}': {e}"))?;
    let [path] = <[Path; 1]>::try_from(expr.0)
        .map_err(|_| format!("path '{path_text}' must name one location"))?;
    let op = Operation {
        kind,
        path,
        path_text,
        name: text("name"),
        value: part("value").map(typed).transpose()?,
        index: int("index")?,
        source: int("source")?,
        destination: int("destination")?,
    };
    let missing = |what: &str| Err(format!("a {} operation needs '{what}'", kind.code()));
    match kind {
        Kind::Add if op.name.is_none() => missing("name"),
        Kind::Add | Kind::Insert | Kind::Replace if op.value.is_none() => missing("value"),
        Kind::Insert if op.index.is_none() => missing("index"),
        Kind::Move if op.source.is_none() || op.destination.is_none() => {
            missing("source and destination")
        }
        _ => Ok(op),
    }
}

/// The value of a `value` part: its `value[x]`, or an object built from its parts.
fn typed(part: &Value) -> Result<Typed, String> {
    if let Some(obj) = part.as_object() {
        for (k, v) in obj {
            if let Some(suffix) = k.strip_prefix("value").filter(|s| !s.is_empty()) {
                return Ok(Typed {
                    value: v.clone(),
                    suffix: Some(suffix.to_string()),
                });
            }
        }
    }
    let parts = part
        .get("part")
        .and_then(Value::as_array)
        .ok_or("a value part needs a value[x] or parts")?;
    let mut out = Map::new();
    for p in parts {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a value's part has no name")?;
        let v = typed(p)?.value;
        match out.get_mut(name) {
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => *existing = Value::Array(vec![existing.take(), v]),
            None => {
                out.insert(name.to_string(), v);
            }
        }
    }
    Ok(Typed {
        value: Value::Object(out),
        suffix: None,
    })
}

/// Applies the operations in order to `resource`.
pub fn apply(resource: &mut Value, ops: &[Operation]) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        apply_one(resource, op).map_err(|e| {
            format!(
                "operation {} ({} at {}): {e}",
                i + 1,
                op.kind.code(),
                op.path_text
            )
        })?;
    }
    prune(resource);
    Ok(())
}

fn apply_one(resource: &mut Value, op: &Operation) -> Result<(), String> {
    let model = ElementModel::r4();
    match op.kind {
        Kind::Add => {
            let at = one(locate(&op.path, resource)?)?;
            let name = op.name.as_deref().unwrap_or_default();
            let value = op.value.as_ref().ok_or("no value")?;
            let (key, repeats, context) = element_key(model, &at.context, name, value)?;
            let shaped = shape(model, value.value.clone(), &context);
            let obj = at
                .get_mut(resource)
                .and_then(Value::as_object_mut)
                .ok_or("the path does not name an element that can hold children")?;
            if repeats {
                let list = obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                match (list, shaped) {
                    (Value::Array(items), Value::Array(more)) => items.extend(more),
                    (Value::Array(items), v) => items.push(v),
                    _ => return Err("the existing element is not a list".into()),
                }
            } else if obj.contains_key(&key) {
                return Err(format!("'{name}' is already present; use replace"));
            } else {
                obj.insert(key, shaped);
            }
        }
        Kind::Insert | Kind::Move => {
            let (parent, name) = split_last(&op.path)?;
            let at = one(locate(&parent, resource)?)?;
            let context = model
                .child(&at.context, &name)
                .map(|c| context_of(&c.kind))
                .ok_or(format!("'{name}' is not an element here"))?;
            let obj = at
                .get_mut(resource)
                .and_then(Value::as_object_mut)
                .ok_or("the path's parent is not an element")?;
            let list = obj.entry(name).or_insert_with(|| Value::Array(Vec::new()));
            let items = list.as_array_mut().ok_or("the path does not name a list")?;
            if op.kind == Kind::Insert {
                let index = op.index.unwrap_or_default();
                if index > items.len() {
                    return Err(format!(
                        "index {index} is past the end of the list ({})",
                        items.len()
                    ));
                }
                let value = op.value.as_ref().ok_or("no value")?;
                items.insert(index, shape(model, value.value.clone(), &context));
            } else {
                let (from, to) = (
                    op.source.unwrap_or_default(),
                    op.destination.unwrap_or_default(),
                );
                if from >= items.len() || to >= items.len() {
                    return Err(format!(
                        "source {from} or destination {to} is outside the list ({})",
                        items.len()
                    ));
                }
                let item = items.remove(from);
                items.insert(to, item);
            }
        }
        Kind::Delete => {
            let found = locate(&op.path, resource)?;
            match found.len() {
                0 => {}
                1 => remove(resource, &found[0].segs),
                n => return Err(format!("the path selects {n} elements; delete takes one")),
            }
        }
        Kind::Replace => {
            let at = one(locate(&op.path, resource)?)?;
            let value = op.value.as_ref().ok_or("no value")?;
            let shaped = shape(model, value.value.clone(), &at.context);
            let renamed = rename_choice(&at, value);
            match renamed {
                Some((parent, old, new)) => {
                    let obj = get_mut(resource, &parent)
                        .and_then(Value::as_object_mut)
                        .ok_or("no parent element")?;
                    obj.remove(&old);
                    obj.insert(new, shaped);
                }
                None => *at.get_mut(resource).ok_or("the element vanished")? = shaped,
            }
        }
    }
    Ok(())
}

fn one(mut found: Vec<Location>) -> Result<Location, String> {
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("the path selects nothing".into()),
        n => Err(format!("the path selects {n} elements; it must select one")),
    }
}

/// The JSON key `name` takes under `context`, whether it repeats, and its own context.
fn element_key(
    model: &ElementModel,
    context: &str,
    name: &str,
    value: &Typed,
) -> Result<(String, bool, String), String> {
    if let Some(c) = model.child(context, name) {
        return Ok((name.to_string(), c.def.repeats, context_of(&c.kind)));
    }
    // A choice element: the value's type picks the key (`deceased` + `Boolean`).
    let suffix = value
        .suffix
        .as_deref()
        .ok_or(format!("'{name}' is not an element of {context}"))?;
    let key = format!("{name}{suffix}");
    let c = model
        .child(context, &key)
        .filter(|c| c.def.choice)
        .ok_or(format!("'{name}' is not an element of {context}"))?;
    Ok((key, c.def.repeats, context_of(&c.kind)))
}

/// Wraps single values in lists where the model says an element repeats, so values built
/// from parts take the JSON shape of their type.
fn shape(model: &ElementModel, value: Value, context: &str) -> Value {
    match value {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .map(|(k, v)| match model.child(context, &k) {
                    Some(c) => {
                        let ctx = context_of(&c.kind);
                        let v = match v {
                            Value::Array(items) => Value::Array(
                                items.into_iter().map(|i| shape(model, i, &ctx)).collect(),
                            ),
                            v if c.def.repeats => Value::Array(vec![shape(model, v, &ctx)]),
                            v => shape(model, v, &ctx),
                        };
                        (k, v)
                    }
                    None => (k, v),
                })
                .collect(),
        ),
        v => v,
    }
}

/// A replace that changes a choice element's type (`valueQuantity` → `valueString`) renames
/// the key: (parent location, old key, new key).
fn rename_choice(at: &Location, value: &Typed) -> Option<(Vec<Seg>, String, String)> {
    let stem = at.choice.as_deref()?;
    let new = format!("{stem}{}", value.suffix.as_deref()?);
    let (Seg::Key(old), parent) = at.segs.split_last()? else {
        return None;
    };
    (*old != new).then(|| (parent.to_vec(), old.clone(), new))
}

fn split_last(path: &Path) -> Result<(Path, String), String> {
    match path.steps.last() {
        Some(Step::Child(name)) => Ok((
            Path {
                root: path.root.clone(),
                steps: path.steps[..path.steps.len() - 1].to_vec(),
            },
            name.clone(),
        )),
        _ => Err("the path must end in the name of a list".into()),
    }
}

fn get_mut<'v>(root: &'v mut Value, segs: &[Seg]) -> Option<&'v mut Value> {
    segs.iter().try_fold(root, |v, s| match s {
        Seg::Key(k) => v.get_mut(k),
        Seg::Index(i) => v.get_mut(i),
    })
}

fn remove(root: &mut Value, segs: &[Seg]) {
    let Some((last, parent)) = segs.split_last() else {
        return;
    };
    match (get_mut(root, parent), last) {
        (Some(Value::Object(obj)), Seg::Key(k)) => {
            obj.remove(k);
        }
        (Some(Value::Array(items)), Seg::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

/// FHIR JSON has no empty objects or lists: drop those a delete left behind.
fn prune(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.values_mut().for_each(prune);
            obj.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => {
            items.iter_mut().for_each(prune);
            items.retain(|v| !is_empty(v));
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Object(o) if o.is_empty()) || matches!(v, Value::Array(a) if a.is_empty())
}
