//! Runs the declarative request/response cases in conformance-tests/ against both databases.
//!
//! A case file holds `steps`; each sends a `request` and checks the `response`: the status,
//! the named headers, and the body as a partial match (objects: the keys given; arrays: same
//! length, item by item). `capture` saves values (`body.PATH` or `header.NAME`) as variables
//! that later steps use as `${name}`; `${any}` matches any present value.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::TestServer;
use crate::storage_test;

fn substitute(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

fn substitute_value(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_value(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute_value(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where `actual` differs from the partial `expected`, if anywhere.
fn mismatch(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::String(s), a) if s == "${any}" => {
            (a.is_null()).then(|| format!("{path}: expected a value, found none"))
        }
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, ev)| {
            mismatch(ev, a.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}"))
        }),
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path}: expected {} items, found {}",
                    e.len(),
                    a.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| mismatch(ev, av, &format!("{path}[{i}]")))
        }
        (e, a) if e == a => None,
        (Value::Number(e), Value::Number(a)) if e.to_string() == a.to_string() => None,
        (e, a) => Some(format!("{path}: expected {e}, found {a}")),
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |cur, part| match part.parse::<usize>() {
            Ok(i) => cur.get(i),
            Err(_) => cur.get(part),
        })
}

async fn run_case(srv: &TestServer, file: &str, case: &Value) {
    let mut vars = HashMap::new();
    let name = case["name"].as_str().unwrap_or(file);
    for (n, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
        let req = &step["request"];
        let method = req["method"].as_str().unwrap_or("GET");
        let path = substitute(req["path"].as_str().unwrap_or(""), &vars);
        let mut headers: Vec<(String, String)> = req["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), substitute(v.as_str().unwrap_or(""), &vars)))
            .collect();
        let body = match (&req["body"], &req["bodyText"]) {
            (Value::Null, Value::String(t)) => Some(substitute(t, &vars).into_bytes()),
            (Value::Null, _) => None,
            (b, _) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("Content-Type".into(), "application/fhir+json".into()));
                }
                Some(substitute_value(b, &vars).to_string().into_bytes())
            }
        };
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = srv.send(method, &path, &h, body).await;
        let at = format!("{file} / {name} / step {} ({method} {path})", n + 1);
        let expect = &step["response"];
        if let Some(status) = expect["status"].as_u64() {
            assert_eq!(u64::from(res.status), status, "{at}: {}", res.text());
        }
        for (k, v) in expect["headers"].as_object().into_iter().flatten() {
            let want = substitute(v.as_str().unwrap_or(""), &vars);
            let got = res.header(k);
            if want == "${any}" {
                assert!(got.is_some(), "{at}: header {k} missing");
            } else {
                assert_eq!(got.as_deref(), Some(want.as_str()), "{at}: header {k}");
            }
        }
        let json: Value = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
        if !expect["body"].is_null() {
            let want = substitute_value(&expect["body"], &vars);
            if let Some(m) = mismatch(&want, &json, "body") {
                panic!("{at}: {m}\n{}", res.text());
            }
        }
        for (var, from) in step["capture"].as_object().into_iter().flatten() {
            let from = from.as_str().unwrap_or("");
            let value = match from.split_once('.') {
                Some(("body", p)) => lookup(&json, p).and_then(|v| v.as_str().map(str::to_string)),
                Some(("header", h)) => res.header(h),
                _ => None,
            };
            let value = value.unwrap_or_else(|| panic!("{at}: nothing to capture at {from}"));
            vars.insert(var.clone(), value);
        }
    }
}

storage_test!(conformance_cases_pass, |srv| {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance-tests");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("conformance-tests/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no conformance cases found");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable case file");
        let cases: Value = serde_json::from_str(&text).expect("case file is JSON");
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("?")
            .to_string();
        for case in cases["cases"].as_array().expect("cases") {
            run_case(&srv, &file, case).await;
        }
    }
});

#[test]
fn partial_matching_reports_the_first_difference() {
    let want = serde_json::json!({"a": [{"b": 1}], "c": "${any}"});
    assert_eq!(
        mismatch(
            &want,
            &serde_json::json!({"a": [{"b": 1, "x": 2}], "c": 3}),
            "body"
        ),
        None
    );
    assert_eq!(
        mismatch(&want, &serde_json::json!({"a": [{"b": 2}], "c": 3}), "body"),
        Some("body.a[0].b: expected 1, found 2".into())
    );
    assert!(mismatch(&want, &serde_json::json!({"a": [{"b": 1}]}), "body").is_some());
}
