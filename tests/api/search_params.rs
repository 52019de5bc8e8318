//! Every search parameter type with its modifiers and prefixes (search.html), with exact
//! result sets, on both databases.

use crate::search_data::{ids, seed};
use crate::storage_test;

macro_rules! expect {
    ($srv:ident, $query:expr, [$($id:expr),*]) => {
        let want: Vec<String> = vec![$($id.to_string()),*];
        assert_eq!(ids(&$srv, $query).await, want, "{}", $query);
    };
}

storage_test!(string_parameters_match_starts_exact_and_contains, |srv| {
    seed(&srv).await;
    expect!(srv, "Patient?name=smi", ["p1"]);
    expect!(srv, "Patient?family=Sm", ["p1", "p2"]);
    expect!(srv, "Patient?name=ZOE", ["p2"]);
    expect!(srv, "Patient?name:exact=Smith", ["p1"]);
    expect!(srv, "Patient?name:exact=smith", []);
    expect!(srv, "Patient?name:contains=YTH", ["p2"]);
    expect!(srv, "Patient?name=jones,patel", ["p3"]);
    expect!(srv, "Patient?given=anne&family=smith", ["p1"]);
    expect!(srv, "Patient?given=anne&family=jones", []);
    expect!(srv, "Organization?name=hill", ["o2"]);
});

storage_test!(token_parameters_match_system_and_code_forms, |srv| {
    seed(&srv).await;
    expect!(srv, "Patient?gender=female", ["p1", "p2"]);
    expect!(srv, "Patient?gender:not=female", ["p3"]);
    expect!(
        srv,
        "Observation?code=http://loinc.org|29463-7",
        ["wt1", "wt2"]
    );
    expect!(srv, "Observation?code=29463-7", ["wt1", "wt2"]);
    expect!(srv, "Observation?code=http://snomed.info/sct|29463-7", []);
    expect!(srv, "Observation?code=http://snomed.info/sct|", ["phq"]);
    expect!(srv, "Observation?code:text=body", ["wt1", "wt2"]);
    expect!(srv, "Observation?category=survey", ["phq"]);
    expect!(
        srv,
        "Observation?status=final,preliminary&code=720433000",
        ["phq"]
    );
    expect!(
        srv,
        "Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|A81001",
        ["o1"]
    );
    expect!(srv, "Observation?_security=PSY", ["phq"]);
    expect!(
        srv,
        "Observation?_tag=http://example.org/tags|diary",
        ["mood"]
    );
});

storage_test!(
    date_parameters_follow_the_range_rules_of_each_prefix,
    |srv| {
        seed(&srv).await;
        expect!(srv, "Patient?birthdate=1970", ["p1"]);
        expect!(srv, "Patient?birthdate=1970-01", ["p1"]);
        expect!(srv, "Patient?birthdate=ge1985", ["p2", "p3"]);
        expect!(srv, "Patient?birthdate=gt1985", ["p3"]);
        expect!(srv, "Patient?birthdate=lt1985-06-30", ["p1"]);
        expect!(srv, "Patient?birthdate=le1985-06-30", ["p1", "p2"]);
        expect!(srv, "Patient?birthdate=sa1985", ["p3"]);
        expect!(srv, "Patient?birthdate=eb1971", ["p1"]);
        expect!(srv, "Patient?birthdate=ne1970-01-15", ["p2", "p3"]);
        expect!(srv, "Patient?birthdate=ap1985-06-29", ["p2"]);
        expect!(srv, "Patient?birthdate=ge1980&birthdate=le1989", ["p2"]);
        expect!(srv, "Observation?date=2023-05", ["wt1"]);
        expect!(srv, "Observation?date=2023-05-01T10:00:00Z", ["wt1"]);
        expect!(srv, "Observation?date=ge2024-01-01", ["mood", "phq"]);
        // A year-precision value only lies within a year-or-wider search range.
        expect!(srv, "Observation?date=2024-02", ["phq"]);
        expect!(srv, "Condition?onset-date=lt2011", ["c1"]);
    }
);

storage_test!(
    number_and_quantity_parameters_use_the_precision_of_the_value,
    |srv| {
        seed(&srv).await;
        expect!(srv, "RiskAssessment?probability=0.8", ["ra1"]);
        expect!(srv, "RiskAssessment?probability=0.25", ["ra2"]);
        expect!(srv, "RiskAssessment?probability=0.2", []);
        expect!(srv, "RiskAssessment?probability=gt0.5", ["ra1"]);
        expect!(srv, "RiskAssessment?probability=le0.25", ["ra2"]);
        expect!(srv, "RiskAssessment?probability=ap0.26", ["ra2"]);
        expect!(
            srv,
            "Observation?value-quantity=70.5|http://unitsofmeasure.org|kg",
            ["wt1"]
        );
        expect!(
            srv,
            "Observation?value-quantity=70|http://unitsofmeasure.org|kg",
            []
        );
        expect!(
            srv,
            "Observation?value-quantity=7e1|http://unitsofmeasure.org|kg",
            ["wt1"]
        );
        expect!(srv, "Observation?value-quantity=gt75||kg", ["wt2"]);
        expect!(srv, "Observation?value-quantity=lt100", ["wt1", "wt2"]);
        expect!(
            srv,
            "Observation?value-quantity=lt100|http://unitsofmeasure.org|g",
            []
        );
    }
);

storage_test!(reference_parameters_accept_every_form, |srv| {
    seed(&srv).await;
    expect!(srv, "Observation?subject=Patient/p1", ["bp1", "wt1"]);
    expect!(srv, "Observation?patient=p1", ["bp1", "wt1"]);
    expect!(srv, "Observation?subject:Patient=p2", ["phq", "wt2"]);
    expect!(
        srv,
        &format!("Observation?subject={}/Patient/p3", srv.base),
        ["mood"]
    );
    expect!(srv, "Observation?performer=Practitioner/pr1", ["bp1"]);
    expect!(srv, "Patient?general-practitioner=Organization/o1", ["p1"]);
    expect!(srv, "Patient?general-practitioner:Practitioner=pr1", ["p2"]);
    expect!(
        srv,
        "Observation?subject=Patient/p1,Patient/p3",
        ["bp1", "mood", "wt1"]
    );
});

storage_test!(uri_parameters_match_exactly_above_and_below, |srv| {
    seed(&srv).await;
    expect!(srv, "Questionnaire?url=http://example.org/q/phq9", ["q1"]);
    expect!(srv, "Questionnaire?url=http://example.org/q", []);
    expect!(
        srv,
        "Questionnaire?url:below=http://example.org/q",
        ["q1", "q2"]
    );
    expect!(
        srv,
        "Questionnaire?url:above=http://example.org/q/gad7/version/2",
        ["q2"]
    );
    expect!(
        srv,
        "Observation?_source=http://example.org/mood-app",
        ["mood"]
    );
});

storage_test!(composite_parameters_pair_a_code_with_its_value, |srv| {
    seed(&srv).await;
    expect!(
        srv,
        "Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100",
        ["bp1"]
    );
    expect!(
        srv,
        "Observation?component-code-value-quantity=http://loinc.org|8462-4$gt100",
        []
    );
    expect!(srv, "Observation?code-value-quantity=29463-7$lt80", ["wt1"]);
    expect!(
        srv,
        "Observation?combo-code-value-quantity=8480-6$120",
        ["bp1"]
    );
});

// `code-value-quantity` and `code-value-concept` keep no rows of their own: they are the
// Observation's `code` rows joined to its value's rows (`params::Joined`).
storage_test!(
    a_composite_of_the_observation_pairs_its_own_code_and_value,
    |srv| {
        seed(&srv).await;
        let more = [
            // Two codings, either of which pairs with the value.
            serde_json::json!({"resourceType": "Observation", "id": "wt3", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"},
                {"system": "http://snomed.info/sct", "code": "27113001"}]},
            "subject": {"reference": "Patient/p3"},
            "valueQuantity": {"value": 95, "system": "http://unitsofmeasure.org", "code": "kg"}}),
            // A code and a value, but not this code with that value in one resource.
            serde_json::json!({"resourceType": "Observation", "id": "hr1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p3"},
            "valueQuantity": {"value": 60, "system": "http://unitsofmeasure.org", "code": "/min"}}),
            serde_json::json!({"resourceType": "Observation", "id": "smk", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
            "subject": {"reference": "Patient/p3"},
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]}}),
            // `value-quantity` also selects a SampledData, which has no value to pair.
            serde_json::json!({"resourceType": "Observation", "id": "ecg", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": "Patient/p3"},
            "valueSampledData": {"origin": {"value": 90}, "period": 10, "dimensions": 1, "data": "1 2"}}),
        ];
        for r in &more {
            let path = format!("Observation/{}", r["id"].as_str().unwrap_or(""));
            assert_eq!(srv.put(&path, r).await.status, 201, "{path}");
        }
        expect!(
            srv,
            "Observation?code-value-quantity=29463-7$gt75",
            ["wt2", "wt3"]
        );
        expect!(
            srv,
            "Observation?code-value-quantity=http://snomed.info/sct|27113001$95",
            ["wt3"]
        );
        expect!(
            srv,
            "Observation?code-value-quantity=http://snomed.info/sct|29463-7$gt1",
            []
        );
        expect!(srv, "Observation?code-value-quantity=8867-4$gt75", []);
        expect!(srv, "Observation?code-value-quantity=29463-7$60", []);
        // Either pair of a list, and one patient's only.
        expect!(
            srv,
            "Observation?code-value-quantity=8867-4$60,29463-7$lt71",
            ["hr1", "wt1"]
        );
        expect!(
            srv,
            "Observation?patient=p3&code-value-quantity=29463-7$gt1",
            ["wt3"]
        );
        expect!(
            srv,
            "Observation?code-value-quantity=29463-7$gt1&patient=p1",
            ["wt1"]
        );
        expect!(
            srv,
            "Observation?code-value-concept=72166-2$http://snomed.info/sct|8517006",
            ["smk"]
        );
        expect!(srv, "Observation?code-value-concept=8867-4$8517006", []);
        // The composites made of it and of components' pairs read both.
        expect!(
            srv,
            "Observation?combo-code-value-quantity=8480-6$120,27113001$95",
            ["bp1", "wt3"]
        );
        expect!(
            srv,
            "Observation?code-value-quantity:missing=false",
            ["hr1", "wt1", "wt2", "wt3"]
        );
        expect!(
            srv,
            "Observation?code-value-quantity:missing=true&patient=p3",
            ["ecg", "mood", "smk"]
        );
        expect!(
            srv,
            "Observation?combo-code-value-quantity:missing=true&subject=Patient/p3",
            ["ecg", "mood", "smk"]
        );
    }
);

storage_test!(missing_matches_presence_and_absence, |srv| {
    seed(&srv).await;
    expect!(
        srv,
        "Observation?value-quantity:missing=true",
        ["bp1", "mood", "phq"]
    );
    expect!(
        srv,
        "Observation?value-quantity:missing=false",
        ["wt1", "wt2"]
    );
    expect!(srv, "Patient?general-practitioner:missing=true", ["p3"]);
});

storage_test!(invalid_values_answer_400_naming_the_parameter, |srv| {
    seed(&srv).await;
    for (query, param) in [
        ("Patient?birthdate=1970-13", "birthdate"),
        ("Patient?birthdate=xx1970", "birthdate"),
        ("RiskAssessment?probability=lots", "probability"),
        ("Observation?subject=Patient/bad%20id", "subject"),
        ("Patient?name:text=x", "name:text"),
        (
            "Observation?value-quantity:missing=maybe",
            "value-quantity:missing",
        ),
        ("Patient?_sort=colour", "_sort"),
        ("Patient?_include=Patient:name", "_include"),
    ] {
        let r = srv.get(query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert_eq!(r.issue().1.as_deref(), Some(param), "{query}");
    }
});

storage_test!(identifier_modifier_matches_logical_references, |srv| {
    seed(&srv).await;
    expect!(
        srv,
        "Observation?performer:identifier=https://fhir.nhs.uk/Id/ods-organization-code|RV3",
        ["mood"]
    );
    expect!(srv, "Observation?performer:identifier=RV4", []);
});

storage_test!(meta_parameters_search_profile_and_last_updated, |srv| {
    seed(&srv).await;
    expect!(
        srv,
        "CarePlan?_profile=https://fhir.hl7.org.uk/StructureDefinition/UKCore-CarePlan",
        ["cp1"]
    );
    expect!(srv, "Patient?_lastUpdated=gt2000-01-01", ["p1", "p2", "p3"]);
    expect!(srv, "Patient?_lastUpdated=lt2000-01-01", []);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    expect!(
        srv,
        &format!("Organization?_lastUpdated={today}"),
        ["o1", "o2"]
    );
});
