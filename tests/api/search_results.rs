//! Chains, _has, includes, sorting, paging, totals and compartments (search.html), with exact
//! results, on both databases.

use serde_json::Value;

use crate::fixtures::patient;
use crate::search_data::{ids, next_link, ordered_ids, put_string_parameter, seed};
use crate::storage_test;

fn modes(bundle: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                format!(
                    "{}/{}",
                    e["resource"]["resourceType"].as_str().unwrap_or(""),
                    e["resource"]["id"].as_str().unwrap_or("")
                ),
                e["search"]["mode"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

storage_test!(chained_parameters_follow_references_several_levels, |srv| {
    seed(&srv).await;
    assert_eq!(
        ids(&srv, "Observation?subject:Patient.name=smyth").await,
        vec!["phq", "wt2"]
    );
    assert_eq!(
        ids(
            &srv,
            "Observation?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9991000011"
        )
        .await,
        vec!["bp1", "wt1"]
    );
    assert_eq!(
        ids(
            &srv,
            "Observation?patient.general-practitioner.name=riverside"
        )
        .await,
        vec!["bp1", "wt1"]
    );
    assert_eq!(
        ids(
            &srv,
            "Observation?patient.general-practitioner:Practitioner.name=patel"
        )
        .await,
        vec!["phq", "wt2"]
    );
    assert_eq!(
        ids(&srv, "Observation?patient.organization.name=nowhere").await,
        Vec::<String>::new()
    );
});

storage_test!(reverse_chains_find_what_is_referenced, |srv| {
    seed(&srv).await;
    assert_eq!(
        ids(&srv, "Patient?_has:Observation:patient:code=29463-7").await,
        vec!["p1", "p2"]
    );
    assert_eq!(
        ids(&srv, "Patient?_has:Observation:subject:_security=PSY").await,
        vec!["p2"]
    );
    assert_eq!(
        ids(
            &srv,
            "Organization?_has:Patient:organization:_has:Observation:patient:code=720433000"
        )
        .await,
        vec!["o2"]
    );
    assert_eq!(
        ids(
            &srv,
            "Patient?_has:CarePlan:subject:status=active&gender=female"
        )
        .await,
        vec!["p1"]
    );
});

storage_test!(include_and_revinclude_add_entries_marked_include, |srv| {
    seed(&srv).await;
    let b = srv
        .get("Observation?_id=wt1&_include=Observation:subject")
        .await
        .json();
    assert_eq!(
        modes(&b),
        pairs(&[("Observation/wt1", "match"), ("Patient/p1", "include")])
    );
    assert_eq!(b["total"], 1);
    let b = srv.get("Observation?_id=wt1&_include=Observation:subject&_include:iterate=Patient:organization").await.json();
    assert_eq!(
        modes(&b),
        pairs(&[
            ("Observation/wt1", "match"),
            ("Organization/o1", "include"),
            ("Patient/p1", "include")
        ])
    );
    let b = srv
        .get("Observation?_id=bp1&_include=Observation:*")
        .await
        .json();
    assert_eq!(
        modes(&b),
        pairs(&[
            ("Observation/bp1", "match"),
            ("Patient/p1", "include"),
            ("Practitioner/pr1", "include")
        ])
    );
    let b = srv
        .get("Patient?_id=p1&_revinclude=Observation:subject")
        .await
        .json();
    assert_eq!(
        modes(&b),
        pairs(&[
            ("Observation/bp1", "include"),
            ("Observation/wt1", "include"),
            ("Patient/p1", "match")
        ])
    );
    let b = srv
        .get("Observation?_id=wt1&_include=Observation:subject:Group")
        .await
        .json();
    assert_eq!(modes(&b), pairs(&[("Observation/wt1", "match")]));
});

storage_test!(sort_orders_by_several_keys_both_ways, |srv| {
    seed(&srv).await;
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=birthdate").await,
        vec!["p1", "p2", "p3"]
    );
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=-birthdate").await,
        vec!["p3", "p2", "p1"]
    );
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=gender,-birthdate").await,
        vec!["p2", "p1", "p3"]
    );
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=family").await,
        vec!["p3", "p1", "p2"]
    );
    assert_eq!(
        ordered_ids(&srv, "Observation?_sort=-date&code=29463-7,720433000").await,
        vec!["phq", "wt1", "wt2"]
    );
    // Resources without a value come last, in either direction.
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=general-practitioner")
            .await
            .last()
            .map(String::as_str),
        Some("p3")
    );
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=-general-practitioner")
            .await
            .last()
            .map(String::as_str),
        Some("p3")
    );
    assert_eq!(
        ordered_ids(&srv, "Patient?_sort=-_id").await,
        vec!["p3", "p2", "p1"]
    );
});

storage_test!(sorted_pages_stay_put_while_others_write, |srv| {
    seed(&srv).await;
    let mut seen = Vec::new();
    let mut next = Some("Patient?_sort=family&_count=1".to_string());
    while let Some(q) = next {
        let b = srv.get(&q).await.json();
        assert_eq!(b["total"].as_i64().map(|t| t >= 3), Some(true));
        for e in b["entry"].as_array().into_iter().flatten() {
            seen.push(e["resource"]["id"].as_str().unwrap_or("").to_string());
        }
        // A new patient that sorts first must not shift the pages already planned.
        srv.create(&patient("9991000999")).await;
        next = next_link(&srv, &b);
        assert!(seen.len() < 10, "paging does not end");
    }
    assert_eq!(seen, vec!["p3", "p1", "p2"]);
});

storage_test!(unsorted_pages_cover_every_match_once, |srv| {
    seed(&srv).await;
    let mut seen = Vec::new();
    let mut next = Some("Observation?_count=2".to_string());
    while let Some(q) = next {
        let b = srv.get(&q).await.json();
        assert_eq!(b["total"], 5);
        for e in b["entry"].as_array().into_iter().flatten() {
            seen.push(e["resource"]["id"].as_str().unwrap_or("").to_string());
        }
        next = next_link(&srv, &b);
    }
    seen.sort();
    assert_eq!(seen, vec!["bp1", "mood", "phq", "wt1", "wt2"]);
});

storage_test!(totals_can_be_left_out, |srv| {
    seed(&srv).await;
    let b = srv.get("Observation?_total=none").await.json();
    assert!(b.get("total").is_none());
    assert_eq!(b["entry"].as_array().map(Vec::len), Some(5));
    let b = srv
        .get("Observation?code=29463-7&_summary=count")
        .await
        .json();
    assert_eq!(b["total"], 2);
    assert!(b.get("entry").is_none());
});

storage_test!(
    compartment_search_finds_only_that_patients_resources,
    |srv| {
        seed(&srv).await;
        assert_eq!(
            ids(&srv, "Patient/p1/Observation").await,
            vec!["bp1", "wt1"]
        );
        assert_eq!(
            ids(&srv, "Patient/p1/Observation?code=29463-7").await,
            vec!["wt1"]
        );
        assert_eq!(ids(&srv, "Patient/p2/RiskAssessment").await, vec!["ra2"]);
        assert_eq!(ids(&srv, "Patient/p3/CarePlan").await, Vec::<String>::new());
        assert_eq!(srv.get("Organization/o1/Patient").await.status, 404);
    }
);

storage_test!(system_search_spans_types_with_common_parameters, |srv| {
    seed(&srv).await;
    let b = srv
        .get("?_type=Patient,Observation&_security=PSY")
        .await
        .json();
    assert_eq!(modes(&b), pairs(&[("Observation/phq", "match")]));
    let b = srv.get("?_id=p1,o1,wt1").await.json();
    assert_eq!(b["total"], 3);
    let b = srv.get("?_type=Organization&_sort=-_id").await.json();
    let ids: Vec<&str> = b["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["resource"]["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["o2", "o1"]);
    let r = srv
        .send(
            "GET",
            "?_type=Patient&name=smith",
            &[("Prefer", "handling=strict")],
            None,
        )
        .await;
    assert_eq!(
        r.status, 400,
        "only the parameters of every resource apply across types"
    );
    assert_eq!(srv.get("?_type=Unicorn").await.status, 400);
});

storage_test!(a_custom_search_parameter_works_after_reindex, |srv| {
    seed(&srv).await;
    let code = put_string_parameter(
        &srv,
        "text-value",
        "Observation",
        "Observation.value.ofType(string)",
    )
    .await;
    let before = srv
        .send(
            "GET",
            &format!("Observation?{code}=feel"),
            &[("Prefer", "handling=strict")],
            None,
        )
        .await;
    assert_eq!(before.status, 400, "not in force before reindex");
    let store = carebridge::store::Store::open(&srv.database_url, Some(1)).expect("store opens");
    let n = carebridge::search::reindex(&store, |_| {}).expect("reindex runs");
    assert_eq!(n, crate::search_data::resources().len() + 1);
    assert_eq!(
        ids(&srv, &format!("Observation?{code}=feel")).await,
        vec!["mood"]
    );
    assert_eq!(
        ids(&srv, &format!("Observation?{code}=better")).await,
        Vec::<String>::new()
    );
});

storage_test!(summary_and_elements_shape_search_entries, |srv| {
    seed(&srv).await;
    let b = srv.get("Patient?_id=p1&_elements=gender").await.json();
    let r = &b["entry"][0]["resource"];
    assert_eq!(r["gender"], "female");
    assert!(r.get("name").is_none() && r.get("birthDate").is_none());
    assert_eq!(r["meta"]["tag"][0]["code"], "SUBSETTED");
    let b = srv.get("Patient?_id=p1&_summary=true").await.json();
    assert!(b["entry"][0]["resource"].get("name").is_some());
    let b = srv.get("Patient?_id=p1&_summary=true&_format=xml").await;
    assert!(b.text().contains("SUBSETTED"), "{}", b.text());
});

// `combo-value-quantity` (four paths) is `value-quantity` (two) with
// `component-value-quantity` (two), whose rows answer it.
storage_test!(
    a_parameter_derived_from_parameters_of_several_paths,
    |srv| {
        let obs = |id: &str, value: Option<f64>, component: Option<f64>| {
            let q = |v: f64| serde_json::json!({"value": v, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"});
            let mut o = serde_json::json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1-1"}]}});
            match value {
                Some(v) => o["valueQuantity"] = q(v),
                None => o["valueString"] = serde_json::json!("none"),
            }
            if let Some(c) = component {
                o["component"] =
                    serde_json::json!([{"code": {"text": "part"}, "valueQuantity": q(c)}]);
            }
            o
        };
        for (id, value, component) in [
            ("q1", Some(7.0), None),
            ("q2", None, Some(3.0)),
            ("q3", Some(12.0), Some(2.0)),
            ("q4", None, None),
        ] {
            let r = srv
                .put(&format!("Observation/{id}"), &obs(id, value, component))
                .await;
            assert_eq!(r.status, 201, "{id}: {}", r.text());
        }
        let none: &[&str] = &[];
        for (query, expected) in [
            (
                "combo-value-quantity=gt5|http://unitsofmeasure.org|mg",
                &["q1", "q3"][..],
            ),
            ("combo-value-quantity=lt4", &["q2", "q3"]),
            ("combo-value-quantity:missing=true", &["q4"]),
            ("value-quantity=lt4", none),
            ("component-value-quantity=lt4", &["q2", "q3"]),
        ] {
            let found = ids(&srv, &format!("Observation?{query}")).await;
            assert_eq!(found, expected, "{query}");
        }
    }
);

// `patient` is `subject` narrowed to Patient targets and `combo-code` is `code` with
// `component-code`: the server answers them from those parameters' rows
// (`search::params::Stored`). Same answers as rows of their own, in every form they are used.
storage_test!(parameters_derived_from_others_answer_as_their_own, |srv| {
    let put = |path: &'static str, r: Value| {
        let srv = &srv;
        async move {
            let res = srv.put(path, &r).await;
            assert_eq!(res.status, 201, "{path}: {}", res.text());
        }
    };
    put(
        "Patient/x1",
        serde_json::json!({"resourceType": "Patient", "id": "x1", "name": [{"family": "Derived"}]}),
    )
    .await;
    // A Group with the Patient's id: only the type tells them apart.
    put(
        "Group/x1",
        serde_json::json!({"resourceType": "Group", "id": "x1", "type": "person", "actual": true}),
    )
    .await;
    let obs = |id: &str, subject: Option<&str>, code: &str, component: Option<&str>| {
        let mut o = serde_json::json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}});
        if let Some(s) = subject {
            o["subject"] = serde_json::json!({"reference": s});
        }
        if let Some(c) = component {
            o["component"] = serde_json::json!([{"code": {"coding": [{"system": "http://loinc.org", "code": c}]}, "valueString": "x"}]);
        }
        o
    };
    put(
        "Observation/ob1",
        obs("ob1", Some("Patient/x1"), "1-1", None),
    )
    .await;
    put(
        "Observation/ob2",
        obs("ob2", Some("Group/x1"), "2-2", Some("1-1")),
    )
    .await;
    put("Observation/ob3", obs("ob3", None, "3-3", None)).await;
    put(
        "Observation/ob4",
        obs("ob4", Some("Patient/x1"), "4-4", Some("5-5")),
    )
    .await;

    assert_eq!(ids(&srv, "Observation?patient=x1").await, ["ob1", "ob4"]);
    assert_eq!(
        ids(&srv, "Observation?patient=Patient/x1").await,
        ["ob1", "ob4"]
    );
    assert_eq!(
        ids(&srv, "Observation?subject=x1").await,
        ["ob1", "ob2", "ob4"]
    );
    assert_eq!(
        ids(&srv, "Observation?patient:missing=true").await,
        ["ob2", "ob3"]
    );
    assert_eq!(
        ids(&srv, "Observation?patient:missing=false").await,
        ["ob1", "ob4"]
    );
    assert_eq!(
        ids(&srv, "Observation?patient.name=derived").await,
        ["ob1", "ob4"]
    );
    assert_eq!(
        ids(&srv, "Observation?patient=x1&combo-code=5-5").await,
        ["ob4"]
    );
    assert_eq!(
        ids(&srv, "Observation?combo-code=1-1").await,
        ["ob1", "ob2"]
    );
    assert_eq!(
        ids(&srv, "Observation?combo-code=http://loinc.org|5-5,3-3").await,
        ["ob3", "ob4"]
    );
    assert_eq!(
        ids(&srv, "Observation?combo-code:missing=true").await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&srv, "Patient?_has:Observation:patient:code=4-4").await,
        ["x1"]
    );
    assert_eq!(
        ids(&srv, "Group?_has:Observation:patient:code=2-2").await,
        Vec::<String>::new()
    );
    assert_eq!(
        ordered_ids(&srv, "Observation?_sort=-combo-code&_id=ob1,ob2,ob3,ob4").await,
        ["ob4", "ob3", "ob2", "ob1"]
    );
    let b = srv
        .get("Observation?_id=ob1,ob2&_include=Observation:patient")
        .await
        .json();
    assert_eq!(
        modes(&b),
        pairs(&[
            ("Observation/ob1", "match"),
            ("Observation/ob2", "match"),
            ("Patient/x1", "include")
        ])
    );
    let b = srv
        .get("Observation?_id=ob2&_include=Observation:patient&_include=Observation:subject")
        .await
        .json();
    assert_eq!(
        modes(&b),
        pairs(&[("Group/x1", "include"), ("Observation/ob2", "match")])
    );
    let b = srv
        .get("Patient?_id=x1&_revinclude=Observation:patient")
        .await
        .json();
    assert_eq!(
        modes(&b),
        pairs(&[
            ("Observation/ob1", "include"),
            ("Observation/ob4", "include"),
            ("Patient/x1", "match")
        ])
    );
    let b = srv
        .get("Group?_id=x1&_revinclude=Observation:patient")
        .await
        .json();
    assert_eq!(modes(&b), pairs(&[("Group/x1", "match")]));
    // A composite of composites with the same components.
    put(
        "Observation/ob5",
        serde_json::json!({"resourceType": "Observation", "id": "ob5", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6-6"}]},
        "valueQuantity": {"value": 5, "system": "http://unitsofmeasure.org", "code": "kg"}}),
    )
    .await;
    put(
        "Observation/ob6",
        serde_json::json!({"resourceType": "Observation", "id": "ob6", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "7-7"}]},
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "6-6"}]},
            "valueQuantity": {"value": 7, "system": "http://unitsofmeasure.org", "code": "kg"}}]}),
    )
    .await;
    assert_eq!(
        ids(&srv, "Observation?combo-code-value-quantity=6-6$gt1").await,
        ["ob5", "ob6"]
    );
    assert_eq!(
        ids(&srv, "Observation?combo-code-value-quantity=6-6$7").await,
        ["ob6"]
    );
    assert_eq!(
        ids(&srv, "Observation?code-value-quantity=6-6$gt1").await,
        ["ob5"]
    );
    assert_eq!(
        ids(&srv, "Observation?combo-code-value-quantity=7-7$gt1").await,
        Vec::<String>::new()
    );
});
