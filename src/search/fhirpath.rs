//! The FHIRPath subset HL7's R4 search parameters use: dotted paths, `|`, parentheses,
//! `.ofType(T)` / `.as(T)` / `as T`, `.where(resolve() is T)` and `.where(field = 'literal')`.
//! Expressions are parsed once at start-up; one that uses anything else is refused with a
//! reason, and its parameter is not offered.
//!
//! Evaluation walks the stored JSON with the R4 element table, so a choice element (`value`)
//! finds `valueQuantity` and knows its type.

use serde_json::Value;

use crate::fhir::elements::{ElementKind, ElementModel};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Child(String),
    OfType(String),
    ResolvesTo(String),
    FieldEquals(String, String),
    /// `[n]`: the n-th item selected so far.
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The resource type the path starts from (`Resource` and `DomainResource` match any).
    pub root: String,
    pub steps: Vec<Step>,
}

impl Path {
    /// The types of the element a path of child steps ends at, known from the element
    /// model alone: `None` for any other step, a choice element or an unknown name.
    pub fn element_types<'m>(&self, model: &'m ElementModel) -> Option<&'m [String]> {
        let mut context: &str = &self.root;
        let mut types = None;
        for step in &self.steps {
            let Step::Child(name) = step else {
                return None;
            };
            let child = model.child(context, name)?;
            if child.def.choice {
                return None;
            }
            context = context_name(&child.kind);
            types = Some(child.def.types.as_slice());
        }
        types
    }
}

/// A parsed expression: the union of its paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression(pub Vec<Path>);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Dot,
    Open,
    Close,
    Bar,
    Eq,
    Index(usize),
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '.' => {
                out.push(Token::Dot);
                i += 1
            }
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            '|' => {
                out.push(Token::Bar);
                i += 1
            }
            '=' => {
                out.push(Token::Eq);
                i += 1
            }
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or("unterminated [")?;
                let n: String = chars[i + 1..i + end].iter().collect();
                out.push(Token::Index(
                    n.trim().parse().map_err(|_| format!("bad index [{n}]"))?,
                ));
                i += end + 1;
            }
            '\'' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|c| *c == '\'')
                    .ok_or("unterminated string")?;
                out.push(Token::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("'{other}' is not supported")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, t: Token) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn union(&mut self) -> Result<Vec<Path>, String> {
        let mut paths = self.term()?;
        while self.peek() == Some(&Token::Bar) {
            self.pos += 1;
            paths.extend(self.term()?);
        }
        Ok(paths)
    }

    fn term(&mut self) -> Result<Vec<Path>, String> {
        let mut paths = if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.union()?;
            self.expect(Token::Close)?;
            inner
        } else {
            vec![Path {
                root: self.ident()?,
                steps: Vec::new(),
            }]
        };
        loop {
            let step = match self.peek() {
                Some(Token::Dot) => {
                    self.pos += 1;
                    self.step()?
                }
                Some(Token::Ident(k)) if k == "as" => {
                    self.pos += 1;
                    Step::OfType(self.ident()?)
                }
                Some(Token::Index(n)) => {
                    let n = *n;
                    self.pos += 1;
                    Step::Index(n)
                }
                _ => break,
            };
            for p in &mut paths {
                p.steps.push(step.clone());
            }
        }
        Ok(paths)
    }

    fn step(&mut self) -> Result<Step, String> {
        let name = self.ident()?;
        if self.peek() != Some(&Token::Open) {
            return Ok(Step::Child(name));
        }
        self.pos += 1;
        let step = match name.as_str() {
            "ofType" | "as" => Step::OfType(self.ident()?),
            "where" => {
                let first = self.ident()?;
                if first == "resolve" {
                    self.expect(Token::Open)?;
                    self.expect(Token::Close)?;
                    match self.ident()?.as_str() {
                        "is" => Step::ResolvesTo(self.ident()?),
                        other => return Err(format!("'resolve() {other}' is not supported")),
                    }
                } else {
                    self.expect(Token::Eq)?;
                    match self.next() {
                        Some(Token::Str(lit)) => Step::FieldEquals(first, lit),
                        other => return Err(format!("expected a string literal, found {other:?}")),
                    }
                }
            }
            other => return Err(format!("function '{other}()' is not supported")),
        };
        self.expect(Token::Close)?;
        Ok(step)
    }
}

impl Expression {
    pub fn parse(s: &str) -> Result<Expression, String> {
        let mut p = Parser {
            tokens: tokenize(s)?,
            pos: 0,
        };
        let paths = p.union()?;
        if p.pos != p.tokens.len() {
            return Err(format!("unexpected {:?}", p.tokens.get(p.pos)));
        }
        Ok(Expression(paths))
    }

    /// The paths that apply to a resource type.
    pub fn paths_for<'a>(&'a self, res_type: &'a str) -> impl Iterator<Item = &'a Path> + 'a {
        self.0.iter().filter(move |p| {
            p.root == res_type || p.root == "Resource" || p.root == "DomainResource"
        })
    }

    /// The expression with only the paths that apply to `res_type`: the registry keeps one
    /// per (type, parameter), so evaluating `patient` on an Observation does not compare
    /// the roots of the thirty other types' paths HL7's expression lists.
    pub fn narrowed_to(&self, res_type: &str) -> Expression {
        Expression(self.paths_for(res_type).cloned().collect())
    }

    /// Evaluates a relative expression (a composite's component, `value.ofType(Quantity)`)
    /// from a node another expression selected: its first name is a child of that node.
    pub fn evaluate_from<'v>(&self, node: &Node<'v>) -> Vec<Node<'v>> {
        let model = ElementModel::r4();
        let mut out = Vec::new();
        for path in &self.0 {
            let mut roots = Vec::new();
            each_child(model, node, &path.root, &mut |child| roots.push(child));
            select(model, roots, &path.steps, &mut out);
        }
        out
    }

    /// Evaluates the expression on a resource: every value it selects, with its FHIR type.
    pub fn evaluate<'v>(&self, resource: &'v Value) -> Vec<Node<'v>> {
        match Present::of(resource) {
            Some(present) => self.evaluate_on(&present),
            None => Vec::new(),
        }
    }

    /// [`Expression::evaluate`] on a resource whose top-level names are known: a path whose
    /// first element is absent selects nothing and is not walked. Indexing evaluates every
    /// parameter of a type, and most name elements a given resource does not have.
    pub fn evaluate_on<'v>(&self, present: &Present<'v>) -> Vec<Node<'v>> {
        self.walk(present, true)
    }

    fn walk<'v>(&self, present: &Present<'v>, skip_absent: bool) -> Vec<Node<'v>> {
        let (resource, rt) = (present.resource, present.res_type);
        let model = ElementModel::r4();
        let mut out = Vec::new();
        for path in self.paths_for(rt) {
            if let (true, Some(Step::Child(first))) = (skip_absent, path.steps.first()) {
                if !present.may_have(first) {
                    continue;
                }
            }
            let start = Node {
                value: resource,
                context: rt,
                type_name: rt,
            };
            select(model, Some(start), &path.steps, &mut out);
        }
        out
    }
}

/// A resource with its type and top-level names, for [`Expression::evaluate_on`].
pub struct Present<'v> {
    resource: &'v Value,
    res_type: &'v str,
    names: Vec<&'v str>,
}

impl<'v> Present<'v> {
    pub fn of(resource: &'v Value) -> Option<Present<'v>> {
        let obj = resource.as_object()?;
        Some(Present {
            resource,
            res_type: obj.get("resourceType")?.as_str()?,
            names: obj.keys().map(String::as_str).collect(),
        })
    }

    pub fn resource(&self) -> &'v Value {
        self.resource
    }

    /// Whether the resource has the element `name`, or a choice of it (`value` in
    /// `valueQuantity`): what `children` would find at the top.
    fn may_have(&self, name: &str) -> bool {
        self.names.iter().any(|k| {
            k.strip_prefix(name).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
            })
        })
    }
}

/// A value an expression selected, with its type name (`date`, `CodeableConcept`, …). The
/// names borrow from the resource or from the static element model: evaluating every search
/// parameter of every incoming resource allocates no strings.
#[derive(Debug, Clone, Copy)]
pub struct Node<'v> {
    pub value: &'v Value,
    context: &'v str,
    pub type_name: &'v str,
}

/// Adds to `out` what `steps` select from `nodes`, in document order. `[n]` picks from all
/// that the steps before it selected; up to it, and after it, each node goes through the
/// steps on its own ([`follow`]).
fn select<'v>(
    model: &'v ElementModel,
    nodes: impl IntoIterator<Item = Node<'v>>,
    steps: &[Step],
    out: &mut Vec<Node<'v>>,
) {
    let Some(at) = steps.iter().position(|s| matches!(s, Step::Index(_))) else {
        for node in nodes {
            follow(model, node, steps, out);
        }
        return;
    };
    let mut before = Vec::new();
    for node in nodes {
        follow(model, node, &steps[..at], &mut before);
    }
    let picked = match steps[at] {
        Step::Index(i) => before.into_iter().nth(i),
        _ => None,
    };
    select(model, picked, &steps[at + 1..], out);
}

/// Adds to `out` what `steps` (none of them `[n]`) select from `node`, depth first.
/// Indexing evaluates every parameter of every incoming resource: each step hands its nodes
/// straight to the next rather than gathering them in a list of its own.
fn follow<'v>(model: &'v ElementModel, node: Node<'v>, steps: &[Step], out: &mut Vec<Node<'v>>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(node);
        return;
    };
    let keep = match step {
        Step::Child(name) => {
            each_child(model, &node, name, &mut |child| {
                follow(model, child, rest, out)
            });
            return;
        }
        // `select` cuts paths at `[n]`, so none reaches here.
        Step::Index(_) => true,
        Step::OfType(t) => node.type_name.eq_ignore_ascii_case(t),
        Step::ResolvesTo(t) => node
            .value
            .get("reference")
            .and_then(Value::as_str)
            .and_then(reference_type)
            .is_some_and(|rt| rt == t),
        Step::FieldEquals(field, lit) => {
            node.value.get(field).and_then(Value::as_str) == Some(lit.as_str())
        }
    };
    if keep {
        follow(model, node, rest, out);
    }
}

/// The resource type a reference names: `Patient/1`, `http://x/fhir/Patient/1`,
/// `Patient/1/_history/2`.
pub fn reference_type(reference: &str) -> Option<&str> {
    let parts: Vec<&str> = reference.split('/').collect();
    let n = parts.len();
    let at = if n >= 4 && parts[n - 2] == "_history" {
        n - 4
    } else {
        n.checked_sub(2)?
    };
    let t = parts[at];
    ElementModel::r4().is_resource_type(t).then_some(t)
}

/// Calls `found` with each child `name` of `node` (each item of an array), or each choice of
/// it (`value` finds `valueQuantity`, `valueString`, …), with its type.
fn each_child<'v>(
    model: &'v ElementModel,
    node: &Node<'v>,
    name: &str,
    found: &mut dyn FnMut(Node<'v>),
) {
    let Value::Object(obj) = node.value else {
        return;
    };
    let mut push = |v: &'v Value, context: &'v str, type_name: &'v str| {
        let node = |value| Node {
            value,
            context,
            type_name,
        };
        match v {
            Value::Array(items) => items
                .iter()
                .filter(|i| !i.is_null())
                .for_each(|i| found(node(i))),
            v => found(node(v)),
        }
    };
    if let Some(v) = obj.get(name) {
        if let Some(child) = model.child(node.context, name) {
            let type_name = child.def.types.first().map_or("", String::as_str);
            push(v, context_name(&child.kind), type_name);
        }
        return;
    }
    for (key, v) in obj {
        if key.len() > name.len()
            && key.starts_with(name)
            && key[name.len()..].starts_with(|c: char| c.is_ascii_uppercase())
        {
            if let Some(child) = model.child(node.context, key) {
                if child.def.choice && child.def.name == name {
                    let suffix = &key[name.len()..];
                    let t = child
                        .def
                        .types
                        .iter()
                        .find(|t| t.eq_ignore_ascii_case(suffix))
                        .map_or(suffix, String::as_str);
                    push(v, context_name(&child.kind), t);
                }
            }
        }
    }
}

/// The model context a value of this kind has its children under.
pub fn context_of(kind: &ElementKind<'_>) -> String {
    context_name(kind).to_string()
}

fn context_name<'a>(kind: &ElementKind<'a>) -> &'a str {
    match kind {
        ElementKind::Primitive(t) | ElementKind::Complex(t) => t,
        ElementKind::Resource => "Resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_forms_hl7_uses() {
        let e = Expression::parse("(Observation.value.ofType(CodeableConcept)).text | Observation.subject.where(resolve() is Patient)").expect("parses");
        assert_eq!(e.0.len(), 2);
        assert_eq!(
            e.0[0].steps,
            vec![
                Step::Child("value".into()),
                Step::OfType("CodeableConcept".into()),
                Step::Child("text".into())
            ]
        );
        assert_eq!(e.0[1].steps[1], Step::ResolvesTo("Patient".into()));
        let w = Expression::parse("Patient.telecom.where(system='phone')").expect("where");
        assert_eq!(
            w.0[0].steps[1],
            Step::FieldEquals("system".into(), "phone".into())
        );
        assert!(
            Expression::parse("Patient.deceased.exists() and Patient.deceased != false").is_err()
        );
    }

    #[test]
    fn an_index_picks_from_everything_selected_before_it() {
        let p = json!({"resourceType": "Patient", "name": [
            {"family": "A", "given": ["a1", "a2"]}, {"family": "B", "given": ["b1"]}]});
        let texts = |expr: &str| -> Vec<String> {
            Expression::parse(expr)
                .expect("parses")
                .evaluate(&p)
                .iter()
                .map(|n| n.value.to_string())
                .collect()
        };
        assert_eq!(texts("Patient.name[1].given"), vec!["\"b1\""]);
        // The third given name of all the patient's names, though no name has three.
        assert_eq!(texts("Patient.name.given[2]"), vec!["\"b1\""]);
        assert_eq!(texts("Patient.name.given[3]"), Vec::<String>::new());
        assert_eq!(
            texts("Patient.name.given"),
            vec!["\"a1\"", "\"a2\"", "\"b1\""]
        );
    }

    #[test]
    fn narrowing_keeps_the_paths_of_the_type_and_of_every_resource() {
        let e =
            Expression::parse("Patient.name | Practitioner.name | Resource.id").expect("parses");
        let roots = |e: &Expression| e.0.iter().map(|p| p.root.clone()).collect::<Vec<_>>();
        assert_eq!(
            roots(&e.narrowed_to("Practitioner")),
            vec!["Practitioner", "Resource"]
        );
        assert_eq!(roots(&e.narrowed_to("Observation")), vec!["Resource"]);
    }

    #[test]
    fn choice_elements_are_found_with_their_type() {
        let o = json!({"resourceType": "Observation", "valueQuantity": {"value": 1}, "effectiveDateTime": "2024",
            "subject": {"reference": "Patient/p1"}, "component": [{"valueString": "x"}, {"valueQuantity": {"value": 2}}]});
        let e = Expression::parse(
            "(Observation.value.ofType(Quantity)) | (Observation.component.value.ofType(Quantity))",
        )
        .expect("parses");
        let vals: Vec<String> = e
            .evaluate(&o)
            .iter()
            .map(|n| n.value["value"].to_string())
            .collect();
        assert_eq!(vals, vec!["1", "2"]);
        let d = Expression::parse("Observation.effective").expect("parses");
        let n = d.evaluate(&o);
        assert_eq!((n.len(), n[0].type_name), (1, "dateTime"));
        let s =
            Expression::parse("Observation.subject.where(resolve() is Patient)").expect("parses");
        assert_eq!(s.evaluate(&o).len(), 1);
        let g = Expression::parse("Observation.subject.where(resolve() is Group)").expect("parses");
        assert_eq!(g.evaluate(&o).len(), 0);
    }

    #[test]
    fn skipping_absent_elements_selects_what_walking_them_does() {
        let resources = [
            json!({"resourceType": "Observation", "status": "final", "valueQuantity": {"value": 1},
                "effectivePeriod": {"start": "2024"}, "subject": {"reference": "Patient/p1"},
                "component": [{"code": {"text": "x"}, "valueCodeableConcept": {"text": "y"}}],
                "meta": {"tag": [{"code": "t"}]}, "identifier": [{"value": "1"}]}),
            json!({"resourceType": "Patient", "name": [{"family": "F"}], "deceasedBoolean": true,
                "telecom": [{"system": "phone", "value": "1"}], "link": [{"other": {"reference": "Patient/p2"}}],
                "generalPractitioner": [{"reference": "Organization/o1"}]}),
            json!({"resourceType": "CarePlan", "subject": {"reference": "Patient/p1"},
                "activity": [{"detail": {"scheduledString": "daily", "code": {"text": "walk"}}}],
                "period": {"end": "2025"}}),
        ];
        let registry = crate::search::params::Registry::r4();
        let mut compared = 0;
        for r in &resources {
            let present = Present::of(r).expect("a resource");
            for p in registry.of_type(present.res_type) {
                let skipped = p.expression.walk(&present, true);
                let walked = p.expression.walk(&present, false);
                let ptrs = |n: &[Node<'_>]| -> Vec<(*const Value, String)> {
                    n.iter()
                        .map(|n| (n.value as *const Value, n.type_name.to_string()))
                        .collect()
                };
                assert_eq!(ptrs(&skipped), ptrs(&walked), "{}", p.code);
                compared += usize::from(!walked.is_empty());
            }
        }
        assert!(compared > 15, "{compared} parameters selected something");
    }

    #[test]
    fn every_hl7_expression_parses_but_the_known_few() {
        let raw: Value =
            serde_json::from_str(include_str!("../../profiles/search-parameters.json"))
                .expect("json");
        let failed: Vec<String> = raw["parameter"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                p["expression"]
                    .as_str()
                    .map(|e| (p["url"].as_str().unwrap_or(""), e))
            })
            .filter(|(_, e)| Expression::parse(e).is_err())
            .map(|(u, _)| u.to_string())
            .collect();
        // Patient-deceased uses exists(), `and` and `!=`.
        assert_eq!(
            failed,
            vec!["http://hl7.org/fhir/SearchParameter/Patient-deceased"]
        );
    }
}
