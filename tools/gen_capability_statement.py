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

INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance",
                "history-type", "create", "search-type"]

# The server's own profiles (profiles/structure-definitions), by type.
PROFILES = {rt: f"https://fhir.carebridge.example/StructureDefinition/Carebridge-{rt}"
            for rt in ["Patient", "Observation", "CarePlan", "Consent", "RelatedPerson"]}


def operations(rt):
    ops = [{"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}]
    if rt == "Patient":
        ops.append({"name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"})
    return ops


definitions = json.load(open("profiles/search-parameters.json"))["parameter"]
# The server refuses these at start-up (src/search/params.rs says why), and composites of
# other than two components.
REFUSED = {"Patient-deceased", "Location-near", "MolecularSequence-chromosome-variant-coordinate",
           "MolecularSequence-referenceseqid-variant-coordinate"}


def search_params(rt):
    params = {}
    for p in definitions:
        if "expression" not in p or p["url"].rsplit("/", 1)[1] in REFUSED:
            continue
        if p["type"] == "composite" and len(p.get("component", [])) != 2:
            continue
        if rt in p["base"] or "Resource" in p["base"] or "DomainResource" in p["base"]:
            params[p["code"]] = {"name": p["code"], "definition": p["url"], "type": p["type"]}
    return [params[k] for k in sorted(params)]


def includes(rt):
    refs = sorted(p["name"] for p in search_params(rt) if p["type"] == "reference")
    return ["*"] + [f"{rt}:{r}" for r in refs]


def revincludes(rt):
    out = []
    for p in definitions:
        if p["type"] != "reference" or "expression" not in p:
            continue
        targets = p.get("target", [])
        if rt in targets:
            out += [f"{b}:{p['code']}" for b in p["base"]]
    return sorted(set(out))


resources = []
for rt in sorted(model["resources"]):
    resources.append({
        "type": rt,
        "supportedProfile": [PROFILES[rt]] if rt in PROFILES else [],
        "interaction": [{"code": c} for c in INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "searchInclude": includes(rt),
        "searchRevInclude": revincludes(rt),
        "searchParam": search_params(rt),
        "operation": operations(rt),
    })
    # FHIR JSON has no empty arrays.
    resources[-1] = {k: v for k, v in resources[-1].items() if v != []}

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
        "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"},
                        {"code": "search-system"}],
        # Source batches in through the adapters (src/adapters, README "Importing records").
        "operation": [{"name": "ingest",
                       "definition": "https://fhir.carebridge.example/OperationDefinition/ingest"}],
        "searchParam": [p for p in search_params("Resource")
                        if any(d["code"] == p["name"] and "Resource" in d["base"] for d in definitions)],
    }],
}
print(json.dumps(statement, indent=2))
