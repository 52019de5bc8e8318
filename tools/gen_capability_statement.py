#!/usr/bin/env python3
"""Writes capability-statement.json from the R4 resource list in profiles/r4-elements.json.

Every R4 resource type gets the same interactions, because the server routes every type the
same way. Edit the lists below when the server gains an interaction or search parameter, and
run: python3 tools/gen_capability_statement.py > capability-statement.json
The test `capability_statement_matches_the_server` checks the result against the server.
"""
import json

model = json.load(open("profiles/r4-elements.json"))
elements = model["elements"]

INTERACTIONS = ["read", "vread", "update", "delete", "history-instance", "history-type",
                "create", "search-type"]


def search_params(rt):
    params = [{"name": "_id", "type": "token",
               "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"}]
    if f"{rt}.identifier" in elements:
        params.append({"name": "identifier", "type": "token",
                       "documentation": "Identifier system|value, as search.html#token"})
    return params


resources = []
for rt in sorted(model["resources"]):
    resources.append({
        "type": rt,
        "interaction": [{"code": c} for c in INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "searchParam": search_params(rt),
    })

statement = {
    "resourceType": "CapabilityStatement",
    "id": "carebridge",
    "url": "https://github.com/carebridge/carebridge/CapabilityStatement/carebridge",
    "name": "Carebridge",
    "title": "Carebridge FHIR R4 server",
    "status": "active",
    "date": "2026-11-22",
    "publisher": "Carebridge",
    "description": "Patient-held FHIR R4 record bringing together GP, mental-health trust and voluntary-sector data.",
    "kind": "instance",
    "fhirVersion": "4.0.1",
    "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
    "rest": [{
        "mode": "server",
        "resource": resources,
        "interaction": [{"code": "history-system"}],
    }],
}
print(json.dumps(statement, indent=2))
