#!/usr/bin/env python3
"""Builds profiles/search-parameters.json and profiles/compartment-patient.json.

Input: HL7's R4 search-parameters.json and compartmentdefinition-patient.json (../shared/fhir-r4/,
as published by HL7). The output keeps, for every search parameter, what the server reads:
code, base types, type, FHIRPath expression, targets, and the components of composites.
    python3 tools/gen_search_parameters.py ../shared/fhir-r4
"""
import json
import sys

root = sys.argv[1]
bundle = json.load(open(f"{root}/search-parameters.json"))
params = []
for entry in bundle["entry"]:
    sp = entry["resource"]
    if sp.get("resourceType") != "SearchParameter":
        continue
    p = {"url": sp["url"], "code": sp["code"], "base": sp["base"], "type": sp["type"]}
    if "expression" in sp:
        p["expression"] = sp["expression"]
    if "target" in sp:
        p["target"] = sp["target"]
    if "component" in sp:
        p["component"] = [{"definition": c["definition"], "expression": c["expression"]} for c in sp["component"]]
    params.append(p)
json.dump({"fhirVersion": "4.0.1", "source": "HL7 FHIR R4 search-parameters.json", "parameter": params},
          open("profiles/search-parameters.json", "w"), separators=(",", ":"))

cd = json.load(open(f"{root}/compartmentdefinition-patient.json"))
members = {r["code"]: r["param"] for r in cd["resource"] if r.get("param")}
json.dump({"compartment": "Patient", "source": "HL7 FHIR R4 compartmentdefinition-patient.json",
           "resource": members}, open("profiles/compartment-patient.json", "w"), indent=1, sort_keys=True)
print(f"{len(params)} search parameters, {len(members)} resource types in the patient compartment")
