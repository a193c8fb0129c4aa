#!/usr/bin/python3
"""Writes a strict copy of docs/openapi.yaml for the conformance run: every response body
schema that names its properties gets `unevaluatedProperties: false`, at every depth, so a
field the server sends but the document does not name fails the run. The published document
stays open (clients should tolerate fields added later); the server may not add them
silently. Free-form objects (`type: object` without properties: session data, custom
claims) stay open. Usage: strict.py IN.yaml OUT.yaml"""
import copy
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.safe_load(f)


def resolve(ref):
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return copy.deepcopy(node)


def close(schema):
    """The schema with $refs inlined, allOf merged, and additionalProperties: false on every
    object that names its properties (Prism's validator does not apply unevaluatedProperties)."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        schema = resolve(schema["$ref"])
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}, "required": []}
        for member in schema.pop("allOf"):
            member = close(member)
            merged["properties"].update(member.get("properties", {}))
            merged["required"] += member.get("required", [])
        schema.update(merged)
    if "oneOf" in schema:
        schema["oneOf"] = [close(s) for s in schema["oneOf"]]
    if "properties" in schema:
        for name, prop in schema["properties"].items():
            schema["properties"][name] = close(prop)
        schema["additionalProperties"] = False
    if "items" in schema:
        schema["items"] = close(schema["items"])
    return schema


def close_responses(responses):
    for response in responses.values():
        for media in (response.get("content") or {}).values():
            if "schema" in media:
                media["schema"] = close(media["schema"])


close_responses(doc["components"].get("responses", {}))
for item in doc["paths"].values():
    for method, op in item.items():
        if isinstance(op, dict) and "responses" in op:
            close_responses(op["responses"])
with open(sys.argv[2], "w", encoding="utf-8") as f:
    yaml.safe_dump(doc, f, sort_keys=False)
